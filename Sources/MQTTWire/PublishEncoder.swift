/// Encodes PUBLISH, whole or header only.
///
/// The header-only form (fixed header, topic, packet identifier) lets the broker serialise a
/// payload once and send it to every subscriber after a per-subscriber header, with a
/// vectored write.
public enum PublishEncoder {
    /// Bytes of everything but the payload.
    /// - Parameter propertiesSize: MQTT 5: the property block's size with its length
    ///   (`OutboundPublishProperties.encodedSize`); 0 for 3.1.1, which has none.
    public static func headerSize(topicCount: Int, payloadCount: Int, qos: QoS, propertiesSize: Int = 0) -> Int {
        let variableHeader = 2 + topicCount + (qos == .atMostOnce ? 0 : 2) + propertiesSize
        return FixedHeaderSize.of(remainingLength: variableHeader + payloadCount) + variableHeader
    }

    /// Bytes of the whole packet.
    public static func size(topicCount: Int, payloadCount: Int, qos: QoS) -> Int {
        headerSize(topicCount: topicCount, payloadCount: payloadCount, qos: qos) + payloadCount
    }

    /// Writes everything up to the payload for a payload of `payloadCount` bytes.
    /// - Parameter packetId: written only when `qos` is above 0.
    public static func writeHeader(
        topic: ByteView, payloadCount: Int, qos: QoS, retain: Bool = false, dup: Bool = false,
        packetId: UInt16 = 0, properties: OutboundPublishProperties? = nil, to destination: UnsafeMutableRawPointer
    ) -> Int {
        var flags = qos.rawValue << FixedHeaderFlags.publishQoSShift
        if retain { flags |= FixedHeaderFlags.publishRetain }
        if dup { flags |= FixedHeaderFlags.publishDup }
        let propertiesSize = properties?.encodedSize ?? 0
        let variableHeader = 2 + topic.count + (qos == .atMostOnce ? 0 : 2) + propertiesSize
        var writer = ByteWriter(
            destination,
            capacity: headerSize(topicCount: topic.count, payloadCount: payloadCount, qos: qos, propertiesSize: propertiesSize))
        writer.writeFixedHeader(PacketType.publish.rawValue << 4 | flags, remainingLength: variableHeader + payloadCount)
        writer.writeLengthPrefixed(topic)
        if qos != .atMostOnce { writer.writeUInt16(packetId) }
        properties?.write(into: &writer)
        return writer.writerIndex
    }

    /// Writes the whole packet.
    public static func write(
        topic: ByteView, payload: ByteView, qos: QoS, retain: Bool = false, dup: Bool = false,
        packetId: UInt16 = 0, to destination: UnsafeMutableRawPointer
    ) -> Int {
        let headerCount = writeHeader(
            topic: topic, payloadCount: payload.count, qos: qos, retain: retain, dup: dup,
            packetId: packetId, to: destination)
        var writer = ByteWriter(destination + headerCount, capacity: payload.count)
        writer.writeBytes(payload)
        return headerCount + writer.writerIndex
    }

    public static func encode(
        topic: [UInt8], payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false, dup: Bool = false,
        packetId: UInt16 = 0
    ) -> [UInt8] {
        withViews(of: [topic, payload]) { views in
            makeBytes(count: size(topicCount: topic.count, payloadCount: payload.count, qos: qos)) {
                write(topic: views[0], payload: views[1], qos: qos, retain: retain, dup: dup, packetId: packetId, to: $0)
            }
        }
    }

    public static func encodeHeader(
        topic: [UInt8], payloadCount: Int, qos: QoS = .atMostOnce, retain: Bool = false, dup: Bool = false,
        packetId: UInt16 = 0
    ) -> [UInt8] {
        withViews(of: [topic]) { views in
            makeBytes(count: headerSize(topicCount: topic.count, payloadCount: payloadCount, qos: qos)) {
                writeHeader(
                    topic: views[0], payloadCount: payloadCount, qos: qos, retain: retain, dup: dup,
                    packetId: packetId, to: $0)
            }
        }
    }
}
