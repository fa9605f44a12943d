import DequeModule
import MQTTWire

/// The state MQTT keeps for one client id: its subscriptions, its QoS 1/2 messages in flight
/// and queued, and the QoS 2 packet ids it has sent us but not yet released.
///
/// Owned by exactly one shard at a time. It moves between shards only by hand-over through a
/// shard inbox (the sender forgets it before posting), hence `@unchecked Sendable`.
public final class Session: @unchecked Sendable {
    // Stored properties are laid out in declaration order: the words first, the small fields
    // together at the end, so that a session (one per connected client) carries no padding.
    public let clientId: String
    /// Filter → granted QoS (and MQTT 5 options), as the client asked for them.
    public internal(set) var subscriptions: [String: SubscriptionOptions] = [:]
    /// The live connection, nil while the (persistent) session is offline.
    public internal(set) var connection: ClientConnection?
    /// Outbound QoS 1/2 messages sent and not yet completed, oldest first.
    public internal(set) var inflight: [InflightMessage] = []
    /// Outbound QoS 1/2 messages waiting for room in the in-flight window (or for the client).
    public internal(set) var queue: Deque<QueuedMessage> = []
    /// Inbound QoS 2 packet ids received (PUBREC sent) and not yet released by PUBREL.
    public internal(set) var inboundQoS2: Set<UInt16> = []
    /// When the session went offline (ms, loop clock); expiry counts from here.
    public internal(set) var offlineSince: UInt64 = 0
    /// MQTT 5: the will of the last connection, waiting for its Will Delay Interval.
    var delayedWill: DelayedWill?
    /// Sequence number of the next queue entry written to the store (persistent sessions).
    var nextStoreSequence: UInt64 = 1
    /// Flow control: the publishers this session's full queue holds back (see
    /// ShardEngine+PublisherHolds); nil while it holds none.
    var holds: PublisherHolds?

    // Scratch for de-duplicating overlapping subscriptions while routing one message: the
    // router stamps each matched session so the session is delivered to once, at the highest QoS.
    var matchStamp: UInt64 = 0
    /// The subscription identifiers of the matching MQTT 5 subscriptions.
    var matchIdentifiers: [UInt32] = []
    var matchQoS: QoS = .atMostOnce
    /// Whether a matching MQTT 5 subscription asked for Retain As Published.
    var matchRetainAsPublished = false

    /// MQTT 5 Session Expiry Interval in seconds, already capped by `limits.session_expiry_seconds`
    /// (nil: a 3.1.1 session, which expires after `limits.session_expiry_seconds`).
    public internal(set) var expiryInterval: UInt32?
    var lastPacketId: UInt16 = 0
    /// True when the session ends with the connection (CONNECT clean session = 1).
    public internal(set) var cleanSession: Bool
    /// From the first hold until the queue is down to a quarter (or the session stalls, goes
    /// offline or moves): the queue may then grow to twice `max_queued_messages`.
    var isCongested = false
    /// Set when the session stalled while holding publishers: it holds none until its queue is
    /// down to a quarter, and what overflows is dropped meanwhile.
    var holdsPublishersSuspended = false
    /// Between its takeover and its transfer to another shard (ShardEngine+Handover).
    var isHandingOver = false

    public init(clientId: String, cleanSession: Bool) {
        self.clientId = clientId
        self.cleanSession = cleanSession
    }

    /// The next free packet id (1...65535), skipping ids still in flight.
    func allocatePacketId() -> UInt16 {
        while true {
            lastPacketId = lastPacketId == UInt16.max ? 1 : lastPacketId + 1
            if !inflight.contains(where: { $0.packetId == lastPacketId }) { return lastPacketId }
        }
    }
}

/// The publishers a congested session holds back, and since when (ShardEngine+PublisherHolds).
/// Behind a reference: most sessions never hold anyone.
final class PublisherHolds {
    /// Each held once.
    var publishers: Set<PublisherRef> = []
    /// Loop clock (ms) when the holds began.
    let startedAt: UInt64
    /// Loop clock (ms) of the last acknowledgement while publishers were held.
    var lastProgressAt: UInt64

    init(now: UInt64) {
        startedAt = now
        lastProgressAt = now
    }
}

/// A publishing connection anywhere in the process.
struct PublisherRef: Hashable {
    let shard: Int
    let connection: ConnectionID
}

/// An outbound QoS 1/2 message between PUBLISH and its final acknowledgement.
public struct InflightMessage {
    public enum Stage: Sendable {
        /// QoS 1 sent, waiting for PUBACK.
        case awaitingPuback
        /// QoS 2 sent, waiting for PUBREC.
        case awaitingPubrec
        /// QoS 2 PUBREL sent, waiting for PUBCOMP (the message itself is no longer needed).
        case awaitingPubcomp
    }
    public let packetId: UInt16
    /// The shared subscription group it came through (`SharedGroup.id`), 0 for an ordinary
    /// subscription: another member gets it if this session ends before acknowledging it.
    /// A number, not the group's name, and placed here, so the entry stays 32 bytes: a QoS 1
    /// fan-in was 13% slower with the name (16 more bytes per entry, copied and retained).
    public let sharedGroup: SharedGroupID
    public let message: Message
    public let qos: QoS
    public let retain: Bool
    public var stage: Stage
    /// The MQTT 5 subscription identifier it is delivered with (0: none). Only the first of
    /// overlapping subscriptions' identifiers is kept once a message waits (it fits the
    /// entry's padding); a delivery straight away carries all of them.
    public var subscriptionIdentifier: UInt32 = 0
    /// Its queue entry in the store (0: not stored, the session is clean).
    public let storeSequence: UInt64
}

/// An outbound message waiting for the in-flight window or for its offline client.
public struct QueuedMessage {
    public let message: Message
    public let qos: QoS
    public let retain: Bool
    /// As `InflightMessage.sharedGroup` (in the padding before `storeSequence`: 24 bytes).
    public let sharedGroup: SharedGroupID
    /// As `InflightMessage.subscriptionIdentifier`.
    public var subscriptionIdentifier: UInt32 = 0
    /// Its queue entry in the store (0: not stored, the session is clean).
    public let storeSequence: UInt64
}
