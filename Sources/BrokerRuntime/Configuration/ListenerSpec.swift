/// One socket the broker listens on and the protocol layers spoken over it.
package struct ListenerSpec: Sendable, Equatable {
    /// The wire stack of a listener: plain or TLS, raw TCP or WebSocket.
    package enum Transport: String, Sendable {
        case mqtt, mqtts, ws, wss

        /// Whether the transport runs over TLS and so needs `ListenerSpec.tls`.
        package var usesTLS: Bool { self == .mqtts || self == .wss }
        /// Whether MQTT is carried in WebSocket frames (and `path` matters).
        package var usesWebSocket: Bool { self == .ws || self == .wss }
    }

    package var transport: Transport
    /// Address to bind; "0.0.0.0" is every IPv4 interface.
    package var host = "0.0.0.0"
    package var port: Int
    /// HTTP path of the WebSocket upgrade; unused by raw TCP transports.
    package var path = "/"
    /// Certificate and policy; present for `mqtts` and `wss`.
    package var tls: TLSSettings?

    package init(transport: Transport, host: String = "0.0.0.0", port: Int, path: String = "/", tls: TLSSettings? = nil) {
        self.transport = transport
        self.host = host
        self.port = port
        self.path = path
        self.tls = tls
    }
}
