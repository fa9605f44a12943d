/// Where the metrics HTTP endpoint listens.
public struct MetricsSettings: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int) {
        self.host = host
        self.port = port
    }
}
