import MQTTWire

/// One client's ACL, compiled once at CONNECT (BrokerAuth's `ACLCompiler`): the topic filters
/// it may publish to and subscribe with. Checked on the shard thread per PUBLISH and SUBSCRIBE
/// with `TopicFilter`'s matcher, which walks the topic's bytes and allocates nothing.
public struct Permissions: Sendable, Equatable {
    public let publish: [TopicFilter]
    public let subscribe: [TopicFilter]

    public init(publish: [TopicFilter], subscribe: [TopicFilter]) {
        self.publish = publish
        self.subscribe = subscribe
    }

    /// Whether the client may publish to `topic`.
    public func canPublish(_ topic: String) -> Bool {
        publish.contains { $0.matches(topic: topic) }
    }

    /// Whether the client may receive messages on `topic` (retained and queued messages are
    /// re-checked with this when delivered).
    public func canReceive(_ topic: String) -> Bool {
        subscribe.contains { $0.matches(topic: topic) }
    }

    /// Whether the client may subscribe with `filter`: only when one allowed filter matches
    /// every topic `filter` can match (so `a/+` does not allow `a/#` nor `a/b/c`).
    public func canSubscribe(_ filter: TopicFilter) -> Bool {
        subscribe.contains { $0.covers(filter) }
    }

    /// Same, for a filter not yet split (an invalid one is refused); a shared subscription is
    /// judged by its inner filter.
    public func canSubscribe(_ filter: String) -> Bool {
        var inner = filter
        switch SharedSubscription.parse(filter) {
        case .notShared: break
        case .invalid: return false
        case .shared(let shared): inner = shared.filter
        }
        guard let requested = TopicFilter(inner) else { return false }
        return canSubscribe(requested)
    }
}
