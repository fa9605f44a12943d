/// RFC 6455 §7.4.1 close status codes the broker sends.
public enum WebSocketCloseCode: UInt16, Sendable, Equatable {
    case normal = 1000
    case goingAway = 1001
    case protocolError = 1002
    /// A text frame: MQTT travels in binary frames only (MQTT 3.1.1 §6).
    case unsupportedData = 1003
    case messageTooBig = 1009
}

/// Why a frame stream cannot go on; the connection closes with `code`.
public struct WebSocketFrameError: Error, Equatable, Sendable {
    public let code: WebSocketCloseCode
    public let reason: String

    public init(_ code: WebSocketCloseCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
