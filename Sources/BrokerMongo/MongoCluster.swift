import BrokerCore
import CMongoC
import Glibc
import Logging
import Synchronization

/// The cluster link on MongoDB (`ClusterLink`): heartbeats (`ClusterMembership`), routes
/// (`ClusterRoutes`), the bus (`MongoClusterBus`, behind `ClusterBus`) and the take-over of dead
/// nodes. Uses the store's connection pool; every MongoDB call runs on a thread of its own.
package final class MongoCluster: ClusterLink, @unchecked Sendable {
    package let settings: ClusterSettings
    /// This run of the node (a new one at every start): the bus numbers restart with it.
    package let epoch: Int64
    private let store: MongoStore
    private let slots: ClusterNodeSlots
    private let routes: ClusterRoutes
    private let membership: ClusterMembership
    private let bus: any ClusterBus
    private let logger: Logger
    private let sequenceCheck = Mutex(BusSequenceCheck())
    private let gaps = Atomic<Int>(0)
    private let duplicates = Atomic<Int>(0)
    private let lag = Atomic<Int>(0)

    package init(settings: ClusterSettings, store: MongoStore, shardCount: Int, logger: Logger) {
        self.settings = settings
        self.store = store
        self.logger = logger
        epoch = Int64.random(in: 1...Int64.max)
        let database = store.settings.database
        slots = ClusterNodeSlots(slots: shardCount..<ShardSet.capacity)
        routes = ClusterRoutes(pool: store.pool, database: database, node: settings.nodeId, slots: slots, logger: logger)
        membership = ClusterMembership(
            pool: store.pool, database: database, node: settings.nodeId, epoch: epoch, settings: settings, logger: logger)
        bus = MongoClusterBus(pool: store.pool, database: database, node: settings.nodeId, epoch: epoch, logger: logger)
    }

    /// Joins the cluster (before the listeners open): the bus index, the first heartbeat, the
    /// other nodes' routes, the bus reader, then the threads. `takeOver` receives what this node
    /// claims from dead nodes (sessions, wills), to hand to its shards. With MongoDB
    /// unreachable, keeps trying with back-off on a thread of its own (the node serves its own
    /// clients meanwhile; `$SYS/broker/cluster/available` says 0).
    package func start(mailboxes: [any ShardMailbox], takeOver: @escaping @Sendable (DeadNodeTakeover) -> Void) {
        do {
            try join(mailboxes: mailboxes, takeOver: takeOver)
            return
        } catch {
            joined.store(false, ordering: .relaxed)
            logger.error("cluster: cannot join yet (MongoDB unavailable); retrying", metadata: ["reason": "\(error.message)"])
        }
        startDetachedThread { [self] in
            var delay: UInt32 = 500_000
            while true {
                usleep(delay)
                do {
                    try join(mailboxes: mailboxes, takeOver: takeOver)
                    joined.store(true, ordering: .relaxed)
                    return
                } catch {
                    delay = min(delay * 2, 5_000_000)
                }
            }
        }
    }

    private let joined = Atomic<Bool>(true)

    private func join(mailboxes: [any ShardMailbox], takeOver: @escaping @Sendable (DeadNodeTakeover) -> Void) throws(MongoStoreError) {
        let retention = BSONDocument()
            .append("key", document: BSONDocument().append("at", int32: 1))
            .append("name", "at_ttl").append("expireAfterSeconds", int32: Int32(settings.busRetentionSeconds))
        try store.createIndex(retention, on: .clusterBus)
        try membership.register()
        try routes.prepare(mailboxes: mailboxes)
        let shardCount = mailboxes.count
        // The bus reader's stream opens before this node's routes are written: nothing sent to
        // this node because of them is missed.
        bus.start { [self] delivery in receive(delivery, mailboxes: mailboxes, shardCount: shardCount) }
        routes.run(mailboxes: mailboxes)
        membership.start { [self] dead, client in takeOverUntilDone(dead, client: client, handOver: takeOver) }
        logger.info("cluster: node \(settings.nodeId) joined", metadata: ["epoch": "\(epoch)", "others": "\(membership.otherNodes)"])
    }

    // MARK: - ClusterLink

    package func localInterest(filter: String, interested: Bool) {
        routes.localInterest(filter: filter, interested: interested)
    }

    package func forward(_ message: Message, to nodes: ShardSet?, completion: (@Sendable (Bool) -> Void)?) {
        let names = nodes.map(slots.nodes(in:)) ?? membership.otherNodes
        bus.send(message, to: names, completion: completion)
    }

    package var statistics: ClusterStatistics {
        var figures = ClusterStatistics()
        figures.nodesAlive = membership.otherNodes.count + 1
        figures.remoteRoutes = routes.remoteRoutes
        figures.busGaps = gaps.load(ordering: .relaxed)
        figures.busDuplicates = duplicates.load(ordering: .relaxed)
        figures.busPending = bus.pending
        figures.busLagMilliseconds = lag.load(ordering: .relaxed)
        figures.available = joined.load(ordering: .relaxed) && bus.isAvailable && routes.isAvailable && membership.isAvailable
        return figures
    }

    // MARK: - From the bus

    /// On the bus's reader thread: checked against the origin's numbering, then routed on the
    /// shard the origin hashes to (one shard per origin keeps each origin's order).
    private func receive(_ delivery: BusDelivery, mailboxes: [any ShardMailbox], shardCount: Int) {
        lag.store(max(0, Int(MongoClusterBus.nowMilliseconds() - delivery.writtenAtMilliseconds)), ordering: .relaxed)
        let verdict = sequenceCheck.withLock { $0.check(origin: delivery.origin, epoch: delivery.epoch, sequence: delivery.sequence) }
        switch verdict {
        case .duplicate:
            duplicates.wrappingAdd(1, ordering: .relaxed)
            return
        case .gap(let missed):
            gaps.wrappingAdd(Int(missed), ordering: .relaxed)
            logger.error("cluster bus: \(missed) message(s) from \(delivery.origin) never arrived")
        case .deliver:
            break
        }
        let shard = Int(FNV1a.hash(delivery.origin.utf8) % UInt64(shardCount))
        mailboxes[shard].post(.clusterPublish(delivery.message))
    }

    // MARK: - Dead nodes

    /// Takes over `dead` (this node won its claim): its routes go, its persistent sessions
    /// become this node's, its wills are claimed one by one (find-and-delete: published once
    /// in the whole cluster), and what the bus carried to it lately is replayed to those
    /// sessions. Retried until done: nobody else will claim the node again.
    private func takeOverUntilDone(
        _ dead: ClusterMembership.DeadNode, client: OpaquePointer, handOver: @Sendable (DeadNodeTakeover) -> Void
    ) {
        var backoff: UInt32 = 200_000
        while true {
            do {
                let takeover = try takeOver(dead, client: client)
                logger.warning("cluster: took over node \(dead.node)", metadata: [
                    "sessions": "\(takeover.sessions.count)", "wills": "\(takeover.wills.count)",
                    "replayed": "\(takeover.replay.count)",
                ])
                handOver(takeover)
                return
            } catch {
                logger.error("cluster: taking over \(dead.node) failed, retrying", metadata: ["reason": "\(error.message)"])
                usleep(backoff)
                backoff = min(backoff * 2, 5_000_000)
            }
        }
    }

    private func takeOver(_ dead: ClusterMembership.DeadNode, client: OpaquePointer) throws(MongoStoreError) -> DeadNodeTakeover {
        let database = store.settings.database
        try routes.deleteRoutes(of: dead.node, client: client)
        // Sessions: each moved by a conditional update, so a session the dead node's client
        // has meanwhile taken elsewhere is left alone.
        let sessionsCollection = mongoc_client_get_collection(client, database, MongoCollection.sessions.rawValue)!
        defer { mongoc_collection_destroy(sessionsCollection) }
        var ids: [String] = []
        try store.forEachDocument(
            named: MongoCollection.sessions.rawValue,
            options: BSONDocument().append("projection", document: BSONDocument().append("_id", int32: 1)),
            client: client, filter: BSONDocument().append("node", dead.node)
        ) { fields in
            fields.forEach { field in if field.key == "_id", let id = field.string { ids.append(id) } }
        }
        var takeover = DeadNodeTakeover(node: dead.node)
        for id in ids {
            let selector = BSONDocument().append("_id", id).append("node", dead.node)
            let update = BSONDocument().append("$set", document: BSONDocument().append("node", settings.nodeId))
            let reply = BSONReply()
            var error = bson_error_t()
            let ok = withExtendedLifetime((selector, update)) {
                mongoc_collection_update_one(sessionsCollection, selector.pointer, update.pointer, nil, reply.pointer, &error)
            }
            guard ok else { throw MongoStoreError(message: "claiming session \(id): \(MongoLibrary.message(of: error))") }
            var moved = false
            reply.fields?.forEach { field in if field.key == "modifiedCount", (field.integer ?? 0) > 0 { moved = true } }
            if moved, let session = try store.loadSession(id, client: client) { takeover.sessions.append(session) }
        }
        if !takeover.sessions.isEmpty { takeover.replay = try busMessages(for: dead, client: client) }
        // Wills: each claimed by deleting it.
        let willsCollection = mongoc_client_get_collection(client, database, MongoCollection.wills.rawValue)!
        defer { mongoc_collection_destroy(willsCollection) }
        while try MongoFindAndDelete.one(in: willsCollection, matching: BSONDocument().append("node", dead.node), { fields in
            if let will = MongoDocuments.will(from: fields) { takeover.wills.append(will) }
        }) {}
        return takeover
    }

    /// What the bus carried to `dead` from a while before its last beat on (it may have read
    /// them without queueing them durably, or never read them), in the order written. Its
    /// sessions get them again: at least once, so a message it had queued comes twice.
    private func busMessages(for dead: ClusterMembership.DeadNode, client: OpaquePointer) throws(MongoStoreError) -> [Message] {
        let since = dead.lastBeatMilliseconds - Int64(settings.heartbeatIntervalMilliseconds) - Self.replayMarginMilliseconds
        let filter = BSONDocument().append("to.n", dead.node)
            .append("at", document: BSONDocument().append("$gte", dateMilliseconds: since))
        let options = BSONDocument().append("sort", document: BSONDocument().append("$natural", int32: 1))
        var messages: [Message] = []
        try store.forEachDocument(named: MongoCollection.clusterBus.rawValue, options: options, client: client, filter: filter) { fields in
            if let delivery = MongoClusterBus.delivery(from: fields, for: dead.node) { messages.append(delivery.message) }
        }
        return messages
    }

    /// How long before its last beat a dead node's bus messages are replayed: what a node
    /// read may take this long to be queued durably (a slow store write).
    static let replayMarginMilliseconds: Int64 = 5000
}

/// What this node took from a dead node, for its shards.
package struct DeadNodeTakeover: Sendable {
    package var node: String
    package var sessions: [StoredSession] = []
    package var wills: [StoredWill] = []
    /// Bus messages addressed to the dead node lately, for its sessions only.
    package var replay: [Message] = []
}
