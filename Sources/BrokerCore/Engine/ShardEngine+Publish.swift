import DequeModule
import Logging
import MQTTWire
import Synchronization

/// Inbound PUBLISH and PUBREL, and routing: a publish reaches this shard's subscribers and the
/// other shards that have any. Delivery to one subscriber is ShardEngine+Delivery.
extension ShardEngine {
    // MARK: - Inbound

    func handlePublish(_ publish: Publish, on connection: ClientConnection) {
        guard let session = connection.session else { return }
        // The decoder has validated the topic, its depth included (`limits.max_topic_levels`);
        // an MQTT 5 topic may come from its alias.
        guard let topic = resolveTopic(publish, on: connection) else { return }
        // Clients may not publish into $SYS; like Mosquitto, the publish is acknowledged and dropped.
        var allowed = !TopicName.isSystemTopic(topic)
        var refusal = ReasonCode.success
        if let permissions = connection.permissions, !permissions.canPublish(topic) {
            // MQTT 3.1.1 has no negative acknowledgement: acknowledge and drop (or close, when
            // configured), as Mosquitto does. MQTT 5 says so: PUBACK/PUBREC 0x87.
            counters.publishesDenied += 1
            if context.settings.disconnectOnDeniedPublish {
                logger.debug("publish denied, closing", metadata: ["client": "\(connection.logName)", "topic": "\(topic)"])
                close(connection, publishWill: true, reason: "publish to \(topic) denied", disconnect: .notAuthorized)
                return
            }
            allowed = false
            refusal = .notAuthorized
        }
        if connection.v5 != nil {
            if publish.properties.payloadFormatIndicator == 1 && (try? MQTTString.validate(publish.payload)) == nil {
                // §3.3.2.3.2: the payload claims to be UTF-8 and is not.
                guard publish.qos != .atMostOnce else {
                    protocolViolation(connection, reason: "payload is not UTF-8 as its format indicator says", code: .payloadFormatInvalid)
                    return
                }
                allowed = false
                refusal = .payloadFormatInvalid
            }
            if publish.qos != .atMostOnce && !publish.dup
                && connection.pendingAcks.count + session.inboundQoS2.count >= limits.receiveMaximum {
                protocolViolation(
                    connection, reason: "more than \(limits.receiveMaximum) unacknowledged QoS 1/2 publishes",
                    code: .receiveMaximumExceeded)
                return
            }
        }
        if allowed, let bridge = context.bridge, let match = bridge.match(topic: topic) {
            publishThroughBridge(publish, topic: topic, match: match, bridge: bridge, session: session, on: connection)
            return
        }
        guard let packetId = publish.packetId else {
            if allowed { route(makeMessage(publish, topic: topic, from: connection)) }
            return
        }
        let kind: PacketType = publish.qos == .atLeastOnce ? .puback : .pubrec
        if publish.qos == .exactlyOnce && answeredAsQoS2Resend(packetId, of: session, on: connection) { return }
        if refusal != .success && connection.v5 != nil {
            // A refused MQTT 5 QoS 2 exchange ends with its PUBREC: no PUBREL follows (§4.3.3).
            acknowledge(kind, packetId: packetId, reason: refusal, on: connection)
            return
        }
        // With `acknowledged` durability, PUBACK/PUBREC wait until every store write this
        // publish causes, here and on the shards it reaches, is durable: routing makes the
        // ticket when it meets the first such write (most publishes cause none).
        if allowed && storeWaits {
            routingAck = .deferred(kind: kind, packetId: packetId, connection: connection)
            route(makeMessage(publish, topic: topic, from: connection))
            if publish.qos == .exactlyOnce { recordInboundQoS2(packetId, of: session) }
            let owed = routingAck
            routingAck = nil
            if case .ticket(let ticket) = owed {
                releaseOwnerHold(ticket)
                return
            }
            if publish.qos == .exactlyOnce { session.inboundQoS2.insert(packetId) }
            acknowledge(kind, packetId: packetId, on: connection)
            return
        }
        // The acknowledgement goes out before the message is routed, so a client subscribed to
        // its own topic gets its PUBACK/PUBREC before the message comes back (as Mosquitto does).
        if publish.qos == .exactlyOnce { session.inboundQoS2.insert(packetId) }
        acknowledge(kind, packetId: packetId, on: connection)
        if allowed {
            route(makeMessage(publish, topic: topic, from: connection))
            // `relaxed` durability: stored too, behind (nothing waits).
            if publish.qos == .exactlyOnce { recordInboundQoS2(packetId, of: session) }
        }
    }

    func makeMessage(_ publish: Publish, topic: String, from connection: ClientConnection) -> Message {
        publish.payload.withUnsafeBytes {
            Message(
                topic: topic, payload: $0, qos: publish.qos, retain: publish.retain, originShard: shardIndex,
                publisher: connection.id, properties: publish.properties.forwarded(),
                expiresAt: expiry(publish.properties.messageExpiryInterval))
        }
    }

    func handlePubrel(_ packetId: UInt16, on connection: ClientConnection) {
        guard let session = connection.session else { return }
        if session.inboundQoS2.remove(packetId) != nil && hasStore && !session.cleanSession {
            // PUBCOMP waits until the id is gone from the store too: after a restart, the
            // client's next message with this id must not be taken for a resend of the old one.
            acknowledge(
                .pubcomp, packetId: packetId, after: .removeInboundQoS2(clientId: session.clientId, packetId: packetId),
                on: connection)
        } else {
            acknowledge(.pubcomp, packetId: packetId, on: connection)
        }
    }

    // MARK: - Routing

    /// Delivers `message` to this shard's subscribers and posts it to every other shard that
    /// has a matching subscription (to every shard, when it changes the retained store). While
    /// `routingAck` is set, the store writes it causes anywhere hold the publisher's
    /// acknowledgement.
    public func route(_ message: Message) {
        counters.messagesReceived += 1
        switch message.qos {
        case .atMostOnce: counters.receivedByQoS.0 += 1
        case .atLeastOnce: counters.receivedByQoS.1 += 1
        case .exactlyOnce: counters.receivedByQoS.2 += 1
        }
        if message.retain {
            retained.store(message)
            // `$SYS` is the broker's own and rewritten every interval: not worth keeping.
            if hasStore && !routingFromCluster && !TopicName.isSystemTopic(message.topic) {
                recordStoreWrite(.retain(message), ticket: ticketForStoreWrite())
            }
        }
        let publisher = message.originShard == shardIndex ? message.publisher : 0
        let remote = subscriptions.match(topic: message.topic, publisher: publisher) { session, qos in
            deliver(
                message, to: session, grantedQoS: qos, retainFlag: message.retain && session.matchRetainAsPublished,
                identifiers: session.matchIdentifiers)
        }
        if !parkedHandovers.isEmpty { parkForHandovers(message) }
        // Shared groups are the publishing shard's to dispatch (see ShardEngine+SharedSubscriptions),
        // on the publishing node (one from another node names its group: `routeFromCluster`).
        if !subscriptions.matchedGroups.isEmpty && !routingFromCluster { dispatchToMatchedGroups(message) }
        if message.retain {
            for shard in 0..<context.shardCount where shard != shardIndex { post(message, to: shard) }
            // Every node keeps a replica of the retained messages.
            if let cluster = context.cluster, !routingFromCluster, !TopicName.isSystemTopic(message.topic) {
                forwardToCluster(message, nodes: nil, cluster: cluster)
            }
        } else if let cluster = context.cluster {
            postAcrossCluster(message, remote: remote, cluster: cluster)
        } else {
            remote.forEach { post(message, to: $0) }
        }
    }

    /// Posts a routed publish. The ticket goes along only to a shard that may hold persistent
    /// subscribers (only they write to the store): a clean subscriber's shard is not waited for.
    /// A shard whose first persistent subscription is so new that this shard has not seen its
    /// flag yet has not sent that SUBACK yet either, so the publish was not yet owed to it.
    @inline(__always)
    func post(_ message: Message, to shard: Int) {
        if let ticket = ticketForPost(to: shard) {
            environment.post(.durablePublish(message, ticket: ticket), to: shard)
        } else {
            environment.post(.publish(message), to: shard)
        }
        chargeCredit(for: message, to: shard)
    }

    /// The ticket a post of the publish being routed carries (retained for it), or nil when
    /// nothing waits for it where it goes (see `post`): `shard`, or, when nil, wherever it may
    /// land (a shared subscription's message may be passed on to a third shard).
    @inline(__always)
    func ticketForPost(to shard: Int?) -> AckTicket? {
        guard routingAck != nil else { return nil }
        let mayStore = shard.map { context.stats[$0].holdsPersistentSubscriptions.load(ordering: .acquiring) }
            ?? context.stats.contains { $0.holdsPersistentSubscriptions.load(ordering: .acquiring) }
        guard mayStore, let ticket = ticketForStoreWrite() else { return nil }
        ticket.retain()
        return ticket
    }

    /// A message from outside MQTT (a Kafka record). Its topic went through `TopicName`'s
    /// grammar where it was made, but not through a PUBLISH decoder: one deeper than
    /// `max_topic_levels` would reach the subscription and retained tries beyond the depth they
    /// are built for, so it is dropped and counted, as a PUBLISH with it would be refused.
    func routeInjected(_ message: Message) {
        var topic = message.topic
        let withinDepth = topic.withUTF8 { bytes in
            (try? TopicName.validate(ByteView(UnsafeRawBufferPointer(bytes)), maxLevels: limits.maxTopicLevels)) != nil
        }
        guard withinDepth else {
            counters.messagesDropped += 1
            logger.warning("message from outside MQTT dropped: topic has more than \(limits.maxTopicLevels) levels", metadata: [
                "topic": "\(message.topic.prefix(200))",
            ])
            return
        }
        route(message)
    }

    /// A publish routed by shard `source`: local delivery only (its shared groups were
    /// dispatched where it was published). Its `ticket` is released once the writes it caused
    /// here are recorded (they hold it themselves until durable).
    func routeFromOtherShard(_ message: Message, ticket: AckTicket? = nil, source: Int) {
        if message.retain { retained.store(message) }
        routingAck = ticket.map { .ticket($0) }
        _ = subscriptions.match(topic: message.topic) { session, qos in
            // A moving session gets it on its new shard (ShardEngine+Handover).
            if session.isHandingOver && switchedAway(session, source: source) { return }
            deliver(
                message, to: session, grantedQoS: qos, retainFlag: message.retain && session.matchRetainAsPublished,
                identifiers: session.matchIdentifiers)
        }
        if !parkedHandovers.isEmpty { parkForHandovers(message) }
        routingAck = nil
        ticket?.release()
    }
}
