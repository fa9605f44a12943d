import Logging
import MQTTWire

/// MQTT 5's additions to a connection's life that 3.1.1 has no counterpart for: DISCONNECT with
/// a reason and a new session expiry, delayed wills, topic aliases, and re-authentication with
/// AUTH (`OAUTH2-JWT`: a fresh access token without reconnecting).
extension ShardEngine {
    // MARK: - DISCONNECT from the client

    func handleDisconnect(_ disconnect: Disconnect, on connection: ClientConnection) {
        if let v5 = connection.v5, let interval = disconnect.sessionExpiryInterval {
            // §3.14.2.2.2: a session that was to end with the connection cannot be kept now.
            guard v5.sessionExpiryInterval != 0 || interval == 0 else {
                protocolViolation(connection, reason: "DISCONNECT sets a session expiry after CONNECT set 0")
                return
            }
            if let session = connection.session {
                let capped = limits.sessionExpirySeconds > 0 ? min(interval, UInt32(clamping: limits.sessionExpirySeconds)) : interval
                if interval == 0 && !session.cleanSession && hasStore { recordSessionDeleted(session.clientId) }
                session.expiryInterval = capped
                session.cleanSession = interval == 0
            }
        }
        // Reason 0x04 asks for the will; every other DISCONNECT ends the connection without it.
        let publishWill = disconnect.reason == .disconnectWithWillMessage && connection.v5 != nil
        if !publishWill { connection.will = nil }
        close(connection, publishWill: publishWill, reason: Self.clientDisconnectReason)
    }

    // MARK: - Delayed wills

    /// How long the will of `connection` waits (ms), or nil when it goes out now: its Will
    /// Delay Interval, cut short by the session's own expiry (§3.1.3.2.2).
    func willDelay(of connection: ClientConnection, session: Session) -> UInt64? {
        guard let v5 = connection.v5, v5.willDelayInterval > 0, !session.cleanSession else { return nil }
        var delay = UInt64(v5.willDelayInterval) * 1000
        if let expiry = expiryMilliseconds(of: session) { delay = min(delay, expiry) }
        return delay > 0 ? delay : nil
    }

    func delayWill(_ will: Message, storedWillId: UInt64, of session: Session, by delay: UInt64) {
        session.delayedWill = DelayedWill(message: will, dueAt: environment.now + delay, storedWillId: storedWillId)
        sessionsWithDelayedWills[session.clientId] = session
    }

    /// A new connection took the session's client id: a resumed session cancels its delayed
    /// will, a session started afresh ended the old one, whose will goes out now.
    func settleDelayedWill(of session: Session?, resumed: Bool) {
        guard let session, let delayed = session.delayedWill else { return }
        if resumed {
            session.delayedWill = nil
            sessionsWithDelayedWills[session.clientId] = nil
            if delayed.storedWillId != 0 {
                recordStoreWrite(.deleteWill(clientId: session.clientId, willId: delayed.storedWillId))
            }
        } else {
            publishDelayedWill(of: session)
        }
    }

    /// Publishes `session`'s delayed will now, if it has one.
    func publishDelayedWill(of session: Session) {
        guard let delayed = session.delayedWill else { return }
        session.delayedWill = nil
        if sessionsWithDelayedWills[session.clientId] === session { sessionsWithDelayedWills[session.clientId] = nil }
        route(delayed.message)
        if delayed.storedWillId != 0 {
            recordStoreWrite(.deleteWill(clientId: session.clientId, willId: delayed.storedWillId))
        }
    }

    func publishDueWills(now: UInt64) {
        guard !sessionsWithDelayedWills.isEmpty else { return }
        for (clientId, session) in sessionsWithDelayedWills {
            guard sessions[clientId] === session, let delayed = session.delayedWill else {
                sessionsWithDelayedWills[clientId] = nil
                continue
            }
            if now >= delayed.dueAt { publishDelayedWill(of: session) }
        }
    }

    // MARK: - Topic aliases

    /// The topic a PUBLISH names: its topic, or for MQTT 5 the one its Topic Alias stands for
    /// (an alias with a topic defines it). Nil after closing the connection for a bad alias.
    func resolveTopic(_ publish: Publish, on connection: ClientConnection) -> String? {
        guard let v5 = connection.v5 else { return publish.topic.makeString() }
        guard let alias = publish.properties.topicAlias else {
            guard !publish.topic.isEmpty else {
                protocolViolation(connection, reason: "PUBLISH without topic or topic alias")
                return nil
            }
            return publish.topic.makeString()
        }
        guard alias != 0 && Int(alias) <= limits.topicAliasMaximum else {
            protocolViolation(
                connection, reason: "topic alias \(alias) outside 1...\(limits.topicAliasMaximum)", code: .topicAliasInvalid)
            return nil
        }
        if publish.topic.isEmpty {
            guard let topic = v5.topicAliases[alias] else {
                protocolViolation(connection, reason: "topic alias \(alias) was never defined")
                return nil
            }
            return topic
        }
        let topic = publish.topic.makeString()
        v5.topicAliases[alias] = topic
        return topic
    }

    // MARK: - Re-authentication

    /// AUTH from the client: only re-authentication (0x19) with the method it connected with;
    /// the new token is checked off the loop like a CONNECT while the connection goes on.
    func handleAuth(_ auth: Auth, on connection: ClientConnection) {
        guard let v5 = connection.v5, let method = v5.authenticationMethod, connection.state == .connected else {
            protocolViolation(connection, reason: "AUTH without an authentication method in CONNECT")
            return
        }
        guard auth.reason == .reAuthenticate, auth.method?.elementsEqual(method.utf8) == true, !v5.reauthenticating,
              let authenticator = context.authenticator
        else {
            protocolViolation(connection, reason: "AUTH is not a re-authentication with \(method)")
            return
        }
        v5.reauthenticating = true
        let id = connection.id
        let mailbox = environment.mailbox
        let credentials = Credentials(
            clientId: connection.clientId, username: Credentials.tokenUsername, password: auth.data?.copyToArray() ?? [],
            peer: connection.peer)
        authenticator.authenticate(credentials) { decision in
            mailbox.post(.authenticated(connection: id, decision: decision))
        }
    }

    /// The verdict on a re-authentication: the new identity's expiry and permissions replace
    /// the old ones (AUTH 0x00), or the connection ends (DISCONNECT 0x87).
    func reauthenticated(_ connection: ClientConnection, decision: AuthDecision) {
        connection.v5?.reauthenticating = false
        switch decision {
        case .deny(_, let reason):
            counters.authenticationFailures += 1
            logger.info("re-authentication failed", metadata: ["client": "\(connection.logName)", "reason": "\(reason)"])
            close(connection, publishWill: true, reason: "re-authentication refused: \(reason)", disconnect: .notAuthorized)
        case .allow(let identity):
            if let expiresAt = identity.expiresAt, expiresAt <= environment.wallClockSeconds {
                close(connection, publishWill: true, reason: "re-authentication with an expired token", disconnect: .notAuthorized)
                return
            }
            connection.identity = identity
            connection.permissions = identity.permissions
            sendAuth(.success, method: Credentials.tokenAuthenticationMethod, to: connection)
        }
    }
}

/// A will waiting for its MQTT 5 Will Delay Interval, kept with the session (it is cancelled
/// when the session resumes, wherever that happens). A class: few sessions hold one, and the
/// reference costs every session a word where the value cost three.
final class DelayedWill {
    let message: Message
    /// Loop clock (ms) when it is published.
    let dueAt: UInt64
    /// Its stored copy (0: none), deleted once it is published or cancelled.
    let storedWillId: UInt64

    init(message: Message, dueAt: UInt64, storedWillId: UInt64) {
        self.message = message
        self.dueAt = dueAt
        self.storedWillId = storedWillId
    }
}
