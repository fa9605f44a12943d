import BrokerCore
import MQTTWire
import Testing

@Suite struct ConnectTests {
    @Test func connectIsAcceptedWithoutSessionPresent() {
        let cluster = TestCluster()
        let client = cluster.connect("c1")
        #expect(client.take() == [.connack(sessionPresent: false, code: .accepted)])
        #expect(!client.isClosed)
    }

    @Test func emptyClientIdWithCleanSessionGetsAnAssignedId() {
        let cluster = TestCluster()
        let client = cluster.connect("", clean: true)
        #expect(client.take() == [.connack(sessionPresent: false, code: .accepted)])
        #expect(client.connection.clientId.hasPrefix("auto-"))
    }

    @Test func emptyClientIdWithoutCleanSessionIsRejected() {
        let cluster = TestCluster()
        let client = cluster.connect("", clean: false)
        #expect(client.take() == [.connack(sessionPresent: false, code: .identifierRejected)])
        #expect(client.isClosed)
    }

    @Test func firstPacketOtherThanConnectClosesWithoutConnack() {
        let cluster = TestCluster()
        let client = cluster.open()
        client.send(EmptyPacketEncoder.encode(.pingreq))
        #expect(client.isClosed)
        #expect(client.take().isEmpty)
    }

    @Test func secondConnectClosesTheConnection() {
        let cluster = TestCluster()
        let client = cluster.connect("c1")
        _ = client.take()
        client.send(ConnectEncoder.encode(clientId: Array("c1".utf8)))
        #expect(client.isClosed)
    }

    @Test func anonymousClientIsRefusedWhenNotAllowed() {
        var settings = CoreSettings()
        settings.allowAnonymous = false
        let cluster = TestCluster(settings: settings)
        let client = cluster.connect("c1")
        #expect(client.take() == [.connack(sessionPresent: false, code: .notAuthorized)])
        #expect(client.isClosed)
    }

    @Test func keepaliveAboveMaximumIsRefused() {
        var settings = CoreSettings()
        settings.limits.maxKeepalive = 60
        let cluster = TestCluster(settings: settings)
        let client = cluster.connect("c1", keepAlive: 61)
        #expect(client.take() == [.connack(sessionPresent: false, code: .identifierRejected)])
        let none = cluster.connect("c2", keepAlive: 0)
        #expect(none.take() == [.connack(sessionPresent: false, code: .identifierRejected)])
        let within = cluster.connect("c3", keepAlive: 60)
        #expect(within.take() == [.connack(sessionPresent: false, code: .accepted)])
    }

    @Test func connectTimeoutClosesSilentConnections() {
        let cluster = TestCluster()
        let silent = cluster.open()
        cluster.advance(seconds: 5)
        #expect(!silent.isClosed)
        cluster.advance(seconds: 6)
        #expect(silent.isClosed)
    }

    @Test func pingreqGetsPingresp() {
        let cluster = TestCluster()
        let client = cluster.connect("c1")
        _ = client.take()
        client.send(EmptyPacketEncoder.encode(.pingreq))
        #expect(client.take() == [.pingresp])
    }

    @Test func keepaliveTimeoutAfterOneAndAHalfPeriods() {
        let cluster = TestCluster()
        let client = cluster.connect("c1", keepAlive: 10)
        cluster.advance(seconds: 14)
        #expect(!client.isClosed)
        cluster.advance(seconds: 2)
        #expect(client.isClosed)
    }

    @Test func localTakeoverClosesTheOldConnectionAndResumesTheSession() {
        let cluster = TestCluster()
        let first = cluster.connect("dev", clean: false)
        first.subscribe("t", qos: .atLeastOnce)
        let second = cluster.connect("dev", clean: false)
        #expect(first.isClosed)
        #expect(second.take() == [.connack(sessionPresent: true, code: .accepted)])
        let publisher = cluster.connect("pub")
        publisher.publish("t", "after takeover", qos: .atLeastOnce, id: 7)
        #expect(second.take() == [.publish("t", "after takeover", qos: .atLeastOnce, id: 1)])
    }

    @Test func crossShardTakeoverMovesTheSession() {
        let cluster = TestCluster(shards: 3)
        let first = cluster.connect("dev", shard: 0, clean: false)
        first.subscribe("t/#", qos: .atLeastOnce)
        let second = cluster.connect("dev", shard: 2, clean: false)
        #expect(first.isClosed)
        #expect(second.take() == [.connack(sessionPresent: true, code: .accepted)])
        // The subscription now lives on shard 2 and publishes from any shard reach it once.
        let publisher = cluster.connect("pub", shard: 1)
        publisher.publish("t/x", "moved", qos: .atLeastOnce, id: 3)
        #expect(second.take() == [.publish("t/x", "moved", qos: .atLeastOnce, id: 1)])
        #expect(cluster.shards[0].engine.sessions["dev"] == nil)
    }

    @Test func crossShardTakeoverWithCleanSessionStartsFresh() {
        let cluster = TestCluster(shards: 2)
        let first = cluster.connect("dev", shard: 0, clean: false)
        first.subscribe("t", qos: .atLeastOnce)
        let second = cluster.connect("dev", shard: 1, clean: true)
        #expect(first.isClosed)
        #expect(second.take() == [.connack(sessionPresent: false, code: .accepted)])
        let publisher = cluster.connect("pub", shard: 0)
        publisher.publish("t", "nobody", qos: .atLeastOnce, id: 3)
        #expect(second.take().isEmpty)
    }

    @Test func packetsPipelinedAfterAConnectWaitingForItsSessionAreHandledAfterConnack() {
        let cluster = TestCluster(shards: 2)
        let first = cluster.connect("dev", shard: 0, clean: false)
        _ = first.take()
        let second = cluster.open(shard: 1)
        second.send(
            ConnectEncoder.encode(cleanSession: false, clientId: Array("dev".utf8))
                + SubscribeEncoder.encode(packetId: 9, filters: [(Array("p".utf8), .atMostOnce)]))
        cluster.settle()
        #expect(second.take() == [.connack(sessionPresent: true, code: .accepted), .suback(9, [.grantedQoS0])])
    }
}
