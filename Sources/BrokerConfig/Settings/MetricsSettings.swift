/// Where the metrics HTTP endpoint listens.
package struct MetricsSettings: Sendable, Equatable {
    package var host: String
    package var port: Int

    package init(host: String = "127.0.0.1", port: Int) {
        self.host = host
        self.port = port
    }
}
