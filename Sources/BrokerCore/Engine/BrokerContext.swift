import Synchronization

/// What all shards of one broker process share: settings, the client-id registry, each
/// shard's published statistics and the global connection count. Everything here is either
/// immutable, atomic or behind a lock, and none of it is touched per packet.
public final class BrokerContext: Sendable {
    public static let version = "0.1.0"

    public let settings: CoreSettings
    public let shardCount: Int
    public let registry = ClientRegistry()
    /// Shared subscription groups' numbers, the same on every shard.
    public let sharedGroupIDs = SharedGroupIDs()
    public let stats: [ShardStats]
    /// The configured listeners, in order, as metrics name them (a shard's open connections are
    /// counted per listener by that index).
    public let listeners: [ListenerLabel]
    /// Open client connections in the whole process (for `max_connections`).
    public let openConnections = Atomic<Int>(0)
    /// Wall-clock start time (seconds since the epoch), for `$SYS/broker/uptime`.
    public let startedAt: Int
    /// Decides every CONNECT when set; nil accepts clients as `allowAnonymous` says, with no ACL.
    public let authenticator: (any Authenticator)?
    /// Sees every inbound PUBLISH, connect and disconnect when set (the Kafka bridge); nil costs
    /// one check per PUBLISH.
    public let bridge: (any PublishBridge)?
    /// Keeps persistent sessions and retained messages when set (MongoDB); nil keeps them in
    /// memory only, and costs one check where a persistent session changes.
    public let store: (any SessionStore)?
    /// Links this node to the other nodes of a cluster when set; nil runs alone.
    public let cluster: (any ClusterLink)?
    /// False from a start with MongoDB unreachable until every shard has what the store kept:
    /// meanwhile CONNECTs with clean session 0 are refused (CONNACK 3, server unavailable).
    public let storeLoaded = Atomic<Bool>(true)
    /// Client ids that connected with clean session 1 before the store was loaded: whatever
    /// stored session they had ended then (see `ShardEngine.adoptLate`).
    let cleanConnectsBeforeLoad = Mutex<Set<String>>([])

    public init(
        settings: CoreSettings, shardCount: Int, startedAt: Int, authenticator: (any Authenticator)? = nil,
        bridge: (any PublishBridge)? = nil, store: (any SessionStore)? = nil, cluster: (any ClusterLink)? = nil,
        listeners: [ListenerLabel] = []
    ) {
        self.cluster = cluster
        self.authenticator = authenticator
        self.bridge = bridge
        self.store = store
        precondition(shardCount >= 1 && shardCount <= ShardSet.capacity, "shard count out of range")
        self.settings = settings
        self.shardCount = shardCount
        self.listeners = listeners
        self.stats = (0..<shardCount).map { _ in ShardStats(listeners: listeners.count) }
        self.startedAt = startedAt
    }

    /// Reserves a connection slot; false when `max_connections` is reached.
    public func admitConnection() -> Bool {
        let limit = settings.limits.maxConnections
        let now = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        if limit > 0 && now > limit {
            openConnections.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// The `ShardSet` members that stand for other cluster nodes (see `ClusterLink`).
    public var nodeSlots: Range<Int> { shardCount..<ShardSet.capacity }

    public func connectionClosed() {
        openConnections.wrappingSubtract(1, ordering: .relaxed)
    }
}
