/// Bits of the CONNACK packet's acknowledge-flags byte (MQTT 3.1.1 §3.2.2.1).
public enum ConnAckFlags {
    /// The server resumed a stored session. All other bits are reserved and must be 0.
    public static let sessionPresent: UInt8 = 0x01
}
