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
                inboxes[Int(FNV1a.hash(key ?? []) % UInt64(inboxes.count))].post(.inject(message, routed: accepted))
            }
        }
    }
}
