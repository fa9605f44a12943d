import BrokerCore
import MQTTWire
import Testing

/// Shared subscriptions (`$share/{group}/{filter}`, `$queue/{filter}`) across shards: one member
/// per group gets each message, members leaving hand their unacknowledged messages on.
@Suite struct SharedSubscriptionTests {
    func member(
        _ cluster: TestCluster, _ id: String, _ filter: String, qos: QoS = .atMostOnce, shard: Int = 0, clean: Bool = true
    ) -> TestClient {
        let client = cluster.connect(id, shard: shard, clean: clean)
        client.subscribe(filter, qos: qos)
        _ = client.take()
        return client
    }

    func settings(_ strategy: SharedSubscriptionStrategy = .roundRobin, inflight: Int? = nil) -> CoreSettings {
        var settings = CoreSettings()
        settings.sharedSubscriptionStrategy = strategy
        if let inflight { settings.limits.maxInflightMessages = inflight }
        return settings
    }

    func payloads(_ packets: [Sent]) -> [String] {
        packets.compactMap { packet in
            if case .publish(_, let payload, _, _, _, _) = packet { return payload }
            return nil
        }
    }

    @Test func eachMessageGoesToOneMemberOfEachGroupAndToEveryOrdinarySubscriber() {
        let cluster = TestCluster(shards: 4)
        let members = (0..<4).map { member(cluster, "m\($0)", "$share/workers/jobs/+", shard: $0) }
        let other = member(cluster, "o", "$share/audit/jobs/#", shard: 1)
        let plain = member(cluster, "p", "jobs/#", shard: 2)
        let publisher = cluster.connect("pub", shard: 0)
        for n in 0..<8 { publisher.publish("jobs/x", "\(n)") }
        let received = members.map { payloads($0.take()) }
        #expect(received.flatMap { $0 }.sorted() == (0..<8).map(String.init))
        #expect(received.map(\.count) == [2, 2, 2, 2])
        #expect(payloads(other.take()) == (0..<8).map(String.init))
        #expect(payloads(plain.take()) == (0..<8).map(String.init))
    }

    @Test func roundRobinIsEvenForPublishersOnEveryShard() {
        let cluster = TestCluster(shards: 4)
        let members = (0..<4).map { member(cluster, "m\($0)", "$share/g/t", qos: .atLeastOnce, shard: $0) }
        let publishers = (0..<4).map { cluster.connect("pub\($0)", shard: $0) }
        for round in 0..<40 {
            for publisher in publishers { publisher.publish("t", "\(round)") }
        }
        #expect(members.map { payloads($0.take()).count } == [40, 40, 40, 40])
    }

    @Test func aSharedSubscribeGetsNoRetainedMessagesButAnOrdinaryOneDoes() {
        let cluster = TestCluster(shards: 2)
        cluster.connect("pub", shard: 0).publish("status", "up", retain: true)
        let shared = cluster.connect("s", shard: 1)
        _ = shared.take()
        shared.subscribe([("$share/g/status", .atMostOnce), ("status", .atMostOnce)], id: 3)
        #expect(shared.take() == [.suback(3, [.grantedQoS0, .grantedQoS0]), .publish("status", "up", retain: true)])
    }

    @Test(arguments: ["$share//a", "$share/g", "$share/g/", "$share/+/a", "$share/#", "$queue/", "$share/g/$share/h/a", "$share/g/$queue/a"])
    func malformedSharedFiltersAreRefusedWithSuback0x80(filter: String) {
        let cluster = TestCluster()
        let client = cluster.connect("c")
        _ = client.take()
        client.subscribe([(filter, .atLeastOnce), ("$queue/ok", .atLeastOnce)], id: 5)
        #expect(client.take() == [.suback(5, [.failure, .grantedQoS1])])
        #expect(client.isClosed == false)
        #expect(cluster.shards[0].engine.sessions["c"]?.subscriptions.keys.sorted() == ["$share/$queue/ok"])
    }

    @Test func queueIsTheGroupNamedQueue() {
        let cluster = TestCluster(shards: 2)
        let a = member(cluster, "a", "$queue/t", shard: 0)
        let b = member(cluster, "b", "$share/$queue/t", shard: 1)
        let publisher = cluster.connect("pub", shard: 0)
        for n in 0..<4 { publisher.publish("t", "\(n)") }
        #expect(payloads(a.take()).count + payloads(b.take()).count == 4)
        b.unsubscribe(["$queue/t"], id: 8)
        #expect(b.take() == [.unsuback(8)])
        publisher.publish("t", "after")
        #expect(payloads(a.take()) == ["after"])
        #expect(cluster.shards[0].engine.subscriptions.sharedGroups["$share/$queue/t"]?.totalCount == 1)
    }

    @Test func aClientInTwoGroupsOfOneFilterGetsTheMessageOncePerGroup() {
        let cluster = TestCluster()
        let client = cluster.connect("c")
        client.subscribe([("$share/a/t", .atMostOnce), ("$share/b/t", .atMostOnce)])
        _ = client.take()
        cluster.connect("pub").publish("t", "m")
        #expect(payloads(client.take()) == ["m", "m"])
    }

    @Test func aClosedMembersUnacknowledgedMessagesGoToAnotherMemberOnAnotherShard() {
        let cluster = TestCluster(shards: 2)
        let a = member(cluster, "a", "$share/g/t", qos: .atLeastOnce, shard: 0)
        let b = member(cluster, "b", "$share/g/t", qos: .atLeastOnce, shard: 1)
        let publisher = cluster.connect("pub", shard: 0)
        for n in 1...4 { publisher.publish("t", "\(n)", qos: .atLeastOnce, id: UInt16(n)) }
        #expect(payloads(a.take()) == ["1", "3"])
        #expect(payloads(b.take()) == ["2", "4"])
        a.ack(.puback, 1)
        a.drop()
        cluster.settle()
        // "3" was not acknowledged: b gets it; "1" was, and goes nowhere again.
        #expect(b.take() == [.publish("t", "3", qos: .atLeastOnce, id: 3)])
        publisher.publish("t", "5", qos: .atLeastOnce, id: 5)
        #expect(payloads(b.take()) == ["5"])
    }

    @Test func unsubscribingHandsQueuedMessagesOnAndKeepsWhatIsInFlight() {
        let cluster = TestCluster(shards: 2, settings: settings(inflight: 1))
        let a = member(cluster, "a", "$share/g/t", qos: .atLeastOnce, shard: 0)
        let b = member(cluster, "b", "$share/g/t", qos: .atLeastOnce, shard: 1)
        let publisher = cluster.connect("pub", shard: 0)
        for n in 1...4 { publisher.publish("t", "\(n)", qos: .atLeastOnce, id: UInt16(n)) }
        // a has "1" in flight and "3" queued behind it.
        #expect(payloads(a.take()) == ["1"])
        #expect(payloads(b.take()) == ["2"])
        b.ack(.puback, 1)
        #expect(payloads(b.take()) == ["4"])
        b.ack(.puback, 2)
        a.unsubscribe(["$share/g/t"], id: 9)
        #expect(a.take() == [.unsuback(9)])
        // "3" goes to b; "1" stays with a, which still owes its PUBACK (its packet id is not
        // free for another message before that).
        #expect(payloads(b.take()) == ["3"])
        #expect(cluster.shards[0].engine.sessions["a"]?.inflight.map(\.packetId) == [1])
        a.ack(.puback, 1)
        #expect(cluster.shards[0].engine.sessions["a"]?.inflight.isEmpty == true)
        #expect(a.take() == [])
    }

    @Test func whenEveryOnlineMemberIsFullAnOfflineOneWithRoomQueuesTheMessage() {
        var limits = settings(inflight: 1)
        limits.limits.maxQueuedMessages = 1
        limits.limits.queueBackpressure = false
        let cluster = TestCluster(settings: limits)
        let offline = member(cluster, "off", "$share/g/t", qos: .atLeastOnce, clean: false)
        offline.disconnect()
        let busy = member(cluster, "busy", "$share/g/t", qos: .atLeastOnce)
        let publisher = cluster.connect("pub")
        for n in 1...3 { publisher.publish("t", "\(n)", qos: .atLeastOnce, id: UInt16(n)) }
        // busy takes "1" (in flight) and "2" (queued, its queue is then full); "3" goes to the
        // offline member rather than nowhere.
        #expect(payloads(busy.take()) == ["1"])
        #expect(cluster.shards[0].engine.sessions["off"]?.queue.count == 1)
        #expect(cluster.shards[0].engine.counters.messagesDropped == 0)
    }

    @Test func aQoS2MessageAlreadySentStaysWithItsMember() {
        let cluster = TestCluster(shards: 2)
        let a = member(cluster, "a", "$share/g/t", qos: .exactlyOnce, shard: 0, clean: false)
        let b = member(cluster, "b", "$share/g/t", qos: .exactlyOnce, shard: 1)
        let publisher = cluster.connect("pub", shard: 0)
        publisher.publish("t", "x", qos: .exactlyOnce, id: 1)
        #expect(payloads(a.take()) == ["x"])
        a.drop()
        cluster.settle()
        #expect(b.take() == [])
        let back = cluster.connect("a", shard: 1, clean: false)
        #expect(back.take() == [
            .connack(sessionPresent: true, code: .accepted), .publish("t", "x", qos: .exactlyOnce, dup: true, id: 1),
        ])
    }

    @Test func anOfflinePersistentMemberKeepsItsMessagesOnlyAsTheLastMemberOnline() {
        let cluster = TestCluster(shards: 2)
        let a = member(cluster, "a", "$share/g/t", qos: .atLeastOnce, shard: 0, clean: false)
        a.disconnect()
        let publisher = cluster.connect("pub", shard: 1)
        publisher.publish("t", "kept", qos: .atLeastOnce, id: 1)
        // Nobody else is online: a's session queues it.
        let b = member(cluster, "b", "$share/g/t", qos: .atLeastOnce, shard: 1)
        publisher.publish("t", "live", qos: .atLeastOnce, id: 2)
        #expect(payloads(b.take()) == ["live"])
        let back = cluster.connect("a", shard: 0, clean: false)
        #expect(payloads(back.take()) == ["kept"])
        back.ack(.puback, 1)
        // Now a goes offline while b is online: what it was given goes to b.
        publisher.publish("t", "3", qos: .atLeastOnce, id: 3)
        publisher.publish("t", "4", qos: .atLeastOnce, id: 4)
        let toA = payloads(back.take())
        let toB = payloads(b.take())
        #expect((toA + toB).sorted() == ["3", "4"])
        back.drop()
        cluster.settle()
        #expect(payloads(b.take()) == toA)
        publisher.publish("t", "5", qos: .atLeastOnce, id: 5)
        #expect(payloads(b.take()) == ["5"])
    }

    @Test func aStalledMemberIsPassedOverWhileAnotherKeepsUp() {
        let cluster = TestCluster(settings: settings(inflight: 1))
        let slow = member(cluster, "slow", "$share/g/t", qos: .atLeastOnce)
        let fast = member(cluster, "fast", "$share/g/t", qos: .atLeastOnce)
        let publisher = cluster.connect("pub")
        var toFast: [String] = []
        func publish(_ numbers: ClosedRange<Int>) {
            for n in numbers {
                publisher.publish("t", "\(n)", qos: .atLeastOnce, id: UInt16(n))
                for packet in fast.take() {
                    if case .publish(_, let payload, _, _, _, let id?) = packet {
                        toFast.append(payload)
                        fast.ack(.puback, id)
                    }
                }
            }
        }
        publish(1...4)
        // slow never acknowledges "1": it keeps its turns ("3" queued behind its full window)
        // until it has been silent for a second, and is passed over from then on.
        cluster.advance(seconds: 1.5)
        publish(5...8)
        #expect(payloads(slow.take()) == ["1"])
        #expect(cluster.shards[0].engine.sessions["slow"]?.queue.map { String(decoding: $0.message.payload, as: UTF8.self) } == ["3"])
        #expect(toFast == ["2", "4", "5", "6", "7", "8"])
        #expect(cluster.shards[0].engine.counters.messagesDropped == 0)
        // Once it acknowledges, it takes its turns again ("3" is now in flight, one more queued).
        slow.ack(.puback, 1)
        #expect(payloads(slow.take()) == ["3"])
        publish(9...10)
        #expect(cluster.shards[0].engine.sessions["slow"]?.queue.count == 1)
        #expect(toFast.count == 7)
    }

    @Test func roundRobinKeepsStrictTurnsWhileEveryWindowIsFull() {
        let cluster = TestCluster(settings: settings(inflight: 2))
        let members = (0..<3).map { member(cluster, "m\($0)", "$share/g/t", qos: .atLeastOnce) }
        let publisher = cluster.connect("pub")
        // Nobody acknowledges: every window fills, and the turns stay strict.
        for n in 0..<30 { publisher.publish("t", "\(n)", qos: .atLeastOnce, id: UInt16(n + 1)) }
        let engine: ShardEngine = cluster.shards[0].engine
        let held = members.map { client in
            engine.sessions[client.connection.clientId].map { $0.inflight.count + $0.queue.count } ?? 0
        }
        #expect(held == [10, 10, 10])
    }

    @Test func hashClientIdKeepsEachPublisherOnOneMember() {
        let cluster = TestCluster(shards: 3, settings: settings(.hashClientId))
        let members = (0..<3).map { member(cluster, "m\($0)", "$share/g/t", shard: $0) }
        let publishers = (0..<6).map { cluster.connect("device-\($0)", shard: $0 % 3) }
        for round in 0..<5 {
            for (index, publisher) in publishers.enumerated() { publisher.publish("t", "p\(index)-\(round)") }
        }
        var owner: [String: Int] = [:]
        for (index, member) in members.enumerated() {
            for payload in payloads(member.take()) {
                let publisher = String(payload.prefix { $0 != "-" })
                #expect(owner[publisher, default: index] == index, "publisher \(publisher) reached two members")
                owner[publisher] = index
            }
        }
        #expect(owner.count == 6)
    }

    @Test func hashTopicKeepsEachTopicOnOneMember() {
        let cluster = TestCluster(shards: 2, settings: settings(.hashTopic))
        let members = (0..<3).map { member(cluster, "m\($0)", "$share/g/t/+", shard: $0 % 2) }
        let publishers = (0..<2).map { cluster.connect("pub\($0)", shard: $0) }
        for round in 0..<4 {
            for topic in 0..<6 { publishers[round % 2].publish("t/\(topic)", "\(round)") }
        }
        var owner: [String: Int] = [:]
        for (index, member) in members.enumerated() {
            for packet in member.take() {
                guard case .publish(let topic, _, _, _, _, _) = packet else { continue }
                #expect(owner[topic, default: index] == index, "topic \(topic) reached two members")
                owner[topic] = index
            }
        }
        #expect(owner.count == 6)
    }

    @Test func stickyKeepsOneMemberUntilTheMembershipChanges() {
        let cluster = TestCluster(settings: settings(.sticky))
        let members = (0..<3).map { member(cluster, "m\($0)", "$share/g/t") }
        let publisher = cluster.connect("pub")
        for n in 0..<10 { publisher.publish("t", "\(n)") }
        let first = members.map { payloads($0.take()).count }
        #expect(first.sorted() == [0, 0, 10])
        // The member that had them all leaves: the rest go to one of the others, all of them.
        let chosen = first.firstIndex(of: 10)!
        members[chosen].disconnect()
        for n in 10..<20 { publisher.publish("t", "\(n)") }
        let second = members.indices.filter { $0 != chosen }.map { payloads(members[$0].take()).count }
        #expect(second.sorted() == [0, 10])
    }

    @Test func randomGivesEachMessageToExactlyOneMember() {
        let cluster = TestCluster(shards: 2, settings: settings(.random))
        let members = (0..<4).map { member(cluster, "m\($0)", "$share/g/t", shard: $0 % 2) }
        let publisher = cluster.connect("pub")
        for n in 0..<400 { publisher.publish("t", "\(n)") }
        let received = members.map { payloads($0.take()) }
        #expect(received.flatMap { $0 }.sorted() == (0..<400).map(String.init).sorted())
        // 400 draws over 4 members: each gets some (the chance that one gets none is 4 × 0.75^400).
        #expect(received.allSatisfy { !$0.isEmpty })
    }

    @Test func theInnerFilterIsWhatTheACLJudges() {
        let identity = Identity(subject: "svc", roles: ["svc"], permissions: permissions(publish: [], subscribe: ["devices/#"]))
        let authenticator = FakeAuthenticator(accounts: ["svc": .init(password: "pw", identity: identity)])
        let cluster = TestCluster(authenticator: authenticator)
        let client = cluster.connect("svc", username: "svc", password: "pw")
        _ = client.take()
        client.subscribe([("$share/g/devices/#", .atMostOnce), ("$share/g/admin/#", .atMostOnce)], id: 4)
        #expect(client.take() == [.suback(4, [.grantedQoS0, .failure])])
    }

    @Test func aTakenOverMemberStaysInTheGroupOnItsNewShard() {
        let cluster = TestCluster(shards: 2)
        _ = member(cluster, "a", "$share/g/t", qos: .atLeastOnce, shard: 0, clean: false)
        let back = cluster.connect("a", shard: 1, clean: false)
        _ = back.take()
        cluster.connect("pub", shard: 0).publish("t", "m", qos: .atLeastOnce, id: 1)
        #expect(payloads(back.take()) == ["m"])
        for shard in cluster.shards {
            #expect(shard.engine.subscriptions.sharedGroups["$share/g/t"]?.totalCount == 1)
        }
    }

    @Test func aGroupIsForgottenEverywhereWhenItsLastMemberLeaves() {
        let cluster = TestCluster(shards: 3)
        let a = member(cluster, "a", "$share/g/t", shard: 2)
        #expect(cluster.shards.allSatisfy { $0.engine.subscriptions.sharedGroups.count == 1 })
        a.disconnect()
        #expect(cluster.shards.allSatisfy { $0.engine.subscriptions.sharedGroups.isEmpty })
        #expect(cluster.shards.allSatisfy { $0.engine.subscriptions.localCount == 0 })
    }

    // MARK: - With a store

    @Test func aMovedMessageLeavesTheFirstMembersStoredQueueOnlyOnceStoredForTheSecond() {
        let store = FakeStore()
        let cluster = TestCluster(shards: 2, store: store)
        let a = cluster.connect("a", shard: 0, clean: false)
        a.subscribe("$share/g/t", qos: .atLeastOnce)
        let b = cluster.connect("b", shard: 1, clean: false)
        b.subscribe("$share/g/t", qos: .atLeastOnce)
        store.complete()
        cluster.settle()
        _ = a.take()
        _ = b.take()
        let publisher = cluster.connect("pub", shard: 0)
        publisher.publish("t", "m", qos: .atLeastOnce, id: 1)
        store.complete()
        cluster.settle()
        #expect(payloads(a.take()) == ["m"])
        a.drop()
        cluster.settle()
        #expect(store.submitted.contains("enqueue b #1 t=m sent"))
        #expect(!store.submitted.contains("dequeue a #1"))
        store.complete()
        cluster.settle()
        #expect(store.submitted.last == "dequeue a #1")
        #expect(payloads(b.take()) == ["m"])
    }

    @Test func aRestartedBrokerKeepsGroupsAndTheLastMembersQueue() {
        let store = FakeStore(autoComplete: true)
        let cluster = TestCluster(shards: 2, store: store)
        let a = member(cluster, "a", "$share/g/t", qos: .atLeastOnce, shard: 1, clean: false)
        a.disconnect()
        cluster.connect("pub", shard: 0).publish("t", "queued", qos: .atLeastOnce, id: 1)

        let restarted = TestCluster.restarted(on: store, shards: 2)
        for shard in restarted.shards {
            #expect(shard.engine.subscriptions.sharedGroups["$share/g/t"]?.totalCount == 1)
        }
        let b = member(restarted, "b", "$share/g/t", qos: .atLeastOnce, shard: 0)
        restarted.connect("pub", shard: 1).publish("t", "new", qos: .atLeastOnce, id: 1)
        #expect(payloads(b.take()) == ["new"])
        let back = restarted.connect("a", shard: 0, clean: false)
        #expect(payloads(back.take()) == ["queued"])
    }
}
