import BrokerCore
import MQTTWire
import Testing

/// The engine's side of persistence: which writes go to the store, which acknowledgements wait
/// for them, and what a restarted broker makes of what was stored.
@Suite struct StoreTests {
    /// A persistent subscriber on `q` (QoS `qos`) that went offline, and a clean publisher.
    func offlineSubscriber(_ store: FakeStore, shards: Int = 1, subscriberShard: Int = 0, qos: QoS = .atLeastOnce)
        -> (TestCluster, TestClient)
    {
        let cluster = TestCluster(shards: shards, store: store)
        let sub = cluster.connect("dev", shard: subscriberShard, clean: false)
        sub.subscribe("q", qos: qos)
        store.complete()
        cluster.settle()
        sub.disconnect()
        store.complete()
        let publisher = cluster.connect("p", shard: 0)
        _ = publisher.take()
        return (cluster, publisher)
    }

    @Test func subackOfAPersistentSessionWaitsForItsSubscriptionToBeStored() {
        let store = FakeStore()
        let cluster = TestCluster(store: store)
        let sub = cluster.connect("dev", clean: false)
        _ = sub.take()
        sub.subscribe("a/+", qos: .atLeastOnce, id: 9)
        #expect(sub.take() == [])
        store.complete()
        cluster.settle()
        #expect(sub.take() == [.suback(9, [.grantedQoS1])])
        #expect(store.submitted == ["session dev []", "session dev [a/+:1]"])
    }

    @Test func pubackWaitsUntilTheOfflineSubscribersQueueEntryIsStored() {
        let store = FakeStore()
        let (cluster, publisher) = offlineSubscriber(store)
        publisher.publish("q", "m1", qos: .atLeastOnce, id: 4)
        #expect(publisher.take() == [])
        #expect(store.submitted.last == "enqueue dev #1 q=m1 queued")
        store.complete()
        cluster.settle()
        #expect(publisher.take() == [.puback(4)])
    }

    @Test func pubackWaitsForAWriteOnTheSubscribersShard() {
        let store = FakeStore()
        let (cluster, publisher) = offlineSubscriber(store, shards: 2, subscriberShard: 1)
        publisher.publish("q", "m1", qos: .atLeastOnce, id: 4)
        #expect(publisher.take() == [])
        store.complete()
        cluster.settle()
        #expect(publisher.take() == [.puback(4)])
    }

    @Test func cleanSessionTrafficNeverTouchesTheStore() {
        let store = FakeStore()
        let cluster = TestCluster(shards: 2, store: store)
        let sub = cluster.connect("s", shard: 1)
        sub.subscribe("q", qos: .exactlyOnce)
        let publisher = cluster.connect("p", shard: 0)
        _ = publisher.take()
        publisher.publish("q", "a", qos: .atLeastOnce, id: 1)
        publisher.publish("q", "b", qos: .exactlyOnce, id: 2)
        publisher.publish("q", "c")
        #expect(publisher.take() == [.puback(1), .pubrec(2)])
        #expect(store.submitted == [])
    }

    @Test func aPublishToCleanSubscribersOnAnotherShardIsNotHeldForThatShard() {
        let store = FakeStore()
        let cluster = TestCluster(shards: 2, store: store)
        let clean = cluster.connect("clean", shard: 1)
        clean.subscribe("q", qos: .atLeastOnce)
        let publisher = cluster.connect("p", shard: 0)
        _ = publisher.take()
        // Sent without letting the other shard run: the PUBACK must not need it.
        publisher.send(PublishEncoder.encode(topic: Array("q".utf8), payload: Array("x".utf8), qos: .atLeastOnce, packetId: 3))
        #expect(publisher.take() == [.puback(3)])

        // Once that shard holds a persistent subscriber, the PUBACK waits for its write.
        let persistent = cluster.connect("dev", shard: 1, clean: false)
        persistent.subscribe("q", qos: .atLeastOnce)
        store.complete()
        cluster.settle()
        _ = publisher.take()
        publisher.send(PublishEncoder.encode(topic: Array("q".utf8), payload: Array("y".utf8), qos: .atLeastOnce, packetId: 4))
        #expect(publisher.take() == [])
        cluster.settle()
        store.complete()
        cluster.settle()
        #expect(publisher.take() == [.puback(4)])
    }

    @Test func aRefusedWriteWithholdsTheAcknowledgementButNotTheNextOnes() {
        let store = FakeStore()
        let (cluster, publisher) = offlineSubscriber(store)
        publisher.publish("q", "too big", qos: .atLeastOnce, id: 1)
        publisher.publish("elsewhere", "x", qos: .atLeastOnce, id: 2)
        #expect(publisher.take() == [])
        store.complete(ok: false)
        cluster.settle()
        #expect(publisher.take() == [.puback(2)])
        #expect(cluster.shards[0].engine.counters.storeFailures == 1)
    }

    @Test func retainedMessagesAreStoredAndAnEmptyOneDeletes() {
        let store = FakeStore(autoComplete: true)
        let cluster = TestCluster(store: store)
        let publisher = cluster.connect("p")
        publisher.publish("r/1", "kept", qos: .atLeastOnce, retain: true, id: 1)
        publisher.publish("r/2", "gone", retain: true)
        publisher.publish("r/2", "", retain: true)
        #expect(publisher.take().contains(.puback(1)))
        #expect(store.snapshot().retained.map(\.topic) == ["r/1"])
    }

    @Test func exactlyOnceHoldsAcrossARestart() {
        let store = FakeStore(autoComplete: true)
        let cluster = TestCluster(store: store)
        let sub = cluster.connect("sub", clean: false)
        sub.subscribe("q", qos: .exactlyOnce)
        let publisher = cluster.connect("pub", clean: false)
        _ = sub.take()
        _ = publisher.take()
        publisher.publish("q", "once", qos: .exactlyOnce, id: 7)
        #expect(publisher.take() == [.pubrec(7)])
        #expect(store.snapshot().sessions.first { $0.clientId == "pub" }?.inboundQoS2 == [7])

        // The broker dies before PUBREL; the publisher resends with DUP after the restart.
        let restarted = TestCluster.restarted(on: store)
        let back = restarted.connect("pub", clean: false)
        let subBack = restarted.connect("sub", clean: false)
        #expect(back.take() == [.connack(sessionPresent: true, code: .accepted)])
        back.publish("q", "once", qos: .exactlyOnce, dup: true, id: 7)
        #expect(back.take() == [.pubrec(7)])
        back.ack(.pubrel, 7)
        #expect(back.take() == [.pubcomp(7)])
        #expect(store.snapshot().sessions.first { $0.clientId == "pub" }?.inboundQoS2 == [])
        // The subscriber gets the message once: resent from its stored in-flight window.
        #expect(subBack.take() == [
            .connack(sessionPresent: true, code: .accepted),
            .publish("q", "once", qos: .exactlyOnce, dup: true, id: 1),
        ])
    }

    @Test func aRestartedBrokerRedeliversQueuedAndInflightMessagesInOrder() {
        var settings = CoreSettings()
        settings.limits.maxInflightMessages = 2
        let store = FakeStore(autoComplete: true)
        let cluster = TestCluster(shards: 2, settings: settings, store: store)
        let sub = cluster.connect("dev", shard: 1, clean: false)
        sub.subscribe("q", qos: .exactlyOnce)
        _ = sub.take()
        let publisher = cluster.connect("p", shard: 0)
        for n in 1...4 { publisher.publish("q", "m\(n)", qos: .exactlyOnce, id: UInt16(n)) }
        #expect(sub.take().count == 2)
        sub.ack(.pubrec, 1)
        #expect(sub.take() == [.pubrel(1)])

        let restarted = TestCluster.restarted(on: store, shards: 2, settings: settings)
        let back = restarted.connect("dev", shard: 0, clean: false)
        #expect(back.take() == [
            .connack(sessionPresent: true, code: .accepted),
            .pubrel(1),
            .publish("q", "m2", qos: .exactlyOnce, dup: true, id: 2),
        ])
        back.ack(.pubcomp, 1)
        #expect(back.take() == [.publish("q", "m3", qos: .exactlyOnce, id: 3)])
        back.ack(.pubrec, 2)
        back.ack(.pubcomp, 2)
        back.ack(.pubrec, 3)
        back.ack(.pubcomp, 3)
        #expect(back.take().compactMap(\.topicAndPayload) == ["q=m4"])
        // The subscription came back too: a new publish reaches the restored session.
        let publisher2 = restarted.connect("p2", shard: 1)
        publisher2.publish("q", "after", qos: .atLeastOnce, id: 1)
        #expect(back.take().compactMap(\.topicAndPayload) == ["q=after"])
    }

    @Test func cleanSessionReplacingAPersistentOneDeletesItFromTheStore() {
        let store = FakeStore(autoComplete: true)
        let cluster = TestCluster(shards: 2, store: store)
        let sub = cluster.connect("dev", shard: 0, clean: false)
        sub.subscribe("q", qos: .atLeastOnce)
        sub.disconnect()
        cluster.connect("dev", shard: 1, clean: true)
        #expect(store.submitted.last == "delete dev")
        #expect(store.snapshot().sessions.isEmpty)
    }

    @Test func expiredSessionsAreDeletedFromTheStore() {
        var settings = CoreSettings()
        settings.limits.sessionExpirySeconds = 60
        let store = FakeStore(autoComplete: true)
        let cluster = TestCluster(settings: settings, store: store)
        let sub = cluster.connect("dev", clean: false)
        sub.subscribe("q", qos: .atLeastOnce)
        sub.disconnect()
        cluster.advance(seconds: 61)
        #expect(store.snapshot().sessions.isEmpty)
    }

    @Test func willsOfClientsConnectedWhenTheBrokerDiedArePublishedAfterTheRestart() {
        let store = FakeStore(autoComplete: true)
        let cluster = TestCluster(shards: 2, store: store)
        cluster.connect("sensor", shard: 1, will: (topic: "status/sensor", payload: "gone", qos: .atLeastOnce, retain: true))
        let polite = cluster.connect("polite", shard: 0, will: (topic: "status/polite", payload: "gone", qos: .atMostOnce, retain: false))
        polite.disconnect()
        let watcher = cluster.connect("watcher", shard: 1, clean: false)
        watcher.subscribe("status/#", qos: .atLeastOnce)
        watcher.disconnect()
        #expect(store.snapshot().wills.map(\.clientId) == ["sensor"])

        let restarted = TestCluster.restarted(on: store, shards: 2)
        let back = restarted.connect("watcher", shard: 0, clean: false)
        #expect(back.take() == [
            .connack(sessionPresent: true, code: .accepted),
            .publish("status/sensor", "gone", qos: .atLeastOnce, id: 1),
        ])
        #expect(store.snapshot().wills.isEmpty)
        let late = restarted.connect("late")
        late.subscribe("status/#")
        #expect(late.take().contains(.publish("status/sensor", "gone", retain: true)))
    }

    @Test func pubrelToAPersistentSubscriberWaitsUntilTheStoreKnowsItWasReceived() {
        let store = FakeStore()
        let cluster = TestCluster(store: store)
        let sub = cluster.connect("dev", clean: false)
        sub.subscribe("q", qos: .exactlyOnce)
        store.complete()
        cluster.settle()
        _ = sub.take()
        let publisher = cluster.connect("p")
        publisher.publish("q", "m", qos: .exactlyOnce, id: 1)
        store.complete()
        cluster.settle()
        #expect(sub.take() == [.publish("q", "m", qos: .exactlyOnce, id: 1)])
        sub.ack(.pubrec, 1)
        #expect(sub.take() == [])
        #expect(store.submitted.last == "stage dev #1 id:1 released")
        store.complete()
        cluster.settle()
        #expect(sub.take() == [.pubrel(1)])
    }

    @Test func relaxedDurabilityAcknowledgesAtOnceAndStillWrites() {
        let store = FakeStore(waitsForWrites: false)
        let (cluster, publisher) = offlineSubscriber(store)
        publisher.publish("q", "m1", qos: .atLeastOnce, id: 4)
        #expect(publisher.take() == [.puback(4)])
        #expect(store.submitted.last == "enqueue dev #1 q=m1 queued")
        // A persistent publisher's inbound QoS 2 id is written too, behind its PUBREC.
        let persistentPublisher = cluster.connect("pp", clean: false)
        _ = persistentPublisher.take()
        persistentPublisher.publish("elsewhere", "x", qos: .exactlyOnce, id: 9)
        #expect(persistentPublisher.take() == [.pubrec(9)])
        #expect(store.submitted.contains("inbound+ pp 9"))
        withExtendedLifetime(cluster) {}
    }
}
