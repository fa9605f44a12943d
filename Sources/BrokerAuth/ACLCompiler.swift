import BrokerCore
import MQTTWire

/// Compiles a client's ACL from its roles: the union of the filters of every rule for one of
/// its roles, with `:id` replaced by the subject. Runs once per CONNECT, off the shard thread.
package enum ACLCompiler {
    /// Nil (unrestricted) when no rules are configured; otherwise the client's permissions,
    /// possibly none.
    package static func permissions(rules: [AuthPolicy.Rule], roles: [String], subject: String?) -> Permissions? {
        guard !rules.isEmpty else { return nil }
        let roleSet = Set(roles)
        var publish: [TopicFilter] = []
        var subscribe: [TopicFilter] = []
        for rule in rules where roleSet.contains(rule.role) {
            publish += rule.publish.compactMap { compile($0, subject: subject) }
            subscribe += rule.subscribe.compactMap { compile($0, subject: subject) }
        }
        return Permissions(publish: publish, subscribe: subscribe)
    }

    /// A pattern with `:id` replaced, or nil when it cannot apply: it names `:id` and the
    /// subject is missing, empty, or holds a character that would change the filter's meaning
    /// (`+`, `#`, `/`, NUL).
    static func compile(_ pattern: String, subject: String?) -> TopicFilter? {
        guard pattern.contains(":id") else { return TopicFilter(pattern) }
        guard let subject, isSafeSubject(subject) else { return nil }
        return TopicFilter(pattern.replacing(":id", with: subject))
    }

    package static func isSafeSubject(_ subject: String) -> Bool {
        !subject.isEmpty && !subject.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: "/") || $0 == 0 }
    }
}
