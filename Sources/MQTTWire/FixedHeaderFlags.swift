/// Bits of the fixed header's low nibble (MQTT 3.1.1 §2.2.2).
public enum FixedHeaderFlags {
    /// PUBREL, SUBSCRIBE and UNSUBSCRIBE must carry exactly these flags.
    public static let pubrelSubscribeUnsubscribe: UInt8 = 0b0010
    /// PUBLISH: this is a redelivery.
    public static let publishDup: UInt8 = 0b1000
    /// PUBLISH: the two QoS bits.
    public static let publishQoSMask: UInt8 = 0b0110
    /// PUBLISH: shift that brings the QoS bits down to 0...3.
    public static let publishQoSShift: UInt8 = 1
    /// PUBLISH: the server keeps this message for future subscribers.
    public static let publishRetain: UInt8 = 0b0001
}
