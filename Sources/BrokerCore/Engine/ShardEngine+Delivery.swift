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
    /// `sharedGroup`: the shared subscription group that picked this session. `identifiers`: the
    /// MQTT 5 subscription identifiers of the matching subscriptions. An MQTT 5 message that
    /// expired, or that is larger than the client's Maximum Packet Size, is dropped and counted.
    func deliver(
        _ message: Message, to session: Session, grantedQoS: QoS, retainFlag: Bool, sharedGroup: SharedGroupID = .none,
        identifiers: [UInt32] = []
    ) {
        let qos = message.qos.rawValue < grantedQoS.rawValue ? message.qos : grantedQoS
        guard let connection = session.connection, connection.state == .connected else {
            guard qos != .atMostOnce else { return }
            guard !message.hasExpired(at: environment.now) else {
                counters.messagesExpired += 1
                counters.messagesDropped += 1
                return
            }
            enqueue(message, qos: qos, retain: retainFlag, in: session, sharedGroup: sharedGroup, identifier: identifiers.first ?? 0)
            return
        }
        guard isDeliverable(message, to: connection, identifierCount: identifiers.count) else {
            counters.messagesDropped += 1
            return
        }
        if qos == .atMostOnce {
            if connection.outboundBytes > Self.outboundSoftLimit {
                counters.messagesDropped += 1
                counters.droppedBacklog += 1
                return
            }
            sendPublish(
                message, qos: .atMostOnce, packetId: nil, dup: false, retain: retainFlag, to: connection,
                subscriptionIdentifiers: identifiers)
            return
        }
        if session.queue.isEmpty && session.inflight.count < connection.inflightLimit {
            sendInflight(
                message, qos: qos, retain: retainFlag, session: session, connection: connection, sharedGroup: sharedGroup,
                identifiers: identifiers)
        } else {
            enqueue(message, qos: qos, retain: retainFlag, in: session, sharedGroup: sharedGroup, identifier: identifiers.first ?? 0)
            // A retained copy is not the publisher's live traffic: it holds nobody back.
            if !retainFlag { holdPublisherIfCongested(session, by: message) }
        }
    }

    /// Bytes a client may have waiting before QoS 0 messages to it are dropped.
    static let outboundSoftLimit = 4 * 1024 * 1024

    private func enqueue(
        _ message: Message, qos: QoS, retain: Bool, in session: Session, sharedGroup: SharedGroupID, identifier: UInt32
    ) {
        guard session.queue.count < queueLimit(of: session) else {
            counters.messagesDropped += 1
            counters.droppedQueueFull += 1
            return
        }
        let sequence = recordEnqueue(
            message, qos: qos, retain: retain, packetId: 0, stage: .queued, in: session, sharedGroup: sharedGroup,
            identifier: identifier)
        session.queue.append(QueuedMessage(
            message: message, qos: qos, retain: retain, sharedGroup: sharedGroup, subscriptionIdentifier: identifier,
            storeSequence: sequence))
    }

    /// Sends a QoS 1/2 message into the window; `storeSequence` is its queue entry when it was
    /// queued first (nil: it is new, and a persistent session stores it now).
    private func sendInflight(
        _ message: Message, qos: QoS, retain: Bool, session: Session, connection: ClientConnection, storeSequence: UInt64? = nil,
        sharedGroup: SharedGroupID, identifiers: [UInt32]
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
                message, qos: qos, retain: retain, packetId: packetId, stage: .sent, in: session, sharedGroup: sharedGroup,
                identifier: identifiers.first ?? 0)
        }
        session.inflight.append(InflightMessage(
            packetId: packetId, sharedGroup: sharedGroup, message: message, qos: qos, retain: retain,
            stage: qos == .atLeastOnce ? .awaitingPuback : .awaitingPubrec, subscriptionIdentifier: identifiers.first ?? 0,
            storeSequence: sequence))
        sendPublish(
            message, qos: qos, packetId: packetId, dup: false, retain: retain, to: connection, subscriptionIdentifiers: identifiers)
    }

    /// Moves queued messages into the in-flight window while it has room.
    func pump(_ session: Session, on connection: ClientConnection) {
        while session.inflight.count < connection.inflightLimit, let next = session.queue.popFirst() {
            let identifiers = next.subscriptionIdentifier == 0 ? [] : [next.subscriptionIdentifier]
            if let permissions = connection.permissions, !permissions.canReceive(next.message.topic) {
                counters.messagesDropped += 1
                counters.droppedNotAuthorized += 1
                recordDequeue(next.storeSequence, of: session)
                continue
            }
            guard isDeliverable(next.message, to: connection, identifierCount: identifiers.count) else {
                // Expired while it waited, or too large for this (MQTT 5) client.
                counters.messagesDropped += 1
                recordDequeue(next.storeSequence, of: session)
                continue
            }
            sendInflight(
                next.message, qos: next.qos, retain: next.retain, session: session, connection: connection,
                storeSequence: next.storeSequence, sharedGroup: next.sharedGroup, identifiers: identifiers)
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
                sendPublish(
                    entry.message, qos: entry.qos, packetId: entry.packetId, dup: true, retain: entry.retain, to: connection,
                    subscriptionIdentifiers: entry.subscriptionIdentifier == 0 ? [] : [entry.subscriptionIdentifier])
            case .awaitingPubcomp:
                sendAck(.pubrel, packetId: entry.packetId, to: connection)
            }
        }
        pump(session, on: connection)
    }

    /// A session's ordinary (not shared) subscriptions as matchers, for `deliver(_:to:byItsFilters:)`.
    func matchableFilters(of session: Session) -> [(TopicFilter, SubscriptionOptions)] {
        session.subscriptions.compactMap { filter, options in
            SharedSubscription.isShared(filter) ? nil : TopicFilter(filter).map { ($0, options) }
        }
    }

    /// Delivers `message` to `session` if one of its `filters` matches, as routing would have:
    /// at the highest granted QoS, with Retain As Published and the subscription identifiers of
    /// the matching ones. For messages that reach a session outside the index (replayed after a
    /// node died, parked while the session moved between shards).
    func deliver(_ message: Message, to session: Session, byItsFilters filters: [(TopicFilter, SubscriptionOptions)]) {
        var granted: QoS?
        var retainAsPublished = false
        var identifiers: [UInt32] = []
        for (filter, options) in filters where filter.matches(topic: message.topic) {
            if granted == nil || options.qos.rawValue > granted!.rawValue { granted = options.qos }
            if options.retainAsPublished { retainAsPublished = true }
            if options.identifier != 0 { identifiers.append(options.identifier) }
        }
        guard let granted else { return }
        deliver(
            message, to: session, grantedQoS: granted, retainFlag: message.retain && retainAsPublished,
            identifiers: identifiers)
    }

    /// Most messages `session` may queue. A hold takes effect one post later for a publisher on
    /// another shard, and what that shard routed meanwhile (at most its credit window,
    /// ShardEngine+Credits) is already on its way: a congested session (from its first hold
    /// until its queue is down to a quarter, including the moments between two holds) accepts
    /// up to `congestedQueueLimit` (twice `max_queued_messages`) so that those are not lost.
    @inline(__always)
    func queueLimit(of session: Session) -> Int {
        session.isCongested ? congestedQueueLimit : limits.maxQueuedMessages
    }

    // MARK: - Acknowledgements from the subscriber

    func handlePuback(_ packetId: UInt16, on connection: ClientConnection) {
        completeInflight(packetId, awaiting: .awaitingPuback, on: connection)
    }

    /// MQTT 5: a PUBREC with a failure code ends the QoS 2 exchange (no PUBREL, §4.3.3).
    func handlePubrecFailed(_ packetId: UInt16, on connection: ClientConnection) {
        completeInflight(packetId, awaiting: .awaitingPubrec, on: connection)
    }

    func handlePubrec(_ packetId: UInt16, on connection: ClientConnection) {
        guard let session = connection.session,
              let index = session.inflight.firstIndex(where: { $0.packetId == packetId })
        else { return }
        guard session.inflight[index].stage != .awaitingPuback else {
            protocolViolation(connection, reason: "PUBREC for QoS 1 message \(packetId)")
            return
        }
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
    /// queued message takes its place. Unknown ids are ignored; an acknowledgement of the wrong
    /// kind for the message's stage (PUBCOMP for QoS 1, PUBACK before a PUBREC) closes the
    /// connection, as Mosquitto does.
    private func completeInflight(_ packetId: UInt16, awaiting stage: InflightMessage.Stage, on connection: ClientConnection) {
        guard let session = connection.session,
              let index = session.inflight.firstIndex(where: { $0.packetId == packetId })
        else { return }
        guard session.inflight[index].stage == stage else {
            protocolViolation(connection, reason: "acknowledgement of the wrong kind for message \(packetId)")
            return
        }
        recordDequeue(session.inflight.remove(at: index).storeSequence, of: session)
        pump(session, on: connection)
        sessionDrained(session)
    }
}
