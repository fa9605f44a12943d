/// A PUBLISH packet (MQTT 3.1.1 §3.3, MQTT 5.0 §3.3). Topic, payload and properties borrow from
/// the receive buffer.
public struct Publish: Equatable {
    /// A validated topic name; in MQTT 5 it may be empty when `properties.topicAlias` names it.
    public var topic: ByteView
    public var payload: ByteView
    public var qos: QoS
    public var retain: Bool
    public var dup: Bool
    /// Present exactly when `qos` is above 0; never 0.
    public var packetId: UInt16?
    /// MQTT 5 properties (none for earlier revisions).
    public var properties: Properties = .none

    public init(topic: ByteView, payload: ByteView, qos: QoS, retain: Bool = false, dup: Bool = false, packetId: UInt16? = nil) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packetId = packetId
    }

    static func decode(
        flags: UInt8, body: UnsafeRawBufferPointer, maxTopicLevels: Int, version: ProtocolVersion
    ) throws(MQTTWireError) -> Publish {
        let type = PacketType.publish
        guard let qos = QoS(rawValue: (flags & FixedHeaderFlags.publishQoSMask) >> FixedHeaderFlags.publishQoSShift) else {
            throw .invalidPublishQoS
        }
        let dup = flags & FixedHeaderFlags.publishDup != 0
        if dup && qos == .atMostOnce { throw .duplicateFlagWithQoS0 }
        var reader = ByteReader(body)
        let topic = try reader.readString(in: type)
        // An MQTT 5 topic may be empty when a topic alias stands for it (checked by the broker,
        // which knows the aliases).
        if !(version == .v5 && topic.isEmpty) { try TopicName.validate(topic, maxLevels: maxTopicLevels) }
        let packetId: UInt16? = qos == .atMostOnce ? nil : try reader.readPacketIdentifier(in: type)
        let properties = version == .v5 ? try Properties.decode(from: &reader, in: .publish, packet: type) : .none
        var publish = Publish(
            topic: topic, payload: reader.readRemainingBytes(), qos: qos,
            retain: flags & FixedHeaderFlags.publishRetain != 0, dup: dup, packetId: packetId)
        publish.properties = properties
        return publish
    }
}
