import BrokerCore
import BrokerKafka
import Foundation
import Logging
import BrokerRuntime

/// Starts the Kafka consumers of `kafka.subscribe` and hands their records to the shards.
enum KafkaSubscribers {
    /// One consumer per `kafka.subscribe` rule. A record is routed on the shard its key hashes
    /// to (any shard for records without a key), so records of one key keep their order.
    static func start(
        _ configuration: KafkaBridgeConfiguration, broker: Broker, logger: Logger
    ) throws -> [KafkaSubscriber] {
        let inboxes = broker.inboxes
        return try configuration.subscriptions.map { rule in
            try KafkaSubscriber(rule: rule, configuration: configuration, logger: logger) { message, key, accepted in
                inboxes[Int(fnv1a(key ?? []) % UInt64(inboxes.count))].post(.inject(message, routed: accepted))
            }
        }
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
