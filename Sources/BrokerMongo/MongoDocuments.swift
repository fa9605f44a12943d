import BrokerCore
import MQTTWire

/// The collections the broker keeps in MongoDB and the shape of their documents (written down in
/// ARCHITECTURE.md). Prefixed `broker_` so that they sit beside the aedes broker's own
/// collections (`retained`, `subscriptions`, …) in the same database without clashing.
enum MongoCollection: String, CaseIterable {
    /// `{_id: clientId, subscriptions: [{filter, qos}], inbound_qos2: [packetId], connected,
    /// last_seen: Date, expires_at: Date|null, expiry_interval?, node?}`
    case sessions = "broker_sessions"
    /// `{client, seq, qos, retain, packet_id, stage: queued|sent|released, stored_at: Date,
    /// message: {topic, payload: Binary, qos, properties?}, shared_group?, sid?}`; unique on (client, seq). `message` takes the
    /// MQTT 5 properties later without a migration.
    case queue = "broker_queue"
    /// `{_id: topic, message: {topic, payload: Binary, qos}, stored_at: Date}`
    case retained = "broker_retained"
    /// `{_id: clientId, will_id, retain, message: {topic, payload, qos}, stored_at: Date, node?}`:
    /// the wills of connected clients.
    case wills = "broker_wills"
    /// Cluster: `{_id: node, epoch, beat: Date}`, one heartbeat per live node.
    case clusterNodes = "cluster_nodes"
    /// Cluster: `{_id: {n: node, f: filter}}`, the filters each node subscribes to.
    case clusterRoutes = "cluster_routes"
    /// Cluster: the bus, `{_id, o: origin, e: epoch, to: [{n: node, s: sequence}], t: topic,
    /// p: payload, q: qos, r: retain, at: Date}`, removed by a TTL index.
    case clusterBus = "cluster_bus"
    /// Cluster: `{_id: clientId, node, epoch, gen}`, the node that last accepted the client id.
    case clusterClients = "cluster_clients"
}

/// One MongoDB write that a `StoreOperation` turns into. `write` is the index of the store write
/// in its batch, whose ticket settles once all of its operations are done.
struct MongoOperation {
    enum Kind {
        /// A new document with a unique key: a duplicate-key refusal means a retried batch
        /// already inserted it, and counts as done.
        case insert(BSONDocument)
        case upsert(selector: BSONDocument, update: BSONDocument)
        case update(selector: BSONDocument, update: BSONDocument)
        case deleteOne(BSONDocument)
        case deleteMany(BSONDocument)
    }
    let collection: MongoCollection
    let kind: Kind
    let write: Int
}

enum MongoDocuments {
    /// The MongoDB writes for one store operation, in the order they must be applied. In a
    /// cluster, sessions and wills name the `node` that owns them (its survivors claim them when
    /// it dies).
    static func operations(
        for operation: StoreOperation, write: Int, nowMilliseconds: Int64, sessionExpirySeconds: Int, node: String? = nil
    ) -> [MongoOperation] {
        switch operation {
        case .saveSession(let clientId, let subscriptions, let connected, let lastSeen, let expiryInterval):
            let lastSeenMilliseconds = Int64(lastSeen) * 1000
            let fields = BSONDocument()
                .append("subscriptions", array: subscriptionDocuments(subscriptions))
                .append("connected", connected)
                .append("last_seen", dateMilliseconds: lastSeenMilliseconds)
            if let node { fields.append("node", node) }
            // MQTT 5: the client's own interval (already capped); 0xFFFFFFFF never expires.
            if let expiryInterval { fields.append("expiry_interval", int64: Int64(expiryInterval)) }
            let expirySeconds = expiryInterval.map { $0 == UInt32.max ? 0 : Int($0) } ?? sessionExpirySeconds
            // A backstop for sessions nobody expires (the broker stayed down): MongoDB's TTL
            // monitor removes them. The broker's own sweep is what expires sessions on time.
            if !connected && expirySeconds > 0 {
                fields.append("expires_at", dateMilliseconds: lastSeenMilliseconds + Int64(expirySeconds) * 1000)
            } else {
                fields.appendNull("expires_at")
            }
            return [MongoOperation(
                collection: .sessions,
                kind: .upsert(selector: BSONDocument().append("_id", clientId), update: BSONDocument().append("$set", document: fields)),
                write: write)]
        case .deleteSession(let clientId):
            // The queue first: a crash between the two leaves a session without entries, never
            // entries without a session (which a later session's sequence numbers would meet).
            return [
                MongoOperation(collection: .queue, kind: .deleteMany(BSONDocument().append("client", clientId)), write: write),
                MongoOperation(collection: .sessions, kind: .deleteOne(BSONDocument().append("_id", clientId)), write: write),
            ]
        case .addInboundQoS2(let clientId, let packetId):
            let update = BSONDocument().append("$addToSet", document: BSONDocument().append("inbound_qos2", int32: Int32(packetId)))
            return [MongoOperation(
                collection: .sessions, kind: .upsert(selector: BSONDocument().append("_id", clientId), update: update), write: write)]
        case .removeInboundQoS2(let clientId, let packetId):
            let update = BSONDocument().append("$pull", document: BSONDocument().append("inbound_qos2", int32: Int32(packetId)))
            return [MongoOperation(
                collection: .sessions, kind: .update(selector: BSONDocument().append("_id", clientId), update: update), write: write)]
        case .enqueue(let clientId, let entry):
            // An insert, not an upsert: MongoDB need not look the entry up first (a queue entry
            // is written once; `(client, seq)` is unique).
            let document = BSONDocument()
                .append("client", clientId)
                .append("seq", int64: Int64(entry.sequence))
                .append("qos", int32: Int32(entry.qos.rawValue))
                .append("retain", entry.retain)
                .append("packet_id", int32: Int32(entry.packetId))
                .append("stage", entry.stage.rawValue)
                .append("stored_at", dateMilliseconds: nowMilliseconds)
                .append("message", document: messageDocument(entry.message))
            if let group = entry.sharedGroup { _ = document.append("shared_group", group) }
            if entry.subscriptionIdentifier != 0 { _ = document.append("sid", int64: Int64(entry.subscriptionIdentifier)) }
            return [MongoOperation(collection: .queue, kind: .insert(document), write: write)]
        case .updateStage(let clientId, let sequence, let packetId, let stage):
            let fields = BSONDocument().append("packet_id", int32: Int32(packetId)).append("stage", stage.rawValue)
            return [MongoOperation(
                collection: .queue,
                kind: .update(selector: queueKey(clientId, sequence), update: BSONDocument().append("$set", document: fields)),
                write: write)]
        case .dequeue(let clientId, let sequence):
            return dequeue(clientId, sequences: [sequence], write: write)
        case .saveWill(let will):
            let fields = BSONDocument()
                .append("will_id", int64: Int64(bitPattern: will.willId))
                .append("retain", will.message.retain)
                .append("message", document: messageDocument(will.message))
                .append("stored_at", dateMilliseconds: nowMilliseconds)
            if let node { fields.append("node", node) }
            return [MongoOperation(
                collection: .wills,
                kind: .upsert(selector: BSONDocument().append("_id", will.clientId), update: BSONDocument().append("$set", document: fields)),
                write: write)]
        case .deleteWill(let clientId, let willId):
            let selector = BSONDocument().append("_id", clientId).append("will_id", int64: Int64(bitPattern: willId))
            return [MongoOperation(collection: .wills, kind: .deleteOne(selector), write: write)]
        case .retain(let message):
            let selector = BSONDocument().append("_id", message.topic)
            guard !message.payload.isEmpty else {
                return [MongoOperation(collection: .retained, kind: .deleteOne(selector), write: write)]
            }
            let fields = BSONDocument()
                .append("message", document: messageDocument(message))
                .append("stored_at", dateMilliseconds: nowMilliseconds)
            return [MongoOperation(
                collection: .retained, kind: .upsert(selector: selector, update: BSONDocument().append("$set", document: fields)),
                write: write)]
        }
    }

    /// Completed queue entries of one client: one range delete per run of consecutive sequence
    /// numbers (completions mostly come in order), a single delete for the rest. A range uses
    /// the `(client, seq)` index on any server; `$in` made secantusdb scan (2 s for 1,000).
    static func dequeue(_ clientId: String, sequences: [UInt64], write: Int) -> [MongoOperation] {
        var operations: [MongoOperation] = []
        let sorted = sequences.sorted()
        var start = 0
        while start < sorted.count {
            var end = start
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            if end == start {
                operations.append(MongoOperation(collection: .queue, kind: .deleteOne(queueKey(clientId, sorted[start])), write: write))
            } else {
                let range = BSONDocument().append("$gte", int64: Int64(sorted[start])).append("$lte", int64: Int64(sorted[end]))
                let selector = BSONDocument().append("client", clientId).append("seq", document: range)
                operations.append(MongoOperation(collection: .queue, kind: .deleteMany(selector), write: write))
            }
            start = end + 1
        }
        return operations
    }

    /// A session's `subscriptions` array: `[{filter, qos}]`.
    /// MQTT 5 options are kept as `options` (the options byte) and `sid` (the identifier), only
    /// when set.
    static func subscriptionDocuments(_ subscriptions: [StoredSubscription]) -> [BSONDocument] {
        subscriptions.map { subscription in
            let document = BSONDocument().append("filter", subscription.filter).append("qos", int32: Int32(subscription.qos.rawValue))
            let options = subscription.options
            if options.byte != options.qos.rawValue { document.append("options", int32: Int32(options.byte)) }
            if options.identifier != 0 { document.append("sid", int64: Int64(options.identifier)) }
            return document
        }
    }

    private static func queueKey(_ clientId: String, _ sequence: UInt64) -> BSONDocument {
        BSONDocument().append("client", clientId).append("seq", int64: Int64(sequence))
    }

    /// `{topic, payload, qos, properties?}`: `properties` are the MQTT 5 properties forwarded
    /// with the message, encoded as on the wire.
    static func messageDocument(_ message: Message) -> BSONDocument {
        let document = BSONDocument()
            .append("topic", message.topic)
            .append("payload", binary: message.payload)
            .append("qos", int32: Int32(message.qos.rawValue))
        if !message.properties.isEmpty { message.properties.withUnsafeBytes { _ = document.append("properties", binary: $0) } }
        return document
    }

    // MARK: - Reading back

    /// A `message` sub-document (or, for the aedes broker's documents, the packet's own fields).
    static func message(from fields: BSONFields, retain: Bool) -> Message? {
        messageParts(from: fields).map {
            Message(topic: $0.topic, payload: $0.payload, qos: $0.qos, retain: retain, properties: $0.properties)
        }
    }

    /// Topic, payload, QoS and MQTT 5 properties of a message document, read before its RETAIN
    /// flag may be known.
    private static func messageParts(from fields: BSONFields) -> (topic: String, payload: [UInt8], qos: QoS, properties: [UInt8])? {
        var topic: String?
        var payload: [UInt8] = []
        var qos = QoS.atMostOnce
        var properties: [UInt8] = []
        fields.forEach { field in
            switch field.key {
            case "topic": topic = field.string
            case "payload": payload = field.bytes ?? []
            case "qos": qos = field.qos ?? .atMostOnce
            case "properties": properties = field.bytes ?? []
            default: break
            }
        }
        return topic.map { ($0, payload, qos, properties) }
    }

    /// A `broker_sessions` document.
    static func session(from fields: BSONFields, nowSeconds: Int) -> StoredSession? {
        var clientId: String?
        var subscriptions: [StoredSubscription] = []
        var inbound: [UInt16] = []
        var connected = false
        var lastSeen = nowSeconds
        var expiryInterval: UInt32?
        fields.forEach { field in
            switch field.key {
            case "_id": clientId = field.string
            case "subscriptions":
                field.children?.forEach { element in
                    guard let subscription = element.children else { return }
                    var filter: String?
                    var qos = QoS.atMostOnce
                    var optionsByte: UInt8?
                    var identifier: UInt32 = 0
                    subscription.forEach { part in
                        if part.key == "filter" { filter = part.string }
                        if part.key == "qos" { qos = part.qos ?? .atMostOnce }
                        if part.key == "options" { optionsByte = part.integer.map { UInt8(clamping: $0) } }
                        if part.key == "sid" { identifier = part.integer.map { UInt32(clamping: $0) } ?? 0 }
                    }
                    var options = optionsByte.flatMap(SubscriptionOptions.init(byte:)) ?? SubscriptionOptions(qos: qos)
                    options.identifier = identifier
                    if let filter { subscriptions.append(StoredSubscription(filter: filter, options: options)) }
                }
            case "inbound_qos2":
                field.children?.forEach { element in
                    if let id = element.integer, let packetId = UInt16(exactly: id) { inbound.append(packetId) }
                }
            case "connected": connected = field.bool ?? false
            case "last_seen": lastSeen = field.dateMilliseconds.map { Int($0 / 1000) } ?? nowSeconds
            case "expiry_interval": expiryInterval = field.integer.map { UInt32(clamping: $0) }
            default: break
            }
        }
        guard let clientId else { return nil }
        // A session that was connected when the broker stopped counts as offline from now.
        var session = StoredSession(
            clientId: clientId, subscriptions: subscriptions, inboundQoS2: inbound, lastSeen: connected ? nowSeconds : lastSeen,
            entries: [])
        session.expiryInterval = expiryInterval
        return session
    }

    /// A `broker_wills` document.
    static func will(from fields: BSONFields) -> StoredWill? {
        var clientId: String?
        var willId: UInt64?
        var retain = false
        var parts: (topic: String, payload: [UInt8], qos: QoS, properties: [UInt8])?
        fields.forEach { field in
            switch field.key {
            case "_id": clientId = field.string
            case "will_id": willId = field.integer.map { UInt64(bitPattern: $0) }
            case "retain": retain = field.bool ?? false
            case "message": parts = field.children.flatMap { Self.messageParts(from: $0) }
            default: break
            }
        }
        guard let clientId, let willId, let parts else { return nil }
        let message = Message(topic: parts.topic, payload: parts.payload, qos: parts.qos, retain: retain, properties: parts.properties)
        return StoredWill(clientId: clientId, willId: willId, message: message)
    }

    /// A `broker_queue` document and the client it belongs to.
    static func queueEntry(from fields: BSONFields) -> (clientId: String, entry: StoredQueueEntry)? {
        var clientId: String?
        var sequence: UInt64?
        var qos = QoS.atLeastOnce
        var retain = false
        var packetId: UInt16 = 0
        var stage = StoredQueueEntry.Stage.queued
        var message: Message?
        var sharedGroup: String?
        var identifier: UInt32 = 0
        fields.forEach { field in
            switch field.key {
            case "client": clientId = field.string
            case "sid": identifier = field.integer.map { UInt32(clamping: $0) } ?? 0
            case "shared_group": sharedGroup = field.string
            case "seq": sequence = field.integer.flatMap { UInt64(exactly: $0) }
            case "qos": qos = field.qos ?? .atLeastOnce
            case "retain": retain = field.bool ?? false
            case "packet_id": packetId = field.integer.flatMap { UInt16(exactly: $0) } ?? 0
            case "stage": stage = field.string.flatMap { StoredQueueEntry.Stage(rawValue: $0) } ?? .queued
            case "message": message = field.children.flatMap { Self.message(from: $0, retain: false) }
            default: break
            }
        }
        guard let clientId, let sequence, let message, qos != .atMostOnce else { return nil }
        if stage != .queued && packetId == 0 { stage = .queued }
        return (clientId, StoredQueueEntry(
            sequence: sequence, message: message, qos: qos, retain: retain, packetId: packetId, stage: stage,
            sharedGroup: sharedGroup, subscriptionIdentifier: identifier))
    }
}

extension BSONFields {
    /// A numeric field as a QoS (nil when it is not 0, 1 or 2).
    var qos: QoS? { integer.flatMap { QoS(rawValue: UInt8(clamping: $0)) } }
}
