/// Encodes the packets that carry only a packet identifier: PUBACK, PUBREC, PUBREL, PUBCOMP
/// and UNSUBACK.
public enum AckEncoder {
    /// These packets are always 4 bytes.
    public static let size = 4

    /// - Parameter type: `.puback`, `.pubrec`, `.pubrel`, `.pubcomp` or `.unsuback`.
    public static func write(_ type: PacketType, packetId: UInt16, to destination: UnsafeMutableRawPointer) -> Int {
        switch type {
        case .puback, .pubrec, .pubrel, .pubcomp, .unsuback: break
        default: preconditionFailure("\(type) is not an acknowledgement carrying only a packet identifier")
        }
        var writer = ByteWriter(destination, capacity: size)
        writer.writeFixedHeader(type.rawValue << 4 | type.requiredFlags, remainingLength: 2)
        writer.writeUInt16(packetId)
        return writer.writerIndex
    }

    public static func encode(_ type: PacketType, packetId: UInt16) -> [UInt8] {
        makeBytes(count: size) { write(type, packetId: packetId, to: $0) }
    }
}
