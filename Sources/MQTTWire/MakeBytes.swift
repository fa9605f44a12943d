/// Builds an array of exactly `count` bytes with a writer that reports how much it wrote,
/// so the convenience encoders allocate once and never zero-fill.
func makeBytes(count: Int, _ write: (UnsafeMutableRawPointer) -> Int) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        let written = write(UnsafeMutableRawPointer(buffer.baseAddress!))
        precondition(written == count, "encoder wrote \(written) bytes, sized \(count)")
        initialized = written
    }
}

/// Views into one scratch array holding copies of several owned byte arrays, so an encoder
/// that takes `ByteView`s can be called with arrays without nesting `withUnsafeBytes`.
func withViews<R>(of fields: [[UInt8]], _ body: ([ByteView]) -> R) -> R {
    let scratch = fields.flatMap { $0 }
    return scratch.withUnsafeBytes { buffer in
        var views: [ByteView] = []
        views.reserveCapacity(fields.count)
        var offset = 0
        for field in fields {
            views.append(field.isEmpty ? .empty : ByteView(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + field.count])))
            offset += field.count
        }
        return body(views)
    }
}
