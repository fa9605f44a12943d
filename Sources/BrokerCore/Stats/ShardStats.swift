import Synchronization

/// Counters a shard keeps for itself on the hot path: plain integers, touched by the shard's
/// thread only.
public struct ShardCounters: Sendable {
    public var messagesReceived = 0
    public var messagesSent = 0
    public var bytesReceived = 0
    public var bytesSent = 0
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
}

/// A shard's counters as the rest of the process sees them: the shard copies its counters here
/// once per tick (relaxed stores), and `$SYS`/metrics read them from any thread.
public final class ShardStats: Sendable {
    public let messagesReceived = Atomic<Int>(0)
    public let messagesSent = Atomic<Int>(0)
    public let bytesReceived = Atomic<Int>(0)
    public let bytesSent = Atomic<Int>(0)
    public let messagesDropped = Atomic<Int>(0)
    public let connectionsAccepted = Atomic<Int>(0)
    public let protocolErrors = Atomic<Int>(0)
    public let clientsConnected = Atomic<Int>(0)
    public let sessions = Atomic<Int>(0)
    public let subscriptions = Atomic<Int>(0)
    public let retainedMessages = Atomic<Int>(0)

    public init() {}

    func publish(_ counters: ShardCounters, clients: Int, sessions sessionCount: Int, subscriptions subscriptionCount: Int, retained: Int) {
        messagesReceived.store(counters.messagesReceived, ordering: .relaxed)
        messagesSent.store(counters.messagesSent, ordering: .relaxed)
        bytesReceived.store(counters.bytesReceived, ordering: .relaxed)
        bytesSent.store(counters.bytesSent, ordering: .relaxed)
        messagesDropped.store(counters.messagesDropped, ordering: .relaxed)
        connectionsAccepted.store(counters.connectionsAccepted, ordering: .relaxed)
        protocolErrors.store(counters.protocolErrors, ordering: .relaxed)
        clientsConnected.store(clients, ordering: .relaxed)
        sessions.store(sessionCount, ordering: .relaxed)
        subscriptions.store(subscriptionCount, ordering: .relaxed)
        retainedMessages.store(retained, ordering: .relaxed)
    }
}
