import MQTTWire

/// Decoding helpers for tests. Decoded packets borrow their buffer, so the packet is only
/// handed to a closure, never returned.
package enum WireDecoding {
    /// Decodes `bytes`, which must hold exactly one packet, and passes it to `body`.
    package static func withPacket<R>(
        _ bytes: [UInt8], protocolVersion: ProtocolVersion = .v3_1_1, maxPacketSize: Int = 1 << 20,
        _ body: (Packet) -> R
    ) throws(MQTTWireError) -> R {
        try bytes.withUnsafeWireBytes { buffer throws(MQTTWireError) in
            guard let header = try FrameHeader.check(buffer, maxPacketSize: maxPacketSize) else {
                preconditionFailure("test bytes hold an incomplete packet")
            }
            precondition(header.totalLength == buffer.count, "test bytes hold more than one packet")
            let packet = try Packet.decode(
                header: header, body: header.body(in: buffer), protocolVersion: protocolVersion)
            return body(packet)
        }
    }

    /// The error decoding `bytes` throws, or nil if they decode.
    package static func error(
        _ bytes: [UInt8], protocolVersion: ProtocolVersion = .v3_1_1, maxPacketSize: Int = 1 << 20
    ) -> MQTTWireError? {
        do throws(MQTTWireError) {
            try withPacket(bytes, protocolVersion: protocolVersion, maxPacketSize: maxPacketSize) { _ in }
            return nil
        } catch {
            return error
        }
    }

    /// Decodes one packet and encodes it again.
    package static func reencode(_ bytes: [UInt8], protocolVersion: ProtocolVersion = .v3_1_1) throws(MQTTWireError) -> [UInt8] {
        try withPacket(bytes, protocolVersion: protocolVersion) { $0.encoded() }
    }

}
