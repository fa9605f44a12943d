/// One thing wrong with a configuration, located by its path in the tree.
///
/// Printed as `listeners[1].port: 70000 is greater than the maximum 65535`.
package struct ConfigProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// Dotted path with list indices (`listeners[1].port`), an environment variable name, or
    /// the file name for problems with the file as a whole; empty for the document root.
    package var path: String
    package var message: String
    /// Where in the file the offending value was written, when known.
    package var location: SourceLocation?

    package init(path: String, message: String, location: SourceLocation? = nil) {
        self.path = path
        self.message = message
        self.location = location
    }

    package var description: String {
        path.isEmpty ? message : "\(path): \(message)"
    }

    /// Problems compare by path and message; locations are for people, not for tests.
    package static func == (lhs: ConfigProblem, rhs: ConfigProblem) -> Bool {
        lhs.path == rhs.path && lhs.message == rhs.message
    }
}
