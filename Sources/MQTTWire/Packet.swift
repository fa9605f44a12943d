/// Every MQTT control packet (3.1, 3.1.1 and 5.0), decoded. Packets borrow from the buffer they were decoded
/// from (see `ByteView`): handle them, or copy what must be kept, before that buffer changes.
public enum Packet: Equatable {
    /// Boxed: CONNECT is large (MQTT 5 properties, will) and rare, and every other packet is
    /// copied as a `Packet` while it is decoded and handled.
    indirect case connect(Connect)
    case connack(ConnAck)
    case publish(Publish)
    case puback(UInt16)
    case pubrec(UInt16)
    /// MQTT 5: a PUBREC whose reason code reports a failure; the QoS 2 exchange ends there.
    case pubrecFailed(UInt16)
    case pubrel(UInt16)
    case pubcomp(UInt16)
    case subscribe(Subscribe)
    case suback(SubAck)
    case unsubscribe(Unsubscribe)
    case unsuback(UInt16)
    case pingreq
    case pingresp
    case disconnect(Disconnect)
    /// MQTT 5 only.
    case auth(Auth)

    public var type: PacketType {
        switch self {
        case .connect: .connect
        case .connack: .connack
        case .publish: .publish
        case .puback: .puback
        case .pubrec, .pubrecFailed: .pubrec
        case .pubrel: .pubrel
        case .pubcomp: .pubcomp
        case .subscribe: .subscribe
        case .suback: .suback
        case .unsubscribe: .unsubscribe
        case .unsuback: .unsuback
        case .pingreq: .pingreq
        case .pingresp: .pingresp
        case .disconnect: .disconnect
        case .auth: .auth
        }
    }

    /// Parses the body of a packet whose fixed header `FrameHeader.check` accepted.
    ///
    /// - Parameters:
    ///   - body: exactly `header.remainingLength` bytes; the packet borrows from them.
    ///   - protocolVersion: the connection's revision once CONNECT has been read. For 3.1
    ///     clients the fixed-header flags of packets other than PUBLISH and CONNECT are not
    ///     checked, as Mosquitto does (3.1 did not reserve them).
    ///   - maxTopicLevels: the most levels a PUBLISH topic may have (`limits.max_topic_levels`);
    ///     a deeper one throws `tooManyTopicLevels`. A will topic's count is kept in `Will`
    ///     (its CONNECT gets the broker's other checks first), and filters are not limited here
    ///     (a filter too deep is refused in its SUBACK, not by closing).
    public static func decode(
        header: FrameHeader, body: UnsafeRawBufferPointer, protocolVersion: ProtocolVersion = .v3_1_1,
        maxTopicLevels: Int = .max
    ) throws(MQTTWireError) -> Packet {
        precondition(body.count == header.remainingLength, "body must be exactly remainingLength bytes")
        let flags = header.flags
        let lenient = protocolVersion == .v3_1
        if protocolVersion == .v5 {
            if let packet = try decodeV5(header: header, body: body, maxTopicLevels: maxTopicLevels) { return packet }
        }
        switch header.type {
        case .connect:
            return .connect(try Connect.decode(flags: flags, body: body))
        case .connack:
            return .connack(try ConnAck.decode(flags: flags, body: body, lenientFlags: lenient))
        case .publish:
            return .publish(try Publish.decode(flags: flags, body: body, maxTopicLevels: maxTopicLevels, version: protocolVersion))
        case .puback:
            return .puback(try decodeAck(.puback, flags: flags, body: body, lenientFlags: lenient))
        case .pubrec:
            return .pubrec(try decodeAck(.pubrec, flags: flags, body: body, lenientFlags: lenient))
        case .pubrel:
            return .pubrel(try decodeAck(.pubrel, flags: flags, body: body, lenientFlags: lenient))
        case .pubcomp:
            return .pubcomp(try decodeAck(.pubcomp, flags: flags, body: body, lenientFlags: lenient))
        case .subscribe:
            return .subscribe(try Subscribe.decode(flags: flags, body: body, lenientFlags: lenient))
        case .suback:
            return .suback(try SubAck.decode(flags: flags, body: body, lenientFlags: lenient))
        case .unsubscribe:
            return .unsubscribe(try Unsubscribe.decode(flags: flags, body: body, lenientFlags: lenient))
        case .unsuback:
            return .unsuback(try decodeAck(.unsuback, flags: flags, body: body, lenientFlags: lenient))
        case .pingreq:
            try decodeEmpty(.pingreq, flags: flags, body: body, lenientFlags: lenient)
            return .pingreq
        case .pingresp:
            try decodeEmpty(.pingresp, flags: flags, body: body, lenientFlags: lenient)
            return .pingresp
        case .disconnect:
            try decodeEmpty(.disconnect, flags: flags, body: body, lenientFlags: lenient)
            return .disconnect(.normal)
        case .auth:
            throw .invalidPacketType(PacketType.auth.rawValue)
        }
    }

    /// The packets whose MQTT 5 layout differs from 3.1.1 (reason codes, properties,
    /// subscription options); nil for the others, which decode as in 3.1.1.
    private static func decodeV5(
        header: FrameHeader, body: UnsafeRawBufferPointer, maxTopicLevels: Int
    ) throws(MQTTWireError) -> Packet? {
        let flags = header.flags
        switch header.type {
        case .publish:
            return .publish(try Publish.decode(flags: flags, body: body, maxTopicLevels: maxTopicLevels, version: .v5))
        case .puback, .pubrec, .pubrel, .pubcomp:
            let type = header.type
            guard flags == type.requiredFlags else { throw .invalidFixedHeaderFlags(type, flags: flags) }
            var reader = ByteReader(body)
            let packetId = try reader.readPacketIdentifier(in: type)
            var reason = ReasonCode.success
            if reader.readableBytes > 0 { reason = ReasonCode(rawValue: try reader.readUInt8(in: type)) }
            if reader.readableBytes > 0 { _ = try Properties.decode(from: &reader, in: .acknowledgement, packet: type) }
            try reader.expectEnd(of: type)
            switch type {
            case .puback: return .puback(packetId)
            case .pubrec: return reason.isFailure ? .pubrecFailed(packetId) : .pubrec(packetId)
            case .pubrel: return .pubrel(packetId)
            default: return .pubcomp(packetId)
            }
        case .subscribe:
            return .subscribe(try Subscribe.decode(flags: flags, body: body, lenientFlags: false, version: .v5))
        case .unsubscribe:
            return .unsubscribe(try Unsubscribe.decode(flags: flags, body: body, lenientFlags: false, version: .v5))
        case .disconnect:
            return .disconnect(try Disconnect.decode(flags: flags, body: body))
        case .auth:
            return .auth(try Auth.decode(flags: flags, body: body))
        default:
            return nil
        }
    }

    /// Decodes the single complete packet that `frame` holds (fixed header included).
    public static func decode(
        frame: UnsafeRawBufferPointer, maxPacketSize: Int, protocolVersion: ProtocolVersion = .v3_1_1
    ) throws(MQTTWireError) -> Packet? {
        guard let header = try FrameHeader.check(frame, maxPacketSize: maxPacketSize) else { return nil }
        return try decode(header: header, body: header.body(in: frame), protocolVersion: protocolVersion)
    }

    /// PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK share one layout: a packet identifier.
    private static func decodeAck(
        _ type: PacketType, flags: UInt8, body: UnsafeRawBufferPointer, lenientFlags: Bool
    ) throws(MQTTWireError) -> UInt16 {
        guard lenientFlags || flags == type.requiredFlags else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        var reader = ByteReader(body)
        let packetId = try reader.readPacketIdentifier(in: type)
        try reader.expectEnd(of: type)
        return packetId
    }

    /// PINGREQ, PINGRESP and DISCONNECT have no body.
    private static func decodeEmpty(
        _ type: PacketType, flags: UInt8, body: UnsafeRawBufferPointer, lenientFlags: Bool
    ) throws(MQTTWireError) {
        guard lenientFlags || flags == 0 else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        guard body.isEmpty else { throw .trailingBytes(type, count: body.count) }
    }
}
