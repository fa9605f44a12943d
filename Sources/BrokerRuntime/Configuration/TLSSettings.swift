/// Server-side TLS material and policy of one listener.
public struct TLSSettings: Sendable, Equatable {
    /// Lowest TLS protocol version accepted.
    public enum TLSVersion: String, Sendable {
        case v1_2 = "1.2"
        case v1_3 = "1.3"
    }

    /// Whether clients must present a certificate (verified against `ca`).
    public enum ClientAuth: String, Sendable {
        case none, optional, required
    }

    /// PEM file with the server certificate chain.
    public var cert: String
    /// PEM file with the server private key.
    public var key: String
    /// PEM file with the CAs that client certificates must chain to.
    public var ca: String?
    public var minVersion: TLSVersion
    public var clientAuth: ClientAuth

    public init(cert: String, key: String, ca: String? = nil, minVersion: TLSVersion = .v1_2, clientAuth: ClientAuth = .none) {
        self.cert = cert
        self.key = key
        self.ca = ca
        self.minVersion = minVersion
        self.clientAuth = clientAuth
    }
}
