import MQTTWire

/// One shard's view of who subscribes to what: a trie over topic levels whose nodes hold the
/// shard's own subscribers (sessions with their granted QoS) and the set of *other* shards that
/// hold at least one subscription on that exact filter.
///
/// The remote part is a replica kept current by interest messages between shards (sent only
/// when a shard's local count for a filter goes 0→1 or 1→0), so matching a publish touches
/// only this shard's memory: no lock, no atomic. Shared subscription groups (`SharedGroup`) hang
/// off the same nodes, with their member counts per shard replicated the same way.
public final class SubscriptionIndex {
    final class Node {
        var children: [String: Node] = [:]
        /// The `+` child, kept apart so matching needs no dictionary lookup for it.
        var plus: Node?
        /// The `#` child.
        var hash: Node?
        var subscribers: [Subscriber] = []
        var remoteShards = ShardSet()
        /// Shared subscription groups on this exact filter.
        var sharedGroups: [SharedGroup] = []

        var isEmpty: Bool {
            children.isEmpty && plus == nil && hash == nil && subscribers.isEmpty && remoteShards.isEmpty
                && sharedGroups.isEmpty
        }

        func child(_ level: Substring) -> Node? {
            switch level {
            case "+": return plus
            case "#": return hash
            default: return children[String(level)]
            }
        }

        func childCreating(_ level: Substring) -> Node {
            if let existing = child(level) { return existing }
            let node = Node()
            switch level {
            case "+": plus = node
            case "#": hash = node
            default: children[String(level)] = node
            }
            return node
        }

        func removeChild(_ level: Substring) {
            switch level {
            case "+": plus = nil
            case "#": hash = nil
            default: children[String(level)] = nil
            }
        }
    }

    struct Subscriber {
        let session: Session
        /// The QoS granted and, for MQTT 5 subscribers, the subscription options and identifier.
        var options: SubscriptionOptions
        var qos: QoS { options.qos }
    }

    private let root = Node()
    /// Number of (session, filter) subscriptions held by this shard, shared ones included.
    public private(set) var localCount = 0
    /// Number of (session, group) memberships of shared subscription groups on this shard.
    public private(set) var sharedMemberCount = 0
    /// Marks the sessions matched by one `match` call. Sessions move between shards, so stamps
    /// must never repeat across shards either: each index counts in steps of `ShardSet.capacity`
    /// from its own shard number, and a session arriving with another shard's stamp is never
    /// mistaken for one already matched here.
    private var stamp: UInt64
    private var levels: [Substring] = []
    /// Every shared subscription group with a member on any shard, by key.
    public private(set) var sharedGroups: [String: SharedGroup] = [:]
    /// The same groups by number.
    public private(set) var sharedGroupsByID: [SharedGroupID: SharedGroup] = [:]
    /// The groups the last `match` found, for the publishing shard to dispatch.
    public private(set) var matchedGroups: [SharedGroup] = []
    private let shardCount: Int

    public init(shardIndex: Int = 0, shardCount: Int = 1) {
        stamp = UInt64(shardIndex)
        self.shardCount = shardCount
    }

    /// Adds or updates `session`'s subscription. Returns true when this is the shard's first
    /// subscription on `filter` (other shards must then learn that this shard is interested).
    @discardableResult
    public func subscribe(_ session: Session, filter: String, options: SubscriptionOptions) -> Bool {
        var node = root
        for level in TopicLevels.split(filter) { node = node.childCreating(level) }
        if let index = node.subscribers.firstIndex(where: { $0.session === session }) {
            node.subscribers[index].options = options
            return false
        }
        node.subscribers.append(Subscriber(session: session, options: options))
        localCount += 1
        return node.subscribers.count == 1
    }

    /// Removes `session`'s subscription on `filter`. Returns true when it was the shard's last
    /// subscription on that filter.
    @discardableResult
    public func unsubscribe(_ session: Session, filter: String) -> Bool {
        var path: [(Node, Substring)] = []
        var node = root
        for level in TopicLevels.split(filter) {
            guard let next = node.child(level) else { return false }
            path.append((node, level))
            node = next
        }
        guard let index = node.subscribers.firstIndex(where: { $0.session === session }) else { return false }
        node.subscribers.remove(at: index)
        localCount -= 1
        let lastLocal = node.subscribers.isEmpty
        prune(node, path: path)
        return lastLocal
    }

    /// Whether a session of this shard subscribes to exactly `filter`.
    public func holdsLocally(filter: String) -> Bool {
        var node = root
        for level in TopicLevels.split(filter) {
            guard let next = node.child(level) else { return false }
            node = next
        }
        return !node.subscribers.isEmpty
    }

    /// Records that `shard` holds (or no longer holds) subscriptions on `filter`.
    public func setRemoteInterest(filter: String, shard: Int, interested: Bool) {
        if interested {
            var node = root
            for level in TopicLevels.split(filter) { node = node.childCreating(level) }
            node.remoteShards.insert(shard)
        } else {
            var path: [(Node, Substring)] = []
            var node = root
            for level in TopicLevels.split(filter) {
                guard let next = node.child(level) else { return }
                path.append((node, level))
                node = next
            }
            node.remoteShards.remove(shard)
            prune(node, path: path)
        }
    }

    // MARK: - Shared subscription groups

    /// The group `shared` names, created (with no member anywhere yet, numbered by `id`) when
    /// this shard does not know it.
    public func sharedGroup(_ shared: SharedSubscription, id: (String) -> SharedGroupID) -> SharedGroup {
        let key = shared.canonical
        if let group = sharedGroups[key] { return group }
        let group = SharedGroup(key: key, id: id(key), filter: shared.filter, shardCount: shardCount)
        sharedGroupsByID[group.id] = group
        var node = root
        for level in TopicLevels.split(shared.filter) { node = node.childCreating(level) }
        node.sharedGroups.append(group)
        sharedGroups[key] = group
        return group
    }

    /// Adds `session` to this shard's members of `group` (or updates its options).
    public func join(_ session: Session, group: SharedGroup, options: SubscriptionOptions) {
        if let index = group.members.firstIndex(where: { $0.session === session }) {
            group.members[index].options = options
            return
        }
        group.members.append(Subscriber(session: session, options: options))
        localCount += 1
        sharedMemberCount += 1
    }

    /// Removes `session` from this shard's members of `group`. True when it was one.
    @discardableResult
    public func leave(_ session: Session, group: SharedGroup) -> Bool {
        guard let index = group.members.firstIndex(where: { $0.session === session }) else { return false }
        group.members.remove(at: index)
        localCount -= 1
        sharedMemberCount -= 1
        return true
    }

    /// Forgets `group` once no shard has a member.
    public func removeIfEmpty(_ group: SharedGroup) {
        guard group.isEmpty, sharedGroups[group.key] === group else { return }
        sharedGroups[group.key] = nil
        sharedGroupsByID[group.id] = nil
        var path: [(Node, Substring)] = []
        var node = root
        for level in TopicLevels.split(group.filter) {
            guard let next = node.child(level) else { return }
            path.append((node, level))
            node = next
        }
        node.sharedGroups.removeAll { $0 === group }
        prune(node, path: path)
    }

    private func prune(_ leaf: Node, path: [(Node, Substring)]) {
        var node = leaf
        for (parent, level) in path.reversed() {
            guard node.isEmpty else { return }
            parent.removeChild(level)
            node = parent
        }
    }

    /// Finds everyone subscribed to `topic`. Local subscribers are passed to `deliver` once each,
    /// with the highest QoS granted among their matching filters; the other shards with a
    /// matching filter are returned; the shared groups with a matching filter are left in
    /// `matchedGroups` (until the next match). MQTT 5: a No Local subscription of the session
    /// whose connection is `publisher` (on this shard) is passed over; each session's
    /// `matchRetainAsPublished` and `matchIdentifiers` say what its matching subscriptions asked.
    public func match(topic: String, publisher: ConnectionID = 0, deliver: (Session, QoS) -> Void) -> ShardSet {
        matchPublisher = publisher
        TopicLevels.split(topic, into: &levels)
        stamp &+= UInt64(ShardSet.capacity)
        var remote = ShardSet()
        matched.removeAll(keepingCapacity: true)
        if !matchedGroups.isEmpty { matchedGroups.removeAll(keepingCapacity: true) }
        let dollar = TopicName.isDollarTopic(topic)
        collect(root, depth: 0, skipWildcards: dollar, remote: &remote)
        for session in matched { deliver(session, session.matchQoS) }
        matched.removeAll(keepingCapacity: true)
        return remote
    }

    private var matched: [Session] = []
    private var matchPublisher: ConnectionID = 0

    private func collect(_ node: Node, depth: Int, skipWildcards: Bool, remote: inout ShardSet) {
        // `#` matches the parent level too ("a/#" matches "a") and any number of levels below.
        if !skipWildcards, let hash = node.hash { take(hash, remote: &remote) }
        if depth == levels.count {
            take(node, remote: &remote)
            return
        }
        let level = levels[depth]
        if let child = node.children[String(level)] {
            collect(child, depth: depth + 1, skipWildcards: false, remote: &remote)
        }
        if !skipWildcards, let plus = node.plus {
            collect(plus, depth: depth + 1, skipWildcards: false, remote: &remote)
        }
    }

    @inline(__always)
    private func take(_ node: Node, remote: inout ShardSet) {
        remote.formUnion(node.remoteShards)
        if !node.sharedGroups.isEmpty { matchedGroups.append(contentsOf: node.sharedGroups) }
        for subscriber in node.subscribers {
            let session = subscriber.session
            let options = subscriber.options
            if !options.isPlain {
                take(options, of: session)
                continue
            }
            if session.matchStamp != stamp {
                session.matchStamp = stamp
                session.matchQoS = options.qos
                session.matchRetainAsPublished = false
                if !session.matchIdentifiers.isEmpty { session.matchIdentifiers.removeAll(keepingCapacity: true) }
                matched.append(session)
            } else if options.qos.rawValue > session.matchQoS.rawValue {
                session.matchQoS = options.qos
            }
        }
    }

    /// An MQTT 5 subscription with options: off the common path.
    private func take(_ options: SubscriptionOptions, of session: Session) {
        if options.noLocal && matchPublisher != 0 && session.connection?.id == matchPublisher { return }
        if session.matchStamp != stamp {
            session.matchStamp = stamp
            session.matchQoS = options.qos
            session.matchRetainAsPublished = options.retainAsPublished
            session.matchIdentifiers.removeAll(keepingCapacity: true)
            matched.append(session)
        } else {
            if options.qos.rawValue > session.matchQoS.rawValue { session.matchQoS = options.qos }
            if options.retainAsPublished { session.matchRetainAsPublished = true }
        }
        if options.identifier != 0 { session.matchIdentifiers.append(options.identifier) }
    }
}
