/// A client-side or test-side reader of one byte stream: bytes go through the broker's own
/// receive rule (`ReceiveBuffer`) and framing loop (`PacketFramer`) and come out as packets.
/// Used by tests, the fuzzers, `DecoderVerifier` and test clients.
public final class FrameAccumulator {
    private var buffer = ReceiveBuffer()
    /// Revision used to decode packets other than CONNECT. Set from the first CONNECT decoded
    /// (a server-side stream); set it yourself for a client-side stream.
    public var protocolVersion: ProtocolVersion

    public init(protocolVersion: ProtocolVersion = .v3_1_1) {
        self.protocolVersion = protocolVersion
    }

    /// Bytes received but not yet handed out as packets.
    public var bufferedBytes: Int { buffer.count }

    /// Feeds `bytes` exactly as the broker's runtime feeds a read (parsed in place when nothing
    /// is held) and calls `body` with each complete packet, in order. Packets borrow from the
    /// buffers: copy what must outlive `body`.
    ///
    /// A packet counts as consumed once handed to `body`, even if `body` throws. After an error
    /// the stream is broken: the caller closes the connection.
    public func receive(
        _ bytes: UnsafeRawBufferPointer, maxPacketSize: Int, _ body: (Packet) throws(MQTTWireError) -> Void
    ) throws(MQTTWireError) {
        var failure: MQTTWireError?
        var version = protocolVersion
        buffer.receive(bytes) { Self.decode($0, maxPacketSize: maxPacketSize, version: &version, failure: &failure, body) }
        protocolVersion = version
        if let failure { throw failure }
    }

    /// Same as `receive(_:maxPacketSize:_:)`, for owned bytes.
    public func receive(
        contentsOf bytes: [UInt8], maxPacketSize: Int, _ body: (Packet) throws(MQTTWireError) -> Void
    ) throws(MQTTWireError) {
        try bytes.withUnsafeWireBytes { raw throws(MQTTWireError) in try receive(raw, maxPacketSize: maxPacketSize, body) }
    }

    /// Keeps `bytes` without parsing them; `forEachPacket` parses what is kept.
    public func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(bytes)
    }

    public func append(contentsOf bytes: some Sequence<UInt8>) {
        Array(bytes).withUnsafeBytes { buffer.append($0) }
    }

    /// Decodes and calls `body` with each complete packet kept so far, in order.
    public func forEachPacket(
        maxPacketSize: Int, _ body: (Packet) throws(MQTTWireError) -> Void
    ) throws(MQTTWireError) {
        var failure: MQTTWireError?
        var version = protocolVersion
        buffer.parseHeld { Self.decode($0, maxPacketSize: maxPacketSize, version: &version, failure: &failure, body) }
        protocolVersion = version
        if let failure { throw failure }
    }

    /// Frames, decodes and hands out the packets at the start of `bytes`; returns the bytes
    /// consumed (the packets handed out, the failing one included). Stops at the first error,
    /// which it leaves in `failure`; a frame whose header is bad is not consumed.
    private static func decode(
        _ bytes: UnsafeRawBufferPointer, maxPacketSize: Int, version: inout ProtocolVersion,
        failure: inout MQTTWireError?, _ body: (Packet) throws(MQTTWireError) -> Void
    ) -> Int {
        var consumed = 0
        do throws(MQTTWireError) {
            return try PacketFramer.frames(in: bytes, maxPacketSize: maxPacketSize, proceed: { _ in true }) { header, frameBody in
                consumed += header.totalLength
                do throws(MQTTWireError) {
                    let packet = try Packet.decode(header: header, body: frameBody, protocolVersion: version)
                    if case let .connect(connect) = packet { version = connect.protocolVersion }
                    try body(packet)
                    return true
                } catch {
                    failure = error
                    return false
                }
            }
        } catch {
            failure = error
            return consumed
        }
    }
}
