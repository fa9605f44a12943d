import BrokerCore

/// The medium that carries publishes between cluster nodes (`MongoClusterBus` here; another
/// engine, Kafka for one, can stand behind the same protocol). It numbers what each origin sends
/// to each destination; receivers check the numbers with `BusSequenceCheck`.
package protocol ClusterBus: Sendable {
    /// Starts writing and reading. `receive` is called on the bus's own thread, in the order
    /// each origin sent them, for every message addressed to this node.
    func start(receive: @escaping @Sendable (BusDelivery) -> Void)
    /// Queues `payload` for the nodes named; `completion(true)` once the bus holds it durably,
    /// `false` if it never will (nil: nobody waits). Returns at once. What one node sends
    /// another arrives in the order sent, publishes and the rest alike.
    func send(_ payload: BusPayload, to nodes: [String], completion: (@Sendable (Bool) -> Void)?)
    /// Messages queued and not yet written.
    var pending: Int { get }
    /// Messages nobody waited for that were dropped because the bus was too far behind.
    var droppedCount: Int { get }
    /// Whether the last write and read reached the bus.
    var isAvailable: Bool { get }
}

/// What travels between nodes.
package enum BusPayload: Sendable {
    /// A publish for the receiver's subscribers, or for its members of the shared subscription
    /// group `group` only.
    case publish(Message, group: String?)
    /// The sender has a new CONNECT for `clientId`: close its connection here and let go of
    /// the session (kept in MongoDB for the sender when `keepSession`), then answer `released`.
    case takeover(clientId: String, keepSession: Bool)
    /// The answer to `takeover`: the session's last writes are in MongoDB.
    case released(clientId: String)
}

/// What one bus document brings a receiver.
package struct BusDelivery: Sendable {
    package var origin: String
    /// The origin node's run (changes at each start), and its number for this receiver (one
    /// per document, which may carry several payloads, in the order sent).
    package var epoch: Int64
    package var sequence: Int64
    package var payloads: [BusPayload]
    /// When the origin wrote it (ms since the epoch), for the lag figure.
    package var writtenAtMilliseconds: Int64
    /// The bus's own name for the document that carried it, when it has one.
    package var documentId: String?
}

/// A receiver's check of the numbers each origin gives the messages it sends here: a repeat is
/// dropped, a jump is a gap (messages that never arrived: the bus lost them, or this node read
/// too late) and is counted, never hidden.
package struct BusSequenceCheck: Sendable {
    package enum Verdict: Equatable {
        case deliver
        /// Seen before (a resumed stream replaying): drop.
        case duplicate
        /// `missed` messages before this one never came; deliver this one.
        case gap(missed: Int64)
    }

    private var last: [String: (epoch: Int64, sequence: Int64)] = [:]

    package init() {}

    package mutating func check(origin: String, epoch: Int64, sequence: Int64) -> Verdict {
        guard let previous = last[origin], previous.epoch == epoch else {
            // The first from this run of the origin: nothing to compare with (this node may
            // have started after the origin began numbering for it).
            last[origin] = (epoch, sequence)
            return .deliver
        }
        if sequence <= previous.sequence { return .duplicate }
        last[origin] = (epoch, sequence)
        return sequence == previous.sequence + 1 ? .deliver : .gap(missed: sequence - previous.sequence - 1)
    }
}
