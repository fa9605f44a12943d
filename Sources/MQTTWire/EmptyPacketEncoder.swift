/// Encodes the packets with no body: PINGREQ, PINGRESP and DISCONNECT.
public enum EmptyPacketEncoder {
    /// These packets are always 2 bytes.
    public static let size = 2

    /// - Parameter type: `.pingreq`, `.pingresp` or `.disconnect`.
    public static func write(_ type: PacketType, to destination: UnsafeMutableRawPointer) -> Int {
        switch type {
        case .pingreq, .pingresp, .disconnect: break
        default: preconditionFailure("\(type) has a body")
        }
        var writer = ByteWriter(destination, capacity: size)
        writer.writeFixedHeader(type.rawValue << 4, remainingLength: 0)
        return writer.writerIndex
    }

    public static func encode(_ type: PacketType) -> [UInt8] {
        makeBytes(count: size) { write(type, to: $0) }
    }
}
