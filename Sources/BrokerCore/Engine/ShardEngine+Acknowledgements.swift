import DequeModule
import Logging
import MQTTWire

/// Acknowledgements that wait (`AckTicket`): held in `ClientConnection.pendingAcks` in packet
/// order, released when their ticket settles, and sent in order, so that a later PUBACK never
/// overtakes an earlier one that waits for the bridge or the store (MQTT 3.1.1 §4.6).
extension ShardEngine {
    /// Most acknowledgements one connection may have held before reading from it stops (it
    /// resumes at half). Bounds memory while Kafka or MongoDB is slow or down, dropping nothing.
    static let maxHeldAcks = 1_000

    /// Appends a waiting acknowledgement and returns its ticket, held once by this shard: hand it
    /// out (each taker retains it), then call `releaseOwnerHold`.
    func holdAcknowledgement(
        _ kind: PacketType, packetId: UInt16, reasonCodes: [ReasonCode] = [], on connection: ClientConnection
    ) -> AckTicket {
        let sequence = connection.nextAckSequence
        connection.nextAckSequence += 1
        connection.pendingAcks.append(PendingAck(
            sequence: sequence, kind: kind, packetId: packetId, reasonCodes: reasonCodes, state: .waiting))
        if connection.pendingAcks.count > Self.maxHeldAcks && !connection.readingPausedForAcks {
            connection.readingPausedForAcks = true
            updateFlowPause(connection)
        }
        return AckTicket(
            connection: connection.id, sequence: sequence, session: kind == .pubrec ? connection.session : nil, kind: kind,
            packetId: packetId, mailbox: environment.mailbox)
    }

    /// The acknowledgement owed for the publish being routed: a ticket already (the bridge holds
    /// one, or it came from another shard), or one to make only when something must be waited
    /// for, so that traffic nothing waits for (clean sessions) costs no ticket.
    enum RoutingAck {
        case ticket(AckTicket)
        case deferred(kind: PacketType, packetId: UInt16, connection: ClientConnection)
    }

    /// The ticket a store write (or a post to a shard that writes) of the publish being routed
    /// holds; made now if it was deferred. Nil when nothing waits for the publish.
    func ticketForStoreWrite() -> AckTicket? {
        switch routingAck {
        case nil:
            return nil
        case .ticket(let ticket):
            return ticket
        case .deferred(let kind, let packetId, let connection):
            let ticket = holdAcknowledgement(kind, packetId: packetId, on: connection)
            routingAck = .ticket(ticket)
            return ticket
        }
    }

    /// This shard has handed `ticket` out; when nobody else holds it, it settles now.
    func releaseOwnerHold(_ ticket: AckTicket) {
        if ticket.releaseOwnerHold() { settle(ticket) }
    }

    /// Sends an acknowledgement now, or behind the ones still held.
    @inline(__always)
    func acknowledge(
        _ kind: PacketType, packetId: UInt16, reasonCodes: [ReasonCode] = [], reason: ReasonCode = .success,
        on connection: ClientConnection
    ) {
        if connection.pendingAcks.isEmpty {
            sendAcknowledgement(kind, packetId: packetId, reasonCodes: reasonCodes, reason: reason, to: connection)
        } else {
            connection.pendingAcks.append(PendingAck(
                sequence: connection.nextAckSequence, kind: kind, packetId: packetId, reasonCodes: reasonCodes,
                reason: reason, state: .done))
            connection.nextAckSequence += 1
        }
    }

    private func sendAcknowledgement(
        _ kind: PacketType, packetId: UInt16, reasonCodes: [ReasonCode], reason: ReasonCode = .success,
        to connection: ClientConnection
    ) {
        if kind == .suback || (kind == .unsuback && connection.v5 != nil) {
            sendSubscriptionAck(kind, packetId: packetId, codes: reasonCodes, to: connection)
        } else {
            sendAck(kind, packetId: packetId, reason: reason, to: connection)
        }
    }

    /// Exactly once: a QoS 2 PUBLISH resent (DUP) before PUBREL is neither routed nor handed
    /// over again. One already received gets its PUBREC again; one whose PUBREC is still held
    /// gets that one when its ticket settles. True when `packetId` was such a resend.
    func answeredAsQoS2Resend(_ packetId: UInt16, of session: Session, on connection: ClientConnection) -> Bool {
        if !connection.pendingAcks.isEmpty
            && connection.pendingAcks.contains(where: { $0.kind == .pubrec && $0.packetId == packetId && $0.state == .waiting }) {
            return true
        }
        guard session.inboundQoS2.contains(packetId) else { return false }
        acknowledge(.pubrec, packetId: packetId, on: connection)
        return true
    }

    /// The verdict on a held acknowledgement, whose connection may have closed meanwhile (the
    /// client then resends after reconnecting). Sends what is ready at the head.
    func settle(_ ticket: AckTicket) {
        let failures = ticket.failures
        if let whenSettled = ticket.whenSettled {
            whenSettled(failures)
            return
        }
        if let followUp = ticket.followUp {
            // A failed write leaves the entry where it was stored first (delivered twice, not lost).
            if failures.isEmpty { recordStoreWrite(followUp) }
            if failures.contains(.store) { counters.storeFailures += 1 }
            return
        }
        if failures.contains(.bridge) { counters.bridgeFailures += 1 }
        // The bus is in the store: a publish it could not carry counts as the store's failure.
        if !failures.isDisjoint(with: [.store, .cluster]) { counters.storeFailures += 1 }
        // A QoS 2 publish counts as received (a resend is not handed over again) only once
        // everything it waited for is done; a failed one is forgotten, so a resend is handled anew.
        // Only the very session that sent it, still on this shard (not a newer session of the
        // same client id, which must not inherit the old id).
        if ticket.kind == .pubrec, let session = ticket.session, sessions[session.clientId] === session {
            if failures.isEmpty {
                session.inboundQoS2.insert(ticket.packetId)
            } else if !session.cleanSession && hasStore {
                recordStoreWrite(.removeInboundQoS2(clientId: session.clientId, packetId: ticket.packetId))
            }
        }
        let sequence = ticket.sequence
        guard let connection = connections[ticket.connection], let head = connection.pendingAcks.first,
              sequence >= head.sequence, sequence - head.sequence < UInt64(connection.pendingAcks.count)
        else { return }
        let index = Int(sequence - head.sequence)
        let entry = connection.pendingAcks[index]
        connection.pendingAcks[index].state = failures.isEmpty ? .done : .failed
        if !failures.isEmpty {
            logger.warning("acknowledgement withheld: \(failures.contains(.store) ? "the store" : failures.contains(.cluster) ? "the cluster bus" : "the bridge") refused the packet", metadata: [
                "client": "\(connection.logName)", "packetId": "\(entry.packetId)", "kind": "\(entry.kind)",
            ])
        }
        while let first = connection.pendingAcks.first, first.state != .waiting {
            connection.pendingAcks.removeFirst()
            if first.state == .done {
                sendAcknowledgement(
                    first.kind, packetId: first.packetId, reasonCodes: first.reasonCodes, reason: first.reason, to: connection)
            }
        }
        if connection.readingPausedForAcks && connection.pendingAcks.count <= Self.maxHeldAcks / 2 {
            connection.readingPausedForAcks = false
            updateFlowPause(connection)
        }
    }
}
