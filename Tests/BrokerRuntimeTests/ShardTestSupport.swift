import BrokerCore
@testable import BrokerRuntime
import Logging
import MQTTWire

/// Shards built but not running (their loops are driven by the test), and numbered posts.
enum ShardTestSupport {
    /// `count` shards of one broker, each knowing the others' inboxes; `onQuiet` is called when
    /// a shard finishes phase 1 of shutdown.
    static func makeShards(_ count: Int, onQuiet: @escaping @Sendable () -> Void = {}) throws -> [Shard] {
        let context = BrokerContext(settings: CoreSettings(), shardCount: count, startedAt: 0)
        let shards = try (0..<count).map { try Shard(index: $0, context: context, logger: Logger(label: "test"), onQuiet: onQuiet) }
        let inboxes = shards.map(\.inbox)
        for shard in shards { shard.peerInboxes = inboxes }
        return shards
    }

    /// A post carrying `number` (in its topic).
    static func message(_ number: Int) -> ShardMessage {
        .publish(Message(topic: "t/\(number)", payload: [], qos: .atMostOnce, retain: false))
    }

    /// The number a `message(_:)` post carries.
    static func number(_ message: ShardMessage?) -> Int? {
        guard case .publish(let published) = message else { return nil }
        return Int(published.topic.dropFirst(2))
    }

    /// The number a post of `message(_:)` carries, as it came out of a ring.
    static func number(_ post: ShardPost?) -> Int? { number(post?.message) }
}
