import CMongoC

/// `findAndModify` with remove: the document `query` selects, deleted and returned in one atomic
/// step, so among several nodes asking for the same document exactly one gets it.
enum MongoFindAndDelete {
    /// Calls `body` with the deleted document's fields; false when nothing matched.
    static func one(
        in collection: OpaquePointer, matching query: BSONDocument, _ body: (BSONFields) -> Void = { _ in }
    ) throws(MongoStoreError) -> Bool {
        let options = mongoc_find_and_modify_opts_new()!
        defer { mongoc_find_and_modify_opts_destroy(options) }
        _ = mongoc_find_and_modify_opts_set_flags(options, MONGOC_FIND_AND_MODIFY_REMOVE)
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
