import BrokerCore
import MQTTWire
import Testing

@Suite struct OutboundQueueTests {
    @Test func aQueueIsIdleAtTheSecondCheckWithoutUse() {
        let queue = OutboundQueue()
        [UInt8](repeating: 7, count: 10).withUnsafeBytes { queue.append($0) }
        _ = queue.requestFlush()
        queue.beginFlush()
        queue.removeAll()
        // Used since the last check: a busy connection keeps its queue.
        #expect(!queue.isIdle())
        #expect(queue.isIdle())
    }

    @Test func aQueueHoldingBytesIsNeverIdle() {
        let queue = OutboundQueue()
        let bytes: [UInt8] = [1, 2, 3]
        bytes.withUnsafeBytes { queue.append($0) }
        #expect(!queue.isIdle())
        #expect(!queue.isIdle())
        var seen: [UInt8] = []
        queue.forEachChunk { seen += $0 }
        #expect(seen == bytes)
    }

    @Test func aConnectedClientThatGoesQuietHoldsNoOutboundQueue() {
        let cluster = TestCluster()
        let client = cluster.connect("quiet")
        _ = client.take()
        #expect(client.connection.holdsOutboundQueue)
        cluster.advance(seconds: 0.5)
        cluster.advance(seconds: 0.5)
        #expect(!client.connection.holdsOutboundQueue)
        // It still works afterwards.
        client.send(EmptyPacketEncoder.encode(.pingreq))
        #expect(client.take() == [.pingresp])
    }
}
