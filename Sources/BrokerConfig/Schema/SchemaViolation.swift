/// A problem found while validating, with what `oneOf`/`anyOf` need to pick the branch the
/// user most likely meant.
struct SchemaViolation: Sendable {
    var path: ConfigPath
    var message: String
    var location: SourceLocation?
    /// The value had the wrong type for the schema: the branch was probably not the one meant.
    var isTypeMismatch = false

    var problem: ConfigProblem {
        ConfigProblem(path: path.description, message: message, location: location)
    }

    /// The message prefixed with the part of the path below `base`, for summaries of
    /// alternatives (`jwks_url: required key is missing`).
    func relativeDescription(below base: ConfigPath) -> String {
        let relative = ConfigPath(components: Array(path.components.dropFirst(base.components.count)))
        let prefix = relative.description
        return prefix.isEmpty ? message : "\(prefix): \(message)"
    }
}
