@testable import BrokerCore
import MQTTWire
import Testing

/// Seeded random takeover storms on four shards, in the engine: one client id reconnecting
/// (persistent or clean, subscribing, dropping) while posts between some shards wait, as in
/// `test_session_takeover_storm`, but deterministic. Whatever the interleaving, once everything
/// is delivered one shard at most holds the session, with a connection of its own; no CONNECT
/// is left waiting and no hand-over half done; and a last CONNECT takes the id over cleanly.
@Suite struct TakeoverStormTests {
    /// SplitMix64: a tiny seeded generator, so a failing seed can be replayed.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let shardCount = 4

    @Test(arguments: 0..<300)
    func aStormEndsWithOneOwnerAndNothingWaiting(seed: Int) {
        var random = Seeded(state: UInt64(seed))
        let cluster = TestCluster(shards: Self.shardCount)
        let publisher = cluster.connect("pub", shard: 3)
        var clients: [TestClient] = []
        var blocked: [(Int, Int)] = []
        for step in 0..<40 {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<45:
                let clean = Int.random(in: 0..<3, using: &random) == 0
                let client = cluster.connect("sub", shard: Int.random(in: 0..<Self.shardCount, using: &random), clean: clean)
                client.subscribe("t", qos: .atLeastOnce)
                cluster.settle()
                clients.append(client)
            case 45..<60:
                if let client = clients.filter({ !$0.isClosed }).randomElement(using: &random) {
                    client.drop()
                    cluster.settle()
                }
            case 60..<75:
                let source = Int.random(in: 0..<Self.shardCount, using: &random)
                let target = (source + Int.random(in: 1..<Self.shardCount, using: &random)) % Self.shardCount
                cluster.block(from: source, to: target)
                blocked.append((source, target))
            case 75..<90:
                if !blocked.isEmpty {
                    let (source, target) = blocked.remove(at: Int.random(in: 0..<blocked.count, using: &random))
                    cluster.unblock(from: source, to: target)
                }
            default:
                publisher.publish("t", "m\(step)", qos: .atLeastOnce, id: UInt16(step + 1))
                cluster.settle()
            }
        }
        for (source, target) in blocked { cluster.unblock(from: source, to: target) }
        cluster.settle()

        let engines = cluster.shards.map(\.engine!)
        let holders = engines.indices.filter { engines[$0].sessions["sub"] != nil }
        #expect(holders.count <= 1, "seed \(seed): session held by shards \(holders)")
        for index in holders {
            if let connection = engines[index].sessions["sub"]!.connection {
                let owner = cluster.shards[index].clients.first { $0.connection === connection }
                #expect(owner != nil && !owner!.isClosed, "seed \(seed): session on shard \(index) holds another shard's or a closed connection")
            }
        }
        for (index, engine) in engines.enumerated() {
            #expect(engine.pendingConnects.isEmpty, "seed \(seed): shard \(index) still has a CONNECT waiting")
            #expect(engine.handovers.isEmpty && engine.parkedHandovers.isEmpty && engine.deferredTakeovers.isEmpty,
                    "seed \(seed): shard \(index) has a hand-over or takeover left")
        }
        let open = clients.filter { !$0.isClosed }
        #expect(open.count <= 1, "seed \(seed): \(open.count) connections hold the id")

        let last = cluster.connect("sub", shard: Int.random(in: 0..<Self.shardCount, using: &random), clean: false)
        #expect(last.take().first.map { if case .connack = $0 { true } else { false } } == true, "seed \(seed): no CONNACK")
        let survivors = clients.filter { !$0.isClosed }.count
        #expect(survivors == 0, "seed \(seed): an older connection survived the last takeover")
        #expect(engines.filter { $0.sessions["sub"] != nil }.count == 1)
    }
}
