import Logging
import MQTTWire
extension ShardEngine {
    /// Called by the runtime every 500 ms: connect timeouts, keepalive, session expiry,
    /// statistics and `$SYS`.
    public func tick() {
        let now = environment.now
        let connectTimeout = UInt64(limits.connectTimeoutSeconds) * 1000
        var expired: [(ClientConnection, String, ReasonCode)] = []
        var outboundBytes = 0
        for connection in connections.values {
            outboundBytes += connection.outboundBytes
            connection.releaseOutboundIfIdle()
            switch connection.state {
            case .awaitingConnect where connectTimeout > 0 && now &- connection.openedAt > connectTimeout:
                expired.append((connection, "no CONNECT within \(limits.connectTimeoutSeconds) s", .maximumConnectTime))
            case .authenticating where connectTimeout > 0 && now &- connection.openedAt > connectTimeout:
                expired.append((connection, "no authentication verdict within \(limits.connectTimeoutSeconds) s", .notAuthorized))
            case .connected:
                // MQTT 3.1.1 §3.1.2.10: one and a half keepalive periods without a packet.
                // A connection held by flow control is not read: its silence is not the client's.
                if connection.keepAlive > 0 && !connection.readingPausedForFlow
                    && now &- connection.lastReceivedAt > UInt64(connection.keepAlive) * 1500 {
                    expired.append((connection, "keepalive timeout", .keepAliveTimeout))
                } else if let expiresAt = connection.identity?.expiresAt, environment.wallClockSeconds >= expiresAt {
                    expired.append((connection, "credentials expired", .notAuthorized))
                }
            default:
                break
            }
        }
        for (connection, reason, code) in expired {
            logger.debug("closing idle connection", metadata: ["client": "\(connection.logName)", "reason": "\(reason)"])
            close(connection, publishWill: true, reason: reason, disconnect: code)
        }
        publishDueWills(now: now)
        releaseExpiredHolds(now: now)
        if now &- lastExpirySweep >= 1000 {
            lastExpirySweep = now
            expireSessions(now: now)
            publishQueueFigures()
        }
        if now &- lastPersistentRecount >= 10_000 {
            lastPersistentRecount = now
            recountPersistentSubscriptions()
        }
        context.stats[shardIndex].publish(
            counters, clients: connectedCount, clientsV5: connectedV5Count, outboundBytes: outboundBytes, sessions: sessions.count,
            subscriptions: subscriptions.localCount, retained: retained.count,
            sharedMembers: subscriptions.sharedMemberCount, sharedGroups: subscriptions.sharedGroups.count)
        if shardIndex == 0 { publishSysTopicsIfDue(now: now) }
    }

    /// Offline sessions, queued and in-flight messages for metrics: a pass over the sessions,
    /// so once a second rather than kept up to date where queues change (the hot path).
    private func publishQueueFigures() {
        var offline = 0
        var queued = 0
        var inflight = 0
        for session in sessions.values {
            if session.connection == nil { offline += 1 }
            queued += session.queue.count
            inflight += session.inflight.count
        }
        context.stats[shardIndex].publishQueues(offlineSessions: offline, queued: queued, inflight: inflight)
    }

    /// Milliseconds `session` outlives its connection (nil: forever): its MQTT 5 Session Expiry
    /// Interval (already capped; 0xFFFFFFFF means never), or `limits.session_expiry_seconds`.
    func expiryMilliseconds(of session: Session) -> UInt64? {
        if let interval = session.expiryInterval {
            return interval == UInt32.max ? nil : UInt64(interval) * 1000
        }
        return limits.sessionExpirySeconds > 0 ? UInt64(limits.sessionExpirySeconds) * 1000 : nil
    }

    private func expireSessions(now: UInt64) {
        let stale = sessions.values.filter { session in
            guard session.connection == nil, let expiry = expiryMilliseconds(of: session) else { return false }
            return now &- session.offlineSince > expiry
        }
        for session in stale {
            logger.debug("session expired", metadata: ["client": "\(session.clientId)"])
            // The session ends: a will still waiting for its delay goes out now (MQTT 5 §3.1.3.2.2).
            publishDelayedWill(of: session)
            discard(session)
            if !session.cleanSession {
                recordSessionDeleted(session.clientId)
                // Before the id is free: a new session of it on another shard writes after this.
                flushStoreWrites()
            }
            if let owner = context.registry.owner(of: session.clientId), owner.shard == shardIndex {
                context.registry.release(session.clientId, generation: owner.generation)
            }
        }
    }
}
