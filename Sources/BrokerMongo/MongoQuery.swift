import CMongoC

/// A `find` read to the end: the one cursor loop of the module (the store's loader, the
/// cluster's heartbeats and routes).
enum MongoQuery {
    /// Calls `body` with each document of `collection` in `database` that `filter` selects.
    static func forEach(
        in collection: String, database: String, filter: BSONDocument = BSONDocument(), options: BSONDocument? = nil,
        client: OpaquePointer, _ body: (BSONFields) -> Void
    ) throws(MongoStoreError) {
        let handle = mongoc_client_get_collection(client, database, collection)!
        defer { mongoc_collection_destroy(handle) }
        let cursor = mongoc_collection_find_with_opts(handle, filter.pointer, options?.pointer, nil)!
        defer {
            mongoc_cursor_destroy(cursor)
            // The cursor reads both until it is destroyed.
            withExtendedLifetime((filter, options)) {}
        }
        var document: OpaquePointer?
        while mongoc_cursor_next(cursor, &document) {
            if let document, let fields = BSONFields(document) { body(fields) }
        }
        var error = bson_error_t()
        if mongoc_cursor_error(cursor, &error) {
            throw MongoStoreError(message: "reading \(collection): \(MongoLibrary.message(of: error))")
        }
    }
}
