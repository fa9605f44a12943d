/// The link to the other broker nodes of a cluster (BrokerMongo's `MongoCluster`), seen from the
/// shards. Nil in `BrokerContext.cluster` when the broker runs alone, which costs one check
/// where a publish has remote interest and where a shard's interest in a filter changes.
///
/// Other nodes appear in each shard's `SubscriptionIndex` as extra members of its `ShardSet`,
/// numbered from `BrokerContext.shardCount` up (`nodeSlots`): the link posts `.interest` for them
/// to every shard as it learns the other nodes' routes, so matching a publish finds the nodes
/// that want it in the same walk of the trie, with no lock.
public protocol ClusterLink: Sendable {
    /// A shard of this node now holds its first subscription on `filter`, or no longer holds
    /// any; for shared subscriptions, `filter` is the group's key (`$share/{group}/{filter}`).
    /// Called on shard threads; returns at once.
    func localInterest(filter: String, interested: Bool)
    /// Sends `message` to the nodes `nodes` (their slots), or to every live node when nil (a
    /// retained message: every node keeps a replica); for the shared subscription group `group`
    /// only, when given. Called on the publishing shard's thread; returns at once.
    /// `completion(true)` once the message is on the bus (`false`: it never will be), from any
    /// thread; nil when nobody waits.
    func forward(_ message: Message, to nodes: ShardSet?, group: String?, completion: (@Sendable (Bool) -> Void)?)
    /// A CONNECT of `clientId` found no session on this node: claims the id across the cluster.
    /// The node that held it closes its connection there and lets go of the session;
    /// `completion` (any thread) gets that session when `keepSession` and one was stored.
    func claim(clientId: String, keepSession: Bool, completion: @escaping @Sendable (ClusterClaim) -> Void)
    /// The link's current figures.
    var statistics: ClusterStatistics { get }
}

/// What a cluster link reports for `$SYS` (and metrics), read from any thread.
public struct ClusterStatistics: Sendable, Equatable {
    /// Nodes whose heartbeat is current, this one included.
    public var nodesAlive = 0
    /// Routes (node, filter) of other nodes this node knows.
    public var remoteRoutes = 0
    /// Bus messages from other nodes that never arrived (sequence gaps), and repeats dropped.
    public var busGaps = 0
    public var busDuplicates = 0
    /// Bus messages waiting to be written, and the age in milliseconds of the last one read
    /// when it arrived (how far this node trails the bus).
    public var busPending = 0
    /// Messages nobody waited for (QoS 0, `relaxed` durability) dropped while the bus was too
    /// far behind.
    public var busDropped = 0
    public var busLagMilliseconds = 0
    /// Whether the bus and routes can currently be written and read.
    public var available = true

    public init() {}
}

/// The cluster's answer to a claim of a client id.
public enum ClusterClaim: Sendable {
    /// The id is this node's; the session another node let go of (nil: none kept).
    case session(StoredSession?)
    /// The cluster cannot say now (MongoDB unreachable): the CONNECT is refused.
    case unavailable
}
