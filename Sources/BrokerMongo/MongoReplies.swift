/// What libmongoc's replies say, read the same way by every writer.
enum MongoReplies {
    /// `writeErrors[0]` of a bulk-write reply: the operation the server refused, and why.
    static func firstWriteError(_ reply: BSONReply) -> (index: Int, code: Int64)? {
        guard let fields = reply.fields else { return nil }
        var found: (index: Int, code: Int64)?
        fields.forEach { field in
            guard field.key == "writeErrors", found == nil else { return }
            field.children?.forEach { element in
                guard found == nil else { return }
                var index: Int?
                var code: Int64 = 0
                element.children?.forEach { part in
                    if part.key == "index", let value = part.integer { index = Int(value) }
                    if part.key == "code", let value = part.integer { code = value }
                }
                if let index { found = (index, code) }
            }
        }
        return found
    }
}
