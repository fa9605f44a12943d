/// Topic filters a role may publish and subscribe to.
///
/// Filters may contain `:name` segments (`devices/:id/#`), matched against the client's
/// identity by the ACL module.
public struct AclRule: Sendable, Equatable {
    public var role: String
    public var publish: [String]
    public var subscribe: [String]

    public init(role: String, publish: [String] = [], subscribe: [String] = []) {
        self.role = role
        self.publish = publish
        self.subscribe = subscribe
    }
}
