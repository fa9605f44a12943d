/// A JSON-like configuration value, as read from YAML or JSON.
///
/// Children are `ConfigNode`s so every nested value keeps its source location.
package enum ConfigValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ConfigNode])
    /// A mapping; members keep the order they were written in, which messages and
    /// round-trips rely on.
    case object([ConfigMember])

    /// The JSON Schema type name of this value ("integer" for ints; "number" for doubles).
    package var schemaTypeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The members of an object, or nil for every other kind.
    package var members: [ConfigMember]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The elements of an array, or nil for every other kind.
    package var elements: [ConfigNode]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The text of a string, or nil for every other kind.
    package var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The member named `key` of an object.
    package subscript(key: String) -> ConfigNode? {
        members?.first { $0.key == key }?.node
    }

    /// Numeric value of an int or double, for comparisons across both.
    var numericValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// Equality as JSON Schema defines it (`enum`, `const`, `uniqueItems`): 1 and 1.0 are
    /// equal, and object member order does not matter.
    func isSchemaEqual(to other: ConfigValue) -> Bool {
        switch (self, other) {
        case (.int, .double), (.double, .int):
            return numericValue == other.numericValue
        case (.array(let lhs), .array(let rhs)):
            return lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { $0.value.isSchemaEqual(to: $1.value) }
        case (.object(let lhs), .object(let rhs)):
            guard lhs.count == rhs.count else { return false }
            return lhs.allSatisfy { member in
                rhs.first { $0.key == member.key }.map { $0.node.value.isSchemaEqual(to: member.node.value) } ?? false
            }
        default:
            return self == other
        }
    }
}
