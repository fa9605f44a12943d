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

    @Test func aConnackLeavesNoOutboundQueueOnceWritten() {
        let cluster = TestCluster()
        let client = cluster.connect("quiet")
        #expect(client.take() == [.connack(sessionPresent: false, code: .accepted)])
        #expect(client.connection.outboundIfAny == nil)
        client.send(EmptyPacketEncoder.encode(.pingreq))
        #expect(client.take() == [.pingresp])
        #expect(client.connection.outboundIfAny == nil)
    }

    @Test func aQueueThatGrewIsKeptWhileBusyAndDroppedByTheTickOnceIdle() {
        let cluster = TestCluster()
        let subscriber = cluster.connect("busy")
        subscriber.subscribe("big")
        _ = subscriber.take()
        let payload = String(repeating: "x", count: 200)
        cluster.connect("p").publish("big", payload)
        #expect(subscriber.take() == [.publish("big", payload)])
        // Past its first 64 bytes: kept for the next turn.
        #expect(subscriber.connection.outboundIfAny != nil)
        cluster.advance(seconds: 0.5)
        cluster.advance(seconds: 0.5)
        #expect(subscriber.connection.outboundIfAny == nil)
        // It still works afterwards.
        cluster.connect("p2").publish("big", payload)
        #expect(subscriber.take() == [.publish("big", payload)])
    }
}
