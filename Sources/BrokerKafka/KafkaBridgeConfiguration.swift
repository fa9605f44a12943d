import Foundation

/// The `kafka` section of the configuration, as BrokerConfig decodes it: what the bridge
/// produces to Kafka and consumes from it. This is the only home of these settings; defaults
/// not given here come from the JSON Schema (config/config.yaml documents every key).
package struct KafkaBridgeConfiguration: Sendable, Equatable {
    /// SASL mechanisms librdkafka is configured with (`kafka.sasl.mechanism`).
    package enum SASLMechanism: String, Sendable {
        case plain = "PLAIN"
        case scramSHA256 = "SCRAM-SHA-256"
        case scramSHA512 = "SCRAM-SHA-512"
    }

    /// SASL credentials for the Kafka connection (`kafka.sasl`).
    package struct SASL: Sendable, Equatable {
        package var mechanism: SASLMechanism
        package var username: String
        package var password: String

        package init(mechanism: SASLMechanism = .scramSHA512, username: String, password: String) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    /// TLS towards Kafka (`kafka.tls`); present means TLS is on.
    package struct TLS: Sendable, Equatable {
        /// PEM CA bundle; nil uses the system's CAs.
        package var ca: String?

        package init(ca: String? = nil) { self.ca = ca }
    }

    /// When a QoS 1/2 PUBLISH routed to Kafka is acknowledged to its client (`kafka.ack_mode`).
    package enum AckMode: String, Sendable {
        /// After Kafka acknowledged the produced record.
        case kafka
        /// At once, as for any other publish.
        case local
    }

    /// Compression of produced records (`kafka.compression`, librdkafka's `compression.type`).
    package enum Compression: String, Sendable {
        case none, gzip, snappy, lz4, zstd
    }

    /// What becomes the Kafka record key of a forwarded publish.
    package enum Key: String, Sendable {
        case clientId = "client_id"
        case topic
        case none
    }

    /// Publishes matching `mqttFilter` go to Kafka topic `topic` (`kafka.publish.client_events`).
    package struct Route: Sendable, Equatable {
        package var mqttFilter: String
        package var topic: String
        package var key: Key
        /// Whether MQTT subscribers still receive the publish.
        package var alsoMQTT: Bool

        package init(mqttFilter: String, topic: String, key: Key = .clientId, alsoMQTT: Bool = true) {
            self.mqttFilter = mqttFilter
            self.topic = topic
            self.key = key
            self.alsoMQTT = alsoMQTT
        }
    }

    /// A Kafka topic receiving one kind of CloudEvent (`kafka.publish.connect_event`, ...).
    package struct Event: Sendable, Equatable {
        package var topic: String
        /// The event's `type` attribute.
        package var type: String

        package init(topic: String, type: String) {
            self.topic = topic
            self.type = type
        }
    }

    /// Which clients' connects and disconnects become events (`kafka.publish.events_for`).
    package enum EventAudience: String, Sendable {
        /// Clients that logged in with an access token (the old broker's behaviour).
        case token
        case all
    }

    /// A Kafka topic consumed (in group `groupId`) and published into the broker on the topic
    /// `mqttTopic` expands to (`{key}`, `{header.NAME}`) (`kafka.subscribe`).
    package struct Subscription: Sendable, Equatable {
        package var topic: String
        /// Consumer group; nil uses the bridge's client id.
        package var groupId: String?
        package var mqttTopic: String
        package var qos: Int
        package var retain: Bool

        package init(topic: String, groupId: String? = nil, mqttTopic: String, qos: Int = 0, retain: Bool = false) {
            self.topic = topic
            self.groupId = groupId
            self.mqttTopic = mqttTopic
            self.qos = qos
            self.retain = retain
        }
    }

    /// Event types used when the configuration names none (the old broker's names).
    package static let defaultConnectType = "andrew.device.connect"
    package static let defaultDisconnectType = "andrew.device.disconnect"
    /// The Kafka client id when `kafka.client_id` is not set.
    package static let defaultClientId = "mqtt-broker"

    /// Bootstrap servers (`host:port`), split from the comma list in the file.
    package var brokers: [String]
    package var clientId: String
    package var sasl: SASL?
    package var tls: TLS?
    package var ackMode: AckMode
    package var compression: Compression
    package var routes: [Route]
    package var connectEvent: Event?
    package var disconnectEvent: Event?
    package var eventsFor: EventAudience
    package var subscriptions: [Subscription]

    package init(
        brokers: [String], clientId: String = defaultClientId, sasl: SASL? = nil, tls: TLS? = nil,
        ackMode: AckMode = .kafka, compression: Compression = .none, routes: [Route] = [],
        connectEvent: Event? = nil, disconnectEvent: Event? = nil, eventsFor: EventAudience = .token,
        subscriptions: [Subscription] = []
    ) {
        self.brokers = brokers
        self.clientId = clientId
        self.sasl = sasl
        self.tls = tls
        self.ackMode = ackMode
        self.compression = compression
        self.routes = routes
        self.connectEvent = connectEvent
        self.disconnectEvent = disconnectEvent
        self.eventsFor = eventsFor
        self.subscriptions = subscriptions
    }

    /// QoS 1/2 publishes are acknowledged only once Kafka has the record.
    package var waitForKafka: Bool { ackMode == .kafka }

    /// The CloudEvents `source` attribute: this broker process, by client id and host (looked
    /// up on each call: `KafkaBridge` keeps it).
    package var source: String { "mqtt-broker/\(clientId)@\(ProcessInfo.processInfo.hostName)" }

    /// The librdkafka producer properties: idempotent, `acks=all`, compression, SASL and TLS as configured.
    package func producerProperties() -> [(String, String)] {
        var properties: [(String, String)] = [
            ("bootstrap.servers", brokers.joined(separator: ",")),
            ("client.id", clientId),
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("compression.type", compression.rawValue),
        ]
        properties += securityProperties()
        return properties
    }

    /// The librdkafka consumer properties: offsets committed by the bridge (only after the
    /// broker accepted a record); a new group starts at the beginning of the topic, as Kafka
    /// Connect sinks do.
    package func consumerProperties(groupId: String) -> [(String, String)] {
        var properties: [(String, String)] = [
            ("bootstrap.servers", brokers.joined(separator: ",")),
            ("client.id", clientId),
            ("group.id", groupId),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
        ]
        properties += securityProperties()
        return properties
    }

    func securityProperties() -> [(String, String)] {
        var properties: [(String, String)] = []
        switch (sasl != nil, tls != nil) {
        case (false, false): properties.append(("security.protocol", "plaintext"))
        case (false, true): properties.append(("security.protocol", "ssl"))
        case (true, false): properties.append(("security.protocol", "sasl_plaintext"))
        case (true, true): properties.append(("security.protocol", "sasl_ssl"))
        }
        if let sasl {
            properties += [
                ("sasl.mechanisms", sasl.mechanism.rawValue),
                ("sasl.username", sasl.username),
                ("sasl.password", sasl.password),
            ]
        }
        if let ca = tls?.ca { properties.append(("ssl.ca.location", ca)) }
        return properties
    }
}
