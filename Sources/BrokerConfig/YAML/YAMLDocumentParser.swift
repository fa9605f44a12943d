import CYAML

/// Reads one YAML document into a `ConfigNode` tree with libyaml's event API.
///
/// JSON is read with the same parser (YAML 1.2 is a superset of it), which is how the schema
/// file is loaded. Anchors, aliases and `<<` merge keys are resolved; duplicate keys and
/// non-scalar keys are errors because a configuration with them is almost always a mistake.
struct YAMLDocumentParser {
    private var parser = yaml_parser_t()
    private var anchors: [String: ConfigNode] = [:]
    /// Nesting of the node being parsed; bounded so a hostile file cannot exhaust the stack.
    private var depth = 0
    private static let maximumDepth = 256

    /// Parses `text`; an empty document gives `.null`.
    static func parse(_ text: String) throws(YAMLSyntaxError) -> ConfigNode {
        let bytes = Array(text.utf8)
        let result: Result<ConfigNode, YAMLSyntaxError> = bytes.withUnsafeBufferPointer { buffer in
            var reader = YAMLDocumentParser()
            return reader.parseDocument(buffer)
        }
        return try result.get()
    }

    private init() {}

    /// The parts of a libyaml event we use, copied out so the event can be freed at once.
    private struct Event {
        var type: yaml_event_type_t
        var location: SourceLocation
        var scalar = ""
        var isPlain = false
        var tag: String?
        var anchor: String?
    }

    private mutating func parseDocument(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<ConfigNode, YAMLSyntaxError> {
        guard yaml_parser_initialize(&parser) == 1 else {
            return .failure(YAMLSyntaxError(message: "could not initialise the YAML parser", location: .init(line: 1, column: 1)))
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
        do {
            var event = try nextEvent()
            guard event.type == YAML_STREAM_START_EVENT else { throw unexpected(event) }
            event = try nextEvent()
            if event.type == YAML_STREAM_END_EVENT { return .success(ConfigNode(.null, location: event.location)) }
            guard event.type == YAML_DOCUMENT_START_EVENT else { throw unexpected(event) }
            let root = try parseNode(try nextEvent())
            event = try nextEvent()
            guard event.type == YAML_DOCUMENT_END_EVENT else { throw unexpected(event) }
            event = try nextEvent()
            if event.type == YAML_DOCUMENT_START_EVENT {
                throw YAMLSyntaxError(message: "only one YAML document is allowed (found a second '---')", location: event.location)
            }
            return .success(root)
        } catch let error as YAMLSyntaxError {
            return .failure(error)
        } catch {
            return .failure(YAMLSyntaxError(message: "\(error)", location: .init(line: 1, column: 1)))
        }
    }

    private mutating func nextEvent() throws(YAMLSyntaxError) -> Event {
        var raw = yaml_event_t()
        guard yaml_parser_parse(&parser, &raw) == 1 else { throw parserError() }
        defer { yaml_event_delete(&raw) }
        let mark = raw.start_mark
        var event = Event(type: raw.type, location: SourceLocation(line: Int(mark.line) + 1, column: Int(mark.column) + 1))
        switch raw.type {
        case YAML_SCALAR_EVENT:
            let scalar = raw.data.scalar
            event.scalar = Self.string(scalar.value, length: scalar.length) ?? ""
            event.isPlain = scalar.style == YAML_PLAIN_SCALAR_STYLE && scalar.plain_implicit == 1
            event.tag = Self.string(scalar.tag)
            event.anchor = Self.string(scalar.anchor)
        case YAML_ALIAS_EVENT:
            event.anchor = Self.string(raw.data.alias.anchor)
        case YAML_SEQUENCE_START_EVENT:
            event.anchor = Self.string(raw.data.sequence_start.anchor)
        case YAML_MAPPING_START_EVENT:
            event.anchor = Self.string(raw.data.mapping_start.anchor)
        default:
            break
        }
        return event
    }

    private mutating func parseNode(_ event: Event) throws(YAMLSyntaxError) -> ConfigNode {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else {
            throw YAMLSyntaxError(message: "nesting deeper than \(Self.maximumDepth) levels", location: event.location)
        }
        let node: ConfigNode
        switch event.type {
        case YAML_SCALAR_EVENT:
            node = scalarNode(event)
        case YAML_ALIAS_EVENT:
            guard let name = event.anchor, let target = anchors[name] else {
                throw YAMLSyntaxError(message: "unknown alias '*\(event.anchor ?? "")'", location: event.location)
            }
            return target
        case YAML_SEQUENCE_START_EVENT:
            var elements: [ConfigNode] = []
            while true {
                let next = try nextEvent()
                if next.type == YAML_SEQUENCE_END_EVENT { break }
                elements.append(try parseNode(next))
            }
            node = ConfigNode(.array(elements), location: event.location)
        case YAML_MAPPING_START_EVENT:
            node = ConfigNode(.object(try parseMembers()), location: event.location)
        default:
            throw unexpected(event)
        }
        if let anchor = event.anchor { anchors[anchor] = node }
        return node
    }

    private mutating func parseMembers() throws(YAMLSyntaxError) -> [ConfigMember] {
        var members: [ConfigMember] = []
        var merged: [ConfigMember] = []
        while true {
            let keyEvent = try nextEvent()
            if keyEvent.type == YAML_MAPPING_END_EVENT { break }
            guard keyEvent.type == YAML_SCALAR_EVENT else {
                throw YAMLSyntaxError(message: "mapping keys must be plain text, not lists or mappings", location: keyEvent.location)
            }
            let value = try parseNode(try nextEvent())
            if keyEvent.isPlain && keyEvent.scalar == "<<" {
                merged += try mergeSources(value, at: keyEvent.location)
                continue
            }
            if members.contains(where: { $0.key == keyEvent.scalar }) {
                throw YAMLSyntaxError(message: "duplicate key '\(keyEvent.scalar)'", location: keyEvent.location)
            }
            members.append(ConfigMember(key: keyEvent.scalar, node: value, keyLocation: keyEvent.location))
        }
        // Merged keys never override keys written in the mapping itself, and the first
        // merged mapping wins over later ones (YAML merge key semantics).
        for member in merged where !members.contains(where: { $0.key == member.key }) {
            members.append(member)
        }
        return members
    }

    private func mergeSources(_ value: ConfigNode, at location: SourceLocation) throws(YAMLSyntaxError) -> [ConfigMember] {
        switch value.value {
        case .object(let members):
            return members
        case .array(let sources):
            var result: [ConfigMember] = []
            for source in sources {
                guard case .object(let members) = source.value else {
                    throw YAMLSyntaxError(message: "'<<' merges only mappings", location: location)
                }
                result += members.filter { member in !result.contains { $0.key == member.key } }
            }
            return result
        default:
            throw YAMLSyntaxError(message: "'<<' merges only mappings", location: location)
        }
    }

    private func scalarNode(_ event: Event) -> ConfigNode {
        switch event.tag {
        case "tag:yaml.org,2002:str":
            return ConfigNode(.string(event.scalar), location: event.location)
        case nil where !event.isPlain:
            // Quoted and block scalars are strings, whatever they look like.
            return ConfigNode(.string(event.scalar), location: event.location)
        default:
            let value = YAMLScalarResolver.resolvePlain(event.scalar)
            let untyped = event.isPlain && value.stringValue == nil ? event.scalar : nil
            return ConfigNode(value, location: event.location, untypedText: untyped)
        }
    }

    private func parserError() -> YAMLSyntaxError {
        let mark = parser.problem_mark
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) }
        let message = context.map { "\(problem) (\($0))" } ?? problem
        return YAMLSyntaxError(message: message, location: SourceLocation(line: Int(mark.line) + 1, column: Int(mark.column) + 1))
    }

    private func unexpected(_ event: Event) -> YAMLSyntaxError {
        YAMLSyntaxError(message: "unexpected YAML structure", location: event.location)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int? = nil) -> String? {
        guard let pointer else { return nil }
        if let length {
            return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
        }
        return String(cString: pointer)
    }
}
