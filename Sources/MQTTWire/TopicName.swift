/// Rules for topic names, the topics PUBLISH (and a will) sends to (MQTT 3.1.1 §4.7).
///
/// UTF-8 well-formedness is a separate check (`MQTTString.validate`); the decoder does both.
public enum TopicName {
    /// Throws unless `topic` is non-empty, free of `+` and `#`, and has at most `maxLevels`
    /// levels (levels are separated by `/`; "a//b" has three).
    public static func validate(_ topic: ByteView, maxLevels: Int = .max) throws(MQTTWireError) {
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
    }

    /// Same as `validate(_:maxLevels:)`, for an owned topic.
    public static func validate(_ topic: [UInt8], maxLevels: Int = .max) throws(MQTTWireError) {
        // Array.withUnsafeBytes only rethrows untyped errors: carry the typed one out.
        let failure: MQTTWireError? = topic.withUnsafeBytes { bytes in
            do throws(MQTTWireError) {
                try validate(ByteView(bytes), maxLevels: maxLevels)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }
}
