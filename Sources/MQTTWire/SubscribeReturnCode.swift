/// One SUBACK entry: the QoS granted for a filter, or failure (MQTT 3.1.1 §3.9.3).
public enum SubscribeReturnCode: UInt8, Sendable, CaseIterable {
    case grantedQoS0 = 0x00
    case grantedQoS1 = 0x01
    case grantedQoS2 = 0x02
    case failure = 0x80

    /// The code that grants `qos`.
    public init(granted qos: QoS) {
        self.init(rawValue: qos.rawValue)!
    }

    /// The granted QoS, or nil for `.failure`.
    public var grantedQoS: QoS? { QoS(rawValue: rawValue) }
}
