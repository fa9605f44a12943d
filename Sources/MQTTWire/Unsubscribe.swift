/// An UNSUBSCRIBE packet (MQTT 3.1.1 §3.10, MQTT 5.0 §3.10).
public struct Unsubscribe: Equatable {
    /// Never 0.
    public var packetId: UInt16
    /// At least one validated topic filter.
    public var filters: UnsubscribeFilters

    static func decode(
        flags: UInt8, body: UnsafeRawBufferPointer, lenientFlags: Bool, version: ProtocolVersion = .v3_1_1
    ) throws(MQTTWireError) -> Unsubscribe {
        let type = PacketType.unsubscribe
        guard lenientFlags || flags == type.requiredFlags else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        var reader = ByteReader(body)
        let packetId = try reader.readPacketIdentifier(in: type)
        if version == .v5 { _ = try Properties.decode(from: &reader, in: .unsubscribe, packet: type) }
        let entriesStart = reader.readerIndex
        var count = 0
        while reader.readableBytes > 0 {
            let filter = try reader.readString(in: type)
            try TopicFilter.validate(filter)
            count += 1
        }
        guard count > 0 else { throw .unsubscribeWithoutFilters }
        let entries = ByteReader(body).getBytes(at: entriesStart, count: body.count - entriesStart)!
        return Unsubscribe(packetId: packetId, filters: UnsubscribeFilters(entries: entries, count: count))
    }
}
