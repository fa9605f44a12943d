import BrokerCore
import CLibUV
import Synchronization

/// The part of a shard that other threads touch, and nothing else: the SPSC ring from every
/// other shard, the mutex-guarded queue for the cold path and the process, the stop flag, and
/// the async handle that wakes the shard's loop. Everything else of a shard belongs to its own
/// thread (`Shard`).
///
/// Thread rules: `rings[s]` is pushed by shard `s`'s thread only and popped by the owner's
/// thread only; `post` and `requestStop` may be called from any thread; `wake` by shards only
/// (after pushing into a ring: shards stop waking peers before any peer closes its handle);
/// `takeColdMessages` and `close` by the owner's thread only.
public final class ShardInbox: ShardMailbox {
    /// Ring from each source shard, by source index (nil for the owner itself).
    let rings: [SPSCRing<ShardPost>?]
    /// Messages from threads that are not shards, and whether the wake handle is still open.
    private let cold = Mutex<(messages: [ShardMessage], open: Bool)>(([], true))
    /// libuv's async handle; `uv_async_send` is the one libuv call that is safe from any thread.
    nonisolated(unsafe) let wakeHandle: UnsafeMutablePointer<uv_async_t>
    private let stopRequested = Atomic<Bool>(false)

    init(owner: Int, shardCount: Int, ringCapacity: Int) {
        rings = (0..<shardCount).map { $0 == owner ? nil : SPSCRing(capacity: ringCapacity) }
        wakeHandle = .allocate(capacity: 1)
    }

    /// Posts waiting in the rings towards this shard (from every other shard).
    var ringEntries: Int { rings.reduce(0) { $0 + ($1?.approximateCount ?? 0) } }

    /// Queues `message` from any thread and wakes the shard. Once the shard has closed its
    /// handles (the end of shutdown) the message is dropped: nobody is left to apply it, and
    /// waking a closed handle would write to a file descriptor the loop no longer owns.
    public func post(_ message: ShardMessage) {
        cold.withLock { state in
            guard state.open else { return }
            state.messages.append(message)
            uv_async_send(wakeHandle)
        }
    }

    /// Wakes the shard (after pushing into one of its rings). Called by shards only, which stop
    /// waking peers before any peer closes its handle (see `Shard`'s shutdown notes).
    func wake() {
        uv_async_send(wakeHandle)
    }

    /// Phase 2 of shutdown, from any thread: the shard closes its handles and its loop ends.
    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        cold.withLock { state in
            if state.open { uv_async_send(wakeHandle) }
        }
    }

    var isStopRequested: Bool { stopRequested.load(ordering: .acquiring) }

    /// Owner's thread: everything the cold path posted, in order.
    func takeColdMessages() -> [ShardMessage] {
        cold.withLock { state in
            guard !state.messages.isEmpty else { return [] }
            defer { state.messages.removeAll() }
            return state.messages
        }
    }

    /// Owner's thread: no more cold posts are accepted; the caller closes the wake handle next.
    func close() {
        cold.withLock { $0.open = false }
    }
}
