/// The message a CONNECT asks the broker to publish if the connection ends without DISCONNECT.
/// Borrows from the receive buffer like the packet it came in.
public struct Will: Equatable {
    /// A validated topic name.
    public var topic: ByteView
    /// The topic's levels, counted when it was validated (the broker checks them against
    /// `max_topic_levels` after its other CONNECT checks, which answer with a CONNACK code).
    public var topicLevels: Int
    public var payload: ByteView
    public var qos: QoS
    public var retain: Bool
    /// MQTT 5 will properties (none for earlier revisions).
    public var properties: Properties = .none

    /// `topicLevels` nil: counted here (for wills built to be encoded).
    public init(topic: ByteView, payload: ByteView, qos: QoS, retain: Bool, topicLevels: Int? = nil) {
        self.topic = topic
        self.topicLevels = topicLevels ?? 1 + topic.unsafeBytes.count { $0 == UInt8(ascii: "/") }
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}
