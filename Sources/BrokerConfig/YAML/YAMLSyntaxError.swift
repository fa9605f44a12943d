/// A YAML document that libyaml could not parse, or that uses YAML we do not accept.
struct YAMLSyntaxError: Error, Sendable {
    var message: String
    var location: SourceLocation
}
