import BrokerCore
import MQTTWire
import Testing

/// `limits.queue_backpressure`: a connected subscriber's half-full QoS 1/2 queue stops reading
/// from its publishers until it is down to a quarter.
@Suite struct FlowControlTests {
    /// In-flight window 2, queue 8: publishers are held once 4 messages wait, released at 2.
    func cluster(shards: Int = 1, backpressure: Bool = true, queued: Int = 8) -> TestCluster {
        var settings = CoreSettings()
        settings.limits.maxInflightMessages = 2
        settings.limits.maxQueuedMessages = queued
        settings.limits.queueBackpressure = backpressure
        return TestCluster(shards: shards, settings: settings)
    }

    func subscriber(_ cluster: TestCluster, shard: Int = 0, clean: Bool = true) -> TestClient {
        let client = cluster.connect("sub", shard: shard, clean: clean)
        client.subscribe("t", qos: .atLeastOnce)
        _ = client.take()
        return client
    }

    func publisher(_ cluster: TestCluster, _ id: String = "pub", shard: Int = 0) -> TestClient {
        let client = cluster.connect(id, shard: shard)
        _ = client.take()
        return client
    }

    /// QoS 1 publishes `first...last` in one read, as a flooding client's bytes arrive.
    func burst(_ client: TestClient, _ range: ClosedRange<Int>) {
        var bytes: [UInt8] = []
        for n in range {
            bytes += PublishEncoder.encode(
                topic: Array("t".utf8), payload: Array("\(n)".utf8), qos: .atLeastOnce, packetId: UInt16(n))
        }
        client.send(bytes)
        client.shard.cluster.settle()
    }

    func pubacks(_ client: TestClient) -> [UInt16] {
        client.take().compactMap { if case .puback(let id) = $0 { id } else { nil } }
    }

    /// Reads and acknowledges until nothing more comes; returns the payloads in arrival order.
    func drain(_ subscriber: TestClient) -> [String] {
        var payloads: [String] = []
        while true {
            let publishes = subscriber.take().compactMap { sent -> (String, UInt16)? in
                if case .publish(_, let payload, _, _, _, let id?) = sent { (payload, id) } else { nil }
            }
            if publishes.isEmpty { return payloads }
            for (payload, id) in publishes {
                payloads.append(payload)
                subscriber.ack(.puback, id)
            }
        }
    }

    @Test func aHalfFullQueueHoldsALocalPublisherUntilItDrains() {
        let cluster = cluster()
        let sub = subscriber(cluster)
        let pub = publisher(cluster)
        burst(pub, 1...20)
        // 2 in flight, 4 queued: the publisher is held and the rest of its bytes wait unread.
        #expect(pubacks(pub) == Array(1...6))
        #expect(pub.isPaused)
        #expect(drain(sub) == (1...20).map(String.init))
        #expect(pubacks(pub) == Array(7...20))
        #expect(!pub.isPaused)
        #expect(cluster.shards[0].engine.counters.messagesDropped == 0)
    }

    @Test func withoutBackpressureTheOverflowIsDroppedAndThePublisherReadOn() {
        let cluster = cluster(backpressure: false)
        let sub = subscriber(cluster)
        let pub = publisher(cluster)
        burst(pub, 1...20)
        #expect(pubacks(pub) == Array(1...20))
        #expect(!pub.isPaused)
        #expect(drain(sub) == (1...10).map(String.init))
        #expect(cluster.shards[0].engine.counters.messagesDropped == 10)
    }

    @Test func aPublisherOnAnotherShardIsHeldThroughItsShard() {
        let cluster = cluster(shards: 2)
        let sub = subscriber(cluster, shard: 0)
        let pub = publisher(cluster, shard: 1)
        // The whole read is routed before the hold reaches shard 1; the holding session queues
        // up to twice its limit for it, so nothing is lost.
        burst(pub, 1...14)
        #expect(pubacks(pub) == Array(1...14))
        #expect(pub.isPaused)
        burst(pub, 15...20)
        #expect(pubacks(pub).isEmpty)
        #expect(drain(sub) == (1...20).map(String.init))
        #expect(pubacks(pub) == Array(15...20))
        #expect(!pub.isPaused)
        #expect(cluster.shards.map(\.engine.counters.messagesDropped) == [0, 0])
    }

    @Test func anUnwindowedFlooderOnAnotherShardIsBoundedByCreditAndLosesNothing() {
        let cluster = cluster(shards: 2)
        let sub = subscriber(cluster, shard: 0)
        let pub = publisher(cluster, shard: 1)
        // One read of 300 QoS 1 publishes: the client never waits for a PUBACK.
        burst(pub, 1...300)
        let session = cluster.shards[0].engine.sessions["sub"]!
        let bound = ShardEngine.congestedQueueLimit(maxQueuedMessages: 8)
        #expect(session.queue.count <= bound)
        #expect(pub.isPaused)
        var received: [String] = []
        var largestQueue = 0
        while true {
            let publishes = sub.take().compactMap { sent -> (String, UInt16)? in
                if case .publish(_, let payload, _, _, _, let id?) = sent { (payload, id) } else { nil }
            }
            if publishes.isEmpty { break }
            for (payload, id) in publishes {
                received.append(payload)
                sub.ack(.puback, id)
                largestQueue = max(largestQueue, session.queue.count)
            }
        }
        #expect(largestQueue <= bound)
        #expect(received == (1...300).map(String.init))
        #expect(pubacks(pub) == Array(1...300))
        #expect(cluster.shards.map(\.engine.counters.messagesDropped) == [0, 0])
    }

    @Test func creditLetsAFlooderOnAnotherShardOnlyAWindowAhead() {
        // No session congests (a QoS 0 subscription, no backpressure): the publisher's shard
        // stops reading it after a window of QoS 1 publishes the other shard has not applied,
        // and reads on once it has.
        let cluster = cluster(shards: 2, backpressure: false, queued: 100)
        let sub = cluster.connect("sub", shard: 0)
        sub.subscribe("t", qos: .atMostOnce)
        _ = sub.take()
        let pub = publisher(cluster, shard: 1)
        cluster.block(from: 1, to: 0)
        burst(pub, 1...300)
        let window = ShardEngine.creditWindow(maxQueuedMessages: 100)
        #expect(pub.isPaused)
        #expect(pubacks(pub) == (1...window).map { UInt16($0) })
        cluster.unblock(from: 1, to: 0)
        #expect(payloads(sub.take()) == (1...300).map(String.init))
        #expect(pubacks(pub) == ((window + 1)...300).map { UInt16($0) })
        #expect(!pub.isPaused)
    }

    func payloads(_ packets: [Sent]) -> [String] {
        packets.compactMap { if case .publish(_, let payload, _, _, _, _) = $0 { payload } else { nil } }
    }

    @Test func aSubscriberThatStallsLetsItsPublishersGoAndDropsTheOverflow() {
        let cluster = cluster()
        let sub = subscriber(cluster)
        let pub = publisher(cluster)
        burst(pub, 1...20)
        #expect(pub.isPaused)
        cluster.advance(seconds: 1.5)
        // Released after a second without an acknowledgement, and not held again until the
        // queue has drained: the window and the queue get their 10, the other 10 are dropped.
        #expect(!pub.isPaused)
        #expect(pubacks(pub) == Array(1...20))
        #expect(drain(sub) == (1...10).map(String.init))
        #expect(cluster.shards[0].engine.counters.messagesDropped == 10)
        // Drained: congestion holds the publisher again.
        burst(pub, 21...40)
        #expect(pub.isPaused)
    }

    @Test func aHoldEndsAfterASecondEvenWhileTheSubscriberAcknowledges() {
        // Queue 16: held at 8 queued, released at 4.
        let cluster = cluster(queued: 16)
        let sub = subscriber(cluster)
        let pub = publisher(cluster)
        burst(pub, 1...30)
        #expect(pubacks(pub) == Array(1...10))
        // Acknowledgements keep coming (the queue 8 -> 7 -> 6), so the session is not stalled.
        sub.ack(.puback, 1)
        cluster.advance(seconds: 0.6)
        sub.ack(.puback, 2)
        #expect(pub.isPaused)
        cluster.advance(seconds: 0.6)
        // The hold ended after a second; the publisher was read until two more messages filled
        // the queue to half again, and is held anew.
        #expect(pubacks(pub) == [11, 12])
        #expect(pub.isPaused)
        #expect(cluster.shards[0].engine.counters.messagesDropped == 0)
    }

    @Test func betweenTwoHoldsACongestedSessionKeepsItsDoubledQueue() {
        let cluster = cluster(shards: 2)
        let sub = subscriber(cluster, shard: 0)
        let pub = publisher(cluster, shard: 1)
        burst(pub, 1...14)
        burst(pub, 15...20)
        #expect(pubacks(pub) == Array(1...14))
        sub.ack(.puback, 1)
        cluster.advance(seconds: 0.6)
        sub.ack(.puback, 2)
        cluster.advance(seconds: 0.6)
        // The hold ended after a second with 10 queued, above the plain limit of 8: the held
        // publishes that then arrive are queued (up to 16), not dropped.
        #expect(pubacks(pub) == Array(15...20))
        #expect(drain(sub) == (1...20).map(String.init))
        #expect(cluster.shards.map(\.engine.counters.messagesDropped) == [0, 0])
    }

    @Test func aHeldPublisherIsNotClosedForKeepalive() {
        // Queue 16: held at 8, released at 4 queued; one acknowledgement every half second
        // takes 2 s to get there, longer than the publisher's keepalive of 1 s allows (1.5 s).
        let cluster = cluster(queued: 16)
        let sub = subscriber(cluster)
        let pub = cluster.connect("pub", keepAlive: 1)
        _ = pub.take()
        burst(pub, 1...200)
        #expect(pub.isPaused)
        var unacked: [UInt16] = []
        for _ in 0..<8 {
            for sent in sub.take() {
                if case .publish(_, _, _, _, _, let id?) = sent { unacked.append(id) }
            }
            sub.ack(.puback, unacked.removeFirst())
            cluster.advance(seconds: 0.5)
        }
        #expect(!pub.isClosed)
        #expect(cluster.shards[0].engine.counters.messagesDropped == 0)
    }

    @Test func aSubscriberGoingOfflineReleasesItsPublishers() {
        let cluster = cluster(shards: 2)
        let sub = subscriber(cluster, shard: 0, clean: false)
        let pub = publisher(cluster, shard: 1)
        burst(pub, 1...6)
        #expect(pub.isPaused)
        sub.drop()
        cluster.settle()
        #expect(!pub.isPaused)
        // Offline sessions queue without holding anyone (and drop past the limit).
        burst(pub, 7...20)
        #expect(pubacks(pub) == Array(1...20))
        #expect(!pub.isPaused)
    }

    @Test func aClientPublishingToItsOwnSubscriptionIsNotHeld() {
        let cluster = cluster()
        let client = subscriber(cluster)
        burst(client, 1...20)
        #expect(!client.isPaused)
        #expect(pubacks(client).count == 20)
    }

    @Test func retainedDeliveriesHoldNobody() {
        let cluster = cluster()
        let pub = publisher(cluster)
        var bytes: [UInt8] = []
        for n in 1...10 {
            bytes += PublishEncoder.encode(
                topic: Array("r/\(n)".utf8), payload: Array("\(n)".utf8), qos: .atLeastOnce, retain: true, packetId: UInt16(n))
        }
        pub.send(bytes)
        cluster.settle()
        _ = pub.take()
        let sub = cluster.connect("sub")
        sub.subscribe("r/+", qos: .atLeastOnce)
        #expect(!pub.isPaused)
        pub.publish("x", "y", qos: .atLeastOnce, id: 11)
        #expect(pubacks(pub) == [11])
    }
}
