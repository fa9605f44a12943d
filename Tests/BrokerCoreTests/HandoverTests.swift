import BrokerCore
import MQTTWire
import Testing

/// A persistent session moving between shards (a takeover) loses nothing that was acknowledged
/// to its publisher and delivers nothing twice, whatever is still on its way between shards
/// (ShardEngine+Handover). `block(from:to:)` keeps one shard's posts to another waiting, as a
/// full ring and the sender's overflow do.
@Suite struct HandoverTests {
    /// A persistent QoS 1 subscriber of "t" on `shard`, its SUBACK read.
    func subscriber(_ cluster: TestCluster, shard: Int) -> TestClient {
        let client = cluster.connect("sub", shard: shard, clean: false)
        client.subscribe("t", qos: .atLeastOnce)
        _ = client.take()
        return client
    }

    /// The subscriber of `subscriber(_:shard:)` on shard 0, gone offline with "queued offline"
    /// (QoS 1, from a publisher on `publisherShard`) waiting in its session.
    func offlineSubscriberWithOneQueued(_ cluster: TestCluster, publisherShard: Int) {
        subscriber(cluster, shard: 0).disconnect()
        let pub = publisher(cluster, shard: publisherShard)
        pub.publish("t", "queued offline", qos: .atLeastOnce, id: 5)
        #expect(pub.take() == [.puback(5)])
    }

    /// Four shards: the subscriber of shard 0 moving to shard 1 (a CONNECT there: `first`), the
    /// move held before its end (shard 3's answer to shard 0 waits), a publisher on shard 2.
    func subscriberStuckMovingToShard1(_ cluster: TestCluster) -> (publisher: TestClient, first: TestClient) {
        _ = subscriber(cluster, shard: 0)
        let pub = publisher(cluster, shard: 2)
        cluster.block(from: 3, to: 0)
        return (pub, cluster.connect("sub", shard: 1, clean: false))
    }

    func publisher(_ cluster: TestCluster, shard: Int) -> TestClient {
        let client = cluster.connect("pub", shard: shard)
        _ = client.take()
        return client
    }

    func payloads(_ packets: [Sent]) -> [String] {
        packets.compactMap { if case .publish(_, let payload, _, _, _, _) = $0 { payload } else { nil } }
    }

    /// `client` got the session back (CONNACK, session present) with `expected` delivered, and
    /// only shard `holder` holds it.
    func expectResumed(
        _ client: TestClient, delivering expected: [String], onlyOn holder: Int, of cluster: TestCluster,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let packets = client.take()
        #expect(packets.first == .connack(sessionPresent: true, code: .accepted), sourceLocation: sourceLocation)
        #expect(payloads(packets) == expected, sourceLocation: sourceLocation)
        #expect(cluster.shards.indices.filter { cluster.shards[$0].engine.sessions["sub"] != nil } == [holder],
                sourceLocation: sourceLocation)
    }

    @Test func aPublishStillOnItsWayToTheOldShardReachesTheMovedSession() {
        let cluster = TestCluster(shards: 3)
        _ = subscriber(cluster, shard: 0)
        let pub = publisher(cluster, shard: 1)
        cluster.block(from: 1, to: 0)
        pub.publish("t", "acknowledged before the move", qos: .atLeastOnce, id: 1)
        #expect(pub.take() == [.puback(1)])
        let moved = cluster.connect("sub", shard: 2, clean: false)
        cluster.unblock(from: 1, to: 0)
        let packets = moved.take()
        #expect(packets.first == .connack(sessionPresent: true, code: .accepted))
        #expect(payloads(packets) == ["acknowledged before the move"])
    }

    @Test func aPublishRoutedBeforeTheNewShardsInterestArrivesReachesTheMovedSession() {
        let cluster = TestCluster(shards: 3)
        _ = subscriber(cluster, shard: 0)
        let pub = publisher(cluster, shard: 1)
        // Shard 1 does not hear from shard 2 (its interest in "t") until the end.
        cluster.block(from: 2, to: 1)
        let moved = cluster.connect("sub", shard: 2, clean: false)
        #expect(moved.take() == [.connack(sessionPresent: true, code: .accepted)])
        pub.publish("t", "after the move", qos: .atLeastOnce, id: 2)
        #expect(pub.take() == [.puback(2)])
        #expect(payloads(moved.take()) == ["after the move"])
        cluster.unblock(from: 2, to: 1)
        pub.publish("t", "later", qos: .atLeastOnce, id: 3)
        #expect(payloads(moved.take()) == ["later"])
        #expect(cluster.shards.map(\.engine.counters.messagesDropped) == [0, 0, 0])
    }

    @Test func aPublishFromAShardThatAlreadyRoutesToTheNewShardIsDeliveredOnce() {
        let cluster = TestCluster(shards: 4)
        _ = subscriber(cluster, shard: 0)
        let pub = publisher(cluster, shard: 1)
        // Shard 3's answer is held: the session stays on shard 0 while shard 1 already routes
        // "t" to shard 2 as well as to shard 0.
        cluster.block(from: 3, to: 0)
        let moved = cluster.connect("sub", shard: 2, clean: false)
        pub.publish("t", "during the move", qos: .exactlyOnce, id: 4)
        #expect(moved.take().isEmpty)
        cluster.unblock(from: 3, to: 0)
        let packets = moved.take()
        #expect(packets.first == .connack(sessionPresent: true, code: .accepted))
        #expect(payloads(packets) == ["during the move"])
    }

    @Test func aTakeoverOfASessionStillOnItsWayWaitsForIt() {
        let cluster = TestCluster(shards: 3)
        offlineSubscriberWithOneQueued(cluster, publisherShard: 1)
        // The first reconnect (shard 2) waits for the session, which cannot leave shard 0 yet;
        // a second one (shard 1) takes over from it meanwhile.
        cluster.block(from: 0, to: 2)
        let first = cluster.connect("sub", shard: 2, clean: false)
        let second = cluster.connect("sub", shard: 1, clean: false)
        #expect(first.take().isEmpty)
        cluster.unblock(from: 0, to: 2)
        expectResumed(second, delivering: ["queued offline"], onlyOn: 1, of: cluster)
    }

    /// A takeover that reaches the old shard while the session is leaving it goes on to the new
    /// shard. Before, the old shard took the session locally and sent it to the asker while its
    /// own hand-over still counted on it: two connections on two shards held the client id at
    /// once (and a session that came back before the hand-over ended was sent away with its live
    /// connection: the takeover-storm crash).
    @Test func aTakeoverReachingTheOldShardDuringTheHandOverFollowsTheSession() {
        let cluster = TestCluster(shards: 4)
        let (pub, first) = subscriberStuckMovingToShard1(cluster)
        // A CONNECT on the old shard claims the id, then goes away: the registry names shard 0.
        let second = cluster.connect("sub", shard: 0, clean: false)
        second.drop()
        cluster.settle()
        // So a CONNECT on shard 2 asks shard 0, where the session is on its way out.
        let third = cluster.connect("sub", shard: 2, clean: false)
        pub.publish("t", "during the move", qos: .atLeastOnce, id: 7)
        #expect(pub.take() == [.puback(7)])
        #expect(third.take().isEmpty)
        let last = cluster.connect("sub", shard: 0, clean: false)
        cluster.unblock(from: 3, to: 0)
        #expect(first.isClosed && third.isClosed)
        expectResumed(last, delivering: ["during the move"], onlyOn: 0, of: cluster)
    }

    /// A second CONNECT on the shard the session is coming to waits for it in the first one's
    /// place. Before, it took the id over locally, started afresh, and the session that came
    /// was dropped with what it had queued.
    @Test func aReconnectWhileTheSessionIsOnItsWayHereWaitsForIt() {
        let cluster = TestCluster(shards: 3)
        offlineSubscriberWithOneQueued(cluster, publisherShard: 2)
        cluster.block(from: 0, to: 1)
        let first = cluster.connect("sub", shard: 1, clean: false)
        let second = cluster.connect("sub", shard: 1, clean: false)
        #expect(first.isClosed)
        #expect(second.take().isEmpty)
        cluster.unblock(from: 0, to: 1)
        expectResumed(second, delivering: ["queued offline"], onlyOn: 1, of: cluster)
    }

    /// The old shard passes a takeover on to the shard the session is going to even when that
    /// shard sent it: its newest CONNECT then waits for the hand-over's transfer, and the older
    /// claim that waited there gets an empty answer. Before, the shard took its own takeover as
    /// another asker's, closed its own CONNECT and later posted to itself (a crash in the broker).
    @Test func aTakeoverPassedOnToTheShardThatSentItIsAnsweredByTheHandOver() {
        let cluster = TestCluster(shards: 4)
        let (pub, first) = subscriberStuckMovingToShard1(cluster)
        let second = cluster.connect("sub", shard: 0, clean: false)  // asks shard 1, which defers it
        let third = cluster.connect("sub", shard: 1, clean: false)   // asks shard 0 (the registry)
        pub.publish("t", "during the move", qos: .atLeastOnce, id: 9)
        #expect(pub.take() == [.puback(9)])
        #expect(first.isClosed)
        #expect(third.take().isEmpty)
        cluster.unblock(from: 3, to: 0)
        #expect(second.isClosed)
        expectResumed(third, delivering: ["during the move"], onlyOn: 1, of: cluster)
    }

    @Test func aCleanSessionTakeoverNeedsNoBarrier() {
        let cluster = TestCluster(shards: 3)
        _ = subscriber(cluster, shard: 0)
        cluster.block(from: 1, to: 0)
        let fresh = cluster.connect("sub", shard: 2, clean: true)
        #expect(fresh.take() == [.connack(sessionPresent: false, code: .accepted)])
        cluster.unblock(from: 1, to: 0)
    }
}
