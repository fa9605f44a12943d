import MQTTWire

/// Replays one byte stream in every way the network may cut it (all at once, byte by byte,
/// packet by packet and in random pieces, seeded) through `FrameAccumulator.receive`, which
/// takes each piece as the broker's runtime takes a read: `ReceiveBuffer` (parsed in place
/// when nothing is held, the tail kept) and `PacketFramer`, the framing loop of
/// `ShardEngine.receive`. Each way must yield the same packets; packets are compared by their
/// re-encoded bytes, which both checks the encoders and survives the buffers they borrowed from.
package enum DecoderVerifier {
    /// A way of cutting the stream that decoded differently from all-at-once.
    package struct Mismatch: Error, CustomStringConvertible {
        package let strategy: String
        package let expected: [[UInt8]]
        package let actual: [[UInt8]]
        package var description: String {
            "\(strategy): \(actual.count) packets, expected \(expected.count); first difference at packet "
                + "\(zip(expected, actual).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(expected.count, actual.count))"
        }
    }

    /// A way of cutting the stream that threw.
    package struct DecodeFailure: Error, CustomStringConvertible {
        package let strategy: String
        package let error: MQTTWireError
        package var description: String { "\(strategy): \(error)" }
    }

    /// Verifies `stream` and returns its packets, re-encoded.
    /// - Parameter randomSplits: how many random cuttings to try, from `seed`.
    @discardableResult
    package static func verify(
        stream: [UInt8], maxPacketSize: Int = 1 << 20, seed: UInt64 = 0x5EED, randomSplits: Int = 25
    ) throws -> [[UInt8]] {
        let reference = try decode(strategy: "all at once", [stream], maxPacketSize: maxPacketSize)

        let bytes = stream.map { [$0] }
        try expect(reference, try decode(strategy: "byte by byte", bytes, maxPacketSize: maxPacketSize), "byte by byte")

        // Packet boundaries, from the stream's own framing.
        var packets: [[UInt8]] = []
        var offset = 0
        while offset < stream.count {
            let length = try stream[offset...].withUnsafeBytes { (buffer) throws -> Int in
                guard let header = try FrameHeader.check(buffer, maxPacketSize: maxPacketSize) else {
                    return buffer.count
                }
                return header.totalLength
            }
            packets.append(Array(stream[offset..<offset + length]))
            offset += length
        }
        try expect(reference, try decode(strategy: "packet by packet", packets, maxPacketSize: maxPacketSize), "packet by packet")

        var generator = SeededGenerator(seed: seed)
        for round in 0..<randomSplits {
            var pieces: [[UInt8]] = []
            var start = 0
            while start < stream.count {
                let length = Int.random(in: 1...max(1, min(64, stream.count - start)), using: &generator)
                pieces.append(Array(stream[start..<start + length]))
                start += length
            }
            let strategy = "random split \(round) (seed \(seed))"
            try expect(reference, try decode(strategy: strategy, pieces, maxPacketSize: maxPacketSize), strategy)
        }
        return reference
    }

    private static func expect(_ expected: [[UInt8]], _ actual: [[UInt8]], _ strategy: String) throws {
        guard expected == actual else { throw Mismatch(strategy: strategy, expected: expected, actual: actual) }
    }

    private static func decode(strategy: String, _ pieces: [[UInt8]], maxPacketSize: Int) throws -> [[UInt8]] {
        let accumulator = FrameAccumulator()
        var packets: [[UInt8]] = []
        do throws(MQTTWireError) {
            for piece in pieces {
                try accumulator.receive(contentsOf: piece, maxPacketSize: maxPacketSize) { packet in
                    packets.append(packet.encoded())
                }
            }
        } catch {
            throw DecodeFailure(strategy: strategy, error: error)
        }
        return packets
    }
}
