/// How the runtime lays out its event loops and sockets.
public struct RuntimeSettings: Sendable, Equatable {
    /// Sockets to listen on; every shard accepts on each of them.
    public var listeners: [ListenerSpec]
    /// Number of event-loop shards; nil means one per CPU core.
    public var shards: Int?
    /// Whether each shard's thread is pinned to one core.
    public var pinCores = false

    public init(listeners: [ListenerSpec] = [ListenerSpec(transport: .mqtt, port: 1883)], shards: Int? = nil, pinCores: Bool = false) {
        self.listeners = listeners
        self.shards = shards
        self.pinCores = pinCores
    }
}
