import BrokerCore
import MQTTWire
import Synchronization

/// A `SessionStore` the test controls: submitted writes are held until `complete` applies them to
/// an in-memory model of the database (or fails them), or applied at once with `autoComplete`.
/// `snapshot()` is what a restarted broker would load.
final class FakeStore: SessionStore {
    let waitsForWrites: Bool
    let autoComplete: Bool
    var isAvailable: Bool { true }

    private struct State {
        var held: [StoreWrite] = []
        var submitted: [StoreOperation] = []
        var sessions: [String: StoredSession] = [:]
        var retained: [String: Message] = [:]
        var wills: [String: StoredWill] = [:]
    }
    private let state = Mutex(State())

    init(waitsForWrites: Bool = true, autoComplete: Bool = false) {
        self.waitsForWrites = waitsForWrites
        self.autoComplete = autoComplete
    }

    func submit(_ writes: [StoreWrite], from shard: Int) {
        state.withLock {
            $0.held += writes
            $0.submitted += writes.map(\.operation)
        }
        if autoComplete { complete() }
    }

    /// Every operation submitted so far, described briefly (for expectations).
    var submitted: [String] { state.withLock { $0.submitted.map(Self.describe) } }
    var heldCount: Int { state.withLock { $0.held.count } }

    /// Applies (or, with `ok` false, fails) every held write and releases its ticket.
    func complete(ok: Bool = true) {
        let writes = state.withLock { state in
            defer { state.held.removeAll() }
            if ok { for write in state.held { Self.apply(write.operation, to: &state) } }
            return state.held
        }
        for write in writes { write.ticket?.release(failed: ok ? [] : .store) }
    }

    /// The broker died: writes not yet applied are lost, their tickets never settle.
    func crash() {
        state.withLock { $0.held.removeAll() }
    }

    /// What a broker restarted on this database loads.
    func snapshot() -> (sessions: [StoredSession], retained: [Message], wills: [StoredWill]) {
        state.withLock { state in
            (state.sessions.values.sorted { $0.clientId < $1.clientId }, state.retained.values.sorted { $0.topic < $1.topic },
             state.wills.values.sorted { $0.clientId < $1.clientId })
        }
    }

    private static func apply(_ operation: StoreOperation, to state: inout State) {
        switch operation {
        case .saveSession(let clientId, let subscriptions, _, let lastSeen, let expiryInterval):
            var session = state.sessions[clientId]
                ?? StoredSession(clientId: clientId, subscriptions: [], inboundQoS2: [], lastSeen: lastSeen, entries: [])
            session.subscriptions = subscriptions
            session.lastSeen = lastSeen
            session.expiryInterval = expiryInterval
            state.sessions[clientId] = session
        case .deleteSession(let clientId):
            state.sessions[clientId] = nil
        case .addInboundQoS2(let clientId, let packetId):
            if state.sessions[clientId]?.inboundQoS2.contains(packetId) == false {
                state.sessions[clientId]?.inboundQoS2.append(packetId)
            }
        case .removeInboundQoS2(let clientId, let packetId):
            state.sessions[clientId]?.inboundQoS2.removeAll { $0 == packetId }
        case .enqueue(let clientId, let entry):
            state.sessions[clientId]?.entries.removeAll { $0.sequence == entry.sequence }
            state.sessions[clientId]?.entries.append(entry)
            state.sessions[clientId]?.entries.sort { $0.sequence < $1.sequence }
        case .updateStage(let clientId, let sequence, let packetId, let stage):
            guard let index = state.sessions[clientId]?.entries.firstIndex(where: { $0.sequence == sequence }) else { return }
            state.sessions[clientId]!.entries[index].packetId = packetId
            state.sessions[clientId]!.entries[index].stage = stage
        case .dequeue(let clientId, let sequence):
            state.sessions[clientId]?.entries.removeAll { $0.sequence == sequence }
        case .retain(let message):
            state.retained[message.topic] = message.payload.isEmpty ? nil : message
        case .saveWill(let will):
            state.wills[will.clientId] = will
        case .deleteWill(let clientId, let willId):
            if state.wills[clientId]?.willId == willId { state.wills[clientId] = nil }
        }
    }

    private static func describe(_ operation: StoreOperation) -> String {
        switch operation {
        case .saveSession(let clientId, let subscriptions, let connected, _, _):
            "session \(clientId) [\(subscriptions.map { "\($0.filter):\($0.qos.rawValue)" }.joined(separator: ","))]\(connected ? "" : " offline")"
        case .deleteSession(let clientId): "delete \(clientId)"
        case .addInboundQoS2(let clientId, let packetId): "inbound+ \(clientId) \(packetId)"
        case .removeInboundQoS2(let clientId, let packetId): "inbound- \(clientId) \(packetId)"
        case .enqueue(let clientId, let entry):
            "enqueue \(clientId) #\(entry.sequence) \(entry.message.topic)=\(String(decoding: entry.message.payload, as: UTF8.self)) \(entry.stage)"
        case .updateStage(let clientId, let sequence, let packetId, let stage): "stage \(clientId) #\(sequence) id:\(packetId) \(stage)"
        case .dequeue(let clientId, let sequence): "dequeue \(clientId) #\(sequence)"
        case .retain(let message): "retain \(message.topic)=\(String(decoding: message.payload, as: UTF8.self))"
        case .saveWill(let will): "will \(will.clientId) \(will.message.topic)"
        case .deleteWill(let clientId, _): "will- \(clientId)"
        }
    }
}

extension TestCluster {
    /// A new broker on `store`'s database, loaded as at start-up (sessions spread over the shards).
    static func restarted(on store: FakeStore, shards count: Int = 1, settings: CoreSettings = CoreSettings()) -> TestCluster {
        store.crash()
        let cluster = TestCluster(shards: count, settings: settings, store: store)
        let (sessions, retained, wills) = store.snapshot()
        for (index, session) in sessions.enumerated() { cluster.shards[index % count].engine.adopt(session) }
        for message in retained { for shard in cluster.shards { shard.engine.adoptRetained(message) } }
        cluster.settle()
        cluster.shards[0].engine.publishStoredWills(wills)
        cluster.settle()
        return cluster
    }
}
