/// How much the broker logs and in which format.
package struct LogSettings: Sendable, Equatable {
    /// Lowest severity written (swift-log's levels).
    package enum Level: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// Line format of log output.
    package enum Format: String, Sendable {
        /// Human-readable lines.
        case text
        /// One JSON object per line, for log collectors.
        case json
    }

    package var level: Level
    package var format: Format

    package init(level: Level = .info, format: Format = .text) {
        self.level = level
        self.format = format
    }
}
