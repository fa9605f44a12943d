import BrokerCore
import CMongoC
import Glibc
import Logging
import Synchronization

/// Routes: which node subscribes to which filter, in `cluster_routes` (`{_id: {n, f}}`).
///
/// - This node's: shards report each filter as they gain their first subscription on it or
///   lose their last (`localInterest`); the node's count across shards going 0→1 or 1→0 is
///   written by one writer thread, in order.
/// - The others': one thread follows a change stream of the collection (resumed from its
///   token; when the server lost the position, a full reload), and every route another node
///   gains or loses becomes `.interest` of that node's slot, posted to every shard.
final class ClusterRoutes: @unchecked Sendable {
    private let pool: OpaquePointer
    private let database: String
    private let node: String
    private let slots: ClusterNodeSlots
    private let logger: Logger
    private let local = Mutex<(counts: [String: Int], writes: [(filter: String, add: Bool)])>(([:], []))
    private let wakeup = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let status: MongoStatus
    /// Routes of other nodes known here (the watcher's thread only), and their number.
    private var known = Set<RouteKey>()
    private let knownCount = Atomic<Int>(0)

    struct RouteKey: Hashable {
        let node: String
        let filter: String
    }

    init(pool: OpaquePointer, database: String, node: String, slots: ClusterNodeSlots, logger: Logger) {
        self.pool = pool
        self.database = database
        self.node = node
        self.slots = slots
        self.logger = logger
        status = MongoStatus(
            logger: logger, down: "cluster routes: MongoDB unavailable; route changes wait and are retried with back-off",
            up: "cluster routes: MongoDB reachable again")
        sem_init(wakeup, 0, 0)
    }

    var remoteRoutes: Int { knownCount.load(ordering: .relaxed) }
    var isAvailable: Bool { status.isAvailable }

    /// Shard threads: one shard's first (or last) subscription on `filter`.
    func localInterest(filter: String, interested: Bool) {
        let changed = local.withLock { state -> Bool in
            let before = state.counts[filter, default: 0]
            let after = before + (interested ? 1 : -1)
            state.counts[filter] = after > 0 ? after : nil
            guard (before == 0) != (after <= 0) else { return false }
            state.writes.append((filter, interested))
            return state.writes.count == 1
        }
        if changed { sem_post(wakeup) }
    }

    /// Writes every route of this node again (another node took this one for dead and
    /// deleted them).
    func rewriteAll() {
        local.withLock { state in
            for filter in state.counts.keys { state.writes.append((filter, true)) }
        }
        sem_post(wakeup)
    }

    /// Removes what an earlier run of this node left (before anything new is written), opens
    /// the watcher's stream and loads the other nodes' routes into the shards. Then `run`.
    func prepare(mailboxes: [any ShardMailbox]) throws(MongoStoreError) {
        let client = mongoc_client_pool_pop(pool)!
        defer { mongoc_client_pool_push(pool, client) }
        try deleteRoutes(of: node, client: client)
        let watcher = mongoc_client_pool_pop(pool)!
        let stream = openStream(client: watcher, after: nil)
        do { try reload(client: watcher, mailboxes: mailboxes) } catch {
            mongoc_client_pool_push(pool, watcher)
            throw error
        }
        prepared = Handover(value: (watcher, stream))
    }

    /// Starts the writer (this node's routes, queued since start-up) and the watcher.
    func run(mailboxes: [any ShardMailbox]) {
        guard let handover = prepared else { return }
        prepared = nil
        startDetachedThread { self.watch(client: handover.value.0, stream: handover.value.1, mailboxes: mailboxes) }
        startDetachedThread { self.write() }
    }

    private var prepared: Handover<(OpaquePointer, MongoChangeStream)>?

    /// Deletes every route of `owner` (at start for this node; for a dead node, by the node that
    /// claimed it).
    func deleteRoutes(of owner: String, client: OpaquePointer) throws(MongoStoreError) {
        let collection = mongoc_client_get_collection(client, database, MongoCollection.clusterRoutes.rawValue)!
        defer { mongoc_collection_destroy(collection) }
        try MongoWrite.deleteMany(in: collection, selector: BSONDocument().append("_id.n", owner), what: "deleting routes of \(owner)")
    }

    // MARK: - This node's routes

    private func write() {
        let client = mongoc_client_pool_pop(pool)!
        let collection = mongoc_client_get_collection(client, database, MongoCollection.clusterRoutes.rawValue)!
        while true {
            sem_wait(wakeup)
            let writes = local.withLock { state in
                let taken = state.writes
                state.writes.removeAll()
                return taken
            }
            for write in writes { apply(write, to: collection) }
        }
    }

    /// One route write, retried with back-off until MongoDB takes it (each is idempotent).
    private func apply(_ write: (filter: String, add: Bool), to collection: OpaquePointer) {
        var backoff = Backoff(first: 100_000)
        while true {
            let key = BSONDocument().append("_id", document: BSONDocument().append("n", node).append("f", write.filter))
            do {
                if write.add {
                    // An upsert on a key only this node writes: no two writers race on it.
                    let update = BSONDocument().append(
                        "$set", document: BSONDocument().append("since", dateMilliseconds: MongoClusterBus.nowMilliseconds()))
                    try MongoWrite.updateOne(in: collection, selector: key, update: update, upsert: true, what: "writing a route")
                } else {
                    try MongoWrite.deleteOne(in: collection, selector: key, what: "deleting a route")
                }
                status.reachable()
                return
            } catch {
                status.unreachable(error.message)
                backoff.wait()
            }
        }
    }

    // MARK: - The other nodes' routes

    private func openStream(client: OpaquePointer, after token: BSONDocument?) -> MongoChangeStream {
        MongoChangeStream(
            client: client, database: database, collection: MongoCollection.clusterRoutes.rawValue, match: nil,
            resumeAfter: token, maxAwaitMilliseconds: 1000)
    }

    private func watch(client: OpaquePointer, stream first: MongoChangeStream, mailboxes: [any ShardMailbox]) {
        var stream = first
        var token: BSONDocument?
        var backoff = Backoff(first: 100_000)
        while true {
            do {
                while let event = try stream.next() {
                    apply(event: event, mailboxes: mailboxes)
                    token = stream.resumeToken
                    backoff.reset()
                }
            } catch {
                logger.warning("cluster routes: change stream interrupted, reopening", metadata: ["reason": "\(error.message)"])
                backoff.wait()
                let lost = stream.lostPosition
                stream = openStream(client: client, after: lost ? nil : token)
                if lost {
                    // Events were missed: what the collection holds now is the truth.
                    token = nil
                    do { try reload(client: client, mailboxes: mailboxes) } catch {
                        logger.warning("cluster routes: reload failed, retrying", metadata: ["reason": "\(error.message)"])
                    }
                }
            }
        }
    }

    /// An insert or delete event of `cluster_routes`.
    private func apply(event: BSONFields, mailboxes: [any ShardMailbox]) {
        var operation: String?
        var key: RouteKey?
        event.forEach { field in
            switch field.key {
            case "operationType": operation = field.string
            case "documentKey": key = field.children.flatMap(Self.routeKey(fromDocumentKey:))
            default: break
            }
        }
        guard let key, let operation else { return }
        switch operation {
        case "insert", "update", "replace": learn(key, present: true, mailboxes: mailboxes)
        case "delete": learn(key, present: false, mailboxes: mailboxes)
        default: break
        }
    }

    /// Reads every route and brings the shards' replicas to it (start, lost position).
    private func reload(client: OpaquePointer, mailboxes: [any ShardMailbox]) throws(MongoStoreError) {
        var present = Set<RouteKey>()
        try MongoQuery.forEach(in: MongoCollection.clusterRoutes.rawValue, database: database, client: client) { fields in
            if let key = Self.routeKey(fromDocumentKey: fields) { present.insert(key) }
        }
        for key in known.subtracting(present) { learn(key, present: false, mailboxes: mailboxes) }
        for key in present.subtracting(known) { learn(key, present: true, mailboxes: mailboxes) }
    }

    private func learn(_ key: RouteKey, present: Bool, mailboxes: [any ShardMailbox]) {
        guard key.node != node else { return }
        if present {
            guard known.insert(key).inserted else { return }
        } else {
            guard known.remove(key) != nil else { return }
        }
        knownCount.store(known.count, ordering: .relaxed)
        guard let slot = slots.slot(for: key.node) else {
            logger.error("cluster: more nodes than this build can address; ignoring routes of \(key.node)")
            return
        }
        for mailbox in mailboxes { mailbox.post(.interest(filter: key.filter, shard: slot, interested: present)) }
    }

    /// `{_id: {n, f}}` (a document, or a change event's `documentKey`).
    private static func routeKey(fromDocumentKey fields: BSONFields) -> RouteKey? {
        var key: RouteKey?
        fields.forEach { field in
            guard field.key == "_id", let parts = field.children else { return }
            var node: String?, filter: String?
            parts.forEach { part in
                if part.key == "n" { node = part.string }
                if part.key == "f" { filter = part.string }
            }
            if let node, let filter { key = RouteKey(node: node, filter: filter) }
        }
        return key
    }
}
