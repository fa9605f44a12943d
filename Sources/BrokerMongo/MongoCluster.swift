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
    private let claims: ClusterClaims
    private let logger: Logger
    private let sequenceCheck = Mutex(BusSequenceCheck())
    private let gaps = Atomic<Int>(0)
    private let duplicates = Atomic<Int>(0)
    private let lag = Atomic<Int>(0)

    package init(settings: ClusterSettings, store: MongoStore, logger: Logger) {
        self.settings = settings
        self.store = store
        self.logger = logger
        epoch = Int64.random(in: 1...Int64.max)
        let database = store.settings.database
        slots = ClusterNodeSlots()
        routes = ClusterRoutes(pool: store.pool, database: database, node: settings.nodeId, slots: slots, logger: logger)
        membership = ClusterMembership(
            pool: store.pool, database: database, node: settings.nodeId, epoch: epoch, settings: settings, logger: logger)
        bus = MongoClusterBus(pool: store.pool, database: database, node: settings.nodeId, epoch: epoch, logger: logger)
        claims = ClusterClaims(
            store: store, node: settings.nodeId, epoch: epoch,
            answerTimeoutMilliseconds: Int64(settings.heartbeatIntervalMilliseconds * settings.deadAfterMissed + 1000), logger: logger)
    }

    /// Makes this node known before it reads what the store kept: the first heartbeat and the
    /// bus reader (what arrives is held until `start`), then one and a half heartbeat intervals,
    /// by which time every other node has seen the beat and sends this node what it must have
    /// (retained messages included). So whatever the store's snapshot, read after this, misses
    /// reaches this node over the bus.
    package func announce() throws(MongoStoreError) {
        try prepareBus()
        usleep(UInt32(settings.heartbeatIntervalMilliseconds) * 1500)
    }

    private func prepareBus() throws(MongoStoreError) {
        guard !busStarted else { return }
        let retention = BSONDocument()
            .append("key", document: BSONDocument().append("at", int32: 1))
            .append("name", "at_ttl").append("expireAfterSeconds", int32: Int32(settings.busRetentionSeconds))
        try store.createIndex(retention, on: .clusterBus)
        try membership.register()
        bus.start { [self] delivery in receive(delivery) }
        busStarted = true
    }

    /// Set by `prepareBus` on the thread that starts the node (or its retrying thread), once.
    private var busStarted = false

    /// Joins the cluster once the shards exist (before the listeners open): the other nodes'
    /// routes, this node's routes, client-id claims, heartbeats and the take-over of dead
    /// nodes. `takeOver` receives what this node claims from dead nodes, to hand to its shards.
    /// With MongoDB unreachable, keeps trying with back-off on a thread of its own (the node
    /// serves its own clients meanwhile; `$SYS/broker/cluster/available` says 0).
    package func start(
        mailboxes: [any ShardMailbox], nodeSlots: Range<Int>, ownerShard: @escaping @Sendable (String) -> Int?,
        takeOver: @escaping @Sendable (DeadNodeTakeover, @escaping @Sendable () -> Void) -> Void
    ) {
        self.ownerShard = ownerShard
        slots.use(nodeSlots)
        do {
            try join(mailboxes: mailboxes, takeOver: takeOver)
            return
        } catch {
            joined.store(false, ordering: .relaxed)
            logger.error("cluster: cannot join yet (MongoDB unavailable); retrying", metadata: ["reason": "\(error.message)"])
        }
        startDetachedThread { [self] in
            var backoff = Backoff(first: 500_000)
            while true {
                backoff.wait()
                do {
                    try join(mailboxes: mailboxes, takeOver: takeOver)
                    joined.store(true, ordering: .relaxed)
                    return
                } catch {}
            }
        }
    }

    private let joined = Atomic<Bool>(true)
    /// The shard holding a client id on this node (set once at start, before any thread reads it).
    private var ownerShard: @Sendable (String) -> Int? = { _ in nil }

    private func join(mailboxes: [any ShardMailbox], takeOver: @escaping @Sendable (DeadNodeTakeover, @escaping @Sendable () -> Void) -> Void) throws(MongoStoreError) {
        try prepareBus()
        try routes.prepare(mailboxes: mailboxes)
        // What the bus brought before the shards existed goes to them now, in order; then
        // this node's routes are written (the bus reader was open before them).
        let held = deliveries.withLock { state in
            state.mailboxes = mailboxes
            defer { state.held = [] }
            return state.held
        }
        for delivery in held { dispatch(delivery, mailboxes: mailboxes) }
        routes.run(mailboxes: mailboxes)
        let bus = self.bus
        let membership = self.membership
        claims.start(
            ask: { clientId, keepSession, holder in bus.send(.takeover(clientId: clientId, keepSession: keepSession), to: [holder], completion: nil) },
            presumedAlive: { (other, client) throws(MongoStoreError) in try membership.presumedAlive(other, client: client) })
        let routes = self.routes
        membership.start(
            onDead: { [self] dead in
                // On a thread of its own: the heartbeat thread must keep beating meanwhile.
                startDetachedThread { [self] in
                    let client = mongoc_client_pool_pop(store.pool)!
                    defer { mongoc_client_pool_push(store.pool, client) }
                    takeOverUntilDone(dead, client: client, handOver: takeOver)
                }
            },
            revived: { [self] in
                surrenderTakenSessions()
                routes.rewriteAll()
            })
        logger.info("cluster: node \(settings.nodeId) joined", metadata: ["epoch": "\(epoch)", "others": "\(membership.otherNodes)"])
    }

    /// Where bus deliveries go: held until the shards exist.
    private let deliveries = Mutex<(mailboxes: [any ShardMailbox]?, held: [BusDelivery])>((nil, []))

    // MARK: - ClusterLink

    package func localInterest(filter: String, interested: Bool) {
        routes.localInterest(filter: filter, interested: interested)
    }

    package func forward(_ message: Message, to nodes: ShardSet?, group: String?, completion: (@Sendable (Bool) -> Void)?) {
        let names = nodes.map(slots.nodes(in:)) ?? membership.otherNodes
        bus.send(.publish(message, group: group), to: names, completion: completion)
    }

    package func claim(clientId: String, keepSession: Bool, completion: @escaping @Sendable (ClusterClaim) -> Void) {
        guard joined.load(ordering: .relaxed) else {
            completion(.unavailable)
            return
        }
        claims.claim(clientId: clientId, keepSession: keepSession, completion: completion)
    }

    package var statistics: ClusterStatistics {
        var figures = ClusterStatistics()
        figures.nodesAlive = membership.otherNodes.count + 1
        figures.remoteRoutes = routes.remoteRoutes
        figures.busGaps = gaps.load(ordering: .relaxed)
        figures.busDuplicates = duplicates.load(ordering: .relaxed)
        figures.busPending = bus.pending
        figures.busDropped = bus.droppedCount
        figures.busLagMilliseconds = lag.load(ordering: .relaxed)
        figures.available = joined.load(ordering: .relaxed) && bus.isAvailable && routes.isAvailable && membership.isAvailable
        return figures
    }

    // MARK: - From the bus

    /// On the bus's reader thread.
    private func receive(_ delivery: BusDelivery) {
        let mailboxes = deliveries.withLock { state -> [any ShardMailbox]? in
            if state.mailboxes == nil { state.held.append(delivery) }
            return state.mailboxes
        }
        if let mailboxes { dispatch(delivery, mailboxes: mailboxes) }
    }

    /// Checked against the origin's numbering, then: a publish routed on the shard the origin
    /// hashes to (one shard per origin keeps each origin's order), a takeover answered, a
    /// release handed to the claims.
    private func dispatch(_ delivery: BusDelivery, mailboxes: [any ShardMailbox]) {
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
        let originShard = Int(FNV1a.hash(delivery.origin.utf8) % UInt64(mailboxes.count))
        for payload in delivery.payloads {
            switch payload {
            case .publish(let message, let group):
                mailboxes[originShard].post(.clusterPublish(message, group: group))
            case .takeover(let clientId, let keepSession):
                let origin = delivery.origin
                let bus = self.bus
                let released: @Sendable () -> Void = {
                    bus.send(.released(clientId: clientId), to: [origin], completion: nil)
                }
                if let shard = ownerShard(clientId) {
                    mailboxes[shard].post(.clusterRelease(clientId: clientId, keepSession: keepSession, released: released))
                } else {
                    released()
                }
            case .released(let clientId):
                claims.released(clientId: clientId, by: delivery.origin)
            }
        }
    }

    // MARK: - Dead nodes

    /// This node was taken for dead while alive (heartbeat thread): the node that took it over
    /// has the persistent sessions it found here and published their wills. The shards let go
    /// of exactly those (the client ids whose claim names another node and says it was taken
    /// from this one); sessions it did not take stay this node's.
    private func surrenderTakenSessions() {
        let client = mongoc_client_pool_pop(store.pool)!
        defer { mongoc_client_pool_push(store.pool, client) }
        let node = settings.nodeId
        var taken = Set<String>()
        do {
            try MongoQuery.forEach(
                in: MongoCollection.clusterClients.rawValue, database: store.settings.database,
                filter: BSONDocument().append("taken_from", node).append("node", document: BSONDocument().append("$ne", node)),
                options: BSONDocument().append("projection", document: BSONDocument().append("_id", int32: 1)), client: client
            ) { fields in
                fields.forEach { field in if field.key == "_id", let id = field.string { taken.insert(id) } }
            }
        } catch {
            logger.error("cluster: cannot read which sessions another node took from this one; keeping them", metadata: [
                "reason": "\(error.message)",
            ])
            return
        }
        guard !taken.isEmpty, let mailboxes = deliveries.withLock({ $0.mailboxes }) else { return }
        for mailbox in mailboxes { mailbox.post(.surrenderSessions(taken)) }
    }

    /// Takes over `dead` (this node won its claim): its routes go, its persistent sessions
    /// become this node's, its wills are claimed one by one (find-and-delete: published once
    /// in the whole cluster), and what the bus carried to it lately is replayed to those
    /// sessions. Retried until done: nobody else will claim the node again.
    private func takeOverUntilDone(
        _ dead: ClusterMembership.DeadNode, client: OpaquePointer, handOver: @Sendable (DeadNodeTakeover, @escaping @Sendable () -> Void) -> Void
    ) {
        var backoff = Backoff(first: 200_000)
        while true {
            do {
                let takeover = try takeOver(dead, client: client)
                logger.warning("cluster: took over node \(dead.node)", metadata: [
                    "sessions": "\(takeover.sessions.count)", "wills": "\(takeover.wills.count)",
                    "replayed": "\(takeover.replay.count)",
                ])
                // The dead node's routes go only once its sessions are subscribed here, so that
                // no publish meanwhile finds neither.
                handOverAndWait(takeover, handOver)
                try routes.deleteRoutes(of: dead.node, client: client)
                if !takeover.sessions.isEmpty { replayLate(dead, after: takeover, client: client, handOver: handOver) }
                return
            } catch {
                logger.error("cluster: taking over \(dead.node) failed, retrying", metadata: ["reason": "\(error.message)"])
                backoff.wait()
            }
        }
    }

    /// Hands `takeover` to the shards and waits until they have it.
    private func handOverAndWait(
        _ takeover: DeadNodeTakeover, _ handOver: @Sendable (DeadNodeTakeover, @escaping @Sendable () -> Void) -> Void
    ) {
        let done = Handover(value: UnsafeMutablePointer<sem_t>.allocate(capacity: 1))
        sem_init(done.value, 0, 0)
        handOver(takeover) { sem_post(done.value) }
        sem_wait(done.value)
        sem_destroy(done.value)
        done.value.deallocate()
    }

    private func takeOver(_ dead: ClusterMembership.DeadNode, client: OpaquePointer) throws(MongoStoreError) -> DeadNodeTakeover {
        let database = store.settings.database
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
        let clientsCollection = mongoc_client_get_collection(client, database, MongoCollection.clusterClients.rawValue)!
        defer { mongoc_collection_destroy(clientsCollection) }
        var takeover = DeadNodeTakeover(node: dead.node)
        for id in ids {
            let ofDeadNode = BSONDocument().append("_id", id).append("node", dead.node)
            let moved = try MongoWrite.updateOne(
                in: sessionsCollection, selector: ofDeadNode,
                update: BSONDocument().append("$set", document: BSONDocument().append("node", settings.nodeId)),
                what: "claiming session \(id)").modified > 0
            guard moved else { continue }
            // A CONNECT elsewhere that finds the dead node as the id's holder asks this node.
            // `taken_from`: should the dead node be alive after all (cut off from MongoDB), it
            // finds here which of its sessions are this node's now (`surrenderTakenSessions`).
            try MongoWrite.updateOne(
                in: clientsCollection, selector: ofDeadNode,
                update: BSONDocument().append("$set", document: BSONDocument()
                    .append("node", settings.nodeId).append("epoch", int64: epoch).append("taken_from", dead.node)),
                what: "claiming client id \(id)")
            if let session = try store.loadSession(id, client: client) { takeover.sessions.append(session) }
        }
        if !takeover.sessions.isEmpty {
            (takeover.replay, takeover.replayedDocuments) = try busMessages(for: dead, excluding: [], client: client)
        }
        // Wills: each claimed by deleting it.
        let willsCollection = mongoc_client_get_collection(client, database, MongoCollection.wills.rawValue)!
        defer { mongoc_collection_destroy(willsCollection) }
        while try MongoFindAndModify.delete(in: willsCollection, matching: BSONDocument().append("node", dead.node), { fields in
            if let will = MongoDocuments.will(from: fields) { takeover.wills.append(will) }
        }) {}
        return takeover
    }

    /// What the bus carried to `dead` from a while before its last beat on (it may have read
    /// them without queueing them durably, or never read them), in the order written, except
    /// the documents in `excluding`. Its sessions get them again: at least once, so a message
    /// it had queued comes twice.
    private func busMessages(
        for dead: ClusterMembership.DeadNode, excluding: Set<String>, client: OpaquePointer
    ) throws(MongoStoreError) -> ([Message], Set<String>) {
        let since = dead.lastBeatMilliseconds - Int64(settings.heartbeatIntervalMilliseconds) - Self.replayMarginMilliseconds
        let filter = BSONDocument().append("to.n", dead.node)
            .append("at", document: BSONDocument().append("$gte", dateMilliseconds: since))
        let options = BSONDocument().append("sort", document: BSONDocument().append("$natural", int32: 1))
        var messages: [Message] = []
        var documents = Set<String>()
        try store.forEachDocument(named: MongoCollection.clusterBus.rawValue, options: options, client: client, filter: filter) { fields in
            guard let delivery = MongoClusterBus.delivery(from: fields, for: dead.node), let id = delivery.documentId,
                  !excluding.contains(id)
            else { return }
            documents.insert(id)
            for case .publish(let message, nil) in delivery.payloads { messages.append(message) }
        }
        return (messages, documents)
    }

    /// Nodes that had not yet seen the dead node's routes go kept sending to it after the
    /// first replay: what they sent goes to the adopted sessions too. A node learns of the
    /// death at its own pace (later under load), so the bus is read again pass after pass,
    /// from two heartbeat intervals on, one interval apart, until two passes in a row find
    /// nothing new (at most `latePasses`).
    private func replayLate(
        _ dead: ClusterMembership.DeadNode, after takeover: DeadNodeTakeover, client: OpaquePointer,
        handOver: @Sendable (DeadNodeTakeover, @escaping @Sendable () -> Void) -> Void
    ) {
        var replayed = takeover.replayedDocuments
        var quietPasses = 0
        usleep(UInt32(settings.heartbeatIntervalMilliseconds) * 2000 + 500_000)
        for pass in 0..<Self.latePasses {
            if pass > 0 { usleep(UInt32(settings.heartbeatIntervalMilliseconds) * 1000) }
            do {
                let (late, documents) = try busMessages(for: dead, excluding: replayed, client: client)
                guard !late.isEmpty else {
                    quietPasses += 1
                    if quietPasses == 2 { return }
                    continue
                }
                quietPasses = 0
                replayed.formUnion(documents)
                logger.warning("cluster: replaying messages sent to \(dead.node) after it was taken over", metadata: ["replayed": "\(late.count)"])
                var again = DeadNodeTakeover(node: dead.node)
                again.replay = late
                again.replayTo = takeover.sessions.map(\.clientId)
                handOverAndWait(again, handOver)
            } catch {
                logger.error("cluster: could not replay what was sent to \(dead.node) late", metadata: ["reason": "\(error.message)"])
            }
        }
    }

    /// Passes of `replayLate` at most (heartbeat intervals).
    static let latePasses = 10

    /// How long before its last beat a dead node's bus messages are replayed: what a node
    /// read may take this long to be queued durably (a slow store write).
    static let replayMarginMilliseconds: Int64 = 5000
}

/// What this node took from a dead node, for its shards.
package struct DeadNodeTakeover: Sendable {
    package var node: String
    package var sessions: [StoredSession] = []
    package var wills: [StoredWill] = []
    /// Bus messages addressed to the dead node lately, for its sessions only: those adopted
    /// with them, and those adopted earlier (`replayTo`, client ids).
    package var replay: [Message] = []
    package var replayTo: [String] = []
    /// The bus documents replayed (a later pass skips them).
    var replayedDocuments = Set<String>()
}
