import Logging
import MQTTWire

/// Session takeover across shards, both sides. The asking side: a CONNECT claims its client id
/// in the `ClientRegistry`; when another shard owned it, the connection waits (`PendingConnect`)
/// while a `takeover` goes there. The answering side closes the old connection (its will is
/// published), removes the session from its tables and sends it back in a `sessionTransfer`
/// (nil for clean session); the asking side then finishes the CONNECT. The runtime applies
/// everything already posted to the old shard before it answers (see `Shard`), so publishes
/// acknowledged before the reconnect reach the session before it moves.

/// A CONNECT waiting for the session of its client id to come from another shard.
struct PendingConnect {
    let connection: ClientConnection
    let request: ConnectRequest
    let generation: UInt64
}

extension ShardEngine {
    // MARK: - Asking side

    /// Takes ownership of the client id, then finishes the CONNECT here or waits for the old
    /// owner shard to hand the session over.
    func claimClientId(_ request: ConnectRequest, for connection: ClientConnection) {
        let (previous, generation) = context.registry.claim(request.clientId, shard: shardIndex)
        connection.registryGeneration = generation
        guard let previous, previous.shard != shardIndex else {
            let existing = takeOverLocally(request.clientId, keepSession: !request.cleanSession)
            if existing == nil, let cluster = context.cluster {
                // Not held on this node: another node may hold it (see ShardEngine+Cluster).
                claimAcrossCluster(request, for: connection, generation: generation, cluster: cluster)
                return
            }
            completeConnect(connection, request: request, existing: existing)
            return
        }
        awaitSession(request, for: connection, generation: generation)
        environment.post(
            .takeover(clientId: request.clientId, newShard: shardIndex, generation: generation, keepSession: !request.cleanSession),
            to: previous.shard)
    }

    /// Parks the CONNECT (reading paused) until its session arrives (`receiveSession`).
    func awaitSession(_ request: ConnectRequest, for connection: ClientConnection, generation: UInt64) {
        connection.state = .awaitingSession
        if let stale = pendingConnects[request.clientId] {
            close(stale.connection, publishWill: true, reason: "taken over", disconnect: .sessionTakenOver)
        }
        pendingConnects[request.clientId] = PendingConnect(connection: connection, request: request, generation: generation)
        connection.io.pauseReading()
    }

    /// Closes a local connection that holds `clientId` (session takeover) and returns the
    /// session it leaves behind, removed from this shard's tables. The old connection's will is
    /// published unless its persistent session continues (`keepSession`: the new CONNECT has
    /// clean session 0), as Mosquitto does and MQTT 5 requires (§3.1.3.2.2).
    func takeOverLocally(_ clientId: String, keepSession: Bool) -> Session? {
        if let pending = pendingConnects.removeValue(forKey: clientId) {
            close(pending.connection, publishWill: true, reason: "taken over", disconnect: .sessionTakenOver)
        }
        guard let session = sessions.removeValue(forKey: clientId) else { return nil }
        if let old = session.connection {
            // Detach first so closing the old connection neither discards nor releases the session.
            session.connection = nil
            old.session = nil
            releasePublishers(of: session)
            let continues = keepSession && !session.cleanSession
            close(old, publishWill: !continues, reason: "taken over", disconnect: .sessionTakenOver)
        }
        removeSubscriptions(of: session)
        return session
    }

    // MARK: - Answering side

    /// A client with this id connected on `newShard`: close the local connection and hand the
    /// session over (`keepSession`) or discard it.
    func answerTakeover(_ clientId: String, newShard: Int, generation: UInt64, keepSession: Bool) {
        let session = takeOverLocally(clientId, keepSession: keepSession)
        let handed = keepSession && session?.cleanSession == false ? session : nil
        if let session, handed == nil {
            if !session.cleanSession { recordSessionDeleted(clientId) }
            redistributeShared(of: session)
        }
        // What this shard wrote for the session reaches the store before the new shard writes.
        flushStoreWrites()
        environment.post(.sessionTransfer(clientId: clientId, generation: generation, session: handed), to: newShard)
    }

    // MARK: - The session arrives

    /// A session handed over by another shard: finish the CONNECT that asked for it. When that
    /// CONNECT is gone (closed, or taken over again meanwhile), keep a persistent session here
    /// only if this shard still owns the client id; otherwise pass it on to the owner.
    func receiveSession(_ session: Session?, clientId: String, generation: UInt64) {
        if let pending = pendingConnects[clientId], pending.generation == generation {
            pendingConnects[clientId] = nil
            completeConnect(pending.connection, request: pending.request, existing: session)
            pending.connection.io.resumeReading()
            return
        }
        guard let session else { return }
        guard let owner = context.registry.owner(of: clientId) else { return }
        if owner.shard == shardIndex {
            guard sessions[clientId] == nil, pendingConnects[clientId] == nil else { return }
            session.offlineSince = environment.now
            sessions[clientId] = session
            if session.delayedWill != nil { sessionsWithDelayedWills[clientId] = session }
            notePersistentSubscriptions(of: session)
            addSubscriptions(of: session)
        } else {
            environment.post(.sessionTransfer(clientId: clientId, generation: owner.generation, session: session), to: owner.shard)
        }
    }
}
