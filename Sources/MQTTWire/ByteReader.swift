/// Reads MQTT fields from a borrowed buffer.
///
/// Invariant: `0 <= readerIndex <= bytes.count`.
/// `get*(at:)` never moves `readerIndex`; `read*` moves it past what was read. A read that
/// lacks bytes returns nil and leaves the index where it was. Every access checks its length
/// first: raw buffer subscripts are not bounds-checked in optimised builds.
/// Views returned point into `bytes`: valid only while that buffer is; do not escape them.
public struct ByteReader {
    /// The buffer being read; the caller keeps it alive while the reader and its views are used.
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte `read*` returns.
    public private(set) var readerIndex: Int

    /// A reader at the start of `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.readerIndex = 0
    }

    /// Bytes left between `readerIndex` and the end.
    public var readableBytes: Int { bytes.count - readerIndex }

    /// Whether `count` bytes starting at `index` lie inside the buffer (overflow-safe).
    @inline(__always)
    private func contains(_ index: Int, count: Int) -> Bool {
        index >= 0 && count >= 0 && index <= bytes.count - count
    }

    // MARK: get (index stays)

    public func getUInt8(at index: Int) -> UInt8? {
        guard contains(index, count: 1) else { return nil }
        return bytes.baseAddress!.load(fromByteOffset: index, as: UInt8.self)
    }

    /// A big-endian (network order) 16-bit integer.
    public func getUInt16(at index: Int) -> UInt16? {
        guard contains(index, count: 2) else { return nil }
        return UInt16(bigEndian: bytes.baseAddress!.loadUnaligned(fromByteOffset: index, as: UInt16.self))
    }

    public func getBytes(at index: Int, count: Int) -> ByteView? {
        guard contains(index, count: count) else { return nil }
        if count == 0 { return .empty }
        return ByteView(UnsafeRawBufferPointer(start: bytes.baseAddress! + index, count: count))
    }

    /// An MQTT length-prefixed field (2-byte big-endian length, then the data), without the prefix.
    public func getLengthPrefixedBytes(at index: Int) -> ByteView? {
        guard let length = getUInt16(at: index) else { return nil }
        return getBytes(at: index + 2, count: Int(length))
    }

    // MARK: read (index moves)

    public mutating func readUInt8() -> UInt8? {
        guard let value = getUInt8(at: readerIndex) else { return nil }
        readerIndex += 1
        return value
    }

    public mutating func readUInt16() -> UInt16? {
        guard let value = getUInt16(at: readerIndex) else { return nil }
        readerIndex += 2
        return value
    }

    public mutating func readBytes(count: Int) -> ByteView? {
        guard let value = getBytes(at: readerIndex, count: count) else { return nil }
        readerIndex += count
        return value
    }

    public mutating func readLengthPrefixedBytes() -> ByteView? {
        guard let value = getLengthPrefixedBytes(at: readerIndex) else { return nil }
        readerIndex += 2 + value.count
        return value
    }

    /// Everything from `readerIndex` to the end (possibly empty); moves to the end.
    public mutating func readRemainingBytes() -> ByteView {
        readBytes(count: readableBytes)!
    }
}
