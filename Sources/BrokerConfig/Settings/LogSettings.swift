/// How much the broker logs and in which format.
public struct LogSettings: Sendable, Equatable {
    /// Lowest severity written (swift-log's levels).
    public enum Level: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// Line format of log output.
    public enum Format: String, Sendable {
        /// Human-readable lines.
        case text
        /// One JSON object per line, for log collectors.
        case json
    }

    public var level: Level
    public var format: Format

    public init(level: Level = .info, format: Format = .text) {
        self.level = level
        self.format = format
    }
}
