/// One configured listener (config `listeners[]`); every shard opens it.
public struct ListenerSpec: Sendable, Equatable {
    public enum Transport: String, Sendable { case mqtt, mqtts, ws, wss }
    public var transport: Transport
    public var host = "0.0.0.0"
    public var port: Int
    public var path = "/"
    public var tls: TLSSettings?
    public init(transport: Transport, host: String = "0.0.0.0", port: Int, path: String = "/", tls: TLSSettings? = nil) {
        self.transport = transport
        self.host = host
        self.port = port
        self.path = path
        self.tls = tls
    }
}

public struct TLSSettings: Sendable, Equatable {
    public enum TLSVersion: String, Sendable { case v1_2 = "1.2", v1_3 = "1.3" }
    public enum ClientAuth: String, Sendable { case none, optional, required }
    public var cert: String
    public var key: String
    public var ca: String?
    public var minVersion: TLSVersion = .v1_2
    public var clientAuth: ClientAuth = .none
    public init(cert: String, key: String, ca: String? = nil, minVersion: TLSVersion = .v1_2, clientAuth: ClientAuth = .none) {
        self.cert = cert
        self.key = key
        self.ca = ca
        self.minVersion = minVersion
        self.clientAuth = clientAuth
    }
}
