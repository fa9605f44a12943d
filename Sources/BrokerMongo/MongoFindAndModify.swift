import CMongoC

/// `findAndModify`: one document found and changed (or deleted) in one atomic step, so among
/// several nodes asking for the same document exactly one gets it as it was.
enum MongoFindAndModify {
    /// Deletes the document `query` selects and calls `body` with it; false when none matched.
    static func delete(
        in collection: OpaquePointer, matching query: BSONDocument, _ body: (BSONFields) -> Void = { _ in }
    ) throws(MongoStoreError) -> Bool {
        try run(in: collection, matching: query, update: nil, body)
    }

    /// Applies `update` to the document `query` selects (never inserting) and calls `body` with
    /// the document as it was before; false when none matched.
    static func update(
        in collection: OpaquePointer, matching query: BSONDocument, with update: BSONDocument, _ body: (BSONFields) -> Void
    ) throws(MongoStoreError) -> Bool {
        try run(in: collection, matching: query, update: update, body)
    }

    private static func run(
        in collection: OpaquePointer, matching query: BSONDocument, update: BSONDocument?, _ body: (BSONFields) -> Void
    ) throws(MongoStoreError) -> Bool {
        let options = mongoc_find_and_modify_opts_new()!
        defer { mongoc_find_and_modify_opts_destroy(options) }
        if let update {
            _ = withExtendedLifetime(update) { mongoc_find_and_modify_opts_set_update(options, update.pointer) }
        } else {
            _ = mongoc_find_and_modify_opts_set_flags(options, MONGOC_FIND_AND_MODIFY_REMOVE)
        }
        let reply = BSONReply()
        var error = bson_error_t()
        let ok = withExtendedLifetime(query) {
            mongoc_collection_find_and_modify_with_opts(collection, query.pointer, options, reply.pointer, &error)
        }
        guard ok else { throw MongoStoreError(message: "findAndModify: \(MongoLibrary.message(of: error))") }
        var found = false
        reply.fields?.forEach { field in
            if field.key == "value", let document = field.children {
                found = true
                body(document)
            }
        }
        return found
    }
}
