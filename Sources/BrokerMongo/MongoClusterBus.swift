import BrokerCore
import CMongoC
import Glibc
import Logging
import MQTTWire
import Synchronization

/// The cluster bus on MongoDB: one writer thread inserts what this node sends into
/// `cluster_bus` as ordered bulk inserts (one batch in flight), one reader thread follows a
/// change stream of the inserts addressed to this node. A publish is one document however many
/// nodes it goes to (`to` lists them, each with its own sequence number); a TTL index on `at`
/// removes documents after `retentionSeconds`.
///
/// Why not the capped collection the aedes broker tailed: on the MongoDB servers this broker is
/// tested with, an insert into a capped collection scanned the whole collection (8 inserts/s at
/// 15,000 documents) while a change stream on an ordinary collection carried 6,500/s with a
/// 2 ms median; a change stream also filters on the server, so a node reads only what is
/// addressed to it. It needs a replica set (a single-node one will do), as transactions do.
package final class MongoClusterBus: ClusterBus, @unchecked Sendable {
    private let pool: OpaquePointer
    private let database: String
    private let node: String
    private let epoch: Int64
    private let logger: Logger
    private struct Outgoing {
        let payload: BusPayload
        let nodes: [String]
        let completion: (@Sendable (Bool) -> Void)?
    }
    private let queue = Mutex<[Outgoing]>([])
    private let queued = Atomic<Int>(0)
    private let writeStatus: MongoStatus
    private let readStatus: MongoStatus
    private let wakeup = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    /// Writer thread only: the next number per destination, and per document.
    private var nextSequence: [String: Int64] = [:]
    private var documentNumber: Int64 = 0

    package init(pool: OpaquePointer, database: String, node: String, epoch: Int64, logger: Logger) {
        self.pool = pool
        self.database = database
        self.node = node
        self.epoch = epoch
        self.logger = logger
        writeStatus = MongoStatus(
            logger: logger, down: "cluster bus: MongoDB unavailable; messages for other nodes wait and are retried with back-off",
            up: "cluster bus: writing again")
        readStatus = MongoStatus(
            logger: logger, down: "cluster bus: cannot read messages from other nodes; retrying with back-off",
            up: "cluster bus: reading again")
        sem_init(wakeup, 0, 0)
    }

    package var pending: Int { queued.load(ordering: .relaxed) }
    package var droppedCount: Int { dropped.load(ordering: .relaxed) }
    private let dropped = Atomic<Int>(0)
    /// Messages nobody waits for may queue up to this many before new ones are dropped.
    static let maxUnwaitedBacklog = 2_000
    package var isAvailable: Bool { writeStatus.isAvailable && readStatus.isAvailable }

    package func send(_ payload: BusPayload, to nodes: [String], completion: (@Sendable (Bool) -> Void)?) {
        guard !nodes.isEmpty else {
            completion?(true)
            return
        }
        // What nobody waits for (QoS 0, or `relaxed` durability) is dropped, and counted, once
        // the bus is this far behind: the publishers it would hold are not waiting for it, and
        // the queue would otherwise grow without bound. What a publisher waits for always queues
        // (its held acknowledgements slow it down).
        if completion == nil, case .publish = payload, queued.load(ordering: .relaxed) >= Self.maxUnwaitedBacklog {
            if dropped.wrappingAdd(1, ordering: .relaxed).oldValue == 0 {
                logger.warning("cluster bus: messages for other nodes dropped: MongoDB takes them slower than they come (counted in $SYS/broker/cluster/bus/dropped)")
            }
            return
        }
        let wasEmpty = queue.withLock { queue in
            queue.append(Outgoing(payload: payload, nodes: nodes, completion: completion))
            return queue.count == 1
        }
        queued.wrappingAdd(1, ordering: .relaxed)
        if wasEmpty { sem_post(wakeup) }
    }

    package func start(receive: @escaping @Sendable (BusDelivery) -> Void) {
        // The reader's stream is open before this returns: nothing sent to this node after
        // start-up is missed.
        let client = mongoc_client_pool_pop(pool)!
        let reader = Handover(value: (client, openStream(client: client, after: nil)))
        startDetachedThread { self.read(client: reader.value.0, stream: reader.value.1, receive: receive) }
        startDetachedThread { self.write() }
    }

    // MARK: - Writing

    private func write() {
        let client = mongoc_client_pool_pop(pool)!
        let collection = mongoc_client_get_collection(client, database, MongoCollection.clusterBus.rawValue)!
        while true {
            sem_wait(wakeup)
            let batch = queue.withLock { queue in
                let taken = queue
                queue.removeAll(keepingCapacity: true)
                return taken
            }
            guard !batch.isEmpty else { continue }
            // Consecutive publishes for the same nodes share one document (the server's cost
            // is mostly per document); a takeover or release is a document of its own, in turn.
            var groups: [Range<Int>] = []
            var start = 0
            while start < batch.count {
                var end = start + 1
                var bytes = Self.size(of: batch[start].payload)
                if case .publish = batch[start].payload {
                    while end < batch.count, end - start < Self.maxMessagesPerDocument, case .publish = batch[end].payload,
                          batch[end].nodes == batch[start].nodes, bytes + Self.size(of: batch[end].payload) <= Self.maxDocumentBytes {
                        bytes += Self.size(of: batch[end].payload)
                        end += 1
                    }
                }
                groups.append(start..<end)
                start = end
            }
            var first = 0
            while first < groups.count {
                let last = min(groups.count, first + 1000)
                let documents = groups[first..<last].map { document(for: batch[$0]) }
                let written = insert(documents, into: collection)
                for (offset, group) in groups[first..<last].enumerated() {
                    for outgoing in batch[group] { outgoing.completion?(written[offset]) }
                    queued.wrappingSubtract(group.count, ordering: .relaxed)
                }
                first = last
            }
        }
    }

    /// Publishes per document, and payload bytes per document (well under MongoDB's 16 MiB).
    static let maxMessagesPerDocument = 500
    static let maxDocumentBytes = 4 << 20

    private static func size(of payload: BusPayload) -> Int {
        if case .publish(let message, _) = payload { message.payload.count + message.topic.utf8.count + 32 } else { 64 }
    }

    /// The document for consecutive payloads to the same nodes, numbered for each destination
    /// (writer thread): publishes in `m`, or one takeover/release.
    private func document(for outgoing: ArraySlice<Outgoing>) -> BSONDocument {
        documentNumber += 1
        let destinations = outgoing.first!.nodes.map { destination -> BSONDocument in
            let sequence = nextSequence[destination, default: 0] + 1
            nextSequence[destination] = sequence
            return BSONDocument().append("n", destination).append("s", int64: sequence)
        }
        let document = BSONDocument()
            .append("_id", "\(node)/\(epoch)/\(documentNumber)")
            .append("o", node).append("e", int64: epoch)
            .append("to", array: destinations)
            .append("at", dateMilliseconds: Self.nowMilliseconds())
        var messages: [BSONDocument] = []
        for item in outgoing {
            switch item.payload {
            case .publish(let message, let group):
                let entry = BSONDocument().append("t", message.topic)
                    .append("p", binary: message.payload)
                    .append("q", int32: Int32(message.qos.rawValue))
                    .append("r", message.retain)
                if let group { entry.append("g", group) }
                // MQTT 5 properties (forwarded unchanged); the expiry travels as the time left (ms).
                if !message.properties.isEmpty { message.properties.withUnsafeBytes { _ = entry.append("x", binary: $0) } }
                if message.expiresAt != 0 {
                    let now = Message.monotonicMilliseconds
                    entry.append("e", int64: Int64(message.expiresAt > now ? message.expiresAt - now : 1))
                }
                messages.append(entry)
            case .takeover(let clientId, let keepSession):
                document.append("k", "takeover").append("c", clientId).append("keep", keepSession)
            case .released(let clientId):
                document.append("k", "released").append("c", clientId)
            }
        }
        if !messages.isEmpty { document.append("m", array: messages) }
        return document
    }

    /// Inserts `documents` in order, retrying with back-off while MongoDB cannot be reached.
    /// Returns, per document, whether it is on the bus (a document MongoDB refuses for good is
    /// not, and the ones after it are still tried).
    private func insert(_ documents: [BSONDocument], into collection: OpaquePointer) -> [Bool] {
        var written = Array(repeating: false, count: documents.count)
        var start = 0
        var retrying = false
        var backoff = Backoff(first: 100_000)
        while start < documents.count {
            let ordered = BSONDocument().append("ordered", true)
            let bulk = withExtendedLifetime(ordered) { mongoc_collection_create_bulk_operation_with_opts(collection, ordered.pointer)! }
            var error = bson_error_t()
            for document in documents[start...] { _ = mongoc_bulk_operation_insert_with_opts(bulk, document.pointer, nil, &error) }
            let reply = BSONReply()
            let ok = mongoc_bulk_operation_execute(bulk, reply.pointer, &error) != 0
            mongoc_bulk_operation_destroy(bulk)
            if ok {
                for index in start..<documents.count { written[index] = true }
                writeStatus.reachable()
                return written
            }
            if let (index, code) = MongoReplies.firstWriteError(reply) {
                writeStatus.reachable()
                // Before `index` all went in. A retried batch meeting its own earlier insert:
                // that one went in too.
                for offset in 0..<index { written[start + offset] = true }
                if code == 11000 && retrying { written[start + index] = true } else {
                    logger.error("cluster bus refused a message", metadata: ["reason": "\(MongoLibrary.message(of: error))"])
                }
                start += index + 1
                continue
            }
            retrying = true
            writeStatus.unreachable(MongoLibrary.message(of: error))
            backoff.wait()
        }
        return written
    }

    // MARK: - Reading

    private func openStream(client: OpaquePointer, after token: BSONDocument?) -> MongoChangeStream {
        let match = BSONDocument().append("operationType", "insert").append("fullDocument.to.n", node)
        return MongoChangeStream(
            client: client, database: database, collection: MongoCollection.clusterBus.rawValue, match: match,
            resumeAfter: token, maxAwaitMilliseconds: 500)
    }

    private func read(client: OpaquePointer, stream first: MongoChangeStream, receive: @Sendable (BusDelivery) -> Void) {
        var stream = first
        var token: BSONDocument?
        var backoff = Backoff(first: 100_000)
        while true {
            do {
                while let event = try stream.next() {
                    readStatus.reachable()
                    backoff.reset()
                    event.forEach { field in
                        if field.key == "fullDocument", let document = field.children,
                           let delivery = Self.delivery(from: document, for: node) {
                            receive(delivery)
                        }
                    }
                    token = stream.resumeToken
                }
                readStatus.reachable()
            } catch {
                readStatus.unreachable(error.message)
                if stream.lostPosition {
                    // What was written meanwhile is gone for this node: the sequence numbers
                    // show it as gaps when the next messages arrive.
                    logger.error("cluster bus: position lost, reading from now on")
                    token = nil
                }
                backoff.wait()
                stream = openStream(client: client, after: token)
            }
        }
    }

    /// One bus document as `receiver` gets it (its sequence number for that receiver).
    static func delivery(from document: BSONFields, for receiver: String) -> BusDelivery? {
        var origin: String?, epoch: Int64?, sequence: Int64?, at: Int64 = 0
        var kind: String?, clientId: String?, keep = false, id: String?
        var payloads: [BusPayload] = []
        document.forEach { field in
            switch field.key {
            case "_id": id = field.string
            case "o": origin = field.string
            case "e": epoch = field.integer
            case "at": at = field.dateMilliseconds ?? 0
            case "k": kind = field.string
            case "c": clientId = field.string
            case "keep": keep = field.bool ?? false
            case "m":
                field.children?.forEach { element in
                    if let entry = element.children, let publish = publish(from: entry) { payloads.append(publish) }
                }
            case "to":
                field.children?.forEach { element in
                    var name: String?, number: Int64?
                    element.children?.forEach { part in
                        if part.key == "n" { name = part.string }
                        if part.key == "s" { number = part.integer }
                    }
                    if name == receiver { sequence = number }
                }
            default: break
            }
        }
        guard let origin, let epoch, let sequence else { return nil }
        switch (kind, clientId) {
        case ("takeover", let clientId?): payloads = [.takeover(clientId: clientId, keepSession: keep)]
        case ("released", let clientId?): payloads = [.released(clientId: clientId)]
        case (nil, _): break
        default: return nil
        }
        return BusDelivery(
            origin: origin, epoch: epoch, sequence: sequence, payloads: payloads, writtenAtMilliseconds: at, documentId: id)
    }

    private static func publish(from entry: BSONFields) -> BusPayload? {
        var topic: String?, payload: [UInt8]?, qos = QoS.atMostOnce, retain = false, group: String?, properties: [UInt8] = []
        var expiresAt: UInt64 = 0
        entry.forEach { field in
            switch field.key {
            case "t": topic = field.string
            case "p": payload = field.bytes
            case "q": qos = field.integer.flatMap { QoS(rawValue: UInt8(clamping: $0)) } ?? .atMostOnce
            case "r": retain = field.bool ?? false
            case "g": group = field.string
            case "x": properties = field.bytes ?? []
            case "e": expiresAt = Message.monotonicMilliseconds + UInt64(max(1, field.integer ?? 1))
            default: break
            }
        }
        guard let topic, let payload else { return nil }
        return .publish(
            Message(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties, expiresAt: expiresAt),
            group: group)
    }

    static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
