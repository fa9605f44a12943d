/// What a subscriber asked for one filter: the QoS and, in MQTT 5, the subscription options
/// byte (MQTT 5.0 §3.8.3.1) and the SUBSCRIBE's subscription identifier. 3.1.1 subscriptions
/// have only the QoS; the other fields keep their defaults, which are 3.1.1's behaviour.
public struct SubscriptionOptions: Equatable, Hashable, Sendable {
    public var qos: QoS
    /// Messages this client publishes are not sent back to it through this subscription.
    public var noLocal = false
    /// The RETAIN flag of live deliveries is kept as published (otherwise cleared).
    public var retainAsPublished = false
    /// 0: retained messages at every SUBSCRIBE; 1: only when the subscription is new; 2: never.
    public var retainHandling: UInt8 = 0
    /// The subscription identifier (0: none), carried on every delivery through this subscription.
    public var identifier: UInt32 = 0

    public init(qos: QoS, noLocal: Bool = false, retainAsPublished: Bool = false, retainHandling: UInt8 = 0, identifier: UInt32 = 0) {
        self.qos = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
        self.identifier = identifier
    }

    /// Reads an options byte; nil for reserved bits, QoS 3 or retain handling 3.
    public init?(byte: UInt8) {
        guard byte & 0xC0 == 0, let qos = QoS(rawValue: byte & 0x03), (byte >> 4) & 0x03 != 3 else { return nil }
        self.init(
            qos: qos, noLocal: byte & 0x04 != 0, retainAsPublished: byte & 0x08 != 0, retainHandling: (byte >> 4) & 0x03)
    }

    /// The options byte (without the identifier, which travels in the SUBSCRIBE's properties).
    public var byte: UInt8 {
        qos.rawValue | (noLocal ? 0x04 : 0) | (retainAsPublished ? 0x08 : 0) | retainHandling << 4
    }

    /// Whether this is a plain 3.1.1 subscription (nothing but a QoS).
    public var isPlain: Bool { !noLocal && !retainAsPublished && retainHandling == 0 && identifier == 0 }
}
