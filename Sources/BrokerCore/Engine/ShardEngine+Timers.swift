import Logging
extension ShardEngine {
    /// Called by the runtime every 500 ms: connect timeouts, keepalive, session expiry,
    /// statistics and `$SYS`.
    public func tick() {
        let now = environment.now
        let connectTimeout = UInt64(limits.connectTimeoutSeconds) * 1000
        var expired: [(ClientConnection, String)] = []
        for connection in connections.values {
            connection.outbound.releaseIfIdle()
            switch connection.state {
            case .awaitingConnect where connectTimeout > 0 && now &- connection.openedAt > connectTimeout:
                expired.append((connection, "no CONNECT within \(limits.connectTimeoutSeconds) s"))
            case .authenticating where connectTimeout > 0 && now &- connection.openedAt > connectTimeout:
                expired.append((connection, "no authentication verdict within \(limits.connectTimeoutSeconds) s"))
            case .connected:
                // MQTT 3.1.1 §3.1.2.10: one and a half keepalive periods without a packet.
                // A connection held by flow control is not read: its silence is not the client's.
                if connection.keepAlive > 0 && !connection.readingPausedForFlow
                    && now &- connection.lastReceivedAt > UInt64(connection.keepAlive) * 1500 {
                    expired.append((connection, "keepalive timeout"))
                } else if let expiresAt = connection.identity?.expiresAt, environment.wallClockSeconds >= expiresAt {
                    expired.append((connection, "credentials expired"))
                }
            default:
                break
            }
        }
        for (connection, reason) in expired {
            logger.debug("closing idle connection", metadata: ["client": "\(connection.logName)", "reason": "\(reason)"])
            close(connection, publishWill: true, reason: reason)
        }
        releaseExpiredHolds(now: now)
        if now &- lastExpirySweep >= 1000 {
            lastExpirySweep = now
            expireSessions(now: now)
        }
        if now &- lastPersistentRecount >= 10_000 {
            lastPersistentRecount = now
            recountPersistentSubscriptions()
        }
        context.stats[shardIndex].publish(
            counters, clients: connectedCount, sessions: sessions.count,
            subscriptions: subscriptions.localCount, retained: retained.count,
            sharedMembers: subscriptions.sharedMemberCount, sharedGroups: subscriptions.sharedGroups.count)
        if shardIndex == 0 { publishSysTopicsIfDue(now: now) }
    }

    private func expireSessions(now: UInt64) {
        let expiry = UInt64(limits.sessionExpirySeconds) * 1000
        guard expiry > 0 else { return }
        let stale = sessions.values.filter { $0.connection == nil && now &- $0.offlineSince > expiry }
        for session in stale {
            logger.debug("session expired", metadata: ["client": "\(session.clientId)"])
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
