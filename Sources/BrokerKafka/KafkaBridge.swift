import BrokerCore
import Logging
import MQTTWire
import Synchronization

/// BrokerCore's `PublishBridge` over Kafka: publishes matching `client_events` routes are
/// produced to their Kafka topics, connects and disconnects become CloudEvents.
package final class KafkaBridge: PublishBridge {
    package let configuration: KafkaBridgeConfiguration
    let rules: ClientEventRules
    let producer: KafkaProducer
    let logger: Logger
    /// The CloudEvents `source`, worked out once here (a host name lookup takes a process-wide
    /// lock; connects and disconnects happen on the shard threads).
    let source: String

    /// Creates the producer. Kafka being unreachable is not an error: librdkafka keeps
    /// connecting with back-off and logs it, and records wait in its queue.
    package init(configuration: KafkaBridgeConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.source = configuration.source
        self.rules = ClientEventRules(routes: configuration.routes, waitForKafka: configuration.waitForKafka)
        self.logger = logger
        self.producer = try KafkaProducer(properties: configuration.producerProperties(), logger: logger)
        logger.info("kafka bridge started", metadata: [
            "brokers": "\(configuration.brokers.joined(separator: ","))", "routes": "\(configuration.routes.count)",
        ])
    }

    /// Whether a Kafka broker answered the producer's last metadata request.
    package var isAvailable: Bool { producer.reachable.load(ordering: .relaxed) }

    package var statistics: BridgeStatistics {
        BridgeStatistics(
            delivered: delivered, failed: failed, pending: producer.outQueueLength,
            deliveryLatency: producer.counters.latency.snapshot)
    }

    /// Records Kafka acknowledged, and records given up on, since start.
    package var delivered: Int { producer.counters.delivered.load(ordering: .relaxed) }
    package var failed: Int { producer.counters.failed.load(ordering: .relaxed) }

    package func match(topic: String) -> BridgeMatch? {
        rules.match(topic: topic)
    }

    package func forward(_ message: Message, match: BridgeMatch, from client: BridgeClient, completion: (@Sendable (Bool) -> Void)?) {
        let headers = ClientEventRules.headers(
            topic: message.topic, qos: message.qos, client: client, properties: message.properties)
        // One record per matching route; the publish is acknowledged when all are.
        let join = completion.map { DeliveryJoin(count: match.rules.count, completion: $0) }
        for number in match.rules {
            let route = rules.route(number)
            var recordCompletion: (@Sendable (Bool) -> Void)?
            if let join { recordCompletion = { delivered in join.record(delivered) } }
            producer.produce(
                topic: route.topic, key: ClientEventRules.key(route.key, topic: message.topic, client: client),
                value: message.payload, headers: headers, completion: recordCompletion)
        }
    }

    package func clientConnected(_ client: BridgeClient) {
        guard let event = configuration.connectEvent, wantsEvents(for: client) else { return }
        emit(CloudEvent.forClient(client, type: event.type, source: source), to: event.topic, client: client)
    }

    package func clientDisconnected(_ client: BridgeClient, reason: String) {
        guard let event = configuration.disconnectEvent, wantsEvents(for: client) else { return }
        emit(
            CloudEvent.forClient(client, type: event.type, source: source, reason: reason),
            to: event.topic, client: client)
    }

    func wantsEvents(for client: BridgeClient) -> Bool {
        configuration.eventsFor == .all || client.tokenAuthenticated
    }

    private func emit(_ event: CloudEvent, to topic: String, client: BridgeClient) {
        let json = Array(event.json.utf8)
        json.withUnsafeBytes {
            producer.produce(
                topic: topic, key: Array(client.clientId.utf8), value: $0,
                headers: [("content-type", Array("application/cloudevents+json".utf8))], completion: nil)
        }
    }

    /// Waits up to `milliseconds` for records still queued, then stops.
    package func stop(flushMilliseconds: Int32 = 5_000) {
        producer.stop(flushMilliseconds: flushMilliseconds)
    }
}

/// Calls `completion` once every record of one publish is settled: true only if all were
/// delivered.
final class DeliveryJoin: Sendable {
    private let state: Mutex<(remaining: Int, allDelivered: Bool)>
    let completion: @Sendable (Bool) -> Void

    init(count: Int, completion: @escaping @Sendable (Bool) -> Void) {
        self.state = Mutex((count, true))
        self.completion = completion
    }

    func record(_ delivered: Bool) {
        let done: Bool? = state.withLock { state in
            if !delivered { state.allDelivered = false }
            state.remaining -= 1
            return state.remaining == 0 ? state.allDelivered : nil
        }
        if let done { completion(done) }
    }
}
