import MQTTWire
import TestSupport
import Testing

@Suite struct FrameAccumulatorTests {
    @Test func partialPacketStaysBufferedUntilComplete() throws {
        let packet = PublishEncoder.encode(topic: Array("a".utf8), payload: [1, 2, 3])
        let accumulator = FrameAccumulator()
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
        let accumulator = FrameAccumulator()
        accumulator.append(contentsOf: [0x30, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: MQTTWireError.packetTooLarge(size: 268_435_460, limit: 1024)) {
            try accumulator.forEachPacket(maxPacketSize: 1024) { _ in }
        }
        // The bad frame is not consumed: the stream is broken where it was.
        #expect(accumulator.bufferedBytes == 5)
    }

    @Test func aBadHeaderAfterGoodPacketsKeepsOnlyTheBadFrame() {
        let accumulator = FrameAccumulator()
        let ping = EmptyPacketEncoder.encode(.pingreq)
        var seen = 0
        #expect(throws: MQTTWireError.packetTooLarge(size: 268_435_460, limit: 1024)) {
            try accumulator.receive(contentsOf: ping + ping + [0x30, 0xFF, 0xFF, 0xFF, 0x7F], maxPacketSize: 1024) { _ in seen += 1 }
        }
        #expect(seen == 2)
        #expect(accumulator.bufferedBytes == 5)
    }

    @Test func malformedPacketStopsTheStream() {
        let accumulator = FrameAccumulator()
        accumulator.append(contentsOf: EmptyPacketEncoder.encode(.pingreq) + [0x40, 0x02, 0x00, 0x00])
        var seen: [PacketType] = []
        #expect(throws: MQTTWireError.zeroPacketIdentifier(.puback)) {
            try accumulator.forEachPacket(maxPacketSize: 1024) { seen.append($0.type) }
        }
        #expect(seen == [.pingreq])
    }
}

/// The receive rule the broker's runtime uses for every read (`ReceiveBuffer`). The buffers are
/// noncopyable, which `#expect` cannot take apart: each check is computed first.
@Suite struct ReceiveBufferTests {
    /// Consumes whole 4-byte records, like a framer consumes whole packets.
    private func records(_ bytes: UnsafeRawBufferPointer, into seen: inout [[UInt8]]) -> Int {
        var offset = 0
        while bytes.count - offset >= 4 {
            seen.append(Array(bytes[offset..<offset + 4]))
            offset += 4
        }
        return offset
    }

    @Test func bytesAreParsedInPlaceAndOnlyTheTailIsKept() {
        var buffer = ReceiveBuffer()
        defer { buffer.release() }
        var seen: [[UInt8]] = []
        let first: [UInt8] = [1, 1, 1, 1, 2, 2]
        first.withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        #expect(seen == [[1, 1, 1, 1]])
        let check1 = buffer.count == 2
        #expect(check1)
        let second: [UInt8] = [2, 2, 3]
        second.withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        #expect(seen == [[1, 1, 1, 1], [2, 2, 2, 2]])
        let check2 = Array(buffer.bytes) == [3]
        #expect(check2)
    }

    @Test func memoryIsFreedOnceEverythingIsConsumed() {
        var buffer = ReceiveBuffer()
        defer { buffer.release() }
        var seen: [[UInt8]] = []
        [UInt8](repeating: 7, count: 3).withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        let check3 = !buffer.isEmpty
        #expect(check3)
        [UInt8](repeating: 7, count: 1).withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        let check4 = buffer.isEmpty
        #expect(check4)
        let check5 = buffer.bytes.baseAddress == nil
        #expect(check5)
    }

    @Test func readingStraightIntoFreeSpaceKeepsAPacketContiguous() {
        var buffer = ReceiveBuffer()
        defer { buffer.release() }
        var seen: [[UInt8]] = []
        [UInt8]([9, 9]).withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        let free = buffer.reserveFree(16 * 1024)
        #expect(free.count >= 16 * 1024)
        free[0] = 9
        free[1] = 9
        buffer.commit(2)
        buffer.parseHeld { records($0, into: &seen) }
        #expect(seen == [[9, 9, 9, 9]])
        let check6 = buffer.isEmpty
        #expect(check6)
    }

    @Test func aPausedParserKeepsEverything() {
        var buffer = ReceiveBuffer()
        defer { buffer.release() }
        [UInt8]([1, 2, 3, 4, 5]).withUnsafeBytes { incoming in buffer.receive(incoming) { _ in 0 } }
        let check7 = Array(buffer.bytes) == [1, 2, 3, 4, 5]
        #expect(check7)
    }
}

@Suite struct GrowableBufferTests {
    @Test func growsByDoublingOnlyAsBytesArrive() {
        var buffer = GrowableBuffer()
        defer { buffer.release() }
        let check8 = buffer.capacity == 0
        #expect(check8)
        buffer.append(UnsafeRawBufferPointer(start: nil, count: 0))
        let check9 = buffer.capacity == 0
        #expect(check9)
        let chunk = [UInt8](repeating: 1, count: 3000)
        chunk.withUnsafeBytes { buffer.append($0) }
        let check10 = buffer.capacity == 4096
        #expect(check10)
        chunk.withUnsafeBytes { buffer.append($0) }
        let check11 = buffer.capacity == 8192
        #expect(check11)
        let check12 = buffer.count == 6000
        #expect(check12)
    }

    @Test func consumeMovesTheRestToTheFrontAndReleasesWhenEmpty() {
        var buffer = GrowableBuffer()
        defer { buffer.release() }
        [UInt8]([1, 2, 3, 4]).withUnsafeBytes { buffer.append($0) }
        buffer.consume(3)
        let check13 = Array(buffer.bytes) == [4]
        #expect(check13)
        buffer.consume(1)
        let check14 = buffer.capacity == 0 && buffer.storage == nil
        #expect(check14)
    }
}

@Suite struct FrameAccumulatorReceiveTests {
    @Test func receiveParsesInPlaceAndKeepsOnlyThePartialPacket() throws {
        let packet = PublishEncoder.encode(topic: Array("a/b".utf8), payload: [1, 2, 3])
        let accumulator = FrameAccumulator()
        var seen: [PacketType] = []
        try accumulator.receive(contentsOf: packet + packet.prefix(5), maxPacketSize: 100) { seen.append($0.type) }
        #expect(seen.count == 1)
        #expect(accumulator.bufferedBytes == 5)
        try accumulator.receive(contentsOf: Array(packet.dropFirst(5)), maxPacketSize: 100) { seen.append($0.type) }
        #expect(seen.count == 2)
        #expect(accumulator.bufferedBytes == 0)
    }
}
