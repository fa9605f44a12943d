import Logging
import MQTTWire

extension ShardEngine {
    /// Hands the CONNECT to the authenticator and holds the connection (reading paused, later
    /// bytes kept by the runtime) until the verdict comes back through the shard's mailbox.
    /// Nothing is read from, routed for or delivered to the client meanwhile.
    func authenticate(_ request: ConnectRequest, for connection: ClientConnection) {
        guard let authenticator = context.authenticator else { return }
        connection.state = .authenticating
        pendingAuthentications[connection.id] = request
        connection.io.pauseReading()
        let id = connection.id
        let mailbox = environment.mailbox
        let credentials = Credentials(
            clientId: request.clientId, username: request.username, password: request.password, peer: connection.peer)
        authenticator.authenticate(credentials) { decision in
            mailbox.post(.authenticated(connection: id, decision: decision))
        }
    }

    /// The verdict for connection `id` (which may have closed meanwhile): refuse, or go on with
    /// the CONNECT (claim the client id, maybe wait for the session from another shard).
    func authenticated(_ id: ConnectionID, decision: AuthDecision) {
        if let connection = connections[id], connection.state == .connected, connection.v5?.reauthenticating == true {
            reauthenticated(connection, decision: decision)
            return
        }
        guard let connection = connections[id], connection.state == .authenticating,
              let request = pendingAuthentications.removeValue(forKey: id)
        else { return }
        switch decision {
        case .deny(let code, let reason):
            counters.authenticationFailures += 1
            logger.info("authentication failed", metadata: [
                "client": "\(connection.logName)", "username": "\(request.username ?? "")", "reason": "\(reason)",
            ])
            refuseConnect(connection, code: code, reason: reason)
        case .allow(let identity):
            connection.identity = identity
            connection.permissions = identity.permissions
            if let expiresAt = identity.expiresAt, expiresAt <= environment.wallClockSeconds {
                refuseConnect(connection, code: .notAuthorized, reason: "credentials expired")
                return
            }
            if let will = request.will, let permissions = identity.permissions, !permissions.canPublish(will.topic) {
                // Mosquitto checks the will topic against the ACL at CONNECT too.
                refuseConnect(connection, code: .notAuthorized, reason: "will topic not allowed")
                return
            }
            connection.state = .awaitingConnect
            claimClientId(request, for: connection)
            // Connected at once (the session was local): parse what the client sent meanwhile.
            // Otherwise reading resumes when the session arrives from its shard.
            if connection.state == .connected { connection.io.resumeReading() }
        }
    }

    /// A subscription the client's ACL no longer allows (its roles changed since the session
    /// was made) is removed when the session resumes.
    func dropForbiddenSubscriptions(of session: Session, permissions: Permissions) {
        let forbidden = session.subscriptions.keys.filter { !permissions.canSubscribe($0) }
        for filter in forbidden {
            session.subscriptions[filter] = nil
        }
    }
}
