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

/// The takeovers one shard sent for one client id and has no answer to yet.
struct UnansweredTakeovers {
    var count: Int
    /// The newest claim among them: a takeover asked for an older one is superseded.
    var newestGeneration: UInt64
}

/// A takeover that must wait for the session this shard is itself waiting for.
struct DeferredTakeover {
    let newShard: Int
    let generation: UInt64
    let keepSession: Bool
}

extension ShardEngine {
    // MARK: - Asking side

    /// Takes ownership of the client id, then finishes the CONNECT here or waits for the old
    /// owner shard to hand the session over.
    func claimClientId(_ request: ConnectRequest, for connection: ClientConnection) {
        let (previous, generation) = context.registry.claim(request.clientId, shard: shardIndex)
        connection.registryGeneration = generation
        guard let previous, previous.shard != shardIndex else {
            if let handover = leavingHandover(of: request.clientId) {
                // The session is on its way to another shard (whose CONNECT for it closed, so
                // the registry pointed back here or nowhere): ask that shard, which answers once
                // it has the session. (When the registry names a third shard, a newer CONNECT
                // there holds the id: that shard is asked, below.)
                askForSession(request, for: connection, generation: generation, from: handover.newShard)
                return
            }
            if unansweredTakeovers[request.clientId] != nil {
                // An earlier CONNECT of this shard asked for the session and the answers are not
                // all in: it may be on its way here. Wait for it in that CONNECT's place (taking
                // over locally would start afresh and drop the session when it came).
                awaitSession(request, for: connection, generation: generation)
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
        askForSession(request, for: connection, generation: generation, from: previous.shard)
    }

    /// Waits for the session of `request`'s client id and asks `shard` for it. Every takeover is
    /// answered with exactly one `sessionTransfer` (by that shard, or by the one it passes the
    /// takeover on to); `unansweredTakeovers` counts those still to come.
    private func askForSession(_ request: ConnectRequest, for connection: ClientConnection, generation: UInt64, from shard: Int) {
        awaitSession(request, for: connection, generation: generation)
        unansweredTakeovers[request.clientId, default: UnansweredTakeovers(count: 0, newestGeneration: 0)].count += 1
        unansweredTakeovers[request.clientId]!.newestGeneration = generation
        environment.post(
            .takeover(clientId: request.clientId, newShard: shardIndex, generation: generation, keepSession: !request.cleanSession),
            to: shard)
    }

    /// A takeover whose claim a newer one superseded gets no session.
    private func answerSuperseded(_ takeover: DeferredTakeover, clientId: String) {
        environment.post(.sessionTransfer(clientId: clientId, generation: takeover.generation, session: nil), to: takeover.newShard)
    }

    /// Counts one answer to a takeover of this shard; returns whether more are still to come.
    private func noteTakeoverAnswered(_ clientId: String) -> Bool {
        guard let count = unansweredTakeovers[clientId]?.count else { return false }
        if count > 1 {
            unansweredTakeovers[clientId]!.count = count - 1
            return true
        }
        unansweredTakeovers[clientId] = nil
        return false
    }

    /// Parks the CONNECT (reading paused) until its session arrives (`receiveSession`); the
    /// cluster's answer names it by `generation`.
    func awaitSession(_ request: ConnectRequest, for connection: ClientConnection, generation: UInt64) {
        connection.state = .awaitingSession
        if let stale = pendingConnects[request.clientId] {
            close(stale.connection, publishWill: true, reason: "taken over", disconnect: .sessionTakenOver)
        }
        if let superseded = deferredTakeovers.removeValue(forKey: request.clientId) {
            // It waited here for the session, which this newer CONNECT gets now: answered at once
            // (kept, it could wait for a session that this CONNECT asked its own shard for).
            answerSuperseded(superseded, clientId: request.clientId)
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
    /// session over (`keepSession`) or discard it. When this shard itself waits for the session
    /// (a CONNECT here, a hand-over to here, takeovers it sent), a newer asker's answer waits
    /// for it (answering "none" now would lose it: it may be on its way here) and an older
    /// asker is answered as superseded.
    func answerTakeover(_ clientId: String, newShard: Int, generation: UInt64, keepSession: Bool) {
        if newShard == shardIndex {
            // This shard's own takeover, passed back by the old shard (below): the session is
            // on its way here already, answering an earlier takeover of this shard. This one
            // gets no other answer.
            _ = noteTakeoverAnswered(clientId)
            return
        }
        if let handover = leavingHandover(of: clientId) {
            // The session is on its way to another shard: the asker gets it from there (that
            // shard defers the takeover until it arrives). Taken here, it would leave while the
            // hand-over still counts on it, and could come back only to be sent away by it.
            environment.post(
                .takeover(clientId: clientId, newShard: newShard, generation: generation, keepSession: keepSession),
                to: handover.newShard)
            return
        }
        let waitingFor = max(
            pendingConnects[clientId]?.connection.registryGeneration ?? 0, parkedHandovers[clientId]?.generation ?? 0,
            unansweredTakeovers[clientId]?.newestGeneration ?? 0)
        if generation < waitingFor {
            // The asker's claim is older than one this shard asked for the session for: it is
            // superseded. (Deferring it would close this shard's newer CONNECT, and could close a
            // cycle of shards each waiting for the next one's session.)
            environment.post(.sessionTransfer(clientId: clientId, generation: generation, session: nil), to: newShard)
            return
        }
        let pending = pendingConnects.removeValue(forKey: clientId)
        if waitingFor > 0 {
            if let pending { close(pending.connection, publishWill: true, reason: "taken over", disconnect: .sessionTakenOver) }
            // Only the newest asker gets the session; an older one's CONNECT is superseded (its
            // empty answer finds it closed, or closes it: `receiveSession`).
            var asker = DeferredTakeover(newShard: newShard, generation: generation, keepSession: keepSession)
            if let other = deferredTakeovers[clientId] {
                let older = other.generation < generation ? other : asker
                if other.generation > generation { asker = other }
                answerSuperseded(older, clientId: clientId)
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

    /// A session (or none) from another shard: the answer to a takeover this shard sent
    /// (`answersTakeover`; sent for the claim `generation`), or one sent on to the id's owner
    /// (`settleUnclaimed`), or the cluster's answer (`answersTakeover` false, for the CONNECT
    /// waiting with `generation`). The CONNECT waiting here finishes with it, with what was
    /// parked for it meanwhile, once it brings a session or was the last answer to come; when
    /// that CONNECT is gone, a takeover that waited for the session is answered then instead;
    /// otherwise `settleUnclaimed`.
    func receiveSession(_ session: Session?, clientId: String, generation: UInt64, answersTakeover: Bool = true) {
        let moreToCome = answersTakeover && generation != 0 ? noteTakeoverAnswered(clientId) : unansweredTakeovers[clientId] != nil
        let settles = session != nil || !moreToCome
        if let pending = pendingConnects[clientId], answersTakeover ? settles : pending.generation == generation {
            pendingConnects[clientId] = nil
            guard context.registry.owner(of: clientId)?.generation == pending.connection.registryGeneration else {
                // A newer CONNECT claimed the id meanwhile (its takeover may not come here).
                close(pending.connection, publishWill: true, reason: "taken over", disconnect: .sessionTakenOver)
                settleUnclaimed(session, clientId: clientId, generation: generation)
                return
            }
            if let handover = leavingHandover(of: clientId) {
                // The id's session is leaving this shard (a hand-over that began after this
                // CONNECT asked elsewhere): ask its new shard, as a CONNECT here during a
                // hand-over does, rather than start afresh beside it.
                if session != nil {
                    logger.error("a session arrived for a client id whose session is being handed over; dropped", metadata: ["client": "\(clientId)"])
                }
                askForSession(pending.request, for: pending.connection, generation: pending.connection.registryGeneration, from: handover.newShard)
                return
            }
            // A connection of an older claim may still hold the id here (its takeover was
            // answered as superseded: `answerTakeover`): it ends now, and its session is the one
            // to resume when none came.
            var existing = session
            if let local = takeOverLocally(clientId, keepSession: !pending.request.cleanSession), local !== session {
                if session == nil {
                    existing = local
                } else {
                    logger.error("a session arrived for a client id that has one here; kept the arrived one", metadata: ["client": "\(clientId)"])
                    if !local.cleanSession { recordSessionDeleted(clientId) }
                    redistributeShared(of: local)
                }
            }
            completeConnect(pending.connection, request: pending.request, existing: existing)
            deliverParked(for: clientId, to: sessions[clientId], generation: generation)
            pending.connection.io.resumeReading()
            return
        }
        if let deferred = deferredTakeovers[clientId], settles {
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
        if !moreToCome { passOnSessionOwnedElsewhere(clientId) }
    }

    /// With every answer in and nothing waiting here, a session this shard still holds for an
    /// id the registry gives to another shard has been passed by: a newer claim here asked
    /// elsewhere and then went away, answering the takeover that would have taken it as
    /// superseded. It goes to the owner now (which keeps it only if it still waits for one).
    private func passOnSessionOwnedElsewhere(_ clientId: String) {
        guard pendingConnects[clientId] == nil, deferredTakeovers[clientId] == nil, sessions[clientId] != nil,
              leavingHandover(of: clientId) == nil, let owner = context.registry.owner(of: clientId), owner.shard != shardIndex,
              let session = takeOverLocally(clientId, keepSession: true)
        else { return }
        if session.cleanSession {
            // Ends here: no claim waits for a clean session (an empty transfer could only
            // finish a CONNECT there that waits for something else, the cluster's answer).
            redistributeShared(of: session)
            return
        }
        flushStoreWrites()
        environment.post(.sessionTransfer(clientId: clientId, generation: 0, session: session), to: owner.shard)
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
            // Generation 0: no takeover of that shard asked for it.
            environment.post(.sessionTransfer(clientId: clientId, generation: 0, session: kept), to: owner.shard)
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
