import MQTTWire
import TestSupport
import Testing

@Suite struct FrameHeaderTests {
    func check(_ bytes: [UInt8], maxPacketSize: Int = 1 << 20) throws(MQTTWireError) -> FrameHeader? {
        try bytes.withUnsafeWireBytes { buffer throws(MQTTWireError) in
            try FrameHeader.check(buffer, maxPacketSize: maxPacketSize)
        }
    }

    @Test func oversizePacketIsRejectedFromTheHeaderAlone() {
        // A PUBLISH claiming 268,435,455 bytes, with only its 5 header bytes present.
        let bytes: [UInt8] = [0x30, 0xFF, 0xFF, 0xFF, 0x7F]
        #expect(throws: MQTTWireError.packetTooLarge(size: 268_435_460, limit: 1 << 20)) {
            try check(bytes)
        }
    }

    @Test func limitCountsTheFixedHeader() throws {
        let packet = PacketBytes.frame(0x30, PacketBytes.field("t") + [UInt8](repeating: 0, count: 10))
        #expect(try check(packet, maxPacketSize: packet.count) != nil)
        #expect(throws: MQTTWireError.packetTooLarge(size: packet.count, limit: packet.count - 1)) {
            try check(packet, maxPacketSize: packet.count - 1)
        }
    }

    @Test func partialHeadersAndBodiesNeedMoreBytes() throws {
        #expect(try check([]) == nil)
        #expect(try check([0x30]) == nil)
        #expect(try check([0x30, 0x80]) == nil)
        #expect(try check([0x30, 0x80, 0x80, 0x80]) == nil)
        #expect(try check([0x30, 0x03, 0x00, 0x01]) == nil)
        let header = try [UInt8]([0x30, 0x03, 0x00]).withUnsafeWireBytes { buffer throws(MQTTWireError) in
            try FrameHeader.readHeader(buffer, maxPacketSize: 100)
        }
        #expect(header?.totalLength == 5)
    }

    @Test func completeFrameReportsItsParts() throws {
        let header = try check([0x32, 0x80, 0x01] + [UInt8](repeating: 0, count: 128))
        #expect(header?.type == .publish)
        #expect(header?.typeAndFlags == 0x32)
        #expect(header?.flags == 0x02)
        #expect(header?.remainingLength == 128)
        #expect(header?.headerLength == 3)
        #expect(header?.totalLength == 131)
    }

    @Test(arguments: [UInt8(0x00), 0x0F])
    func reservedPacketTypesAreInvalid(first: UInt8) {
        #expect(throws: MQTTWireError.invalidPacketType(first >> 4)) { try check([first, 0x00]) }
    }

    /// Type 15 is MQTT 5's AUTH: framed here, refused when decoded for an earlier revision
    /// (MQTT5CodecTests).
    @Test func typeFifteenIsFramed() throws {
        #expect(try check([0xF0, 0x00])?.type == .auth)
    }

    @Test func fifthLengthByteIsMalformed() {
        #expect(throws: MQTTWireError.malformedRemainingLength) {
            try check([0x30, 0x80, 0x80, 0x80, 0x80, 0x01], maxPacketSize: .max)
        }
    }
}
