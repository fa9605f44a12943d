import DequeModule
import Logging
import MQTTWire

/// Inbound PUBLISH and PUBREL, and routing: a publish reaches this shard's subscribers and the
/// other shards that have any. Delivery to one subscriber is ShardEngine+Delivery.
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

    /// A publish routed by another shard: local delivery only.
    func routeFromOtherShard(_ message: Message) {
        if message.retain { retained.store(message) }
        _ = subscriptions.match(topic: message.topic) { session, qos in
            deliver(message, to: session, grantedQoS: qos, retainFlag: false)
        }
    }
}
