import MQTTWire

/// Every packet the broker sends is encoded straight into the connection's outbound queue
/// (sized first, written once) and flushed by the runtime at the end of the loop turn.
extension ShardEngine {
    func sendConnack(to connection: ClientConnection, sessionPresent: Bool, code: ConnectReturnCode) {
        _ = ConnAckEncoder.write(
            sessionPresent: sessionPresent, returnCode: code, to: connection.outbound.reserve(ConnAckEncoder.size))
        connection.outboundChanged()
    }

    func sendAck(_ type: PacketType, packetId: UInt16, to connection: ClientConnection) {
        _ = AckEncoder.write(type, packetId: packetId, to: connection.outbound.reserve(AckEncoder.size))
        connection.outboundChanged()
    }

    func sendPingresp(to connection: ClientConnection) {
        _ = EmptyPacketEncoder.write(.pingresp, to: connection.outbound.reserve(EmptyPacketEncoder.size))
        connection.outboundChanged()
    }

    func sendSuback(packetId: UInt16, codes: [SubscribeReturnCode], to connection: ClientConnection) {
        let size = SubAckEncoder.size(returnCodeCount: codes.count)
        _ = SubAckEncoder.write(packetId: packetId, returnCodes: codes, to: connection.outbound.reserve(size))
        connection.outboundChanged()
    }

    /// A live QoS 0 delivery sends the message's pre-serialised packet; otherwise the PUBLISH
    /// header is written per subscriber and the payload appended from the shared message (copied
    /// when small, referenced for a vectored write when large).
    func sendPublish(_ message: Message, qos: QoS, packetId: UInt16?, dup: Bool, retain: Bool, to connection: ClientConnection) {
        if qos == .atMostOnce && !retain {
            // The common fan-out case: the packet was serialised once, with the message.
            connection.outbound.appendShared(message.qos0Packet, ownedBy: message)
            counters.messagesSent += 1
            connection.outboundChanged()
            return
        }
        var topic = message.topic
        topic.withUTF8 { topicBytes in
            let view = ByteView(UnsafeRawBufferPointer(topicBytes))
            let size = PublishEncoder.headerSize(topicCount: view.count, payloadCount: message.payload.count, qos: qos)
            _ = PublishEncoder.writeHeader(
                topic: view, payloadCount: message.payload.count, qos: qos, retain: retain, dup: dup,
                packetId: packetId ?? 0, to: connection.outbound.reserve(size))
        }
        connection.outbound.appendPayload(of: message)
        counters.messagesSent += 1
        connection.outboundChanged()
    }
}
