/// Encoding a packet decoded under MQTT 5 back into MQTT 5's layout (properties, subscription
/// options, reason codes), for round-trip checks (the decoder fuzzer) and test clients. The
/// broker's own v5 packets are written by `ReasonPacketEncoder` and `PublishEncoder`.
extension Packet {
    /// The packet in `version`'s layout: MQTT 5's for CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE
    /// and a failed PUBREC under `.v5`, the 3.1.1 layout otherwise. Properties the decoder kept
    /// as views are written back as they came; those it dropped (user properties of SUBSCRIBE,
    /// UNSUBSCRIBE and acknowledgements) are left out.
    public func encoded(version: ProtocolVersion) -> [UInt8] {
        guard version == .v5 else { return encoded() }
        var body = BodyBytes()
        let first: UInt8
        switch self {
        case let .connect(connect):
            first = PacketType.connect.rawValue << 4
            body.string(Array(connect.protocolName))
            body.byte(connect.protocolLevel)
            var flags: UInt8 = connect.cleanSession ? ConnectFlags.cleanSession : 0
            if let will = connect.will {
                flags |= ConnectFlags.will | will.qos.rawValue << ConnectFlags.willQoSShift
                if will.retain { flags |= ConnectFlags.willRetain }
            }
            if connect.username != nil { flags |= ConnectFlags.username }
            if connect.password != nil { flags |= ConnectFlags.password }
            body.byte(flags)
            body.uint16(connect.keepAlive)
            body.properties(connect.properties.bytes)
            body.string(Array(connect.clientId))
            if let will = connect.will {
                body.properties(will.properties.bytes)
                body.string(Array(will.topic))
                body.string(Array(will.payload))
            }
            if let username = connect.username { body.string(Array(username)) }
            if let password = connect.password { body.string(Array(password)) }
        case let .publish(publish):
            var flags = publish.qos.rawValue << FixedHeaderFlags.publishQoSShift
            if publish.retain { flags |= FixedHeaderFlags.publishRetain }
            if publish.dup { flags |= FixedHeaderFlags.publishDup }
            first = PacketType.publish.rawValue << 4 | flags
            body.string(Array(publish.topic))
            if let packetId = publish.packetId { body.uint16(packetId) }
            body.properties(publish.properties.bytes)
            body.bytes += publish.payload
        case let .subscribe(subscribe):
            first = PacketType.subscribe.rawValue << 4 | PacketType.subscribe.requiredFlags
            body.uint16(subscribe.packetId)
            var properties = PropertyBuilder()
            if subscribe.subscriptionIdentifier != 0 {
                properties.variableByteInteger(.subscriptionIdentifier, subscribe.subscriptionIdentifier)
            }
            body.properties(properties.bytes)
            for request in subscribe.filters {
                body.string(Array(request.filter))
                body.byte(request.options.byte)
            }
        case let .unsubscribe(unsubscribe):
            first = PacketType.unsubscribe.rawValue << 4 | PacketType.unsubscribe.requiredFlags
            body.uint16(unsubscribe.packetId)
            body.properties([])
            for filter in unsubscribe.filters { body.string(Array(filter)) }
        case let .pubrecFailed(packetId):
            return ReasonPacketEncoder.acknowledgement(.pubrec, packetId: packetId, reason: .unspecifiedError)
        default:
            return encoded()
        }
        var packet: [UInt8] = [first]
        var length = [UInt8](repeating: 0, count: VariableLengthInteger.maxByteCount)
        let count = length.withUnsafeMutableBytes { VariableLengthInteger.write(body.bytes.count, to: $0.baseAddress!) }
        packet += length[..<count]
        return packet + body.bytes
    }
}

/// A packet body written field by field (cold path: test clients and round trips).
private struct BodyBytes {
    var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func uint16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func string(_ value: [UInt8]) {
        uint16(UInt16(value.count))
        bytes += value
    }

    mutating func properties(_ block: some Collection<UInt8>) {
        var length = [UInt8](repeating: 0, count: VariableLengthInteger.maxByteCount)
        let count = length.withUnsafeMutableBytes { VariableLengthInteger.write(block.count, to: $0.baseAddress!) }
        bytes += length[..<count]
        bytes += block
    }
}
