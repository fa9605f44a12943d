import BrokerCore
import CMongoC
import Logging
import MQTTWire

/// Moving from the aedes broker: on the first start against a database that holds
/// aedes-persistence-mongodb's `retained` (`{topic, payload, qos, …}`) and `subscriptions`
/// (`{clientId, topic, qos}`) collections, their retained messages and persistent
/// subscriptions are copied into the broker's own collections once. A marker document in
/// `broker_meta` records that it happened (with the counts), so a later start never imports
/// again and never overwrites what the broker has written since.
extension MongoStore {
    static let metaCollection = "broker_meta"
    static let importMarker = "aedes_import"

    func importFromAedesOnce() throws(MongoStoreError) {
        try withClient { (client) throws(MongoStoreError) in try importFromAedesOnce(client: client) }
    }

    private func importFromAedesOnce(client: OpaquePointer) throws(MongoStoreError) {
        var imported = false
        try forEachDocument(
            named: Self.metaCollection, options: nil, client: client,
            filter: BSONDocument().append("_id", Self.importMarker)
        ) { _ in imported = true }
        guard !imported else { return }

        var retained: [Message] = []
        try forEachDocument(named: "retained", client: client) { fields in
            if let message = MongoDocuments.message(from: fields, retain: true), !message.payload.isEmpty,
               !TopicName.isSystemTopic(message.topic) {
                retained.append(message)
            }
        }
        var subscriptions: [String: [StoredSubscription]] = [:]
        try forEachDocument(named: "subscriptions", client: client) { fields in
            var clientId: String?
            var filter: String?
            var qos: QoS?
            fields.forEach { field in
                switch field.key {
                case "clientId": clientId = field.string
                case "topic": filter = field.string
                case "qos": qos = field.qos
                default: break
                }
            }
            guard let clientId, let filter, let qos, TopicFilter(filter, maxLevels: Int.max) != nil else { return }
            subscriptions[clientId, default: []].append(StoredSubscription(filter: filter, qos: qos))
        }

        // Only where the broker has nothing of its own for the topic or client ($setOnInsert).
        for message in retained {
            let fields = BSONDocument().append("message", document: MongoDocuments.messageDocument(message))
            try upsertIfAbsent(named: MongoCollection.retained.rawValue, id: message.topic, fields: fields, client: client)
        }
        for (clientId, list) in subscriptions {
            let fields = BSONDocument()
                .append("subscriptions", array: MongoDocuments.subscriptionDocuments(list))
                .append("connected", false)
            try upsertIfAbsent(named: MongoCollection.sessions.rawValue, id: clientId, fields: fields, client: client)
        }
        let marker = BSONDocument()
            .append("retained", int64: Int64(retained.count))
            .append("sessions", int64: Int64(subscriptions.count))
            .append("subscriptions", int64: Int64(subscriptions.values.reduce(0) { $0 + $1.count }))
        try upsertIfAbsent(named: Self.metaCollection, id: Self.importMarker, fields: marker, client: client)
        if !retained.isEmpty || !subscriptions.isEmpty {
            logger.notice("imported the aedes broker's data from MongoDB (once)", metadata: [
                "retained": "\(retained.count)", "sessions": "\(subscriptions.count)",
                "subscriptions": "\(subscriptions.values.reduce(0) { $0 + $1.count })",
            ])
        }
    }

    private func upsertIfAbsent(named collection: String, id: String, fields: BSONDocument, client: OpaquePointer) throws(MongoStoreError) {
        let handle = mongoc_client_get_collection(client, settings.database, collection)!
        defer { mongoc_collection_destroy(handle) }
        let selector = BSONDocument().append("_id", id)
        let update = BSONDocument().append("$setOnInsert", document: fields)
        try MongoWrite.updateOne(in: handle, selector: selector, update: update, upsert: true, what: "importing into \(collection)")
    }
}
