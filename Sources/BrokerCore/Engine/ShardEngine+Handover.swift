import Logging
import MQTTWire

/// Moving a persistent session with subscriptions from one shard to another without losing a
/// message or delivering one twice (the answering side of a takeover, ShardEngine+Takeover).
///
/// Other shards route a publish by their replica of who subscribes where, and a post between
/// two shards may wait in the sender's overflow; handing the session over at once would lose
/// what is still on its way to the old shard, and what other shards route there until they learn
/// of the new one. So the hand-over is a barrier that switches routing first:
///
/// ```
///  old shard O                      new shard N                    every other shard K
///  takeover ─► close the connection; the session stays, offline, queueing
///  ─ handoverRoute(filters) ──────► keep what matches (parked)
///  ◄─────────────────────────────── handoverRouted
///  ─ handoverRoute(filters) ───────────────────────────────────────► route them to N too
///  ◄──────────────────────────────────────────────────────────────── handoverRouted
///  every shard answered: unindex, route the filters to N, sessionTransfer ─► session + parked
/// ```
///
/// Posts between two shards arrive in order (overflow included), so each answer comes after
/// everything its shard posted to O before: that reached the session here. What a shard posts
/// after its answer goes to N (parked there until the session arrives) and, while O's own
/// interest lasts, to O, which no longer gives it to the session (`switchedAway`).
extension ShardEngine {
    /// The old side: a session between its takeover and its transfer.
    final class Handover {
        let session: Session
        let newShard: Int
        let generation: UInt64
        let filters: [String]
        /// Shards that answered `handoverRoute` (and this one): what they post from now on goes
        /// to `newShard`.
        var switched = ShardSet()

        init(session: Session, newShard: Int, generation: UInt64, filters: [String]) {
            self.session = session
            self.newShard = newShard
            self.generation = generation
            self.filters = filters
        }
    }

    /// The new side: what matched a moving session's filters before it arrived.
    struct ParkedHandover {
        let generation: UInt64
        let filters: [TopicFilter]
        var messages: [(Message, AckTicket?)] = []
    }

    /// The ordinary (not shared) filters a session is routed by.
    func routedFilters(of session: Session) -> [String] {
        session.subscriptions.keys.filter { !SharedSubscription.isShared($0) }
    }

    // MARK: - Old side

    /// Starts moving `session` (its connection already closed, still indexed here) to `newShard`.
    func beginHandover(_ session: Session, to newShard: Int, generation: UInt64) {
        if let stale = handovers.removeValue(forKey: session.clientId) {
            // Never reached (nothing replaces a session that is leaving: `leavingHandover`); one
            // hand-over per id, and every takeover gets its answer.
            logger.error("a hand-over began while another was under way; the earlier one sent none", metadata: ["client": "\(session.clientId)"])
            if stale.session !== session {
                stale.session.isHandingOver = false
                removeSubscriptions(of: stale.session)
            }
            environment.post(.sessionTransfer(clientId: session.clientId, generation: stale.generation, session: nil), to: stale.newShard)
        }
        let handover = Handover(
            session: session, newShard: newShard, generation: generation, filters: routedFilters(of: session))
        handover.switched.insert(shardIndex)
        handovers[session.clientId] = handover
        session.isHandingOver = true
        environment.post(
            .handoverRoute(
                clientId: session.clientId, generation: generation, filters: handover.filters, oldShard: shardIndex,
                newShard: newShard),
            to: newShard)
    }

    /// A shard applied `handoverRoute`. The new shard answers first (it parks from then on);
    /// then every other shard is asked; when all have answered, the session goes.
    func handoverRouted(_ clientId: String, generation: UInt64, shard: Int) {
        guard let handover = handovers[clientId], handover.generation == generation,
              !handover.switched.contains(shard)
        else { return }
        handover.switched.insert(shard)
        if shard == handover.newShard {
            for other in 0..<context.shardCount where other != shardIndex && other != handover.newShard {
                environment.post(
                    .handoverRoute(
                        clientId: clientId, generation: generation, filters: handover.filters, oldShard: shardIndex,
                        newShard: handover.newShard),
                    to: other)
            }
        }
        guard handover.switched.count == context.shardCount else { return }
        finishHandover(handover)
    }

    private func finishHandover(_ handover: Handover) {
        let session = handover.session
        handovers[session.clientId] = nil
        session.isHandingOver = false
        guard sessions[session.clientId] === session else {
            // Never reached (a CONNECT here waits for the hand-over: `claimClientId`); a session
            // this shard no longer holds must not reach another thread.
            logger.error("hand-over of a session this shard no longer holds; sent none", metadata: ["client": "\(session.clientId)"])
            environment.post(.sessionTransfer(clientId: session.clientId, generation: handover.generation, session: nil), to: handover.newShard)
            return
        }
        sessions[session.clientId] = nil
        sessionsWithDelayedWills[session.clientId] = nil
        releasePublishers(of: session)
        removeSubscriptions(of: session)
        // This shard's own publishes on these filters go to the new shard from now on (its
        // interest, once it arrives, says the same).
        for filter in handover.filters {
            subscriptions.setRemoteInterest(filter: filter, shard: handover.newShard, interested: true)
        }
        // What this shard wrote for the session reaches the store before the new shard writes.
        flushStoreWrites()
        environment.post(
            .sessionTransfer(clientId: session.clientId, generation: handover.generation, session: session),
            to: handover.newShard)
    }

    /// The hand-over of `clientId`'s session from this shard, while that session is still the
    /// one this shard holds for the id (a CONNECT here may have finished meanwhile with
    /// another: that one is the id's session here, and the hand-over will send none).
    func leavingHandover(of clientId: String) -> Handover? {
        guard let handover = handovers[clientId], sessions[clientId] === handover.session else { return nil }
        return handover
    }

    /// Whether a publish posted by shard `source` must pass `session` by: the session is moving
    /// and `source` already routes its filters to the new shard (which got the publish too).
    @inline(__always)
    func switchedAway(_ session: Session, source: Int) -> Bool {
        guard session.isHandingOver, let handover = handovers[session.clientId] else { return false }
        return source >= 0 && handover.switched.contains(source)
    }

    // MARK: - New shard and the others

    /// `handoverRoute` arrived: park (the new shard) or route to the new shard (any other), then
    /// answer the old shard.
    func applyHandoverRoute(_ clientId: String, generation: UInt64, filters: [String], oldShard: Int, newShard: Int) {
        if newShard == shardIndex {
            parkedHandovers[clientId] = ParkedHandover(
                generation: generation, filters: filters.compactMap { TopicFilter($0) })
        } else {
            for filter in filters { subscriptions.setRemoteInterest(filter: filter, shard: newShard, interested: true) }
        }
        environment.post(.handoverRouted(clientId: clientId, generation: generation, shard: shardIndex), to: oldShard)
    }

    /// Keeps `message` for every moving session it matches (called while routing, with this
    /// shard's parked hand-overs not empty). The store ticket of the publish, if any, waits for it.
    func parkForHandovers(_ message: Message) {
        for index in parkedHandovers.values.indices
        where parkedHandovers.values[index].filters.contains(where: { $0.matches(topic: message.topic) }) {
            let ticket = hasStore ? ticketForStoreWrite() : nil
            ticket?.retain()
            parkedHandovers.values[index].messages.append((message, ticket))
        }
    }

    /// The moving session arrived with the transfer of `generation` (or nil: it ended
    /// meanwhile): give it what was parked for it, at the QoS and with the options of its
    /// matching subscriptions. Routes the other shards set to this shard for filters it did not
    /// keep (session gone, subscription refused) are taken back. A transfer of another
    /// generation (an empty answer to an older claim) leaves the parked messages waiting.
    func deliverParked(for clientId: String, to session: Session?, generation: UInt64) {
        guard parkedHandovers[clientId]?.generation == generation,
              let parked = parkedHandovers.removeValue(forKey: clientId)
        else { return }
        let filters = session.map(matchableFilters(of:)) ?? []
        for (message, ticket) in parked.messages {
            if let session {
                routingAck = ticket.map { .ticket($0) }
                deliver(message, to: session, byItsFilters: filters)
                routingAck = nil
            }
            ticket?.release()
        }
        for filter in parked.filters where !subscriptions.holdsLocally(filter: filter.description) {
            // Only shards set these routes: the cluster never heard of them.
            broadcastInterest(filter: filter.description, interested: false, toCluster: false)
        }
    }
}
