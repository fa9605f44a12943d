/// A small growable receive buffer that cuts a byte stream into packets.
///
/// Bytes arrive in arbitrary pieces (`append`); `forEachPacket` hands out every complete
/// packet and then drops the consumed bytes, keeping a partial packet for the next call.
/// Used by tests, the fuzzer and test clients; the broker's runtime keeps its own buffer.
public struct FrameAccumulator {
    private var storage: [UInt8] = []
    /// Revision used to decode packets other than CONNECT. Set from the first CONNECT decoded
    /// (a server-side stream); set it yourself for a client-side stream.
    public var protocolVersion: ProtocolVersion

    public init(protocolVersion: ProtocolVersion = .v3_1_1) {
        self.protocolVersion = protocolVersion
    }

    /// Bytes received but not yet handed out as packets.
    public var bufferedBytes: Int { storage.count }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        storage.append(contentsOf: bytes)
    }

    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        storage.append(contentsOf: bytes)
    }

    /// Calls `body` with each complete frame's header and body, in order. The body borrows
    /// from the accumulator: do not let it escape `body`.
    ///
    /// A frame counts as consumed once handed to `body`, even if `body` throws. After an error
    /// the stream is broken: the caller closes the connection.
    public mutating func forEachFrame(
        maxPacketSize: Int, _ body: (FrameHeader, UnsafeRawBufferPointer) throws(MQTTWireError) -> Void
    ) throws(MQTTWireError) {
        var consumed = 0
        var failure: MQTTWireError?
        storage.withUnsafeBytes { all in
            while consumed < all.count {
                let rest = UnsafeRawBufferPointer(rebasing: all[consumed...])
                do throws(MQTTWireError) {
                    guard let header = try FrameHeader.check(rest, maxPacketSize: maxPacketSize) else { return }
                    consumed += header.totalLength
                    try body(header, header.body(in: rest))
                } catch {
                    failure = error
                    return
                }
            }
        }
        // Compact: the unconsumed tail (a partial packet) moves to the front.
        storage.removeFirst(consumed)
        if let failure { throw failure }
    }

    /// Decodes and calls `body` with each complete packet, in order. Packets borrow from the
    /// accumulator: copy what must outlive `body`.
    public mutating func forEachPacket(
        maxPacketSize: Int, _ body: (Packet) throws(MQTTWireError) -> Void
    ) throws(MQTTWireError) {
        var version = protocolVersion
        defer { protocolVersion = version }
        try forEachFrame(maxPacketSize: maxPacketSize) { (header, frameBody) throws(MQTTWireError) in
            let packet = try Packet.decode(header: header, body: frameBody, protocolVersion: version)
            if case let .connect(connect) = packet { version = connect.protocolVersion }
            try body(packet)
        }
    }
}
