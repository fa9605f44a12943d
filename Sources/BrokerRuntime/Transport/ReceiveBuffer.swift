import Glibc

/// The bytes one connection has received but not yet consumed: an incomplete packet, or what a
/// paused connection holds back. Most reads are parsed straight from the shard's shared read
/// buffer and never come here, so an idle connection owns no receive memory at all.
///
/// Grows by doubling as bytes arrive, never to a size a packet header merely claims, so a
/// client announcing a huge packet costs only what it actually sends.
struct ReceiveBuffer {
    private(set) var storage: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage, count: count)
    }

    mutating func append(_ source: UnsafeRawBufferPointer) {
        guard source.count > 0 else { return }
        let free = reserveFree(source.count)
        free.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count)
        count += source.count
    }

    /// Returns at least `minimum` free bytes after the stored ones; `commit` what was written.
    mutating func reserveFree(_ minimum: Int) -> UnsafeMutableRawBufferPointer {
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

    mutating func commit(_ written: Int) {
        precondition(count + written <= capacity, "receive buffer overrun")
        count += written
    }

    /// Drops the first `consumed` bytes; frees the memory once nothing is left.
    mutating func consume(_ consumed: Int) {
        precondition(consumed <= count, "consuming more than received")
        if consumed == count {
            release()
        } else if consumed > 0 {
            memmove(storage!, storage! + consumed, count - consumed)
            count -= consumed
        }
    }

    mutating func release() {
        storage?.deallocate()
        storage = nil
        capacity = 0
        count = 0
    }
}
