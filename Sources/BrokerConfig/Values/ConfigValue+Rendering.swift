extension ConfigValue {
    /// A short rendering of the value for messages (`"udp"`, `70000`, `a list`).
    var rendered: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .int(let value): return String(value)
        case .double(let value):
            if value.rounded() == value, abs(value) < 1e15 { return String(Int(value)) }
            return String(value)
        case .string(let text):
            let shown = text.count > 60 ? String(text.prefix(57)) + "..." : text
            return "\"\(shown)\""
        case .array: return "a list"
        case .object: return "a mapping"
        }
    }

    /// The value introduced with its kind, for type mismatch messages (`a string ("abc")`).
    var kindAndValue: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean (\(rendered))"
        case .int: return "an integer (\(rendered))"
        case .double: return "a number (\(rendered))"
        case .string: return "a string (\(rendered))"
        case .array: return "a list"
        case .object: return "a mapping"
        }
    }

    /// A JSON Schema type name as a noun phrase ("integer" → "an integer").
    static func describeSchemaType(_ name: String) -> String {
        switch name {
        case "integer": "an integer"
        case "number": "a number"
        case "string": "a string"
        case "boolean": "a boolean"
        case "array": "a list"
        case "object": "a mapping"
        case "null": "null"
        default: name
        }
    }
}
