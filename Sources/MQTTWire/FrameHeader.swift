/// The fixed header of one packet, read before the body so that an oversize packet is
/// rejected before the broker waits for, or allocates room for, its body.
public struct FrameHeader: Equatable, Sendable {
    /// The first byte as received: type in the high nibble, flags in the low one.
    public let typeAndFlags: UInt8
    public let type: PacketType
    /// The low nibble of the first byte.
    public let flags: UInt8
    /// Length of the body (variable header + payload).
    public let remainingLength: Int
    /// Length of the fixed header: 1 byte plus 1...4 bytes of remaining length.
    public let headerLength: Int
    /// `headerLength + remainingLength`: the bytes the whole packet occupies.
    public let totalLength: Int

    public init(typeAndFlags: UInt8, type: PacketType, remainingLength: Int, headerLength: Int) {
        self.typeAndFlags = typeAndFlags
        self.type = type
        self.flags = typeAndFlags & 0x0F
        self.remainingLength = remainingLength
        self.headerLength = headerLength
        self.totalLength = headerLength + remainingLength
    }

    /// Reads the fixed header at the start of `bytes`, without requiring the body.
    /// - Returns: the header, or nil if `bytes` ends inside the fixed header.
    /// - Throws: `.invalidPacketType` for types 0 and 15, `.malformedRemainingLength`, and
    ///   `.packetTooLarge` as soon as the remaining length is known to be too large.
    public static func readHeader(
        _ bytes: UnsafeRawBufferPointer, maxPacketSize: Int
    ) throws(MQTTWireError) -> FrameHeader? {
        guard let first = bytes.first else { return nil }
        guard let type = PacketType(rawValue: first >> 4) else {
            throw .invalidPacketType(first >> 4)
        }
        guard let (remainingLength, lengthBytes) = try VariableLengthInteger.decode(from: bytes, at: 1) else {
            return nil
        }
        let headerLength = 1 + lengthBytes
        let size = headerLength + remainingLength
        guard size <= maxPacketSize else {
            throw .packetTooLarge(size: size, limit: maxPacketSize)
        }
        return FrameHeader(
            typeAndFlags: first, type: type, remainingLength: remainingLength, headerLength: headerLength)
    }

    /// Checks for one complete packet at the start of `bytes`.
    /// - Returns: the header once all `totalLength` bytes are present; nil while more bytes are
    ///   needed (the header may already be complete: `readHeader` tells how many).
    /// - Throws: as `readHeader`, and before the body has arrived.
    public static func check(
        _ bytes: UnsafeRawBufferPointer, maxPacketSize: Int
    ) throws(MQTTWireError) -> FrameHeader? {
        guard let header = try readHeader(bytes, maxPacketSize: maxPacketSize),
              header.totalLength <= bytes.count
        else { return nil }
        return header
    }

    /// The body of the packet whose header this is, from a buffer that starts with the packet
    /// and holds at least `totalLength` bytes. The view borrows from `bytes`.
    public func body(in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        precondition(bytes.count >= totalLength, "buffer shorter than the packet")
        return UnsafeRawBufferPointer(rebasing: bytes[headerLength..<totalLength])
    }
}
