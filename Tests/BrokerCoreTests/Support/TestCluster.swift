import BrokerCore
import Logging
import MQTTWire
import Synchronization

/// Several shard engines of one broker, with their rings replaced by in-memory lists: posts are
/// delivered when the test calls `settle()`, so cross-shard behaviour is tested without threads.
final class TestCluster {
    let context: BrokerContext
    private(set) var shards: [TestShard] = []
    var now: UInt64 = 1_000

    init(
        shards count: Int = 1, settings: CoreSettings = CoreSettings(), authenticator: (any Authenticator)? = nil,
        bridge: (any PublishBridge)? = nil, store: (any SessionStore)? = nil, link: (any ClusterLink)? = nil
    ) {
        context = BrokerContext(
            settings: settings, shardCount: count, startedAt: 1_700_000_000, authenticator: authenticator, bridge: bridge,
            store: store, cluster: link)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        for index in 0..<count {
            let shard = TestShard(cluster: self)
            shard.engine = ShardEngine(shardIndex: index, context: context, environment: shard, logger: logger)
            shards.append(shard)
        }
    }

    /// Delivers every pending post, and what that causes, until nothing is left.
    func settle() {
        var moved = true
        while moved {
            moved = false
            for shard in shards {
                for message in shard.testMailbox.drain() {
                    shard.engine.handleInbox(message)
                    moved = true
                }
            }
            for shard in shards where !shard.outbox.isEmpty {
                let source = shard.engine.shardIndex
                let posts = shard.outbox
                shard.outbox.removeAll()
                var waiting: [(ShardMessage, Int)] = []
                for (message, target) in posts {
                    if blocked.contains(Pair(source: source, target: target)) {
                        waiting.append((message, target))
                        continue
                    }
                    shards[target].engine.handleInbox(message, from: source)
                    moved = true
                }
                shard.outbox = waiting + shard.outbox
            }
            for client in shards.flatMap(\.clients) { client.processIfResumed() }
            // The end of each shard's loop turn: its store writes go to the store.
            for shard in shards { shard.engine.flushStoreWrites() }
            for shard in shards where !shard.testMailbox.isEmpty { moved = true }
        }
    }

    private struct Pair: Hashable {
        let source: Int
        let target: Int
    }
    /// Shard pairs whose posts wait, in order, as behind a full ring, until `unblock`.
    private var blocked: Set<Pair> = []

    /// Posts from `source` to `target` wait from now on (a full ring, the sender's overflow).
    func block(from source: Int, to target: Int) { blocked.insert(Pair(source: source, target: target)) }

    /// Posts from `source` to `target` flow again, the waiting ones first.
    func unblock(from source: Int, to target: Int) {
        blocked.remove(Pair(source: source, target: target))
        settle()
    }

    /// Opens a connection on `shard`.
    func open(shard: Int = 0) -> TestClient {
        let client = TestClient(shard: shards[shard])
        shards[shard].clients.append(client)
        return client
    }

    /// Opens a connection, sends CONNECT and returns the client (CONNACK left unread).
    @discardableResult
    func connect(
        _ clientId: String, shard: Int = 0, clean: Bool = true, keepAlive: UInt16 = 60,
        will: (topic: String, payload: String, qos: QoS, retain: Bool)? = nil, username: String? = nil,
        password: String? = nil
    ) -> TestClient {
        let client = open(shard: shard)
        client.send(ConnectEncoder.encode(
            cleanSession: clean, keepAlive: keepAlive, clientId: Array(clientId.utf8),
            will: will.map { (Array($0.topic.utf8), Array($0.payload.utf8), $0.qos, $0.retain) },
            username: username.map { Array($0.utf8) }, password: password.map { Array($0.utf8) }))
        settle()
        return client
    }

    func advance(seconds: Double) {
        now += UInt64(seconds * 1000)
        for shard in shards { shard.engine.tick() }
        settle()
    }
}

final class TestShard: ShardEnvironment {
    unowned let cluster: TestCluster
    var engine: ShardEngine!
    var outbox: [(ShardMessage, Int)] = []
    var clients: [TestClient] = []
    let testMailbox = TestMailbox()

    init(cluster: TestCluster) { self.cluster = cluster }

    var mailbox: any ShardMailbox { testMailbox }

    var now: UInt64 { cluster.now }
    var wallClockSeconds: Int { 1_700_000_000 + Int(cluster.now / 1000) }
    func post(_ message: ShardMessage, to shard: Int) { outbox.append((message, shard)) }
}

/// One client connection in memory: bytes in through `send`, packets out through `take()`.
final class TestClient: ConnectionIO {
    unowned let shard: TestShard
    private(set) var connection: ClientConnection!
    private(set) var isClosed = false
    private(set) var isPaused = false
    private var resumed = false
    private var unread: [UInt8] = []
    private let outboundAccumulator = FrameAccumulator()

    init(shard: TestShard) {
        self.shard = shard
        connection = shard.engine.connectionOpened(io: self, peer: "test")
    }

    func send(_ bytes: [UInt8]) {
        precondition(!isClosed, "sending on a closed test connection")
        unread += bytes
        process()
    }

    private func process() {
        guard !isPaused, !isClosed, !unread.isEmpty else { return }
        let consumed = unread.withUnsafeBytes { shard.engine.receive($0, on: connection) }
        unread.removeFirst(min(consumed, unread.count))
    }

    func processIfResumed() {
        if resumed {
            resumed = false
            process()
        }
    }

    /// Everything the broker sent since the last call.
    func take() -> [Sent] {
        var packets: [Sent] = []
        // As the runtime's flush does: look without creating a queue, and hand it back written.
        if let outbound = connection.outboundIfAny {
            outbound.beginFlush()
            outbound.forEachChunk { outboundAccumulator.append($0) }
            connection.outboundWritten()
        }
        try! outboundAccumulator.forEachPacket(maxPacketSize: 1 << 28) { packets.append(Sent($0)) }
        return packets
    }

    /// Drops the connection without DISCONNECT.
    func drop() {
        shard.engine.connectionLost(connection)
    }

    // Client-side packets.
    func publish(_ topic: String, _ payload: String, qos: QoS = .atMostOnce, retain: Bool = false, dup: Bool = false, id: UInt16 = 0) {
        send(PublishEncoder.encode(topic: Array(topic.utf8), payload: Array(payload.utf8), qos: qos, retain: retain, dup: dup, packetId: id))
        shard.cluster.settle()
    }

    func subscribe(_ filters: [(String, QoS)], id: UInt16 = 1) {
        send(SubscribeEncoder.encode(packetId: id, filters: filters.map { (Array($0.0.utf8), $0.1) }))
        shard.cluster.settle()
    }

    func subscribe(_ filter: String, qos: QoS = .atMostOnce, id: UInt16 = 1) { subscribe([(filter, qos)], id: id) }

    func unsubscribe(_ filters: [String], id: UInt16 = 2) {
        send(UnsubscribeEncoder.encode(packetId: id, filters: filters.map { Array($0.utf8) }))
        shard.cluster.settle()
    }

    func ack(_ type: PacketType, _ id: UInt16) {
        send(AckEncoder.encode(type, packetId: id))
        shard.cluster.settle()
    }

    func disconnect() {
        send(EmptyPacketEncoder.encode(.disconnect))
        shard.cluster.settle()
    }

    // ConnectionIO
    func outboundChanged() {
        precondition(!isClosed, "bytes queued on a closed connection")
    }
    func close() { isClosed = true }
    func pauseReading() { isPaused = true }
    func resumeReading() {
        isPaused = false
        resumed = true
    }
}

/// The shard's cold-path inbox: posts from any thread wait here until `settle()`.
final class TestMailbox: ShardMailbox {
    private let queue = Mutex<[ShardMessage]>([])

    func post(_ message: ShardMessage) { queue.withLock { $0.append(message) } }

    var isEmpty: Bool { queue.withLock { $0.isEmpty } }

    func drain() -> [ShardMessage] {
        queue.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
    }
}
