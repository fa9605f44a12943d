import BrokerCore
import CMongoC
import Glibc
import Logging
import Synchronization

/// Cluster-wide client ids, in `cluster_clients` (`{_id: clientId, node, epoch, gen}`).
///
/// A CONNECT that finds no session for its client id on its node claims the id here: an insert
/// when nobody ever held it, otherwise a find-and-modify that makes this node the holder and
/// returns the previous one, so concurrent CONNECTs are put in one order (the later claim wins;
/// the earlier connection is closed by the later claimant's takeover). A previous holder that
/// is alive is asked over the bus to close its connection and let go of the session
/// (`takeover`); once it answers `released` (its last writes for the session are in MongoDB),
/// or without an answer within the dead-node time, or at once when it is dead, the session
/// (when kept) is marked as this node's and read, with its queue, for the waiting CONNECT.
final class ClusterClaims: @unchecked Sendable {
    private struct Request {
        let clientId: String
        let keepSession: Bool
        let completion: @Sendable (ClusterClaim) -> Void
    }
    private struct Waiting {
        let request: Request
        let holder: String
        let deadline: Int64
    }

    private let store: MongoStore
    private let node: String
    private let epoch: Int64
    private let answerTimeoutMilliseconds: Int64
    private let logger: Logger
    private let inbox = Mutex<(requests: [Request], released: [(clientId: String, node: String)])>(([], []))
    private let wakeup = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    /// The claims thread's own: CONNECTs waiting for the previous holder's answer.
    private var waiting: [String: Waiting] = [:]

    init(store: MongoStore, node: String, epoch: Int64, answerTimeoutMilliseconds: Int64, logger: Logger) {
        self.store = store
        self.node = node
        self.epoch = epoch
        self.answerTimeoutMilliseconds = answerTimeoutMilliseconds
        self.logger = logger
        sem_init(wakeup, 0, 0)
    }

    /// Shard threads: a CONNECT of `clientId` without a session on this node.
    func claim(clientId: String, keepSession: Bool, completion: @escaping @Sendable (ClusterClaim) -> Void) {
        inbox.withLock { $0.requests.append(Request(clientId: clientId, keepSession: keepSession, completion: completion)) }
        sem_post(wakeup)
    }

    /// The bus reader: `holder` let go of `clientId`.
    func released(clientId: String, by holder: String) {
        inbox.withLock { $0.released.append((clientId, holder)) }
        sem_post(wakeup)
    }

    /// Starts the claims thread. `ask` sends a takeover to a node; `presumedAlive` reads whether
    /// a node must be taken as alive (`ClusterMembership.presumedAlive`).
    func start(ask: @escaping @Sendable (_ clientId: String, _ keepSession: Bool, _ node: String) -> Void,
               presumedAlive: @escaping @Sendable (String, OpaquePointer) throws(MongoStoreError) -> Bool) {
        startDetachedThread { [self] in
            let client = mongoc_client_pool_pop(store.pool)!
            let clients = mongoc_client_get_collection(client, store.settings.database, MongoCollection.clusterClients.rawValue)!
            while true {
                var deadline = timespec()
                clock_gettime(CLOCK_REALTIME, &deadline)
                deadline.tv_nsec += 100_000_000
                if deadline.tv_nsec >= 1_000_000_000 {
                    deadline.tv_sec += 1
                    deadline.tv_nsec -= 1_000_000_000
                }
                _ = sem_timedwait(wakeup, &deadline)
                let (requests, released) = inbox.withLock { state in
                    defer { state = ([], []) }
                    return state
                }
                for request in requests {
                    attempt("claiming client id \(request.clientId)", request) { () throws(MongoStoreError) in
                        try handle(request, clients: clients, client: client, ask: ask, presumedAlive: presumedAlive)
                    }
                }
                for (clientId, holder) in released {
                    guard let entry = waiting[clientId], entry.holder == holder else { continue }
                    waiting[clientId] = nil
                    finish(entry.request, client: client)
                }
                let now = MongoClusterBus.nowMilliseconds()
                for (clientId, entry) in waiting where entry.deadline <= now {
                    logger.warning("cluster: node \(entry.holder) did not release client \(clientId) in time; taking its session as stored")
                    waiting[clientId] = nil
                    finish(entry.request, client: client)
                }
            }
        }
    }

    private func handle(
        _ request: Request, clients: OpaquePointer, client: OpaquePointer,
        ask: (String, Bool, String) -> Void, presumedAlive: (String, OpaquePointer) throws(MongoStoreError) -> Bool
    ) throws(MongoStoreError) {
        if let earlier = waiting.removeValue(forKey: request.clientId) {
            // A newer CONNECT of the same id on this node: the earlier one gets nothing.
            earlier.request.completion(.session(nil))
        }
        guard let holder = try makeHolder(request.clientId, clients: clients), holder != node else {
            request.completion(.session(nil))
            return
        }
        if try presumedAlive(holder, client) {
            wait(for: holder, request: request, ask: ask)
            return
        }
        // The holder is dead. Its stored session may already be another node's (the survivor
        // that took the dead node over): then that node is asked.
        while true {
            let owner = try sessionOwner(request.clientId, client: client)
            if let owner, owner != node, owner != holder, try presumedAlive(owner, client) {
                wait(for: owner, request: request, ask: ask)
                return
            }
            if try finishTaking(request, storedBy: owner, client: client) { return }
        }
    }

    private func wait(for holder: String, request: Request, ask: (String, Bool, String) -> Void) {
        waiting[request.clientId] = Waiting(
            request: request, holder: holder, deadline: MongoClusterBus.nowMilliseconds() + answerTimeoutMilliseconds)
        ask(request.clientId, request.keepSession, holder)
    }

    /// The node named in `clientId`'s stored session (nil: none stored, or no owner named).
    private func sessionOwner(_ clientId: String, client: OpaquePointer) throws(MongoStoreError) -> String? {
        var owner: String?
        try store.forEachDocument(
            named: MongoCollection.sessions.rawValue,
            options: BSONDocument().append("projection", document: BSONDocument().append("node", int32: 1)),
            client: client, filter: BSONDocument().append("_id", clientId)
        ) { fields in
            fields.forEach { field in if field.key == "node" { owner = field.string } }
        }
        return owner
    }

    /// Makes this node the holder of `clientId`; returns the previous holder (nil: none).
    private func makeHolder(_ clientId: String, clients: OpaquePointer) throws(MongoStoreError) -> String? {
        while true {
            let document = BSONDocument().append("_id", clientId).append("node", node).append("epoch", int64: epoch)
                .append("gen", int64: 1)
            var error = bson_error_t()
            let reply = BSONReply()
            if withExtendedLifetime(document, { mongoc_collection_insert_one(clients, document.pointer, nil, reply.pointer, &error) }) {
                return nil
            }
            guard error.code == 11000 else { throw MongoStoreError(message: "claiming \(clientId): \(MongoLibrary.message(of: error))") }
            // Held before: take it over, learning from whom. (Not an upsert: on some servers two
            // concurrent upserts of one key both insert, or report nothing.)
            let update = BSONDocument()
                .append("$set", document: BSONDocument().append("node", node).append("epoch", int64: epoch))
                .append("$inc", document: BSONDocument().append("gen", int64: 1))
            var previous: String?
            if try MongoFindAndModify.update(in: clients, matching: BSONDocument().append("_id", clientId), with: update, { fields in
                fields.forEach { field in if field.key == "node" { previous = field.string } }
            }) {
                return previous
            }
        }
    }

    /// Hands a CONNECT whose previous holder answered (or never did) its session: when kept,
    /// marked as this node's and read.
    private func finish(_ request: Request, client: OpaquePointer) {
        attempt("taking the session of \(request.clientId)", request) { () throws(MongoStoreError) in
            _ = try finishTaking(request, storedBy: nil, client: client)
        }
    }

    /// Marks the stored session as this node's (only while `owner` still holds it, when
    /// given) and reads it for the CONNECT. False when the owner changed meanwhile.
    private func finishTaking(_ request: Request, storedBy owner: String?, client: OpaquePointer) throws(MongoStoreError) -> Bool {
        guard request.keepSession else {
            if let owner, owner != node { try deleteSession(request.clientId, storedBy: owner, client: client) }
            request.completion(.session(nil))
            return true
        }
        let sessions = mongoc_client_get_collection(client, store.settings.database, MongoCollection.sessions.rawValue)!
        defer { mongoc_collection_destroy(sessions) }
        let selector = BSONDocument().append("_id", request.clientId)
        if let owner { selector.append("node", owner) }
        let update = BSONDocument().append("$set", document: BSONDocument().append("node", node))
        let matched = try MongoWrite.updateOne(
            in: sessions, selector: selector, update: update, what: "taking the session of \(request.clientId)").matched > 0
        if owner != nil && !matched { return false }
        request.completion(.session(matched ? try store.loadSession(request.clientId, client: client) : nil))
        return true
    }

    /// A clean start of `clientId` ends the session a dead node kept for it (while `owner`
    /// still holds it): its queue first, as the store deletes a session.
    private func deleteSession(_ clientId: String, storedBy owner: String, client: OpaquePointer) throws(MongoStoreError) {
        let database = store.settings.database
        let sessions = mongoc_client_get_collection(client, database, MongoCollection.sessions.rawValue)!
        defer { mongoc_collection_destroy(sessions) }
        let queue = mongoc_client_get_collection(client, database, MongoCollection.queue.rawValue)!
        defer { mongoc_collection_destroy(queue) }
        let what = "deleting the session of \(clientId)"
        try MongoWrite.deleteMany(in: queue, selector: BSONDocument().append("client", clientId), what: what)
        try MongoWrite.deleteOne(in: sessions, selector: BSONDocument().append("_id", clientId).append("node", owner), what: what)
    }

    /// Runs `body` once: when MongoDB fails it, the CONNECT is answered `unavailable` (it is
    /// refused, and the client retries) rather than kept waiting.
    private func attempt(_ what: String, _ request: Request, _ body: () throws(MongoStoreError) -> Void) {
        do {
            try body()
        } catch {
            logger.error("cluster: \(what) failed", metadata: ["reason": "\(error.message)"])
            request.completion(.unavailable)
        }
    }
}
