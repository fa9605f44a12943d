/// Protocol and resource limits the broker core enforces on every connection.
///
/// The defaults here are the defaults of `config/config.schema.json`; a test in
/// BrokerConfigTests loads the embedded defaults and compares, so change both together.
public struct BrokerLimits: Sendable, Equatable {
    /// Largest accepted MQTT packet in bytes (fixed header included); larger packets close the connection.
    public var maxPacketSize = 1_048_576
    /// QoS 1/2 messages sent to one client and not yet acknowledged.
    public var maxInflightMessages = 20
    /// Messages queued for one client (offline or past the inflight window) before new ones are dropped.
    public var maxQueuedMessages = 1000
    /// Whether a connected client's QoS 1/2 queue, once half full, stops reading from the
    /// clients publishing into it until it is down to a quarter (false: only drop past
    /// `maxQueuedMessages`, as Mosquitto does).
    public var queueBackpressure = true
    /// Simultaneous client connections; 0 means unlimited.
    public var maxConnections = 0
    /// Largest keep-alive (seconds) a client may ask for. A CONNECT asking for more, or for none
    /// (0) while this is below 65535, is refused with CONNACK 2 (3.1.1 cannot shorten it).
    public var maxKeepalive = 65535
    /// Most levels (`/`-separated parts) a topic name or filter may have (200: Mosquitto's). The
    /// configuration allows at most 1024: the subscription and retained tries recurse once per level.
    public var maxTopicLevels = 200
    /// Seconds a new connection has to send CONNECT before it is closed.
    public var connectTimeoutSeconds = 10
    /// Seconds a 3.1.1 persistent session outlives its disconnected client, and the most an
    /// MQTT 5 client's Session Expiry Interval may be; 0 means never expire.
    public var sessionExpirySeconds = 7200
    /// MQTT 5: QoS 1/2 publishes a client may have unacknowledged towards the broker.
    public var receiveMaximum = 1000
    /// MQTT 5: topic aliases a client may define (0: none).
    public var topicAliasMaximum = 10

    public init() {}
}

/// The settings the broker core needs, apart from transports and integrations.
public struct CoreSettings: Sendable, Equatable {
    /// Per-connection and broker-wide limits.
    public var limits = BrokerLimits()
    /// Whether a CONNECT without username is accepted.
    public var allowAnonymous = true
    /// Seconds between `$SYS` topic updates; 0 turns them off.
    public var sysIntervalSeconds = 10
    /// Whether a PUBLISH the ACL denies closes the connection (otherwise it is acknowledged
    /// and dropped).
    public var disconnectOnDeniedPublish = false
    /// How a shared subscription group picks a member (`shared_subscriptions.strategy`).
    public var sharedSubscriptionStrategy = SharedSubscriptionStrategy.roundRobin
    /// MQTT 5: whether refusals and DISCONNECTs carry a reason string.
    public var reasonStrings = true

    public init(
        limits: BrokerLimits = BrokerLimits(), allowAnonymous: Bool = true, sysIntervalSeconds: Int = 10,
        disconnectOnDeniedPublish: Bool = false, sharedSubscriptionStrategy: SharedSubscriptionStrategy = .roundRobin,
        reasonStrings: Bool = true
    ) {
        self.reasonStrings = reasonStrings
        self.limits = limits
        self.allowAnonymous = allowAnonymous
        self.sysIntervalSeconds = sysIntervalSeconds
        self.disconnectOnDeniedPublish = disconnectOnDeniedPublish
        self.sharedSubscriptionStrategy = sharedSubscriptionStrategy
    }
}
