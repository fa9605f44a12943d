import BrokerCore
import MQTTWire
import Testing

/// 3.1.1 behaviours the specification leaves open, aligned with Mosquitto (the reference broker,
/// tried with raw packets): topic depth, acknowledgements of the wrong kind, the order of a
/// PUBACK and the message coming back, and the will of a session that takes itself over.
@Suite struct MosquittoAlignmentTests {
    @Test func twoHundredLevelsAreDeliveredAndMoreCloseTheConnection() {
        let cluster = TestCluster()
        let deep = Array(repeating: "l", count: 200).joined(separator: "/")
        let sub = cluster.connect("s")
        sub.subscribe(deep)
        let pub = cluster.connect("p")
        pub.publish(deep, "x")
        #expect(sub.take().last == .publish(deep, "x"))
        pub.publish(deep + "/one-more", "x")
        #expect(pub.isClosed)
        #expect(sub.take().isEmpty)
    }

    /// PUBREC or PUBCOMP answering a QoS 1 delivery; PUBACK or PUBCOMP answering a QoS 2 one
    /// before its PUBREC.
    @Test(arguments: [(QoS.atLeastOnce, PacketType.pubrec), (.atLeastOnce, .pubcomp), (.exactlyOnce, .puback), (.exactlyOnce, .pubcomp)])
    func anAcknowledgementOfTheWrongKindCloses(_ qos: QoS, _ kind: PacketType) {
        let cluster = TestCluster()
        let sub = cluster.connect("s")
        sub.subscribe("t", qos: qos)
        cluster.connect("p").publish("t", "m", qos: qos, id: 1)
        #expect(sub.take().last == .publish("t", "m", qos: qos, id: 1))
        sub.ack(kind, 1)
        #expect(sub.isClosed)
    }

    @Test func anAcknowledgementForAnUnknownIdIsIgnored() {
        let cluster = TestCluster()
        let sub = cluster.connect("s")
        sub.ack(.puback, 9)
        sub.ack(.pubcomp, 9)
        #expect(!sub.isClosed)
    }

    @Test(arguments: [QoS.atLeastOnce, .exactlyOnce])
    func aPublisherGetsItsAcknowledgementBeforeItsOwnMessageComesBack(_ qos: QoS) {
        let cluster = TestCluster()
        let client = cluster.connect("self")
        client.subscribe("echo", qos: qos)
        _ = client.take()
        client.publish("echo", "hi", qos: qos, id: 5)
        let sent = client.take()
        #expect(sent.first == (qos == .atLeastOnce ? .puback(5) : .pubrec(5)))
        #expect(sent.dropFirst().first == .publish("echo", "hi", qos: qos, id: 1))
    }

    /// Mosquitto: a persistent session taken over by its own client id with clean session 0
    /// continues, so the old connection's will is not published; a clean takeover ends it.
    @Test(arguments: [0, 1])
    func aPersistentSessionTakingItselfOverKeepsItsWillBack(newShard: Int) {
        let cluster = TestCluster(shards: 2)
        let watcher = cluster.connect("w", keepAlive: 0)
        watcher.subscribe("status/+")
        _ = watcher.take()
        cluster.connect("d", shard: 0, clean: false, will: ("status/d", "gone", .atMostOnce, false))
        cluster.connect("d", shard: newShard, clean: false)
        #expect(watcher.take().isEmpty)
        cluster.connect("e", shard: 0, clean: false, will: ("status/e", "gone", .atMostOnce, false))
        cluster.connect("e", shard: newShard, clean: true)
        #expect(watcher.take() == [.publish("status/e", "gone")])
    }
}
