import Logging
import MQTTWire

/// Session takeover across shards, both sides. The asking side: a CONNECT claims its client id
/// in the `ClientRegistry`; when another shard owned it, the connection waits (`PendingConnect`)
/// while a `takeover` goes there. The answering side closes the old connection (its will is
/// published), removes the session from its tables and sends it back in a `sessionTransfer`
/// (nil for clean session); the asking side then finishes the CONNECT. A persistent session with
/// subscriptions moves through the barrier of ShardEngine+Handover, so that nothing posted to
/// the old shard before, or routed there while the others learn of the move, is lost.

/// A CONNECT waiting for the session of its client id to come from another shard.
struct PendingConnect {
    let connection: ClientConnection
    let request: ConnectRequest
    let generation: UInt64
}

/// A takeover that must wait for the session this shard is itself waiting for.
struct DeferredTakeover {
    let newShard: Int
    let generation: UInt64
    let keepSession: Bool
    /// The generation of the transfer it waits for (the one this shard's CONNECT asked for).
    let awaiting: UInt64
}

extension ShardEngine {
    // MARK: - Asking side

    /// Takes ownership of the client id, then finishes the CONNECT here or waits for the old
    /// owner shard to hand the session over.
    func claimClientId(_ request: ConnectRequest, for connection: ClientConnection) {
        let (previous, generation) = context.registry.claim(request.clientId, shard: shardIndex)
        connection.registryGeneration = generation
        if let handover = handovers[request.clientId] {
            // The session is on its way to another shard (whose CONNECT for it closed, so the
            // registry pointed back here or nowhere): ask that shard, which answers once it
            // has the session.
            awaitSession(request, for: connection, generation: generation)
            environment.post(
                .takeover(
                    clientId: request.clientId, newShard: shardIndex, generation: generation,
                    keepSession: !request.cleanSession),
                to: handover.newShard)
            return
        }
        guard let previous, previous.shard != shardIndex else {
            if let expected = pendingConnects[request.clientId]?.generation ?? parkedHandovers[request.clientId]?.generation
                ?? deferredTakeovers[request.clientId]?.awaiting {
                // The session is on its way here (for an earlier CONNECT of this shard, closed or
                // still waiting): wait for it in that CONNECT's place. Taking over locally would
                // start afresh and drop the session when it came.
                awaitSession(request, for: connection, generation: expected)
                return
            }
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

    /// Parks the CONNECT (reading paused) until the session sent with `generation` arrives
    /// (`receiveSession`).
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
        // Its holds end here: `congestedSessions` must not keep a session that leaves this shard.
        releasePublishers(of: session)
        if let old = session.connection {
            // Detach first so closing the old connection neither discards nor releases the session.
            session.connection = nil
            old.session = nil
            let continues = keepSession && !session.cleanSession
            close(old, publishWill: !continues, reason: "taken over", disconnect: .sessionTakenOver)
        }
        removeSubscriptions(of: session)
        return session
    }

    // MARK: - Answering side

    /// A client with this id connected on `newShard`: close the local connection and hand the
    /// session over (`keepSession`) or discard it. When this shard's own CONNECT for the id still
    /// waits for the session, that CONNECT is taken over and the answer waits for the session
    /// (answering "none" now would lose it: it is on its way here).
    func answerTakeover(_ clientId: String, newShard: Int, generation: UInt64, keepSession: Bool) {
        if newShard == shardIndex {
            // This shard's own takeover, passed on by the old shard (below): the CONNECT that
            // sent it waits for the session, which comes here with the hand-over's generation.
            if let pending = pendingConnects[clientId], pending.generation == generation,
               let parked = parkedHandovers[clientId] {
                pendingConnects[clientId] = PendingConnect(
                    connection: pending.connection, request: pending.request, generation: parked.generation)
            }
            return
        }
        if let handover = handovers[clientId] {
            // The session is on its way to another shard: the asker gets it from there (that
            // shard defers the takeover until it arrives). Taken here, it would leave while the
            // hand-over still counts on it, and could come back only to be sent away by it.
            environment.post(
                .takeover(clientId: clientId, newShard: newShard, generation: generation, keepSession: keepSession),
                to: handover.newShard)
            return
        }
        let pending = pendingConnects.removeValue(forKey: clientId)
        if pending != nil || parkedHandovers[clientId] != nil {
            if let pending { close(pending.connection, publishWill: true, reason: "taken over", disconnect: .sessionTakenOver) }
            // Only the newest asker gets the session; an older one's CONNECT is superseded (its
            // empty answer finds it closed, or closes it: `receiveSession`).
            let awaiting = deferredTakeovers[clientId]?.awaiting ?? pending?.generation ?? parkedHandovers[clientId]!.generation
            var asker = DeferredTakeover(newShard: newShard, generation: generation, keepSession: keepSession, awaiting: awaiting)
            if let other = deferredTakeovers[clientId] {
                let older = other.generation < generation ? other : asker
                if other.generation > generation { asker = other }
                environment.post(.sessionTransfer(clientId: clientId, generation: older.generation, session: nil), to: older.newShard)
            }
            deferredTakeovers[clientId] = asker
            return
        }
        if keepSession, let session = sessions[clientId], !session.cleanSession, !routedFilters(of: session).isEmpty {
            if let old = session.connection {
                session.connection = nil
                old.session = nil
                releasePublishers(of: session)
                close(old, publishWill: false, reason: "taken over", disconnect: .sessionTakenOver)
                session.offlineSince = environment.now
            }
            beginHandover(session, to: newShard, generation: generation)
            return
        }
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

    /// A session handed over by another shard (or the cluster), sent for the claim `generation`:
    /// finish the CONNECT that asked for it, with what was parked for it meanwhile. When that
    /// CONNECT is gone: a takeover that waited for the session is answered now; otherwise
    /// `settleUnclaimed`.
    func receiveSession(_ session: Session?, clientId: String, generation: UInt64) {
        if let pending = pendingConnects[clientId], pending.generation == generation {
            pendingConnects[clientId] = nil
            guard context.registry.owner(of: clientId)?.generation == pending.connection.registryGeneration else {
                // A newer CONNECT claimed the id meanwhile (its takeover may not come here).
                close(pending.connection, publishWill: true, reason: "taken over", disconnect: .sessionTakenOver)
                settleUnclaimed(session, clientId: clientId, generation: generation)
                return
            }
            completeConnect(pending.connection, request: pending.request, existing: session)
            deliverParked(for: clientId, to: sessions[clientId], generation: generation)
            if let superseded = deferredTakeovers.removeValue(forKey: clientId) {
                // An older claim's takeover waited here for this session; the newest CONNECT has it.
                environment.post(
                    .sessionTransfer(clientId: clientId, generation: superseded.generation, session: nil),
                    to: superseded.newShard)
            }
            pending.connection.io.resumeReading()
            return
        }
        if let deferred = deferredTakeovers[clientId], deferred.awaiting == generation {
            deferredTakeovers[clientId] = nil
            let kept = session?.cleanSession == false ? session : nil
            if sessions[clientId] == nil {
                if let kept { adoptOffline(kept) }
                deliverParked(for: clientId, to: kept, generation: generation)
            } else {
                // Not reachable while a hand-over is answered in order; never keep two sessions.
                logger.error("a session arrived for a client id that has one here; dropped", metadata: ["client": "\(clientId)"])
                deliverParked(for: clientId, to: nil, generation: generation)
            }
            answerTakeover(clientId, newShard: deferred.newShard, generation: deferred.generation, keepSession: deferred.keepSession)
            return
        }
        settleUnclaimed(session, clientId: clientId, generation: generation)
    }

    /// A session (or none) that nothing here waits for any more: the CONNECT that asked for it
    /// closed, or a newer claim superseded it. A persistent one stays here (offline) when this
    /// shard owns the client id or nobody does, and goes on to the owner otherwise. An empty
    /// answer for an older claim leaves everything as it is (a hand-over to this shard may still
    /// be on its way: its parked messages wait for it).
    private func settleUnclaimed(_ session: Session?, clientId: String, generation: UInt64) {
        guard let kept = session?.cleanSession == false ? session : nil,
              sessions[clientId] == nil, pendingConnects[clientId] == nil
        else {
            deliverParked(for: clientId, to: nil, generation: generation)
            return
        }
        // Nobody owns the id when the CONNECT that asked for the session closed meanwhile.
        let owner = context.registry.ownerClaimingIfNone(clientId, shard: shardIndex)
        if owner.shard == shardIndex {
            adoptOffline(kept)
            deliverParked(for: clientId, to: kept, generation: generation)
        } else {
            deliverParked(for: clientId, to: kept, generation: generation)
            environment.post(.sessionTransfer(clientId: clientId, generation: owner.generation, session: kept), to: owner.shard)
        }
    }

    /// Keeps a persistent session that arrived without a CONNECT waiting for it, offline.
    private func adoptOffline(_ session: Session) {
        session.offlineSince = environment.now
        sessions[session.clientId] = session
        if session.delayedWill != nil { sessionsWithDelayedWills[session.clientId] = session }
        notePersistentSubscriptions(of: session)
        addSubscriptions(of: session)
    }
}
