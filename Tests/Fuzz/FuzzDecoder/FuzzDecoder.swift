import MQTTWire

/// libFuzzer entry point for the decoder (built only by Tests/Fuzz/run.sh).
///
/// The input is a byte stream. It is decoded twice under each protocol version: directly from
/// libFuzzer's exactly-sized buffer (so AddressSanitizer sees any over-read), and in small
/// pieces through `FrameAccumulator.receive`, the broker's own receive rule and framing loop
/// (`ReceiveBuffer`, `PacketFramer`). Both must give the same packets, and every packet
/// must survive encode → decode → encode unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for version in ProtocolVersion.allCases {
        let direct = decodeDirectly(input, version: version)
        let pieceSize = 1 + size % 13
        let accumulated = decodeInPieces(input, pieceSize: pieceSize, version: version)
        guard direct.packets == accumulated.packets, direct.error == accumulated.error else {
            fatalError("direct and accumulated decoding differ (\(direct.error as Any) vs \(accumulated.error as Any))")
        }
    }
    return 0
}

private let maxPacketSize = 1 << 16

private struct Outcome {
    var packets: [[UInt8]] = []
    var error: MQTTWireError?
}

/// Decodes packets from the start of `input` until the end, a partial packet or an error.
private func decodeDirectly(_ input: UnsafeRawBufferPointer, version: ProtocolVersion) -> Outcome {
    var outcome = Outcome()
    var offset = 0
    var version = version
    do throws(MQTTWireError) {
        while offset < input.count {
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            guard let header = try FrameHeader.check(rest, maxPacketSize: maxPacketSize) else { break }
            let packet = try Packet.decode(header: header, body: header.body(in: rest), protocolVersion: version)
            if case let .connect(connect) = packet { version = connect.protocolVersion }
            outcome.packets.append(checkRoundTrip(packet, version: version))
            offset += header.totalLength
        }
    } catch {
        outcome.error = error
    }
    return outcome
}

private func decodeInPieces(_ input: UnsafeRawBufferPointer, pieceSize: Int, version: ProtocolVersion) -> Outcome {
    var outcome = Outcome()
    let accumulator = FrameAccumulator(protocolVersion: version)
    var current = version
    var offset = 0
    do throws(MQTTWireError) {
        while offset < input.count {
            let end = min(input.count, offset + pieceSize)
            let piece = UnsafeRawBufferPointer(rebasing: input[offset..<end])
            offset = end
            // The accumulator switches versions on CONNECT; mirror it, as the closure may
            // not read the accumulator while it is being mutated.
            try accumulator.receive(piece, maxPacketSize: maxPacketSize) { packet in
                if case let .connect(connect) = packet { current = connect.protocolVersion }
                outcome.packets.append(checkRoundTrip(packet, version: current))
            }
        }
    } catch {
        outcome.error = error
    }
    return outcome
}

/// Encodes `packet`, decodes the bytes, and requires the same packet and the same bytes again.
private func checkRoundTrip(_ packet: Packet, version: ProtocolVersion) -> [UInt8] {
    let encoded = packet.encoded(version: version)
    guard version == .v5 || encoded.count == packet.encodedSize else { fatalError("encodedSize disagrees with encode") }
    encoded.withUnsafeBytes { buffer in
        do throws(MQTTWireError) {
            guard let header = try FrameHeader.check(buffer, maxPacketSize: .max), header.totalLength == buffer.count else {
                fatalError("re-encoded packet is not one complete frame")
            }
            let again = try Packet.decode(header: header, body: header.body(in: buffer), protocolVersion: version)
            guard again == packet else { fatalError("re-decoded packet differs: \(again) vs \(packet)") }
            guard again.encoded(version: version) == encoded else { fatalError("second encoding differs") }
        } catch {
            fatalError("re-encoded packet does not decode: \(error)")
        }
    }
    return encoded
}
