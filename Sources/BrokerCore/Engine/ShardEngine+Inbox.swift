extension ShardEngine {
    /// Applies one message from another shard, the cold path or the process.
    public func handleInbox(_ message: ShardMessage) {
        switch message {
        case .publish(let published):
            routeFromOtherShard(published)
        case .interest(let filter, let shard, let interested):
            subscriptions.setRemoteInterest(filter: filter, shard: shard, interested: interested)
        case .takeover(let clientId, let newShard, let generation, let keepSession):
            let session = takeOverLocally(clientId)
            let handed = keepSession && session?.cleanSession == false ? session : nil
            environment.post(.sessionTransfer(clientId: clientId, generation: generation, session: handed), to: newShard)
        case .sessionTransfer(let clientId, let generation, let session):
            receiveSession(session, clientId: clientId, generation: generation)
        case .holdPublisher(let connection, let hold):
            applyHold(connection, hold: hold)
        case .authenticated(let connection, let decision):
            authenticated(connection, decision: decision)
        case .bridgeAcknowledged(let connection, let sequence, let delivered):
            bridgeAcknowledged(connection, sequence: sequence, delivered: delivered)
        case .inject(let message, let routed):
            route(message)
            routed()
        case .shutdown:
            shutdown()
        }
    }

    /// A session handed over by another shard: finish the CONNECT that asked for it. When that
    /// CONNECT is gone (closed, or taken over again meanwhile), keep a persistent session here
    /// only if this shard still owns the client id; otherwise pass it on to the owner.
    private func receiveSession(_ session: Session?, clientId: String, generation: UInt64) {
        if let pending = pendingConnects[clientId], pending.generation == generation {
            pendingConnects[clientId] = nil
            completeConnect(pending.connection, request: pending.request, existing: session)
            pending.connection.io.resumeReading()
            return
        }
        guard let session else { return }
        guard let owner = context.registry.owner(of: clientId) else { return }
        if owner.shard == shardIndex {
            guard sessions[clientId] == nil, pendingConnects[clientId] == nil else { return }
            session.offlineSince = environment.now
            sessions[clientId] = session
            addSubscriptions(of: session)
        } else {
            environment.post(.sessionTransfer(clientId: clientId, generation: owner.generation, session: session), to: owner.shard)
        }
    }
}
