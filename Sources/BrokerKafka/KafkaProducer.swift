import BrokerCore
import CRdKafka
import Foundation
import Logging
import Synchronization

/// Why the Kafka client could not be created.
package struct KafkaError: Error, CustomStringConvertible {
    package let description: String
}

/// The one librdkafka producer of the process. `produce` never blocks (librdkafka queues the
/// record and retries on its own threads); a thread of ours polls for delivery reports and
/// calls each record's completion from there (the cold path).
final class KafkaProducer: @unchecked Sendable {
    let handle: OpaquePointer
    private let context: Unmanaged<ProducerContext>
    private let running = Atomic<Bool>(true)
    /// Whether the last metadata request (every `probeInterval`, on a thread of its own)
    /// reached a broker: readiness and `/metrics` report it.
    let reachable = Atomic<Bool>(false)
    static let probeInterval: Duration = .seconds(2)

    init(properties: [(String, String)], logger: Logger) throws {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(description: "rd_kafka_conf_new failed") }
        var error = [CChar](repeating: 0, count: 512)
        for (name, value) in properties where rd_kafka_conf_set(conf, name, value, &error, error.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(description: "kafka setting \(name): \(errorText(error))")
        }
        let context = Unmanaged.passRetained(ProducerContext(logger: logger))
        rd_kafka_conf_set_opaque(conf, context.toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        rd_kafka_conf_set_error_cb(conf, errorCallback)
        guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &error, error.count) else {
            context.release()
            throw KafkaError(description: "cannot create the Kafka producer: \(errorText(error))")
        }
        self.handle = handle
        self.context = context
        Thread.detachNewThread { [self] in
            while running.load(ordering: .relaxed) { rd_kafka_poll(self.handle, 100) }
        }
        // A metadata request waits up to a second: not on the poll thread, whose delivery
        // reports release held acknowledgements.
        Thread.detachNewThread { [self] in
            while running.load(ordering: .relaxed) {
                probe()
                Thread.sleep(forTimeInterval: Double(Self.probeInterval.components.seconds))
            }
        }
    }

    /// Asks any broker for the cluster's metadata (no topics) and records whether one answered;
    /// a change is logged once.
    private func probe() {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let answered = rd_kafka_metadata(handle, 0, nil, &metadata, 1_000) == RD_KAFKA_RESP_ERR_NO_ERROR
        if let metadata { rd_kafka_metadata_destroy(metadata) }
        if reachable.exchange(answered, ordering: .relaxed) != answered {
            if answered {
                counters.logger.info("kafka reachable")
            } else {
                counters.logger.warning("kafka unreachable: no broker answered a metadata request")
            }
        }
    }

    var counters: ProducerContext { context.takeUnretainedValue() }

    /// Queues one record (value, key and headers are copied). `completion` runs on the poll
    /// thread with true once Kafka acknowledged it, false when librdkafka gave up; when the
    /// record cannot even be queued it runs at once with false.
    func produce(
        topic: String, key: [UInt8]?, value: UnsafeRawBufferPointer, headers: [(String, [UInt8])],
        completion: (@Sendable (Bool) -> Void)?
    ) {
        guard let recordHeaders = rd_kafka_headers_new(headers.count) else {
            completion?(false)
            return
        }
        for (name, bytes) in headers {
            bytes.withUnsafeBytes { _ = rd_kafka_header_add(recordHeaders, name, -1, $0.baseAddress, $0.count) }
        }
        let box = Unmanaged.passRetained(DeliveryBox(completion: completion))
        let failure: String? = topic.withCString { topicName in
            (key ?? []).withUnsafeBytes { keyBytes in
                var entries: [rd_kafka_vu_t] = []
                var entry = rd_kafka_vu_t()
                entry.vtype = RD_KAFKA_VTYPE_TOPIC
                entry.u.cstr = topicName
                entries.append(entry)
                entry = rd_kafka_vu_t()
                entry.vtype = RD_KAFKA_VTYPE_VALUE
                entry.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                entry.u.mem.size = value.count
                entries.append(entry)
                if key != nil {
                    entry = rd_kafka_vu_t()
                    entry.vtype = RD_KAFKA_VTYPE_KEY
                    entry.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress)
                    entry.u.mem.size = keyBytes.count
                    entries.append(entry)
                }
                entry = rd_kafka_vu_t()
                entry.vtype = RD_KAFKA_VTYPE_HEADERS
                entry.u.headers = recordHeaders
                entries.append(entry)
                entry = rd_kafka_vu_t()
                entry.vtype = RD_KAFKA_VTYPE_MSGFLAGS
                entry.u.i = RD_KAFKA_MSG_F_COPY
                entries.append(entry)
                entry = rd_kafka_vu_t()
                entry.vtype = RD_KAFKA_VTYPE_OPAQUE
                entry.u.ptr = box.toOpaque()
                entries.append(entry)
                let error = entries.withUnsafeBufferPointer { rd_kafka_produceva(handle, $0.baseAddress, $0.count) }
                guard let error else { return nil }
                defer { rd_kafka_error_destroy(error) }
                return String(cString: rd_kafka_error_string(error))
            }
        }
        if let failure {
            // Not queued: the headers and the box are still ours.
            rd_kafka_headers_destroy(recordHeaders)
            box.release()
            counters.failed.wrappingAdd(1, ordering: .relaxed)
            counters.logger.warning("kafka produce refused", metadata: ["topic": "\(topic)", "error": "\(failure)"])
            completion?(false)
        }
    }

    /// Records (and requests) librdkafka still holds: not yet acknowledged, given up on or
    /// reported. `rd_kafka_outq_len` may be called from any thread.
    var outQueueLength: Int { Int(rd_kafka_outq_len(handle)) }

    /// Waits up to `milliseconds` for queued records to be delivered, then stops polling.
    func stop(flushMilliseconds: Int32) {
        rd_kafka_flush(handle, flushMilliseconds)
        running.store(false, ordering: .relaxed)
    }
}

/// The NUL-terminated text librdkafka wrote into `buffer`.
func errorText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// What the C callbacks reach through librdkafka's opaque: the logger and the counters.
final class ProducerContext: Sendable {
    let logger: Logger
    let delivered = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    /// From `produce` to the delivery report of records Kafka acknowledged.
    let latency = AtomicLatencyHistogram()

    init(logger: Logger) { self.logger = logger }
}

/// A record's completion, passed through librdkafka as the message's opaque.
final class DeliveryBox {
    let completion: (@Sendable (Bool) -> Void)?
    /// When the record was produced (`DispatchTime` nanoseconds), for the latency histogram.
    let producedAt = DispatchTime.now().uptimeNanoseconds
    init(completion: (@Sendable (Bool) -> Void)?) { self.completion = completion }
}

let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, opaque in
    guard let message, let opaque else { return }
    let context = Unmanaged<ProducerContext>.fromOpaque(opaque).takeUnretainedValue()
    let error = message.pointee.err
    let delivered = error == RD_KAFKA_RESP_ERR_NO_ERROR
    if delivered {
        context.delivered.wrappingAdd(1, ordering: .relaxed)
    } else {
        context.failed.wrappingAdd(1, ordering: .relaxed)
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
        context.logger.error("kafka record not delivered", metadata: [
            "topic": "\(topic)", "error": "\(String(cString: rd_kafka_err2str(error)))",
        ])
    }
    if let box = message.pointee._private {
        let delivery = Unmanaged<DeliveryBox>.fromOpaque(box).takeRetainedValue()
        if delivered { context.latency.record(nanoseconds: DispatchTime.now().uptimeNanoseconds &- delivery.producedAt) }
        delivery.completion?(delivered)
    }
}

let errorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    _, error, reason, opaque in
    guard let opaque else { return }
    let context = Unmanaged<ProducerContext>.fromOpaque(opaque).takeUnretainedValue()
    let text = reason.map { String(cString: $0) } ?? ""
    context.logger.warning("kafka: \(text)", metadata: ["error": "\(error)"])
}
