import CMongoC

/// An owned BSON document (libbson's `bson_t`, heap-allocated: it is 128-byte aligned and must
/// never live on the Swift stack), built by appending fields.
final class BSONDocument {
    let pointer: OpaquePointer

    init() {
        pointer = bson_new()
    }

    /// A copy of a document someone else owns (a resume token).
    init(copying document: OpaquePointer) {
        pointer = bson_copy(document)
    }

    deinit {
        bson_destroy(pointer)
    }

    @discardableResult
    func append(_ key: String, _ value: String) -> BSONDocument {
        _ = bson_append_utf8(pointer, key, -1, value, -1)
        return self
    }

    @discardableResult
    func append(_ key: String, int32 value: Int32) -> BSONDocument {
        _ = bson_append_int32(pointer, key, -1, value)
        return self
    }

    @discardableResult
    func append(_ key: String, int64 value: Int64) -> BSONDocument {
        _ = bson_append_int64(pointer, key, -1, value)
        return self
    }

    @discardableResult
    func append(_ key: String, _ value: Bool) -> BSONDocument {
        _ = bson_append_bool(pointer, key, -1, value)
        return self
    }

    /// Milliseconds since the epoch, as a BSON date (what TTL indexes read).
    @discardableResult
    func append(_ key: String, dateMilliseconds value: Int64) -> BSONDocument {
        _ = bson_append_date_time(pointer, key, -1, value)
        return self
    }

    @discardableResult
    func append(_ key: String, strings: [String]) -> BSONDocument {
        let list = BSONDocument()
        for (index, element) in strings.enumerated() { _ = bson_append_utf8(list.pointer, String(index), -1, element, -1) }
        withExtendedLifetime(list) { _ = bson_append_array(pointer, key, -1, list.pointer) }
        return self
    }

    @discardableResult
    func appendNull(_ key: String) -> BSONDocument {
        _ = bson_append_null(pointer, key, -1)
        return self
    }

    @discardableResult
    func append(_ key: String, binary bytes: UnsafeRawBufferPointer) -> BSONDocument {
        if let base = bytes.baseAddress, bytes.count > 0 {
            _ = bson_append_binary(pointer, key, -1, BSON_SUBTYPE_BINARY, base.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count))
        } else {
            var empty: UInt8 = 0
            _ = bson_append_binary(pointer, key, -1, BSON_SUBTYPE_BINARY, &empty, 0)
        }
        return self
    }

    @discardableResult
    func append(_ key: String, document: BSONDocument) -> BSONDocument {
        _ = bson_append_document(pointer, key, -1, document.pointer)
        return self
    }

    /// An array of documents (BSON arrays are documents keyed "0", "1", …).
    @discardableResult
    func append(_ key: String, array: [BSONDocument]) -> BSONDocument {
        let list = BSONDocument()
        for (index, element) in array.enumerated() {
            withExtendedLifetime(element) { _ = bson_append_document(list.pointer, String(index), -1, element.pointer) }
        }
        withExtendedLifetime(list) { _ = bson_append_array(pointer, key, -1, list.pointer) }
        return self
    }

    /// Canonical extended JSON, for logs.
    var json: String {
        guard let text = bson_as_canonical_extended_json(pointer, nil) else { return "?" }
        defer { bson_free(text) }
        return String(cString: text)
    }
}

/// A document libmongoc fills in (a command or bulk-write reply), always initialised by the
/// call that takes it, even on failure.
final class BSONReply {
    let pointer: OpaquePointer = cshim_bson_reply_storage()!

    deinit {
        bson_destroy(pointer)
        bson_free(UnsafeMutableRawPointer(pointer))
    }

    var fields: BSONFields? { BSONFields(pointer) }
}

/// Reads the fields of a BSON document that someone else owns (a cursor's current document, a
/// command reply), one at a time.
final class BSONFields {
    private let iterator: OpaquePointer

    /// Iterates `document`, which must outlive this reader.
    init?(_ document: OpaquePointer) {
        iterator = cshim_bson_iter_new()!
        guard bson_iter_init(iterator, document) else {
            bson_free(UnsafeMutableRawPointer(iterator))
            return nil
        }
    }

    private init(child iterator: OpaquePointer) {
        self.iterator = iterator
    }

    deinit {
        bson_free(UnsafeMutableRawPointer(iterator))
    }

    func next() -> Bool { bson_iter_next(iterator) }

    var key: String { String(cString: bson_iter_key(iterator)) }
    var type: bson_type_t { bson_iter_type(iterator) }

    var string: String? {
        guard type == BSON_TYPE_UTF8 else { return nil }
        var length: UInt32 = 0
        return bson_iter_utf8(iterator, &length).map { String(cString: $0) }
    }

    /// Any numeric field as an integer (int32, int64, double), nil otherwise.
    var integer: Int64? {
        switch type {
        case BSON_TYPE_INT32, BSON_TYPE_INT64, BSON_TYPE_DOUBLE: bson_iter_as_int64(iterator)
        default: nil
        }
    }

    var bool: Bool? { type == BSON_TYPE_BOOL ? bson_iter_bool(iterator) : nil }

    var dateMilliseconds: Int64? { type == BSON_TYPE_DATE_TIME ? bson_iter_date_time(iterator) : nil }

    /// A binary field's bytes (also a string's, for documents written by other programs).
    var bytes: [UInt8]? {
        if type == BSON_TYPE_UTF8, let string { return Array(string.utf8) }
        guard type == BSON_TYPE_BINARY else { return nil }
        var subtype = BSON_SUBTYPE_BINARY
        var length: UInt32 = 0
        var data: UnsafePointer<UInt8>?
        bson_iter_binary(iterator, &subtype, &length, &data)
        guard let data else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: Int(length)))
    }

    /// The fields of a sub-document or array field.
    var children: BSONFields? {
        guard type == BSON_TYPE_DOCUMENT || type == BSON_TYPE_ARRAY else { return nil }
        let child = cshim_bson_iter_new()!
        guard bson_iter_recurse(iterator, child) else {
            bson_free(UnsafeMutableRawPointer(child))
            return nil
        }
        return BSONFields(child: child)
    }

    /// Calls `body` for each field, positioned on it.
    func forEach(_ body: (BSONFields) throws -> Void) rethrows {
        while next() { try body(self) }
    }
}
