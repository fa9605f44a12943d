import BrokerCore
import Synchronization

/// The numbers this process gives the other nodes of the cluster: each node is a member of the
/// shards' `ShardSet`s in `BrokerContext.nodeSlots` (see `ClusterLink`), for as long as the
/// process runs (a node that comes back keeps its number). Empty until `use` names the range
/// (the shards exist then).
final class ClusterNodeSlots: Sendable {
    private let state = Mutex<(byNode: [String: Int], bySlot: [Int: String], next: Int, end: Int)>(([:], [:], 0, 0))

    init() {}

    /// The slots to give out (once, before any is asked for).
    func use(_ slots: Range<Int>) {
        state.withLock { state in
            guard state.byNode.isEmpty else { return }
            state.next = slots.lowerBound
            state.end = slots.upperBound
        }
    }

    /// `node`'s slot, given now if it has none; nil when every slot is taken.
    func slot(for node: String) -> Int? {
        state.withLock { state in
            if let slot = state.byNode[node] { return slot }
            guard state.next < state.end else { return nil }
            let slot = state.next
            state.next += 1
            state.byNode[node] = slot
            state.bySlot[slot] = node
            return slot
        }
    }

    /// The nodes of `slots` (members of a matched `ShardSet` at or above the shard count).
    func nodes(in slots: ShardSet) -> [String] {
        state.withLock { state in
            var nodes: [String] = []
            slots.forEach { if let node = state.bySlot[$0] { nodes.append(node) } }
            return nodes
        }
    }
}
