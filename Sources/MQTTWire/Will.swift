/// The message a CONNECT asks the broker to publish if the connection ends without DISCONNECT.
/// Borrows from the receive buffer like the packet it came in.
public struct Will: Equatable {
    /// A validated topic name.
    public var topic: ByteView
    public var payload: ByteView
    public var qos: QoS
    public var retain: Bool

    public init(topic: ByteView, payload: ByteView, qos: QoS, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}
