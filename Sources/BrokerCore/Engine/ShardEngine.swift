import Logging
import MQTTWire

/// The MQTT broker logic of one shard, free of I/O: it is fed received bytes, closed
/// connections, inbox messages and clock ticks, and answers by queueing bytes on connections,
/// asking the runtime to flush or close them, and posting messages to other shards.
///
/// Everything here runs on the shard's own thread; nothing is shared with other shards except
/// through `ShardMessage`s and the `BrokerContext`.
public final class ShardEngine {
    public let shardIndex: Int
    public let context: BrokerContext
    let limits: BrokerLimits
    unowned let environment: any ShardEnvironment
    var logger: Logger

    /// Sessions owned by this shard, online or offline, by client id.
    public internal(set) var sessions: [String: Session] = [:]
    /// Open connections, by id.
    public internal(set) var connections: [ConnectionID: ClientConnection] = [:]
    /// CONNECTs waiting for a session from another shard, by client id.
    var pendingConnects: [String: PendingConnect] = [:]
    /// Sessions moving to another shard, waiting for every shard to route to it (ShardEngine+Handover).
    var handovers: [String: Handover] = [:]
    /// Messages kept for sessions moving to this shard, until they arrive.
    var parkedHandovers: [String: ParkedHandover] = [:]
    /// Cross-shard credit (ShardEngine+Credits): per other shard, QoS 1/2 publishes posted there
    /// and not yet credited back, those applied here since the last credit sent, and the
    /// connections waiting for credit from it.
    let creditWindow: Int
    let congestedQueueLimit: Int
    var postsInFlight: [Int]
    var appliedSinceCredit: [Int]
    var creditWaiters: [[ClientConnection]]
    /// Takeovers asked of this shard while it waited for that id's session itself (a CONNECT
    /// here, a hand-over to here, takeovers it sent): answered when the session arrives.
    var deferredTakeovers: [String: DeferredTakeover] = [:]
    /// Takeovers this shard sent, per client id, whose `sessionTransfer` has not come yet.
    var unansweredTakeovers: [String: UnansweredTakeovers] = [:]
    /// CONNECTs waiting for the authenticator's verdict, by connection (kept here rather than on
    /// every connection: an idle connection should not carry a CONNECT it no longer needs).
    var pendingAuthentications: [ConnectionID: ConnectRequest] = [:]
    /// Connected sessions holding publishers back, by client id (see ShardEngine+FlowControl).
    var congestedSessions: [String: Session] = [:]
    /// Offline sessions whose MQTT 5 will waits for its delay, by client id.
    var sessionsWithDelayedWills: [String: Session] = [:]
    public let subscriptions: SubscriptionIndex
    public let retained = RetainedStore()
    /// Hot-path counters, published to `context.stats` each tick.
    public internal(set) var counters = ShardCounters()
    var connectedCount = 0
    /// Of `connectedCount`, the MQTT 5 connections.
    var connectedV5Count = 0
    private var nextConnectionId: ConnectionID = 0
    var lastSysPublish: UInt64 = 0
    var lastExpirySweep: UInt64 = 0
    var lastPersistentRecount: UInt64 = 0
    /// Whether persistent sessions and retained messages go to `context.store`.
    let hasStore: Bool
    /// Whether acknowledgements wait for store writes now: always with `acknowledged`
    /// durability, with `relaxed` only while the store lags behind its flush interval.
    var storeWaits: Bool { hasStore && context.store!.waitsForWrites }
    /// Store writes of this loop turn, handed to the store by `flushStoreWrites`.
    var pendingStoreWrites: [StoreWrite] = []
    /// The acknowledgement the publish being routed owes, for the store writes its deliveries
    /// make (see `ticketForStoreWrite`).
    var routingAck: RoutingAck?
    /// True while routing a publish that came from another cluster node (it must not go back).
    var routingFromCluster = false
    /// Set by `shutdown`: nothing moves between shared subscription members any more.
    var isShuttingDown = false

    public init(shardIndex: Int, context: BrokerContext, environment: any ShardEnvironment, logger: Logger) {
        self.shardIndex = shardIndex
        self.context = context
        self.limits = context.settings.limits
        creditWindow = Self.creditWindow(maxQueuedMessages: context.settings.limits.maxQueuedMessages)
        congestedQueueLimit = Self.congestedQueueLimit(maxQueuedMessages: context.settings.limits.maxQueuedMessages)
        postsInFlight = Array(repeating: 0, count: context.shardCount)
        appliedSinceCredit = Array(repeating: 0, count: context.shardCount)
        creditWaiters = Array(repeating: [], count: context.shardCount)
        self.subscriptions = SubscriptionIndex(shardIndex: shardIndex, shardCount: context.shardCount)
        self.hasStore = context.store != nil
        self.environment = environment
        self.logger = logger
        self.logger[metadataKey: "shard"] = "\(shardIndex)"
    }

    // MARK: - Connections

    /// Registers a newly accepted connection.
    public func connectionOpened(io: any ConnectionIO, peer: PeerAddress) -> ClientConnection {
        nextConnectionId += 1
        let connection = ClientConnection(id: nextConnectionId, io: io, peer: peer, now: environment.now)
        connections[connection.id] = connection
        counters.connectionsAccepted += 1
        return connection
    }

    /// The transport ended (peer closed, reset, I/O error): an abnormal close, so the will goes out.
    public func connectionLost(_ connection: ClientConnection) {
        close(connection, publishWill: true, reason: "connection lost")
    }

    /// Handles bytes received on `connection` and returns how many were consumed. Bytes not
    /// consumed (an incomplete packet, or what follows a CONNECT that waits for its session) must
    /// be passed again, with more bytes after them (the runtime keeps them in the connection's
    /// `ReceiveBuffer`). Framing is `PacketFramer`'s, the loop the tests and fuzzers replay.
    public func receive(_ bytes: UnsafeRawBufferPointer, on connection: ClientConnection) -> Int {
        let consumed: Int
        do {
            consumed = try PacketFramer.frames(
                in: bytes, maxPacketSize: limits.maxPacketSize,
                proceed: { rest in readsNextPacket(rest, on: connection) },
                handle: { header, body in
                    handleFrame(header, body: body, on: connection)
                    return true
                })
        } catch {
            protocolViolation(connection, reason: "\(error)", code: error.reasonCode)
            return bytes.count
        }
        return connection.state == .closed ? bytes.count : consumed
    }

    /// Whether the packet starting `rest` is read now. Nothing is read while the CONNECT waits
    /// for the authenticator or its session, or while flow control holds the client; a first
    /// packet that is not CONNECT is refused from its first byte, before its body is waited for.
    @inline(__always)
    private func readsNextPacket(_ rest: UnsafeRawBufferPointer, on connection: ClientConnection) -> Bool {
        switch connection.state {
        case .connected:
            return !connection.readingPausedForFlow
        case .awaitingConnect:
            guard rest[0] >> 4 == PacketType.connect.rawValue else {
                protocolViolation(connection, reason: "first packet is not CONNECT")
                return false
            }
            return !connection.readingPausedForFlow
        case .authenticating, .awaitingSession, .closed:
            return false
        }
    }

    @inline(__always)
    private func handleFrame(_ header: FrameHeader, body: UnsafeRawBufferPointer, on connection: ClientConnection) {
        connection.lastReceivedAt = environment.now
        do {
            let packet = try Packet.decode(
                header: header, body: body, protocolVersion: connection.protocolVersion,
                maxTopicLevels: limits.maxTopicLevels)
            handle(packet, on: connection)
        } catch {
            if connection.state == .awaitingConnect, let code = error.connectReturnCode {
                refuseConnect(connection, code: code, reason: "\(error)")
            } else {
                protocolViolation(connection, reason: "\(error)", code: error.reasonCode)
            }
        }
    }

    private func handle(_ packet: Packet, on connection: ClientConnection) {
        switch packet {
        case .connect(let connect):
            guard connection.state == .awaitingConnect else {
                protocolViolation(connection, reason: "second CONNECT")
                return
            }
            handleConnect(connect, on: connection)
        case .publish(let publish):
            handlePublish(publish, on: connection)
        case .puback(let packetId):
            handlePuback(packetId, on: connection)
        case .pubrec(let packetId):
            handlePubrec(packetId, on: connection)
        case .pubrecFailed(let packetId):
            handlePubrecFailed(packetId, on: connection)
        case .pubrel(let packetId):
            handlePubrel(packetId, on: connection)
        case .pubcomp(let packetId):
            handlePubcomp(packetId, on: connection)
        case .subscribe(let subscribe):
            handleSubscribe(subscribe, on: connection)
        case .unsubscribe(let unsubscribe):
            handleUnsubscribe(unsubscribe, on: connection)
        case .pingreq:
            sendPingresp(to: connection)
        case .disconnect(let disconnect):
            handleDisconnect(disconnect, on: connection)
        case .auth(let auth):
            handleAuth(auth, on: connection)
        case .connack, .suback, .unsuback, .pingresp:
            protocolViolation(connection, reason: "server-to-client packet sent by the client")
        }
    }

    /// The `reason` of a close the client asked for with DISCONNECT (logs, metrics).
    static let clientDisconnectReason = "DISCONNECT"

    /// Closes `connection` for breaking the protocol. MQTT 3.1.1: the server closes the network
    /// connection, and that is an abnormal close (the will is published). An MQTT 5 client is
    /// told why first (DISCONNECT with `code`).
    func protocolViolation(_ connection: ClientConnection, reason: String, code: ReasonCode = .protocolError) {
        counters.protocolErrors += 1
        logger.debug("protocol violation, closing", metadata: ["client": "\(connection.logName)", "reason": "\(reason)"])
        close(connection, publishWill: true, reason: reason, disconnect: code)
    }

    /// Ends `connection`: publishes its will when asked (after its MQTT 5 Will Delay Interval,
    /// while its session lives), detaches its session (discarding a clean one) and asks the
    /// runtime to flush and close. A connected MQTT 5 client gets a DISCONNECT with `disconnect`
    /// first, when given. Safe to call more than once.
    func close(_ connection: ClientConnection, publishWill: Bool, reason: String, disconnect: ReasonCode? = nil) {
        guard connection.state != .closed else { return }
        let wasConnected = connection.state == .connected
        if wasConnected, let disconnect, connection.v5 != nil { sendDisconnect(disconnect, reasonString: reason, to: connection) }
        if connection.state == .awaitingSession, let pending = pendingConnects[connection.clientId],
           pending.connection === connection {
            // The id stays claimed by this shard (even for a clean session): an older
            // connection elsewhere may still hold it until its takeover's answers are in, and
            // the next CONNECT must ask this shard, not find the id free.
            pendingConnects[connection.clientId] = nil
        }
        if connection.state == .authenticating { pendingAuthentications[connection.id] = nil }
        connection.state = .closed
        connections[connection.id] = nil
        if wasConnected {
            counters.disconnects[DisconnectCategory.allCases.firstIndex(
                of: DisconnectCategory(code: disconnect, clientDisconnected: reason == Self.clientDisconnectReason))!] += 1
            connectedCount -= 1
            if connection.v5 != nil { connectedV5Count -= 1 }
            logger.debug("client disconnected", metadata: ["client": "\(connection.logName)", "reason": "\(reason)"])
            context.bridge?.clientDisconnected(bridgeClient(for: connection), reason: reason)
        }
        if publishWill, let will = connection.will {
            connection.will = nil
            if let session = connection.session, let delay = willDelay(of: connection, session: session) {
                // Published later unless the session resumes first; its stored copy stays until then.
                delayWill(will, storedWillId: connection.storedWillId, of: session, by: delay)
                connection.storedWillId = 0
            } else {
                route(will)
            }
        }
        connection.will = nil
        if connection.storedWillId != 0 {
            // Published or not owed any more (DISCONNECT, shutdown): either way it is done.
            recordStoreWrite(.deleteWill(clientId: connection.clientId, willId: connection.storedWillId))
            connection.storedWillId = 0
        }
        if let session = connection.session {
            connection.session = nil
            detach(session, from: connection)
        }
        connection.io.close()
    }

    /// The session's connection is gone: a clean session ends, a persistent one goes offline.
    private func detach(_ session: Session, from connection: ClientConnection) {
        guard session.connection === connection else { return }
        session.connection = nil
        releasePublishers(of: session)
        if session.cleanSession {
            discard(session)
            context.registry.release(session.clientId, generation: connection.registryGeneration)
        } else {
            session.offlineSince = environment.now
            recordSession(session, connected: false)
            sharedMemberWentOffline(session)
        }
    }

    /// Removes `session` and its subscriptions from this shard; what its shared subscriptions
    /// gave it and it did not acknowledge goes to other members.
    func discard(_ session: Session) {
        releasePublishers(of: session)
        removeSubscriptions(of: session)
        if sessions[session.clientId] === session { sessions[session.clientId] = nil }
        redistributeShared(of: session)
    }

    func removeSubscriptions(of session: Session) {
        for filter in session.subscriptions.keys { unindexSubscription(of: session, filter: filter) }
    }

    func addSubscriptions(of session: Session) {
        for (filter, options) in session.subscriptions { indexSubscription(of: session, filter: filter, options: options) }
    }

    /// Tells every other shard (and, `toCluster`, the other nodes) that this shard now holds (or
    /// no longer holds) `filter`.
    func broadcastInterest(filter: String, interested: Bool, toCluster: Bool = true) {
        for shard in 0..<context.shardCount where shard != shardIndex {
            environment.post(.interest(filter: filter, shard: shardIndex, interested: interested), to: shard)
        }
        if toCluster { context.cluster?.localInterest(filter: filter, interested: interested) }
    }

    // MARK: - Shutdown

    /// Closes every connection (no wills: the broker, not the client, ends them) and stops.
    public func shutdown() {
        // Members going offline now keep their messages: the other shards are stopping too.
        isShuttingDown = true
        for connection in Array(connections.values) {
            connection.will = nil
            close(connection, publishWill: false, reason: "broker shutting down", disconnect: .serverShuttingDown)
        }
    }
}
