/// Encodes SUBACK (server → client).
public enum SubAckEncoder {
    public static func size(returnCodeCount: Int) -> Int {
        let remaining = 2 + returnCodeCount
        return FixedHeaderSize.of(remainingLength: remaining) + remaining
    }

    public static func write(packetId: UInt16, returnCodes: [SubscribeReturnCode], to destination: UnsafeMutableRawPointer) -> Int {
        var writer = ByteWriter(destination, capacity: size(returnCodeCount: returnCodes.count))
        writer.writeFixedHeader(PacketType.suback.rawValue << 4, remainingLength: 2 + returnCodes.count)
        writer.writeUInt16(packetId)
        for code in returnCodes { writer.writeUInt8(code.rawValue) }
        return writer.writerIndex
    }

    public static func encode(packetId: UInt16, returnCodes: [SubscribeReturnCode]) -> [UInt8] {
        makeBytes(count: size(returnCodeCount: returnCodes.count)) {
            write(packetId: packetId, returnCodes: returnCodes, to: $0)
        }
    }
}
