/// Rules for topic filters, the patterns SUBSCRIBE and UNSUBSCRIBE carry (MQTT 3.1.1 §4.7).
///
/// UTF-8 well-formedness is a separate check (`MQTTString.validate`); the decoder does both.
public enum TopicFilter {
    /// Throws unless `filter` is non-empty, uses `+` and `#` only as whole levels with `#`
    /// only as the last level, and has at most `maxLevels` levels.
    public static func validate(_ filter: ByteView, maxLevels: Int = .max) throws(MQTTWireError) {
        guard !filter.isEmpty else { throw .emptyTopicFilter }
        let bytes = filter.unsafeBytes
        let count = bytes.count
        var levels = 1
        var index = 0
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "/") {
                levels += 1
            } else if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "#") {
                // A wildcard must start its level (start of filter or after '/') and end it
                // (end of filter or before '/'); '#' must also be the end of the filter.
                let startsLevel = index == 0 || bytes[index - 1] == UInt8(ascii: "/")
                let isLast = index == count - 1
                let endsLevel = isLast || bytes[index + 1] == UInt8(ascii: "/")
                guard startsLevel && endsLevel else { throw .invalidWildcardInTopicFilter }
                if byte == UInt8(ascii: "#") && !isLast { throw .invalidWildcardInTopicFilter }
            }
            index += 1
        }
        guard levels <= maxLevels else { throw .tooManyTopicLevels(count: levels, limit: maxLevels) }
    }

    /// Same as `validate(_:maxLevels:)`, for an owned filter.
    public static func validate(_ filter: [UInt8], maxLevels: Int = .max) throws(MQTTWireError) {
        // Array.withUnsafeBytes only rethrows untyped errors: carry the typed one out.
        let failure: MQTTWireError? = filter.withUnsafeBytes { bytes in
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
