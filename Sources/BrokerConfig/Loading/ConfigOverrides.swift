/// Command-line settings that win over the file and the environment.
public struct ConfigOverrides: Sendable, Equatable {
    /// `--port N`: the port of the first plain `mqtt` listener, which is added on 0.0.0.0
    /// when the configuration has none.
    public var port: Int?
    /// `--shards N`: the number of event-loop shards.
    public var shards: Int?

    public init(port: Int? = nil, shards: Int? = nil) {
        self.port = port
        self.shards = shards
    }
}
