import BrokerCore
import MQTTWire
import Testing

@Suite struct OutboundQueueTests {
    @Test func anIdleQueueGivesItsBufferBackAtTheSecondIdleCheck() {
        let queue = OutboundQueue()
        [UInt8](repeating: 7, count: 10).withUnsafeBytes { queue.append($0) }
        queue.removeAll()
        #expect(queue.bufferCapacity > 0)
        // Used since the last check: a busy connection keeps its buffer.
        queue.releaseIfIdle()
        #expect(queue.bufferCapacity > 0)
        queue.releaseIfIdle()
        #expect(queue.bufferCapacity == 0)
    }

    @Test func aQueueHoldingBytesKeepsThem() {
        let queue = OutboundQueue()
        let bytes: [UInt8] = [1, 2, 3]
        bytes.withUnsafeBytes { queue.append($0) }
        queue.releaseIfIdle()
        queue.releaseIfIdle()
        var seen: [UInt8] = []
        queue.forEachChunk { seen += $0 }
        #expect(seen == bytes)
    }

    @Test func aConnectedClientThatGoesQuietHoldsNoSendBuffer() {
        let cluster = TestCluster()
        let client = cluster.connect("quiet")
        _ = client.take()
        #expect(client.connection.outbound.bufferCapacity > 0)
        cluster.advance(seconds: 0.5)
        cluster.advance(seconds: 0.5)
        #expect(client.connection.outbound.bufferCapacity == 0)
        // It still works afterwards.
        client.send(EmptyPacketEncoder.encode(.pingreq))
        #expect(client.take() == [.pingresp])
    }
}
