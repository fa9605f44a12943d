import Logging
import MQTTWire
import Synchronization

/// The owned parts of a CONNECT packet (the decoded packet only borrows the receive buffer).
struct ConnectRequest {
    var clientId: String
    var cleanSession: Bool
    var keepAlive: UInt16
    var protocolVersion: ProtocolVersion
    var username: String?
    var password: [UInt8]?
    var will: Message?
}

extension ShardEngine {
    /// Longest client id an MQTT 3.1 client may use (3.1 spec; Mosquitto enforces it too).
    static let mqtt31MaxClientIdLength = 23

    func handleConnect(_ connect: Connect, on connection: ClientConnection) {
        connection.protocolVersion = connect.protocolVersion
        var clientId = connect.clientId.makeString()
        if clientId.isEmpty {
            // 3.1.1 §3.1.3.1: a zero-length id is only allowed with clean session, and the
            // server then assigns one. 3.1 clients must always send one.
            guard connect.cleanSession && connect.protocolVersion == .v3_1_1 else {
                refuseConnect(connection, code: .identifierRejected, reason: "empty client id without clean session")
                return
            }
            clientId = assignedClientId(for: connection)
        } else if connect.protocolVersion == .v3_1 && clientId.utf8.count > Self.mqtt31MaxClientIdLength {
            refuseConnect(connection, code: .identifierRejected, reason: "MQTT 3.1 client id longer than 23 bytes")
            return
        }
        if Int(connect.keepAlive) > limits.maxKeepalive || (connect.keepAlive == 0 && limits.maxKeepalive < 65535) {
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
        let username = connect.username?.makeString()
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
            will = w.payload.withUnsafeBytes {
                Message(topic: topic, payload: $0, qos: w.qos, retain: w.retain, originShard: shardIndex)
            }
        }
        let request = ConnectRequest(
            clientId: clientId, cleanSession: connect.cleanSession, keepAlive: connect.keepAlive,
            protocolVersion: connect.protocolVersion, username: username, password: connect.password?.copyToArray(),
            will: will)
        connection.clientId = clientId
        connection.username = username
        connection.keepAlive = connect.keepAlive
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

    /// Finishes a CONNECT: picks the session (resumed or new), sends CONNACK and redelivers what
    /// the resumed session still owes the client.
    func completeConnect(_ connection: ClientConnection, request: ConnectRequest, existing: Session?) {
        let resumed = request.cleanSession || existing?.cleanSession != false ? nil : existing
        let session = resumed ?? Session(clientId: request.clientId, cleanSession: request.cleanSession)
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
        session.cleanSession = request.cleanSession
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
        sendConnack(to: connection, sessionPresent: resumed != nil, code: .accepted)
        if resumed != nil { sharedMemberConnected(session) }
        logger.debug("client connected", metadata: [
            "client": "\(connection.logName)", "clean": "\(request.cleanSession)", "resumed": "\(resumed != nil)",
        ])
        if resumed != nil { redeliver(session, on: connection) }
        context.bridge?.clientConnected(bridgeClient(for: connection))
    }

    /// CONNACK with a refusal code, then close (no will: the connection never got a session).
    func refuseConnect(_ connection: ClientConnection, code: ConnectReturnCode, reason: String) {
        logger.debug("connection refused", metadata: ["client": "\(connection.logName)", "code": "\(code)", "reason": "\(reason)"])
        sendConnack(to: connection, sessionPresent: false, code: code)
        close(connection, publishWill: false, reason: reason)
    }
}
