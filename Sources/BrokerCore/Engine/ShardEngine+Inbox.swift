import MQTTWire

extension ShardEngine {
    /// Applies one message from another shard (`source`, its index), the cold path or the
    /// process (`source` -1).
    public func handleInbox(_ message: ShardMessage, from source: Int = -1) {
        switch message {
        case .publish(let published):
            routeFromOtherShard(published, source: source)
            noteApplied(published, from: source)
        case .durablePublish(let published, let ticket):
            routeFromOtherShard(published, ticket: ticket, source: source)
            noteApplied(published, from: source)
        case .interest(let filter, let shard, let interested):
            if SharedSubscription.isShared(filter) {
                // Only other cluster nodes announce groups this way (shards use `sharedMembers`).
                setRemoteGroupNode(filter, slot: shard, present: interested)
            } else {
                subscriptions.setRemoteInterest(filter: filter, shard: shard, interested: interested)
            }
        case .sharedPublish(let published, let group, let slot, let hops, let ticket):
            receiveSharedPublish(published, group: group, slot: slot, hops: hops, ticket: ticket)
            noteApplied(published, from: source)
        case .sharedMembers(let group, let shard, let online, let total):
            setSharedMembers(group: group, shard: shard, online: online, total: total)
        case .takeover(let clientId, let newShard, let generation, let keepSession):
            answerTakeover(clientId, newShard: newShard, generation: generation, keepSession: keepSession)
        case .sessionTransfer(let clientId, let generation, let session):
            receiveSession(session, clientId: clientId, generation: generation)
        case .handoverRoute(let clientId, let generation, let filters, let oldShard, let newShard):
            applyHandoverRoute(clientId, generation: generation, filters: filters, oldShard: oldShard, newShard: newShard)
        case .handoverRouted(let clientId, let generation, let shard):
            handoverRouted(clientId, generation: generation, shard: shard)
        case .holdPublisher(let connection, let hold):
            applyHold(connection, hold: hold)
        case .credit(let count):
            creditReturned(count, from: source)
        case .authenticated(let connection, let decision):
            authenticated(connection, decision: decision)
        case .acknowledged(let ticket):
            settle(ticket)
        case .inject(let message, let routed):
            routeInjected(message)
            routed()
        case .clusterPublish(let message, let group):
            routeFromCluster(message, group: group)
        case .clusterSession(let clientId, let generation, let claim):
            receiveClusterSession(claim, clientId: clientId, generation: generation)
        case .clusterRelease(let clientId, let keepSession, let released):
            releaseToCluster(clientId, keepSession: keepSession, released: released)
        case .surrenderSessions(let clientIds):
            surrenderSessions(clientIds)
        case .adoptSessions(let stored, let replay, let replayTo, let adopted):
            adoptFromDeadNode(stored, replay: replay, replayTo: replayTo)
            adopted()
        case .adoptStored(let stored, let retainedMessages, let adopted):
            adoptLate(stored, retained: retainedMessages)
            adopted()
        case .publishStoredWills(let wills):
            publishStoredWills(wills)
        case .shutdown:
            shutdown()
        }
    }
}
