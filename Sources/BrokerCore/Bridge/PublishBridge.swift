/// What a bridge's rules say about one inbound PUBLISH topic.
public struct BridgeMatch: Sendable {
    /// Whether MQTT subscribers receive the publish too.
    public var alsoMQTT: Bool
    /// Whether a QoS 1/2 publish is acknowledged to the client only once the bridge has it
    /// (at-least-once towards the bridge); false acknowledges at once (fire and forget).
    public var awaitsAcknowledgement: Bool
    /// The bridge's own rule numbers, handed back to `forward`.
    public var rules: [Int]

    public init(alsoMQTT: Bool, awaitsAcknowledgement: Bool, rules: [Int]) {
        self.alsoMQTT = alsoMQTT
        self.awaitsAcknowledgement = awaitsAcknowledgement
        self.rules = rules
    }
}

/// Who a bridged publish or event is about.
public struct BridgeClient: Sendable, Equatable {
    public var clientId: String
    /// The authenticated subject (token subject or internal user name), when known.
    public var subject: String?
    /// Whether the client logged in with an access token.
    public var tokenAuthenticated: Bool
    public var peer: String

    public init(clientId: String, subject: String?, tokenAuthenticated: Bool, peer: String) {
        self.clientId = clientId
        self.subject = subject
        self.tokenAuthenticated = tokenAuthenticated
        self.peer = peer
    }
}

/// A sink beside MQTT routing (the Kafka bridge): consulted for each inbound PUBLISH, told of
/// connects and disconnects. Called on shard threads: every method returns at once; the work
/// runs on threads the implementation owns and `completion` may be called from any thread,
/// exactly once.
public protocol PublishBridge: Sendable {
    /// The rules matching `topic`, or nil (the common case, which must be cheap).
    func match(topic: String) -> BridgeMatch?
    /// Hands `message` over. `completion(true)` once the bridge has it durably, `false` when it
    /// gave up; nil when the caller does not wait.
    func forward(_ message: Message, match: BridgeMatch, from client: BridgeClient, completion: (@Sendable (Bool) -> Void)?)
    /// A client's CONNECT was accepted.
    func clientConnected(_ client: BridgeClient)
    /// A connected client's connection ended.
    func clientDisconnected(_ client: BridgeClient, reason: String)
    /// Whether the bridge reaches its system now (readiness and metrics ask; any thread).
    var isAvailable: Bool { get }
    /// What the bridge delivered and how fast (metrics ask; any thread).
    var statistics: BridgeStatistics { get }
}

/// A bridge's figures since start.
public struct BridgeStatistics: Sendable, Equatable {
    /// Records the other system acknowledged, and records given up on.
    public var delivered: Int
    public var failed: Int
    /// What the other system's client still holds: records handed over and not yet
    /// acknowledged or given up on (librdkafka counts its requests in flight here too).
    public var pending: Int
    /// From handing a record over to its acknowledgement.
    public var deliveryLatency: LatencyHistogram

    public init(delivered: Int = 0, failed: Int = 0, pending: Int = 0, deliveryLatency: LatencyHistogram = LatencyHistogram()) {
        self.delivered = delivered
        self.failed = failed
        self.pending = pending
        self.deliveryLatency = deliveryLatency
    }
}
