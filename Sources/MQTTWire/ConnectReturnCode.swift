/// The CONNACK return code, with the spec's numbers (MQTT 3.1.1 §3.2.2.3).
public enum ConnectReturnCode: UInt8, Sendable, CaseIterable {
    case accepted = 0
    case unacceptableProtocolVersion = 1
    case identifierRejected = 2
    case serverUnavailable = 3
    case badUsernameOrPassword = 4
    case notAuthorized = 5
}
