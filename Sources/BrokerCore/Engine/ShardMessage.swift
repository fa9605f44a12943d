/// Everything one shard tells another, through the SPSC ring from the sender to the receiver.
/// A closed vocabulary: the receiving shard applies it on its own thread
/// (`ShardEngine.handleInbox`).
public enum ShardMessage: @unchecked Sendable {
    /// A publish received on the sending shard. Deliver to local subscribers; when it has the
    /// RETAIN flag, also update the local retained replica (such publishes go to every shard).
    case publish(Message)
    /// `shard` now holds (or no longer holds) subscriptions on `filter`.
    indirect case interest(filter: String, shard: Int, interested: Bool)
    /// A client with this id connected on `newShard`: close the local connection (with its will)
    /// and hand the session over (`keepSession`) or discard it.
    indirect case takeover(clientId: String, newShard: Int, generation: UInt64, keepSession: Bool)
    /// The answer to `takeover`: the session (nil when there was none or it was discarded).
    /// Ownership of the session moves with the message.
    indirect case sessionTransfer(clientId: String, generation: UInt64, session: Session?)
    /// A session on the sending shard is congested by messages from `connection` (a connection
    /// of the receiving shard): stop reading from it (`hold`), or it drained: read again.
    indirect case holdPublisher(connection: ConnectionID, hold: Bool)
    /// Work from the cold-path pool (authentication results, store replies, ...) to run on the
    /// shard's thread.
    indirect case run(@Sendable (ShardEngine) -> Void)
    /// Close every connection and stop.
    case shutdown
}
