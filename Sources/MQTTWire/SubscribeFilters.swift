/// The entries of a SUBSCRIBE, read lazily from the already-validated packet body so that
/// decoding allocates nothing. Borrows from the receive buffer.
public struct SubscribeFilters: Sequence, Equatable {
    /// The encoded entries (length-prefixed filter + QoS or options byte, repeated).
    let entries: ByteView
    /// How many entries there are (at least 1 in a decoded packet).
    public let count: Int

    init(entries: ByteView, count: Int) {
        self.entries = entries
        self.count = count
    }

    public var underestimatedCount: Int { count }

    public func makeIterator() -> Iterator {
        Iterator(reader: ByteReader(entries.unsafeBytes))
    }

    /// Walks the entries; the decoder has checked them, so each read succeeds.
    public struct Iterator: IteratorProtocol {
        var reader: ByteReader

        public mutating func next() -> SubscriptionRequest? {
            guard let filter = reader.readLengthPrefixedBytes(),
                  let optionsByte = reader.readUInt8(),
                  let options = SubscriptionOptions(byte: optionsByte)
            else { return nil }
            return SubscriptionRequest(filter: filter, options: options)
        }
    }
}
