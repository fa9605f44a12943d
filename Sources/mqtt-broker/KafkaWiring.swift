import BrokerConfig
import BrokerCore
import BrokerKafka
import Foundation
import Logging
import BrokerRuntime

/// Maps the configuration's `kafka` section into BrokerKafka's configuration.
enum KafkaWiring {
    static func configuration(_ kafka: KafkaSettings) -> KafkaBridgeConfiguration {
        let clientId = kafka.clientID ?? "mqtt-broker"
        return KafkaBridgeConfiguration(
            brokers: kafka.brokers, clientId: clientId,
            sasl: kafka.sasl.map {
                KafkaBridgeConfiguration.SASL(
                    mechanism: KafkaBridgeConfiguration.SASLMechanism(rawValue: $0.mechanism.rawValue) ?? .scramSHA512,
                    username: $0.username, password: $0.password)
            },
            tls: kafka.tls != nil, tlsCA: kafka.tls?.ca, waitForKafka: kafka.ackMode == .kafka,
            compression: kafka.compression.rawValue,
            routes: kafka.publish.clientEvents.map {
                KafkaBridgeConfiguration.Route(
                    mqttFilter: $0.mqttTopic, topic: $0.topic,
                    key: KafkaBridgeConfiguration.Key(rawValue: $0.key.rawValue) ?? .clientId, alsoMQTT: $0.alsoMQTT)
            },
            connectEvent: kafka.publish.connectEvent.map {
                .init(topic: $0.topic, type: $0.type ?? KafkaBridgeConfiguration.defaultConnectType)
            },
            disconnectEvent: kafka.publish.disconnectEvent.map {
                .init(topic: $0.topic, type: $0.type ?? KafkaBridgeConfiguration.defaultDisconnectType)
            },
            eventsForAll: kafka.publish.eventsFor == .all,
            source: "mqtt-broker/\(clientId)@\(ProcessInfo.processInfo.hostName)",
            subscriptions: kafka.subscribe.map {
                .init(topic: $0.topic, groupId: $0.groupID, mqttTopic: $0.mqttTopic, qos: $0.qos, retain: $0.retain)
            })
    }

    /// One consumer per `kafka.subscribe` rule. A record is routed on the shard its key hashes
    /// to (any shard for records without a key), so records of one key keep their order.
    static func startSubscribers(
        _ configuration: KafkaBridgeConfiguration, broker: Broker, logger: Logger
    ) throws -> [KafkaSubscriber] {
        let shards = broker.shards
        return try configuration.subscriptions.map { rule in
            try KafkaSubscriber(rule: rule, configuration: configuration, logger: logger) { message, key, accepted in
                let shard = shards[Int(fnv1a(key ?? []) % UInt64(shards.count))]
                shard.postFromAnyThread(.run { engine in
                    engine.route(message)
                    accepted()
                })
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
