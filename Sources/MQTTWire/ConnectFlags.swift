/// Bits of the CONNECT packet's flags byte (MQTT 3.1.1 §3.1.2.3).
public enum ConnectFlags {
    public static let username: UInt8 = 0x80
    public static let password: UInt8 = 0x40
    public static let willRetain: UInt8 = 0x20
    public static let willQoSMask: UInt8 = 0x18
    public static let willQoSShift: UInt8 = 3
    public static let will: UInt8 = 0x04
    public static let cleanSession: UInt8 = 0x02
    /// Must be 0 in 3.1.1 (3.1 did not say, and Mosquitto does not check it for 3.1).
    public static let reserved: UInt8 = 0x01
}
