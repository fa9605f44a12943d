/// How JWTs presented as MQTT passwords are verified and mapped to a client's identity.
public struct OpenIDSettings: Sendable, Equatable {
    /// Signature algorithms a token may use.
    public enum Algorithm: String, Sendable, CaseIterable {
        case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
        case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
        case es256 = "ES256", es384 = "ES384"
        case edDSA = "EdDSA"
    }

    /// Where the signing keys are fetched; at least one of `jwksURL` and `issuer` is set.
    public var jwksURL: String?
    /// Expected `iss` claim, and the base for discovering the JWKS when `jwksURL` is nil.
    public var issuer: String?
    /// Expected `aud` claim; nil accepts any audience.
    public var audience: String?
    /// Dot path of the claim holding the roles (`realm_access.roles`).
    public var rolesKey: String?
    /// Claim whose value becomes the client's user name.
    public var subjectKey: String
    public var algorithms: [Algorithm]
    /// Clock skew tolerated on `exp`/`nbf`.
    public var leewaySeconds: Int
    /// How often the JWKS is fetched again.
    public var jwksRefreshSeconds: Int
    /// Required `typ` (claim, or header when the claim is absent), e.g. `Bearer` for Keycloak
    /// access tokens; nil: not checked.
    public var tokenType: String?

    public init(
        jwksURL: String? = nil, issuer: String? = nil, audience: String? = nil, rolesKey: String? = nil,
        subjectKey: String = "sub", algorithms: [Algorithm] = [.rs256, .es256], leewaySeconds: Int = 60,
        jwksRefreshSeconds: Int = 600, tokenType: String? = nil
    ) {
        self.tokenType = tokenType
        self.jwksURL = jwksURL
        self.issuer = issuer
        self.audience = audience
        self.rolesKey = rolesKey
        self.subjectKey = subjectKey
        self.algorithms = algorithms
        self.leewaySeconds = leewaySeconds
        self.jwksRefreshSeconds = jwksRefreshSeconds
    }
}
