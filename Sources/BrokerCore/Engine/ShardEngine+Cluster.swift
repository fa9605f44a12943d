import Logging
import MQTTWire

/// The cluster seen from a shard (`ClusterLink`): publishes that other nodes want go to the bus
/// from the publishing shard, publishes from other nodes are routed here like local ones but
/// never back onto the bus, and this shard's interest in a filter is the node's route.
extension ShardEngine {
    /// A publish from another node (`.clusterPublish`): delivered to this node's subscribers,
    /// the retained replica updated; nothing goes back to the bus, the retained store write was
    /// the origin node's, and shared groups get it only when it names one (the publishing node
    /// picks the node of every group).
    func routeFromCluster(_ message: Message, group key: String?) {
        counters.clusterReceived += 1
        routingFromCluster = true
        defer { routingFromCluster = false }
        guard let key else {
            route(message)
            return
        }
        if let group = subscriptions.sharedGroups[key], group.totalCount > 0 || !group.members.isEmpty {
            counters.messagesReceived += 1
            dispatchShared(message, to: group)
        } else {
            // Its members here left before it came.
            counters.messagesDropped += 1
        }
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
    func forwardToCluster(_ message: Message, nodes: ShardSet?, group: String? = nil, cluster: any ClusterLink) {
        counters.clusterForwarded += 1
        if message.qos != .atMostOnce, routingAck != nil, let ticket = ticketForStoreWrite() {
            ticket.retain()
            cluster.forward(message, to: nodes, group: group) { ok in ticket.release(failed: ok ? [] : .cluster) }
        } else {
            cluster.forward(message, to: nodes, group: group, completion: nil)
        }
    }

    // MARK: - Client ids across nodes

    /// Claims `request`'s client id across the cluster. A clean session needs nothing from
    /// another node: it connects at once, and the claim only closes the id's connection
    /// elsewhere. A persistent one waits for the session (`.clusterSession`).
    func claimAcrossCluster(_ request: ConnectRequest, for connection: ClientConnection, generation: UInt64, cluster: any ClusterLink) {
        let clientId = request.clientId
        guard !request.cleanSession else {
            // Whatever another node kept for this id ends there (or, when that node is dead,
            // the claim deletes it).
            cluster.claim(clientId: clientId, keepSession: false) { _ in }
            completeConnect(connection, request: request, existing: nil)
            return
        }
        awaitSession(request, for: connection, generation: generation)
        let mailbox = environment.mailbox
        cluster.claim(clientId: clientId, keepSession: true) { claim in
            mailbox.post(.clusterSession(clientId: clientId, generation: generation, claim: claim))
        }
    }

    /// The cluster's answer: the CONNECT goes on with the session another node let go of (or a
    /// new one), exactly as after a takeover between shards; without an answer it is refused
    /// (CONNACK 3, server unavailable: the client retries).
    func receiveClusterSession(_ claim: ClusterClaim, clientId: String, generation: UInt64) {
        switch claim {
        case .session(let stored):
            receiveSession(stored.map(makeSession(from:)), clientId: clientId, generation: generation, answersTakeover: false)
        case .unavailable:
            guard let pending = pendingConnects[clientId], pending.generation == generation else { return }
            pendingConnects[clientId] = nil
            context.registry.release(clientId, generation: generation)
            refuseConnect(pending.connection, code: .serverUnavailable, reason: "the cluster cannot tell where this client's session is")
        }
    }

    /// Another node has a new CONNECT for `clientId`: the connection here closes (its will is
    /// published), the session leaves this node, and `released` is called once the session's
    /// last writes (offline, or deleted) are durable, so the other node reads it whole.
    func releaseToCluster(_ clientId: String, keepSession: Bool, released: @escaping @Sendable () -> Void) {
        if let owner = context.registry.owner(of: clientId), owner.shard == shardIndex {
            context.registry.release(clientId, generation: owner.generation)
        }
        guard let session = takeOverLocally(clientId, keepSession: true) else {
            released()
            return
        }
        guard hasStore, !session.cleanSession else {
            redistributeShared(of: session)
            released()
            return
        }
        let ticket = AckTicket(whenSettled: { _ in released() })
        if keepSession, let record = sessionRecord(session, connected: false) {
            recordStoreWrite(record, ticket: ticket)
        } else {
            recordStoreWrite(.deleteSession(clientId: clientId), ticket: ticket)
            redistributeShared(of: session)
        }
        flushStoreWrites()
        releaseOwnerHold(ticket)
    }

    // MARK: - Dead nodes

    /// `.surrenderSessions`: the persistent sessions of `clientIds` held here, connected or
    /// offline, leave this shard without their wills and without a write to the session (the
    /// documents are the other node's now; only a connected client's own will document is
    /// deleted, by its will id, as at any close without the will); clean sessions stay. A client
    /// that connects here again claims its id across the cluster like any client new here.
    func surrenderSessions(_ clientIds: Set<String>) {
        let persistent = clientIds.filter { sessions[$0].map { !$0.cleanSession } ?? false }
        for clientId in persistent {
            if let owner = context.registry.owner(of: clientId), owner.shard == shardIndex {
                context.registry.release(clientId, generation: owner.generation)
            }
            // Closed without its will; what the store already has of it stays as written.
            _ = takeOverLocally(clientId, keepSession: true)
            sessionsWithDelayedWills[clientId] = nil
        }
        if !persistent.isEmpty {
            logger.warning("cluster: this node was taken for dead; its persistent sessions are another node's now", metadata: [
                "sessions": "\(persistent.count)", "shard": "\(shardIndex)",
            ])
        }
    }

    /// Persistent sessions of a dead node that this node claimed: each is adopted as offline
    /// (as at start-up) unless its client is connected to this node already; they, and the
    /// sessions of `replayTo` still here, get the messages of `replay` their subscriptions
    /// match (the dead node may never have queued them).
    func adoptFromDeadNode(_ stored: [StoredSession], replay: [Message], replayTo: [String]) {
        var adopted: [Session] = []
        for session in stored where context.registry.owner(of: session.clientId) == nil {
            adopt(session)
            if let local = sessions[session.clientId] { adopted.append(local) }
        }
        for clientId in replayTo {
            if let local = sessions[clientId], !local.cleanSession { adopted.append(local) }
        }
        guard !adopted.isEmpty, !replay.isEmpty else { return }
        for session in adopted {
            let filters = matchableFilters(of: session)
            for message in replay { deliver(message, to: session, byItsFilters: filters) }
        }
    }
}
