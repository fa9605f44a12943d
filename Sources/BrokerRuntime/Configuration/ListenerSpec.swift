/// One socket the broker listens on and the protocol layers spoken over it.
public struct ListenerSpec: Sendable, Equatable {
    /// The wire stack of a listener: plain or TLS, raw TCP or WebSocket.
    public enum Transport: String, Sendable {
        case mqtt, mqtts, ws, wss

        /// Whether the transport runs over TLS and so needs `ListenerSpec.tls`.
        public var usesTLS: Bool { self == .mqtts || self == .wss }
        /// Whether MQTT is carried in WebSocket frames (and `path` matters).
        public var usesWebSocket: Bool { self == .ws || self == .wss }
    }

    public var transport: Transport
    /// Address to bind; "0.0.0.0" is every IPv4 interface.
    public var host = "0.0.0.0"
    public var port: Int
    /// HTTP path of the WebSocket upgrade; unused by raw TCP transports.
    public var path = "/"
    /// Certificate and policy; present for `mqtts` and `wss`.
    public var tls: TLSSettings?

    /// How the start-up log and metrics name it: `mqtt://0.0.0.0:1883`, `mqtt://[::]:1883`
    /// (an IPv6 host in brackets, as in a URL, so the port stays apart).
    public var address: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(transport.rawValue)://\(shownHost):\(port)"
    }

    public init(transport: Transport, host: String = "0.0.0.0", port: Int, path: String = "/", tls: TLSSettings? = nil) {
        self.transport = transport
        self.host = host
        self.port = port
        self.path = path
        self.tls = tls
    }
}
