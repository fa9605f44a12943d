/// A set of shard indexes (0..<ShardSet.capacity) as a fixed bitmap, so routing a publish to
/// other shards allocates nothing.
public struct ShardSet: Equatable, Sendable {
    public static let capacity = 256
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    public var isEmpty: Bool { words.0 | words.1 | words.2 | words.3 == 0 }

    /// How many shards are in the set.
    public var count: Int {
        words.0.nonzeroBitCount + words.1.nonzeroBitCount + words.2.nonzeroBitCount + words.3.nonzeroBitCount
    }

    @inline(__always)
    public mutating func insert(_ shard: Int) {
        let bit = UInt64(1) << UInt64(shard & 63)
        switch shard >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    @inline(__always)
    public mutating func remove(_ shard: Int) {
        let mask = ~(UInt64(1) << UInt64(shard & 63))
        switch shard >> 6 {
        case 0: words.0 &= mask
        case 1: words.1 &= mask
        case 2: words.2 &= mask
        default: words.3 &= mask
        }
    }

    @inline(__always)
    public func contains(_ shard: Int) -> Bool {
        let bit = UInt64(1) << UInt64(shard & 63)
        switch shard >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    @inline(__always)
    public mutating func formUnion(_ other: ShardSet) {
        words.0 |= other.words.0
        words.1 |= other.words.1
        words.2 |= other.words.2
        words.3 |= other.words.3
    }

    public static func == (a: ShardSet, b: ShardSet) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    /// Calls `body` for each member in ascending order.
    @inline(__always)
    public func forEach(_ body: (Int) throws -> Void) rethrows {
        try Self.visit(words.0, base: 0, body)
        try Self.visit(words.1, base: 64, body)
        try Self.visit(words.2, base: 128, body)
        try Self.visit(words.3, base: 192, body)
    }

    @inline(__always)
    private static func visit(_ word: UInt64, base: Int, _ body: (Int) throws -> Void) rethrows {
        var remaining = word
        while remaining != 0 {
            try body(base + remaining.trailingZeroBitCount)
            remaining &= remaining - 1
        }
    }
}
