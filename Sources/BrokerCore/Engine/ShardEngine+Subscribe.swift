import MQTTWire

extension ShardEngine {
    func handleSubscribe(_ subscribe: Subscribe, on connection: ClientConnection) {
        guard let session = connection.session else { return }
        var codes: [SubscribeReturnCode] = []
        var granted: [(filter: String, qos: QoS)] = []
        for request in subscribe.filters {
            let filter = request.filter.makeString()
            // Split once, for the ACL; a filter deeper than the limit fails before any allocation.
            guard let parsed = TopicFilter(filter, maxLevels: limits.maxTopicLevels) else {
                codes.append(.failure)
                continue
            }
            if let permissions = connection.permissions, !permissions.canSubscribe(parsed) {
                counters.subscriptionsDenied += 1
                codes.append(.failure)
                continue
            }
            let qos = request.qos
            session.subscriptions[filter] = qos
            notePersistentSubscriptions(of: session)
            if subscriptions.subscribe(session, filter: filter, qos: qos) {
                broadcastInterest(filter: filter, interested: true)
            }
            codes.append(SubscribeReturnCode(granted: qos))
            granted.append((filter, qos))
        }
        // A persistent session's SUBACK waits until its subscriptions are stored.
        if !granted.isEmpty, let record = sessionRecord(session, connected: true) {
            acknowledge(.suback, packetId: subscribe.packetId, subackCodes: codes, after: record, on: connection)
        } else {
            acknowledge(.suback, packetId: subscribe.packetId, subackCodes: codes, on: connection)
        }
        // Retained messages follow the SUBACK, for every filter (re-subscribing re-sends them).
        for (filter, qos) in granted {
            retained.forEachMatch(filter: filter) { message in
                if let permissions = connection.permissions, !permissions.canReceive(message.topic) { return }
                deliver(message, to: session, grantedQoS: qos, retainFlag: true)
            }
        }
    }

    func handleUnsubscribe(_ unsubscribe: Unsubscribe, on connection: ClientConnection) {
        guard let session = connection.session else { return }
        var removed = false
        for filterView in unsubscribe.filters {
            let filter = filterView.makeString()
            guard session.subscriptions.removeValue(forKey: filter) != nil else { continue }
            removed = true
            if subscriptions.unsubscribe(session, filter: filter) {
                broadcastInterest(filter: filter, interested: false)
            }
        }
        if removed, let record = sessionRecord(session, connected: true) {
            acknowledge(.unsuback, packetId: unsubscribe.packetId, after: record, on: connection)
        } else {
            acknowledge(.unsuback, packetId: unsubscribe.packetId, on: connection)
        }
    }
}
