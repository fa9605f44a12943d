/// What validating one instance produced: the effective value and everything wrong with it.
package struct SchemaValidationResult: Sendable {
    /// The instance with schema defaults filled in and untyped scalars converted to the
    /// types the schema asks for. Meaningful only when `problems` is empty.
    package var value: ConfigNode
    /// Every violation found, in document order.
    package var problems: [ConfigProblem]

    package var isValid: Bool { problems.isEmpty }
}
