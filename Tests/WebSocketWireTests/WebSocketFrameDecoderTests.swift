import Testing
import WebSocketWire

/// A masked client frame, as a browser or paho would send it.
func clientFrame(
    _ opcode: UInt8, _ payload: [UInt8], final: Bool = true, masked: Bool = true,
    mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D], rsv: UInt8 = 0
) -> [UInt8] {
    var bytes: [UInt8] = [(final ? 0x80 : 0) | rsv | opcode]
    let maskBit: UInt8 = masked ? 0x80 : 0
    if payload.count < 126 {
        bytes.append(maskBit | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        bytes += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
        bytes.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: payload.count >> shift)) }
    }
    if masked {
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    } else {
        bytes += payload
    }
    return bytes
}

/// Everything a decoder reported for a stream fed in the given pieces.
struct Decoded: Equatable {
    var data: [UInt8] = []
    var events: [String] = []
    var error: WebSocketFrameError?
}

func decode(_ stream: [UInt8], splits: [Int] = [], limit: UInt64 = 1 << 20) -> Decoded {
    var decoder = WebSocketFrameDecoder(maxFramePayload: limit)
    var result = Decoded()
    var cuts = splits.filter { $0 > 0 && $0 < stream.count }.sorted()
    cuts.append(stream.count)
    var start = 0
    for end in cuts where end >= start {
        var piece = Array(stream[start..<end])
        start = end
        let outcome = piece.withUnsafeMutableBytes { bytes in
            Result { () throws(WebSocketFrameError) in
                try decoder.decode(bytes) { event in
                    switch event {
                    case .data(let chunk): result.data += chunk
                    case .ping(let payload): result.events.append("ping \(payload)")
                    case .pong: result.events.append("pong")
                    case .close(let code): result.events.append("close \(code.map(String.init) ?? "none")")
                    }
                }
            }
        }
        if case .failure(let error) = outcome {
            result.error = error
            return result
        }
    }
    return result
}

let connectPacket: [UInt8] = [0x10, 12, 0, 4, 0x4D, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 0]

@Suite struct WebSocketFrameDecoderTests {
    @Test func binaryFrameIsUnmasked() {
        #expect(decode(clientFrame(2, connectPacket)) == Decoded(data: connectPacket))
    }

    @Test func streamSplitAtEveryPointGivesTheSameResult() {
        let stream = clientFrame(2, Array(connectPacket[..<5])) + clientFrame(9, [1, 2, 3])
            + clientFrame(2, Array(connectPacket[5...]) + Array(repeating: 0xAB, count: 300))
            + clientFrame(10, []) + clientFrame(2, Array(repeating: 7, count: 70_000))
        let whole = decode(stream)
        #expect(whole.error == nil)
        #expect(whole.data.count == connectPacket.count + 300 + 70_000)
        #expect(whole.events == ["ping [1, 2, 3]", "pong"])
        for cut in 1..<stream.count where cut < 400 || cut % 997 == 0 {
            #expect(decode(stream, splits: [cut]) == whole, "split at \(cut)")
        }
        #expect(decode(stream, splits: Array(1..<stream.count)) == whole, "byte by byte")
    }

    @Test func severalPacketsInOneFrameAndOnePacketOverSeveralFrames() {
        let two = connectPacket + [0xC0, 0]
        #expect(decode(clientFrame(2, two)).data == two)
        let split = clientFrame(2, Array(connectPacket[..<3])) + clientFrame(2, Array(connectPacket[3...]))
        #expect(decode(split).data == connectPacket)
    }

    @Test func fragmentedMessageWithControlFrameInBetween() {
        let stream = clientFrame(2, [1, 2], final: false) + clientFrame(9, [9]) + clientFrame(0, [3], final: false)
            + clientFrame(0, [4], final: true)
        #expect(decode(stream) == Decoded(data: [1, 2, 3, 4], events: ["ping [9]"]))
    }

    @Test func continuationWithoutMessageIsProtocolError() {
        #expect(decode(clientFrame(0, [1])).error?.code == .protocolError)
    }

    @Test func newMessageInsideFragmentedOneIsProtocolError() {
        #expect(decode(clientFrame(2, [1], final: false) + clientFrame(2, [2])).error?.code == .protocolError)
    }

    @Test func unmaskedFrameIsProtocolError() {
        #expect(decode(clientFrame(2, connectPacket, masked: false)).error?.code == .protocolError)
    }

    @Test func reservedBitsAndUnknownOpcodesAreProtocolErrors() {
        #expect(decode(clientFrame(2, [1], rsv: 0x40)).error?.code == .protocolError)
        #expect(decode(clientFrame(3, [1])).error?.code == .protocolError)
        #expect(decode(clientFrame(0xB, [1])).error?.code == .protocolError)
    }

    @Test func textFrameIsUnsupportedData() {
        #expect(decode(clientFrame(1, Array("hello".utf8))).error?.code == .unsupportedData)
    }

    @Test func controlFrameRules() {
        #expect(decode(clientFrame(9, Array(repeating: 0, count: 126))).error?.code == .protocolError)
        #expect(decode(clientFrame(9, [1], final: false)).error?.code == .protocolError)
        #expect(decode(clientFrame(8, [3])).error?.code == .protocolError)
    }

    @Test func oversizeFrameIsRejectedFromItsHeaderAlone() {
        let frame = clientFrame(2, Array(repeating: 0, count: 2000))
        #expect(decode(Array(frame[..<8]), limit: 1000).error?.code == .messageTooBig)
        #expect(decode(frame, limit: 2000).error == nil)
        // A 64-bit length with the top bit set.
        let huge: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]
        #expect(decode(huge, limit: .max).error?.code == .protocolError)
    }

    @Test func closeFrameEndsTheStream() {
        let stream = clientFrame(8, [0x03, 0xE8]) + clientFrame(2, [1])
        #expect(decode(stream) == Decoded(events: ["close 1000"]))
        #expect(decode(clientFrame(8, [])) == Decoded(events: ["close none"]))
    }

    @Test func frameAnnouncingMoreThanItSendsKeepsOnlyState() {
        // 60,000 announced, 10 sent: 10 bytes reported, nothing buffered, no error.
        let frame = clientFrame(2, Array(repeating: 5, count: 60_000))
        let result = decode(Array(frame[..<18]))
        #expect(result.error == nil)
        #expect(result.data == Array(repeating: 5, count: 10))
    }

    @Test func unmaskingIsCorrectAtEveryAlignment() {
        let payload = (0..<67).map { UInt8($0) }
        for first in 0..<9 {
            #expect(decode(clientFrame(2, payload), splits: [6 + first, 6 + first + 13]).data == payload)
        }
    }
}

@Suite struct WebSocketFrameEncoderTests {
    @Test func headerLengths() {
        for (length, header) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            var bytes = [UInt8](repeating: 0, count: 10)
            let written = bytes.withUnsafeMutableBytes {
                WebSocketFrameEncoder.writeHeader(opcode: .binary, payloadLength: length, into: $0.baseAddress!)
            }
            #expect(written == header)
            #expect(WebSocketFrameEncoder.headerLength(payloadLength: length) == header)
            #expect(bytes[0] == 0x82)
            #expect(bytes[1] & 0x80 == 0, "server frames are unmasked")
        }
    }

    @Test func controlFrames() {
        #expect(WebSocketFrameEncoder.close(1002) == [0x88, 2, 0x03, 0xEA])
        #expect(WebSocketFrameEncoder.pong([1, 2]) == [0x8A, 2, 1, 2])
    }
}
