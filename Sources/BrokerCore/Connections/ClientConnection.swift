import DequeModule
import MQTTWire

/// Identifies a connection within its shard (never reused during the process's life).
public typealias ConnectionID = UInt64

/// The broker's view of one network connection: where it is in the protocol, who it is, its
/// session, and the bytes waiting to be sent to it. Touched only by its shard's thread.
public final class ClientConnection {
    public enum State: Equatable, Sendable {
        /// Accepted; the first packet must be CONNECT.
        case awaitingConnect
        /// CONNECT received; waiting for the authenticator's verdict (reading paused, later
        /// bytes held).
        case authenticating
        /// CONNECT received; waiting for the session to arrive from another shard.
        case awaitingSession
        /// CONNACK 0 sent.
        case connected
        /// Closing: nothing more is read or routed.
        case closed
    }

    // Stored properties are laid out in declaration order, so the words come first and the
    // bytes share the last words: every idle connection pays for padding.
    public let id: ConnectionID
    /// The bytes waiting to be sent to the client: created on first use, dropped once written
    /// while it is small (`outboundWritten`) or by the tick once idle (`releaseOutboundIfIdle`).
    /// `outboundIfAny` and `outboundBytes` look without creating it.
    public var outbound: OutboundQueue {
        if let outboundQueue { return outboundQueue }
        let queue = OutboundQueue()
        outboundQueue = queue
        return queue
    }
    private var outboundQueue: OutboundQueue?
    public internal(set) var session: Session?
    public internal(set) var clientId = ""
    public internal(set) var username: String?
    /// Loop clock (ms) of the last packet received; keepalive and connect timeout count from it.
    public internal(set) var lastReceivedAt: UInt64
    public internal(set) var openedAt: UInt64
    /// What the client may publish and subscribe to; nil = unrestricted (no ACL configured).
    public internal(set) var permissions: Permissions?
    /// Who the authenticator said the client is (nil without an authenticator); its
    /// `expiresAt` closes the connection when the token expires. Boxed: 57 bytes inline in
    /// every connection, anonymous ones included, against 8 for the reference.
    public internal(set) var identity: Identity? {
        get { identityBox?.value }
        set { identityBox = newValue.map(IdentityBox.init) }
    }
    private var identityBox: IdentityBox?
    /// The will to publish if the connection ends without DISCONNECT.
    var will: Message?
    /// The id under which the store keeps this connection's will (0: not stored).
    var storedWillId: UInt64 = 0
    /// The generation this connection claimed its client id with (see ClientRegistry).
    var registryGeneration: UInt64 = 0
    /// Acknowledgements held until what they wait for is done (the bridge has the publish, the
    /// store has its writes: see `AckTicket`), in packet order (MQTT 3.1.1 §4.6); later
    /// acknowledgements queue behind them while it is not empty.
    var pendingAcks = Deque<PendingAck>()
    /// Sequence number of the next entry appended to `pendingAcks`.
    var nextAckSequence: UInt64 = 0
    /// MQTT 5: what the client asked for in CONNECT (see `ProtocolFive`); nil for 3.1 and 3.1.1.
    var v5: ProtocolFive?
    /// Where the client connects from (logs, authentication, bridge events).
    public let peerAddress: PeerAddress
    /// The transport; unowned because the runtime object owns this connection.
    public unowned let io: any ConnectionIO
    /// QoS 1/2 messages that may be in flight to this client: `max_inflight_messages`, or the
    /// MQTT 5 client's Receive Maximum when lower.
    var inflightLimit: Int {
        get { Int(inflightLimitStorage) }
        set { inflightLimitStorage = Int32(clamping: newValue) }
    }
    private var inflightLimitStorage = Int32.max
    /// How many congested sessions (on any shard) hold this publisher back.
    var congestionHolds: Int32 = 0
    /// Keepalive in seconds from CONNECT (0 = none).
    public internal(set) var keepAlive: UInt16 = 0
    public internal(set) var state: State = .awaitingConnect
    public internal(set) var protocolVersion: ProtocolVersion = .v3_1_1
    public internal(set) var cleanSession = true
    /// Reading stopped because too many acknowledgements are held.
    var readingPausedForAcks = false
    /// Reading is paused for flow control (bridge, congestion or credit), as `ShardEngine.updateFlowPause` decided.
    var readingPausedForFlow = false
    /// Its last publish used up this shard's credit towards another shard (ShardEngine+Credits).
    var awaitingCredit = false

    public init(id: ConnectionID, io: any ConnectionIO, peer: PeerAddress, now: UInt64) {
        self.id = id
        self.io = io
        self.peerAddress = peer
        self.lastReceivedAt = now
        self.openedAt = now
    }

    /// The outbound queue if the connection holds one now (an idle one does not).
    public var outboundIfAny: OutboundQueue? { outboundQueue }

    /// Bytes queued for the client (0 while it has no queue).
    public var outboundBytes: Int { outboundQueue?.totalBytes ?? 0 }

    /// The runtime wrote (or handed to the transport) everything queued: forget it. A queue that
    /// never outgrew its first small buffer (a CONNACK, a PINGRESP, a few acknowledgements) is
    /// dropped at once: freed later, by the tick, a connect burst's queues would leave holes
    /// between longer-lived objects that the heap keeps resident. A busier queue keeps its
    /// buffer for the next turn.
    public func outboundWritten() {
        guard let queue = outboundQueue else { return }
        queue.removeAll()
        if queue.hasOnlyItsFirstBuffer { outboundQueue = nil }
    }

    /// From the tick: drops the queue when nothing was queued since the previous tick, so a
    /// quiet connection holds neither the queue nor its buffer.
    func releaseOutboundIfIdle() {
        if outboundQueue?.isIdle() == true { outboundQueue = nil }
    }

    /// Tells the runtime that `outbound` has new bytes to write, once per flush.
    @inline(__always)
    func outboundChanged() {
        if outbound.requestFlush() { io.outboundChanged() }
    }

    /// The peer address as text ("a.b.c.d:port").
    public var peer: String { peerAddress.description }

    /// The name used in logs: the client id once known, else the peer address.
    public var logName: String { clientId.isEmpty ? peer : "\(clientId) (\(peer))" }
}

/// The per-connection state of MQTT 5 (MQTT 5.0 §3.1.2.11): the limits the client set, the
/// topic aliases it defined, and what its session and will ask for.
final class ProtocolFive {
    /// Largest packet the client accepts (Maximum Packet Size); larger messages are not sent to it.
    var maximumPacketSize = Int.max
    /// Topic aliases the client defined, by alias (at most `limits.topic_alias_maximum`).
    var topicAliases: [UInt16: String] = [:]
    /// Whether reason strings may be sent (Request Problem Information).
    var problemInformation = true
    /// The Session Expiry Interval the connection asked for (before the broker's cap).
    var sessionExpiryInterval: UInt32 = 0
    /// Seconds the will waits after the connection ends (Will Delay Interval).
    var willDelayInterval: UInt32 = 0
    /// The client id the broker assigned (sent in CONNACK).
    var assignedClientId: String?
    /// The keep-alive the broker imposed (sent in CONNACK as Server Keep Alive).
    var serverKeepAlive: UInt16?
    /// `OAUTH2-JWT` when the client authenticated with it (it may then re-authenticate with AUTH).
    var authenticationMethod: String?
    /// An AUTH re-authentication waits for the authenticator.
    var reauthenticating = false
    /// Topic aliases the broker may use towards the client (the client's Topic Alias Maximum).
    var outboundAliasMaximum: UInt16 = 0
    /// The aliases the broker gave topics on this connection.
    var outboundAliases: [String: UInt16] = [:]

    init(_ connect: Connect) {
        let properties = connect.properties
        maximumPacketSize = properties.maximumPacketSize.map { Int($0) } ?? .max
        problemInformation = properties.requestProblemInformation != 0
        sessionExpiryInterval = properties.sessionExpiryInterval ?? 0
        willDelayInterval = connect.will?.properties.willDelayInterval ?? 0
        outboundAliasMaximum = properties.topicAliasMaximum ?? 0
    }
}

/// An acknowledgement waiting for its turn (see `ClientConnection.pendingAcks`).
struct PendingAck {
    enum State { case waiting, done, failed }
    let sequence: UInt64
    /// `.puback`, `.pubrec`, `.pubcomp`, `.suback` or `.unsuback`.
    let kind: PacketType
    let packetId: UInt16
    /// SUBACK and MQTT 5 UNSUBACK: one code per filter (sent to 3.1.1 clients as 3.1.1 codes).
    var reasonCodes: [ReasonCode] = []
    /// MQTT 5 PUBACK/PUBREC: the reason code (a refusal: not authorized, payload format invalid).
    var reason: ReasonCode = .success
    var state: State
}

/// An `Identity` behind a reference (see `ClientConnection.identity`).
final class IdentityBox {
    let value: Identity
    init(_ value: Identity) { self.value = value }
}
