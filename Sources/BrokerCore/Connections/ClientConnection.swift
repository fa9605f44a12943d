import DequeModule
import MQTTWire

/// Identifies a connection within its shard (never reused during the process's life).
package typealias ConnectionID = UInt64

/// The broker's view of one network connection: where it is in the protocol, who it is, its
/// session, and the bytes waiting to be sent to it. Touched only by its shard's thread.
package final class ClientConnection {
    package enum State: Equatable, Sendable {
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

    package let id: ConnectionID
    package internal(set) var state: State = .awaitingConnect
    package let outbound = OutboundQueue()
    package internal(set) var session: Session?
    package internal(set) var clientId = ""
    package internal(set) var username: String?
    package internal(set) var protocolVersion: ProtocolVersion = .v3_1_1
    package internal(set) var cleanSession = true
    /// Keepalive in seconds from CONNECT (0 = none).
    package internal(set) var keepAlive: UInt16 = 0
    /// Loop clock (ms) of the last packet received; keepalive and connect timeout count from it.
    package internal(set) var lastReceivedAt: UInt64
    package internal(set) var openedAt: UInt64
    /// What the client may publish and subscribe to; nil = unrestricted (no ACL configured).
    package internal(set) var permissions: Permissions?
    /// Who the authenticator said the client is (nil without an authenticator); its
    /// `expiresAt` closes the connection when the token expires.
    package internal(set) var identity: Identity?
    /// The will to publish if the connection ends without DISCONNECT.
    var will: Message?
    /// The generation this connection claimed its client id with (see ClientRegistry).
    var registryGeneration: UInt64 = 0
    /// PUBACK/PUBRECs held until the bridge has the publish, in PUBLISH order (MQTT 3.1.1
    /// §4.6); acknowledgements of other publishes queue behind them while it is not empty.
    var pendingAcks = Deque<PendingAck>()
    /// Sequence number of the next entry appended to `pendingAcks`.
    var nextAckSequence: UInt64 = 0
    /// Reading stopped because too many publishes wait for the bridge.
    var readingPausedForBridge = false
    /// How many congested sessions (on any shard) hold this publisher back.
    var congestionHolds: Int32 = 0
    /// Reading is paused for flow control (bridge or congestion), as `ShardEngine.updateFlowPause` decided.
    var readingPausedForFlow = false
    /// Peer address for logs.
    package let peer: String
    /// The transport. The runtime object owns this connection and lives until after the engine
    /// has closed it, and a closed connection is unreachable from the engine (no table, session
    /// or pending CONNECT refers to it), so the engine never calls `io` on a freed transport.
    /// `unowned(unsafe)`: checked `unowned` costs an atomic retain and release per call, and
    /// `outboundChanged` is called for every packet queued.
    package unowned(unsafe) let io: any ConnectionIO

    package init(id: ConnectionID, io: any ConnectionIO, peer: String, now: UInt64) {
        self.id = id
        self.io = io
        self.peer = peer
        self.lastReceivedAt = now
        self.openedAt = now
    }

    /// Tells the runtime that `outbound` has new bytes to write.
    @inline(__always)
    func outboundChanged() {
        io.outboundChanged()
    }

    /// The name used in logs: the client id once known, else the peer address.
    package var logName: String { clientId.isEmpty ? peer : "\(clientId) (\(peer))" }
}

/// An acknowledgement waiting for its turn (see `ClientConnection.pendingAcks`).
struct PendingAck {
    enum State { case waiting, done, failed }
    let sequence: UInt64
    /// `.puback` or `.pubrec`.
    let kind: PacketType
    let packetId: UInt16
    var state: State
}
