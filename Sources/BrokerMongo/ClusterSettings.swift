/// The `cluster` section: several broker nodes linked through the persistence MongoDB
/// (`MongoCluster`).
public struct ClusterSettings: Sendable, Equatable {
    /// This node's name among the nodes (default: host name and first listener port).
    public var nodeId: String
    /// How often the node writes its heartbeat.
    public var heartbeatIntervalMilliseconds: Int
    /// Heartbeats a node may miss before the others take it for dead.
    public var deadAfterMissed: Int
    /// How long a message between nodes stays in the bus collection.
    public var busRetentionSeconds: Int

    public init(nodeId: String, heartbeatIntervalMilliseconds: Int = 1000, deadAfterMissed: Int = 3, busRetentionSeconds: Int = 300) {
        self.nodeId = nodeId
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        self.deadAfterMissed = deadAfterMissed
        self.busRetentionSeconds = busRetentionSeconds
    }
}
