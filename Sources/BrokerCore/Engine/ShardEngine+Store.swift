import Logging
import Synchronization
import MQTTWire

/// What the engine tells the store (`SessionStore`), and how it takes back what the store kept
/// across a restart. Only persistent sessions (clean session 0), retained messages and wills are
/// written; clean sessions' traffic and QoS 0 never touch the store.
extension ShardEngine {
    /// Queues a write for the end of this loop turn; `ticket` (retained here) is released by
    /// the store once the write is durable.
    func recordStoreWrite(_ operation: StoreOperation, ticket: AckTicket? = nil) {
        ticket?.retain()
        pendingStoreWrites.append(StoreWrite(operation, ticket: ticket))
    }

    /// Hands this loop turn's writes to the store (the runtime calls it before polling).
    public func flushStoreWrites() {
        guard !pendingStoreWrites.isEmpty, let store = context.store else { return }
        let writes = pendingStoreWrites
        pendingStoreWrites.removeAll(keepingCapacity: true)
        store.submit(writes, from: shardIndex)
    }

    /// A QoS 1/2 message given to a persistent session: stored under the session's next
    /// sequence number, holding the ticket of the publish being routed. Returns that number,
    /// or 0 when nothing is stored (a clean session, or no store).
    func recordEnqueue(
        _ message: Message, qos: QoS, retain: Bool, packetId: UInt16, stage: StoredQueueEntry.Stage, in session: Session,
        sharedGroup: SharedGroupID, identifier: UInt32 = 0
    ) -> UInt64 {
        guard hasStore && !session.cleanSession else { return 0 }
        let sequence = session.nextStoreSequence
        session.nextStoreSequence += 1
        recordStoreWrite(
            .enqueue(clientId: session.clientId, entry: StoredQueueEntry(
                sequence: sequence, message: message, qos: qos, retain: retain, packetId: packetId, stage: stage,
                sharedGroup: sharedGroupKey(sharedGroup), subscriptionIdentifier: identifier)),
            ticket: ticketForStoreWrite())
        return sequence
    }

    /// The stored name of a shared subscription group (nil for none).
    private func sharedGroupKey(_ id: SharedGroupID) -> String? {
        guard id != .none else { return nil }
        return subscriptions.sharedGroupsByID[id]?.key ?? context.sharedGroupIDs.key(for: id)
    }

    /// The number of a stored shared subscription group name.
    private func sharedGroupID(_ key: String?) -> SharedGroupID {
        key.map { context.sharedGroupIDs.id(for: $0) } ?? .none
    }

    /// A stored queue entry is done (completed, or dropped); 0 means it was never stored.
    func recordDequeue(_ sequence: UInt64, of session: Session) {
        guard sequence != 0 else { return }
        recordStoreWrite(.dequeue(clientId: session.clientId, sequence: sequence))
    }

    /// An inbound QoS 2 packet id of a persistent session, written before its PUBREC goes out
    /// (it holds the ticket of the publish being routed).
    func recordInboundQoS2(_ packetId: UInt16, of session: Session) {
        guard hasStore && !session.cleanSession else { return }
        recordStoreWrite(.addInboundQoS2(clientId: session.clientId, packetId: packetId), ticket: ticketForStoreWrite())
    }

    /// Sends an acknowledgement once `operation` is durable (with `acknowledged` durability; in
    /// order with those held before it), or at once, the write trailing behind (`relaxed`).
    func acknowledge(
        _ kind: PacketType, packetId: UInt16, reasonCodes: [ReasonCode] = [], after operation: StoreOperation,
        on connection: ClientConnection
    ) {
        if storeWaits {
            let ticket = holdAcknowledgement(kind, packetId: packetId, reasonCodes: reasonCodes, on: connection)
            recordStoreWrite(operation, ticket: ticket)
            releaseOwnerHold(ticket)
        } else {
            recordStoreWrite(operation)
            acknowledge(kind, packetId: packetId, reasonCodes: reasonCodes, on: connection)
        }
    }

    /// The write that saves a persistent session's subscriptions and connection state (nil for a
    /// clean session, or without a store).
    func sessionRecord(_ session: Session, connected: Bool) -> StoreOperation? {
        guard hasStore && !session.cleanSession else { return nil }
        let subscriptions = session.subscriptions
            .map { StoredSubscription(filter: $0.key, options: $0.value) }
            .sorted { $0.filter < $1.filter }
        return .saveSession(
            clientId: session.clientId, subscriptions: subscriptions, connected: connected, lastSeen: environment.wallClockSeconds,
            expiryInterval: session.expiryInterval)
    }

    /// Writes a persistent session's subscriptions and connection state, acknowledging nothing.
    func recordSession(_ session: Session, connected: Bool) {
        if let record = sessionRecord(session, connected: connected) { recordStoreWrite(record) }
    }

    /// Tells the other shards, before anything else happens, that this shard now holds a
    /// persistent session with subscriptions (see `ShardStats.holdsPersistentSubscriptions`).
    /// Called wherever subscriptions of a persistent session arrive on a shard: SUBSCRIBE, a
    /// resumed or handed-over session, `adopt`.
    func notePersistentSubscriptions(of session: Session) {
        guard hasStore, !session.cleanSession, !session.subscriptions.isEmpty else { return }
        let stats = context.stats[shardIndex]
        if !stats.holdsPersistentSubscriptions.load(ordering: .relaxed) {
            stats.holdsPersistentSubscriptions.store(true, ordering: .releasing)
        }
    }

    /// The periodic recount: clears the flag once no persistent session here has subscriptions.
    func recountPersistentSubscriptions() {
        let stats = context.stats[shardIndex]
        guard hasStore, stats.holdsPersistentSubscriptions.load(ordering: .relaxed) else { return }
        if !sessions.values.contains(where: { !$0.cleanSession && !$0.subscriptions.isEmpty }) {
            stats.holdsPersistentSubscriptions.store(false, ordering: .releasing)
        }
    }

    /// A persistent session ended (clean session 1 replaced it, or it expired).
    func recordSessionDeleted(_ clientId: String) {
        guard hasStore else { return }
        recordStoreWrite(.deleteSession(clientId: clientId))
    }

    // MARK: - Start-up

    /// Takes a session loaded from the store as this shard's own, offline, with its queue and
    /// in-flight messages as they were (resent with DUP when the client returns). Called before
    /// the shard's thread starts.
    public func adopt(_ stored: StoredSession) {
        let session = makeSession(from: stored)
        sessions[stored.clientId] = session
        notePersistentSubscriptions(of: session)
        _ = context.registry.claim(stored.clientId, shard: shardIndex)
        addSubscriptions(of: session)
    }

    /// A stored session as a live one of this shard (not yet in its tables or index), offline
    /// since its `last_seen`.
    func makeSession(from stored: StoredSession) -> Session {
        let session = Session(clientId: stored.clientId, cleanSession: false)
        // Shared ones under their canonical key (an older build may have stored `$queue/x`).
        for subscription in stored.subscriptions { session.subscriptions[subscriptionKey(subscription.filter)] = subscription.options }
        session.inboundQoS2 = Set(stored.inboundQoS2)
        session.expiryInterval = stored.expiryInterval
        for entry in stored.entries {
            switch entry.stage {
            case .queued:
                session.queue.append(QueuedMessage(
                    message: entry.message, qos: entry.qos, retain: entry.retain, sharedGroup: sharedGroupID(entry.sharedGroup),
                    subscriptionIdentifier: entry.subscriptionIdentifier, storeSequence: entry.sequence))
            case .sent, .released:
                session.inflight.append(InflightMessage(
                    packetId: entry.packetId, sharedGroup: sharedGroupID(entry.sharedGroup), message: entry.message,
                    qos: entry.qos, retain: entry.retain,
                    stage: entry.stage == .released ? .awaitingPubcomp : entry.qos == .atLeastOnce ? .awaitingPuback : .awaitingPubrec,
                    subscriptionIdentifier: entry.subscriptionIdentifier, storeSequence: entry.sequence))
                session.lastPacketId = max(session.lastPacketId, entry.packetId)
            }
            session.nextStoreSequence = max(session.nextStoreSequence, entry.sequence + 1)
        }
        let offlineFor = UInt64(max(0, environment.wallClockSeconds - stored.lastSeen)) * 1000
        session.offlineSince = environment.now > offlineFor ? environment.now - offlineFor : 0
        return session
    }

    /// A retained message loaded from the store (every shard keeps a replica).
    public func adoptRetained(_ message: Message) {
        retained.store(message)
    }

    /// Wills the store kept for clients that were connected when the broker (or their cluster
    /// node) died: their connections ended without DISCONNECT, so their wills are published now
    /// (once: each is deleted as it goes out). Called on one shard, after every shard has its
    /// sessions. The caller has left out the clients that connected since (`StoredWill.owed`),
    /// decided before the stored sessions were adopted: an adopted persistent session claims its
    /// client id too, and its client's will is owed.
    public func publishStoredWills(_ wills: [StoredWill]) {
        for will in wills {
            logger.info("publishing the will of a client connected when the broker stopped", metadata: [
                "client": "\(will.clientId)", "topic": "\(will.message.topic)",
            ])
            route(will.message)
            recordStoreWrite(.deleteWill(clientId: will.clientId, willId: will.willId))
        }
    }

    /// What the store kept, arriving while the broker already serves (MongoDB was unreachable
    /// at start; persistent CONNECTs were refused meanwhile). A client id in use now connected
    /// with clean session 1, which ends any session it had: its stored one is deleted. A topic
    /// retained since then keeps its newer message.
    func adoptLate(_ stored: [StoredSession], retained messages: [Message]) {
        let cleanSince = context.cleanConnectsBeforeLoad.withLock { $0 }
        for session in stored {
            if context.registry.owner(of: session.clientId) != nil || cleanSince.contains(session.clientId) {
                recordSessionDeleted(session.clientId)
            } else {
                adopt(session)
            }
        }
        for message in messages where retained.message(topic: message.topic) == nil {
            retained.store(message)
        }
    }
}
