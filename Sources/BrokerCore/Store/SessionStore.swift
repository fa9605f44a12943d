/// Durable state behind the shards (MongoDB in production, a fake in the engine tests): the
/// sessions of clients with clean session 0, their queued and in-flight QoS 1/2 messages, their
/// inbound QoS 2 packet ids, and retained messages.
///
/// Shards never wait on it. Each shard collects the writes of one loop turn and hands them over
/// at the end of the turn (`submit`); the store applies them on its own threads, in order per
/// client id (and per retained topic), and releases each write's `AckTicket` once the write is
/// durable, which lets the acknowledgement it holds go out.
public protocol SessionStore: Sendable {
    /// Whether PUBACK/PUBREC/PUBCOMP/SUBACK/UNSUBACK wait for the writes their packet caused:
    /// always with `acknowledged` durability; with `relaxed`, only while the store is further
    /// behind than its flush interval (so a crash loses at most that much). Read per packet.
    var waitsForWrites: Bool { get }
    /// Whether the last write attempt reached the database (for `$SYS` and readiness).
    var isAvailable: Bool { get }
    /// Takes the writes shard `shard` made during one loop turn, in the order it made them.
    /// Returns at once; called on the shard's thread.
    func submit(_ writes: [StoreWrite], from shard: Int)
    /// What metrics show of the store's work; read at scrape time from another thread.
    var statistics: StoreStatistics { get }
}

extension SessionStore {
    public var statistics: StoreStatistics { StoreStatistics() }
}

/// The store's figures: writes applied, writes handed over and not yet applied (the backlog
/// MongoDB has not taken), and how long applying one batch took (retries included).
public struct StoreStatistics: Sendable, Equatable {
    public var applied: Int
    public var pending: Int
    public var batchLatency: LatencyHistogram

    public init(applied: Int = 0, pending: Int = 0, batchLatency: LatencyHistogram = LatencyHistogram()) {
        self.applied = applied
        self.pending = pending
        self.batchLatency = batchLatency
    }
}

/// One change to durable state, and the acknowledgement waiting for it (nil: nothing waits).
public struct StoreWrite: Sendable {
    public let operation: StoreOperation
    public let ticket: AckTicket?

    public init(_ operation: StoreOperation, ticket: AckTicket?) {
        self.operation = operation
        self.ticket = ticket
    }
}

/// The changes a shard makes to durable state. Each is idempotent (an upsert, a set, a delete),
/// so a batch that failed half-way can be applied again from its start.
public enum StoreOperation: Sendable {
    /// Creates or updates a persistent session: its subscriptions and whether it is connected.
    /// `expiryInterval`: an MQTT 5 session's Session Expiry Interval (nil: the broker's default).
    case saveSession(clientId: String, subscriptions: [StoredSubscription], connected: Bool, lastSeen: Int, expiryInterval: UInt32? = nil)
    /// Removes a session with everything it queued (clean session 1 replacing it, or expiry).
    case deleteSession(clientId: String)
    /// An inbound QoS 2 packet id was received (PUBREC) or released (PUBREL).
    case addInboundQoS2(clientId: String, packetId: UInt16)
    case removeInboundQoS2(clientId: String, packetId: UInt16)
    /// A QoS 1/2 message entered a persistent session's queue (or went straight in flight).
    case enqueue(clientId: String, entry: StoredQueueEntry)
    /// A queued message was sent with `packetId`, or its PUBREC came (`released`).
    case updateStage(clientId: String, sequence: UInt64, packetId: UInt16, stage: StoredQueueEntry.Stage)
    /// A queued message was completed (PUBACK, PUBCOMP) or dropped.
    case dequeue(clientId: String, sequence: UInt64)
    /// A retained message; an empty payload removes the topic's retained message.
    case retain(Message)
    /// The will of a connected client (`willId` tells this connection's will from a later one).
    case saveWill(StoredWill)
    /// The will is no longer owed (published, or its connection ended cleanly): removed only if
    /// it is still the one with `willId`.
    case deleteWill(clientId: String, willId: UInt64)

    /// What orders this write: writes with the same key are applied in submission order.
    public var orderingKey: String {
        switch self {
        case .saveSession(let clientId, _, _, _, _), .deleteSession(let clientId), .addInboundQoS2(let clientId, _),
             .removeInboundQoS2(let clientId, _), .enqueue(let clientId, _), .updateStage(let clientId, _, _, _),
             .dequeue(let clientId, _), .deleteWill(let clientId, _):
            clientId
        case .saveWill(let will):
            will.clientId
        case .retain(let message):
            message.topic
        }
    }
}
