import MQTTWire

extension ShardEngine {
    func handleSubscribe(_ subscribe: Subscribe, on connection: ClientConnection) {
        guard let session = connection.session else { return }
        var codes: [ReasonCode] = []
        var subscribed = false
        var granted: [(filter: String, options: SubscriptionOptions, isNew: Bool)] = []
        for request in subscribe.filters {
            var filter = request.filter.makeString()
            var options = request.options
            options.identifier = subscribe.subscriptionIdentifier
            // A shared subscription's ACL and depth are its inner filter's; it gets no retained messages.
            var matched = filter
            var shared = false
            switch SharedSubscription.parse(filter) {
            case .notShared:
                break
            case .invalid:
                codes.append(.topicFilterInvalid)
                continue
            case .shared(let subscription):
                // MQTT 5 §3.8.3.1: No Local on a shared subscription is a protocol error.
                guard !options.noLocal else {
                    protocolViolation(connection, reason: "No Local on shared subscription \(filter)")
                    return
                }
                filter = subscription.canonical
                matched = subscription.filter
                shared = true
            }
            // Split once, for the ACL; a filter deeper than the limit fails before any allocation.
            guard let parsed = TopicFilter(matched, maxLevels: limits.maxTopicLevels) else {
                codes.append(.topicFilterInvalid)
                continue
            }
            if let permissions = connection.permissions, !permissions.canSubscribe(parsed) {
                counters.subscriptionsDenied += 1
                codes.append(.notAuthorized)
                continue
            }
            let isNew = session.subscriptions[filter] == nil
            session.subscriptions[filter] = options
            notePersistentSubscriptions(of: session)
            indexSubscription(of: session, filter: filter, options: options)
            codes.append(ReasonCode(granted: options.qos))
            subscribed = true
            if !shared { granted.append((filter, options, isNew)) }
        }
        // A persistent session's SUBACK waits until its subscriptions are stored.
        if subscribed, let record = sessionRecord(session, connected: true) {
            acknowledge(.suback, packetId: subscribe.packetId, reasonCodes: codes, after: record, on: connection)
        } else {
            acknowledge(.suback, packetId: subscribe.packetId, reasonCodes: codes, on: connection)
        }
        // Retained messages follow the SUBACK, for every filter (re-subscribing re-sends them),
        // unless MQTT 5 Retain Handling says only for a new subscription (1) or never (2).
        for (filter, options, isNew) in granted where options.retainHandling == 0 || (options.retainHandling == 1 && isNew) {
            let identifiers = options.identifier == 0 ? [] : [options.identifier]
            retained.forEachMatch(filter: filter) { message in
                if let permissions = connection.permissions, !permissions.canReceive(message.topic) { return }
                deliver(message, to: session, grantedQoS: options.qos, retainFlag: true, identifiers: identifiers)
            }
        }
    }

    func handleUnsubscribe(_ unsubscribe: Unsubscribe, on connection: ClientConnection) {
        guard let session = connection.session else { return }
        var removed = false
        var codes: [ReasonCode] = []
        for filterView in unsubscribe.filters {
            let filter = subscriptionKey(filterView.makeString())
            guard session.subscriptions.removeValue(forKey: filter) != nil else {
                codes.append(.noSubscriptionExisted)
                continue
            }
            codes.append(.success)
            removed = true
            unindexSubscription(of: session, filter: filter)
            // What the group gave this member and it has not acknowledged goes to another member.
            if let group = subscriptions.sharedGroups[filter] { redistributeShared(of: session, group: group.id) }
        }
        if removed, let record = sessionRecord(session, connected: true) {
            acknowledge(.unsuback, packetId: unsubscribe.packetId, reasonCodes: codes, after: record, on: connection)
        } else {
            acknowledge(.unsuback, packetId: unsubscribe.packetId, reasonCodes: codes, on: connection)
        }
    }
}
