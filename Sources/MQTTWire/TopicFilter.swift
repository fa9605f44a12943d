/// A topic filter, the pattern SUBSCRIBE and UNSUBSCRIBE carry and ACL and Kafka rules are
/// written in (MQTT 3.1.1 §4.7): the one grammar and the one matcher for all of them.
///
/// `validate` checks the bytes as they arrive (zero copy); a `TopicFilter` value is the filter
/// split into levels, built once where it is kept (a client's ACL, a Kafka rule) and matched
/// against topic names over their UTF-8 bytes without allocating.
/// UTF-8 well-formedness is a separate check (`MQTTString.validate`); the decoder does both.
public struct TopicFilter: Sendable, Equatable, CustomStringConvertible {
    public enum Level: Sendable, Equatable {
        case literal([UInt8])
        /// `+`
        case single
        /// `#` (always the last level)
        case multi
    }

    public let levels: [Level]
    public let description: String

    /// Nil when `filter` is not a valid topic filter (`validate`) or has more than `maxLevels`
    /// levels (checked before anything is allocated).
    public init?(_ filter: String, maxLevels: Int = .max) {
        var filter = filter
        let valid = filter.withUTF8 { bytes in
            do throws(MQTTWireError) {
                try Self.validate(ByteView(UnsafeRawBufferPointer(bytes)), maxLevels: maxLevels)
                return true
            } catch {
                return false
            }
        }
        guard valid else { return nil }
        levels = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { part in
            if part.elementsEqual([UInt8(ascii: "#")]) { return .multi }
            if part.elementsEqual([UInt8(ascii: "+")]) { return .single }
            return .literal(Array(part))
        }
        description = filter
    }

    /// Whether `topic` (a topic name: no wildcards) matches. A filter starting with a wildcard
    /// does not match a `$` topic (`TopicName.isDollarTopic`).
    public func matches(topic: String) -> Bool {
        var topic = topic
        return topic.withUTF8 { matches(bytes: UnsafeRawBufferPointer($0)) }
    }

    private func matches(bytes: UnsafeRawBufferPointer) -> Bool {
        if TopicName.isDollarTopic(bytes) {
            guard case .literal = levels[0] else { return false }
        }
        var position = 0
        var levelIndex = 0
        var topicDone = false
        while levelIndex < levels.count {
            if topicDone {
                // `a/#` matches `a`: the parent level.
                return levels[levelIndex] == .multi && levelIndex == levels.count - 1
            }
            // The topic level starting at `position`.
            var end = position
            while end < bytes.count && bytes[end] != UInt8(ascii: "/") { end += 1 }
            switch levels[levelIndex] {
            case .multi:
                return true
            case .single:
                break
            case .literal(let literal):
                guard literal.count == end - position else { return false }
                for i in 0..<literal.count where literal[i] != bytes[position + i] { return false }
            }
            levelIndex += 1
            if end == bytes.count {
                topicDone = true
            } else {
                position = end + 1
            }
        }
        return topicDone
    }

    /// Whether every topic `other` matches is matched by this filter (an ACL's filter-covers-
    /// filter check: `a/+` does not cover `a/#` nor `a/b/c`).
    public func covers(_ other: TopicFilter) -> Bool {
        let startsWithDollar: Bool = {
            if case .literal(let bytes) = other.levels.first { return bytes.first == TopicName.dollar }
            return false
        }()
        for index in 0..<levels.count {
            let mine = levels[index]
            if index == 0 && startsWithDollar {
                // Wildcards at the first level do not match `$` topics.
                guard mine == other.levels[0] else { return false }
                continue
            }
            if mine == .multi { return true }
            guard index < other.levels.count else { return false }
            switch (mine, other.levels[index]) {
            case (.single, .single), (.single, .literal):
                continue
            case (.literal(let a), .literal(let b)) where a == b:
                continue
            default:
                return false
            }
        }
        return other.levels.count == levels.count
    }

    // MARK: - Validation of received bytes

    /// Throws unless `filter` is non-empty, uses `+` and `#` only as whole levels with `#`
    /// only as the last level, and has at most `maxLevels` levels; returns its level count.
    @discardableResult
    public static func validate(_ filter: ByteView, maxLevels: Int = .max) throws(MQTTWireError) -> Int {
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
        return levels
    }

    /// Same as `validate(_:maxLevels:)`, for an owned filter.
    @discardableResult
    public static func validate(_ filter: [UInt8], maxLevels: Int = .max) throws(MQTTWireError) -> Int {
        try filter.withUnsafeWireBytes { bytes throws(MQTTWireError) in try validate(ByteView(bytes), maxLevels: maxLevels) }
    }
}
