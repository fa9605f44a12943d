import BrokerCore
import BrokerKafka
import Foundation
import MQTTWire
import Testing

@Suite struct ClientEventRulesTests {
    let client = BridgeClient(clientId: "dev-1", subject: "alice", tokenAuthenticated: true, peer: "10.0.0.1:5555")

    @Test func wildcardRulesMatchAndUnmatchedTopicsDoNot() {
        let rules = ClientEventRules(routes: [
            .init(mqttFilter: "devices/+/telemetry", topic: "telemetry"),
            .init(mqttFilter: "devices/#", topic: "all", alsoMQTT: false),
        ], waitForKafka: true)
        let match = rules.match(topic: "devices/d1/telemetry")
        #expect(match?.rules == [0, 1])
        #expect(match?.alsoMQTT == false)
        #expect(match?.awaitsAcknowledgement == true)
        #expect(rules.match(topic: "devices/d1/status")?.rules == [1])
        #expect(rules.match(topic: "other/d1/telemetry") == nil)
    }

    @Test func alsoMQTTStaysTrueWhenEveryMatchingRuleSaysSo() {
        let rules = ClientEventRules(routes: [.init(mqttFilter: "a/#", topic: "x")], waitForKafka: false)
        let match = rules.match(topic: "a/b")
        #expect(match?.alsoMQTT == true)
        #expect(match?.awaitsAcknowledgement == false)
    }

    @Test func keyIsClientIdTopicOrNone() {
        #expect(ClientEventRules.key(.clientId, topic: "a/b", client: client) == Array("dev-1".utf8))
        #expect(ClientEventRules.key(.topic, topic: "a/b", client: client) == Array("a/b".utf8))
        #expect(ClientEventRules.key(.none, topic: "a/b", client: client) == nil)
    }

    @Test func headersNameTopicClientQosAndSubjectWhenKnown() {
        let headers = ClientEventRules.headers(topic: "a/b", qos: .atLeastOnce, client: client)
        #expect(headers.map(\.0) == ["mqtt_topic", "client_id", "qos", "subject"])
        #expect(headers.map { String(decoding: $0.1, as: UTF8.self) } == ["a/b", "dev-1", "1", "alice"])
        var anonymous = client
        anonymous.subject = nil
        #expect(ClientEventRules.headers(topic: "a", qos: .atMostOnce, client: anonymous).map(\.0) == ["mqtt_topic", "client_id", "qos"])
    }

    /// MQTT 5 user properties and content type travel as headers, and come back from a record's
    /// headers as the same properties (the bridge's own headers stay behind).
    @Test func mqtt5PropertiesBecomeHeadersAndBack() {
        var properties = ForwardedProperties()
        properties.contentType = "application/json"
        properties.userProperties = [("trace", "1"), ("unit", "C"), ("trace", "2")]
        let headers = ClientEventRules.headers(topic: "a", qos: .atMostOnce, client: client, properties: properties.block)
        #expect(headers.map(\.0) == ["mqtt_topic", "client_id", "qos", "subject", "content-type", "trace", "unit", "trace"])
        let back = ClientEventRules.properties(fromHeaders: headers.map { ($0.0, String(decoding: $0.1, as: UTF8.self)) })
        #expect(ForwardedProperties(block: back) == properties)
    }
}

@Suite struct CloudEventTests {
    @Test func structuredJSONHasEveryRequiredAttribute() throws {
        let client = BridgeClient(clientId: "dev-\"1", subject: "alice", tokenAuthenticated: true, peer: "p")
        let event = CloudEvent.forClient(
            client, type: "andrew.device.disconnect", source: "mqtt-broker/x", reason: "connection lost", id: "42",
            date: Date(timeIntervalSince1970: 1_700_000_000))
        let object = try #require(JSONSerialization.jsonObject(with: Data(event.json.utf8)) as? [String: Any])
        #expect(object["specversion"] as? String == "1.0")
        #expect(object["id"] as? String == "42")
        #expect(object["source"] as? String == "mqtt-broker/x")
        #expect(object["type"] as? String == "andrew.device.disconnect")
        #expect(object["time"] as? String == "2023-11-14T22:13:20.000Z")
        #expect(object["subject"] as? String == "alice")
        #expect(object["datacontenttype"] as? String == "application/json")
        let data = try #require(object["data"] as? [String: String])
        #expect(data == ["device": "dev-\"1", "subject": "alice", "peer": "p", "reason": "connection lost"])
    }

    @Test func subjectFallsBackToTheClientId() {
        let client = BridgeClient(clientId: "dev-2", subject: nil, tokenAuthenticated: false, peer: "p")
        #expect(CloudEvent.forClient(client, type: "t", source: "s").subject == "dev-2")
    }
}

@Suite struct KafkaPropertiesTests {
    func value(_ properties: [(String, String)], _ name: String) -> String? {
        properties.first { $0.0 == name }?.1
    }

    @Test func producerIsIdempotentWithAcksAll() {
        let properties = KafkaBridgeConfiguration(brokers: ["a:9092", "b:9092"], clientId: "c").producerProperties()
        #expect(value(properties, "bootstrap.servers") == "a:9092,b:9092")
        #expect(value(properties, "client.id") == "c")
        #expect(value(properties, "enable.idempotence") == "true")
        #expect(value(properties, "acks") == "all")
        #expect(value(properties, "compression.type") == "none")
        #expect(value(properties, "security.protocol") == "plaintext")
        let zstd = KafkaBridgeConfiguration(brokers: ["a:9092"], compression: .zstd).producerProperties()
        #expect(value(zstd, "compression.type") == "zstd")
    }

    @Test func saslAndTLSArePassedThrough() {
        let properties = KafkaBridgeConfiguration(
            brokers: ["a:9093"], sasl: .init(mechanism: .scramSHA256, username: "u", password: "p"), tls: .init(ca: "/ca.pem")
        ).producerProperties()
        #expect(value(properties, "security.protocol") == "sasl_ssl")
        #expect(value(properties, "sasl.mechanisms") == "SCRAM-SHA-256")
        #expect(value(properties, "sasl.username") == "u")
        #expect(value(properties, "sasl.password") == "p")
        #expect(value(properties, "ssl.ca.location") == "/ca.pem")
        let plainSASL = KafkaBridgeConfiguration(
            brokers: ["a"], sasl: .init(mechanism: .plain, username: "u", password: "p")
        ).producerProperties()
        #expect(value(plainSASL, "security.protocol") == "sasl_plaintext")
        #expect(value(KafkaBridgeConfiguration(brokers: ["a"], tls: .init()).producerProperties(), "security.protocol") == "ssl")
    }
}

@Suite struct TopicTemplateTests {
    @Test func keyAndHeadersAreSubstituted() {
        let template = TopicTemplate("devices/{key}/commands/{header.kind}")
        #expect(template.expand(key: "d1", headers: ["kind": "reboot"]) == "devices/d1/commands/reboot")
    }

    @Test func missingValuesAndInvalidTopicsGiveNil() {
        let template = TopicTemplate("devices/{key}/{header.kind}")
        #expect(template.expand(key: nil, headers: ["kind": "x"]) == nil)
        #expect(template.expand(key: "d1", headers: [:]) == nil)
        #expect(template.expand(key: "+", headers: ["kind": "x"]) == nil)
        #expect(template.expand(key: "a#", headers: ["kind": "x"]) == nil)
    }

    @Test func plainTemplatesAndUnknownPlaceholdersStayLiteral() {
        #expect(TopicTemplate("broadcast/all").expand(key: nil, headers: [:]) == "broadcast/all")
        #expect(TopicTemplate("a/{other}/{key").expand(key: "k", headers: [:]) == "a/{other}/{key")
        #expect(TopicTemplate("{key}").expand(key: "k", headers: [:]) == "k")
    }
}
