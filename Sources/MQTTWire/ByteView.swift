/// A borrowed, read-only view of bytes inside a buffer the caller owns (the broker's receive
/// buffer, an array being encoded, a test's byte stream).
///
/// A `ByteView` is valid only while the buffer it was read from is alive and unchanged;
/// never store it. Copy what must outlive the buffer with `copyToArray()` or `makeString()`.
/// Decoded packets are made of views so that decoding never copies a topic or a payload.
public struct ByteView {
    /// The viewed bytes. Unsafe: the same lifetime rule as the view applies.
    public let unsafeBytes: UnsafeRawBufferPointer

    /// Views `bytes`; the caller keeps the memory alive for as long as the view is used.
    public init(_ bytes: UnsafeRawBufferPointer) {
        self.unsafeBytes = bytes
    }

    /// An empty view that points at nothing.
    public static var empty: ByteView { ByteView(UnsafeRawBufferPointer(start: nil, count: 0)) }

    /// Calls `body` with the viewed bytes; the pointer must not escape `body`.
    public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(unsafeBytes)
    }

    /// An owned copy of the bytes, for anything that outlives the receive buffer.
    public func copyToArray() -> [UInt8] {
        Array(unsafeBytes)
    }

    /// The bytes as a `String`. The decoder has already validated MQTT strings as UTF-8;
    /// for other bytes, invalid sequences become U+FFFD.
    public func makeString() -> String {
        String(decoding: unsafeBytes, as: UTF8.self)
    }

    /// A view of `count` bytes starting `offset` bytes into this view.
    public func slice(from offset: Int, count: Int) -> ByteView {
        precondition(offset >= 0 && count >= 0 && offset <= self.count - count, "ByteView slice out of bounds")
        if count == 0 { return .empty }
        return ByteView(UnsafeRawBufferPointer(start: unsafeBytes.baseAddress! + offset, count: count))
    }
}

extension ByteView: RandomAccessCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { unsafeBytes.count }
    public var count: Int { unsafeBytes.count }
    public var isEmpty: Bool { unsafeBytes.isEmpty }

    /// Bounds-checked in every build: raw buffer subscripts are not checked in -O.
    public subscript(position: Int) -> UInt8 {
        precondition(position >= 0 && position < unsafeBytes.count, "ByteView index out of range")
        return unsafeBytes.baseAddress!.load(fromByteOffset: position, as: UInt8.self)
    }

    public func withContiguousStorageIfAvailable<R>(
        _ body: (UnsafeBufferPointer<UInt8>) throws -> R
    ) rethrows -> R? {
        try body(unsafeBytes.bindMemory(to: UInt8.self))
    }
}

extension ByteView: Equatable {
    /// Equal when the contents are equal, wherever they live.
    public static func == (lhs: ByteView, rhs: ByteView) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.count == 0 || lhs.unsafeBytes.baseAddress == rhs.unsafeBytes.baseAddress { return true }
        return lhs.unsafeBytes.elementsEqual(rhs.unsafeBytes)
    }
}

extension ByteView: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes: unsafeBytes)
    }
}

extension ByteView: CustomStringConvertible {
    /// Printable ASCII shows as a quoted string, anything else as hex.
    public var description: String {
        if unsafeBytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return "\"" + makeString() + "\""
        }
        let hexDigits: [Character] = Array("0123456789abcdef")
        var text = "0x"
        for byte in unsafeBytes {
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0F)])
        }
        return text
    }
}
