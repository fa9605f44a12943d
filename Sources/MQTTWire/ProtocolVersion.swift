/// The protocol revisions the broker speaks, identified on the wire by a name/level pair.
public enum ProtocolVersion: UInt8, Sendable, CaseIterable {
    /// MQTT 3.1: protocol name "MQIsdp", level 3.
    case v3_1 = 3
    /// MQTT 3.1.1: protocol name "MQTT", level 4.
    case v3_1_1 = 4
    /// MQTT 5.0: protocol name "MQTT", level 5.
    case v5 = 5

    /// The protocol level byte.
    public var level: UInt8 { rawValue }

    /// The protocol name as it appears in CONNECT.
    public var protocolName: [UInt8] {
        switch self {
        case .v3_1: return Array("MQIsdp".utf8)
        case .v3_1_1, .v5: return Array("MQTT".utf8)
        }
    }
}
