import MQTTWire

/// A subscription as stored: the filter, the QoS granted and the MQTT 5 options.
public struct StoredSubscription: Sendable, Equatable {
    public var filter: String
    public var options: SubscriptionOptions
    public var qos: QoS { options.qos }

    public init(filter: String, qos: QoS) {
        self.filter = filter
        self.options = SubscriptionOptions(qos: qos)
    }

    public init(filter: String, options: SubscriptionOptions) {
        self.filter = filter
        self.options = options
    }
}

/// An outbound QoS 1/2 message of a persistent session, from the moment it is queued until its
/// final acknowledgement. `sequence` numbers a session's entries in queue order.
public struct StoredQueueEntry: Sendable {
    public enum Stage: String, Sendable {
        /// Waiting for the in-flight window or for the client.
        case queued
        /// Sent with `packetId`, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
        case sent
        /// QoS 2: PUBREC received and PUBREL sent, waiting for PUBCOMP.
        case released
    }
    public var sequence: UInt64
    public var message: Message
    /// The QoS it is delivered with (min of the publish's and the subscription's).
    public var qos: QoS
    public var retain: Bool
    /// 0 while queued.
    public var packetId: UInt16
    public var stage: Stage
    /// The shared subscription group it came through (`SharedGroup.key`), nil for an ordinary
    /// subscription.
    public var sharedGroup: String?
    /// The MQTT 5 subscription identifier it is delivered with (0: none).
    public var subscriptionIdentifier: UInt32 = 0

    public init(
        sequence: UInt64, message: Message, qos: QoS, retain: Bool, packetId: UInt16, stage: Stage, sharedGroup: String? = nil,
        subscriptionIdentifier: UInt32 = 0
    ) {
        self.subscriptionIdentifier = subscriptionIdentifier
        self.sequence = sequence
        self.message = message
        self.qos = qos
        self.retain = retain
        self.packetId = packetId
        self.stage = stage
        self.sharedGroup = sharedGroup
    }
}

/// The will of a client that was connected, kept so that it is published even if the broker
/// dies (at the next start, or, in a cluster, by another node).
public struct StoredWill: Sendable {
    public var clientId: String
    public var willId: UInt64
    /// The will message (its `retain` flag included).
    public var message: Message

    public init(clientId: String, willId: UInt64, message: Message) {
        self.clientId = clientId
        self.willId = willId
        self.message = message
    }

    /// The wills still owed: a client id in use now has connected since (a late load runs
    /// while clients connect; a dead node's clients reconnect to the survivors), and its stored
    /// will is that live connection's own or was replaced by it. Read before the stored sessions
    /// are adopted: an adopted session claims its client id as well.
    public static func owed(_ wills: [StoredWill], registry: ClientRegistry) -> [StoredWill] {
        wills.filter { registry.owner(of: $0.clientId) == nil }
    }
}

/// A persistent session as loaded at start-up.
public struct StoredSession: Sendable {
    public var clientId: String
    public var subscriptions: [StoredSubscription]
    public var inboundQoS2: [UInt16]
    /// Wall-clock seconds when the session was last seen connected (its expiry counts from here).
    public var lastSeen: Int
    /// An MQTT 5 session's Session Expiry Interval (nil: the broker's default).
    public var expiryInterval: UInt32?
    /// Its queue, in `sequence` order.
    public var entries: [StoredQueueEntry]

    public init(
        clientId: String, subscriptions: [StoredSubscription], inboundQoS2: [UInt16], lastSeen: Int,
        entries: [StoredQueueEntry]
    ) {
        self.clientId = clientId
        self.subscriptions = subscriptions
        self.inboundQoS2 = inboundQoS2
        self.lastSeen = lastSeen
        self.entries = entries
    }
}
