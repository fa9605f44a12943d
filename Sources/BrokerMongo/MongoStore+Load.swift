import BrokerCore
import CMongoC
import Glibc
import Logging

/// Start-up: indexes, then everything the broker kept (sessions with their queues, retained
/// messages), read before the listeners open.
extension MongoStore {
    /// Creates the indexes (idempotent), imports the aedes broker's data once and reads the
    /// snapshot: one attempt (nil when MongoDB cannot be reached; said in the log).
    package func prepareAndLoadOnce() -> StoreSnapshot? {
        do {
            try createIndexes()
            try importFromAedesOnce()
            let snapshot = try load()
            status.reachable()
            logger.info("MongoDB store loaded", metadata: [
                "database": "\(settings.database)", "sessions": "\(snapshot.sessions.count)",
                "queued": "\(snapshot.sessions.reduce(0) { $0 + $1.entries.count })",
                "retained": "\(snapshot.retained.count)", "wills": "\(snapshot.wills.count)",
            ])
            return snapshot
        } catch {
            status.unreachable(error.message)
            return nil
        }
    }

    /// Keeps trying, with back-off (0.5 s to 5 s), on a thread of its own, then hands the
    /// snapshot over (the broker serves meanwhile, refusing persistent sessions).
    package func loadInBackground(_ loaded: @escaping @Sendable (StoreSnapshot) -> Void) {
        let store = self
        startDetachedThread {
            var backoff = Backoff(first: 500_000)
            while true {
                backoff.wait()
                if let snapshot = store.prepareAndLoadOnce() {
                    loaded(snapshot)
                    return
                }
            }
        }
    }

    /// Runs `body` with a client from the pool (the loader's and the import's; writers keep their own).
    func withClient<T>(_ body: (OpaquePointer) throws(MongoStoreError) -> T) throws(MongoStoreError) -> T {
        let client = mongoc_client_pool_pop(pool)!
        defer { mongoc_client_pool_push(pool, client) }
        return try body(client)
    }

    func createIndexes() throws(MongoStoreError) {
        let queueIndex = BSONDocument()
            .append("key", document: BSONDocument().append("client", int32: 1).append("seq", int32: 1))
            .append("name", "client_seq").append("unique", true)
        let expiryIndex = BSONDocument()
            .append("key", document: BSONDocument().append("expires_at", int32: 1))
            .append("name", "expires_at_ttl").append("expireAfterSeconds", int32: 0)
        try createIndex(queueIndex, on: .queue)
        try createIndex(expiryIndex, on: .sessions)
    }

    /// `createIndexes` with one index (idempotent).
    func createIndex(_ index: BSONDocument, on collection: MongoCollection) throws(MongoStoreError) {
        try withClient { (client) throws(MongoStoreError) in
            let database = mongoc_client_get_database(client, settings.database)!
            defer { mongoc_database_destroy(database) }
            let command = BSONDocument().append("createIndexes", collection.rawValue).append("indexes", array: [index])
            let reply = BSONReply()
            var error = bson_error_t()
            let ok = withExtendedLifetime(command) {
                mongoc_database_command_simple(database, command.pointer, nil, reply.pointer, &error)
            }
            guard ok else {
                throw MongoStoreError(message: "createIndexes on \(collection.rawValue): \(MongoLibrary.message(of: error))")
            }
        }
    }

    func load() throws(MongoStoreError) -> StoreSnapshot {
        var now = timeval()
        gettimeofday(&now, nil)
        let nowSeconds = Int(now.tv_sec)
        return try withClient { (client) throws(MongoStoreError) in
            // In a cluster a node loads its own sessions and wills (and those nobody owns yet,
            // which it claims first); the other nodes' are theirs.
            let owned = BSONDocument()
            var everySession: Set<String>?
            if let node = settings.nodeId {
                try claimUnowned(for: node, client: client)
                owned.append("node", node)
                var ids = Set<String>()
                try forEachDocument(
                    in: .sessions, options: BSONDocument().append("projection", document: BSONDocument().append("_id", int32: 1)),
                    client: client
                ) { fields in
                    fields.forEach { field in if field.key == "_id", let id = field.string { ids.insert(id) } }
                }
                everySession = ids
            }
            var sessions: [String: StoredSession] = [:]
            try forEachDocument(named: MongoCollection.sessions.rawValue, client: client, filter: owned) { fields in
                if let session = MongoDocuments.session(from: fields, nowSeconds: nowSeconds) { sessions[session.clientId] = session }
            }
            var orphans: [String: Int] = [:]
            // In any order: each session's entries are sorted once all are read.
            try forEachDocument(in: .queue, client: client) { fields in
                guard let (clientId, entry) = MongoDocuments.queueEntry(from: fields) else { return }
                if sessions[clientId] != nil {
                    sessions[clientId]!.entries.append(entry)
                } else if everySession?.contains(clientId) != true {
                    orphans[clientId, default: 0] += 1
                }
            }
            if !orphans.isEmpty {
                // Left by a session document removed without its queue (its TTL backstop, or an
                // older broker): a new session of that client must not meet them.
                logger.warning("MongoDB store: deleting queued messages that have no session", metadata: [
                    "clients": "\(orphans.count)", "messages": "\(orphans.values.reduce(0, +))",
                ])
                try deleteQueues(of: Array(orphans.keys), client: client)
            }
            var retained: [Message] = []
            try forEachDocument(in: .retained, client: client) { fields in
                fields.forEach { field in
                    if field.key == "message", let message = field.children.flatMap({ MongoDocuments.message(from: $0, retain: true) }) {
                        retained.append(message)
                    }
                }
            }
            var wills: [StoredWill] = []
            try forEachDocument(named: MongoCollection.wills.rawValue, client: client, filter: owned) { fields in
                if let will = MongoDocuments.will(from: fields) { wills.append(will) }
            }
            return StoreSnapshot(
                sessions: sessions.values.sorted { $0.clientId < $1.clientId }.map { session in
                    var session = session
                    session.entries.sort { $0.sequence < $1.sequence }
                    return session
                },
                retained: retained, wills: wills)
        }
    }

    /// One stored session with its queue, read with `client` (a dead cluster node's session,
    /// just claimed); nil when it is gone.
    func loadSession(_ clientId: String, client: OpaquePointer) throws(MongoStoreError) -> StoredSession? {
        var now = timeval()
        gettimeofday(&now, nil)
        var session: StoredSession?
        try forEachDocument(
            named: MongoCollection.sessions.rawValue, client: client, filter: BSONDocument().append("_id", clientId)
        ) { fields in
            session = MongoDocuments.session(from: fields, nowSeconds: Int(now.tv_sec))
        }
        guard var session else { return nil }
        try forEachDocument(named: MongoCollection.queue.rawValue, client: client, filter: BSONDocument().append("client", clientId)) { fields in
            if let (_, entry) = MongoDocuments.queueEntry(from: fields) { session.entries.append(entry) }
        }
        session.entries.sort { $0.sequence < $1.sequence }
        return session
    }

    /// Sessions and wills written before the cluster was configured belong to nobody: the first
    /// node to start takes them (each document goes to one node).
    private func claimUnowned(for node: String, client: OpaquePointer) throws(MongoStoreError) {
        for collection in [MongoCollection.sessions, .wills] {
            let handle = mongoc_client_get_collection(client, settings.database, collection.rawValue)!
            defer { mongoc_collection_destroy(handle) }
            let selector = BSONDocument().append("node", document: BSONDocument().append("$exists", false))
            let update = BSONDocument().append("$set", document: BSONDocument().append("node", node))
            var error = bson_error_t()
            let ok = withExtendedLifetime((selector, update)) {
                mongoc_collection_update_many(handle, selector.pointer, update.pointer, nil, nil, &error)
            }
            guard ok else { throw MongoStoreError(message: "claiming \(collection.rawValue) for node \(node): \(MongoLibrary.message(of: error))") }
        }
    }

    private func deleteQueues(of clientIds: [String], client: OpaquePointer) throws(MongoStoreError) {
        let handle = mongoc_client_get_collection(client, settings.database, MongoCollection.queue.rawValue)!
        defer { mongoc_collection_destroy(handle) }
        for clientId in clientIds {
            try MongoWrite.deleteMany(
                in: handle, selector: BSONDocument().append("client", clientId), what: "deleting orphaned queue entries")
        }
    }

    func forEachDocument(
        in collection: MongoCollection, options: BSONDocument? = nil, client: OpaquePointer, _ body: (BSONFields) -> Void
    ) throws(MongoStoreError) {
        try forEachDocument(named: collection.rawValue, options: options, client: client, body)
    }

    func forEachDocument(
        named collection: String, options: BSONDocument? = nil, client: OpaquePointer, filter: BSONDocument = BSONDocument(),
        _ body: (BSONFields) -> Void
    ) throws(MongoStoreError) {
        try MongoQuery.forEach(
            in: collection, database: settings.database, filter: filter, options: options, client: client, body)
    }
}

package struct MongoStoreError: Error, Sendable, CustomStringConvertible {
    package let message: String
    package var description: String { message }
}
