import DequeModule
import MQTTWire

/// Delivery to one subscriber, and its limits: the QoS a message goes out with, the in-flight
/// window (`max_inflight_messages`), the session queue (`max_queued_messages`, doubled while
/// the session holds publishers: ShardEngine+PublisherHolds), the QoS 0 backlog limit, the
/// subscriber's acknowledgements (PUBACK, PUBREC, PUBCOMP) and redelivery when a session
/// resumes. Encoding the packets is ShardEngine+Send.
extension ShardEngine {
    /// Sends `message` to `session` at min(message QoS, granted QoS), or queues it when the
    /// in-flight window is full or the client is offline. Over the limits it is dropped and
    /// counted: QoS 0 when the client's outbound queue is full, QoS 1/2 when its session queue is.
    /// `sharedGroup`: the shared subscription group that picked this session.
    func deliver(
        _ message: Message, to session: Session, grantedQoS: QoS, retainFlag: Bool, sharedGroup: SharedGroupID = .none
    ) {
        let qos = message.qos.rawValue < grantedQoS.rawValue ? message.qos : grantedQoS
        guard let connection = session.connection, connection.state == .connected else {
            if qos != .atMostOnce { enqueue(message, qos: qos, retain: retainFlag, in: session, sharedGroup: sharedGroup) }
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
            sendInflight(message, qos: qos, retain: retainFlag, session: session, connection: connection, sharedGroup: sharedGroup)
        } else {
            enqueue(message, qos: qos, retain: retainFlag, in: session, sharedGroup: sharedGroup)
            // A retained copy is not the publisher's live traffic: it holds nobody back.
            if !retainFlag { holdPublisherIfCongested(session, by: message) }
        }
    }

    /// Bytes a client may have waiting before QoS 0 messages to it are dropped.
    static let outboundSoftLimit = 4 * 1024 * 1024

    private func enqueue(_ message: Message, qos: QoS, retain: Bool, in session: Session, sharedGroup: SharedGroupID) {
        guard session.queue.count < queueLimit(of: session) else {
            counters.messagesDropped += 1
            return
        }
        let sequence = recordEnqueue(
            message, qos: qos, retain: retain, packetId: 0, stage: .queued, in: session, sharedGroup: sharedGroup)
        session.queue.append(QueuedMessage(
            message: message, qos: qos, retain: retain, sharedGroup: sharedGroup, storeSequence: sequence))
    }

    /// Sends a QoS 1/2 message into the window; `storeSequence` is its queue entry when it was
    /// queued first (nil: it is new, and a persistent session stores it now).
    private func sendInflight(
        _ message: Message, qos: QoS, retain: Bool, session: Session, connection: ClientConnection, storeSequence: UInt64? = nil,
        sharedGroup: SharedGroupID
    ) {
        let packetId = session.allocatePacketId()
        let sequence: UInt64
        if let storeSequence {
            sequence = storeSequence
            if sequence != 0 {
                recordStoreWrite(.updateStage(clientId: session.clientId, sequence: sequence, packetId: packetId, stage: .sent))
            }
        } else {
            sequence = recordEnqueue(
                message, qos: qos, retain: retain, packetId: packetId, stage: .sent, in: session, sharedGroup: sharedGroup)
        }
        session.inflight.append(InflightMessage(
            packetId: packetId, sharedGroup: sharedGroup, message: message, qos: qos, retain: retain,
            stage: qos == .atLeastOnce ? .awaitingPuback : .awaitingPubrec, storeSequence: sequence))
        sendPublish(message, qos: qos, packetId: packetId, dup: false, retain: retain, to: connection)
    }

    /// Moves queued messages into the in-flight window while it has room.
    func pump(_ session: Session, on connection: ClientConnection) {
        while session.inflight.count < limits.maxInflightMessages, let next = session.queue.popFirst() {
            if let permissions = connection.permissions, !permissions.canReceive(next.message.topic) {
                counters.messagesDropped += 1
                recordDequeue(next.storeSequence, of: session)
                continue
            }
            sendInflight(
                next.message, qos: next.qos, retain: next.retain, session: session, connection: connection,
                storeSequence: next.storeSequence, sharedGroup: next.sharedGroup)
        }
    }

    /// After a persistent session resumes: resend unacknowledged messages with DUP set (or
    /// PUBREL where PUBREC already came), then fill the window from the queue.
    func redeliver(_ session: Session, on connection: ClientConnection) {
        if let permissions = connection.permissions {
            // Queued under an earlier login: what this one may no longer receive is dropped.
            session.inflight.removeAll { entry in
                guard entry.stage != .awaitingPubcomp && !permissions.canReceive(entry.message.topic) else { return false }
                recordDequeue(entry.storeSequence, of: session)
                return true
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

    /// Most messages `session` may queue. A hold takes effect one post later for a publisher on
    /// another shard, and what it sent meanwhile (up to a read's worth, or the bytes it wrote
    /// while held) is already on its way: a congested session (from its first hold until its
    /// queue is down to a quarter, including the moments between two holds) accepts up to twice
    /// `max_queued_messages` so that those are not lost.
    @inline(__always)
    func queueLimit(of session: Session) -> Int {
        session.isCongested ? 2 * limits.maxQueuedMessages : limits.maxQueuedMessages
    }

    // MARK: - Acknowledgements from the subscriber

    func handlePuback(_ packetId: UInt16, on connection: ClientConnection) {
        completeInflight(packetId, awaiting: .awaitingPuback, on: connection)
    }

    func handlePubrec(_ packetId: UInt16, on connection: ClientConnection) {
        guard let session = connection.session,
              let index = session.inflight.firstIndex(where: { $0.packetId == packetId && $0.stage != .awaitingPuback })
        else { return }
        session.inflight[index].stage = .awaitingPubcomp
        let sequence = session.inflight[index].storeSequence
        if sequence != 0 {
            // PUBREL waits until the store knows the message was received: a restart in between
            // would otherwise resend the PUBLISH (DUP) after the client completed its id, and the
            // client would take it for a new message.
            let released = StoreOperation.updateStage(clientId: session.clientId, sequence: sequence, packetId: packetId, stage: .released)
            acknowledge(.pubrel, packetId: packetId, after: released, on: connection)
        } else {
            acknowledge(.pubrel, packetId: packetId, on: connection)
        }
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
        recordDequeue(session.inflight.remove(at: index).storeSequence, of: session)
        pump(session, on: connection)
        sessionDrained(session)
    }
}
