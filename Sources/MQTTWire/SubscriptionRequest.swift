/// One entry of a SUBSCRIBE: a validated topic filter and the QoS (and MQTT 5 options) asked
/// for. The filter borrows from the receive buffer.
public struct SubscriptionRequest: Equatable {
    public var filter: ByteView
    /// The options byte as read (3.1.1: just the QoS); the identifier is the packet's.
    public var options: SubscriptionOptions
    public var qos: QoS { options.qos }

    public init(filter: ByteView, qos: QoS) {
        self.filter = filter
        self.options = SubscriptionOptions(qos: qos)
    }

    public init(filter: ByteView, options: SubscriptionOptions) {
        self.filter = filter
        self.options = options
    }
}
