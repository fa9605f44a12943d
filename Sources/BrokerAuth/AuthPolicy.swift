import BrokerCore

/// Everything the authenticator decides with, decoded by BrokerConfig from `auth`, `acl` and
/// `allow_anonymous`; replaced as a whole on reload (SIGHUP).
package struct AuthPolicy: Sendable, Equatable {
    /// A user defined in the configuration.
    package struct User: Sendable, Equatable {
        package var username: String
        /// bcrypt hash (`$2a$`, `$2b$`, `$2y$`).
        package var passwordHash: String
        /// Roles; the username when none are given (as in the old broker).
        package var roles: [String]

        package init(username: String, passwordHash: String, roles: [String]) {
            self.username = username
            self.passwordHash = passwordHash
            self.roles = roles.isEmpty ? [username] : roles
        }
    }

    /// Topic filters one role may publish and subscribe to; `:id` stands for the client's subject.
    package struct Rule: Sendable, Equatable {
        package var role: String
        package var publish: [String]
        package var subscribe: [String]

        package init(role: String, publish: [String], subscribe: [String]) {
            self.role = role
            self.publish = publish
            self.subscribe = subscribe
        }
    }

    package var users: [User]
    /// Empty: no authorization (every client may publish and subscribe to anything).
    package var rules: [Rule]
    package var openID: OpenIDPolicy?
    /// Whether clients without a username may connect.
    package var allowAnonymous: Bool

    /// The role anonymous clients get when ACL rules are configured.
    package static let anonymousRole = "anonymous"
    /// The username that marks the password as an OAuth2 access token.
    package static let tokenUsername = Credentials.tokenUsername

    package init(users: [User] = [], rules: [Rule] = [], openID: OpenIDPolicy? = nil, allowAnonymous: Bool = true) {
        self.users = users
        self.rules = rules
        self.openID = openID
        self.allowAnonymous = allowAnonymous
    }

    /// Whether anything here needs an authenticator: users, tokens or ACL rules. Without one
    /// the engine accepts clients as `allowAnonymous` says, with no ACL.
    package var requiresAuthenticator: Bool {
        !users.isEmpty || openID != nil || !rules.isEmpty
    }
}

/// How access tokens are verified.
package struct OpenIDPolicy: Sendable, Equatable {
    /// The JWKS address; nil to discover it from `issuer`.
    package var jwksURL: String?
    /// Exact `iss` required when set; also the discovery base.
    package var issuer: String?
    /// Required in `aud` when set.
    package var audience: String?
    /// Dot path of the roles claim (`realm_access.roles`); nil: no roles.
    package var rolesKey: String?
    package var subjectKey: String
    /// Accepted `alg` values (never taken from the token).
    package var algorithms: Set<String>
    package var leewaySeconds: Int
    package var jwksRefreshSeconds: Int
    /// When set, the token's `typ` claim (Keycloak: `Bearer`, `ID`) or header `typ` (RFC 9068:
    /// `at+jwt`) must equal it, so an ID token is not taken for an access token.
    package var tokenType: String?

    package init(
        jwksURL: String? = nil, issuer: String? = nil, audience: String? = nil, rolesKey: String? = nil,
        subjectKey: String = "sub", algorithms: Set<String> = ["RS256", "ES256"], leewaySeconds: Int = 60,
        jwksRefreshSeconds: Int = 600, tokenType: String? = nil
    ) {
        self.jwksURL = jwksURL
        self.issuer = issuer
        self.audience = audience
        self.rolesKey = rolesKey
        self.subjectKey = subjectKey
        self.algorithms = algorithms
        self.leewaySeconds = leewaySeconds
        self.jwksRefreshSeconds = jwksRefreshSeconds
        self.tokenType = tokenType
    }
}
