/// Command-line settings that win over the file and the environment.
package struct ConfigOverrides: Sendable, Equatable {
    /// `--port N`: the port of the first plain `mqtt` listener, which is added on 0.0.0.0
    /// when the configuration has none.
    package var port: Int?
    /// `--shards N`: the number of event-loop shards.
    package var shards: Int?

    package init(port: Int? = nil, shards: Int? = nil) {
        self.port = port
        self.shards = shards
    }
}
