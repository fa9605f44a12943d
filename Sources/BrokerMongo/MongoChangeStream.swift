import CMongoC

/// One change stream on a collection (libmongoc's `mongoc_change_stream_t`), read by one thread.
/// libmongoc resumes it by itself after one resumable error; what it cannot resume is thrown,
/// and the owner opens a new stream from `resumeToken` (or from now, when the token is lost).
final class MongoChangeStream {
    private let collection: OpaquePointer
    private let stream: OpaquePointer
    /// The server no longer has the position `resumeAfter` named (ChangeStreamHistoryLost, or a
    /// token it cannot read): only a stream from now, and a full reload, can follow.
    private(set) var lostPosition = false

    /// Opens a stream of the events `match` selects (a `$match` stage; nil: every event),
    /// after `resumeAfter` when given. Each `next` waits up to `maxAwaitMilliseconds`.
    init(
        client: OpaquePointer, database: String, collection name: String, match: BSONDocument?, resumeAfter: BSONDocument?,
        maxAwaitMilliseconds: Int32
    ) {
        let collection = mongoc_client_get_collection(client, database, name)!
        self.collection = collection
        let stages = match.map { [BSONDocument().append("$match", document: $0)] } ?? []
        let pipeline = BSONDocument().append("pipeline", array: stages)
        let options = BSONDocument().append("maxAwaitTimeMS", int32: maxAwaitMilliseconds)
        if let resumeAfter { options.append("resumeAfter", document: resumeAfter) }
        stream = withExtendedLifetime((pipeline, options)) {
            mongoc_collection_watch(collection, pipeline.pointer, options.pointer)!
        }
    }

    deinit {
        mongoc_change_stream_destroy(stream)
        mongoc_collection_destroy(collection)
    }

    /// The next event (borrowed: valid until the next call), nil when none came within the
    /// wait; throws what the stream could not get past.
    func next() throws(MongoStoreError) -> BSONFields? {
        var document: OpaquePointer?
        if mongoc_change_stream_next(stream, &document), let document { return BSONFields(document) }
        var error = bson_error_t()
        if mongoc_change_stream_error_document(stream, &error, nil) {
            // 286 ChangeStreamHistoryLost, 280 ChangeStreamFatalError, 9 FailedToParse (a token
            // the server cannot read): the position is gone.
            if [286, 280, 9].contains(error.code) { lostPosition = true }
            throw MongoStoreError(message: "change stream: \(MongoLibrary.message(of: error)) (code \(error.code))")
        }
        return nil
    }

    /// Where the stream is (after the last event returned), to resume from; nil before any.
    var resumeToken: BSONDocument? {
        guard let token = mongoc_change_stream_get_resume_token(stream) else { return nil }
        return BSONDocument(copying: token)
    }
}
