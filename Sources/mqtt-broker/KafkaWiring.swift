import BrokerConfig
import BrokerKafka
import Foundation
import Logging

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
            source: "mqtt-broker/\(clientId)@\(ProcessInfo.processInfo.hostName)")
    }
}
