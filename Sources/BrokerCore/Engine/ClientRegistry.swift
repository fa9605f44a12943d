import Synchronization

/// Which shard owns each client id, across the whole process. Consulted on CONNECT and when a
/// session ends (never per packet), so a mutex is cheap enough here.
///
/// Every claim gets a new generation; a shard releases a client id only with the generation it
/// claimed it with, so a late release cannot undo a newer claim from another shard.
public final class ClientRegistry: Sendable {
    public struct Owner: Equatable, Sendable {
        public let shard: Int
        public let generation: UInt64
    }

    /// An `Owner` in one word (shard in the top 16 bits, generation below: 2⁴⁸ claims), so a
    /// table slot is 24 bytes, not 32: the registry holds one entry per connected client.
    private struct StoredOwner {
        let bits: UInt64

        init(_ owner: Owner) {
            precondition(owner.shard < 1 << 16 && owner.generation < 1 << 48, "owner does not fit in a word")
            bits = UInt64(owner.shard) << 48 | owner.generation
        }

        var owner: Owner { Owner(shard: Int(bits >> 48), generation: bits & (1 << 48 - 1)) }
    }

    private struct State {
        var owners: [String: StoredOwner] = [:]
        var nextGeneration: UInt64 = 1
    }

    private let state = Mutex(State())

    public init() {}

    /// Makes `shard` the owner of `clientId`; returns the previous owner (if any) and the new generation.
    public func claim(_ clientId: String, shard: Int) -> (previous: Owner?, generation: UInt64) {
        state.withLock { state in
            let generation = state.nextGeneration
            state.nextGeneration += 1
            let previous = state.owners.updateValue(StoredOwner(Owner(shard: shard, generation: generation)), forKey: clientId)
            return (previous?.owner, generation)
        }
    }

    /// The owner of `clientId`, made `shard` when there is none.
    public func ownerClaimingIfNone(_ clientId: String, shard: Int) -> Owner {
        state.withLock { state in
            if let stored = state.owners[clientId] { return stored.owner }
            let owner = Owner(shard: shard, generation: state.nextGeneration)
            state.nextGeneration += 1
            state.owners[clientId] = StoredOwner(owner)
            return owner
        }
    }

    /// Forgets `clientId` if the claim with `generation` still owns it.
    public func release(_ clientId: String, generation: UInt64) {
        state.withLock { state in
            if state.owners[clientId]?.owner.generation == generation { state.owners[clientId] = nil }
        }
    }

    public func owner(of clientId: String) -> Owner? {
        state.withLock { $0.owners[clientId]?.owner }
    }
}
