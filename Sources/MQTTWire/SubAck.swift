/// A SUBACK packet (MQTT 3.1.1 §3.9): one return code per requested filter, in order.
public struct SubAck: Equatable, Sendable {
    /// Never 0.
    public var packetId: UInt16
    public var returnCodes: [SubscribeReturnCode]

    public init(packetId: UInt16, returnCodes: [SubscribeReturnCode]) {
        self.packetId = packetId
        self.returnCodes = returnCodes
    }

    static func decode(flags: UInt8, body: UnsafeRawBufferPointer, lenientFlags: Bool) throws(MQTTWireError) -> SubAck {
        let type = PacketType.suback
        guard lenientFlags || flags == 0 else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        var reader = ByteReader(body)
        let packetId = try reader.readPacketIdentifier(in: type)
        guard reader.readableBytes > 0 else { throw .subAckWithoutReturnCodes }
        var codes: [SubscribeReturnCode] = []
        codes.reserveCapacity(reader.readableBytes)
        while let byte = reader.readUInt8() {
            guard let code = SubscribeReturnCode(rawValue: byte) else { throw .invalidSubscribeReturnCode(byte) }
            codes.append(code)
        }
        return SubAck(packetId: packetId, returnCodes: codes)
    }
}
