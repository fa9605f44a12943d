/// A SUBSCRIBE packet (MQTT 3.1.1 §3.8).
public struct Subscribe: Equatable {
    /// Never 0.
    public var packetId: UInt16
    /// At least one entry, each with a validated filter and a QoS of 0...2.
    public var filters: SubscribeFilters

    static func decode(flags: UInt8, body: UnsafeRawBufferPointer, lenientFlags: Bool) throws(MQTTWireError) -> Subscribe {
        let type = PacketType.subscribe
        guard lenientFlags || flags == type.requiredFlags else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        var reader = ByteReader(body)
        let packetId = try reader.readPacketIdentifier(in: type)
        let entriesStart = reader.readerIndex
        var count = 0
        while reader.readableBytes > 0 {
            let filter = try reader.readString(in: type)
            try TopicFilter.validate(filter)
            let qos = try reader.readUInt8(in: type)
            guard qos <= QoS.exactlyOnce.rawValue else { throw .invalidRequestedQoS(qos) }
            count += 1
        }
        guard count > 0 else { throw .subscribeWithoutFilters }
        let entries = ByteReader(body).getBytes(at: entriesStart, count: body.count - entriesStart)!
        return Subscribe(packetId: packetId, filters: SubscribeFilters(entries: entries, count: count))
    }
}
