import BrokerCore

/// Turns one writer batch into MongoDB operations, with savings that matter for a connected
/// persistent subscriber (every message it gets is queued, marked sent, then completed):
/// - a queue entry inserted and completed within the same batch is never written (the message
///   reached its subscriber; nothing is left to keep), nor are its stage changes;
/// - a stage change of an entry completed later in the batch is not written;
/// - a client's completions are gathered into one range delete per run of sequence numbers,
///   written where the batch deletes the client's session or else at its end (writes to other
///   entries commute with them).
/// A `deleteSession` starts a new epoch for its client: sequence numbers restart with the next
/// session, so an entry is known by (client, epoch, sequence).
enum MongoBatch {
    private struct EntryKey: Hashable {
        let clientId: String
        let epoch: Int
        let sequence: UInt64
    }

    static func operations(
        for writes: [StoreWrite], nowMilliseconds: Int64, sessionExpirySeconds: Int, node: String? = nil
    ) -> [MongoOperation] {
        // The common batch of a busy offline session completes nothing: no bookkeeping then.
        guard writes.contains(where: { if case .dequeue = $0.operation { true } else { false } }) else {
            return writes.indices.flatMap { index in
                MongoDocuments.operations(
                    for: writes[index].operation, write: index, nowMilliseconds: nowMilliseconds,
                    sessionExpirySeconds: sessionExpirySeconds, node: node)
            }
        }
        let keys = entryKeys(writes)
        let (cancelled, completed) = cancelledAndCompleted(writes, keys: keys)
        var operations: [MongoOperation] = []
        operations.reserveCapacity(writes.count)
        var deletes: [String: (sequences: [UInt64], write: Int)] = [:]
        var deleteOrder: [String] = []
        func flushDeletes(of clientId: String) {
            guard let pending = deletes.removeValue(forKey: clientId) else { return }
            operations += MongoDocuments.dequeue(clientId, sequences: pending.sequences, write: pending.write)
        }
        for (index, write) in writes.enumerated() where !cancelled.contains(index) {
            switch write.operation {
            case .dequeue(let clientId, let sequence):
                if deletes[clientId] == nil {
                    deletes[clientId] = ([], index)
                    deleteOrder.append(clientId)
                }
                deletes[clientId]!.sequences.append(sequence)
                deletes[clientId]!.write = index
                continue
            case .updateStage:
                if let key = keys[index], completed.contains(key) { continue }
            case .deleteSession(let clientId):
                flushDeletes(of: clientId)
            default:
                break
            }
            operations += MongoDocuments.operations(
                for: write.operation, write: index, nowMilliseconds: nowMilliseconds, sessionExpirySeconds: sessionExpirySeconds,
                node: node)
        }
        for clientId in deleteOrder { flushDeletes(of: clientId) }
        return operations
    }

    /// The queue entry each enqueue, stage change and dequeue is about.
    private static func entryKeys(_ writes: [StoreWrite]) -> [Int: EntryKey] {
        var epochs: [String: Int] = [:]
        var keys: [Int: EntryKey] = [:]
        for (index, write) in writes.enumerated() {
            switch write.operation {
            case .enqueue(let clientId, let entry):
                keys[index] = EntryKey(clientId: clientId, epoch: epochs[clientId, default: 0], sequence: entry.sequence)
            case .updateStage(let clientId, let sequence, _, _), .dequeue(let clientId, let sequence):
                keys[index] = EntryKey(clientId: clientId, epoch: epochs[clientId, default: 0], sequence: sequence)
            case .deleteSession(let clientId):
                epochs[clientId, default: 0] += 1
            default:
                break
            }
        }
        return keys
    }

    /// Writes that cancel out (an enqueue with its stage changes and dequeue, all in the batch),
    /// and the entries the batch completes.
    private static func cancelledAndCompleted(_ writes: [StoreWrite], keys: [Int: EntryKey]) -> (Set<Int>, Set<EntryKey>) {
        var inserted: [EntryKey: [Int]] = [:]
        var cancelled = Set<Int>()
        var completed = Set<EntryKey>()
        for (index, write) in writes.enumerated() {
            guard let key = keys[index] else { continue }
            switch write.operation {
            case .enqueue:
                inserted[key] = [index]
            case .updateStage:
                inserted[key]?.append(index)
            case .dequeue:
                completed.insert(key)
                if let indices = inserted.removeValue(forKey: key) {
                    cancelled.formUnion(indices)
                    cancelled.insert(index)
                }
            default:
                break
            }
        }
        return (cancelled, completed)
    }
}
