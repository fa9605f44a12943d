import MQTTWire
import TestSupport
import Testing

@Suite struct FrameAccumulatorTests {
    @Test func partialPacketStaysBufferedUntilComplete() throws {
        let packet = PublishEncoder.encode(topic: Array("a".utf8), payload: [1, 2, 3])
        var accumulator = FrameAccumulator()
        var seen = 0
        accumulator.append(contentsOf: packet.prefix(4))
        try accumulator.forEachPacket(maxPacketSize: 100) { _ in seen += 1 }
        #expect(seen == 0)
        #expect(accumulator.bufferedBytes == 4)
        accumulator.append(contentsOf: packet.dropFirst(4) + packet.prefix(1))
        try accumulator.forEachPacket(maxPacketSize: 100) { _ in seen += 1 }
        #expect(seen == 1)
        #expect(accumulator.bufferedBytes == 1)
    }

    @Test func oversizePacketFailsBeforeItsBodyArrives() {
        var accumulator = FrameAccumulator()
        accumulator.append(contentsOf: [0x30, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: MQTTWireError.packetTooLarge(size: 268_435_460, limit: 1024)) {
            try accumulator.forEachPacket(maxPacketSize: 1024) { _ in }
        }
    }

    @Test func malformedPacketStopsTheStream() {
        var accumulator = FrameAccumulator()
        accumulator.append(contentsOf: EmptyPacketEncoder.encode(.pingreq) + [0x40, 0x02, 0x00, 0x00])
        var seen: [PacketType] = []
        #expect(throws: MQTTWireError.zeroPacketIdentifier(.puback)) {
            try accumulator.forEachPacket(maxPacketSize: 1024) { seen.append($0.type) }
        }
        #expect(seen == [.pingreq])
    }
}
