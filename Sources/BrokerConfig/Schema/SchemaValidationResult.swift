/// What validating one instance produced: the effective value and everything wrong with it.
public struct SchemaValidationResult: Sendable {
    /// The instance with schema defaults filled in and untyped scalars converted to the
    /// types the schema asks for. Meaningful only when `problems` is empty.
    public var value: ConfigNode
    /// Every violation found, in document order.
    public var problems: [ConfigProblem]

    public var isValid: Bool { problems.isEmpty }
}
