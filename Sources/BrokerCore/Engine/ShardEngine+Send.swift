import MQTTWire

/// Every packet the broker sends is encoded straight into the connection's outbound queue
/// (sized first, written once) and flushed by the runtime at the end of the loop turn. MQTT 5
/// connections get their revision's forms (reason codes, properties) of the same packets.
extension ShardEngine {
    /// A 3.1.1 (or 3.1) CONNACK; MQTT 5 clients get `sendConnack5`.
    func sendConnack(to connection: ClientConnection, sessionPresent: Bool, code: ConnectReturnCode) {
        _ = ConnAckEncoder.write(
            sessionPresent: sessionPresent, returnCode: code, to: connection.outbound.reserve(ConnAckEncoder.size))
        connection.outboundChanged()
    }

    /// An MQTT 5 CONNACK. An accepting one tells the client the broker's limits (MQTT 5.0
    /// §3.2.2.3): Receive Maximum, Maximum Packet Size, Topic Alias Maximum, and the
    /// Assigned Client Identifier and Server Keep Alive when the broker chose them.
    func sendConnack5(
        to connection: ClientConnection, sessionPresent: Bool, reason: ReasonCode, assignedClientId: String? = nil,
        serverKeepAlive: UInt16? = nil, authenticationMethod: String? = nil, reasonString: String? = nil
    ) {
        var properties = PropertyBuilder()
        if !reason.isFailure {
            properties.twoByteInteger(.receiveMaximum, UInt16(clamping: limits.receiveMaximum))
            properties.fourByteInteger(.maximumPacketSize, UInt32(clamping: limits.maxPacketSize))
            if limits.topicAliasMaximum > 0 {
                properties.twoByteInteger(.topicAliasMaximum, UInt16(clamping: limits.topicAliasMaximum))
            }
            if let assignedClientId { properties.string(.assignedClientIdentifier, assignedClientId.utf8) }
            if let serverKeepAlive { properties.twoByteInteger(.serverKeepAlive, serverKeepAlive) }
            if let authenticationMethod { properties.string(.authenticationMethod, authenticationMethod.utf8) }
        } else if let reasonString, context.settings.reasonStrings {
            properties.string(.reasonString, reasonString.utf8)
        }
        append(ReasonPacketEncoder.connack(sessionPresent: sessionPresent, reason: reason, properties: properties), to: connection)
    }

    /// PUBACK, PUBREC, PUBREL, PUBCOMP or a 3.1.1 UNSUBACK; an MQTT 5 client also gets a
    /// failure's reason code.
    func sendAck(_ type: PacketType, packetId: UInt16, reason: ReasonCode = .success, to connection: ClientConnection) {
        if reason != .success && connection.v5 != nil {
            append(ReasonPacketEncoder.acknowledgement(type, packetId: packetId, reason: reason), to: connection)
            return
        }
        _ = AckEncoder.write(type, packetId: packetId, to: connection.outbound.reserve(AckEncoder.size))
        connection.outboundChanged()
    }

    func sendPingresp(to connection: ClientConnection) {
        _ = EmptyPacketEncoder.write(.pingresp, to: connection.outbound.reserve(EmptyPacketEncoder.size))
        connection.outboundChanged()
    }

    /// SUBACK (both revisions; a 3.1.1 client gets 0x80 for every failure) or MQTT 5 UNSUBACK.
    func sendSubscriptionAck(_ type: PacketType, packetId: UInt16, codes: [ReasonCode], to connection: ClientConnection) {
        if connection.v5 != nil {
            append(ReasonPacketEncoder.subscriptionAck(type, packetId: packetId, reasons: codes), to: connection)
            return
        }
        let returnCodes = codes.map { $0.isFailure ? SubscribeReturnCode.failure : SubscribeReturnCode(rawValue: $0.rawValue)! }
        let size = SubAckEncoder.size(returnCodeCount: returnCodes.count)
        _ = SubAckEncoder.write(packetId: packetId, returnCodes: returnCodes, to: connection.outbound.reserve(size))
        connection.outboundChanged()
    }

    /// MQTT 5: the DISCONNECT the broker sends before it closes a connection (MQTT 5.0 §3.14),
    /// with a reason string when configured and the client did not turn them off.
    func sendDisconnect(_ reason: ReasonCode, reasonString: String?, to connection: ClientConnection) {
        var properties = PropertyBuilder()
        if let reasonString, context.settings.reasonStrings, connection.v5?.problemInformation != false {
            properties.string(.reasonString, reasonString.utf8)
        }
        append(ReasonPacketEncoder.reasonOnly(.disconnect, reason: reason, properties: properties), to: connection)
    }

    /// MQTT 5: an AUTH packet (the answer to a re-authentication).
    func sendAuth(_ reason: ReasonCode, method: String, to connection: ClientConnection) {
        var properties = PropertyBuilder()
        properties.string(.authenticationMethod, method.utf8)
        append(ReasonPacketEncoder.reasonOnly(.auth, reason: reason, properties: properties), to: connection)
    }

    private func append(_ bytes: [UInt8], to connection: ClientConnection) {
        bytes.withUnsafeBytes { connection.outbound.append($0) }
        connection.outboundChanged()
    }

    /// A live QoS 0 delivery to a 3.1.1 client sends the message's pre-serialised packet;
    /// otherwise the PUBLISH header is written per subscriber (MQTT 5: with the message's
    /// properties, the expiry left and the subscription identifiers) and the payload appended
    /// from the shared message (copied when small, referenced for a vectored write when large).
    func sendPublish(
        _ message: Message, qos: QoS, packetId: UInt16?, dup: Bool, retain: Bool, to connection: ClientConnection,
        subscriptionIdentifiers: [UInt32] = []
    ) {
        if qos == .atMostOnce && !retain && connection.v5 == nil {
            // The common fan-out case: the packet was serialised once, with the message.
            connection.outbound.appendShared(message.qos0Packet, ownedBy: message)
            counters.messagesSent += 1
            counters.sentByQoS.0 += 1
            connection.outboundChanged()
            return
        }
        var topic = message.topic
        // MQTT 5 topic aliases towards the client: a topic gets the next alias the first time it
        // is sent while the client's Topic Alias Maximum leaves room, and from then on goes as
        // the alias alone (an empty topic).
        var alias: UInt16?
        var aliasOnly = false
        if let v5 = connection.v5, v5.outboundAliasMaximum > 0 {
            if let known = v5.outboundAliases[topic] {
                alias = known
                aliasOnly = true
            } else if v5.outboundAliases.count < Int(v5.outboundAliasMaximum) {
                let next = UInt16(v5.outboundAliases.count + 1)
                v5.outboundAliases[topic] = next
                alias = next
            }
        }
        let properties = connection.v5 == nil ? nil : OutboundPublishProperties(
            forwarded: message.properties, messageExpiryInterval: message.remainingExpiry(at: environment.now),
            subscriptionIdentifiers: subscriptionIdentifiers, topicAlias: alias)
        topic.withUTF8 { topicBytes in
            let view = aliasOnly ? ByteView.empty : ByteView(UnsafeRawBufferPointer(topicBytes))
            let size = PublishEncoder.headerSize(
                topicCount: view.count, payloadCount: message.payload.count, qos: qos,
                propertiesSize: properties?.encodedSize ?? 0)
            _ = PublishEncoder.writeHeader(
                topic: view, payloadCount: message.payload.count, qos: qos, retain: retain, dup: dup,
                packetId: packetId ?? 0, properties: properties, to: connection.outbound.reserve(size))
        }
        connection.outbound.appendPayload(of: message)
        counters.messagesSent += 1
        switch qos {
        case .atMostOnce: counters.sentByQoS.0 += 1
        case .atLeastOnce: counters.sentByQoS.1 += 1
        case .exactlyOnce: counters.sentByQoS.2 += 1
        }
        connection.outboundChanged()
    }

    /// MQTT 5: whether `message` may go to `connection` at all: not expired, and within the
    /// client's Maximum Packet Size (sized by the largest form of the header: a packet a few
    /// bytes under the limit may be held back). What may not is counted here (expired, too
    /// large) and dropped by the caller, which counts the drop.
    @inline(__always)
    func isDeliverable(_ message: Message, to connection: ClientConnection, identifierCount: Int = 1) -> Bool {
        guard message.expiresAt != 0 || connection.v5 != nil else { return true }
        if message.hasExpired(at: environment.now) {
            counters.messagesExpired += 1
            return false
        }
        guard let v5 = connection.v5, v5.maximumPacketSize != Int.max else { return true }
        // Fixed header, topic, packet id, property length, expiry, alias, forwarded, identifiers, payload.
        let largest = 5 + 2 + message.topic.utf8.count + 2 + 4 + 5 + 3 + message.properties.count + 5 * identifierCount
            + message.payload.count
        guard largest <= v5.maximumPacketSize else {
            counters.messagesTooLarge += 1
            return false
        }
        return true
    }
}
