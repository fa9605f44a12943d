import DequeModule
import Logging
import MQTTWire

extension ShardEngine {
    // MARK: - Inbound

    func handlePublish(_ publish: Publish, on connection: ClientConnection) {
        guard let session = connection.session else { return }
        // The decoder has validated the topic, its depth included (`limits.max_topic_levels`).
        let topic = publish.topic.makeString()
        // Clients may not publish into $SYS; like Mosquitto, the publish is acknowledged and dropped.
        var allowed = !TopicName.isSystemTopic(topic)
        if let permissions = connection.permissions, !permissions.canPublish(topic) {
            // MQTT 3.1.1 has no negative acknowledgement: acknowledge and drop (or close, when
            // configured), as Mosquitto does.
            counters.publishesDenied += 1
            if context.settings.disconnectOnDeniedPublish {
                logger.debug("publish denied, closing", metadata: ["client": "\(connection.logName)", "topic": "\(topic)"])
                close(connection, publishWill: true, reason: "publish to \(topic) denied")
                return
            }
            allowed = false
        }
        if allowed, let bridge = context.bridge, let match = bridge.match(topic: topic) {
            publishThroughBridge(publish, topic: topic, match: match, bridge: bridge, session: session, on: connection)
            return
        }
        switch publish.qos {
        case .atMostOnce:
            if allowed { route(makeMessage(publish, topic: topic, from: connection)) }
        case .atLeastOnce:
            if allowed { route(makeMessage(publish, topic: topic, from: connection)) }
            acknowledge(.puback, packetId: publish.packetId!, on: connection)
        case .exactlyOnce:
            let packetId = publish.packetId!
            // Exactly once: a PUBLISH resent (DUP) before PUBREL is acknowledged, not routed again.
            if !session.inboundQoS2.contains(packetId) {
                if allowed { route(makeMessage(publish, topic: topic, from: connection)) }
                session.inboundQoS2.insert(packetId)
            }
            acknowledge(.pubrec, packetId: packetId, on: connection)
        }
    }

    func makeMessage(_ publish: Publish, topic: String, from connection: ClientConnection) -> Message {
        publish.payload.withUnsafeBytes {
            Message(
                topic: topic, payload: $0, qos: publish.qos, retain: publish.retain, originShard: shardIndex,
                publisher: connection.id)
        }
    }

    func handlePubrel(_ packetId: UInt16, on connection: ClientConnection) {
        connection.session?.inboundQoS2.remove(packetId)
        sendAck(.pubcomp, packetId: packetId, to: connection)
    }

    func handlePuback(_ packetId: UInt16, on connection: ClientConnection) {
        completeInflight(packetId, awaiting: .awaitingPuback, on: connection)
    }

    func handlePubrec(_ packetId: UInt16, on connection: ClientConnection) {
        guard let session = connection.session,
              let index = session.inflight.firstIndex(where: { $0.packetId == packetId && $0.stage != .awaitingPuback })
        else { return }
        session.inflight[index].stage = .awaitingPubcomp
        sendAck(.pubrel, packetId: packetId, to: connection)
    }

    func handlePubcomp(_ packetId: UInt16, on connection: ClientConnection) {
        completeInflight(packetId, awaiting: .awaitingPubcomp, on: connection)
    }

    /// The final acknowledgement of an outbound message: it leaves the window, and the next
    /// queued message takes its place. Unknown ids are ignored (as Mosquitto does).
    private func completeInflight(_ packetId: UInt16, awaiting stage: InflightMessage.Stage, on connection: ClientConnection) {
        guard let session = connection.session,
              let index = session.inflight.firstIndex(where: { $0.packetId == packetId && $0.stage == stage })
        else { return }
        session.inflight.remove(at: index)
        pump(session, on: connection)
        sessionDrained(session)
    }

    // MARK: - Routing

    /// Delivers `message` to this shard's subscribers and posts it to every other shard that
    /// has a matching subscription (to every shard, when it changes the retained store).
    public func route(_ message: Message) {
        counters.messagesReceived += 1
        if message.retain { retained.store(message) }
        let remote = subscriptions.match(topic: message.topic) { session, qos in
            deliver(message, to: session, grantedQoS: qos, retainFlag: false)
        }
        if message.retain {
            for shard in 0..<context.shardCount where shard != shardIndex {
                environment.post(.publish(message), to: shard)
            }
        } else {
            remote.forEach { environment.post(.publish(message), to: $0) }
        }
    }

    /// A publish routed by another shard: local delivery only.
    func routeFromOtherShard(_ message: Message) {
        if message.retain { retained.store(message) }
        _ = subscriptions.match(topic: message.topic) { session, qos in
            deliver(message, to: session, grantedQoS: qos, retainFlag: false)
        }
    }

    // MARK: - Outbound

    /// Sends `message` to `session` at min(message QoS, granted QoS), or queues it when the
    /// in-flight window is full or the client is offline. Over the limits it is dropped and
    /// counted: QoS 0 when the client's outbound queue is full, QoS 1/2 when its session queue is.
    func deliver(_ message: Message, to session: Session, grantedQoS: QoS, retainFlag: Bool) {
        let qos = message.qos.rawValue < grantedQoS.rawValue ? message.qos : grantedQoS
        guard let connection = session.connection, connection.state == .connected else {
            if qos != .atMostOnce { enqueue(message, qos: qos, retain: retainFlag, in: session) }
            return
        }
        if qos == .atMostOnce {
            if connection.outbound.totalBytes > Self.outboundSoftLimit {
                counters.messagesDropped += 1
                return
            }
            sendPublish(message, qos: .atMostOnce, packetId: nil, dup: false, retain: retainFlag, to: connection)
            return
        }
        if session.queue.isEmpty && session.inflight.count < limits.maxInflightMessages {
            sendInflight(message, qos: qos, retain: retainFlag, session: session, connection: connection)
        } else {
            enqueue(message, qos: qos, retain: retainFlag, in: session)
            // A retained copy is not the publisher's live traffic: it holds nobody back.
            if !retainFlag { holdPublisherIfCongested(session, by: message) }
        }
    }

    /// Bytes a client may have waiting before QoS 0 messages to it are dropped.
    static let outboundSoftLimit = 4 * 1024 * 1024

    private func enqueue(_ message: Message, qos: QoS, retain: Bool, in session: Session) {
        guard session.queue.count < queueLimit(of: session) else {
            counters.messagesDropped += 1
            return
        }
        session.queue.append(QueuedMessage(message: message, qos: qos, retain: retain))
    }

    private func sendInflight(_ message: Message, qos: QoS, retain: Bool, session: Session, connection: ClientConnection) {
        let packetId = session.allocatePacketId()
        session.inflight.append(InflightMessage(
            packetId: packetId, message: message, qos: qos, retain: retain,
            stage: qos == .atLeastOnce ? .awaitingPuback : .awaitingPubrec))
        sendPublish(message, qos: qos, packetId: packetId, dup: false, retain: retain, to: connection)
    }

    /// Moves queued messages into the in-flight window while it has room.
    func pump(_ session: Session, on connection: ClientConnection) {
        while session.inflight.count < limits.maxInflightMessages, let next = session.queue.popFirst() {
            if let permissions = connection.permissions, !permissions.canReceive(next.message.topic) {
                counters.messagesDropped += 1
                continue
            }
            sendInflight(next.message, qos: next.qos, retain: next.retain, session: session, connection: connection)
        }
    }

    /// After a persistent session resumes: resend unacknowledged messages with DUP set (or
    /// PUBREL where PUBREC already came), then fill the window from the queue.
    func redeliver(_ session: Session, on connection: ClientConnection) {
        if let permissions = connection.permissions {
            // Queued under an earlier login: what this one may no longer receive is dropped.
            session.inflight.removeAll { entry in
                entry.stage != .awaitingPubcomp && !permissions.canReceive(entry.message.topic)
            }
        }
        for entry in session.inflight {
            switch entry.stage {
            case .awaitingPuback, .awaitingPubrec:
                sendPublish(entry.message, qos: entry.qos, packetId: entry.packetId, dup: true, retain: entry.retain, to: connection)
            case .awaitingPubcomp:
                sendAck(.pubrel, packetId: entry.packetId, to: connection)
            }
        }
        pump(session, on: connection)
    }
}
