/// Bytes waiting to go to one client, in order, until the runtime flushes them (once per loop
/// turn, with one vectored write): the one object the core writes into and the runtime takes
/// from, and the owner of the flush request between them (`requestFlush`, `beginFlush`).
///
/// Small packets are copied into one contiguous buffer. A large publish payload is not copied:
/// the shared `Message` is referenced at its place in the stream, so one payload serves every
/// subscriber. The buffer is allocated on first use and given back when large and drained; the
/// connection creates its queue on first use and drops it, buffer and all, once written while
/// it never outgrew its first buffer (`ClientConnection.outboundWritten`), or when a tick finds
/// that nothing was queued since the previous one (`ClientConnection.releaseOutboundIfIdle`), so
/// an idle connection costs no queue at all.
public final class OutboundQueue {
    /// Payloads at least this long are referenced rather than copied.
    public static let referenceThreshold = 1024
    /// Small enough that the PINGRESP or PUBACK of a quiet client costs little; busy connections
    /// double it a few times once and keep it (up to `retainedCapacity`).
    private static let initialCapacity = 64
    private static let retainedCapacity = 64 * 1024

    /// Referenced bytes (kept alive by `message`) that follow the buffer bytes before `offset`.
    public struct PayloadReference {
        public let offset: Int
        public let bytes: UnsafeRawBufferPointer
        public let message: Message
    }

    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0
    /// Bytes used in the contiguous buffer.
    public private(set) var bufferedCount = 0
    public private(set) var references: [PayloadReference] = []
    /// Everything queued: buffer bytes plus referenced payloads.
    public private(set) var totalBytes = 0
    /// Whether anything was queued since the last `isIdle()`.
    private var usedSinceIdleCheck = false
    /// Set from the first request after a `beginFlush()`: the runtime has been told, and
    /// telling it again before it starts writing would only cost a call per packet.
    private var flushRequested = false

    public init() {}

    deinit { storage?.deallocate() }

    public var isEmpty: Bool { totalBytes == 0 }

    /// Returns room for exactly `size` more bytes at the end of the stream; the caller writes
    /// all of them before the next call.
    public func reserve(_ size: Int) -> UnsafeMutableRawPointer {
        if bufferedCount + size > capacity { grow(to: bufferedCount + size) }
        let pointer = storage! + bufferedCount
        bufferedCount += size
        totalBytes += size
        usedSinceIdleCheck = true
        return pointer
    }

    /// Appends raw bytes.
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    /// Appends `message`'s payload: copied when small, referenced when large.
    public func appendPayload(of message: Message) {
        appendShared(message.payload, ownedBy: message)
    }

    /// Appends bytes that live in `message` (its payload, or its whole serialised packet):
    /// copied when small, referenced (keeping the message alive until written) when large.
    public func appendShared(_ bytes: UnsafeRawBufferPointer, ownedBy message: Message) {
        if bytes.count >= Self.referenceThreshold {
            references.append(PayloadReference(offset: bufferedCount, bytes: bytes, message: message))
            totalBytes += bytes.count
            usedSinceIdleCheck = true
        } else {
            append(bytes)
        }
    }

    /// Producer side, after queueing: true the first time since the last `beginFlush()`, when
    /// the caller must tell the runtime (`ConnectionIO.outboundChanged`); false while the
    /// runtime already knows.
    @inline(__always)
    public func requestFlush() -> Bool {
        if flushRequested { return false }
        flushRequested = true
        return true
    }

    /// Consumer side: the runtime is about to write what is queued (or to find it cannot yet);
    /// bytes queued from now on need a new request.
    public func beginFlush() {
        flushRequested = false
    }

    /// Calls `body` with each contiguous chunk, in stream order.
    public func forEachChunk(_ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        for reference in references {
            if reference.offset > start {
                body(UnsafeRawBufferPointer(start: storage! + start, count: reference.offset - start))
            }
            body(reference.bytes)
            start = reference.offset
        }
        if bufferedCount > start {
            body(UnsafeRawBufferPointer(start: storage! + start, count: bufferedCount - start))
        }
    }

    /// Number of chunks `forEachChunk` would produce.
    public var chunkCount: Int {
        var chunks = 0
        var start = 0
        for reference in references {
            if reference.offset > start { chunks += 1 }
            chunks += 1
            start = reference.offset
        }
        return bufferedCount > start ? chunks + 1 : chunks
    }

    /// Whether its buffer never grew past the first allocation and it never referenced a
    /// payload: a queue that carried only a few small packets.
    public var hasOnlyItsFirstBuffer: Bool {
        capacity <= Self.initialCapacity && references.capacity == 0
    }

    /// Forgets everything queued (after it was written).
    public func removeAll() {
        bufferedCount = 0
        totalBytes = 0
        if !references.isEmpty { references.removeAll(keepingCapacity: true) }
        if capacity > Self.retainedCapacity { releaseBuffer() }
    }

    /// Called periodically (the shard's tick): true when the queue is empty and nothing was
    /// queued since the previous call, so its owner may drop it. A client that only connected,
    /// or went quiet, then holds no queue; a busy one keeps its buffer between loop turns.
    public func isIdle() -> Bool {
        defer { usedSinceIdleCheck = false }
        return !usedSinceIdleCheck && totalBytes == 0 && !flushRequested
    }

    /// Gives the buffer back to the allocator.
    public func releaseBuffer() {
        precondition(totalBytes == 0, "releasing a buffer that still holds queued bytes")
        storage?.deallocate()
        storage = nil
        capacity = 0
        references = []
    }

    private func grow(to needed: Int) {
        var newCapacity = max(capacity * 2, Self.initialCapacity)
        while newCapacity < needed { newCapacity *= 2 }
        let newStorage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let storage {
            newStorage.copyMemory(from: storage, byteCount: bufferedCount)
            storage.deallocate()
        }
        storage = newStorage
        capacity = newCapacity
    }
}
