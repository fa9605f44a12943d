import BrokerCore
import CRdKafka
import Foundation
import Logging
import MQTTWire
import Synchronization

/// One `kafka.subscribe` rule: a consumer in the rule's group whose records are published into
/// the broker. Its own thread polls, hands each record to `publish` and waits until a shard
/// has routed it before committing the offset (at-least-once; a shard never waits).
package final class KafkaSubscriber: @unchecked Sendable {
    /// Routes `message` on some shard (chosen from `key`) and calls `accepted` there once done.
    package typealias Publish = @Sendable (_ message: Message, _ key: [UInt8]?, _ accepted: @escaping @Sendable () -> Void) -> Void

    package let rule: KafkaBridgeConfiguration.Subscription
    let template: TopicTemplate
    let handle: OpaquePointer
    let logger: Logger
    let publish: Publish
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)

    package init(rule: KafkaBridgeConfiguration.Subscription, configuration: KafkaBridgeConfiguration, logger: Logger, publish: @escaping Publish) throws {
        self.rule = rule
        self.template = TopicTemplate(rule.mqttTopic)
        self.logger = logger
        self.publish = publish
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(description: "rd_kafka_conf_new failed") }
        var error = [CChar](repeating: 0, count: 512)
        for (name, value) in configuration.consumerProperties(groupId: rule.groupId ?? configuration.clientId)
        where rd_kafka_conf_set(conf, name, value, &error, error.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(description: "kafka setting \(name): \(errorText(error))")
        }
        guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &error, error.count) else {
            throw KafkaError(description: "cannot create the Kafka consumer: \(errorText(error))")
        }
        self.handle = handle
        rd_kafka_poll_set_consumer(handle)
        let topics = rd_kafka_topic_partition_list_new(1)
        rd_kafka_topic_partition_list_add(topics, rule.topic, RD_KAFKA_PARTITION_UA)
        let subscribed = rd_kafka_subscribe(handle, topics)
        rd_kafka_topic_partition_list_destroy(topics)
        guard subscribed == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_destroy(handle)
            throw KafkaError(description: "cannot subscribe to \(rule.topic): \(String(cString: rd_kafka_err2str(subscribed)))")
        }
        Thread.detachNewThread { [self] in run() }
    }

    private func run() {
        var announced = false
        while running.load(ordering: .relaxed) {
            guard let record = rd_kafka_consumer_poll(handle, 100) else {
                if !announced { announced = announceAssignment() }
                continue
            }
            defer { rd_kafka_message_destroy(record) }
            if !announced { announced = announceAssignment() }
            let error = record.pointee.err
            if error == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                logger.warning("kafka consumer: \(String(cString: rd_kafka_err2str(error)))", metadata: ["topic": "\(rule.topic)"])
                continue
            }
            // Committed only once a shard routed the record (or it was skipped as unroutable): a
            // record still waiting when the broker stops is read again by the group later.
            if deliver(record) { rd_kafka_commit_message(handle, record, 1) }
        }
        rd_kafka_consumer_close(handle)
        rd_kafka_destroy(handle)
        logger.info("kafka subscription closed", metadata: ["topic": "\(rule.topic)"])
        finished.signal()
    }

    /// Logs once that partitions were assigned (the group join is done).
    private func announceAssignment() -> Bool {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return false }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        guard list.pointee.cnt > 0 else { return false }
        logger.info("kafka subscription assigned", metadata: ["topic": "\(rule.topic)", "partitions": "\(list.pointee.cnt)"])
        return true
    }

    /// Publishes one record into the broker and waits until a shard has routed it. Returns
    /// false when the subscription stopped first: then the record must not be committed.
    private func deliver(_ record: UnsafeMutablePointer<rd_kafka_message_t>) -> Bool {
        let key: [UInt8]? = record.pointee.key.map {
            Array(UnsafeRawBufferPointer(start: $0, count: record.pointee.key_len))
        }
        var headers: [String: String] = [:]
        var ordered: [(String, String)] = []
        var list: OpaquePointer?
        if rd_kafka_message_headers(record, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                if let name {
                    let text = value.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: size), as: UTF8.self) } ?? ""
                    headers[String(cString: name)] = text
                    ordered.append((String(cString: name), text))
                }
                index += 1
            }
        }
        guard let topic = template.expand(key: key.map { String(decoding: $0, as: UTF8.self) }, headers: headers) else {
            logger.warning("kafka record skipped: no valid MQTT topic from the template", metadata: [
                "topic": "\(rule.topic)", "template": "\(rule.mqttTopic)",
            ])
            return true
        }
        let payload = record.pointee.payload.map {
            Array(UnsafeRawBufferPointer(start: $0, count: record.pointee.len))
        } ?? []
        // Headers reach MQTT 5 subscribers as user properties (`content-type` as Content Type).
        let message = Message(
            topic: topic, payload: payload, qos: QoS(rawValue: UInt8(rule.qos)) ?? .atMostOnce, retain: rule.retain,
            properties: ClientEventRules.properties(fromHeaders: ordered))
        let accepted = DispatchSemaphore(value: 0)
        publish(message, key) { accepted.signal() }
        while accepted.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
            guard running.load(ordering: .relaxed) else { return false }
        }
        return true
    }

    /// Leaves the group (committing what was accepted) and stops the thread. Called again, it
    /// returns at once.
    package func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        _ = finished.wait(timeout: .now() + .seconds(10))
    }
}
