import MQTTWire

/// What a CONNECT presents, copied out of the receive buffer for the cold path.
public struct Credentials: Sendable {
    public var clientId: String
    public var username: String?
    public var password: [UInt8]?
    /// Peer address, for logs.
    public var peer: String

    public init(clientId: String, username: String?, password: [UInt8]?, peer: String) {
        self.clientId = clientId
        self.username = username
        self.password = password
        self.peer = peer
    }

    /// The username that marks the password as an OAuth2 access token.
    public static let tokenUsername = "oauth2"
    /// The MQTT 5 Authentication Method that carries the access token as Authentication Data
    /// (in CONNECT, and again in AUTH to renew it): taken as username `oauth2` with the token as
    /// password.
    public static let tokenAuthenticationMethod = "OAUTH2-JWT"
}

/// Who an accepted client is, and what it may do.
public struct Identity: Sendable {
    /// The name `:id` in ACL patterns stands for (token subject or internal user name); nil for
    /// anonymous clients.
    public var subject: String?
    public var roles: [String]
    /// Wall-clock second (since the epoch) at which the connection is closed (token expiry).
    public var expiresAt: Int?
    /// Compiled ACL; nil means unrestricted (no ACL configured).
    public var permissions: Permissions?
    /// Whether the client logged in with an access token (the Kafka bridge's connect events
    /// are for such clients by default).
    public var viaToken: Bool

    public init(
        subject: String?, roles: [String], expiresAt: Int? = nil, permissions: Permissions? = nil, viaToken: Bool = false
    ) {
        self.viaToken = viaToken
        self.subject = subject
        self.roles = roles
        self.expiresAt = expiresAt
        self.permissions = permissions
    }
}

/// The verdict on a CONNECT.
public enum AuthDecision: Sendable {
    case allow(Identity)
    /// Refused with CONNACK `badUsernameOrPassword` (4) or `notAuthorized` (5).
    case deny(ConnectReturnCode, reason: String)
}

/// Decides who may connect. `authenticate` is called on the shard thread and must return at
/// once: the work (bcrypt, JWT signatures, key fetches) runs on threads the implementation
/// owns, and `completion` may be called from any thread, exactly once.
public protocol Authenticator: Sendable {
    func authenticate(_ credentials: Credentials, completion: @escaping @Sendable (AuthDecision) -> Void)
    /// Verdicts, their latency and key fetches since start (metrics ask; any thread).
    var statistics: AuthStatistics { get }
}
