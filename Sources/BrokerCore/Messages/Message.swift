import Glibc
import MQTTWire

/// One application message as it travels through the broker: decoded once, its topic and
/// payload copied once out of the publisher's receive buffer, then shared (by reference)
/// by every subscriber on every shard. Immutable, so sharing across threads is safe.
///
/// It is also serialised once: the storage holds the complete QoS 0 PUBLISH packet (no RETAIN,
/// no DUP: what every live QoS 0 subscriber receives), with the payload as its tail. Delivering
/// it at QoS 0 is one copy (or one reference) of those bytes; other deliveries write their own
/// header and share the payload.
public final class Message: @unchecked Sendable {
    /// The topic name, already validated as a 3.1.1 topic name.
    public let topic: String
    /// The payload bytes. Owned by this message; never mutated after init.
    public let payload: UnsafeRawBufferPointer
    /// The whole live QoS 0 PUBLISH packet; `payload` is its tail.
    public let qos0Packet: UnsafeRawBufferPointer
    /// QoS the publisher sent with; each subscriber gets min(this, its granted QoS).
    public let qos: QoS
    /// The RETAIN flag the publisher set.
    public let retain: Bool
    /// Shard that received it from a client (or -1 for broker-generated messages such as $SYS).
    public let originShard: Int
    /// The connection on `originShard` that published it, for flow control (0: none, as for
    /// wills, `$SYS` and Kafka records: nobody to slow down).
    public let publisher: ConnectionID
    /// MQTT 5 properties passed on to MQTT 5 subscribers unchanged and in order (payload format,
    /// content type, response topic, correlation data, user properties: `Properties.forwarded`),
    /// encoded; empty for most messages, and never sent to 3.1.1 subscribers.
    public let properties: [UInt8]
    /// When the message expires (loop clock, ms; 0: never): MQTT 5's Message Expiry Interval,
    /// counted from when the broker received it. An expired message is not delivered.
    public let expiresAt: UInt64

    public convenience init(
        topic: String, payload: UnsafeRawBufferPointer, qos: QoS, retain: Bool, originShard: Int, publisher: ConnectionID = 0,
        properties: [UInt8] = [], expiresAt: UInt64 = 0
    ) {
        var topic = topic
        let serialised = Self.serialise(topic: &topic, payload: payload)
        self.init(
            topic: topic, serialised: serialised, qos: qos, retain: retain, originShard: originShard, publisher: publisher,
            properties: properties, expiresAt: expiresAt)
    }

    public convenience init(
        topic: String, payload: [UInt8], qos: QoS, retain: Bool, originShard: Int = -1, properties: [UInt8] = [],
        expiresAt: UInt64 = 0
    ) {
        var topic = topic
        let serialised = payload.withUnsafeBytes { Self.serialise(topic: &topic, payload: $0) }
        self.init(
            topic: topic, serialised: serialised, qos: qos, retain: retain, originShard: originShard, publisher: 0,
            properties: properties, expiresAt: expiresAt)
    }

    private init(
        topic: String, serialised: (packet: UnsafeRawBufferPointer, headerCount: Int), qos: QoS, retain: Bool,
        originShard: Int, publisher: ConnectionID, properties: [UInt8], expiresAt: UInt64
    ) {
        self.properties = properties
        self.expiresAt = expiresAt
        self.topic = topic
        self.qos0Packet = serialised.packet
        self.payload = UnsafeRawBufferPointer(rebasing: serialised.packet[serialised.headerCount...])
        self.qos = qos
        self.retain = retain
        self.originShard = originShard
        self.publisher = publisher
    }

    /// Allocates and writes the QoS 0 PUBLISH packet; returns it and the length of its header.
    private static func serialise(topic: inout String, payload: UnsafeRawBufferPointer) -> (packet: UnsafeRawBufferPointer, headerCount: Int) {
        topic.withUTF8 { topicBytes in
            let topicView = ByteView(UnsafeRawBufferPointer(topicBytes))
            let headerCount = PublishEncoder.headerSize(topicCount: topicView.count, payloadCount: payload.count, qos: .atMostOnce)
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: headerCount + payload.count, alignment: 1)
            let written = PublishEncoder.writeHeader(
                topic: topicView, payloadCount: payload.count, qos: .atMostOnce, to: storage.baseAddress!)
            precondition(written == headerCount, "PUBLISH header size mismatch")
            if payload.count > 0 {
                (storage.baseAddress! + headerCount).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
            }
            return (UnsafeRawBufferPointer(storage), headerCount)
        }
    }

    deinit { qos0Packet.deallocate() }

    /// The clock `expiresAt` counts in, read off the loops (the cluster bus): CLOCK_MONOTONIC in
    /// milliseconds, which is what libuv's loop time (`uv_now`) is.
    public static var monotonicMilliseconds: UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1000 + UInt64(time.tv_nsec) / 1_000_000
    }

    /// Whether the message expired by `now` (loop clock, ms).
    @inline(__always)
    public func hasExpired(at now: UInt64) -> Bool { expiresAt != 0 && now >= expiresAt }

    /// The Message Expiry Interval to send at `now`: the whole seconds left, at least 1 (nil
    /// when the message never expires).
    public func remainingExpiry(at now: UInt64) -> UInt32? {
        guard expiresAt != 0 else { return nil }
        let left = expiresAt > now ? expiresAt - now : 0
        return UInt32(clamping: max(1, (left + 999) / 1000))
    }

    /// True for an empty retained publish, which clears the retained message of its topic.
    public var clearsRetained: Bool { retain && payload.isEmpty }
}
