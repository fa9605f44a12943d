/// Who may connect: users defined in the file and tokens from an OpenID provider.
public struct AuthSettings: Sendable, Equatable {
    public var internalUsers: [InternalUser]
    /// JWT validation against an OpenID provider's keys; nil when tokens are not accepted.
    public var openID: OpenIDSettings?

    public init(internalUsers: [InternalUser] = [], openID: OpenIDSettings? = nil) {
        self.internalUsers = internalUsers
        self.openID = openID
    }
}
