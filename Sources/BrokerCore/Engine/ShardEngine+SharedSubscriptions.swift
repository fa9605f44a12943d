import DequeModule
import MQTTWire

/// Shared subscriptions (`$share/{group}/{filter}`, `$queue/{filter}`): each matching message
/// goes to one member of each group, whichever shard the members are on.
///
/// - Membership: a shard keeps its own members in the group (`SharedGroup.members`) and tells
///   every other shard how many it has, online and in all, whenever that changes
///   (`sharedMembers`), as it does for ordinary filters with `interest`.
/// - Dispatch: only the publishing shard decides (a publish routed from another shard ignores
///   its groups). It turns the strategy's position among all members into a shard and a slot
///   (`SharedGroup.choose`) and hands the message to that shard (`sharedPublish`), which gives it
///   to the member at the slot, or the next one when that one cannot take it (or, for the
///   balancing strategies, is stalled: `pickMember`). A shard that cannot place it passes it
///   once to another shard with members.
/// - Online members are preferred; while no member is online anywhere, offline persistent
///   members queue the messages.
/// - A member that unsubscribes, ends its session, or goes offline while another member is
///   online gives its queued and unacknowledged QoS 1 messages of that group back to the group
///   (`redistributeShared`). A QoS 2 message already sent stays with its member (MQTT 5
///   §4.8.2: it must complete there, or nowhere).
extension ShardEngine {
    // MARK: - Subscriptions in the index

    /// How a session records `filter`: a shared one in its canonical spelling.
    func subscriptionKey(_ filter: String) -> String {
        if case .shared(let shared) = SharedSubscription.parse(filter) { return shared.canonical }
        return filter
    }

    /// Puts one of `session`'s subscriptions into this shard's index: a shared one into its
    /// group, an ordinary one into the trie (telling the other shards when it is the first here).
    func indexSubscription(of session: Session, filter: String, options: SubscriptionOptions) {
        if SharedSubscription.isShared(filter) {
            guard case .shared(let shared) = SharedSubscription.parse(filter) else { return }
            let group = subscriptions.sharedGroup(shared, id: context.sharedGroupIDs.id(for:))
            let wasMember = !group.members.isEmpty
            subscriptions.join(session, group: group, options: options)
            // Other nodes send this node the group's share once it has a member here.
            if !wasMember { context.cluster?.localInterest(filter: group.key, interested: true) }
            announceMembers(of: group)
        } else if subscriptions.subscribe(session, filter: filter, options: options) {
            broadcastInterest(filter: filter, interested: true)
        }
    }

    /// Takes one of `session`'s subscriptions out of this shard's index.
    func unindexSubscription(of session: Session, filter: String) {
        if SharedSubscription.isShared(filter) {
            guard let group = subscriptions.sharedGroups[filter], subscriptions.leave(session, group: group) else { return }
            if group.members.isEmpty { context.cluster?.localInterest(filter: group.key, interested: false) }
            announceMembers(of: group)
        } else if subscriptions.unsubscribe(session, filter: filter) {
            broadcastInterest(filter: filter, interested: false)
        }
    }

    /// Tells the other shards how many members of `group` this shard has now, if that changed.
    func announceMembers(of group: SharedGroup) {
        var online: Int32 = 0
        for member in group.members where isOnline(member.session) { online += 1 }
        let total = Int32(group.members.count)
        let announced = group.counts(of: shardIndex)
        guard announced.online != online || announced.total != total else { return }
        group.setCounts(of: shardIndex, online: online, total: total)
        for shard in 0..<context.shardCount where shard != shardIndex {
            environment.post(.sharedMembers(group: group.key, shard: shardIndex, online: online, total: total), to: shard)
        }
        subscriptions.removeIfEmpty(group)
    }

    /// Another node has (or no longer has) members of the group `key` (its route, from the
    /// cluster link).
    func setRemoteGroupNode(_ key: String, slot: Int, present: Bool) {
        guard case .shared(let shared) = SharedSubscription.parse(key) else { return }
        let group = subscriptions.sharedGroup(shared, id: context.sharedGroupIDs.id(for:))
        if present { group.remoteNodes.insert(slot) } else { group.remoteNodes.remove(slot) }
        subscriptions.removeIfEmpty(group)
    }

    /// Another shard's member counts of `key`.
    func setSharedMembers(group key: String, shard: Int, online: Int32, total: Int32) {
        guard case .shared(let shared) = SharedSubscription.parse(key) else { return }
        let group = subscriptions.sharedGroup(shared, id: context.sharedGroupIDs.id(for:))
        group.setCounts(of: shard, online: online, total: total)
        subscriptions.removeIfEmpty(group)
    }

    /// The groups `session` is a member of, as this shard knows them.
    private func sharedGroups(of session: Session) -> [SharedGroup] {
        session.subscriptions.keys.compactMap { filter in
            SharedSubscription.isShared(filter) ? subscriptions.sharedGroups[filter] : nil
        }
    }

    /// `session` connected: its groups count it as online.
    func sharedMemberConnected(_ session: Session) {
        for group in sharedGroups(of: session) { announceMembers(of: group) }
    }

    /// A persistent member went offline: it keeps its messages of a group only while no other
    /// member of that group is online (MQTT 5 §4.8.2 lets the server send them to another).
    func sharedMemberWentOffline(_ session: Session) {
        for group in sharedGroups(of: session) {
            announceMembers(of: group)
            if group.onlineCount > 0 { redistributeShared(of: session, group: group.id) }
        }
    }

    // MARK: - Dispatch (the publishing shard)

    /// Gives `message` to one member of each group the last `subscriptions.match` found.
    func dispatchToMatchedGroups(_ message: Message) {
        for group in subscriptions.matchedGroups { dispatchShared(message, to: group) }
    }

    /// Picks the member's node (in a cluster), shard and slot, and hands the message there.
    func dispatchShared(_ message: Message, to group: SharedGroup) {
        let strategy = context.settings.sharedSubscriptionStrategy
        if !group.remoteNodes.isEmpty, !routingFromCluster, let cluster = context.cluster,
           case .some(.some(let node)) = group.chooseNode(strategy, hash: { sharedHash(of: message, strategy) }) {
            var nodes = ShardSet()
            nodes.insert(node)
            forwardToCluster(message, nodes: nodes, group: group.key, cluster: cluster)
            return
        }
        guard let (shard, slot) = group.choose(strategy, hash: { sharedHash(of: message, strategy) }) else { return }
        if shard == shardIndex {
            placeShared(message, in: group, slot: slot, hops: 0)
        } else {
            postShared(message, group: group.id, slot: slot, hops: 0, to: shard)
        }
    }

    /// `hash_client_id`: the publisher's client id (a will or a message from outside MQTT has
    /// no live publisher: its topic stands in); `hash_topic`: the topic.
    private func sharedHash(of message: Message, _ strategy: SharedSubscriptionStrategy) -> UInt64 {
        if strategy == .hashClientId, message.originShard == shardIndex, message.publisher != 0,
           let publisher = connections[message.publisher], publisher.state == .connected {
            return FNV1a.hash(publisher.clientId)
        }
        return FNV1a.hash(message.topic)
    }

    /// The ticket goes along when any shard may hold persistent members, not only `shard`: a
    /// shard that cannot place the message passes it on, and the ticket must reach where it lands.
    private func postShared(_ message: Message, group: SharedGroupID, slot: Int, hops: Int, to shard: Int) {
        environment.post(
            .sharedPublish(message, group: group, slot: slot, hops: hops, ticket: ticketForPost(to: nil)), to: shard)
        chargeCredit(for: message, to: shard)
    }

    // MARK: - Placement (the member's shard)

    /// A message another shard picked a member of this shard for.
    func receiveSharedPublish(_ message: Message, group id: SharedGroupID, slot: Int, hops: Int, ticket: AckTicket?) {
        routingAck = ticket.map { .ticket($0) }
        if let group = subscriptions.sharedGroupsByID[id] {
            placeShared(message, in: group, slot: slot, hops: hops)
        } else {
            counters.messagesDropped += 1
            counters.droppedNoMember += 1
        }
        routingAck = nil
        ticket?.release()
    }

    /// Delivers to the member at `slot`, or the next that can take the message; passes it to
    /// another shard once when no member here can; drops it (counted) when nobody can.
    private func placeShared(_ message: Message, in group: SharedGroup, slot: Int, hops: Int) {
        // Balancing strategies pass over a stalled member; the sticky ones (hashes, sticky) keep
        // their member while it can queue the message.
        let strategy = context.settings.sharedSubscriptionStrategy
        let balancing = strategy == .roundRobin || strategy == .random
        let lastHop = group.onlineCount == 0 || hops > 0
        if let member = pickMember(of: group, slot: slot, qos: message.qos, skipStalled: balancing, includeOffline: lastHop) {
            deliver(
                message, to: member.session, grantedQoS: member.qos, retainFlag: false, sharedGroup: group.id,
                identifiers: member.options.identifier == 0 ? [] : [member.options.identifier])
            return
        }
        if hops == 0, let other = group.otherShard(than: shardIndex) {
            postShared(message, group: group.id, slot: slot, hops: 1, to: other)
            return
        }
        // Every online member is full: an offline one with room queues it rather than nobody.
        if !lastHop, let member = pickMember(of: group, slot: slot, qos: message.qos, skipStalled: false, includeOffline: true) {
            deliver(
                message, to: member.session, grantedQoS: member.qos, retainFlag: false, sharedGroup: group.id,
                identifiers: member.options.identifier == 0 ? [] : [member.options.identifier])
            return
        }
        counters.messagesDropped += 1
        counters.droppedNoMember += 1
    }

    /// The member for a message, starting at `slot` among the online members: the first that
    /// can take it (QoS 0: its outbound bytes under the limit; QoS 1/2: room in its queue) and,
    /// with `skipStalled`, is not stalled (a full in-flight window and nothing heard from the
    /// client for `stallTimeout`); else the first that can take it at all; then, when asked, an
    /// offline member with room in its queue. Members that keep up take strict turns (a busy
    /// group keeps every window full, so a full window alone says nothing: skipping on it made
    /// the spread over ten members 30-50% in Benchmarks/RESULTS.md for no gain in throughput),
    /// and a stuck one is passed over until it acknowledges again. No allocation: two passes.
    private func pickMember(
        of group: SharedGroup, slot: Int, qos: QoS, skipStalled: Bool, includeOffline: Bool
    ) -> SubscriptionIndex.Subscriber? {
        let members = group.members
        guard !members.isEmpty else { return nil }
        var online = 0
        for member in members where isOnline(member.session) { online += 1 }
        var queueable: SubscriptionIndex.Subscriber?
        if online > 0 {
            // The index of the (slot mod online)-th online member.
            var skip = slot % online
            var start = 0
            while start < members.count {
                if isOnline(members[start].session) {
                    if skip == 0 { break }
                    skip -= 1
                }
                start += 1
            }
            for step in 0..<members.count {
                let member = members[(start + step) % members.count]
                guard let connection = member.session.connection, connection.state == .connected else { continue }
                let effective = qos.rawValue < member.qos.rawValue ? qos : member.qos
                if effective == .atMostOnce {
                    if connection.outboundBytes <= Self.outboundSoftLimit { return member }
                    continue
                }
                let backlog = member.session.queue.count
                guard backlog < queueLimit(of: member.session) else { continue }
                let stalled = member.session.inflight.count >= (member.session.connection?.inflightLimit ?? limits.maxInflightMessages)
                    && environment.now &- connection.lastReceivedAt >= Self.stallTimeout
                if !skipStalled || !stalled { return member }
                if queueable == nil { queueable = member }
            }
        }
        if let queueable { return queueable }
        guard includeOffline else { return nil }
        for step in 0..<members.count {
            let member = members[(slot + step) % members.count]
            let effective = qos.rawValue < member.qos.rawValue ? qos : member.qos
            if !isOnline(member.session) && effective != .atMostOnce
                && member.session.queue.count < queueLimit(of: member.session) {
                return member
            }
        }
        return nil
    }

    @inline(__always)
    private func isOnline(_ session: Session) -> Bool {
        session.connection?.state == .connected
    }

    // MARK: - A member leaves

    /// Gives `session`'s queued messages and unacknowledged QoS 1 messages of `group` (of every
    /// group, when nil) back to their groups; `session` must no longer be a member of them.
    /// In-flight messages move only when the session has no connection: a connected client
    /// (one that unsubscribed) still owes their PUBACKs, and their packet ids must not be
    /// reused before those arrive (MQTT 3.1.1 §2.3.1). A
    /// stored entry is removed from `session`'s stored queue only once it is stored for its new
    /// member (`AckTicket.followUp`), so a crash in between delivers it twice, never loses it.
    func redistributeShared(of session: Session, group only: SharedGroupID? = nil) {
        guard !isShuttingDown else { return }
        func moves(_ group: SharedGroupID) -> Bool {
            group != .none && (only == nil || group == only)
        }
        var moved: [(message: Message, group: SharedGroupID, sequence: UInt64)] = []
        if session.connection == nil,
           session.inflight.contains(where: { moves($0.sharedGroup) && $0.stage == .awaitingPuback }) {
            session.inflight.removeAll { entry in
                guard moves(entry.sharedGroup), entry.stage == .awaitingPuback else { return false }
                moved.append((entry.message, entry.sharedGroup, entry.storeSequence))
                return true
            }
        }
        if session.queue.contains(where: { moves($0.sharedGroup) }) {
            var kept = Deque<QueuedMessage>()
            for entry in session.queue {
                if moves(entry.sharedGroup) {
                    moved.append((entry.message, entry.sharedGroup, entry.storeSequence))
                } else {
                    kept.append(entry)
                }
            }
            session.queue = kept
        }
        guard !moved.isEmpty else { return }
        let outer = routingAck
        for entry in moved {
            guard let group = subscriptions.sharedGroupsByID[entry.group], group.totalCount > 0 else {
                counters.messagesDropped += 1
                counters.droppedNoMember += 1
                recordDequeue(entry.sequence, of: session)
                continue
            }
            if entry.sequence != 0 && storeWaits {
                let ticket = AckTicket(
                    followUp: .dequeue(clientId: session.clientId, sequence: entry.sequence), mailbox: environment.mailbox)
                routingAck = .ticket(ticket)
                dispatchShared(entry.message, to: group)
                routingAck = nil
                releaseOwnerHold(ticket)
            } else {
                routingAck = nil
                dispatchShared(entry.message, to: group)
                recordDequeue(entry.sequence, of: session)
            }
        }
        routingAck = outer
        if let connection = session.connection, connection.state == .connected { pump(session, on: connection) }
    }
}
