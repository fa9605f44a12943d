import Logging
import MQTTWire
import Synchronization

/// The owned parts of a CONNECT packet (the decoded packet only borrows the receive buffer).
struct ConnectRequest {
    var clientId: String
    /// Clean session (3.1.1) or clean start (MQTT 5): an existing session is discarded.
    var cleanSession: Bool
    /// MQTT 5: the Session Expiry Interval, capped (nil for 3.1.1, whose sessions end with the
    /// connection exactly when `cleanSession` is set).
    var sessionExpiry: UInt32? = nil
    var keepAlive: UInt16
    var protocolVersion: ProtocolVersion
    var username: String?
    var password: [UInt8]?
    var will: Message?

    /// Whether the session ends with the connection: clean session in 3.1.1, a Session Expiry
    /// Interval of 0 in MQTT 5.
    var endsWithConnection: Bool { sessionExpiry.map { $0 == 0 } ?? cleanSession }
}

extension ShardEngine {
    /// Longest client id an MQTT 3.1 client may use (3.1 spec; Mosquitto enforces it too).
    static let mqtt31MaxClientIdLength = 23

    func handleConnect(_ connect: Connect, on connection: ClientConnection) {
        connection.protocolVersion = connect.protocolVersion
        var clientId = connect.clientId.makeString()
        var keepAlive = connect.keepAlive
        if connect.protocolVersion == .v5 {
            connection.v5 = ProtocolFive(connect)
            connection.inflightLimit = min(limits.maxInflightMessages, Int(connect.properties.receiveMaximum ?? .max))
        } else {
            connection.inflightLimit = limits.maxInflightMessages
        }
        if clientId.isEmpty {
            // 3.1.1 §3.1.3.1: a zero-length id is only allowed with clean session, and the
            // server then assigns one. 3.1 clients must always send one. MQTT 5 assigns one in
            // every case and says which in CONNACK (§3.1.3.1).
            guard connect.protocolVersion == .v5 || (connect.cleanSession && connect.protocolVersion == .v3_1_1) else {
                refuseConnect(connection, code: .identifierRejected, reason: "empty client id without clean session")
                return
            }
            clientId = assignedClientId(for: connection)
            connection.v5?.assignedClientId = clientId
        } else if connect.protocolVersion == .v3_1 && clientId.utf8.count > Self.mqtt31MaxClientIdLength {
            refuseConnect(connection, code: .identifierRejected, reason: "MQTT 3.1 client id longer than 23 bytes")
            return
        }
        if connect.protocolVersion == .v5 && (Int(keepAlive) > limits.maxKeepalive || (keepAlive == 0 && limits.maxKeepalive < 65535)) {
            // MQTT 5 can shorten it: Server Keep Alive in CONNACK (§3.2.2.3.14).
            keepAlive = UInt16(limits.maxKeepalive)
            connection.v5?.serverKeepAlive = keepAlive
        } else if Int(connect.keepAlive) > limits.maxKeepalive || (connect.keepAlive == 0 && limits.maxKeepalive < 65535) {
            // 3.1.1 cannot tell a client to use a shorter keepalive, so refuse, as mosquitto.conf(5)
            // describes for max_keepalive. Keepalive 0 (none) exceeds any maximum that is set.
            refuseConnect(connection, code: .identifierRejected, reason: "keepalive \(connect.keepAlive) above max_keepalive")
            return
        }
        if hasStore && !connect.cleanSession && !context.storeLoaded.load(ordering: .acquiring) {
            // Its session may be in MongoDB, which has not been read yet: starting it afresh
            // would lose it. MQTT 3.1.1's answer for a service that is not there yet.
            refuseConnect(connection, code: .serverUnavailable, reason: "persistent sessions not loaded from MongoDB yet")
            return
        }
        var username = connect.username?.makeString()
        var password = connect.password?.copyToArray()
        if let method = connect.properties.authenticationMethod {
            // MQTT 5 enhanced authentication: only the access token method, in one step.
            guard method.elementsEqual(Credentials.tokenAuthenticationMethod.utf8), context.authenticator != nil else {
                refuseConnect(connection, code: .notAuthorized, v5: .badAuthenticationMethod,
                              reason: "authentication method \(method.makeString()) not supported")
                return
            }
            username = Credentials.tokenUsername
            password = connect.properties.authenticationData?.copyToArray() ?? []
            connection.v5?.authenticationMethod = Credentials.tokenAuthenticationMethod
        }
        if username == nil && !context.settings.allowAnonymous && context.authenticator == nil {
            refuseConnect(connection, code: .notAuthorized, reason: "anonymous clients not allowed")
            return
        }
        var will: Message?
        if let w = connect.will {
            let topic = w.topic.makeString()
            if TopicName.isSystemTopic(topic) {
                refuseConnect(connection, code: .notAuthorized, reason: "will topic in $SYS")
                return
            }
            // Like a PUBLISH topic: a deeper will would reach the subscription and retained tries
            // beyond the depth they are built for. (The decoder counted the levels.)
            if w.topicLevels > limits.maxTopicLevels {
                protocolViolation(connection, reason: "will topic has more than \(limits.maxTopicLevels) levels")
                return
            }
            if w.properties.payloadFormatIndicator == 1 && (try? MQTTString.validate(w.payload)) == nil {
                refuseConnect(connection, code: .notAuthorized, v5: .payloadFormatInvalid, reason: "will payload is not UTF-8")
                return
            }
            will = w.payload.withUnsafeBytes {
                Message(
                    topic: topic, payload: $0, qos: w.qos, retain: w.retain, originShard: shardIndex,
                    properties: connect.protocolVersion == .v5 ? w.properties.forwarded() : [],
                    expiresAt: expiry(w.properties.messageExpiryInterval))
            }
        }
        var request = ConnectRequest(
            clientId: clientId, cleanSession: connect.cleanSession, keepAlive: keepAlive,
            protocolVersion: connect.protocolVersion, username: username, password: password,
            will: will)
        if let v5 = connection.v5 {
            let asked = v5.sessionExpiryInterval
            request.sessionExpiry = limits.sessionExpirySeconds > 0 ? min(asked, UInt32(clamping: limits.sessionExpirySeconds)) : asked
        }
        connection.clientId = clientId
        connection.username = username
        connection.keepAlive = keepAlive
        connection.cleanSession = connect.cleanSession
        if context.authenticator != nil {
            authenticate(request, for: connection)
        } else {
            claimClientId(request, for: connection)
        }
    }

    private func assignedClientId(for connection: ClientConnection) -> String {
        "auto-\(shardIndex)-\(connection.id)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// The loop-clock time a Message Expiry Interval received now ends (0: none).
    func expiry(_ interval: UInt32?) -> UInt64 {
        guard let interval else { return 0 }
        return environment.now + UInt64(interval) * 1000
    }

    /// Finishes a CONNECT: picks the session (resumed or new), sends CONNACK and redelivers what
    /// the resumed session still owes the client.
    func completeConnect(_ connection: ClientConnection, request: ConnectRequest, existing: Session?) {
        let resumed = request.cleanSession || existing?.cleanSession != false ? nil : existing
        let session = resumed ?? Session(clientId: request.clientId, cleanSession: request.endsWithConnection)
        if resumed != nil {
            if let permissions = connection.permissions { dropForbiddenSubscriptions(of: session, permissions: permissions) }
            // Before its interest reaches other shards (see `ShardStats.holdsPersistentSubscriptions`).
            notePersistentSubscriptions(of: session)
            addSubscriptions(of: session)
        }
        if let existing, resumed == nil {
            if hasStore && !existing.cleanSession { recordSessionDeleted(request.clientId) }
            redistributeShared(of: existing)
        }
        if hasStore && request.cleanSession && !context.storeLoaded.load(ordering: .acquiring) {
            _ = context.cleanConnectsBeforeLoad.withLock { $0.insert(request.clientId) }
        }
        sessions[request.clientId] = session
        if session.cleanSession != request.endsWithConnection && !session.cleanSession {
            // An MQTT 5 session resumed with expiry 0 ends with this connection: not stored any more.
            if hasStore { recordSessionDeleted(request.clientId) }
        }
        session.cleanSession = request.endsWithConnection
        session.expiryInterval = request.sessionExpiry
        settleDelayedWill(of: existing, resumed: resumed != nil)
        recordSession(session, connected: true)
        session.connection = connection
        connection.session = session
        connection.will = request.will
        if hasStore, let will = request.will {
            connection.storedWillId = UInt64.random(in: 1...UInt64.max)
            recordStoreWrite(.saveWill(StoredWill(clientId: request.clientId, willId: connection.storedWillId, message: will)))
        }
        connection.state = .connected
        connectedCount += 1
        if connection.v5 != nil { connectedV5Count += 1 }
        if let v5 = connection.v5 {
            sendConnack5(
                to: connection, sessionPresent: resumed != nil, reason: .success, assignedClientId: v5.assignedClientId,
                serverKeepAlive: v5.serverKeepAlive, authenticationMethod: v5.authenticationMethod)
        } else {
            sendConnack(to: connection, sessionPresent: resumed != nil, code: .accepted)
        }
        if resumed != nil { sharedMemberConnected(session) }
        logger.debug("client connected", metadata: [
            "client": "\(connection.logName)", "clean": "\(request.cleanSession)", "resumed": "\(resumed != nil)",
        ])
        if resumed != nil { redeliver(session, on: connection) }
        context.bridge?.clientConnected(bridgeClient(for: connection))
    }

    /// CONNACK with a refusal code, then close (no will: the connection never got a session).
    /// `v5`: the MQTT 5 reason code when it says more than `code`'s counterpart.
    func refuseConnect(_ connection: ClientConnection, code: ConnectReturnCode, v5: ReasonCode? = nil, reason: String) {
        logger.debug("connection refused", metadata: ["client": "\(connection.logName)", "code": "\(code)", "reason": "\(reason)"])
        if connection.protocolVersion == .v5 {
            sendConnack5(to: connection, sessionPresent: false, reason: v5 ?? ReasonCode(code), reasonString: reason)
        } else {
            sendConnack(to: connection, sessionPresent: false, code: code)
        }
        close(connection, publishWill: false, reason: reason)
    }
}
