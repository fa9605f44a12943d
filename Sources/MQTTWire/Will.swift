/// The message a CONNECT asks the broker to publish if the connection ends without DISCONNECT.
/// Borrows from the receive buffer like the packet it came in.
package struct Will: Equatable {
    /// A validated topic name.
    package var topic: ByteView
    package var payload: ByteView
    package var qos: QoS
    package var retain: Bool

    package init(topic: ByteView, payload: ByteView, qos: QoS, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}
