import BrokerCore
@testable import BrokerMongo
import Testing

/// What a receiver makes of the numbers each origin gives the messages it sends it, and the
/// slots other nodes get in the shards' `ShardSet`s.
@Suite struct ClusterBusTests {
    @Test func repeatsAreDroppedAndJumpsCountedPerOriginRun() {
        var check = BusSequenceCheck()
        #expect(check.check(origin: "a", epoch: 1, sequence: 5) == .deliver)  // first seen: no history
        #expect(check.check(origin: "a", epoch: 1, sequence: 6) == .deliver)
        #expect(check.check(origin: "a", epoch: 1, sequence: 6) == .duplicate)
        #expect(check.check(origin: "a", epoch: 1, sequence: 4) == .duplicate)
        #expect(check.check(origin: "a", epoch: 1, sequence: 10) == .gap(missed: 3))
        #expect(check.check(origin: "b", epoch: 7, sequence: 1) == .deliver)  // origins apart
        #expect(check.check(origin: "a", epoch: 1, sequence: 11) == .deliver)
        // A restarted origin numbers from 1 again.
        #expect(check.check(origin: "a", epoch: 2, sequence: 1) == .deliver)
        #expect(check.check(origin: "a", epoch: 2, sequence: 2) == .deliver)
    }

    @Test func nodesKeepTheirSlotsAboveTheShardsUntilTheSetIsFull() {
        let slots = ClusterNodeSlots()
        #expect(slots.slot(for: "a") == nil)  // no range yet
        slots.use(254..<256)
        #expect(slots.slot(for: "b") == 254)
        #expect(slots.slot(for: "c") == 255)
        #expect(slots.slot(for: "b") == 254)
        #expect(slots.slot(for: "d") == nil)
        var matched = ShardSet()
        matched.insert(3)  // a shard: not a node
        matched.insert(255)
        #expect(slots.nodes(in: matched) == ["c"])
    }
}
