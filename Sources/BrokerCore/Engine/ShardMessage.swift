/// Every kind of work that reaches a shard from another thread: from another shard through the
/// SPSC ring between them, or from the cold path (authenticator, Kafka bridge) through the
/// shard's mailbox. The whole vocabulary is here, one named case per kind, so a reader sees
/// everything a shard can be asked to do in one place; the receiving shard applies it on its
/// own thread (`ShardEngine.handleInbox`).
///
/// Every case with a payload except `publish` is `indirect`, so a ring slot stays one pointer
/// wide.
public enum ShardMessage: @unchecked Sendable {
    // MARK: From another shard

    /// A publish received on the sending shard. Deliver to local subscribers; when it has the
    /// RETAIN flag, also update the local retained replica (such publishes go to every shard).
    case publish(Message)
    /// A QoS 1/2 publish whose acknowledgement waits for the store writes it causes: deliver as
    /// `publish`, then release `ticket` once this shard's writes for it are handed to the store.
    indirect case durablePublish(Message, ticket: AckTicket)
    /// `shard` now holds (or no longer holds) subscriptions on `filter`.
    indirect case interest(filter: String, shard: Int, interested: Bool)
    /// A client with this id connected on `newShard`: close the local connection (with its will)
    /// and hand the session over (`keepSession`) or discard it.
    indirect case takeover(clientId: String, newShard: Int, generation: UInt64, keepSession: Bool)
    /// The answer to `takeover`: the session (nil when there was none or it was discarded).
    /// Ownership of the session moves with the message.
    indirect case sessionTransfer(clientId: String, generation: UInt64, session: Session?)
    /// A session with subscriptions on `filters` is moving from `oldShard` to `newShard` (see
    /// ShardEngine+Handover): `newShard` keeps what matches them until the session arrives,
    /// every other shard routes them to `newShard` from now on; each answers `handoverRouted`.
    indirect case handoverRoute(clientId: String, generation: UInt64, filters: [String], oldShard: Int, newShard: Int)
    /// `shard` applied `handoverRoute`: everything it posted before reached the old shard first.
    indirect case handoverRouted(clientId: String, generation: UInt64, shard: Int)
    /// A message for shared subscription group `group` (`SharedGroup.id`), to this shard's
    /// member at `slot` (or the next one that can take it). `hops` counts how often it was passed
    /// on because the shard it was sent to could not place it (once at most). `ticket` as for
    /// `durablePublish`.
    indirect case sharedPublish(Message, group: SharedGroupID, slot: Int, hops: Int, ticket: AckTicket?)
    /// `shard` now has `online` members of shared subscription group `group` connected, `total`
    /// in all.
    indirect case sharedMembers(group: String, shard: Int, online: Int32, total: Int32)
    /// A session on the sending shard is congested by messages from `connection` (a connection
    /// of the receiving shard): stop reading from it (`hold`), or it drained: read again.
    indirect case holdPublisher(connection: ConnectionID, hold: Bool)
    /// The receiving shard may post `count` more QoS 1/2 publishes to the sender (see
    /// ShardEngine+Credits).
    indirect case credit(count: Int)

    // MARK: From the cold path (any thread, through `ShardMailbox`)

    /// The authenticator's verdict on the CONNECT of `connection` (which may have closed since).
    indirect case authenticated(connection: ConnectionID, decision: AuthDecision)
    /// Everything a held acknowledgement waited for (the bridge, store writes) is done, or
    /// someone gave up (`ticket.failures`): it may go out, or never will (see `AckTicket` and
    /// `ClientConnection.pendingAcks`).
    indirect case acknowledged(AckTicket)
    /// A message from outside MQTT (a Kafka record) to route like a publish; `routed` is called
    /// on the shard once it has been, so the source may commit it.
    indirect case inject(Message, routed: @Sendable () -> Void)

    /// A publish from another cluster node (the bus): route it on this node only; with
    /// `group`, give it to that shared subscription group only (the sender picked this node).
    indirect case clusterPublish(Message, group: String?)
    /// The cluster's answer to a CONNECT's claim of `clientId` (`ClusterLink.claim`).
    indirect case clusterSession(clientId: String, generation: UInt64, claim: ClusterClaim)
    /// Another node has a new CONNECT for `clientId`: close the connection here, let go of the
    /// session (its store writes done; deleted unless `keepSession`), then call `released`.
    indirect case clusterRelease(clientId: String, keepSession: Bool, released: @Sendable () -> Void)
    /// This node was taken for dead (cut off from MongoDB while the others reached it): the
    /// node that took it over has these clients' persistent sessions now. Let go of them here:
    /// their connections close without their wills (that node published them), nothing more is
    /// written for them, and their clients resume them wherever they connect again.
    indirect case surrenderSessions(Set<String>)
    /// Persistent sessions of a dead cluster node, now this node's: adopt them (offline), give
    /// them and the sessions of `replayTo` (adopted before) `replay` (what the bus carried to
    /// that node lately), then call `adopted`.
    indirect case adoptSessions([StoredSession], replay: [Message], replayTo: [String], adopted: @Sendable () -> Void)

    /// What the store kept, loaded after start-up (MongoDB was unreachable at start): take
    /// these sessions and retained messages, then call `adopted`.
    indirect case adoptStored(sessions: [StoredSession], retained: [Message], adopted: @Sendable () -> Void)
    /// Wills of clients connected when the broker died, to publish (after `adoptStored`).
    indirect case publishStoredWills([StoredWill])

    // MARK: From the process

    /// Close every connection and stop.
    case shutdown
}
