import MQTTWire

extension ShardEngine {
    func handleSubscribe(_ subscribe: Subscribe, on connection: ClientConnection) {
        guard let session = connection.session else { return }
        var codes: [SubscribeReturnCode] = []
        var subscribed = false
        var granted: [(filter: String, qos: QoS)] = []
        for request in subscribe.filters {
            var filter = request.filter.makeString()
            // A shared subscription's ACL and depth are its inner filter's; it gets no retained messages.
            var matched = filter
            var shared = false
            switch SharedSubscription.parse(filter) {
            case .notShared:
                break
            case .invalid:
                codes.append(.failure)
                continue
            case .shared(let subscription):
                filter = subscription.canonical
                matched = subscription.filter
                shared = true
            }
            // Split once, for the ACL; a filter deeper than the limit fails before any allocation.
            guard let parsed = TopicFilter(matched, maxLevels: limits.maxTopicLevels) else {
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
            indexSubscription(of: session, filter: filter, qos: qos)
            codes.append(SubscribeReturnCode(granted: qos))
            subscribed = true
            if !shared { granted.append((filter, qos)) }
        }
        // A persistent session's SUBACK waits until its subscriptions are stored.
        if subscribed, let record = sessionRecord(session, connected: true) {
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
            let filter = subscriptionKey(filterView.makeString())
            guard session.subscriptions.removeValue(forKey: filter) != nil else { continue }
            removed = true
            unindexSubscription(of: session, filter: filter)
            // What the group gave this member and it has not acknowledged goes to another member.
            if let group = subscriptions.sharedGroups[filter] { redistributeShared(of: session, group: group.id) }
        }
        if removed, let record = sessionRecord(session, connected: true) {
            acknowledge(.unsuback, packetId: unsubscribe.packetId, after: record, on: connection)
        } else {
            acknowledge(.unsuback, packetId: unsubscribe.packetId, on: connection)
        }
    }
}
