import BrokerCore
import CMongoC
import Glibc
import Logging
import MQTTWire
import Synchronization

/// How the MongoDB store behaves (`persistence:` in the configuration).
package struct MongoStoreSettings: Sendable, Equatable {
    package enum Durability: String, Sendable, Equatable, CaseIterable {
        /// Acknowledgements wait for the writes their packet caused.
        case acknowledged
        /// Write-behind: nothing waits; writes trail by at most `flushIntervalMilliseconds`.
        case relaxed
    }
    package var url: String
    package var database: String
    package var durability: Durability
    package var flushIntervalMilliseconds: Int
    /// Writer threads, each with its own connection from the pool and one batch in flight.
    package var writers: Int
    /// In a cluster, this node's id: its sessions and wills carry it, and it loads only its own.
    package var nodeId: String?

    package init(url: String, database: String, durability: Durability = .acknowledged, flushIntervalMilliseconds: Int = 1000, writers: Int = 2) {
        self.url = url
        self.database = database
        self.durability = durability
        self.flushIntervalMilliseconds = flushIntervalMilliseconds
        self.writers = writers
    }
}

/// What the store held at start-up.
package struct StoreSnapshot: Sendable {
    package var sessions: [StoredSession]
    package var retained: [Message]
    /// Wills of clients that were connected when the broker stopped without publishing them.
    package var wills: [StoredWill]
}

/// `SessionStore` on MongoDB through libmongoc. Shards hand their writes over per loop turn; each
/// write goes to the writer thread its client id (or retained topic) hashes to, so writes for
/// one client keep their order. libmongoc clients are not thread-safe: each writer pops its own
/// from one pool, and no shard ever touches one.
package final class MongoStore: SessionStore, @unchecked Sendable {
    package let settings: MongoStoreSettings
    package var waitsForWrites: Bool {
        settings.durability == .acknowledged || writers.contains { $0.isLagging }
    }
    package var isAvailable: Bool { status.isAvailable }
    package var statistics: StoreStatistics {
        var figures = StoreStatistics()
        for writer in writers {
            figures.applied += writer.applied.load(ordering: .relaxed)
            figures.pending += writer.pending.load(ordering: .relaxed)
            figures.batchLatency.add(writer.batchLatency.snapshot)
        }
        return figures
    }
    let pool: OpaquePointer
    private let writers: [MongoWriter]
    let status: MongoStatus
    let logger: Logger

    /// Opens the pool (no connection is made until the first use). Throws for a URL libmongoc
    /// refuses.
    package init(settings: MongoStoreSettings, sessionExpirySeconds: Int, logger: Logger) throws(MongoConnectionStringError) {
        MongoLog.route(to: logger)
        self.settings = settings
        self.logger = logger
        let uri = try MongoConnectionString.parse(settings.url)
        defer { mongoc_uri_destroy(uri) }
        // A pooled client waits 30 s for a server by default; the writers retry on their own
        // schedule and report the store down, so they should find out sooner.
        for option in [MONGOC_URI_SERVERSELECTIONTIMEOUTMS, MONGOC_URI_CONNECTTIMEOUTMS] where !mongoc_uri_has_option(uri, option) {
            _ = mongoc_uri_set_option_as_int32(uri, option, 2000)
        }
        pool = mongoc_client_pool_new(uri)
        _ = mongoc_client_pool_set_error_api(pool, 2)
        mongoc_client_pool_set_appname(pool, "mqtt-broker")
        let status = MongoStatus(logger: logger)
        self.status = status
        let pool = self.pool
        writers = (0..<max(1, settings.writers)).map { index in
            MongoWriter(
                index: index, pool: pool, database: settings.database, status: status, logger: logger,
                flushIntervalMilliseconds: settings.durability == .relaxed ? settings.flushIntervalMilliseconds : 0,
                sessionExpirySeconds: sessionExpirySeconds, node: settings.nodeId)
        }
    }

    package func start() {
        for writer in writers { writer.start() }
    }

    package func submit(_ writes: [StoreWrite], from shard: Int) {
        if writers.count == 1 {
            writers[0].enqueue(writes)
            return
        }
        var parts = Array(repeating: [StoreWrite](), count: writers.count)
        for write in writes {
            var hasher = Hasher()
            hasher.combine(write.operation.orderingKey)
            parts[Int(UInt(bitPattern: hasher.finalize()) % UInt(writers.count))].append(write)
        }
        for (index, part) in parts.enumerated() where !part.isEmpty { writers[index].enqueue(part) }
    }

    /// Waits up to `timeoutSeconds` for the writers to finish what they were given (at shutdown).
    package func drain(timeoutSeconds: Int) {
        var waited = 0
        while writers.contains(where: { !$0.isIdle }) && waited < timeoutSeconds * 100 {
            usleep(10_000)
            waited += 1
        }
        if waited >= timeoutSeconds * 100 {
            logger.error("MongoDB store: stopping with writes not yet applied (their acknowledgements were never sent)")
        }
    }
}

/// Whether MongoDB answered the last attempt of one kind of work (the store's writes, the
/// cluster bus), logged on each change.
final class MongoStatus: Sendable {
    private let available = Atomic<Bool>(true)
    private let logger: Logger
    private let downText: String
    private let upText: String

    init(
        logger: Logger,
        down: String = "MongoDB unavailable (unreachable, or refusing the broker); store writes wait and are retried with back-off",
        up: String = "MongoDB reachable again; store writes resumed"
    ) {
        self.logger = logger
        downText = down
        upText = up
    }

    var isAvailable: Bool { available.load(ordering: .relaxed) }

    func reachable() {
        if !available.exchange(true, ordering: .relaxed) { logger.notice("\(upText)") }
    }

    func unreachable(_ reason: String) {
        if available.exchange(false, ordering: .relaxed) {
            logger.error("\(downText)", metadata: ["reason": "\(reason)"])
        }
    }
}
