/// The `cluster` section: several broker nodes linked through the persistence MongoDB
/// (issue 14). Decoded and checked at start-up; the nodes' link itself is not built yet, so a
/// broker configured with it refuses to start (`UnsupportedFeatures`).
public struct ClusterSettings: Sendable, Equatable {
    /// This node's name among the nodes (default: host name and first listener port).
    public var nodeId: String
    /// How often the node writes its heartbeat.
    public var heartbeatIntervalMilliseconds: Int
    /// Heartbeats a node may miss before the others take it for dead.
    public var deadAfterMissed: Int
    /// The size of the collection that carries messages between nodes.
    public var busSizeMegabytes: Int

    public init(nodeId: String, heartbeatIntervalMilliseconds: Int = 1000, deadAfterMissed: Int = 3, busSizeMegabytes: Int = 256) {
        self.nodeId = nodeId
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        self.deadAfterMissed = deadAfterMissed
        self.busSizeMegabytes = busSizeMegabytes
    }
}
