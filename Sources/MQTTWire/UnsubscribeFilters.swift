/// The topic filters of an UNSUBSCRIBE, read lazily from the already-validated packet body so
/// that decoding allocates nothing. Borrows from the receive buffer.
public struct UnsubscribeFilters: Sequence, Equatable {
    /// The encoded filters (length-prefixed, repeated).
    let entries: ByteView
    /// How many filters there are (at least 1 in a decoded packet).
    public let count: Int

    init(entries: ByteView, count: Int) {
        self.entries = entries
        self.count = count
    }

    public var underestimatedCount: Int { count }

    public func makeIterator() -> Iterator {
        Iterator(reader: ByteReader(entries.unsafeBytes))
    }

    /// Walks the filters; the decoder has checked them, so each read succeeds.
    public struct Iterator: IteratorProtocol {
        var reader: ByteReader

        public mutating func next() -> ByteView? {
            reader.readLengthPrefixedBytes()
        }
    }
}
