/// A configuration value together with where it came from.
package struct ConfigNode: Sendable, Equatable {
    package var value: ConfigValue
    /// Where the value starts in its file; nil for values made by defaults or the loader.
    package var location: SourceLocation?
    /// The text of a scalar whose type was guessed rather than written: a plain YAML scalar
    /// (`1.2` could be meant as a string) or the result of a whole-scalar `${VAR}`
    /// (`"1883"` is meant as an integer). The validator converts it when the schema asks for
    /// another scalar type. Nil for quoted strings, which always stay strings.
    package var untypedText: String?

    package init(_ value: ConfigValue, location: SourceLocation? = nil, untypedText: String? = nil) {
        self.value = value
        self.location = location
        self.untypedText = untypedText
    }

    /// Nodes compare by value only: where a value was written does not change what it means.
    package static func == (lhs: ConfigNode, rhs: ConfigNode) -> Bool {
        lhs.value == rhs.value
    }

    /// The member named `key` of an object node.
    package subscript(key: String) -> ConfigNode? { value[key] }
}

extension ConfigNode: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    // Literal conformances keep tests and the loader's built values short.
    package init(stringLiteral value: String) { self.init(.string(value)) }
    package init(integerLiteral value: Int) { self.init(.int(value)) }
    package init(booleanLiteral value: Bool) { self.init(.bool(value)) }
    package init(floatLiteral value: Double) { self.init(.double(value)) }
    package init(nilLiteral: ()) { self.init(.null) }
    package init(arrayLiteral elements: ConfigNode...) { self.init(.array(elements)) }
    package init(dictionaryLiteral elements: (String, ConfigNode)...) {
        self.init(.object(elements.map { ConfigMember(key: $0.0, node: $0.1) }))
    }
}
