/// A SUBSCRIBE packet (MQTT 3.1.1 §3.8, MQTT 5.0 §3.8).
public struct Subscribe: Equatable {
    /// Never 0.
    public var packetId: UInt16
    /// At least one entry, each with a validated filter and a QoS of 0...2.
    public var filters: SubscribeFilters
    /// MQTT 5: the Subscription Identifier given to every filter of this packet (0: none).
    public var subscriptionIdentifier: UInt32 = 0

    public init(packetId: UInt16, filters: SubscribeFilters, subscriptionIdentifier: UInt32 = 0) {
        self.packetId = packetId
        self.filters = filters
        self.subscriptionIdentifier = subscriptionIdentifier
    }

    static func decode(
        flags: UInt8, body: UnsafeRawBufferPointer, lenientFlags: Bool, version: ProtocolVersion = .v3_1_1
    ) throws(MQTTWireError) -> Subscribe {
        let type = PacketType.subscribe
        guard lenientFlags || flags == type.requiredFlags else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        var reader = ByteReader(body)
        let packetId = try reader.readPacketIdentifier(in: type)
        let identifier = version == .v5
            ? try Properties.decode(from: &reader, in: .subscribe, packet: type).subscriptionIdentifier ?? 0 : 0
        let entriesStart = reader.readerIndex
        var count = 0
        while reader.readableBytes > 0 {
            let filter = try reader.readString(in: type)
            try TopicFilter.validate(filter)
            let options = try reader.readUInt8(in: type)
            if version == .v5 {
                guard SubscriptionOptions(byte: options) != nil else { throw .invalidSubscriptionOptions(options) }
            } else {
                guard options <= QoS.exactlyOnce.rawValue else { throw .invalidRequestedQoS(options) }
            }
            count += 1
        }
        guard count > 0 else { throw .subscribeWithoutFilters }
        let entries = ByteReader(body).getBytes(at: entriesStart, count: body.count - entriesStart)!
        return Subscribe(
            packetId: packetId, filters: SubscribeFilters(entries: entries, count: count), subscriptionIdentifier: identifier)
    }
}
