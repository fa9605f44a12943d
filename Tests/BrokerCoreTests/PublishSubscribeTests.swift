import BrokerCore
import MQTTWire
import Synchronization
import Testing

@Suite struct PublishSubscribeTests {
    /// A connected subscriber with its CONNACK and SUBACK already read.
    func subscriber(_ cluster: TestCluster, _ id: String, _ filters: [(String, QoS)], shard: Int = 0, clean: Bool = true) -> TestClient {
        let client = cluster.connect(id, shard: shard, clean: clean)
        client.subscribe(filters)
        _ = client.take()
        return client
    }

    @Test func subackGrantsTheRequestedQoSPerFilter() {
        let cluster = TestCluster()
        let client = cluster.connect("s")
        _ = client.take()
        client.subscribe([("a", .atMostOnce), ("b/+", .atLeastOnce), ("c/#", .exactlyOnce)], id: 42)
        #expect(client.take() == [.suback(42, [.grantedQoS0, .grantedQoS1, .grantedQoS2])])
    }

    @Test(arguments: [
        ("a/+/c", "a/b/c", true), ("a/+/c", "a/b/d", false), ("a/#", "a", true), ("a/#", "a/b/c", true),
        ("#", "x/y", true), ("+", "x/y", false), ("+/+", "/x", true), ("a/+", "a/", true),
        ("#", "$SYS/x", false), ("+/x", "$SYS/x", false), ("$SYS/#", "$SYS/x", true), ("a", "A", false),
    ])
    func wildcardMatching(filter: String, topic: String, matches: Bool) {
        let cluster = TestCluster()
        let sub = subscriber(cluster, "s", [(filter, .atMostOnce)])
        // $SYS topics cannot be published by clients: route them as the broker does.
        if topic.hasPrefix("$") {
            cluster.shards[0].engine.route(Message(topic: topic, payload: Array("m".utf8), qos: .atMostOnce, retain: false))
        } else {
            cluster.connect("p").publish(topic, "m")
        }
        #expect(sub.take() == (matches ? [.publish(topic, "m")] : []))
    }

    @Test func overlappingSubscriptionsDeliverOnceAtTheHighestQoS() {
        let cluster = TestCluster()
        let sub = subscriber(cluster, "s", [("a/#", .atMostOnce), ("a/+", .exactlyOnce), ("a/b", .atLeastOnce)])
        cluster.connect("p").publish("a/b", "x", qos: .exactlyOnce, id: 1)
        #expect(sub.take() == [.publish("a/b", "x", qos: .exactlyOnce, id: 1)])
    }

    @Test func deliveredQoSIsTheMinimumOfPublishedAndGranted() {
        let cluster = TestCluster()
        let sub = subscriber(cluster, "s", [("a", .atLeastOnce)])
        let publisher = cluster.connect("p")
        publisher.publish("a", "two", qos: .exactlyOnce, id: 5)
        publisher.publish("a", "zero", qos: .atMostOnce)
        #expect(sub.take() == [.publish("a", "two", qos: .atLeastOnce, id: 1), .publish("a", "zero")])
    }

    @Test func unsubscribeStopsDelivery() {
        let cluster = TestCluster()
        let sub = subscriber(cluster, "s", [("a", .atMostOnce)])
        sub.unsubscribe(["a"], id: 3)
        #expect(sub.take() == [.unsuback(3)])
        cluster.connect("p").publish("a", "x")
        #expect(sub.take().isEmpty)
    }

    @Test func qos1PublishIsAcknowledged() {
        let cluster = TestCluster()
        let publisher = cluster.connect("p")
        _ = publisher.take()
        publisher.publish("a", "x", qos: .atLeastOnce, id: 11)
        #expect(publisher.take() == [.puback(11)])
    }

    @Test func qos2InboundIsExactlyOnceWhenThePublishIsResent() {
        let cluster = TestCluster()
        let sub = subscriber(cluster, "s", [("a", .atMostOnce)])
        let publisher = cluster.connect("p")
        _ = publisher.take()
        publisher.publish("a", "once", qos: .exactlyOnce, id: 5)
        publisher.publish("a", "once", qos: .exactlyOnce, dup: true, id: 5)
        #expect(publisher.take() == [.pubrec(5), .pubrec(5)])
        #expect(sub.take() == [.publish("a", "once")])
        publisher.ack(.pubrel, 5)
        #expect(publisher.take() == [.pubcomp(5)])
        // After PUBREL the id is free: the same id now carries a new message.
        publisher.publish("a", "again", qos: .exactlyOnce, id: 5)
        #expect(sub.take() == [.publish("a", "again")])
    }

    @Test func qos2OutboundFlow() {
        let cluster = TestCluster()
        let sub = subscriber(cluster, "s", [("a", .exactlyOnce)])
        cluster.connect("p").publish("a", "x", qos: .exactlyOnce, id: 9)
        #expect(sub.take() == [.publish("a", "x", qos: .exactlyOnce, id: 1)])
        sub.ack(.pubrec, 1)
        #expect(sub.take() == [.pubrel(1)])
        sub.ack(.pubcomp, 1)
        #expect(sub.connection.session?.inflight.isEmpty == true)
    }

    @Test func inflightWindowHoldsBackMessagesUntilAcknowledged() {
        var settings = CoreSettings()
        settings.limits.maxInflightMessages = 2
        let cluster = TestCluster(settings: settings)
        let sub = subscriber(cluster, "s", [("a", .atLeastOnce)])
        let publisher = cluster.connect("p")
        for n in 1...5 { publisher.publish("a", "\(n)", qos: .atLeastOnce, id: UInt16(n)) }
        #expect(sub.take().compactMap(\.topicAndPayload) == ["a=1", "a=2"])
        sub.ack(.puback, 1)
        #expect(sub.take() == [.publish("a", "3", qos: .atLeastOnce, id: 3)])
        sub.ack(.puback, 2)
        sub.ack(.puback, 3)
        #expect(sub.take().compactMap(\.topicAndPayload) == ["a=4", "a=5"])
    }

    @Test func crossShardDeliveryReachesEveryShardWithASubscriber() {
        let cluster = TestCluster(shards: 4)
        let subs = (0..<4).map { subscriber(cluster, "s\($0)", [("room/+", .atLeastOnce)], shard: $0) }
        cluster.connect("p", shard: 2).publish("room/1", "hello", qos: .atLeastOnce, id: 1)
        for sub in subs { #expect(sub.take() == [.publish("room/1", "hello", qos: .atLeastOnce, id: 1)]) }
    }

    @Test func publishIsNotPostedToShardsWithoutSubscribers() {
        let cluster = TestCluster(shards: 3)
        _ = subscriber(cluster, "s", [("a", .atMostOnce)], shard: 1)
        let publisher = cluster.connect("p", shard: 0)
        publisher.send(PublishEncoder.encode(topic: Array("a".utf8), payload: [1], qos: .atMostOnce))
        let targets = cluster.shards[0].outbox.compactMap { post -> Int? in
            if case .publish = post.0 { return post.1 }
            return nil
        }
        #expect(targets == [1])
        cluster.settle()
    }

    @Test func orderFromOnePublisherIsKeptAcrossShards() {
        let cluster = TestCluster(shards: 2)
        let sub = subscriber(cluster, "s", [("seq", .atMostOnce)], shard: 1)
        let publisher = cluster.connect("p", shard: 0)
        for n in 0..<200 {
            publisher.send(PublishEncoder.encode(topic: Array("seq".utf8), payload: Array("\(n)".utf8), qos: .atMostOnce))
        }
        cluster.settle()
        #expect(sub.take().compactMap(\.topicAndPayload) == (0..<200).map { "seq=\($0)" })
    }

    @Test func clientsCannotPublishToSys() {
        let cluster = TestCluster()
        let sub = subscriber(cluster, "s", [("$SYS/#", .atMostOnce)])
        let publisher = cluster.connect("p")
        _ = publisher.take()
        publisher.publish("$SYS/broker/fake", "x", qos: .atLeastOnce, id: 4)
        #expect(publisher.take() == [.puback(4)])
        #expect(sub.take().isEmpty)
    }

    @Test func sysTopicsArePublishedEveryInterval() {
        var settings = CoreSettings()
        settings.sysIntervalSeconds = 1
        let cluster = TestCluster(shards: 2, settings: settings)
        let sub = subscriber(cluster, "s", [("$SYS/broker/clients/connected", .atMostOnce)], shard: 1)
        cluster.advance(seconds: 1)
        cluster.advance(seconds: 1.1)
        #expect(sub.take().contains(.publish("$SYS/broker/clients/connected", "1")))
    }

    @Test func topicWithTooManyLevelsClosesThePublisher() {
        var settings = CoreSettings()
        settings.limits.maxTopicLevels = 3
        let cluster = TestCluster(settings: settings)
        let publisher = cluster.connect("p")
        publisher.publish("a/b/c", "ok")
        #expect(!publisher.isClosed)
        publisher.publish("a/b/c/d", "too deep")
        #expect(publisher.isClosed)
    }

    @Test func subscribeWithTooManyLevelsGetsFailureCode() {
        var settings = CoreSettings()
        settings.limits.maxTopicLevels = 2
        let cluster = TestCluster(settings: settings)
        let client = cluster.connect("s")
        _ = client.take()
        client.subscribe([("a/b", .atMostOnce), ("a/b/c", .atMostOnce)], id: 6)
        #expect(client.take() == [.suback(6, [.grantedQoS0, .failure])])
    }

    @Test func largePayloadsAreDeliveredIntactAtEveryQoS() {
        // Above OutboundQueue.referenceThreshold the payload (or the whole QoS 0 packet) is
        // referenced from the shared message instead of copied.
        let cluster = TestCluster()
        let sub = subscriber(cluster, "s", [("big", .exactlyOnce)])
        let big = String(repeating: "0123456789abcdef", count: 256)
        let publisher = cluster.connect("p")
        publisher.publish("big", big, qos: .atMostOnce)
        publisher.publish("big", big, qos: .atLeastOnce, id: 1)
        publisher.publish("big", "small", qos: .atMostOnce)
        publisher.publish("big", big, qos: .exactlyOnce, id: 2)
        #expect(sub.take() == [
            .publish("big", big), .publish("big", big, qos: .atLeastOnce, id: 1), .publish("big", "small"),
            .publish("big", big, qos: .exactlyOnce, id: 2),
        ])
    }
}

/// Messages from outside MQTT (`ShardMessage.inject`, what the Kafka subscriber posts).
@Suite struct InjectedMessageTests {
    @Test func anInjectedMessageIsRoutedAndAcknowledgedOnce() {
        let cluster = TestCluster(shards: 2)
        let sub = cluster.connect("s", shard: 1)
        sub.subscribe([("cmd/#", .atLeastOnce)])
        _ = sub.take()
        let routed = Counter()
        cluster.shards[0].testMailbox.post(.inject(
            Message(topic: "cmd/a", payload: Array("go".utf8), qos: .atLeastOnce, retain: false), routed: { routed.increment() }))
        cluster.settle()
        #expect(routed.value == 1)
        #expect(sub.take() == [.publish("cmd/a", "go", qos: .atLeastOnce, id: 1)])
    }

    /// `max_topic_levels` holds for topics made from Kafka records too: the tries are not walked
    /// deeper than a PUBLISH could take them; the record still counts as handled.
    @Test func anInjectedTopicDeeperThanTheLimitIsDroppedAndCounted() {
        var settings = CoreSettings()
        settings.limits.maxTopicLevels = 3
        let cluster = TestCluster(settings: settings)
        let sub = cluster.connect("s")
        sub.subscribe([("#", .atMostOnce)])
        _ = sub.take()
        let routed = Counter()
        for topic in ["a/b/c", "a/b/c/d"] {
            cluster.shards[0].testMailbox.post(.inject(
                Message(topic: topic, payload: Array("x".utf8), qos: .atMostOnce, retain: true), routed: { routed.increment() }))
        }
        cluster.settle()
        #expect(routed.value == 2)
        #expect(sub.take() == [.publish("a/b/c", "x")])
        #expect(cluster.shards[0].engine.counters.messagesDropped == 1)
        #expect(cluster.shards[0].engine.retained.count == 1)
    }
}

/// Counts calls from a `@Sendable` closure.
private final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
