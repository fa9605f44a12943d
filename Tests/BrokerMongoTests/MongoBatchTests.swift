import BrokerCore
@testable import BrokerMongo
import MQTTWire
import Testing

/// What one writer batch sends to MongoDB (the documents themselves: `MongoDocuments`).
@Suite struct MongoBatchTests {
    func entry(_ sequence: UInt64) -> StoredQueueEntry {
        StoredQueueEntry(
            sequence: sequence, message: Message(topic: "t", payload: Array("p".utf8), qos: .atLeastOnce, retain: false),
            qos: .atLeastOnce, retain: false, packetId: 0, stage: .queued)
    }

    func describe(_ operations: [MongoOperation]) -> [String] {
        operations.map { operation in
            let what = switch operation.kind {
            case .insert(let document): "insert \(document.json)"
            case .upsert(let selector, _): "upsert \(selector.json)"
            case .update(let selector, _): "update \(selector.json)"
            case .deleteOne(let selector): "deleteOne \(selector.json)"
            case .deleteMany(let selector): "deleteMany \(selector.json)"
            }
            return String("\(operation.collection.rawValue) \(what)".filter { $0 != " " })
        }
    }

    @Test func anEntryQueuedAndCompletedInOneBatchIsNeverWritten() {
        let writes = [
            StoreWrite(.enqueue(clientId: "a", entry: entry(1)), ticket: nil),
            StoreWrite(.updateStage(clientId: "a", sequence: 1, packetId: 7, stage: .sent), ticket: nil),
            StoreWrite(.enqueue(clientId: "a", entry: entry(2)), ticket: nil),
            StoreWrite(.dequeue(clientId: "a", sequence: 1), ticket: nil),
        ]
        let operations = MongoBatch.operations(for: writes, nowMilliseconds: 0, sessionExpirySeconds: 0)
        #expect(operations.count == 1)
        #expect(operations.map(\.write) == [2])
        #expect(describe(operations)[0].hasPrefix("broker_queueinsert{\"client\":\"a\",\"seq\":{\"$numberLong\":\"2\"}"))
    }

    @Test func consecutiveCompletionsOfOneClientAreOneRangeDelete() {
        let writes = [
            StoreWrite(.dequeue(clientId: "a", sequence: 5), ticket: nil),
            StoreWrite(.dequeue(clientId: "a", sequence: 4), ticket: nil),
            StoreWrite(.dequeue(clientId: "a", sequence: 6), ticket: nil),
            StoreWrite(.dequeue(clientId: "a", sequence: 9), ticket: nil),
            StoreWrite(.dequeue(clientId: "b", sequence: 1), ticket: nil),
        ]
        #expect(describe(MongoBatch.operations(for: writes, nowMilliseconds: 0, sessionExpirySeconds: 0)) == [
            #"broker_queuedeleteMany{"client":"a","seq":{"$gte":{"$numberLong":"4"},"$lte":{"$numberLong":"6"}}}"#,
            #"broker_queuedeleteOne{"client":"a","seq":{"$numberLong":"9"}}"#,
            #"broker_queuedeleteOne{"client":"b","seq":{"$numberLong":"1"}}"#,
        ])
    }

    @Test func completionsInterleavedWithStageChangesAreGatheredAndTheirStageChangesDropped() {
        let writes = [
            StoreWrite(.updateStage(clientId: "a", sequence: 21, packetId: 1, stage: .sent), ticket: nil),
            StoreWrite(.dequeue(clientId: "a", sequence: 1), ticket: nil),
            StoreWrite(.updateStage(clientId: "a", sequence: 22, packetId: 2, stage: .sent), ticket: nil),
            StoreWrite(.dequeue(clientId: "a", sequence: 2), ticket: nil),
            StoreWrite(.dequeue(clientId: "a", sequence: 21), ticket: nil),
        ]
        #expect(describe(MongoBatch.operations(for: writes, nowMilliseconds: 0, sessionExpirySeconds: 0)) == [
            #"broker_queueupdate{"client":"a","seq":{"$numberLong":"22"}}"#,
            #"broker_queuedeleteMany{"client":"a","seq":{"$gte":{"$numberLong":"1"},"$lte":{"$numberLong":"2"}}}"#,
            #"broker_queuedeleteOne{"client":"a","seq":{"$numberLong":"21"}}"#,
        ])
    }

    @Test func aDeletedSessionStopsEarlierEntriesFromCancelling() {
        // enqueue #1, the session is deleted (its queue, then its document), then a new session's #1 completes:
        // that completion is not the old insert's, so nothing cancels.
        let writes = [
            StoreWrite(.enqueue(clientId: "a", entry: entry(1)), ticket: nil),
            StoreWrite(.deleteSession(clientId: "a"), ticket: nil),
            StoreWrite(.dequeue(clientId: "a", sequence: 1), ticket: nil),
        ]
        #expect(describe(MongoBatch.operations(for: writes, nowMilliseconds: 0, sessionExpirySeconds: 0)).map { $0.prefix(22) } == [
            "broker_queueinsert{\"cl", "broker_queuedeleteMany", "broker_sessionsdeleteO", "broker_queuedeleteOne{",
        ])
    }
}
