import BrokerCore
import MQTTWire

/// The `client_events` routes compiled once: which routes an inbound PUBLISH topic matches, and
/// the key and headers of the record each produces. Pure, so it is unit-tested without Kafka.
package struct ClientEventRules: Sendable {
    struct Compiled: Sendable {
        let filter: TopicFilter
        let route: KafkaBridgeConfiguration.Route
    }

    let compiled: [Compiled]
    let waitForKafka: Bool

    /// Routes whose filter is not a valid MQTT topic filter are left out (the configuration
    /// validator refuses them before this).
    package init(routes: [KafkaBridgeConfiguration.Route], waitForKafka: Bool) {
        compiled = routes.compactMap { route in TopicFilter(route.mqttFilter).map { Compiled(filter: $0, route: route) } }
        self.waitForKafka = waitForKafka
    }

    /// The matching routes (by number), or nil. `alsoMQTT` is false when any matching route
    /// says so. Allocates only when something matches.
    package func match(topic: String) -> BridgeMatch? {
        var found: BridgeMatch?
        for (index, entry) in compiled.enumerated() where entry.filter.matches(topic: topic) {
            if found == nil {
                found = BridgeMatch(alsoMQTT: true, awaitsAcknowledgement: waitForKafka, rules: [])
            }
            found!.rules.append(index)
            if !entry.route.alsoMQTT { found!.alsoMQTT = false }
        }
        return found
    }

    package func route(_ number: Int) -> KafkaBridgeConfiguration.Route { compiled[number].route }

    /// The record key for a publish on `topic` by `client` under `route`.
    package static func key(_ key: KafkaBridgeConfiguration.Key, topic: String, client: BridgeClient) -> [UInt8]? {
        switch key {
        case .clientId: Array(client.clientId.utf8)
        case .topic: Array(topic.utf8)
        case .none: nil
        }
    }

    /// The record headers: `mqtt_topic`, `client_id`, `qos`, and `subject` when known.
    package static func headers(topic: String, qos: QoS, client: BridgeClient) -> [(String, [UInt8])] {
        var headers: [(String, [UInt8])] = [
            ("mqtt_topic", Array(topic.utf8)),
            ("client_id", Array(client.clientId.utf8)),
            ("qos", Array(String(qos.rawValue).utf8)),
        ]
        if let subject = client.subject { headers.append(("subject", Array(subject.utf8))) }
        return headers
    }
}
