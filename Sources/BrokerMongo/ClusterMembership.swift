import CMongoC
import Glibc
import Logging
import Synchronization

/// Which nodes are alive: each writes a heartbeat into `cluster_nodes` (`{_id: node, epoch,
/// beat}`) every `heartbeat_interval_ms`; a node whose beat is older than `dead_after_missed`
/// intervals is dead. Every survivor then tries to delete its document, conditioned on the epoch
/// and beat it saw (one atomic find-and-delete): exactly one wins and takes the dead node's
/// routes, sessions and wills (`onDead`).
///
/// Beats are compared with this node's clock: nodes must keep their clocks in step (NTP), to
/// well within one interval.
final class ClusterMembership: @unchecked Sendable {
    private let pool: OpaquePointer
    private let database: String
    private let node: String
    private let epoch: Int64
    private let settings: ClusterSettings
    private let logger: Logger
    private let alive = Mutex<[String]>([])
    /// What `ClusterJudgeReadiness` said at the last beat (heartbeat thread writes).
    private let judging = Atomic<Bool>(false)
    private let status: MongoStatus

    init(pool: OpaquePointer, database: String, node: String, epoch: Int64, settings: ClusterSettings, logger: Logger) {
        self.pool = pool
        self.database = database
        self.node = node
        self.epoch = epoch
        self.settings = settings
        self.logger = logger
        status = MongoStatus(
            logger: logger, down: "cluster heartbeat: MongoDB unavailable; retrying",
            up: "cluster heartbeat: MongoDB reachable again")
    }

    /// The other nodes alive at the last look.
    var otherNodes: [String] { alive.withLock { $0 } }
    var isAvailable: Bool { status.isAvailable }

    /// Whether `other` must be taken as alive: its heartbeat document exists (a node taken for
    /// dead has none: its judge deleted it) and its last beat, read now with `client`, is recent
    /// (the cached view of `otherNodes` may be one interval old: a node that just started is
    /// not in it yet) or this node may not judge yet (`ClusterJudgeReadiness`: just started,
    /// or MongoDB just came back and `other` may not have beaten since). A node wrongly taken
    /// as alive is asked and does not answer: the asker waits its answer timeout.
    func presumedAlive(_ other: String, client: OpaquePointer) throws(MongoStoreError) -> Bool {
        var beat: Int64?
        try MongoQuery.forEach(
            in: MongoCollection.clusterNodes.rawValue, database: database, filter: BSONDocument().append("_id", other), client: client
        ) { fields in
            fields.forEach { field in if field.key == "beat" { beat = field.dateMilliseconds } }
        }
        guard let beat else { return false }
        guard judging.load(ordering: .relaxed) else { return true }
        return beat >= oldestLiveBeat()
    }

    /// A beat older than this (ms since the epoch, this node's clock) is `dead_after_missed`
    /// intervals old: its node is dead.
    private func oldestLiveBeat() -> Int64 {
        MongoClusterBus.nowMilliseconds() - Int64(settings.heartbeatIntervalMilliseconds * settings.deadAfterMissed)
    }

    /// Writes this node's first beat (start-up, before the listeners open).
    func register() throws(MongoStoreError) {
        let client = mongoc_client_pool_pop(pool)!
        defer { mongoc_client_pool_push(pool, client) }
        _ = try beat(client: client)
        try look(client: client, onDead: nil)
    }

    /// A node found dead and claimed by this one.
    struct DeadNode {
        let node: String
        /// Its last heartbeat (ms since the epoch): it read the bus until about then.
        let lastBeatMilliseconds: Int64
    }

    /// Beats and looks every interval, on a thread of its own. `onDead` is called on that thread
    /// for each dead node this node claimed, and must return at once; `revived` when this node
    /// finds it was taken for dead (its routes must be written again).
    ///
    /// A node judges others only once its own beats have gone through for a whole dead-node
    /// window (`ClusterJudgeReadiness`): after a MongoDB outage every node missed its beats, and
    /// none is dead for it.
    func start(onDead: @escaping @Sendable (DeadNode) -> Void, revived: @escaping @Sendable () -> Void) {
        startDetachedThread { self.run(onDead: onDead, revived: revived) }
    }

    private func run(onDead: @escaping @Sendable (DeadNode) -> Void, revived: @Sendable () -> Void) {
        let client = mongoc_client_pool_pop(pool)!
        var readiness = ClusterJudgeReadiness(
            window: Int64(settings.heartbeatIntervalMilliseconds * (settings.deadAfterMissed + 1)),
            firstBeatAt: MongoClusterBus.nowMilliseconds())
        while true {
            usleep(UInt32(settings.heartbeatIntervalMilliseconds) * 1000)
            do {
                if try beat(client: client) {
                    logger.critical(
                        "cluster: this node missed its heartbeats long enough to be taken for dead; another node may have taken its sessions and wills; writing its routes again")
                    revived()
                }
                let now = MongoClusterBus.nowMilliseconds()
                readiness.beatCompleted(at: now)
                let mayJudge = readiness.mayJudge(at: now)
                judging.store(mayJudge, ordering: .relaxed)
                if mayJudge {
                    try look(client: client, onDead: onDead)
                } else {
                    try look(client: client, onDead: nil)
                }
                status.reachable()
            } catch {
                status.unreachable("\(error)")
                readiness.beatFailed()
                judging.store(false, ordering: .relaxed)
            }
        }
    }

    /// Writes the beat; true when the document had to be created although an earlier beat
    /// wrote it (another node deleted it: it took this node for dead).
    private var beaten = false

    private func beat(client: OpaquePointer) throws(MongoStoreError) -> Bool {
        let collection = mongoc_client_get_collection(client, database, MongoCollection.clusterNodes.rawValue)!
        defer { mongoc_collection_destroy(collection) }
        let selector = BSONDocument().append("_id", node)
        func write() throws(MongoStoreError) -> Bool {
            let update = BSONDocument().append("$set", document: BSONDocument()
                .append("epoch", int64: epoch).append("beat", dateMilliseconds: MongoClusterBus.nowMilliseconds()))
            return try MongoWrite.updateOne(
                in: collection, selector: selector, update: update, upsert: true, what: "heartbeat").upserted > 0
        }
        let started = MongoClusterBus.nowMilliseconds()
        let upserted = try write()
        // A beat that waited for MongoDB (server selection through an outage or a partition)
        // carries the time it was built: the others would read it as missed and take this node
        // for dead again. Written once more with the time now.
        if MongoClusterBus.nowMilliseconds() - started >= Int64(settings.heartbeatIntervalMilliseconds) { _ = try write() }
        defer { beaten = true }
        return upserted && beaten
    }

    /// Reads every beat: records the nodes alive and claims the dead ones.
    private func look(
        client: OpaquePointer, onDead: ((DeadNode) -> Void)?
    ) throws(MongoStoreError) {
        let collection = mongoc_client_get_collection(client, database, MongoCollection.clusterNodes.rawValue)!
        defer { mongoc_collection_destroy(collection) }
        var beats: [(node: String, epoch: Int64, beat: Int64)] = []
        try MongoQuery.forEach(in: MongoCollection.clusterNodes.rawValue, database: database, client: client) { fields in
            var id: String?, epoch: Int64?, beat: Int64?
            fields.forEach { field in
                switch field.key {
                case "_id": id = field.string
                case "epoch": epoch = field.integer
                case "beat": beat = field.dateMilliseconds
                default: break
                }
            }
            if let id, let epoch, let beat { beats.append((id, epoch, beat)) }
        }
        let deadline = oldestLiveBeat()
        alive.withLock { $0 = beats.filter { $0.node != node && $0.beat >= deadline }.map(\.node).sorted() }
        guard let onDead else { return }
        for dead in beats where dead.node != node && dead.beat < deadline {
            // Conditioned on what was read: a node that beat again (or restarted) meanwhile
            // is not taken.
            let query = BSONDocument().append("_id", dead.node).append("epoch", int64: dead.epoch)
                .append("beat", dateMilliseconds: dead.beat)
            if try MongoFindAndModify.delete(in: collection, matching: query) {
                logger.warning("cluster: node \(dead.node) missed \(settings.deadAfterMissed) heartbeats; taking over its sessions and wills")
                onDead(DeadNode(node: dead.node, lastBeatMilliseconds: dead.beat))
            }
        }
    }
}
