import MQTTWire

/// An MQTT topic template of a `kafka.subscribe` rule: literal text with `{key}` (the record
/// key) and `{header.NAME}` (a record header) placeholders, parsed once.
package struct TopicTemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case literal(String)
        case key
        case header(String)
    }

    let parts: [Part]

    /// An unknown `{...}` placeholder or an unclosed brace is kept as literal text.
    package init(_ template: String) {
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            literal += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                rest = rest[open...]
                break
            }
            let name = rest[rest.index(after: open)..<close]
            if name == "key" {
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = ""
                parts.append(.key)
            } else if name.hasPrefix("header."), name.count > "header.".count {
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = ""
                parts.append(.header(String(name.dropFirst("header.".count))))
            } else {
                literal += rest[open...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// The MQTT topic for a record, or nil when a placeholder has no value (no key, missing
    /// header) or the result is not a valid topic name (empty, wildcards, NUL).
    package func expand(key: String?, headers: [String: String]) -> String? {
        var topic = ""
        for part in parts {
            switch part {
            case .literal(let text): topic += text
            case .key:
                guard let key else { return nil }
                topic += key
            case .header(let name):
                guard let value = headers[name] else { return nil }
                topic += value
            }
        }
        do {
            try TopicName.validate(Array(topic.utf8))
        } catch {
            return nil
        }
        return topic
    }
}
