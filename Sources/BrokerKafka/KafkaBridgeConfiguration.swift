/// Everything the Kafka bridge needs, mapped from the broker's configuration by the executable
/// (BrokerKafka does not depend on BrokerConfig).
public struct KafkaBridgeConfiguration: Sendable, Equatable {
    public enum SASLMechanism: String, Sendable {
        case plain = "PLAIN"
        case scramSHA256 = "SCRAM-SHA-256"
        case scramSHA512 = "SCRAM-SHA-512"
    }

    public struct SASL: Sendable, Equatable {
        public var mechanism: SASLMechanism
        public var username: String
        public var password: String

        public init(mechanism: SASLMechanism, username: String, password: String) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    /// What becomes the Kafka record key of a forwarded publish.
    public enum Key: String, Sendable {
        case clientId = "client_id"
        case topic
        case none
    }

    /// Publishes matching `mqttFilter` go to Kafka topic `topic`.
    public struct Route: Sendable, Equatable {
        public var mqttFilter: String
        public var topic: String
        public var key: Key
        public var alsoMQTT: Bool

        public init(mqttFilter: String, topic: String, key: Key = .clientId, alsoMQTT: Bool = true) {
            self.mqttFilter = mqttFilter
            self.topic = topic
            self.key = key
            self.alsoMQTT = alsoMQTT
        }
    }

    /// A Kafka topic receiving one kind of CloudEvent.
    public struct Event: Sendable, Equatable {
        public var topic: String
        public var type: String

        public init(topic: String, type: String) {
            self.topic = topic
            self.type = type
        }
    }

    /// A Kafka topic consumed (in group `groupId`) and published into the broker on the topic
    /// `mqttTopic` expands to (`{key}`, `{header.NAME}`).
    public struct Subscription: Sendable, Equatable {
        public var topic: String
        public var groupId: String?
        public var mqttTopic: String
        public var qos: Int
        public var retain: Bool

        public init(topic: String, groupId: String? = nil, mqttTopic: String, qos: Int = 0, retain: Bool = false) {
            self.topic = topic
            self.groupId = groupId
            self.mqttTopic = mqttTopic
            self.qos = qos
            self.retain = retain
        }
    }

    public static let defaultConnectType = "andrew.device.connect"
    public static let defaultDisconnectType = "andrew.device.disconnect"

    public var brokers: [String]
    public var clientId: String
    public var sasl: SASL?
    /// TLS towards Kafka when set; `tlsCA` names a PEM CA file (nil: the system's CAs).
    public var tls: Bool
    public var tlsCA: String?
    /// QoS 1/2 acknowledged only once Kafka has the record (`ack_mode: kafka`).
    public var waitForKafka: Bool
    /// librdkafka's `compression.type` for produced records.
    public var compression: String
    public var routes: [Route]
    public var connectEvent: Event?
    public var disconnectEvent: Event?
    /// Events for every client; false: only for clients that logged in with a token.
    public var eventsForAll: Bool
    /// The CloudEvents `source` attribute.
    public var source: String
    public var subscriptions: [Subscription]

    public init(
        brokers: [String], clientId: String = "mqtt-broker", sasl: SASL? = nil, tls: Bool = false, tlsCA: String? = nil,
        waitForKafka: Bool = true, compression: String = "none", routes: [Route] = [], connectEvent: Event? = nil, disconnectEvent: Event? = nil,
        eventsForAll: Bool = false, source: String = "mqtt-broker", subscriptions: [Subscription] = []
    ) {
        self.subscriptions = subscriptions
        self.compression = compression
        self.brokers = brokers
        self.clientId = clientId
        self.sasl = sasl
        self.tls = tls
        self.tlsCA = tlsCA
        self.waitForKafka = waitForKafka
        self.routes = routes
        self.connectEvent = connectEvent
        self.disconnectEvent = disconnectEvent
        self.eventsForAll = eventsForAll
        self.source = source
    }

    /// The librdkafka producer properties: idempotent, `acks=all`, compression, SASL and TLS as configured.
    public func producerProperties() -> [(String, String)] {
        var properties: [(String, String)] = [
            ("bootstrap.servers", brokers.joined(separator: ",")),
            ("client.id", clientId),
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("compression.type", compression),
        ]
        properties += securityProperties()
        return properties
    }

    /// The librdkafka consumer properties: offsets committed by the bridge (only after the
    /// broker accepted a record); a new group starts at the beginning of the topic, as Kafka
    /// Connect sinks do.
    public func consumerProperties(groupId: String) -> [(String, String)] {
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
        switch (sasl != nil, tls) {
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
        if tls, let tlsCA { properties.append(("ssl.ca.location", tlsCA)) }
        return properties
    }
}
