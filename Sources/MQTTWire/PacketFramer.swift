/// Cuts complete packets off the front of a byte stream: the one framing loop, used by the
/// broker (`ShardEngine.receive`, over a connection's `ReceiveBuffer`) and by every test
/// client, verifier and fuzzer (`FrameAccumulator`), so what the tests replay is what the broker
/// runs. Each frame's fixed header is checked (`FrameHeader.check`) before its body is waited
/// for, so an oversize packet fails on its first bytes.
public enum PacketFramer {
    /// Hands each complete frame at the start of `bytes` to `handle`, in order, until the bytes
    /// end (an incomplete frame stays), `proceed` says stop before the next frame (it sees the
    /// bytes from there on), or `handle` returns false (its frame counts as consumed). Returns
    /// how many bytes the frames handed out took.
    /// - Throws: a frame header error (`FrameHeader.readHeader`); the stream is then broken.
    @inlinable
    public static func frames(
        in bytes: UnsafeRawBufferPointer, maxPacketSize: Int,
        proceed: (UnsafeRawBufferPointer) -> Bool,
        handle: (FrameHeader, UnsafeRawBufferPointer) -> Bool
    ) throws(MQTTWireError) -> Int {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            guard proceed(rest), let header = try FrameHeader.check(rest, maxPacketSize: maxPacketSize) else { break }
            offset += header.totalLength
            guard handle(header, header.body(in: rest)) else { break }
        }
        return offset
    }
}
