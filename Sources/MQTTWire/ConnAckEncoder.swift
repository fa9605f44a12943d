/// Encodes CONNACK (server → client).
public enum ConnAckEncoder {
    /// CONNACK is always 4 bytes.
    public static let size = 4

    public static func write(sessionPresent: Bool, returnCode: ConnectReturnCode, to destination: UnsafeMutableRawPointer) -> Int {
        var writer = ByteWriter(destination, capacity: size)
        writer.writeFixedHeader(PacketType.connack.rawValue << 4, remainingLength: 2)
        writer.writeUInt8(sessionPresent ? ConnAckFlags.sessionPresent : 0)
        writer.writeUInt8(returnCode.rawValue)
        return writer.writerIndex
    }

    public static func encode(sessionPresent: Bool, returnCode: ConnectReturnCode) -> [UInt8] {
        makeBytes(count: size) { write(sessionPresent: sessionPresent, returnCode: returnCode, to: $0) }
    }
}
