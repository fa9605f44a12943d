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

    /// The record headers: `mqtt_topic`, `client_id`, `qos`, and `subject` when known; then an
    /// MQTT 5 publisher's Content Type as `content-type` and its user properties, each as a
    /// header of its own name, in order.
    package static func headers(
        topic: String, qos: QoS, client: BridgeClient, properties: [UInt8] = []
    ) -> [(String, [UInt8])] {
        var headers: [(String, [UInt8])] = [
            ("mqtt_topic", Array(topic.utf8)),
            ("client_id", Array(client.clientId.utf8)),
            ("qos", Array(String(qos.rawValue).utf8)),
        ]
        if let subject = client.subject { headers.append(("subject", Array(subject.utf8))) }
        if !properties.isEmpty {
            let forwarded = ForwardedProperties(block: properties)
            if let contentType = forwarded.contentType { headers.append((contentTypeHeader, Array(contentType.utf8))) }
            for (key, value) in forwarded.userProperties { headers.append((key, Array(value.utf8))) }
        }
        return headers
    }

    /// The header an MQTT 5 Content Type travels in (CloudEvents' Kafka binding uses it too).
    package static let contentTypeHeader = "content-type"
    /// The headers the bridge itself writes: not handed back to MQTT as user properties.
    package static let bridgeHeaders: Set<String> = ["mqtt_topic", "client_id", "qos", "subject"]

    /// The MQTT 5 properties of a record's headers going back to MQTT: `content-type` as
    /// Content Type, every other header but the bridge's own as a user property, in order.
    package static func properties(fromHeaders headers: [(String, String)]) -> [UInt8] {
        var forwarded = ForwardedProperties()
        for (name, value) in headers where !bridgeHeaders.contains(name) {
            if name == contentTypeHeader { forwarded.contentType = value } else { forwarded.userProperties.append((name, value)) }
        }
        return forwarded.block
    }
}
