/// Rules for topic names, the topics PUBLISH (and a will) sends to (MQTT 3.1.1 §4.7), and the
/// one home of the `$` rule.
///
/// UTF-8 well-formedness is a separate check (`MQTTString.validate`); the decoder does both.
public enum TopicName {
    /// Throws unless `topic` is non-empty, free of `+` and `#`, and has at most `maxLevels`
    /// levels (levels are separated by `/`; "a//b" has three); returns its level count.
    @discardableResult
    public static func validate(_ topic: ByteView, maxLevels: Int = .max) throws(MQTTWireError) -> Int {
        guard !topic.isEmpty else { throw .emptyTopicName }
        var levels = 1
        for byte in topic.unsafeBytes {
            switch byte {
            case UInt8(ascii: "+"), UInt8(ascii: "#"): throw .wildcardInTopicName
            case UInt8(ascii: "/"): levels += 1
            default: break
            }
        }
        guard levels <= maxLevels else { throw .tooManyTopicLevels(count: levels, limit: maxLevels) }
        return levels
    }

    /// Same as `validate(_:maxLevels:)`, for an owned topic.
    @discardableResult
    public static func validate(_ topic: [UInt8], maxLevels: Int = .max) throws(MQTTWireError) -> Int {
        try topic.withUnsafeWireBytes { bytes throws(MQTTWireError) in try validate(ByteView(bytes), maxLevels: maxLevels) }
    }

    static let dollar = UInt8(ascii: "$")

    /// True for topics whose first level starts with `$` (such as `$SYS/...`): a filter that
    /// starts with a wildcard does not match them (MQTT 3.1.1 §4.7.2).
    @inline(__always)
    public static func isDollarTopic(_ topic: String) -> Bool {
        topic.utf8.first == dollar
    }

    @inline(__always)
    public static func isDollarTopic(_ topic: UnsafeRawBufferPointer) -> Bool {
        topic.first == dollar
    }

    /// The broker's own topics: clients may not publish there, nor leave a will there.
    @inline(__always)
    public static func isSystemTopic(_ topic: String) -> Bool {
        topic.hasPrefix("$SYS")
    }
}
