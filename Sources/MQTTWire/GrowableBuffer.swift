import Glibc

/// Contiguous bytes that grow by doubling and are freed when empty: what a connection holds of
/// its input (`ReceiveBuffer`), and the TLS/WebSocket layers' staged output.
///
/// Grows only as bytes are actually appended, never to a size a packet header merely claims,
/// so a client announcing a huge packet costs only what it sends; frees its memory as soon as
/// everything is consumed, so an idle connection owns none. Noncopyable: it owns raw memory, so
/// a copy would free it twice; it frees what is left when it goes away.
public struct GrowableBuffer: ~Copyable {
    public private(set) var storage: UnsafeMutableRawPointer?
    public private(set) var capacity = 0
    public private(set) var count = 0

    public init() {}

    deinit { storage?.deallocate() }

    public var isEmpty: Bool { count == 0 }

    /// The stored bytes; valid until the next mutation.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage, count: count)
    }

    public mutating func append(_ source: UnsafeRawBufferPointer) {
        guard source.count > 0 else { return }
        let free = reserveFree(source.count)
        free.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count)
        count += source.count
    }

    /// Returns at least `minimum` free bytes after the stored ones; `commit` what was written.
    public mutating func reserveFree(_ minimum: Int) -> UnsafeMutableRawBufferPointer {
        if capacity - count < minimum {
            var newCapacity = max(capacity * 2, 4096)
            while newCapacity - count < minimum { newCapacity *= 2 }
            let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            if let storage {
                newStorage.copyMemory(from: storage, byteCount: count)
                storage.deallocate()
            }
            storage = newStorage
            capacity = newCapacity
        }
        return UnsafeMutableRawBufferPointer(start: storage! + count, count: capacity - count)
    }

    public mutating func commit(_ written: Int) {
        precondition(written >= 0 && count + written <= capacity, "buffer overrun")
        count += written
    }

    /// Drops the first `consumed` bytes; frees the memory once nothing is left.
    public mutating func consume(_ consumed: Int) {
        precondition(consumed >= 0 && consumed <= count, "consuming more than is stored")
        if consumed == count {
            release()
        } else if consumed > 0 {
            memmove(storage!, storage! + consumed, count - consumed)
            count -= consumed
        }
    }

    public mutating func release() {
        storage?.deallocate()
        storage = nil
        capacity = 0
        count = 0
    }
}
