extension JSONSchemaValidator {
    /// `allOf`, `anyOf`, `oneOf`, `not` and `if`/`then`/`else`.
    func applyCombinators(
        _ schema: ConfigNode, to instance: ConfigNode, at path: ConfigPath,
        _ violations: inout [SchemaViolation], depth: Int
    ) -> ConfigNode {
        var current = instance
        if let branches = schema["allOf"]?.value.elements {
            for branch in branches {
                current = apply(branch, to: current, at: path, &violations, depth: depth + 1)
            }
        }
        if let branches = schema["anyOf"]?.value.elements {
            let outcomes = branches.map { evaluate($0, current, path, depth) }
            if let match = outcomes.first(where: { $0.violations.isEmpty }) {
                current = match.value
            } else {
                reportNoAlternativeMatched(outcomes, instance: current, at: path, &violations)
            }
        }
        if let branches = schema["oneOf"]?.value.elements {
            let outcomes = branches.map { evaluate($0, current, path, depth) }
            let matching = outcomes.indices.filter { outcomes[$0].violations.isEmpty }
            if matching.count == 1 {
                current = outcomes[matching[0]].value
            } else if matching.isEmpty {
                reportNoAlternativeMatched(outcomes, instance: current, at: path, &violations)
            } else {
                let numbers = matching.map { String($0 + 1) }.joined(separator: ", ")
                violations.append(SchemaViolation(
                    path: path, message: "matches more than one alternative (\(numbers)) where exactly one is allowed",
                    location: current.location))
            }
        }
        var strict = self
        strict.convertsUntypedScalars = false
        if let negated = schema["not"], strict.evaluate(negated, current, path, depth).violations.isEmpty {
            violations.append(SchemaViolation(path: path, message: "must not match the schema under 'not'", location: current.location))
        }
        if let condition = schema["if"] {
            if evaluate(condition, current, path, depth).violations.isEmpty {
                if let then = schema["then"] { current = apply(then, to: current, at: path, &violations, depth: depth + 1) }
            } else if let otherwise = schema["else"] {
                current = apply(otherwise, to: current, at: path, &violations, depth: depth + 1)
            }
        }
        return current
    }

    private func evaluate(_ schema: ConfigNode, _ instance: ConfigNode, _ path: ConfigPath, _ depth: Int)
        -> (value: ConfigNode, violations: [SchemaViolation])
    {
        var violations: [SchemaViolation] = []
        let value = apply(schema, to: instance, at: path, &violations, depth: depth + 1)
        return (value, violations)
    }

    /// Reports a failed `anyOf`/`oneOf` as precisely as possible: when exactly one branch
    /// accepts the value's type (`shards: 2000` is an integer, so not `"auto"`), its own
    /// problems are reported; otherwise every branch's problems are summarised.
    private func reportNoAlternativeMatched(
        _ outcomes: [(value: ConfigNode, violations: [SchemaViolation])], instance: ConfigNode,
        at path: ConfigPath, _ violations: inout [SchemaViolation]
    ) {
        let candidates = outcomes.filter { outcome in
            !outcome.violations.contains { $0.isTypeMismatch && $0.path == path }
        }
        // A branch that had to convert the value (the integer 2000 read as the string "2000")
        // is a weaker guess than one that took it as written.
        let unconverted = candidates.filter { $0.value.value.schemaTypeName == instance.value.schemaTypeName }
        if unconverted.count == 1 {
            violations += unconverted[0].violations
        } else if candidates.count == 1 {
            violations += candidates[0].violations
        } else {
            let summaries = outcomes.map { outcome in
                outcome.violations.map { $0.relativeDescription(below: path) }.joined(separator: "; ")
            }
            violations.append(SchemaViolation(
                path: path, message: "does not match any of the alternatives: " + summaries.joined(separator: " | "),
                location: instance.location, isTypeMismatch: candidates.isEmpty))
        }
    }
}
