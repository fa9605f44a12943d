import BrokerCore
@testable import BrokerRuntime
import Logging
import MQTTWire
import Synchronization
import Testing

/// Phase 1 of shutdown loses nothing another shard already accepted: a shard hands its overflow
/// on before it reports quiet, and a shard that is stopping still applies what others post.
@Suite struct ShardShutdownTests {
    final class QuietCount: Sendable {
        let value = Atomic<Int>(0)
    }

    private func makeShards(_ count: Int, quiet: QuietCount = QuietCount()) throws -> [Shard] {
        try ShardTestSupport.makeShards(count) { quiet.value.add(1, ordering: .relaxed) }
    }
    private func message(_ number: Int) -> ShardMessage { ShardTestSupport.message(number) }
    private func number(_ post: ShardPost?) -> Int? { ShardTestSupport.number(post) }

    @Test func aShardShuttingDownHandsOnItsOverflowBeforeItReportsQuiet() throws {
        let quiet = QuietCount()
        let shards = try makeShards(2, quiet: quiet)
        let posted = Shard.ringCapacity + 100
        for n in 0..<posted { shards[0].post(message(n), to: 1) }
        shards[0].inbox.post(.shutdown)
        shards[0].drainInbox()
        // 100 posts still wait for room in the ring: not quiet yet.
        #expect(quiet.value.load(ordering: .relaxed) == 0)
        let ring = shards[1].inbox.rings[0]!
        var received: [Int] = []
        for _ in 0..<10 where received.count < posted {
            while let next = number(ring.pop()) { received.append(next) }
            shards[0].tick()  // the shutdown's poll for room
        }
        #expect(received == Array(0..<posted))
        #expect(quiet.value.load(ordering: .relaxed) == 1)
    }

    @Test func aStoppingShardStillAppliesWhatOtherShardsPost() throws {
        let shards = try makeShards(2)
        shards[1].inbox.post(.shutdown)
        shards[1].drainInbox()
        shards[0].post(.publish(Message(topic: "kept", payload: Array("v".utf8), qos: .atLeastOnce, retain: true)), to: 1)
        shards[1].drainInbox()
        #expect(shards[1].engine.retained.message(topic: "kept").map { Array($0.payload) } == Array("v".utf8))
    }
}
