@testable import BrokerAuth
import BrokerCore
import MQTTWire
import Testing

@Suite struct ACLCompilerTests {
    let rules = [
        AuthPolicy.Rule(role: "device", publish: ["devices/:id/#"], subscribe: ["devices/:id/commands/#", "broadcast/+"]),
        AuthPolicy.Rule(role: "reader", publish: [], subscribe: ["a/+"]),
        AuthPolicy.Rule(role: "backend", publish: ["#"], subscribe: ["#"]),
    ]

    @Test func noRulesMeansUnrestricted() {
        #expect(ACLCompiler.permissions(rules: [], roles: ["x"], subject: "s") == nil)
    }

    @Test func idIsReplacedByTheSubject() throws {
        let p = try #require(ACLCompiler.permissions(rules: rules, roles: ["device"], subject: "d1"))
        #expect(p.canPublish("devices/d1/telemetry"))
        #expect(p.canPublish("devices/d1"))
        #expect(!p.canPublish("devices/d2/telemetry"))
        #expect(p.canSubscribe("devices/d1/commands/#"))
        #expect(p.canSubscribe("devices/d1/commands/+/x"))
        #expect(!p.canSubscribe("devices/+/commands/#"))
        #expect(!p.canSubscribe("devices/d1/#"))
        #expect(p.canReceive("broadcast/all"))
    }

    @Test(arguments: ["a+b", "#", "a/b", "", "+"])
    func wildcardOrSlashInTheSubjectNeverMatchesIdPatterns(subject: String) throws {
        let p = try #require(ACLCompiler.permissions(rules: rules, roles: ["device"], subject: subject))
        #expect(p.publish.isEmpty)
        #expect(!p.canPublish("devices/\(subject)/x"))
        #expect(!p.canPublish("devices/a/b/x"))
        #expect(!p.canSubscribe("devices/#"))
        // Patterns without :id still apply.
        #expect(p.canSubscribe("broadcast/x"))
    }

    @Test func anonymousClientsHaveNoIdPatterns() throws {
        let p = try #require(ACLCompiler.permissions(rules: rules, roles: ["device"], subject: nil))
        #expect(!p.canPublish("devices/:id/x"))
        #expect(p.publish.isEmpty)
    }

    @Test func unknownRoleGetsNothing() throws {
        let p = try #require(ACLCompiler.permissions(rules: rules, roles: ["nobody"], subject: "x"))
        #expect(!p.canPublish("a"))
        #expect(!p.canSubscribe("a"))
    }

    @Test func rolesAreUnited() throws {
        let p = try #require(ACLCompiler.permissions(rules: rules, roles: ["reader", "device"], subject: "d"))
        #expect(p.canSubscribe("a/x"))
        #expect(p.canSubscribe("devices/d/commands/#"))
    }

    @Test(arguments: [
        // allowed, requested, covered
        ("a/#", "a/#", true), ("#", "a/#", true), ("a/+", "a/#", false), ("a/+", "a/b/c", false),
        ("a/+", "a/b", true), ("a/+", "a/+", true), ("a/b", "a/+", false), ("a/#", "a", true),
        ("a/#", "a/+/c", true), ("+/b", "a/b", true), ("+/b", "+/+", false), ("a/+/c", "a/+/c", true),
        ("#", "$SYS/x", false), ("+/x", "$SYS/x", false), ("$SYS/#", "$SYS/x", true), ("a", "a/b", false),
        ("a/b", "a", false), ("#", "#", true), ("+", "#", false), ("a/+/#", "a/x", true), ("a/+/#", "a", false),
    ])
    func filterCoversFilter(allowed: String, requested: String, covered: Bool) throws {
        let p = Permissions(publish: [], subscribe: [try #require(TopicFilter(allowed))])
        #expect(p.canSubscribe(requested) == covered)
    }

    @Test(arguments: [
        ("a/+/c", "a/b/c", true), ("a/+/c", "a/b/d", false), ("a/#", "a", true), ("a/#", "a/b/c", true),
        ("#", "x/y", true), ("+", "x/y", false), ("+/+", "/x", true), ("a/+", "a/", true),
        ("#", "$SYS/x", false), ("+/x", "$SYS/x", false), ("$SYS/#", "$SYS/x", true), ("a", "A", false),
        ("a/b", "a/bc", false), ("a/bc", "a/b", false),
    ])
    func topicMatching(filter: String, topic: String, matches: Bool) throws {
        #expect(try #require(TopicFilter(filter)).matches(topic: topic) == matches)
    }

    @Test(arguments: ["a/#/b", "a#", "a/b+", ""])
    func invalidFiltersAreRejected(filter: String) {
        #expect(TopicFilter(filter) == nil)
    }
}
