/// A CONNACK packet (MQTT 3.1.1 §3.2).
public struct ConnAck: Equatable, Sendable {
    public var sessionPresent: Bool
    public var returnCode: ConnectReturnCode

    public init(sessionPresent: Bool, returnCode: ConnectReturnCode) {
        self.sessionPresent = sessionPresent
        self.returnCode = returnCode
    }

    static func decode(flags: UInt8, body: UnsafeRawBufferPointer, lenientFlags: Bool) throws(MQTTWireError) -> ConnAck {
        let type = PacketType.connack
        guard lenientFlags || flags == 0 else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        var reader = ByteReader(body)
        let ackFlags = try reader.readUInt8(in: type)
        let code = try reader.readUInt8(in: type)
        try reader.expectEnd(of: type)
        guard ackFlags & ~ConnAckFlags.sessionPresent == 0 else { throw .invalidConnAckFlags(ackFlags) }
        guard let returnCode = ConnectReturnCode(rawValue: code) else { throw .invalidConnectReturnCode(code) }
        return ConnAck(sessionPresent: ackFlags & ConnAckFlags.sessionPresent != 0, returnCode: returnCode)
    }
}
