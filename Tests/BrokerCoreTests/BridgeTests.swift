import BrokerCore
import MQTTWire
import Synchronization
import Testing

/// A bridge the test controls: topics under `kafka/` match (`kafka/local/...` without waiting,
/// `kafka/only/...` not routed to MQTT); completions are held until the test settles them.
final class FakeBridge: PublishBridge {
    struct Forwarded: Equatable {
        var topic: String
        var payload: String
        var clientId: String
        var waits: Bool
    }
    let forwarded = Mutex<[Forwarded]>([])
    let events = Mutex<[String]>([])
    private let held = Mutex<[@Sendable (Bool) -> Void]>([])

    func match(topic: String) -> BridgeMatch? {
        guard topic.hasPrefix("kafka/") else { return nil }
        return BridgeMatch(
            alsoMQTT: !topic.hasPrefix("kafka/only/"), awaitsAcknowledgement: !topic.hasPrefix("kafka/local/"), rules: [0])
    }

    func forward(_ message: Message, match: BridgeMatch, from client: BridgeClient, completion: (@Sendable (Bool) -> Void)?) {
        forwarded.withLock {
            $0.append(Forwarded(
                topic: message.topic, payload: String(decoding: message.payload, as: UTF8.self), clientId: client.clientId,
                waits: completion != nil))
        }
        if let completion { held.withLock { $0.append(completion) } }
    }

    func clientConnected(_ client: BridgeClient) { events.withLock { $0.append("connect \(client.clientId)") } }
    func clientDisconnected(_ client: BridgeClient, reason: String) { events.withLock { $0.append("disconnect \(client.clientId)") } }
    var isAvailable: Bool { true }
    var statistics: BridgeStatistics { BridgeStatistics() }

    /// Settles the held completion number `index` (in forward order).
    func complete(_ index: Int, _ delivered: Bool) {
        let completion = held.withLock { $0[index] }
        completion(delivered)
    }
}

@Suite struct BridgeTests {
    func makeCluster() -> (TestCluster, FakeBridge) {
        let bridge = FakeBridge()
        return (TestCluster(bridge: bridge), bridge)
    }

    @Test func pubackIsHeldUntilTheBridgeHasThePublish() {
        let (cluster, bridge) = makeCluster()
        let subscriber = cluster.connect("s")
        subscriber.subscribe("kafka/#", qos: .atLeastOnce)
        let client = cluster.connect("c")
        _ = subscriber.take()
        _ = client.take()
        client.publish("kafka/a", "1", qos: .atLeastOnce, id: 5)
        cluster.settle()
        #expect(client.take() == [])
        #expect(bridge.forwarded.withLock { $0 } == [.init(topic: "kafka/a", payload: "1", clientId: "c", waits: true)])
        // Routed to MQTT at once; only the acknowledgement waits.
        #expect(subscriber.take().count == 1)
        bridge.complete(0, true)
        cluster.settle()
        #expect(client.take() == [.puback(5)])
    }

    @Test func acknowledgementsKeepPublishOrder() {
        let (cluster, bridge) = makeCluster()
        let client = cluster.connect("c")
        _ = client.take()
        client.publish("kafka/a", "1", qos: .atLeastOnce, id: 1)
        client.publish("kafka/a", "2", qos: .atLeastOnce, id: 2)
        client.publish("plain/b", "3", qos: .atLeastOnce, id: 3)
        client.publish("kafka/a", "4", qos: .exactlyOnce, id: 4)
        cluster.settle()
        #expect(client.take() == [])
        bridge.complete(1, true)
        cluster.settle()
        #expect(client.take() == [])
        bridge.complete(0, true)
        cluster.settle()
        #expect(client.take() == [.puback(1), .puback(2), .puback(3)])
        bridge.complete(2, true)
        cluster.settle()
        #expect(client.take() == [.pubrec(4)])
    }

    @Test func aRefusedPublishIsNotAcknowledged() {
        let (cluster, bridge) = makeCluster()
        let client = cluster.connect("c")
        _ = client.take()
        client.publish("kafka/a", "1", qos: .atLeastOnce, id: 1)
        client.publish("kafka/a", "2", qos: .atLeastOnce, id: 2)
        cluster.settle()
        bridge.complete(0, false)
        bridge.complete(1, true)
        cluster.settle()
        #expect(client.take() == [.puback(2)])
        #expect(cluster.shards[0].engine.counters.bridgeFailures == 1)
    }

    @Test func alsoMQTTFalseIsNotRoutedAndLocalModeAcknowledgesAtOnce() {
        let (cluster, bridge) = makeCluster()
        let subscriber = cluster.connect("s")
        subscriber.subscribe("#")
        let client = cluster.connect("c")
        _ = subscriber.take()
        _ = client.take()
        client.publish("kafka/only/x", "1", qos: .atMostOnce)
        client.publish("kafka/local/y", "2", qos: .atLeastOnce, id: 9)
        cluster.settle()
        #expect(subscriber.take() == [.publish("kafka/local/y", "2")])
        #expect(client.take() == [.puback(9)])
        #expect(bridge.forwarded.withLock { $0.map(\.waits) } == [false, false])
    }

    @Test func unmatchedTopicsAreNotForwarded() {
        let (cluster, bridge) = makeCluster()
        let client = cluster.connect("c")
        _ = client.take()
        client.publish("plain/a", "1", qos: .atLeastOnce, id: 1)
        cluster.settle()
        #expect(client.take() == [.puback(1)])
        #expect(bridge.forwarded.withLock { $0.isEmpty })
    }

    @Test func aCompletionAfterTheClientLeftIsIgnored() {
        let (cluster, bridge) = makeCluster()
        let client = cluster.connect("c")
        client.publish("kafka/a", "1", qos: .atLeastOnce, id: 1)
        cluster.settle()
        client.drop()
        bridge.complete(0, true)
        cluster.settle()
        #expect(bridge.events.withLock { $0 } == ["connect c", "disconnect c"])
    }

    @Test func aQoS2ResendWhileWaitingIsNotHandedOverTwiceAndARefusalAllowsAResend() {
        let (cluster, bridge) = makeCluster()
        let client = cluster.connect("c", clean: false)
        _ = client.take()
        client.publish("kafka/a", "1", qos: .exactlyOnce, id: 4)
        client.publish("kafka/a", "1", qos: .exactlyOnce, dup: true, id: 4)
        cluster.settle()
        #expect(bridge.forwarded.withLock { $0.count } == 1)
        bridge.complete(0, false)
        cluster.settle()
        #expect(client.take() == [])
        client.publish("kafka/a", "1", qos: .exactlyOnce, dup: true, id: 4)
        #expect(bridge.forwarded.withLock { $0.count } == 2)
        bridge.complete(1, true)
        cluster.settle()
        #expect(client.take() == [.pubrec(4)])
        // Received now: a further resend is acknowledged without another record.
        client.publish("kafka/a", "1", qos: .exactlyOnce, dup: true, id: 4)
        #expect(client.take() == [.pubrec(4)])
        #expect(bridge.forwarded.withLock { $0.count } == 2)
    }
}

@Suite struct LatencyHistogramTests {
    @Test func observationsLandInTheirBucketsAndTheSumAddsUp() {
        let histogram = AtomicLatencyHistogram()
        histogram.record(nanoseconds: 500_000)        // 0.5 ms: le 0.001
        histogram.record(nanoseconds: 3_000_000)      // 3 ms: le 0.005
        histogram.record(nanoseconds: 20_000_000_000) // 20 s: +Inf
        let snapshot = histogram.snapshot
        #expect(snapshot.counts[0] == 1)
        #expect(snapshot.counts[2] == 1)
        #expect(snapshot.counts[LatencyHistogram.bounds.count] == 1)
        #expect(snapshot.count == 3)
        #expect(abs(snapshot.sumSeconds - 20.0035) < 0.000_01)
    }
}
