/// Encodes UNSUBSCRIBE (client → server), for test clients and benchmarks.
public enum UnsubscribeEncoder {
    public static func size(filters: some Sequence<ByteView>) -> Int {
        let remaining = remainingLength(filters: filters)
        return FixedHeaderSize.of(remainingLength: remaining) + remaining
    }

    private static func remainingLength(filters: some Sequence<ByteView>) -> Int {
        filters.reduce(2) { $0 + 2 + $1.count }
    }

    public static func write(packetId: UInt16, filters: some Sequence<ByteView>, to destination: UnsafeMutableRawPointer) -> Int {
        let remaining = remainingLength(filters: filters)
        var writer = ByteWriter(destination, capacity: FixedHeaderSize.of(remainingLength: remaining) + remaining)
        writer.writeFixedHeader(
            PacketType.unsubscribe.rawValue << 4 | PacketType.unsubscribe.requiredFlags, remainingLength: remaining)
        writer.writeUInt16(packetId)
        for filter in filters { writer.writeLengthPrefixed(filter) }
        return writer.writerIndex
    }

    public static func encode(packetId: UInt16, filters: [[UInt8]]) -> [UInt8] {
        withViews(of: filters) { views in
            makeBytes(count: size(filters: views)) { write(packetId: packetId, filters: views, to: $0) }
        }
    }
}
