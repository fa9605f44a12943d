/// Builds an MQTT 5 property block for the packets the broker sends off the hot path (CONNACK,
/// DISCONNECT, acknowledgements with a reason string, AUTH). PUBLISH properties are written in
/// place by `PublishEncoder`.
public struct PropertyBuilder: Equatable, Sendable {
    /// The encoded properties, without the length in front.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public var isEmpty: Bool { bytes.isEmpty }

    public mutating func byte(_ id: PropertyID, _ value: UInt8) {
        bytes.append(id.rawValue)
        bytes.append(value)
    }

    public mutating func twoByteInteger(_ id: PropertyID, _ value: UInt16) {
        bytes.append(id.rawValue)
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    public mutating func fourByteInteger(_ id: PropertyID, _ value: UInt32) {
        bytes.append(id.rawValue)
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }

    public mutating func variableByteInteger(_ id: PropertyID, _ value: UInt32) {
        bytes.append(id.rawValue)
        var scratch = [UInt8](repeating: 0, count: VariableLengthInteger.maxByteCount)
        let count = scratch.withUnsafeMutableBytes { VariableLengthInteger.write(Int(value), to: $0.baseAddress!) }
        bytes.append(contentsOf: scratch[..<count])
    }

    /// A UTF-8 string or binary data property, cut at 65,535 bytes.
    public mutating func string(_ id: PropertyID, _ value: some Collection<UInt8>) {
        bytes.append(id.rawValue)
        appendLengthPrefixed(value)
    }

    public mutating func userProperty(_ key: String, _ value: String) {
        bytes.append(PropertyID.userProperty.rawValue)
        appendLengthPrefixed(key.utf8)
        appendLengthPrefixed(value.utf8)
    }

    private mutating func appendLengthPrefixed(_ value: some Collection<UInt8>) {
        let count = min(value.count, Int(UInt16.max))
        bytes.append(UInt8(count >> 8))
        bytes.append(UInt8(count & 0xFF))
        bytes.append(contentsOf: value.prefix(count))
    }

    /// Bytes of the block with its length in front.
    public var encodedSize: Int { VariableLengthInteger.encodedLength(bytes.count) + bytes.count }

    /// Writes the length and the properties.
    func write(into writer: inout ByteWriter) {
        writer.writeVariableLengthInteger(bytes.count)
        bytes.withUnsafeBytes { writer.writeBytes(ByteView($0)) }
    }
}

/// Encodes the MQTT 5 forms of the packets the broker sends with a reason code: CONNACK,
/// PUBACK/PUBREC/PUBREL/PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and AUTH (MQTT 5.0 §3).
public enum ReasonPacketEncoder {
    /// CONNACK: acknowledge flags, reason code, properties.
    public static func connack(sessionPresent: Bool, reason: ReasonCode, properties: PropertyBuilder) -> [UInt8] {
        packet(PacketType.connack.rawValue << 4, remaining: 2 + properties.encodedSize) { writer in
            writer.writeUInt8(sessionPresent ? ConnAckFlags.sessionPresent : 0)
            writer.writeUInt8(reason.rawValue)
            properties.write(into: &writer)
        }
    }

    /// PUBACK, PUBREC, PUBREL or PUBCOMP. Success without properties is the 4-byte 3.1.1 form
    /// (§3.4.2.1 lets the reason code be left out).
    public static func acknowledgement(
        _ type: PacketType, packetId: UInt16, reason: ReasonCode, properties: PropertyBuilder = PropertyBuilder()
    ) -> [UInt8] {
        if reason == .success && properties.isEmpty { return AckEncoder.encode(type, packetId: packetId) }
        let propertyBytes = properties.isEmpty ? 0 : properties.encodedSize
        return packet(type.rawValue << 4 | type.requiredFlags, remaining: 3 + propertyBytes) { writer in
            writer.writeUInt16(packetId)
            writer.writeUInt8(reason.rawValue)
            if !properties.isEmpty { properties.write(into: &writer) }
        }
    }

    /// SUBACK or UNSUBACK: packet identifier, properties, one reason code per filter.
    public static func subscriptionAck(
        _ type: PacketType, packetId: UInt16, reasons: [ReasonCode], properties: PropertyBuilder = PropertyBuilder()
    ) -> [UInt8] {
        packet(type.rawValue << 4, remaining: 2 + properties.encodedSize + reasons.count) { writer in
            writer.writeUInt16(packetId)
            properties.write(into: &writer)
            for reason in reasons { writer.writeUInt8(reason.rawValue) }
        }
    }

    /// DISCONNECT or AUTH: reason code and properties (both left out for a plain success).
    public static func reasonOnly(_ type: PacketType, reason: ReasonCode, properties: PropertyBuilder = PropertyBuilder()) -> [UInt8] {
        if reason == .success && properties.isEmpty { return [type.rawValue << 4, 0] }
        return packet(type.rawValue << 4, remaining: 1 + properties.encodedSize) { writer in
            writer.writeUInt8(reason.rawValue)
            properties.write(into: &writer)
        }
    }

    private static func packet(_ typeAndFlags: UInt8, remaining: Int, body: (inout ByteWriter) -> Void) -> [UInt8] {
        makeBytes(count: FixedHeaderSize.of(remainingLength: remaining) + remaining) { destination in
            var writer = ByteWriter(destination)
            writer.writeFixedHeader(typeAndFlags, remainingLength: remaining)
            body(&writer)
            return writer.writerIndex
        }
    }
}
