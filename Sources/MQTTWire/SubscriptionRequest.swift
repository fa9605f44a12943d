/// One entry of a SUBSCRIBE: a validated topic filter and the QoS asked for.
/// The filter borrows from the receive buffer.
public struct SubscriptionRequest: Equatable {
    public var filter: ByteView
    public var qos: QoS

    public init(filter: ByteView, qos: QoS) {
        self.filter = filter
        self.qos = qos
    }
}
