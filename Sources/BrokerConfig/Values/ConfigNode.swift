/// A configuration value together with where it came from.
public struct ConfigNode: Sendable, Equatable {
    public var value: ConfigValue
    /// Where the value starts in its file; nil for values made by defaults or the loader.
    public var location: SourceLocation?
    /// The text of a scalar whose type was guessed rather than written: a plain YAML scalar
    /// (`1.2` could be meant as a string) or the result of a whole-scalar `${VAR}`
    /// (`"1883"` is meant as an integer). The validator converts it when the schema asks for
    /// another scalar type. Nil for quoted strings, which always stay strings.
    public var untypedText: String?

    public init(_ value: ConfigValue, location: SourceLocation? = nil, untypedText: String? = nil) {
        self.value = value
        self.location = location
        self.untypedText = untypedText
    }

    /// Nodes compare by value only: where a value was written does not change what it means.
    public static func == (lhs: ConfigNode, rhs: ConfigNode) -> Bool {
        lhs.value == rhs.value
    }

    /// The member named `key` of an object node.
    public subscript(key: String) -> ConfigNode? { value[key] }
}

extension ConfigNode: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    // Literal conformances keep tests and the loader's built values short.
    public init(stringLiteral value: String) { self.init(.string(value)) }
    public init(integerLiteral value: Int) { self.init(.int(value)) }
    public init(booleanLiteral value: Bool) { self.init(.bool(value)) }
    public init(floatLiteral value: Double) { self.init(.double(value)) }
    public init(nilLiteral: ()) { self.init(.null) }
    public init(arrayLiteral elements: ConfigNode...) { self.init(.array(elements)) }
    public init(dictionaryLiteral elements: (String, ConfigNode)...) {
        self.init(.object(elements.map { ConfigMember(key: $0.0, node: $0.1) }))
    }
}
