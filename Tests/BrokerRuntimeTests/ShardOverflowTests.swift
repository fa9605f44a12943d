import BrokerCore
import Glibc
@testable import BrokerRuntime
import Logging
import MQTTWire
import Testing

/// Posts from one shard to another that do not fit in the ring wait in the sender's overflow
/// list, in order, and reach the receiver in exactly the order they were posted.
@Suite struct ShardOverflowTests {
    private func makeShards(_ count: Int) throws -> [Shard] { try ShardTestSupport.makeShards(count) }
    private func message(_ number: Int) -> ShardMessage { ShardTestSupport.message(number) }
    private func number(_ post: ShardPost?) -> Int? { ShardTestSupport.number(post) }

    /// The first position whose number is not its index (the posts were numbered from 0).
    private func firstOutOfOrder(_ received: [Int]) -> Int? {
        received.indices.first { received[$0] != $0 }
    }

    @Test func overflowKeepsOrderBehindAFullRing() throws {
        let shards = try makeShards(2)
        let posted = Shard.ringCapacity * 3 + 17
        for n in 0..<posted { shards[0].post(message(n), to: 1) }
        let ring = shards[1].inbox.rings[0]!
        var received: [Int] = []
        // The receiver drains a little at a time; the sender hands on its overflow each turn.
        while received.count < posted {
            for _ in 0..<1000 {
                guard let next = number(ring.pop()) else { break }
                received.append(next)
            }
            shards[0].flushOutbox()
        }
        #expect(received.count == posted)
        #expect(firstOutOfOrder(received) == nil)
        #expect(ring.pop() == nil)
    }

    @Test func newPostsQueueBehindTheOverflowEvenWhenTheRingHasRoom() throws {
        let shards = try makeShards(2)
        for n in 0..<(Shard.ringCapacity + 1) { shards[0].post(message(n), to: 1) }
        let ring = shards[1].inbox.rings[0]!
        // Room in the ring again, but post 4096 is still waiting in the overflow list.
        #expect(number(ring.pop()) == 0)
        shards[0].post(message(Shard.ringCapacity + 1), to: 1)
        var received = [0]
        while received.count < Shard.ringCapacity + 2 {
            shards[0].flushOutbox()
            while let next = number(ring.pop()) { received.append(next) }
        }
        #expect(received.count == Shard.ringCapacity + 2)
        #expect(firstOutOfOrder(received) == nil)
    }

    /// A sender left with an overflow (its publishers paused by it, nothing else to do) sleeps
    /// until woken: the receiver that makes room in the ring must wake it. Before, nobody did,
    /// and the overflow moved on only at the sender's 500 ms tick: a fan-in whose subscriber
    /// sat alone on the other shard fell from ~1M to ~19k messages/s (issue 18).
    @Test func theReceiverThatMakesRoomWakesTheSenderWaitingForIt() throws {
        let shards = try makeShards(2)
        for n in 0..<(Shard.ringCapacity + 100) { shards[0].post(message(n), to: 1) }
        shards[0].flushOutbox()  // the sender's turn ends with 100 posts still in its overflow
        #expect(shards[0].isOverloaded == false)
        #expect(!shards[1].wakeTargets.contains(0))
        shards[1].drainInbox()   // the receiver applies the ring's posts
        #expect(shards[1].wakeTargets.contains(0))
        // Woken, the sender hands on the rest; nothing is waiting for room any more, so the
        // next drain wakes nobody.
        shards[1].flushOutbox()
        shards[0].flushOutbox()
        #expect(shards[1].inbox.rings[0]!.approximateCount == 100)
        shards[1].drainInbox()
        #expect(!shards[1].wakeTargets.contains(0))
    }

    @Test func aWakeRequestMadeWhileTheRingEmptiedIsAnsweredAtOnce() {
        let ring = SPSCRing<Int>(capacity: 4)
        for n in 0..<4 { #expect(ring.push(n)) }
        #expect(!ring.push(4))
        // The consumer empties the ring before the producer asks to be woken: the request
        // itself reports the room, so the producer pushes again instead of sleeping.
        while ring.pop() != nil {}
        #expect(!ring.takeWakeRequest())
        #expect(ring.requestWakeWhenRoom())
        #expect(ring.push(4))
        // A request made while the ring is full is answered by the consumer's next check, once.
        for n in 5..<8 { #expect(ring.push(n)) }
        #expect(!ring.requestWakeWhenRoom())
        _ = ring.pop()
        #expect(ring.takeWakeRequest())
        #expect(!ring.takeWakeRequest())
    }

    @Test func aSenderPastTheHighWaterMarkIsOverloaded() throws {
        let shards = try makeShards(2)
        for n in 0..<(Shard.ringCapacity + Shard.overflowHighWater) { shards[0].post(message(n), to: 1) }
        #expect(!shards[0].isOverloaded)
        shards[0].post(message(-1), to: 1)
        #expect(shards[0].isOverloaded)
        let ring = shards[1].inbox.rings[0]!
        while ring.pop() != nil || shards[0].isOverloaded {
            shards[0].flushOutbox()
        }
        #expect(!shards[0].isOverloaded)
    }

    @Test func postsToDifferentShardsUseTheirOwnRings() throws {
        let shards = try makeShards(3)
        shards[0].post(message(1), to: 1)
        shards[0].post(message(2), to: 2)
        shards[2].post(message(3), to: 1)
        #expect(number(shards[1].inbox.rings[0]!.pop()) == 1)
        #expect(number(shards[2].inbox.rings[0]!.pop()) == 2)
        #expect(number(shards[1].inbox.rings[2]!.pop()) == 3)
        #expect(shards[1].inbox.rings[0]!.pop() == nil)
    }

    /// A subscriber's shard that was not scheduled while two publishers took turns finds their
    /// posts in two rings. They are applied oldest first, not ring by ring: the second
    /// publisher's message (posted after the first one's PUBACK went out) comes second even
    /// though its ring is drained first by index. Before, ring 1 went first: CI saw a
    /// `mosquitto_pub` run deliver after the next one (test_pub_sub_qos[1]).
    @Test func postsFromDifferentShardsAreTakenOldestFirst() throws {
        let shards = try makeShards(3)
        shards[2].post(message(1), to: 0)
        usleep(50)
        shards[1].post(message(2), to: 0)
        usleep(50)
        shards[2].beforePoll()  // a new loop turn of shard 2: its next post is stamped afresh
        shards[2].post(message(3), to: 0)
        usleep(50)
        shards[1].beforePoll()
        shards[1].post(message(4), to: 0)
        var counts = [0, 2, 2]
        var taken: [(number: Int?, source: Int)] = []
        Shard.takeInStampOrder(from: shards[0].inbox.rings, counts: &counts) { message, source in
            taken.append((ShardTestSupport.number(message), source))
        }
        #expect(taken.map(\.number) == [1, 2, 3, 4])
        #expect(taken.map(\.source) == [2, 1, 2, 1])
        #expect(counts == [0, 0, 0])
    }

    /// Only what the counts allow is taken; the rest stays for the next drain, still in order.
    @Test func takingInStampOrderStopsAtTheCounts() throws {
        let shards = try makeShards(2)
        for n in 0..<5 { shards[1].post(message(n), to: 0) }
        var counts = [0, 3]
        var taken: [Int?] = []
        Shard.takeInStampOrder(from: shards[0].inbox.rings, counts: &counts) { message, _ in
            taken.append(ShardTestSupport.number(message))
        }
        #expect(taken == [0, 1, 2])
        #expect(number(shards[0].inbox.rings[1]!.pop()) == 3)
    }

    @Test func coldPostsArriveInOrderAndStopOnceTheInboxIsClosed() throws {
        let shards = try makeShards(1)
        let inbox = shards[0].inbox
        inbox.post(message(1))
        inbox.post(message(2))
        #expect(inbox.takeColdMessages().map { ShardTestSupport.number($0) } == [1, 2])
        #expect(inbox.takeColdMessages().isEmpty)
        inbox.close()
        inbox.post(message(3))
        #expect(inbox.takeColdMessages().isEmpty)
    }
}
