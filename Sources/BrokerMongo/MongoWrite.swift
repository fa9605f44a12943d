import CMongoC

/// Single-document writes outside the store writers' batches (cluster bookkeeping, the aedes
/// import, clean-ups at start-up): the one home of the libmongoc call, its error (prefixed with
/// `what`) and the counts of its reply.
enum MongoWrite {
    struct UpdateCounts {
        var matched = 0
        var modified = 0
        var upserted = 0
    }

    @discardableResult
    static func updateOne(
        in collection: OpaquePointer, selector: BSONDocument, update: BSONDocument, upsert: Bool = false, what: String
    ) throws(MongoStoreError) -> UpdateCounts {
        let options = upsert ? BSONDocument().append("upsert", true) : nil
        let reply = BSONReply()
        var error = bson_error_t()
        let ok = withExtendedLifetime((selector, update, options)) {
            mongoc_collection_update_one(collection, selector.pointer, update.pointer, options?.pointer, reply.pointer, &error)
        }
        guard ok else { throw MongoStoreError(message: "\(what): \(MongoLibrary.message(of: error))") }
        var counts = UpdateCounts()
        reply.fields?.forEach { field in
            switch field.key {
            case "matchedCount": counts.matched = Int(field.integer ?? 0)
            case "modifiedCount": counts.modified = Int(field.integer ?? 0)
            case "upsertedCount": counts.upserted = Int(field.integer ?? 0)
            default: break
            }
        }
        return counts
    }

    static func deleteOne(in collection: OpaquePointer, selector: BSONDocument, what: String) throws(MongoStoreError) {
        var error = bson_error_t()
        let ok = withExtendedLifetime(selector) { mongoc_collection_delete_one(collection, selector.pointer, nil, nil, &error) }
        guard ok else { throw MongoStoreError(message: "\(what): \(MongoLibrary.message(of: error))") }
    }

    static func deleteMany(in collection: OpaquePointer, selector: BSONDocument, what: String) throws(MongoStoreError) {
        var error = bson_error_t()
        let ok = withExtendedLifetime(selector) { mongoc_collection_delete_many(collection, selector.pointer, nil, nil, &error) }
        guard ok else { throw MongoStoreError(message: "\(what): \(MongoLibrary.message(of: error))") }
    }
}
