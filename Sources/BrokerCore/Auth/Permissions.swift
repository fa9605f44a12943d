/// One client's ACL, compiled once at CONNECT: the topic filters it may publish to and
/// subscribe with, split into levels. Checked on the shard thread per PUBLISH and SUBSCRIBE,
/// so matching walks the topic's bytes and allocates nothing.
public struct Permissions: Sendable, Equatable {
    public let publish: [CompiledFilter]
    public let subscribe: [CompiledFilter]

    /// Filters must be valid MQTT topic filters; invalid ones are dropped by `CompiledFilter.init`.
    public init(publish: [CompiledFilter], subscribe: [CompiledFilter]) {
        self.publish = publish
        self.subscribe = subscribe
    }

    /// Nothing allowed.
    public static let none = Permissions(publish: [], subscribe: [])

    /// Whether the client may publish to `topic`.
    public func canPublish(_ topic: String) -> Bool {
        publish.contains { $0.matches(topic: topic) }
    }

    /// Whether the client may receive messages on `topic` (retained and queued messages are
    /// re-checked with this when delivered).
    public func canReceive(_ topic: String) -> Bool {
        subscribe.contains { $0.matches(topic: topic) }
    }

    /// Whether the client may subscribe with `filter`: only when one allowed filter matches
    /// every topic `filter` can match (so `a/+` does not allow `a/#` nor `a/b/c`).
    public func canSubscribe(_ filter: String) -> Bool {
        guard let requested = CompiledFilter(filter) else { return false }
        return subscribe.contains { $0.covers(requested) }
    }
}

/// A topic filter split into levels.
public struct CompiledFilter: Sendable, Equatable, CustomStringConvertible {
    public enum Level: Sendable, Equatable {
        case literal([UInt8])
        /// `+`
        case single
        /// `#` (always the last level)
        case multi
    }

    public let levels: [Level]
    public let description: String

    /// Nil when `filter` is not a valid MQTT topic filter (`#` not last or not alone in its
    /// level, `+` not alone in its level, empty).
    public init?(_ filter: String) {
        guard !filter.isEmpty else { return nil }
        var levels: [Level] = []
        let parts = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            let bytes = Array(part)
            if bytes == [UInt8(ascii: "#")] {
                guard index == parts.count - 1 else { return nil }
                levels.append(.multi)
            } else if bytes == [UInt8(ascii: "+")] {
                levels.append(.single)
            } else {
                guard !bytes.contains(UInt8(ascii: "#")), !bytes.contains(UInt8(ascii: "+")) else { return nil }
                levels.append(.literal(bytes))
            }
        }
        self.levels = levels
        self.description = filter
    }

    /// MQTT matching of a topic name (no wildcards) against this filter; a filter starting
    /// with a wildcard does not match a `$` topic.
    public func matches(topic: String) -> Bool {
        var topic = topic
        return topic.withUTF8 { matches(bytes: UnsafeRawBufferPointer($0)) }
    }

    private func matches(bytes: UnsafeRawBufferPointer) -> Bool {
        if bytes.first == UInt8(ascii: "$") {
            guard case .literal = levels[0] else { return false }
        }
        var position = 0
        var levelIndex = 0
        var topicDone = false
        while levelIndex < levels.count {
            if topicDone {
                // `a/#` matches `a`: the parent level.
                return levels[levelIndex] == .multi && levelIndex == levels.count - 1
            }
            // The topic level starting at `position`.
            var end = position
            while end < bytes.count && bytes[end] != UInt8(ascii: "/") { end += 1 }
            switch levels[levelIndex] {
            case .multi:
                return true
            case .single:
                break
            case .literal(let literal):
                guard literal.count == end - position else { return false }
                for i in 0..<literal.count where literal[i] != bytes[position + i] { return false }
            }
            levelIndex += 1
            if end == bytes.count {
                topicDone = true
            } else {
                position = end + 1
            }
        }
        return topicDone
    }

    /// Whether every topic `other` matches is matched by this filter.
    public func covers(_ other: CompiledFilter) -> Bool {
        let startsWithDollar: Bool = {
            if case .literal(let bytes) = other.levels.first { return bytes.first == UInt8(ascii: "$") }
            return false
        }()
        for index in 0..<levels.count {
            let mine = levels[index]
            if index == 0 && startsWithDollar {
                // Wildcards at the first level do not match `$` topics.
                guard mine == other.levels[0] else { return false }
                continue
            }
            if mine == .multi { return true }
            guard index < other.levels.count else { return false }
            switch (mine, other.levels[index]) {
            case (.single, .single), (.single, .literal):
                continue
            case (.literal(let a), .literal(let b)) where a == b:
                continue
            default:
                return false
            }
        }
        return other.levels.count == levels.count
    }
}
