import MQTTWire

/// How a shared subscription group picks the member that gets a message
/// (`shared_subscriptions.strategy`).
public enum SharedSubscriptionStrategy: String, Sendable, CaseIterable {
    /// Members in turn (per publishing shard): EMQX 5's default.
    case roundRobin = "round_robin"
    case random
    /// One publisher's messages stick to one member while the membership stays the same.
    case hashClientId = "hash_client_id"
    /// One topic's messages stick to one member while the membership stays the same.
    case hashTopic = "hash_topic"
    /// A publishing shard keeps sending to the member it picked at random until the membership
    /// changes.
    case sticky
}

/// One shard's view of one shared subscription group (`$share/{group}/{filter}`): its own
/// members, and how many members every shard has, online and in all, replicated like the
/// `remoteShards` of a filter (a shard tells the others when its counts change). Hangs off the
/// filter's node in the `SubscriptionIndex`; every shard has the group while any shard has a
/// member.
///
/// A message's member is picked in two steps: the publishing shard turns a position among all
/// members into a shard and a slot (`choose`), and that shard picks its member at the slot,
/// skipping members that cannot take it (`ShardEngine+SharedSubscriptions`).
public final class SharedGroup {
    /// `$share/{group}/{filter}`, the group's name across shards and in sessions.
    public let key: String
    /// `key`'s number (`SharedGroupIDs`), what queue entries carry.
    public let id: SharedGroupID
    let filter: String
    /// This shard's members, in the order they joined.
    var members: [SubscriptionIndex.Subscriber] = []
    /// Members per shard, online and in all (this shard's own figures included, as last announced).
    private var online: [Int32]
    private var total: [Int32]
    public private(set) var onlineCount = 0
    public private(set) var totalCount = 0
    /// Round robin position (publishing side).
    private var cursor: UInt64 = 0
    /// `sticky`: the position picked, valid while the member count is `stickyCount`.
    private var stickyPosition = 0
    private var stickyCount = 0
    /// Other cluster nodes with members (their slots, as in `ClusterLink`), and the round robin
    /// position among the nodes.
    var remoteNodes = ShardSet()
    private var nodeCursor: UInt64 = 0

    init(key: String, id: SharedGroupID, filter: String, shardCount: Int) {
        self.key = key
        self.id = id
        self.filter = filter
        online = Array(repeating: 0, count: shardCount)
        total = Array(repeating: 0, count: shardCount)
    }

    /// Nobody anywhere is a member any more.
    var isEmpty: Bool { members.isEmpty && totalCount == 0 && remoteNodes.isEmpty }

    /// In a cluster, the node that gets the next message: nil for this node (then `choose` picks
    /// the member here), else another node's slot. Nodes count as one candidate each (how many
    /// members another node has is its own business); `sticky` sticks per node too.
    func chooseNode(_ strategy: SharedSubscriptionStrategy, hash: () -> UInt64) -> Int?? {
        var nodes: [Int] = []
        remoteNodes.forEach { nodes.append($0) }
        let here = totalCount > 0 ? 1 : 0
        let count = here + nodes.count
        guard count > 0 else { return .none }
        let position: Int
        switch strategy {
        case .roundRobin, .sticky:
            position = Int(nodeCursor % UInt64(count))
            if strategy == .roundRobin { nodeCursor &+= 1 }
        case .random:
            position = Int.random(in: 0..<count)
        case .hashClientId, .hashTopic:
            position = Int(hash() % UInt64(count))
        }
        return position < here ? .some(nil) : .some(nodes[position - here])
    }

    /// `shard`'s members online and in all, as last announced.
    public func counts(of shard: Int) -> (online: Int32, total: Int32) { (online[shard], total[shard]) }

    /// This shard's members of the group.
    public var localMemberCount: Int { members.count }

    /// `shard` now has `online` members connected, `total` in all.
    func setCounts(of shard: Int, online newOnline: Int32, total newTotal: Int32) {
        onlineCount += Int(newOnline - online[shard])
        totalCount += Int(newTotal - total[shard])
        online[shard] = newOnline
        total[shard] = newTotal
    }

    /// Where the next message goes: a shard and the slot among that shard's members (online
    /// ones while any member anywhere is online, else all). Nil when the group has no member.
    /// `hash` is asked for only by the hashing strategies.
    func choose(_ strategy: SharedSubscriptionStrategy, hash: () -> UInt64) -> (shard: Int, slot: Int)? {
        let amongOnline = onlineCount > 0
        let count = amongOnline ? onlineCount : totalCount
        guard count > 0 else { return nil }
        let position: Int
        switch strategy {
        case .roundRobin:
            position = Int(cursor % UInt64(count))
            cursor &+= 1
        case .random:
            position = Int.random(in: 0..<count)
        case .hashClientId, .hashTopic:
            position = Int(hash() % UInt64(count))
        case .sticky:
            if stickyCount != count {
                stickyCount = count
                stickyPosition = Int.random(in: 0..<count)
            }
            position = stickyPosition
        }
        var rest = position
        let perShard = amongOnline ? online : total
        for shard in perShard.indices {
            let here = Int(perShard[shard])
            if rest < here { return (shard, rest) }
            rest -= here
        }
        return nil
    }

    /// A shard other than `excluded` with a member online (or with any member, when none is
    /// online anywhere), starting after it: where a message goes that `excluded` could not place.
    func otherShard(than excluded: Int) -> Int? {
        let perShard = onlineCount > 0 ? online : total
        for step in 1..<max(perShard.count, 1) {
            let shard = (excluded + step) % perShard.count
            if perShard[shard] > 0 { return shard }
        }
        return nil
    }
}
