import BrokerCore
import MQTTWire
import Testing

@Suite struct RetainedAndWillTests {
    @Test func retainedMessageIsDeliveredOnSubscribeWithRetainFlag() {
        let cluster = TestCluster(shards: 2)
        let publisher = cluster.connect("p", shard: 0)
        publisher.publish("home/kitchen/temp", "21", qos: .atLeastOnce, retain: true, id: 1)
        publisher.publish("home/hall/temp", "19", retain: true)
        let sub = cluster.connect("s", shard: 1)
        _ = sub.take()
        sub.subscribe("home/+/temp", qos: .atLeastOnce, id: 2)
        let received = sub.take()
        #expect(received.first == .suback(2, [.grantedQoS1]))
        let retained = Set(received.dropFirst().map(\.description))
        #expect(retained == Set([
            Sent.publish("home/kitchen/temp", "21", qos: .atLeastOnce, retain: true, id: 1).description,
            Sent.publish("home/hall/temp", "19", retain: true).description,
        ]))
        #expect(received.count == 3)
    }

    @Test func retainedMessageIsReplacedAndClearedByEmptyPayload() {
        let cluster = TestCluster()
        let publisher = cluster.connect("p")
        publisher.publish("r", "one", retain: true)
        publisher.publish("r", "two", retain: true)
        let first = cluster.connect("s1")
        first.subscribe("r")
        #expect(first.take().last == .publish("r", "two", retain: true))
        publisher.publish("r", "", retain: true)
        let second = cluster.connect("s2")
        second.subscribe("r")
        #expect(second.take() == [.connack(sessionPresent: false, code: .accepted), .suback(1, [.grantedQoS0])])
        #expect(cluster.shards[0].engine.retained.count == 0)
    }

    @Test func liveRetainedPublishReachesExistingSubscribersWithoutRetainFlag() {
        let cluster = TestCluster()
        let sub = cluster.connect("s")
        sub.subscribe("r")
        _ = sub.take()
        cluster.connect("p").publish("r", "live", retain: true)
        #expect(sub.take() == [.publish("r", "live")])
    }

    @Test func hashFilterMatchesRetainedParentTopic() {
        let cluster = TestCluster()
        cluster.connect("p").publish("a", "parent", retain: true)
        let sub = cluster.connect("s")
        sub.subscribe("a/#")
        #expect(sub.take().last == .publish("a", "parent", retain: true))
    }

    @Test func willIsPublishedWhenTheConnectionIsLost() {
        let cluster = TestCluster(shards: 2)
        let sub = cluster.connect("s", shard: 1)
        sub.subscribe("status/+")
        _ = sub.take()
        let device = cluster.connect("d", shard: 0, will: ("status/d", "offline", .atMostOnce, false))
        device.drop()
        cluster.settle()
        #expect(sub.take() == [.publish("status/d", "offline")])
    }

    @Test func noWillAfterDisconnect() {
        let cluster = TestCluster()
        let sub = cluster.connect("s")
        sub.subscribe("status/+")
        _ = sub.take()
        let device = cluster.connect("d", will: ("status/d", "offline", .atMostOnce, false))
        device.disconnect()
        device.drop()
        #expect(sub.take().isEmpty)
    }

    @Test func willIsPublishedOnKeepaliveTimeoutAndOnTakeover() {
        let cluster = TestCluster()
        let sub = cluster.connect("s", keepAlive: 0)
        sub.subscribe("status/+")
        _ = sub.take()
        cluster.connect("k", keepAlive: 2, will: ("status/k", "timeout", .atMostOnce, false))
        cluster.advance(seconds: 3.1)
        #expect(sub.take() == [.publish("status/k", "timeout")])
        cluster.connect("t", keepAlive: 0, will: ("status/t", "taken over", .atMostOnce, false))
        cluster.connect("t", keepAlive: 0)
        #expect(sub.take() == [.publish("status/t", "taken over")])
    }

    @Test func retainedWillIsStored() {
        let cluster = TestCluster()
        let device = cluster.connect("d", will: ("status/d", "gone", .atLeastOnce, true))
        device.drop()
        let sub = cluster.connect("s")
        sub.subscribe("status/d", qos: .atLeastOnce)
        #expect(sub.take().last == .publish("status/d", "gone", qos: .atLeastOnce, retain: true, id: 1))
    }

    /// A will topic deeper than max_topic_levels was stored as a retained message, so a later
    /// `#` subscription recursed that deep and overflowed the shard's stack (issue 8).
    @Test func willTopicWithTooManyLevelsClosesTheConnection() {
        var settings = CoreSettings()
        settings.limits.maxTopicLevels = 3
        let cluster = TestCluster(settings: settings)
        let deep = cluster.connect("deep", will: (topic: "a/b/c/d", payload: "x", qos: .atMostOnce, retain: true))
        #expect(deep.isClosed)
        #expect(deep.take().isEmpty)
        let ok = cluster.connect("ok", will: (topic: "a/b/c", payload: "y", qos: .atMostOnce, retain: true))
        #expect(!ok.isClosed)
        ok.drop()
        let sub = cluster.connect("s")
        _ = sub.take()
        sub.subscribe("#", id: 2)
        #expect(sub.take() == [.suback(2, [.grantedQoS0]), .publish("a/b/c", "y", retain: true)])
    }
}
