import MQTTWire
import Synchronization

/// An acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK or UNSUBACK) that waits for work on other
/// threads: the bridge taking a publish, and the store writes the packet caused, on the
/// publisher's shard and on every shard its publish was routed to.
///
/// It starts with one holder, the connection's own shard, which releases it once it has handed
/// everything out (`releaseOwnerHold`). Everyone it is handed to retains it first and releases it
/// exactly once; the last release tells the connection's shard (`ShardMessage.acknowledged`),
/// which then sends the acknowledgement in its turn (`ClientConnection.pendingAcks`).
public final class AckTicket: Sendable {
    /// Who failed to do their part; a failed ticket's acknowledgement is never sent.
    public struct Failures: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let bridge = Failures(rawValue: 1)
        public static let store = Failures(rawValue: 2)
        /// The cluster bus could not take a publish for other nodes.
        public static let cluster = Failures(rawValue: 4)
    }

    let connection: ConnectionID
    let sequence: UInt64
    /// For a QoS 2 publish: the publisher's session, which records the packet id as received
    /// when the ticket settles (if it still lives on the shard; its connection may be gone).
    let session: Session?
    let kind: PacketType
    let packetId: UInt16
    /// For a ticket that acknowledges nothing to a client: the store write to make once the
    /// writes it held are durable (a shared subscription's message moved to another member is
    /// removed from the first member's stored queue only after it is stored for the second).
    let followUp: StoreOperation?
    /// For a ticket that acknowledges nothing to a client: called (on any thread) instead of
    /// posting to a shard when it settles (a session handed to another cluster node waits for
    /// its last store writes this way).
    let whenSettled: (@Sendable (Failures) -> Void)?
    private let mailbox: (any ShardMailbox)?
    private let holders = Atomic<Int>(1)
    private let failureBits = Atomic<UInt8>(0)

    init(connection: ConnectionID, sequence: UInt64, session: Session?, kind: PacketType, packetId: UInt16, mailbox: any ShardMailbox) {
        self.connection = connection
        self.sequence = sequence
        self.session = session
        self.kind = kind
        self.packetId = packetId
        self.followUp = nil
        self.whenSettled = nil
        self.mailbox = mailbox
    }

    /// A ticket that makes `followUp` when it settles, on the shard `mailbox` belongs to.
    init(followUp: StoreOperation, mailbox: any ShardMailbox) {
        self.connection = 0
        self.sequence = 0
        self.session = nil
        self.kind = .publish
        self.packetId = 0
        self.followUp = followUp
        self.whenSettled = nil
        self.mailbox = mailbox
    }

    /// A ticket that calls `whenSettled` once the writes it held are durable (or failed).
    init(whenSettled: @escaping @Sendable (Failures) -> Void) {
        self.connection = 0
        self.sequence = 0
        self.session = nil
        self.kind = .publish
        self.packetId = 0
        self.followUp = nil
        self.whenSettled = whenSettled
        self.mailbox = nil
    }

    /// One more party will release this ticket.
    public func retain() {
        holders.wrappingAdd(1, ordering: .relaxed)
    }

    /// One party is done (`failed` empty: successfully). Callable from any thread; the last
    /// release posts the verdict to the connection's shard.
    public func release(failed: Failures = []) {
        if dropHolder(failed: failed) {
            if let whenSettled { whenSettled(failures) } else { mailbox?.post(.acknowledged(self)) }
        }
    }

    /// The connection's shard is done handing the ticket out. True when nobody else holds it:
    /// the shard settles it at once instead of posting to itself.
    func releaseOwnerHold() -> Bool {
        dropHolder(failed: [])
    }

    var failures: Failures { Failures(rawValue: failureBits.load(ordering: .acquiring)) }

    private func dropHolder(failed: Failures) -> Bool {
        if !failed.isEmpty { failureBits.bitwiseOr(failed.rawValue, ordering: .releasing) }
        return holders.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0
    }
}
