import BrokerCore
import MQTTWire
import Testing

/// The shards' side of a cluster (`ClusterLink`): other nodes are slots from the shard count up,
/// learnt through `.interest`; what they want goes to the link once from the publishing shard,
/// what comes from them is routed here and never back.
@Suite struct ClusterTests {
    func payloads(_ packets: [Sent]) -> [String] {
        packets.compactMap { packet in
            if case .publish(_, let payload, _, _, _, _) = packet { return payload }
            return nil
        }
    }

    /// Every shard learns that the node in `slot` subscribes to `filter`.
    func remoteRoute(_ cluster: TestCluster, _ filter: String, slot: Int, present: Bool = true) {
        for shard in cluster.shards {
            shard.engine.handleInbox(.interest(filter: filter, shard: slot, interested: present))
        }
    }

    @Test func aPublishAnotherNodeWantsGoesToTheLinkOnceAddressedToThatNode() {
        let link = RecordingClusterLink()
        let cluster = TestCluster(shards: 2, link: link)
        let nodeB = cluster.context.shardCount, nodeC = nodeB + 1
        remoteRoute(cluster, "sensors/#", slot: nodeB)
        remoteRoute(cluster, "sensors/+/temp", slot: nodeC)
        remoteRoute(cluster, "other", slot: nodeC)
        let local = cluster.connect("local", shard: 1)
        local.subscribe("sensors/#")
        _ = local.take()
        let publisher = cluster.connect("pub", shard: 0)
        publisher.publish("sensors/1/temp", "21")
        publisher.publish("sensors/1/humidity", "40")
        publisher.publish("unwanted", "x")
        cluster.settle()
        let forwarded = link.takeForwarded()
        #expect(forwarded.map(\.payload) == ["21", "40"])
        var both = ShardSet()
        both.insert(nodeB)
        both.insert(nodeC)
        var onlyB = ShardSet()
        onlyB.insert(nodeB)
        #expect(forwarded.map(\.nodes) == [both, onlyB])
        #expect(payloads(local.take()) == ["21", "40"])
        // The route goes: nothing more for that node.
        remoteRoute(cluster, "sensors/#", slot: nodeB, present: false)
        publisher.publish("sensors/2/humidity", "41")
        cluster.settle()
        #expect(link.takeForwarded().isEmpty)
    }

    @Test func retainedMessagesGoToEveryNodeButSysTopicsNever() {
        let link = RecordingClusterLink()
        let cluster = TestCluster(shards: 2, link: link)
        remoteRoute(cluster, "#", slot: cluster.context.shardCount)
        cluster.connect("pub").publish("state/door", "open", retain: true)
        cluster.settle()
        let forwarded = link.takeForwarded()
        #expect(forwarded.map(\.payload) == ["open"])
        #expect(forwarded.first?.nodes == nil)
        cluster.advance(seconds: 11)  // $SYS goes out on shard 0
        #expect(link.takeForwarded().filter { $0.topic.hasPrefix("$SYS") }.isEmpty)
    }

    @Test func aPublishFromAnotherNodeIsDeliveredHereAndNeverSentBack() {
        let link = RecordingClusterLink()
        let store = FakeStore(autoComplete: true)
        let cluster = TestCluster(shards: 2, store: store, link: link)
        remoteRoute(cluster, "#", slot: cluster.context.shardCount)
        let subscribers = (0..<2).map { shard in
            let client = cluster.connect("s\(shard)", shard: shard)
            client.subscribe("news/#")
            _ = client.take()
            return client
        }
        let writesBefore = store.submitted.count
        cluster.shards[0].engine.handleInbox(.clusterPublish(
            Message(topic: "news/today", payload: Array("hello".utf8), qos: .atMostOnce, retain: true), group: nil))
        cluster.settle()
        #expect(subscribers.map { payloads($0.take()) } == [["hello"], ["hello"]])
        #expect(link.takeForwarded().isEmpty)
        // The origin node stored the retained message; this one only keeps its replica.
        #expect(store.submitted.count == writesBefore)
        let late = cluster.connect("late", shard: 1)
        late.subscribe("news/#")
        #expect(payloads(late.take()) == ["hello"])
    }

    @Test func theNodesRouteFollowsEachShardsFirstAndLastSubscription() {
        let link = RecordingClusterLink()
        let cluster = TestCluster(shards: 2, link: link)
        let first = cluster.connect("a", shard: 0)
        first.subscribe("t/#")
        let second = cluster.connect("b", shard: 1)
        second.subscribe("t/#")
        let third = cluster.connect("c", shard: 1)
        third.subscribe("t/#")
        second.disconnect()
        third.disconnect()
        first.disconnect()
        cluster.settle()
        // One call per shard going 0→1 or 1→0: the link counts the shards.
        #expect(link.interest.map { "\($0.0) \($0.1)" } == ["t/# true", "t/# true", "t/# false", "t/# false"])
    }

    @Test func aSharedGroupWithMembersOnAnotherNodeTakesTurnsBetweenTheNodes() {
        let link = RecordingClusterLink()
        let cluster = TestCluster(shards: 2, link: link)
        let member = cluster.connect("m", shard: 1)
        member.subscribe("$share/g/jobs/#")
        _ = member.take()
        #expect(link.interest.map(\.0) == ["$share/g/jobs/#"])
        let otherNode = cluster.context.shardCount
        remoteRoute(cluster, "$share/g/jobs/#", slot: otherNode)
        let publisher = cluster.connect("pub", shard: 0)
        for n in 0..<6 { publisher.publish("jobs/x", "\(n)") }
        cluster.settle()
        let forwarded = link.takeForwarded()
        let here = payloads(member.take())
        #expect(here.count == 3 && forwarded.count == 3)
        #expect((here + forwarded.map(\.payload)).sorted() == (0..<6).map(String.init))
        #expect(forwarded.allSatisfy { $0.group == "$share/g/jobs/#" && $0.nodes?.contains(otherNode) == true })
    }

    @Test func aMessageFromAnotherNodeForAGroupReachesOneMemberAndNoOrdinarySubscriber() {
        let link = RecordingClusterLink()
        let cluster = TestCluster(shards: 2, link: link)
        let members = (0..<2).map { shard in
            let client = cluster.connect("m\(shard)", shard: shard)
            client.subscribe("$share/g/jobs/#")
            _ = client.take()
            return client
        }
        let plain = cluster.connect("plain", shard: 0)
        plain.subscribe("jobs/#")
        _ = plain.take()
        for n in 0..<4 {
            cluster.shards[0].engine.handleInbox(.clusterPublish(
                Message(topic: "jobs/x", payload: Array("\(n)".utf8), qos: .atMostOnce, retain: false), group: "$share/g/jobs/#"))
        }
        cluster.settle()
        #expect(members.map { payloads($0.take()).count } == [2, 2])
        #expect(plain.take().isEmpty)
        // An ordinary message from another node: the publishing node already served the groups.
        cluster.shards[0].engine.handleInbox(.clusterPublish(
            Message(topic: "jobs/y", payload: Array("all".utf8), qos: .atMostOnce, retain: false), group: nil))
        cluster.settle()
        #expect(payloads(plain.take()) == ["all"])
        #expect(members.allSatisfy { $0.take().isEmpty })
    }

    @Test func aPersistentConnectWaitsForTheClusterAndResumesTheSessionAnotherNodeLetGo() throws {
        let link = RecordingClusterLink()
        let cluster = TestCluster(shards: 1, store: FakeStore(autoComplete: true), link: link)
        let device = cluster.connect("device", clean: false)
        #expect(device.take().isEmpty, "CONNACK before the cluster answered")
        let claim = try #require(link.takeClaims().first)
        #expect(claim.clientId == "device" && claim.keepSession)
        let queued = StoredQueueEntry(
            sequence: 1, message: Message(topic: "cmd/1", payload: Array("reboot".utf8), qos: .atLeastOnce, retain: false),
            qos: .atLeastOnce, retain: false, packetId: 0, stage: .queued)
        claim.completion(.session(StoredSession(
            clientId: "device", subscriptions: [StoredSubscription(filter: "cmd/#", qos: .atLeastOnce)], inboundQoS2: [],
            lastSeen: 1_700_000_000, entries: [queued])))
        cluster.settle()
        let sent = device.take()
        #expect(sent.first == .connack(sessionPresent: true, code: .accepted))
        #expect(payloads(sent) == ["reboot"])
        // Its subscription came along.
        cluster.connect("pub").publish("cmd/2", "update", qos: .atLeastOnce, id: 1)
        cluster.settle()
        #expect(payloads(device.take()) == ["update"])
    }

    @Test func aPersistentConnectIsRefusedWhenTheClusterCannotAnswerAndACleanOneNeverWaits() throws {
        let link = RecordingClusterLink()
        let cluster = TestCluster(shards: 1, store: FakeStore(autoComplete: true), link: link)
        let device = cluster.connect("device", clean: false)
        try #require(link.takeClaims().first).completion(.unavailable)
        cluster.settle()
        #expect(device.take() == [.connack(sessionPresent: false, code: .serverUnavailable)])
        #expect(device.isClosed)
        let clean = cluster.connect("viewer", clean: true)
        #expect(clean.take() == [.connack(sessionPresent: false, code: .accepted)])
        #expect(link.takeClaims().map(\.keepSession) == [false])
    }

    @Test func anotherNodesConnectClosesTheClientHereAndReleasesOnceTheSessionIsStored() {
        let link = RecordingClusterLink()
        let store = FakeStore()
        let cluster = TestCluster(shards: 1, store: store, link: link)
        let device = cluster.connect("device", clean: false)
        link.takeClaims().first?.completion(.session(nil))
        cluster.settle()
        _ = device.take()
        store.complete()
        cluster.settle()
        let released = ReleaseFlag()
        cluster.shards[0].engine.handleInbox(.clusterRelease(clientId: "device", keepSession: true, released: { released.set() }))
        cluster.settle()
        #expect(device.isClosed)
        #expect(!released.isSet, "released before the session's last write was durable")
        store.complete()
        cluster.settle()
        #expect(released.isSet)
    }

    /// A node taken for dead while alive (cut off from MongoDB) finds, when it reaches MongoDB
    /// again, which persistent sessions another node took and published the wills of: it lets
    /// go of those without a will or a write, keeps the rest (a session the other node did not
    /// find, a clean one), and a client of a surrendered session that connects again claims its
    /// id across the cluster.
    @Test func aNodeTakenForDeadLetsGoOfItsPersistentSessionsWithoutWillsOrWrites() throws {
        let link = RecordingClusterLink()
        let store = FakeStore(autoComplete: true)
        let cluster = TestCluster(shards: 2, store: store, link: link)
        let watcher = cluster.connect("watcher", shard: 1)
        watcher.subscribe("wills/#")
        _ = watcher.take()
        let device = cluster.connect("device", shard: 0, clean: false, will: ("wills/device", "gone", .atLeastOnce, false))
        let sleeper = cluster.connect("sleeper", shard: 1, clean: false)
        let kept = cluster.connect("kept", shard: 0, clean: false)
        for claim in link.takeClaims() where claim.keepSession { claim.completion(.session(nil)) }
        cluster.settle()
        device.subscribe("cmd/#", qos: .atLeastOnce)
        sleeper.subscribe("cmd/#", qos: .atLeastOnce)
        kept.subscribe("status/#", qos: .atLeastOnce)
        _ = device.take()
        _ = kept.take()
        sleeper.disconnect()
        cluster.settle()
        let writesBefore = store.submitted.count
        let interestBefore = link.interest.count
        for shard in cluster.shards { shard.engine.handleInbox(.surrenderSessions(["device", "sleeper", "watcher"])) }
        cluster.settle()
        #expect(device.isClosed)
        #expect(!kept.isClosed)
        #expect(watcher.take().isEmpty, "a surrendered session's will was published")
        #expect(!watcher.isClosed)
        // Only the connected client's own will document goes (conditioned on its will id: a
        // copy this node wrote back from its backlog is not published again later).
        #expect(Array(store.submitted.suffix(from: writesBefore)) == ["will- device"])
        // Nobody here wants cmd/# any more (either shard): the node's route for it goes.
        #expect(link.interest.suffix(from: interestBefore).map { "\($0.0) \($0.1)" } == ["cmd/# false", "cmd/# false"])
        // The device connects again: its session is another node's, so it is claimed across
        // the cluster as for a client new to this node.
        let again = cluster.connect("device", shard: 1, clean: false)
        let claims = link.takeClaims()
        #expect(claims.map(\.clientId) == ["device"])
        try #require(claims.first).completion(.session(nil))
        cluster.settle()
        #expect(again.take() == [.connack(sessionPresent: false, code: .accepted)])
        // What the other node did not take is still served here.
        cluster.connect("pub").publish("status/1", "up", qos: .atLeastOnce, id: 1)
        cluster.settle()
        #expect(payloads(kept.take()) == ["up"])
    }
}

final class ReleaseFlag: @unchecked Sendable {
    private(set) var isSet = false
    func set() { isSet = true }
}
