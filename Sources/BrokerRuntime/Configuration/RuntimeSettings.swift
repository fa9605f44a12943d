/// Settings of the runtime: listeners and shards.
public struct RuntimeSettings: Sendable, Equatable {
    public var listeners: [ListenerSpec]
    /// nil = one per core.
    public var shards: Int?
    public var pinCores = false
    public init(listeners: [ListenerSpec] = [ListenerSpec(transport: .mqtt, port: 1883)], shards: Int? = nil, pinCores: Bool = false) {
        self.listeners = listeners
        self.shards = shards
        self.pinCores = pinCores
    }
}
