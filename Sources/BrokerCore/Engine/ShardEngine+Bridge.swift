import DequeModule
import Logging
import MQTTWire

extension ShardEngine {
    /// Most publishes one connection may have waiting for the bridge before reading from it
    /// stops (it resumes at half). Bounds memory when Kafka is down, without dropping anything.
    static let maxPendingBridgeAcks = 1_000

    /// An inbound PUBLISH that matches the bridge's rules: hand it over, route it to MQTT when
    /// the rules say so, and acknowledge QoS 1/2 only once the bridge has it (when it waits).
    func publishThroughBridge(
        _ publish: Publish, topic: String, match: BridgeMatch, bridge: any PublishBridge,
        session: Session, on connection: ClientConnection
    ) {
        if publish.qos == .exactlyOnce {
            let packetId = publish.packetId!
            // A resent PUBLISH before PUBREL: already handed over (the bridge acknowledged it), not
            // again. One still waiting on this connection gets its PUBREC when the bridge answers.
            if session.inboundQoS2.contains(packetId) {
                acknowledge(.pubrec, packetId: packetId, on: connection)
                return
            }
            if connection.pendingAcks.contains(where: { $0.kind == .pubrec && $0.packetId == packetId && $0.state == .waiting }) {
                return
            }
        }
        let message = makeMessage(publish, topic: topic, from: connection)
        let client = bridgeClient(for: connection)
        switch publish.qos {
        case .atMostOnce:
            bridge.forward(message, match: match, from: client, completion: nil)
        case .atLeastOnce, .exactlyOnce:
            let packetId = publish.packetId!
            let kind: PacketType = publish.qos == .atLeastOnce ? .puback : .pubrec
            if match.awaitsAcknowledgement {
                let sequence = connection.nextAckSequence
                connection.nextAckSequence += 1
                connection.pendingAcks.append(PendingAck(sequence: sequence, kind: kind, packetId: packetId, state: .waiting))
                let id = connection.id
                let mailbox = environment.mailbox
                bridge.forward(message, match: match, from: client) { delivered in
                    mailbox.post(.bridgeAcknowledged(connection: id, sequence: sequence, delivered: delivered))
                }
                if connection.pendingAcks.count > Self.maxPendingBridgeAcks && !connection.readingPausedForBridge {
                    connection.readingPausedForBridge = true
                    updateFlowPause(connection)
                }
            } else {
                bridge.forward(message, match: match, from: client, completion: nil)
                if publish.qos == .exactlyOnce { session.inboundQoS2.insert(packetId) }
                acknowledge(kind, packetId: packetId, on: connection)
            }
        }
        if match.alsoMQTT { route(message) }
    }

    /// Sends PUBACK/PUBREC now, or behind the acknowledgements still held for the bridge.
    @inline(__always)
    func acknowledge(_ kind: PacketType, packetId: UInt16, on connection: ClientConnection) {
        if connection.pendingAcks.isEmpty {
            sendAck(kind, packetId: packetId, to: connection)
        } else {
            connection.pendingAcks.append(PendingAck(
                sequence: connection.nextAckSequence, kind: kind, packetId: packetId, state: .done))
            connection.nextAckSequence += 1
        }
    }

    /// The bridge's verdict on a held publish of connection `id` (which may have closed: then
    /// the client resends it after reconnecting). Releases the acknowledgements at the head.
    public func bridgeAcknowledged(_ id: ConnectionID, sequence: UInt64, delivered: Bool) {
        guard let connection = connections[id], let head = connection.pendingAcks.first,
              sequence >= head.sequence, sequence - head.sequence < UInt64(connection.pendingAcks.count)
        else { return }
        let index = Int(sequence - head.sequence)
        let entry = connection.pendingAcks[index]
        connection.pendingAcks[index].state = delivered ? .done : .failed
        // A QoS 2 publish counts as received (a resend is not handed over again) only once the
        // bridge has it; until then a resend after reconnecting is handed over again.
        if delivered && entry.kind == .pubrec { connection.session?.inboundQoS2.insert(entry.packetId) }
        if !delivered {
            counters.bridgeFailures += 1
            logger.warning("bridge refused a publish; not acknowledged", metadata: [
                "client": "\(connection.logName)", "packetId": "\(entry.packetId)",
            ])
        }
        while let first = connection.pendingAcks.first, first.state != .waiting {
            connection.pendingAcks.removeFirst()
            if first.state == .done { sendAck(first.kind, packetId: first.packetId, to: connection) }
        }
        if connection.readingPausedForBridge && connection.pendingAcks.count <= Self.maxPendingBridgeAcks / 2 {
            connection.readingPausedForBridge = false
            updateFlowPause(connection)
        }
    }

    func bridgeClient(for connection: ClientConnection) -> BridgeClient {
        BridgeClient(
            clientId: connection.clientId, subject: connection.identity?.subject,
            tokenAuthenticated: connection.identity?.viaToken ?? false, peer: connection.peer)
    }
}
