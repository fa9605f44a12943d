/// Encodes SUBSCRIBE (client → server), for test clients and benchmarks.
public enum SubscribeEncoder {
    public static func size(filters: some Sequence<SubscriptionRequest>) -> Int {
        let remaining = remainingLength(filters: filters)
        return FixedHeaderSize.of(remainingLength: remaining) + remaining
    }

    private static func remainingLength(filters: some Sequence<SubscriptionRequest>) -> Int {
        filters.reduce(2) { $0 + 2 + $1.filter.count + 1 }
    }

    public static func write(
        packetId: UInt16, filters: some Sequence<SubscriptionRequest>, to destination: UnsafeMutableRawPointer
    ) -> Int {
        let remaining = remainingLength(filters: filters)
        var writer = ByteWriter(destination, capacity: FixedHeaderSize.of(remainingLength: remaining) + remaining)
        writer.writeFixedHeader(
            PacketType.subscribe.rawValue << 4 | PacketType.subscribe.requiredFlags, remainingLength: remaining)
        writer.writeUInt16(packetId)
        for request in filters {
            writer.writeLengthPrefixed(request.filter)
            writer.writeUInt8(request.qos.rawValue)
        }
        return writer.writerIndex
    }

    public static func encode(packetId: UInt16, filters: [(filter: [UInt8], qos: QoS)]) -> [UInt8] {
        withViews(of: filters.map(\.filter)) { views in
            let requests = zip(views, filters).map { SubscriptionRequest(filter: $0, qos: $1.qos) }
            return makeBytes(count: size(filters: requests)) { write(packetId: packetId, filters: requests, to: $0) }
        }
    }
}
