import MQTTWire

/// The cluster seen from a shard (`ClusterLink`): publishes that other nodes want go to the bus
/// from the publishing shard, publishes from other nodes are routed here like local ones but
/// never back onto the bus, and this shard's interest in a filter is the node's route.
extension ShardEngine {
    /// A publish from another node (`.clusterPublish`): delivered to this node's subscribers,
    /// its shared groups dispatched here, the retained replica updated; nothing goes back to the
    /// bus, and the retained store write was the origin node's.
    func routeFromCluster(_ message: Message) {
        counters.clusterReceived += 1
        routingFromCluster = true
        route(message)
        routingFromCluster = false
    }

    /// The non-retained part of `route` when there is a cluster: `remote` holds shards and other
    /// nodes (slots from `shardCount` up); shards get posts, nodes one bus message together.
    func postAcrossCluster(_ message: Message, remote: ShardSet, cluster: any ClusterLink) {
        var nodes = ShardSet()
        let shardCount = context.shardCount
        remote.forEach { slot in
            if slot < shardCount { post(message, to: slot) } else { nodes.insert(slot) }
        }
        if !nodes.isEmpty && !routingFromCluster && !TopicName.isSystemTopic(message.topic) {
            forwardToCluster(message, nodes: nodes, cluster: cluster)
        }
    }

    /// Puts `message` on the bus for `nodes` (every node when nil). With `acknowledged`
    /// durability the publisher's PUBACK/PUBREC waits for the bus write as for a store write.
    func forwardToCluster(_ message: Message, nodes: ShardSet?, cluster: any ClusterLink) {
        counters.clusterForwarded += 1
        if message.qos != .atMostOnce, routingAck != nil, let ticket = ticketForStoreWrite() {
            ticket.retain()
            cluster.forward(message, to: nodes) { ok in ticket.release(failed: ok ? [] : .cluster) }
        } else {
            cluster.forward(message, to: nodes, completion: nil)
        }
    }

    /// Persistent sessions of a dead node that this node claimed: each is adopted as offline
    /// (as at start-up) unless its client is connected to this node already, then gets the
    /// messages of `replay` its subscriptions match (the node may never have queued them).
    func adoptFromDeadNode(_ stored: [StoredSession], replay: [Message]) {
        var adopted: [Session] = []
        for session in stored where context.registry.owner(of: session.clientId) == nil {
            adopt(session)
            if let local = sessions[session.clientId] { adopted.append(local) }
        }
        guard !adopted.isEmpty, !replay.isEmpty else { return }
        for session in adopted {
            let filters = session.subscriptions.compactMap { filter, qos in
                SharedSubscription.isShared(filter) ? nil : TopicFilter(filter).map { ($0, qos) }
            }
            for message in replay {
                var granted: QoS?
                for (filter, qos) in filters where filter.matches(topic: message.topic) {
                    if granted == nil || qos.rawValue > granted!.rawValue { granted = qos }
                }
                if let granted { deliver(message, to: session, grantedQoS: granted, retainFlag: false) }
            }
        }
    }
}
