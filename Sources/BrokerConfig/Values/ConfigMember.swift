/// One `key: value` entry of a configuration mapping.
package struct ConfigMember: Sendable, Equatable {
    package var key: String
    package var node: ConfigNode
    /// Where the key was written; a problem about a key (unknown, duplicate) points here.
    package var keyLocation: SourceLocation?

    package init(key: String, node: ConfigNode, keyLocation: SourceLocation? = nil) {
        self.key = key
        self.node = node
        self.keyLocation = keyLocation
    }

    package static func == (lhs: ConfigMember, rhs: ConfigMember) -> Bool {
        lhs.key == rhs.key && lhs.node == rhs.node
    }
}
