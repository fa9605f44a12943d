/// One `key: value` entry of a configuration mapping.
public struct ConfigMember: Sendable, Equatable {
    public var key: String
    public var node: ConfigNode
    /// Where the key was written; a problem about a key (unknown, duplicate) points here.
    public var keyLocation: SourceLocation?

    public init(key: String, node: ConfigNode, keyLocation: SourceLocation? = nil) {
        self.key = key
        self.node = node
        self.keyLocation = keyLocation
    }

    public static func == (lhs: ConfigMember, rhs: ConfigMember) -> Bool {
        lhs.key == rhs.key && lhs.node == rhs.node
    }
}
