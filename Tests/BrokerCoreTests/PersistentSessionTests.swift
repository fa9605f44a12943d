import BrokerCore
import MQTTWire
import Testing

@Suite struct PersistentSessionTests {
    @Test func queuedMessagesAreDeliveredOnReconnectWithSessionPresent() {
        let cluster = TestCluster(shards: 2)
        let sub = cluster.connect("dev", shard: 0, clean: false)
        sub.subscribe("q", qos: .atLeastOnce)
        sub.disconnect()
        let publisher = cluster.connect("p", shard: 1)
        publisher.publish("q", "while away 1", qos: .atLeastOnce, id: 1)
        publisher.publish("q", "qos0 is not queued", qos: .atMostOnce)
        publisher.publish("q", "while away 2", qos: .exactlyOnce, id: 2)
        let back = cluster.connect("dev", shard: 1, clean: false)
        #expect(back.take() == [
            .connack(sessionPresent: true, code: .accepted),
            .publish("q", "while away 1", qos: .atLeastOnce, id: 1),
            .publish("q", "while away 2", qos: .atLeastOnce, id: 2),
        ])
    }

    @Test func unacknowledgedMessagesAreResentWithDup() {
        let cluster = TestCluster()
        let sub = cluster.connect("dev", clean: false)
        sub.subscribe("q", qos: .exactlyOnce)
        _ = sub.take()
        let publisher = cluster.connect("p")
        publisher.publish("q", "a", qos: .atLeastOnce, id: 1)
        publisher.publish("q", "b", qos: .exactlyOnce, id: 2)
        publisher.publish("q", "c", qos: .exactlyOnce, id: 3)
        #expect(sub.take().count == 3)
        sub.ack(.pubrec, 3)
        sub.drop()
        let back = cluster.connect("dev", clean: false)
        #expect(back.take() == [
            .connack(sessionPresent: true, code: .accepted),
            .publish("q", "a", qos: .atLeastOnce, dup: true, id: 1),
            .publish("q", "b", qos: .exactlyOnce, dup: true, id: 2),
            .pubrel(3),
        ])
    }

    @Test func offlineQueueIsBounded() {
        var settings = CoreSettings()
        settings.limits.maxQueuedMessages = 3
        let cluster = TestCluster(settings: settings)
        let sub = cluster.connect("dev", clean: false)
        sub.subscribe("q", qos: .atLeastOnce)
        sub.disconnect()
        let publisher = cluster.connect("p")
        for n in 1...10 { publisher.publish("q", "\(n)", qos: .atLeastOnce, id: UInt16(n)) }
        let back = cluster.connect("dev", clean: false)
        #expect(back.take().compactMap(\.topicAndPayload) == ["q=1", "q=2", "q=3"])
        #expect(cluster.shards[0].engine.counters.messagesDropped == 7)
    }

    @Test func cleanSessionDiscardsTheOldSession() {
        let cluster = TestCluster()
        let sub = cluster.connect("dev", clean: false)
        sub.subscribe("q", qos: .atLeastOnce)
        sub.disconnect()
        let fresh = cluster.connect("dev", clean: true)
        #expect(fresh.take() == [.connack(sessionPresent: false, code: .accepted)])
        cluster.connect("p").publish("q", "x", qos: .atLeastOnce, id: 1)
        #expect(fresh.take().isEmpty)
        fresh.disconnect()
        let again = cluster.connect("dev", clean: false)
        #expect(again.take() == [.connack(sessionPresent: false, code: .accepted)])
    }

    @Test func offlineSessionExpires() {
        var settings = CoreSettings()
        settings.limits.sessionExpirySeconds = 60
        let cluster = TestCluster(settings: settings)
        let sub = cluster.connect("dev", clean: false)
        sub.subscribe("q", qos: .atLeastOnce)
        sub.disconnect()
        cluster.advance(seconds: 30)
        #expect(cluster.shards[0].engine.sessions["dev"] != nil)
        cluster.advance(seconds: 31)
        #expect(cluster.shards[0].engine.sessions["dev"] == nil)
        let back = cluster.connect("dev", clean: false)
        #expect(back.take() == [.connack(sessionPresent: false, code: .accepted)])
    }
}

@Suite struct CrossShardSessionTests {
    @Test func unacknowledgedMessagesAreResentAfterReconnectingOnAnotherShard() {
        let cluster = TestCluster(shards: 2)
        let sub = cluster.connect("dev", shard: 0, clean: false)
        sub.subscribe("q", qos: .atLeastOnce)
        _ = sub.take()
        cluster.connect("p", shard: 1).publish("q", "old", qos: .atLeastOnce, id: 1)
        #expect(sub.take() == [.publish("q", "old", qos: .atLeastOnce, id: 1)])
        sub.drop()
        let back = cluster.connect("dev", shard: 1, clean: false)
        #expect(back.take() == [
            .connack(sessionPresent: true, code: .accepted),
            .publish("q", "old", qos: .atLeastOnce, dup: true, id: 1),
        ])
    }
}

extension CrossShardSessionTests {
    @Test func publisherOnTheOldShardReachesTheSessionOnItsNewShard() {
        let cluster = TestCluster(shards: 4)
        let sub = cluster.connect("dev", shard: 3, clean: false)
        sub.subscribe("q", qos: .atLeastOnce)
        let publisher = cluster.connect("p", shard: 3)
        publisher.publish("q", "old", qos: .atLeastOnce, id: 1)
        sub.drop()
        let back = cluster.connect("dev", shard: 1, clean: false)
        _ = back.take()
        publisher.publish("q", "new", qos: .atLeastOnce, id: 2)
        #expect(back.take() == [.publish("q", "new", qos: .atLeastOnce, id: 2)])
    }
}
