import Logging

/// Holding publishers back for congested subscribers (`limits.queue_backpressure`): the flow
/// control between a session's queue and the connections that fill it. The queue limits
/// themselves, and what is dropped past them, are ShardEngine+Delivery.
///
/// A connected session whose QoS 1/2 queue reaches half of `max_queued_messages` holds back
/// each publisher whose message it queued: reading from that connection stops, on its own
/// shard directly or through a `.holdPublisher` post to the publisher's shard. When the queue
/// is down to a quarter, or the session goes offline or moves, every hold is released. A
/// session that acknowledges nothing for `stallTimeout` while holding publishers lets them go
/// and holds none until its queue is down to a quarter, so a stuck client cannot stop
/// publishers for longer than that; past `max_queued_messages` its messages are then dropped,
/// as Mosquitto does. A hold also ends after `maxHold` however the session fares (the next
/// queued message holds the publisher again), so a held client is read at least that often:
/// its PINGREQ is answered and its DISCONNECT seen. Keepalive does not count the time a
/// connection is held (its silence is the broker's doing).
///
/// Holds are counted per publisher connection (several sessions may hold one); each session
/// holds a publisher at most once and releases it exactly once, and posts between two shards
/// arrive in order, so the counts balance.
extension ShardEngine {
    /// Milliseconds without an acknowledgement after which a session stops holding publishers.
    static let stallTimeout: UInt64 = 1000
    /// Milliseconds after which a hold ends even while the session keeps acknowledging.
    static let maxHold: UInt64 = 1000

    /// Called after `message` was queued for (or dropped from) the connected `session`.
    func holdPublisherIfCongested(_ session: Session, by message: Message) {
        guard limits.queueBackpressure, message.publisher != 0, !session.holdsPublishersSuspended,
              session.queue.count >= max(1, limits.maxQueuedMessages / 2)
        else { return }
        let publisher = PublisherRef(shard: message.originShard, connection: message.publisher)
        // A client publishing to its own subscription would stop reading its own acknowledgements.
        if publisher.shard == shardIndex && publisher.connection == session.connection?.id { return }
        let holds: PublisherHolds
        if let existing = session.holds {
            holds = existing
        } else {
            holds = PublisherHolds(now: environment.now)
            session.holds = holds
            session.isCongested = true
            congestedSessions[session.clientId] = session
        }
        guard holds.publishers.insert(publisher).inserted else { return }
        setHold(publisher, hold: true)
    }

    /// The session's queue shrank (an acknowledgement let queued messages into the window).
    func sessionDrained(_ session: Session) {
        let drained = session.queue.count <= limits.maxQueuedMessages / 4
        if drained {
            session.holdsPublishersSuspended = false
            session.isCongested = false
        }
        guard let holds = session.holds else { return }
        holds.lastProgressAt = environment.now
        if drained { releasePublishers(of: session) }
    }

    /// Lets every publisher `session` holds read again: the session drained, went offline, moved
    /// or stalled (`endingCongestion`), or a hold reached `maxHold` (the session stays congested
    /// and holds the publishers again with their next messages).
    func releasePublishers(of session: Session, endingCongestion: Bool = true) {
        if endingCongestion { session.isCongested = false }
        guard let holds = session.holds else { return }
        session.holds = nil
        if congestedSessions[session.clientId] === session { congestedSessions[session.clientId] = nil }
        for publisher in holds.publishers { setHold(publisher, hold: false) }
    }

    /// From the tick: sessions that held publishers without any acknowledgement for too long
    /// stop holding them; other holds that lasted `maxHold` end (and may start again).
    func releaseExpiredHolds(now: UInt64) {
        guard !congestedSessions.isEmpty else { return }
        let expired = congestedSessions.values.compactMap { session -> (Session, stalled: Bool)? in
            guard let holds = session.holds else { return nil }
            let stalled = now &- holds.lastProgressAt >= Self.stallTimeout
            return stalled || now &- holds.startedAt >= Self.maxHold ? (session, stalled) : nil
        }
        for (session, stalled) in expired {
            if stalled {
                logger.debug("subscriber stalled, no longer holding publishers back", metadata: ["client": "\(session.clientId)"])
                session.holdsPublishersSuspended = true
            }
            releasePublishers(of: session, endingCongestion: stalled)
        }
    }

    private func setHold(_ publisher: PublisherRef, hold: Bool) {
        if publisher.shard == shardIndex {
            applyHold(publisher.connection, hold: hold)
        } else {
            environment.post(.holdPublisher(connection: publisher.connection, hold: hold), to: publisher.shard)
        }
    }

    /// A hold on (or release of) one of this shard's connections; it may have closed meanwhile.
    func applyHold(_ id: ConnectionID, hold: Bool) {
        guard let connection = connections[id] else { return }
        connection.congestionHolds += hold ? 1 : -1
        updateFlowPause(connection)
    }

    /// Pauses or resumes reading from a connected client for flow control: while too many of
    /// its publishes wait for the bridge, while congested sessions hold it back, or while its
    /// shard waits for credit from another (ShardEngine+Credits).
    func updateFlowPause(_ connection: ClientConnection) {
        let pause = connection.readingPausedForAcks || connection.congestionHolds > 0 || connection.awaitingCredit
        guard pause != connection.readingPausedForFlow, connection.state == .connected else { return }
        connection.readingPausedForFlow = pause
        if pause {
            connection.io.pauseReading()
        } else {
            // Keepalive counts from here: while held, the client's packets were not read.
            connection.lastReceivedAt = environment.now
            connection.io.resumeReading()
        }
    }
}
