/// Bits of the CONNECT packet's flags byte (MQTT 3.1.1 §3.1.2.3).
package enum ConnectFlags {
    package static let username: UInt8 = 0x80
    package static let password: UInt8 = 0x40
    package static let willRetain: UInt8 = 0x20
    package static let willQoSMask: UInt8 = 0x18
    package static let willQoSShift: UInt8 = 3
    package static let will: UInt8 = 0x04
    package static let cleanSession: UInt8 = 0x02
    /// Must be 0 in 3.1.1 (3.1 did not say, and Mosquitto does not check it for 3.1).
    package static let reserved: UInt8 = 0x01
}
