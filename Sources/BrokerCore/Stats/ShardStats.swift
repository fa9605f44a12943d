import MQTTWire
import Synchronization

/// Counters the engine keeps for itself on the hot path: plain integers, touched by the shard's
/// thread only. (Bytes are the runtime's: it counts what its sockets read and write.)
public struct ShardCounters: Sendable {
    public var messagesReceived = 0
    public var messagesSent = 0
    public var messagesDropped = 0
    public var connectionsAccepted = 0
    public var protocolErrors = 0
    /// PUBLISHes dropped and SUBSCRIBE filters refused by the ACL.
    public var publishesDenied = 0
    public var subscriptionsDenied = 0
    /// CONNECTs refused by the authenticator.
    public var authenticationFailures = 0
    /// Bridged publishes the bridge gave up on (not acknowledged to the client).
    public var bridgeFailures = 0
    /// Packets whose store writes the store refused for good (not acknowledged to the client).
    public var storeFailures = 0
    /// Publishes this shard put on the cluster bus, and those it routed from other nodes.
    public var clusterForwarded = 0
    public var clusterReceived = 0
    /// MQTT 5: messages not delivered because their Message Expiry Interval passed, and those
    /// larger than a client's Maximum Packet Size (both also counted in `messagesDropped`).
    public var messagesExpired = 0
    public var messagesTooLarge = 0
    /// Other drops by reason (also in `messagesDropped`): a session queue full, a QoS 0 backlog
    /// over 4 MiB, a queued message the client may no longer receive, a shared message no
    /// member could take.
    public var droppedQueueFull = 0
    public var droppedBacklog = 0
    public var droppedNotAuthorized = 0
    public var droppedNoMember = 0
    /// Messages routed and PUBLISH packets sent, by QoS (0, 1, 2).
    public var receivedByQoS: (Int, Int, Int) = (0, 0, 0)
    public var sentByQoS: (Int, Int, Int) = (0, 0, 0)
    /// Connected clients' connections that ended, by `DisconnectCategory`.
    public var disconnects = [Int](repeating: 0, count: DisconnectCategory.allCases.count)
}

/// Why a connected client's connection ended, as metrics count it.
public enum DisconnectCategory: String, Sendable, CaseIterable {
    /// The client sent DISCONNECT.
    case client
    /// The transport ended (peer closed, reset, I/O error).
    case connectionLost = "connection_lost"
    case protocolError = "protocol_error"
    case keepAlive = "keepalive"
    case takenOver = "taken_over"
    /// Credentials expired or refused, or a denied publish closed it.
    case notAuthorized = "not_authorized"
    case shutdown

    /// The category of a close the broker explained with `code` (MQTT 5's reason, kept for
    /// 3.1.1 clients too); nil: the client's DISCONNECT or a lost connection.
    init(code: ReasonCode?, clientDisconnected: Bool) {
        switch code {
        case nil: self = clientDisconnected ? .client : .connectionLost
        case .keepAliveTimeout?: self = .keepAlive
        case .sessionTakenOver?: self = .takenOver
        case .notAuthorized?: self = .notAuthorized
        case .serverShuttingDown?: self = .shutdown
        default: self = .protocolError
        }
    }
}

/// A shard's counters as the rest of the process sees them: the engine copies its counters here
/// once per tick and the runtime its byte counts (relaxed stores); `$SYS` and metrics read them
/// from any thread.
public final class ShardStats: Sendable {
    public let messagesReceived = Atomic<Int>(0)
    public let messagesSent = Atomic<Int>(0)
    public let bytesReceived = Atomic<Int>(0)
    public let bytesSent = Atomic<Int>(0)
    public let messagesDropped = Atomic<Int>(0)
    public let connectionsAccepted = Atomic<Int>(0)
    public let protocolErrors = Atomic<Int>(0)
    public let publishesDenied = Atomic<Int>(0)
    public let subscriptionsDenied = Atomic<Int>(0)
    public let authenticationFailures = Atomic<Int>(0)
    public let bridgeFailures = Atomic<Int>(0)
    public let storeFailures = Atomic<Int>(0)
    public let clusterForwarded = Atomic<Int>(0)
    public let clusterReceived = Atomic<Int>(0)
    public let clientsConnected = Atomic<Int>(0)
    /// Of `clientsConnected`, those speaking MQTT 5.
    public let clientsConnectedV5 = Atomic<Int>(0)
    public let messagesExpired = Atomic<Int>(0)
    public let messagesTooLarge = Atomic<Int>(0)
    public let droppedQueueFull = Atomic<Int>(0)
    public let droppedBacklog = Atomic<Int>(0)
    public let droppedNotAuthorized = Atomic<Int>(0)
    public let droppedNoMember = Atomic<Int>(0)
    /// By QoS: index 0, 1, 2.
    public let receivedByQoS = [StatCounter(), StatCounter(), StatCounter()]
    public let sentByQoS = [StatCounter(), StatCounter(), StatCounter()]
    /// By `DisconnectCategory.allCases` order.
    public let disconnects = DisconnectCategory.allCases.map { _ in StatCounter() }
    public let sessions = Atomic<Int>(0)
    /// Of `sessions`, those with no connection (persistent sessions waiting for their client).
    public let offlineSessions = Atomic<Int>(0)
    /// Messages waiting in sessions' queues (offline sessions' and those behind a full window),
    /// and QoS 1/2 messages sent and not yet acknowledged; recounted once a second.
    public let queuedMessages = Atomic<Int>(0)
    public let inflightMessages = Atomic<Int>(0)
    /// Bytes encoded for clients and not yet handed to their sockets, at the last tick.
    public let outboundBytes = Atomic<Int>(0)
    public let subscriptions = Atomic<Int>(0)
    public let retainedMessages = Atomic<Int>(0)
    /// Memberships of shared subscription groups held by this shard; `sharedGroups`: the groups
    /// with a member anywhere, as this shard knows them (every shard knows every group).
    public let sharedMembers = Atomic<Int>(0)
    public let sharedGroups = Atomic<Int>(0)
    /// Whether the shard may hold persistent sessions with subscriptions: set at once when one
    /// appears, cleared only by the shard's periodic recount. A publish with a store ticket
    /// carries it only to shards where this is set (see `ShardEngine.route`).
    public let holdsPersistentSubscriptions = Atomic<Bool>(false)

    /// The runtime's loop figures: how late the last tick fired and the most in the last five
    /// seconds (µs), posts waiting in the rings towards this shard, and this shard's posts
    /// waiting in its overflow lists for a full ring.
    public let loopLagMicroseconds = Atomic<Int>(0)
    public let loopLagMaxMicroseconds = Atomic<Int>(0)
    public let ringEntries = Atomic<Int>(0)
    public let overflowEntries = Atomic<Int>(0)
    /// Open connections (connected or not yet) of this shard by listener, in
    /// `BrokerContext.listeners` order.
    public let openConnectionsByListener: [StatCounter]

    public init(listeners: Int = 0) {
        openConnectionsByListener = (0..<listeners).map { _ in StatCounter() }
    }

    /// The runtime's loop figures, once per tick.
    public func publishLoop(lagMicroseconds: Int, maxLagMicroseconds: Int, ringEntries ring: Int, overflowEntries overflow: Int) {
        loopLagMicroseconds.store(lagMicroseconds, ordering: .relaxed)
        loopLagMaxMicroseconds.store(maxLagMicroseconds, ordering: .relaxed)
        ringEntries.store(ring, ordering: .relaxed)
        overflowEntries.store(overflow, ordering: .relaxed)
    }

    /// The runtime's share: bytes its sockets read and wrote, and its open connections by listener.
    public func publishConnections(bytesReceived received: Int, bytesSent sent: Int, openByListener: [Int]) {
        bytesReceived.store(received, ordering: .relaxed)
        bytesSent.store(sent, ordering: .relaxed)
        for (counter, open) in zip(openConnectionsByListener, openByListener) { counter.value.store(open, ordering: .relaxed) }
    }

    /// The engine's queue figures, once a second (they take a pass over the sessions).
    func publishQueues(offlineSessions offline: Int, queued: Int, inflight: Int) {
        offlineSessions.store(offline, ordering: .relaxed)
        queuedMessages.store(queued, ordering: .relaxed)
        inflightMessages.store(inflight, ordering: .relaxed)
    }

    func publish(
        _ counters: ShardCounters, clients: Int, clientsV5: Int, outboundBytes outbound: Int, sessions sessionCount: Int, subscriptions subscriptionCount: Int, retained: Int,
        sharedMembers sharedMemberCount: Int, sharedGroups sharedGroupCount: Int
    ) {
        messagesReceived.store(counters.messagesReceived, ordering: .relaxed)
        messagesSent.store(counters.messagesSent, ordering: .relaxed)
        messagesDropped.store(counters.messagesDropped, ordering: .relaxed)
        connectionsAccepted.store(counters.connectionsAccepted, ordering: .relaxed)
        protocolErrors.store(counters.protocolErrors, ordering: .relaxed)
        publishesDenied.store(counters.publishesDenied, ordering: .relaxed)
        subscriptionsDenied.store(counters.subscriptionsDenied, ordering: .relaxed)
        authenticationFailures.store(counters.authenticationFailures, ordering: .relaxed)
        bridgeFailures.store(counters.bridgeFailures, ordering: .relaxed)
        storeFailures.store(counters.storeFailures, ordering: .relaxed)
        clusterForwarded.store(counters.clusterForwarded, ordering: .relaxed)
        clusterReceived.store(counters.clusterReceived, ordering: .relaxed)
        clientsConnected.store(clients, ordering: .relaxed)
        clientsConnectedV5.store(clientsV5, ordering: .relaxed)
        outboundBytes.store(outbound, ordering: .relaxed)
        messagesExpired.store(counters.messagesExpired, ordering: .relaxed)
        messagesTooLarge.store(counters.messagesTooLarge, ordering: .relaxed)
        droppedQueueFull.store(counters.droppedQueueFull, ordering: .relaxed)
        droppedBacklog.store(counters.droppedBacklog, ordering: .relaxed)
        droppedNotAuthorized.store(counters.droppedNotAuthorized, ordering: .relaxed)
        droppedNoMember.store(counters.droppedNoMember, ordering: .relaxed)
        receivedByQoS[0].value.store(counters.receivedByQoS.0, ordering: .relaxed)
        receivedByQoS[1].value.store(counters.receivedByQoS.1, ordering: .relaxed)
        receivedByQoS[2].value.store(counters.receivedByQoS.2, ordering: .relaxed)
        sentByQoS[0].value.store(counters.sentByQoS.0, ordering: .relaxed)
        sentByQoS[1].value.store(counters.sentByQoS.1, ordering: .relaxed)
        sentByQoS[2].value.store(counters.sentByQoS.2, ordering: .relaxed)
        for (index, count) in counters.disconnects.enumerated() { disconnects[index].value.store(count, ordering: .relaxed) }
        sessions.store(sessionCount, ordering: .relaxed)
        subscriptions.store(subscriptionCount, ordering: .relaxed)
        retainedMessages.store(retained, ordering: .relaxed)
        sharedMembers.store(sharedMemberCount, ordering: .relaxed)
        sharedGroups.store(sharedGroupCount, ordering: .relaxed)
    }
}

/// One counter that any thread reads and one thread (or several, with `wrappingAdd`) writes:
/// `Atomic` cannot live in an array itself, this can (per-QoS and per-reason figures, histogram
/// buckets, authentication verdicts).
public final class StatCounter: Sendable {
    public let value = Atomic<Int>(0)
    public init() {}
}
