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

/// The receive rule the broker's runtime uses for every read (`ReceiveBuffer`).
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
        var seen: [[UInt8]] = []
        let first: [UInt8] = [1, 1, 1, 1, 2, 2]
        first.withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        #expect(seen == [[1, 1, 1, 1]])
        #expect(buffer.count == 2)
        let second: [UInt8] = [2, 2, 3]
        second.withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        #expect(seen == [[1, 1, 1, 1], [2, 2, 2, 2]])
        #expect(Array(buffer.bytes) == [3])
    }

    @Test func memoryIsFreedOnceEverythingIsConsumed() {
        var buffer = ReceiveBuffer()
        var seen: [[UInt8]] = []
        [UInt8](repeating: 7, count: 3).withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        #expect(!buffer.isEmpty)
        [UInt8](repeating: 7, count: 1).withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        #expect(buffer.isEmpty)
        #expect(buffer.bytes.baseAddress == nil)
    }

    @Test func readingStraightIntoFreeSpaceKeepsAPacketContiguous() {
        var buffer = ReceiveBuffer()
        var seen: [[UInt8]] = []
        [UInt8]([9, 9]).withUnsafeBytes { incoming in buffer.receive(incoming) { records($0, into: &seen) } }
        let free = buffer.reserveFree(16 * 1024)
        #expect(free.count >= 16 * 1024)
        free[0] = 9
        free[1] = 9
        buffer.commit(2)
        buffer.parseHeld { records($0, into: &seen) }
        #expect(seen == [[9, 9, 9, 9]])
        #expect(buffer.isEmpty)
    }

    @Test func aPausedParserKeepsEverything() {
        var buffer = ReceiveBuffer()
        [UInt8]([1, 2, 3, 4, 5]).withUnsafeBytes { incoming in buffer.receive(incoming) { _ in 0 } }
        #expect(Array(buffer.bytes) == [1, 2, 3, 4, 5])
    }
}

@Suite struct GrowableBufferTests {
    @Test func growsByDoublingOnlyAsBytesArrive() {
        var buffer = GrowableBuffer()
        #expect(buffer.capacity == 0)
        buffer.append(UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(buffer.capacity == 0)
        let chunk = [UInt8](repeating: 1, count: 3000)
        chunk.withUnsafeBytes { buffer.append($0) }
        #expect(buffer.capacity == 4096)
        chunk.withUnsafeBytes { buffer.append($0) }
        #expect(buffer.capacity == 8192)
        #expect(buffer.count == 6000)
    }

    @Test func consumeMovesTheRestToTheFrontAndReleasesWhenEmpty() {
        var buffer = GrowableBuffer()
        [UInt8]([1, 2, 3, 4]).withUnsafeBytes { buffer.append($0) }
        buffer.consume(3)
        #expect(Array(buffer.bytes) == [4])
        buffer.consume(1)
        #expect(buffer.capacity == 0 && buffer.storage == nil)
    }
}

@Suite struct FrameAccumulatorReceiveTests {
    @Test func receiveParsesInPlaceAndKeepsOnlyThePartialPacket() throws {
        let packet = PublishEncoder.encode(topic: Array("a/b".utf8), payload: [1, 2, 3])
        var accumulator = FrameAccumulator()
        var seen: [PacketType] = []
        try accumulator.receive(contentsOf: packet + packet.prefix(5), maxPacketSize: 100) { seen.append($0.type) }
        #expect(seen.count == 1)
        #expect(accumulator.bufferedBytes == 5)
        try accumulator.receive(contentsOf: Array(packet.dropFirst(5)), maxPacketSize: 100) { seen.append($0.type) }
        #expect(seen.count == 2)
        #expect(accumulator.bufferedBytes == 0)
    }
}
