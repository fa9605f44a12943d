/// Field readers that turn "not enough bytes" into the error for the packet being decoded:
/// inside a complete body, a missing byte means the packet is malformed, not incomplete.
extension ByteReader {
    mutating func readUInt8(in type: PacketType) throws(MQTTWireError) -> UInt8 {
        guard let value = readUInt8() else { throw .truncatedPacket(type) }
        return value
    }

    mutating func readUInt16(in type: PacketType) throws(MQTTWireError) -> UInt16 {
        guard let value = readUInt16() else { throw .truncatedPacket(type) }
        return value
    }

    mutating func readPacketIdentifier(in type: PacketType) throws(MQTTWireError) -> UInt16 {
        let value = try readUInt16(in: type)
        guard value != 0 else { throw .zeroPacketIdentifier(type) }
        return value
    }

    /// Binary data: a 2-byte length and the bytes, not validated.
    mutating func readBinary(in type: PacketType) throws(MQTTWireError) -> ByteView {
        guard let value = readLengthPrefixedBytes() else { throw .truncatedPacket(type) }
        return value
    }

    /// A UTF-8 encoded string, validated.
    mutating func readString(in type: PacketType) throws(MQTTWireError) -> ByteView {
        let value = try readBinary(in: type)
        try MQTTString.validate(value)
        return value
    }

    /// Throws if bytes are left after a packet's last field.
    func expectEnd(of type: PacketType) throws(MQTTWireError) {
        guard readableBytes == 0 else { throw .trailingBytes(type, count: readableBytes) }
    }
}
