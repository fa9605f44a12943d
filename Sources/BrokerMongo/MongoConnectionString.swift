import CMongoC

/// A MongoDB connection string as libmongoc reads it: checked by the parser the store will
/// connect with, so a URL that `--check` accepts is one libmongoc takes (hosts, ports, options,
/// credentials, `mongodb+srv`). Write concern, read preference, TLS and SCRAM credentials are
/// the URL's options, as every MongoDB user expects.
package struct MongoConnectionString: Sendable, Equatable {
    package let url: String
    /// The database the URL's path names (`mongodb://host/NAME`), nil when it names none.
    /// libmongoc authenticates against it; the aedes broker also kept its data there.
    package let pathDatabase: String?

    /// Throws libmongoc's own description of what is wrong with `url`.
    package init(_ url: String) throws(MongoConnectionStringError) {
        let uri = try Self.parse(url)
        defer { mongoc_uri_destroy(uri) }
        self.url = url
        self.pathDatabase = mongoc_uri_get_database(uri).map { String(cString: $0) }
    }
}

extension MongoConnectionString {
    /// libmongoc's `mongoc_uri_t` for `url` (the caller destroys it), or libmongoc's own
    /// description of what is wrong with it: the one place a URL is parsed.
    static func parse(_ url: String) throws(MongoConnectionStringError) -> OpaquePointer {
        MongoLibrary.initialize()
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(url, &error) else {
            throw MongoConnectionStringError(message: MongoLibrary.message(of: error))
        }
        return uri
    }
}

/// Why libmongoc refused a connection string.
package struct MongoConnectionStringError: Error, Sendable, Equatable, CustomStringConvertible {
    package let message: String
    package var description: String { message }
}

/// libmongoc's process-wide set-up, done once before its first use. Its own log output is
/// off until a store routes it into the broker's log (`MongoLog`): what it would print about a
/// connection string comes back in the error we report (with the setting's path).
package enum MongoLibrary {
    private static let initialized: Void = {
        mongoc_init()
        mongoc_log_set_handler(nil, nil)
    }()

    package static func initialize() {
        _ = initialized
    }

    /// The text of a `bson_error_t` (a fixed C array of 504 bytes, NUL-terminated).
    static func message(of error: bson_error_t) -> String {
        var error = error
        let text = withUnsafeBytes(of: &error.message) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "not a valid MongoDB connection string" : text
    }
}
