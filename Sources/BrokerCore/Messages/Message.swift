import MQTTWire

/// One application message as it travels through the broker: decoded once, its topic and
/// payload copied once out of the publisher's receive buffer, then shared (by reference)
/// by every subscriber on every shard. Immutable, so sharing across threads is safe.
public final class Message: @unchecked Sendable {
    /// The topic name, already validated as a 3.1.1 topic name.
    public let topic: String
    /// The payload bytes. Owned by this message; never mutated after init.
    public let payload: UnsafeRawBufferPointer
    /// QoS the publisher sent with; each subscriber gets min(this, its granted QoS).
    public let qos: QoS
    /// The RETAIN flag the publisher set.
    public let retain: Bool
    /// Shard that received it from a client (or -1 for broker-generated messages such as $SYS).
    public let originShard: Int

    public init(topic: String, payload: UnsafeRawBufferPointer, qos: QoS, retain: Bool, originShard: Int) {
        self.topic = topic
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: payload.count, alignment: 1)
        if payload.count > 0 { copy.copyMemory(from: payload) }
        self.payload = UnsafeRawBufferPointer(copy)
        self.qos = qos
        self.retain = retain
        self.originShard = originShard
    }

    public init(topic: String, payload: [UInt8], qos: QoS, retain: Bool, originShard: Int = -1) {
        self.topic = topic
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: payload.count, alignment: 1)
        payload.withUnsafeBytes { if $0.count > 0 { copy.copyMemory(from: $0) } }
        self.payload = UnsafeRawBufferPointer(copy)
        self.qos = qos
        self.retain = retain
        self.originShard = originShard
    }

    deinit { payload.deallocate() }

    /// True for an empty retained publish, which clears the retained message of its topic.
    public var clearsRetained: Bool { retain && payload.isEmpty }
}
