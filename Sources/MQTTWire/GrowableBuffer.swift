import Glibc

/// Contiguous bytes that grow by doubling and are freed when empty: what a connection holds of
/// its input (`ReceiveBuffer`), and the TLS/WebSocket layers' staged output.
///
/// Grows only as bytes are actually appended, never to a size a packet header merely claims,
/// so a client announcing a huge packet costs only what it sends; frees its memory as soon as
/// everything is consumed, so an idle connection owns none. Noncopyable: it owns raw memory, so
/// a copy would free it twice; it frees what is left when it goes away.
///
/// Sizes are kept in 32 bits (16 bytes in all: every connection holds one): an MQTT packet is
/// at most 256 MiB, and nothing stages more than a packet or a few MiB of output.
public struct GrowableBuffer: ~Copyable {
    public private(set) var storage: UnsafeMutableRawPointer?
    private var capacity32: UInt32 = 0
    private var count32: UInt32 = 0

    public var capacity: Int { Int(capacity32) }
    public var count: Int { Int(count32) }

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
        count32 += UInt32(source.count)
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
            capacity32 = UInt32(newCapacity)
        }
        return UnsafeMutableRawBufferPointer(start: storage! + count, count: capacity - count)
    }

    public mutating func commit(_ written: Int) {
        precondition(written >= 0 && count + written <= capacity, "buffer overrun")
        count32 += UInt32(written)
    }

    /// Drops the first `consumed` bytes; frees the memory once nothing is left.
    public mutating func consume(_ consumed: Int) {
        precondition(consumed >= 0 && consumed <= count, "consuming more than is stored")
        if consumed == count {
            release()
        } else if consumed > 0 {
            memmove(storage!, storage! + consumed, count - consumed)
            count32 -= UInt32(consumed)
        }
    }

    public mutating func release() {
        storage?.deallocate()
        storage = nil
        capacity32 = 0
        count32 = 0
    }
}
