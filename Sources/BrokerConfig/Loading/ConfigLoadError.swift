/// Why a configuration could not be loaded: every problem found, not just the first.
package struct ConfigLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file that was loaded, or nil for the embedded defaults and text loaded directly.
    package var file: String?
    package var problems: [ConfigProblem]

    package init(file: String?, problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    /// A header line, then one problem per line with its line and column when known.
    package var description: String {
        let noun = problems.count == 1 ? "configuration problem" : "configuration problems"
        var lines = [(file.map { "\($0): " } ?? "") + "\(problems.count) \(noun):"]
        for problem in problems {
            // Syntax errors already say where they are in the message.
            if let location = problem.location, !problem.message.contains(location.description) {
                lines.append("  \(problem) (\(location))")
            } else {
                lines.append("  \(problem)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
