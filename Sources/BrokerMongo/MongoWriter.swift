import BrokerCore
import CMongoC
import Glibc
import Logging
import Synchronization

/// One writer thread of the MongoDB store: takes every write queued for it, applies them as
/// ordered bulk writes (one per run of writes to the same collection, one batch in flight), then
/// releases their tickets. A write MongoDB refuses for good fails its ticket (its packet is never
/// acknowledged); an unreachable server is retried with back-off, holding the batch.
final class MongoWriter: @unchecked Sendable {
    private let index: Int
    private let pool: OpaquePointer
    private let database: String
    private let status: MongoStatus
    private let logger: Logger
    /// Relaxed durability: how long writes gather before a batch (0: at once).
    private let flushIntervalMilliseconds: Int
    private let sessionExpirySeconds: Int
    private let node: String?
    /// Writes waiting for the next batch, when (monotonic ns) the oldest of them came, and when
    /// the oldest write of the batch being applied came (nil: none in flight).
    private let queue = Mutex<(writes: [StoreWrite], since: UInt64, inFlightSince: UInt64?, inFlight: Int)>(([], 0, nil, 0))
    /// Writes per second MongoDB took in recent batches (relaxed durability: how many writes may
    /// wait before they can no longer be applied within the flush interval).
    private let writesPerSecond = Atomic<Int>(1000)
    /// For metrics: writes applied, writes enqueued and not yet applied, batch durations.
    let applied = Atomic<Int>(0)
    let pending = Atomic<Int>(0)
    let batchLatency = AtomicLatencyHistogram()

    /// Relaxed durability: the oldest waiting write is older than the flush interval (MongoDB
    /// does not keep up); acknowledgements wait until this writer takes its queue again.
    private let lagging = Atomic<Bool>(false)
    /// Heap-allocated: a semaphore must keep its address, and Swift promises none for a stored
    /// property passed inout.
    private let wakeup = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    static let maxBulkOperations = 1000

    init(
        index: Int, pool: OpaquePointer, database: String, status: MongoStatus, logger: Logger,
        flushIntervalMilliseconds: Int, sessionExpirySeconds: Int, node: String?
    ) {
        self.node = node
        self.index = index
        self.pool = pool
        self.database = database
        self.status = status
        self.logger = logger
        self.flushIntervalMilliseconds = flushIntervalMilliseconds
        self.sessionExpirySeconds = sessionExpirySeconds
        sem_init(wakeup, 0, 0)
    }

    func start() {
        startDetachedThread { self.run() }
    }

    /// Called on shard threads.
    func enqueue(_ writes: [StoreWrite]) {
        let (wasEmpty, age, unapplied) = queue.withLock { queue in
            // Read under the lock: `since` is always an earlier reading, so the age is never
            // negative (another shard's later reading cannot slip in between).
            let now = Self.monotonicNanoseconds()
            let wasEmpty = queue.writes.isEmpty
            if wasEmpty { queue.since = now }
            queue.writes += writes
            // Under the lock, so that the writer's subtraction of a batch never comes first.
            pending.wrappingAdd(writes.count, ordering: .relaxed)
            return (wasEmpty, now - min(queue.since, queue.inFlightSince ?? queue.since), queue.writes.count + queue.inFlight)
        }
        if wasEmpty { sem_post(wakeup) }
        if flushIntervalMilliseconds > 0 && !lagging.load(ordering: .relaxed) && isBehind(age: age, unapplied: unapplied) {
            lagging.store(true, ordering: .relaxed)
        }
    }

    var isLagging: Bool { lagging.load(ordering: .relaxed) }

    /// Relaxed durability: behind when the oldest unapplied write is older than the interval
    /// (plus a quarter of slack: the writer takes its queue one interval after the first write
    /// came), or when more writes wait than MongoDB has lately applied in one interval.
    private func isBehind(age: UInt64, unapplied: Int) -> Bool {
        age > UInt64(flushIntervalMilliseconds) * 1_250_000
            || unapplied > writesPerSecond.load(ordering: .relaxed) * flushIntervalMilliseconds / 1000
    }

    /// Nothing queued and no batch in flight (one look under the lock).
    var isIdle: Bool { queue.withLock { $0.writes.isEmpty && $0.inFlight == 0 } }

    private static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    func run() {
        let client = mongoc_client_pool_pop(pool)!
        while true {
            sem_wait(wakeup)
            if flushIntervalMilliseconds > 0 { usleep(UInt32(flushIntervalMilliseconds) * 1000) }
            while true {
                let batch = queue.withLock { queue in
                    defer { queue.writes.removeAll(keepingCapacity: true) }
                    queue.inFlightSince = queue.writes.isEmpty ? nil : queue.since
                    queue.inFlight = queue.writes.count
                    return queue.writes
                }
                if batch.isEmpty {
                    lagging.store(false, ordering: .relaxed)
                    break
                }
                let started = Self.monotonicNanoseconds()
                let refused = apply(batch, client: client)
                let finished = Self.monotonicNanoseconds()
                batchLatency.record(nanoseconds: finished - started)
                applied.wrappingAdd(batch.count - refused, ordering: .relaxed)
                pending.wrappingSubtract(batch.count, ordering: .relaxed)
                let measured = batch.count * 1_000_000_000 / Int(max(finished - started, 1_000_000))
                writesPerSecond.store(max(100, (writesPerSecond.load(ordering: .relaxed) + measured) / 2), ordering: .relaxed)
                // Still behind when what waits now could not be applied within the interval.
                let behind = queue.withLock { queue in
                    let now = Self.monotonicNanoseconds()
                    queue.inFlightSince = nil
                    queue.inFlight = 0
                    return !queue.writes.isEmpty && isBehind(age: now - queue.since, unapplied: queue.writes.count)
                }
                lagging.store(behind, ordering: .relaxed)
            }
        }
    }

    // MARK: - One batch

    private enum BulkResult {
        /// The first `count` operations are applied.
        case applied(count: Int)
        /// Operations before `index` are applied; the one at `index` was refused for good.
        case refused(index: Int, reason: String)
        /// Refused for good, but not said which operation: retry them one at a time.
        case refusedSomewhere(reason: String)
        /// MongoDB could not be reached (or answered it cannot write now): retry.
        case unavailable(reason: String)
    }

    /// Applies a batch, retrying while MongoDB is unreachable; returns how many writes it refused for good.
    private func apply(_ writes: [StoreWrite], client: OpaquePointer) -> Int {
        var timeOfDay = timeval()
        gettimeofday(&timeOfDay, nil)
        let now = Int64(timeOfDay.tv_sec) * 1000 + Int64(timeOfDay.tv_usec) / 1000
        let operations = MongoBatch.operations(
            for: writes, nowMilliseconds: now, sessionExpirySeconds: sessionExpirySeconds, node: node)
        var failed = Set<Int>()
        /// A write MongoDB refuses for good: its packet is never acknowledged.
        func refuse(_ operation: MongoOperation, reason: String) {
            failed.insert(operation.write)
            logger.error("MongoDB refused a store write; its packet is not acknowledged", metadata: [
                "client": "\(writes[operation.write].operation.orderingKey)", "collection": "\(operation.collection.rawValue)",
                "reason": "\(reason)",
            ])
        }
        var start = 0
        var oneAtATimeUntil = 0
        var backoff = Backoff(first: 100_000)
        // Whether an attempt failed half-way: only then may an insert meet its own earlier copy.
        var retrying = false
        while start < operations.count {
            let collection = operations[start].collection
            var end = start + 1
            let limit = start < oneAtATimeUntil ? 1 : Self.maxBulkOperations
            while end < operations.count && operations[end].collection == collection && end - start < limit { end += 1 }
            switch bulkWrite(operations[start..<end], collection: collection, client: client, retrying: retrying) {
            case .applied(let count):
                status.reachable()
                backoff.reset()
                start += count
            case .refused(let index, let reason):
                status.reachable()
                refuse(operations[start + index], reason: reason)
                start += index + 1
            case .refusedSomewhere(let reason) where end - start == 1:
                refuse(operations[start], reason: reason)
                start += 1
            case .refusedSomewhere:
                oneAtATimeUntil = end
            case .unavailable(let reason):
                retrying = true
                status.unreachable(reason)
                backoff.wait()
            }
        }
        for (index, write) in writes.enumerated() {
            write.ticket?.release(failed: failed.contains(index) ? .store : [])
        }
        return failed.count
    }

    private func bulkWrite(
        _ operations: ArraySlice<MongoOperation>, collection: MongoCollection, client: OpaquePointer, retrying: Bool
    ) -> BulkResult {
        let handle = mongoc_client_get_collection(client, database, collection.rawValue)!
        defer { mongoc_collection_destroy(handle) }
        let ordered = BSONDocument().append("ordered", true)
        let bulk = withExtendedLifetime(ordered) { mongoc_collection_create_bulk_operation_with_opts(handle, ordered.pointer)! }
        defer { mongoc_bulk_operation_destroy(bulk) }
        let upsert = BSONDocument().append("upsert", true)
        defer { withExtendedLifetime(upsert) {} }
        var error = bson_error_t()
        var added = 0
        for operation in operations {
            let ok = switch operation.kind {
            case .insert(let document):
                mongoc_bulk_operation_insert_with_opts(bulk, document.pointer, nil, &error)
            case .upsert(let selector, let update):
                mongoc_bulk_operation_update_one_with_opts(bulk, selector.pointer, update.pointer, upsert.pointer, &error)
            case .update(let selector, let update):
                mongoc_bulk_operation_update_one_with_opts(bulk, selector.pointer, update.pointer, nil, &error)
            case .deleteOne(let selector):
                mongoc_bulk_operation_remove_one_with_opts(bulk, selector.pointer, nil, &error)
            case .deleteMany(let selector):
                mongoc_bulk_operation_remove_many_with_opts(bulk, selector.pointer, nil, &error)
            }
            guard ok else {
                // libmongoc refused to build it (too large, invalid): apply what came before first.
                if added == 0 { return .refused(index: 0, reason: MongoLibrary.message(of: error)) }
                break
            }
            added += 1
        }
        let reply = BSONReply()
        if mongoc_bulk_operation_execute(bulk, reply.pointer, &error) != 0 { return .applied(count: added) }
        let reason = MongoLibrary.message(of: error)
        if let (index, code) = MongoReplies.firstWriteError(reply) {
            // A retried batch meeting its own earlier insert: that operation is done. Without a
            // retry, a duplicate is someone else's entry (a leftover of an earlier session): a
            // refusal, so that nothing is acknowledged on the strength of an old document.
            if code == 11000, retrying, case .insert = operations[operations.startIndex + index].kind {
                return .applied(count: index + 1)
            }
            return .refused(index: index, reason: reason)
        }
        return Self.isPermanent(error) ? .refusedSomewhere(reason: reason) : .unavailable(reason: reason)
    }

    /// Errors about the operations themselves (too large, invalid), which no retry fixes. Every
    /// other error (network, server selection, authentication, write concern, a stepping-down
    /// primary) is taken as the database being unavailable, and retried.
    private static func isPermanent(_ error: bson_error_t) -> Bool {
        switch error.domain {
        case UInt32(MONGOC_ERROR_BSON.rawValue):
            return true
        case UInt32(MONGOC_ERROR_COMMAND.rawValue):
            return error.code == UInt32(MONGOC_ERROR_COMMAND_INVALID_ARG.rawValue)
        case UInt32(MONGOC_ERROR_SERVER.rawValue), UInt32(MONGOC_ERROR_QUERY.rawValue):
            // BadValue, FailedToParse, TypeMismatch, BSONObjectTooLarge, document too large.
            return [2, 9, 14, 10334, 17419, 17420].contains(error.code)
        default:
            return false
        }
    }
}
