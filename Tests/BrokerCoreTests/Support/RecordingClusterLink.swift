import BrokerCore
import Synchronization

/// The cluster seam without other nodes: records what the shards hand it (routes, forwarded
/// publishes, claims) and answers claims when the test says so.
final class RecordingClusterLink: ClusterLink {
    struct Forwarded {
        let topic: String
        let payload: String
        let nodes: ShardSet?
        let group: String?
        let completion: (@Sendable (Bool) -> Void)?
    }
    struct Claim {
        let clientId: String
        let keepSession: Bool
        let completion: @Sendable (ClusterClaim) -> Void
    }

    private let state = Mutex<(interest: [(String, Bool)], forwarded: [Forwarded], claims: [Claim])>(([], [], []))

    func localInterest(filter: String, interested: Bool) {
        state.withLock { $0.interest.append((filter, interested)) }
    }

    func forward(_ message: Message, to nodes: ShardSet?, group: String?, completion: (@Sendable (Bool) -> Void)?) {
        let payload = String(decoding: message.payload, as: UTF8.self)
        state.withLock {
            $0.forwarded.append(Forwarded(topic: message.topic, payload: payload, nodes: nodes, group: group, completion: completion))
        }
    }

    func claim(clientId: String, keepSession: Bool, completion: @escaping @Sendable (ClusterClaim) -> Void) {
        state.withLock { $0.claims.append(Claim(clientId: clientId, keepSession: keepSession, completion: completion)) }
    }

    var statistics: ClusterStatistics { ClusterStatistics() }

    var interest: [(String, Bool)] { state.withLock { $0.interest } }

    /// What was forwarded since the last call.
    func takeForwarded() -> [Forwarded] {
        state.withLock { state in
            defer { state.forwarded = [] }
            return state.forwarded
        }
    }

    /// The claims made since the last call.
    func takeClaims() -> [Claim] {
        state.withLock { state in
            defer { state.claims = [] }
            return state.claims
        }
    }
}
