import BrokerCore
import CBrokerShims
import CLibUV
import DequeModule
import Glibc
import Logging
import Synchronization

/// One event-loop thread: its own `uv_loop_t`, its own listening sockets (SO_REUSEPORT), the
/// connections the kernel hands to them, and the `ShardEngine` that owns their sessions.
///
/// Everything here belongs to the shard's own thread, except `inbox` (`ShardInbox`), the only
/// way in for other threads. The process's main thread only builds the shard, starts its thread
/// and joins it.
public final class Shard {
    public let index: Int
    let context: BrokerContext
    let loop: UnsafeMutablePointer<uv_loop_t>
    var logger: Logger
    private(set) var engine: ShardEngine!
    /// What other threads may touch: rings, cold queue, stop flag, wake handle.
    public let inbox: ShardInbox
    /// Every shard's inbox, this one's included (set once before the threads start).
    var peerInboxes: [ShardInbox] = []
    /// Called on the shard's thread when phase 1 of shutdown is done (set before the threads start).
    let onQuiet: @Sendable () -> Void
    /// Bytes read from and written to this shard's sockets, published to `ShardStats` each tick.
    var bytesReceived = 0
    var bytesSent = 0
    /// This shard's open connections by listener (index in `listeners`), published each tick.
    var openByListener: [Int] = []

    /// Posts that did not fit in a full ring, per destination shard, in order.
    private var overflow: [Deque<ShardPost>]
    private var overflowCount = 0
    /// `uv_hrtime` of the last tick, and the lateness of the last ten (five seconds).
    private var lastTickAt: UInt64 = 0
    private var recentLags = [Int](repeating: 0, count: 10)
    private var tickCount = 0
    private(set) var wakeTargets = ShardSet()
    /// The stamp of this callback's posts (`ShardPost`), and whether it was taken in this
    /// callback (cleared where callbacks that can post begin: `drainInbox`, `beforePoll`, `tick`).
    private var currentStamp: UInt64 = 0
    private var stampIsCurrent = false
    /// Per source shard: posts of the current drain not applied yet (reused by `drainInbox`).
    private var drainPending: [Int]

    private let prepareHandle: UnsafeMutablePointer<uv_prepare_t>
    private let tickHandle: UnsafeMutablePointer<uv_timer_t>
    var listeners: [TCPListener] = []
    /// Connections with outbound bytes to write before the loop polls again.
    private(set) var flushList: [TCPConnection] = []
    /// Connections whose held-back bytes must be parsed again (reading resumed).
    var resumedConnections: [TCPConnection] = []
    /// Connections that used their read budget this turn; they read again next turn.
    var yieldedConnections: [TCPConnection] = []
    /// Loop turns so far (advanced in `beforePoll`), for per-turn read budgets.
    private(set) var turn: UInt64 = 0
    static let readBudgetPerTurn = 64 * 1024
    /// Connections paused because this shard's posts to other shards are backing up.
    var backpressured: [TCPConnection] = []
    var isOverloaded: Bool { overflowCount > Self.overflowHighWater }
    static let overflowHighWater = 65_536
    static let ringCapacity = 4096
    static let readBufferSize = 64 * 1024
    /// Shared by every connection of the shard: libuv reads into it and the engine parses it in
    /// place; only leftovers of incomplete packets are copied per connection.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// Scratch for building vectored writes.
    var iovecs: UnsafeMutablePointer<uv_buf_t>
    var iovecCapacity = 64
    private(set) var stopping = false
    var thread: pthread_t?
    /// CPU to pin the shard's thread to (config `pin_cores`).
    var pinnedCPU: Int?

    init(index: Int, context: BrokerContext, logger: Logger, onQuiet: @escaping @Sendable () -> Void = {}) throws {
        self.index = index
        self.context = context
        self.logger = logger
        self.logger[metadataKey: "shard"] = "\(index)"
        self.onQuiet = onQuiet
        loop = .allocate(capacity: 1)
        try check(uv_loop_init(loop), "uv_loop_init")
        inbox = ShardInbox(owner: index, shardCount: context.shardCount, ringCapacity: Self.ringCapacity)
        overflow = Array(repeating: Deque(), count: context.shardCount)
        drainPending = Array(repeating: 0, count: context.shardCount)
        prepareHandle = .allocate(capacity: 1)
        tickHandle = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        iovecs = .allocate(capacity: iovecCapacity)
        engine = ShardEngine(shardIndex: index, context: context, environment: self, logger: logger)

        let opaque = Unmanaged.passUnretained(self).toOpaque()
        uv_async_init(loop, inbox.wakeHandle, shardWakeCallback)
        inbox.wakeHandle.pointee.data = opaque
        uv_prepare_init(loop, prepareHandle)
        prepareHandle.pointee.data = opaque
        uv_prepare_start(prepareHandle, shardPrepareCallback)
        uv_timer_init(loop, tickHandle)
        tickHandle.pointee.data = opaque
        uv_timer_start(tickHandle, shardTickCallback, 500, 500)
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> Shard {
        Unmanaged<Shard>.fromOpaque(pointer!).takeUnretainedValue()
    }

    /// Opens this shard's own listening socket for `spec`.
    func listen(_ spec: ListenerSpec, tls: TLSContext?) throws {
        listeners.append(try TCPListener(shard: self, index: listeners.count, spec: spec, tls: tls))
        openByListener.append(0)
    }

    // MARK: - Thread

    func run() {
        Self.nameCurrentThread("shard-\(index)")
        if let cpu = pinnedCPU, !Self.pinCurrentThread(to: cpu) {
            logger.warning("could not pin shard thread to CPU \(cpu)")
        }
        uv_run(loop, UV_RUN_DEFAULT)
        uv_loop_close(loop)
    }

    /// Names the calling thread ("shard-N" in `top -H`, `perf report --sort comm`, gdb: one
    /// shard's thread is what one profiles). Through /proc: `pthread_setname_np` is a GNU
    /// extension Swift's Glibc module does not import.
    static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Pins the calling thread to `cpu` (config `pin_cores`).
    static func pinCurrentThread(to cpu: Int) -> Bool {
        broker_pin_current_thread(Int32(cpu)) == 0
    }

    // MARK: - Inbox

    /// The cold-path queue, as the engine sees it (authentication verdicts come back here).
    public var mailbox: any ShardMailbox { inbox }

    /// Applies what other shards and the cold path have posted, oldest stamp first
    /// (`ShardPost`): what the rings hold, pass after pass while more comes, up to
    /// `drainBudgetPerRing` posts per other shard in one call, so a flood from other shards
    /// cannot starve this shard's own clients (the rest waits one loop turn).
    func drainInbox() {
        if inbox.isStopRequested {
            closeHandles()
            return
        }
        stampIsCurrent = false
        var budget = Self.drainBudgetPerRing * max(1, inbox.rings.count - 1)
        // Swapped out while applying: nothing applied can reach it (and no copy is made).
        var pending = drainPending
        drainPending = []
        while budget > 0 {
            // Each pass merges what the rings held when it began: a post that arrives during the
            // pass may be older than what another ring holds by then, so it waits for the next.
            var waiting = 0
            for (source, ring) in inbox.rings.enumerated() {
                guard let ring else { continue }
                pending[source] = min(ring.availableCount(), budget)
                waiting += pending[source]
            }
            guard waiting > 0 else { break }
            Self.takeInStampOrder(from: inbox.rings, counts: &pending) { apply($0, from: $1) }
            budget -= waiting
        }
        drainPending = pending
        let more = budget <= 0 && inbox.rings.contains { $0?.hasElements == true }
        for (source, ring) in inbox.rings.enumerated() {
            // The sender kept posts in its overflow and sleeps until woken (its publishers may be
            // paused by that very overflow): room was just made, so wake it before this shard
            // polls again (`flushOutbox`). Without this it waited for its next 500 ms tick.
            if let ring, ring.takeWakeRequest() { wakeTargets.insert(source) }
        }
        for message in inbox.takeColdMessages() { apply(message) }
        if more { inbox.wake() }
    }

    static let drainBudgetPerRing = 8192

    /// Takes `counts[source]` posts from each ring, merged by stamp, and hands each to `body`
    /// with its source: from the ring whose next post is oldest for as long as that post is no
    /// newer than every other ring's next one. With one busy ring that is one comparison a post.
    static func takeInStampOrder(
        from rings: [SPSCRing<ShardPost>?], counts: inout [Int], _ body: (ShardMessage, Int) -> Void
    ) {
        while true {
            var oldest = -1
            var oldestStamp = UInt64.max
            var runnerUpStamp = UInt64.max
            for source in counts.indices where counts[source] > 0 {
                let stamp = rings[source]!.peekAvailable(\.stamp)
                if stamp < oldestStamp {
                    runnerUpStamp = oldestStamp
                    oldestStamp = stamp
                    oldest = source
                } else if stamp < runnerUpStamp {
                    runnerUpStamp = stamp
                }
            }
            guard oldest >= 0 else { return }
            let ring = rings[oldest]!
            repeat {
                let post = ring.pop()!
                counts[oldest] -= 1
                body(post.message, oldest)
            } while counts[oldest] > 0 && ring.peekAvailable(\.stamp) <= runnerUpStamp
        }
    }

    private func apply(_ message: ShardMessage, from source: Int = -1) {
        if case .shutdown = message {
            beginShutdown()
        } else if !stopping || Self.appliesWhileStopping(message) {
            engine.handleInbox(message, from: source)
        }
    }

    /// Once this shard is shutting down (its connections closed), what other shards still post
    /// is applied when it carries state that outlives connections: messages for offline
    /// sessions and the retained store (and their store writes), acknowledgements, sessions and
    /// their hand-over, routing state. Not a Kafka record (the subscribers stop before the
    /// shards; one that still came is not committed, so it comes again after the restart), nor
    /// anything for a connection.
    static func appliesWhileStopping(_ message: ShardMessage) -> Bool {
        switch message {
        case .publish, .durablePublish, .sharedPublish, .acknowledged, .takeover, .sessionTransfer, .handoverRoute,
             .handoverRouted, .interest, .sharedMembers, .credit:
            true
        default:
            false
        }
    }

    /// Sends queued posts to their rings and wakes the shards that got any (once per loop turn,
    /// so a burst of publishes costs one wake-up per destination).
    func flushOutbox() {
        guard !closingHandles, !reportedQuiet else { return }
        if overflowCount > 0 {
            for destination in overflow.indices where !overflow[destination].isEmpty {
                let ring = peerInboxes[destination].rings[index]!
                repeat {
                    while let next = overflow[destination].first, ring.push(next) {
                        overflow[destination].removeFirst()
                        overflowCount -= 1
                        wakeTargets.insert(destination)
                    }
                    // Still full: the receiver wakes this shard when it makes room.
                } while !overflow[destination].isEmpty && ring.requestWakeWhenRoom()
            }
            if overflowCount <= Self.overflowHighWater / 2 { resumeBackpressured() }
        }
        if !wakeTargets.isEmpty {
            wakeTargets.forEach { peerInboxes[$0].wake() }
            wakeTargets = ShardSet()
        }
        if quietWhenOverflowDrains && overflowCount == 0 { reportQuiet() }
    }

    private func resumeBackpressured() {
        guard !backpressured.isEmpty else { return }
        let paused = backpressured
        backpressured.removeAll()
        for connection in paused { connection.backpressureLifted() }
    }

    // MARK: - Loop turn

    /// Runs right before the loop polls: parse bytes of resumed connections, hand this turn's
    /// store writes to the store (one batch per turn: group commit), wake the shards this turn
    /// posted to (they route while this one writes), flush every connection with
    /// output (one vectored write each), then hand on what the flushes posted (a lost
    /// connection's will).
    func beforePoll() {
        turn &+= 1
        stampIsCurrent = false
        if !yieldedConnections.isEmpty {
            let yielded = yieldedConnections
            yieldedConnections.removeAll(keepingCapacity: true)
            for connection in yielded { connection.resumeAfterYield() }
        }
        if !resumedConnections.isEmpty {
            let resumed = resumedConnections
            resumedConnections.removeAll(keepingCapacity: true)
            for connection in resumed { connection.processHeldBytes() }
        }
        engine.flushStoreWrites()
        flushOutbox()
        flushConnections()
    }

    /// Asks for `connection` to be written before the loop polls again.
    func scheduleFlush(_ connection: TCPConnection) {
        flushList.append(connection)
    }

    /// Called after each read: what the read produced for clients is written now, with the
    /// posts queued so far, as Mosquitto writes each reply when it has handled the packet. The
    /// packets one read produced for a connection still go in one vectored write, and under
    /// load a read carries many packets, so the writes stay few; but the first message of a
    /// turn that reads many sockets no longer waits for the last read (waiting even 50 µs for
    /// more made p50 at 25k messages/s on one shard 1.3× Mosquitto's: Benchmarks/RESULTS.md).
    func flushAfterRead() {
        guard !flushList.isEmpty else { return }
        flushOutbox()
        flushConnections()
    }

    private func flushConnections() {
        guard !flushList.isEmpty else { return }
        let pending = flushList
        flushList.removeAll(keepingCapacity: true)
        for connection in pending { connection.flush() }
        flushOutbox()
    }

    func tick() {
        stampIsCurrent = false
        guard !stopping else {
            // Shutting down with an overflow: a quiet receiver wakes nobody, so poll for room.
            if quietWhenOverflowDrains { flushOutbox() }
            return
        }
        // How late this tick fires: the loop was busy (or the thread not scheduled) for that long.
        let now = uv_hrtime()
        let lag = lastTickAt == 0 ? 0 : max(0, Int(now &- lastTickAt) - Self.tickIntervalNanoseconds) / 1000
        lastTickAt = now
        recentLags[tickCount % recentLags.count] = lag
        tickCount += 1
        let stats = context.stats[index]
        stats.publishConnections(bytesReceived: bytesReceived, bytesSent: bytesSent, openByListener: openByListener)
        stats.publishLoop(
            lagMicroseconds: lag, maxLagMicroseconds: recentLags.max() ?? 0, ringEntries: inbox.ringEntries,
            overflowEntries: overflowCount)
        engine.tick()
    }

    /// The tick timer's period (the engine's 500 ms housekeeping).
    static let tickIntervalNanoseconds = 500_000_000

    // MARK: - Shutdown
    //
    // Two phases, because a shard may only wake a peer whose async handle is still open:
    // 1. `.shutdown`: stop accepting, close every connection, flush, hand on the overflow
    //    (publishes a full ring did not take: they may be acknowledged already), then report
    //    quiet. Every handle stays open, so peers that are still closing their connections can
    //    post here, and what they post is still applied (`appliesWhileStopping`).
    // 2. `stopLoop()` (after all shards are quiet, or 10 s): close the remaining handles; the
    //    loop ends. A quiet shard posts nothing and wakes nobody, so no shard wakes a peer whose
    //    handles phase 2 has closed.

    private func beginShutdown() {
        guard !stopping else { return }
        stopping = true
        for listener in listeners { listener.close() }
        engine.shutdown()
        quietWhenOverflowDrains = true
        beforePoll()
        if quietWhenOverflowDrains { uv_timer_start(tickHandle, shardTickCallback, 1, 1) }
    }

    /// Phase 1 is done once the overflow is handed on (checked after each `flushOutbox`).
    private func reportQuiet() {
        quietWhenOverflowDrains = false
        reportedQuiet = true
        wakeTargets = ShardSet()
        onQuiet()
    }

    /// Set by `.shutdown` until the overflow is empty.
    private var quietWhenOverflowDrains = false

    /// Set once phase 1 is done: from then on nothing is posted to or wakes another shard.
    private var reportedQuiet = false
    private var closingHandles = false

    private func closeHandles() {
        guard !closingHandles else { return }
        closingHandles = true
        uv_timer_stop(tickHandle)
        uv_close(UnsafeMutableRawPointer(tickHandle).assumingMemoryBound(to: uv_handle_t.self), nil)
        uv_prepare_stop(prepareHandle)
        uv_close(UnsafeMutableRawPointer(prepareHandle).assumingMemoryBound(to: uv_handle_t.self), nil)
        inbox.close()
        uv_close(UnsafeMutableRawPointer(inbox.wakeHandle).assumingMemoryBound(to: uv_handle_t.self), nil)
    }
}

extension Shard: ShardEnvironment {
    public var now: UInt64 { uv_now(loop) }

    public var wallClockSeconds: Int { time(nil) }

    public func post(_ message: ShardMessage, to shard: Int) {
        guard !reportedQuiet else { return }
        let post = ShardPost(message: message, stamp: postStamp())
        if overflow[shard].isEmpty, peerInboxes[shard].rings[index]!.push(post) {
            wakeTargets.insert(shard)
            return
        }
        overflow[shard].append(post)
        overflowCount += 1
    }

    /// One clock read per callback that posts, none for one that does not.
    @inline(__always)
    private func postStamp() -> UInt64 {
        if !stampIsCurrent {
            currentStamp = max(currentStamp, uv_hrtime())
            stampIsCurrent = true
        }
        return currentStamp
    }
}

/// Throws a `RuntimeError` for a negative libuv status.
func check(_ status: Int32, _ what: String) throws {
    if status < 0 { throw RuntimeError.libuv(what, status) }
}

public enum RuntimeError: Error, CustomStringConvertible {
    case libuv(String, Int32)
    case invalidAddress(String)

    public var description: String {
        switch self {
        case .libuv(let what, let status): "\(what): \(String(cString: uv_strerror(status)))"
        case .invalidAddress(let host): "invalid listen address \(host)"
        }
    }
}
