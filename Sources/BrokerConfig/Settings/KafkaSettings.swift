/// The Kafka bridge: MQTT events and messages produced to Kafka, Kafka topics republished
/// over MQTT.
public struct KafkaSettings: Sendable, Equatable {
    /// SASL mechanisms librdkafka is configured with.
    public enum SASLMechanism: String, Sendable {
        case plain = "PLAIN"
        case scramSHA256 = "SCRAM-SHA-256"
        case scramSHA512 = "SCRAM-SHA-512"
    }

    /// SASL credentials for the Kafka connection.
    public struct SASL: Sendable, Equatable {
        public var mechanism: SASLMechanism
        public var username: String
        public var password: String

        public init(mechanism: SASLMechanism = .scramSHA512, username: String, password: String) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    /// TLS towards Kafka; present means TLS is on.
    public struct TLS: Sendable, Equatable {
        /// PEM CA bundle; nil uses the system's CAs.
        public var ca: String?

        public init(ca: String? = nil) { self.ca = ca }
    }

    /// When a QoS 1/2 PUBLISH routed to Kafka is acknowledged to the client.
    /// Compression of produced records (`kafka.compression`, librdkafka's `compression.type`).
    public enum Compression: String, Sendable {
        case none, gzip, snappy, lz4, zstd
    }

    public enum AckMode: String, Sendable {
        /// After Kafka acknowledged the produced message.
        case kafka
        /// At once, as for any other publish.
        case local
    }

    /// A Kafka topic that receives one kind of broker event.
    public struct EventTarget: Sendable, Equatable {
        public var topic: String
        /// Value of the event's `type` field; nil uses the broker's own name for the event.
        public var type: String?

        public init(topic: String, type: String? = nil) {
            self.topic = topic
            self.type = type
        }
    }

    /// What becomes the Kafka message key of a forwarded publish.
    public enum MessageKey: String, Sendable {
        case clientID = "client_id"
        case topic
        case none
    }

    /// Publishes matching an MQTT filter, forwarded to a Kafka topic.
    public struct ClientEventRoute: Sendable, Equatable {
        /// MQTT topic filter selecting the publishes.
        public var mqttTopic: String
        /// Kafka topic they are produced to.
        public var topic: String
        public var key: MessageKey
        /// Whether MQTT subscribers still receive the publish.
        public var alsoMQTT: Bool

        public init(mqttTopic: String, topic: String, key: MessageKey = .clientID, alsoMQTT: Bool = true) {
            self.mqttTopic = mqttTopic
            self.topic = topic
            self.key = key
            self.alsoMQTT = alsoMQTT
        }
    }

    /// Which clients' connects and disconnects become events.
    public enum EventAudience: String, Sendable {
        /// Clients that logged in with an access token (the old broker's behaviour).
        case token
        case all
    }

    /// What the broker produces to Kafka.
    public struct PublishSettings: Sendable, Equatable {
        public var connectEvent: EventTarget?
        public var disconnectEvent: EventTarget?
        public var eventsFor: EventAudience
        public var clientEvents: [ClientEventRoute]

        public init(
            connectEvent: EventTarget? = nil, disconnectEvent: EventTarget? = nil, eventsFor: EventAudience = .token,
            clientEvents: [ClientEventRoute] = []
        ) {
            self.eventsFor = eventsFor
            self.connectEvent = connectEvent
            self.disconnectEvent = disconnectEvent
            self.clientEvents = clientEvents
        }
    }

    /// A Kafka topic consumed and republished on an MQTT topic.
    public struct Subscription: Sendable, Equatable {
        public var topic: String
        /// Consumer group; nil uses the broker's client id.
        public var groupID: String?
        public var mqttTopic: String
        public var qos: Int
        public var retain: Bool

        public init(topic: String, groupID: String? = nil, mqttTopic: String, qos: Int = 0, retain: Bool = false) {
            self.topic = topic
            self.groupID = groupID
            self.mqttTopic = mqttTopic
            self.qos = qos
            self.retain = retain
        }
    }

    /// Bootstrap servers (`host:port`), split from the comma list in the file.
    public var brokers: [String]
    public var clientID: String?
    public var sasl: SASL?
    public var tls: TLS?
    public var ackMode: AckMode
    public var compression: Compression
    public var publish: PublishSettings
    public var subscribe: [Subscription]

    public init(
        brokers: [String], clientID: String? = nil, sasl: SASL? = nil, tls: TLS? = nil, ackMode: AckMode = .kafka,
        compression: Compression = .none, publish: PublishSettings = PublishSettings(), subscribe: [Subscription] = []
    ) {
        self.compression = compression
        self.brokers = brokers
        self.clientID = clientID
        self.sasl = sasl
        self.tls = tls
        self.ackMode = ackMode
        self.publish = publish
        self.subscribe = subscribe
    }
}
