/// What a shard's engine needs from the thread and loop that run it.
public protocol ShardEnvironment: AnyObject {
    /// Milliseconds on the loop's monotonic clock (cached per loop turn).
    var now: UInt64 { get }
    /// Wall-clock seconds since the epoch.
    var wallClockSeconds: Int { get }
    /// Queues `message` for shard `shard` (never this one) and wakes it. Never blocks: order
    /// from this shard to that one is kept.
    func post(_ message: ShardMessage, to shard: Int)
    /// This shard's inbox for work finished on other threads (authentication verdicts).
    var mailbox: any ShardMailbox { get }
}
