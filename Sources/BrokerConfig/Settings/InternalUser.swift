/// A user defined in the configuration, authenticated by a bcrypt password hash.
public struct InternalUser: Sendable, Equatable {
    public var username: String
    /// bcrypt hash (`$2a$`, `$2b$` or `$2y$`), never a plain password.
    public var passwordHash: String
    /// Roles that select the ACL rules applying to this user.
    public var roles: [String]

    public init(username: String, passwordHash: String, roles: [String] = []) {
        self.username = username
        self.passwordHash = passwordHash
        self.roles = roles
    }
}
