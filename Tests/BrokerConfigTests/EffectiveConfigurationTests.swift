@testable import BrokerConfig
import Testing

@Suite struct EffectiveConfigurationTests {
    @Test func effectiveTreeHasEveryDefaultInSchemaOrder() throws {
        let tree = try ConfigLoader.effectiveTree(yaml: "log: {level: debug}", environment: [:])
        #expect(tree.value.members?.map(\.key) == [
            "log", "listeners", "shards", "pin_cores", "limits", "sys_interval_seconds", "reason_strings",
            "allow_anonymous", "shared_subscriptions", "auth", "acl", "persistence",
        ])
        #expect(tree["log"] == ["level": "debug", "format": "text"])
        #expect(tree["listeners"] == [["protocol": "mqtt", "port": 1883, "host": "0.0.0.0", "path": "/"]])
    }

    @Test func effectiveTreePrintsAsJSONThatReadsBackEqual() throws {
        let tree = try ConfigLoader.effectiveTree(
            yaml: "kafka: {brokers: 'a:1', client_id: \"q\\\"uote\\\\\"}", environment: [:])
        let json = tree.jsonText()
        #expect(json.contains(#""client_id": "q\"uote\\""#))
        #expect(try YAMLDocumentParser.parse(json) == tree)
    }

    @Test func problemsCarryTheSourceLocationOfTheOffendingText() {
        do {
            _ = try ConfigLoader.load(yaml: "listeners:\n  - port: 1883\n    prot: mqtt\n", environment: [:])
            Issue.record("expected a problem")
        } catch {
            #expect(error.problems.map(\.description) == [
                "listeners[0].prot: unknown key (expected one of: protocol, host, port, path, tls)",
            ])
            #expect(error.problems.first?.location == SourceLocation(line: 3, column: 5))
        }
    }
}
