/// One entry of a SUBSCRIBE: a validated topic filter and the QoS asked for.
/// The filter borrows from the receive buffer.
package struct SubscriptionRequest: Equatable {
    package var filter: ByteView
    package var qos: QoS

    package init(filter: ByteView, qos: QoS) {
        self.filter = filter
        self.qos = qos
    }
}
