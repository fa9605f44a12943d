/// What a shard's engine needs from the thread and loop that run it.
public protocol ShardEnvironment: AnyObject {
    /// Milliseconds on the loop's monotonic clock (cached per loop turn).
    var now: UInt64 { get }
    /// Wall-clock seconds since the epoch.
    var wallClockSeconds: Int { get }
    /// Queues `message` for shard `shard` (never this one) and wakes it. Called on this shard's
    /// thread only; never blocks; order from this shard to that one is kept.
    func post(_ message: ShardMessage, to shard: Int)
    /// This shard's own inbox for work finished on other threads (authentication verdicts,
    /// bridge acknowledgements).
    var mailbox: any ShardMailbox { get }
}

/// A thread-safe way into a shard's inbox, for work finished off the shard's thread.
public protocol ShardMailbox: Sendable {
    /// Queues `message` for the shard and wakes it. Callable from any thread.
    func post(_ message: ShardMessage)
}
