import BrokerCore
import MQTTWire

/// libFuzzer entry point for topic validation and matching (built only by Tests/Fuzz/run.sh).
///
/// The input is a program of operations on one `SubscriptionIndex` and one `RetainedStore`:
/// subscribe, unsubscribe, remote interest, publish (match) and retained lookups, with filters
/// and topics drawn from a small alphabet rich in `/`, `+`, `#` and `$`. Every filter and topic
/// is first checked by `TopicFilter.validate` / `TopicName.validate` against a reference rule,
/// and every match is compared with a naive reference matcher over a model of the state. Each
/// publish also checks the per-filter matcher the ACLs and Kafka rules use (`TopicFilter.matches`)
/// and that `covers` never claims a filter whose topics it does not all match.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTopicMatcher(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    var input = Input(UnsafeBufferPointer(start: data, count: size))
    var model = Model()
    while let op = input.next() {
        let text = input.string()
        switch op % 6 {
        case 0: model.subscribe(session: Int(op >> 3) % Model.sessionCount, filter: text, qos: QoS(rawValue: (op >> 5) % 3)!)
        case 1: model.unsubscribe(session: Int(op >> 3) % Model.sessionCount, filter: text)
        case 2: model.remoteInterest(shard: 1 + Int(op >> 3) % 3, filter: text, interested: op & 0x80 != 0)
        case 3: model.publish(topic: text, retain: op & 0x40 != 0, clear: op & 0x80 != 0)
        case 4: model.retainedLookup(filter: text)
        default: model.checkValidation(text)
        }
    }
    model.checkCounts()
    return 0
}

/// Reads operations and strings from the fuzzer's bytes.
private struct Input {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func next() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Up to 15 characters. Most bytes pick from an alphabet that makes wildcards, empty levels
    /// and `$` topics likely (and a two-byte character); bytes from 0xF0 give ASCII 0x70-0x7F.
    mutating func string() -> [UInt8] {
        let length = Int(next() ?? 0) & 15
        let alphabet: [[UInt8]] = [[0x61], [0x62], [0x2F], [0x2B], [0x23], [0x24], [0x2F], [0xC3, 0xA9]]
        var out: [UInt8] = []
        for _ in 0..<length {
            guard let byte = next() else { break }
            if byte >= 0xF0 { out.append(byte & 0x7F) } else { out += alphabet[Int(byte) % alphabet.count] }
        }
        return out
    }
}

/// The index and store under test, and a plain model of what they should hold.
private struct Model {
    static let sessionCount = 4
    let index = SubscriptionIndex(shardIndex: 0)
    let retained = RetainedStore()
    let sessions = (0..<sessionCount).map { Session(clientId: "s\($0)", cleanSession: true) }
    var subscriptions: [[String: QoS]] = Array(repeating: [:], count: sessionCount)
    var remote: [String: Set<Int>] = [:]
    var retainedTopics: [String: String] = [:]
    var publishCount = 0

    mutating func subscribe(session: Int, filter bytes: [UInt8], qos: QoS) {
        guard let filter = validFilter(bytes) else { return }
        let first = index.subscribe(sessions[session], filter: filter, options: SubscriptionOptions(qos: qos))
        let wasHeld = subscriptions.contains { $0[filter] != nil }
        let isNew = subscriptions[session][filter] == nil
        check(first == (isNew && !wasHeld), "subscribe(\(filter)) first=\(first)")
        subscriptions[session][filter] = qos
    }

    mutating func unsubscribe(session: Int, filter bytes: [UInt8]) {
        guard let filter = validFilter(bytes) else { return }
        let last = index.unsubscribe(sessions[session], filter: filter)
        let held = subscriptions[session].removeValue(forKey: filter) != nil
        let stillHeld = subscriptions.contains { $0[filter] != nil }
        check(last == (held && !stillHeld), "unsubscribe(\(filter)) last=\(last)")
    }

    mutating func remoteInterest(shard: Int, filter bytes: [UInt8], interested: Bool) {
        guard let filter = validFilter(bytes) else { return }
        index.setRemoteInterest(filter: filter, shard: shard, interested: interested)
        if interested { remote[filter, default: []].insert(shard) } else { remote[filter]?.remove(shard) }
    }

    mutating func publish(topic bytes: [UInt8], retain: Bool, clear: Bool) {
        guard let topic = validTopic(bytes) else { return }
        var delivered: [ObjectIdentifier: QoS] = [:]
        let shards = index.match(topic: topic) { session, qos in
            check(delivered.updateValue(qos, forKey: ObjectIdentifier(session)) == nil, "\(topic): session delivered twice")
        }
        var expected: [ObjectIdentifier: QoS] = [:]
        for (session, filters) in zip(sessions, subscriptions) {
            let granted = filters.filter { referenceMatches(filter: $0.key, topic: topic) }.map(\.value.rawValue).max()
            if let granted { expected[ObjectIdentifier(session)] = QoS(rawValue: granted)! }
        }
        check(delivered == expected, "\(topic): delivered \(delivered.count) sessions, expected \(expected.count)")
        let filters = Set(subscriptions.flatMap(\.keys)).compactMap { TopicFilter($0) }
        for filter in filters {
            let matches = referenceMatches(filter: filter.description, topic: topic)
            check(filter.matches(topic: topic) == matches, "TopicFilter(\(filter)).matches(\(topic)) != \(matches)")
            for other in filters where filter.covers(other) && referenceMatches(filter: other.description, topic: topic) {
                check(matches, "\(filter) covers \(other) but does not match \(topic)")
            }
        }
        var expectedShards = ShardSet()
        for (filter, set) in remote where referenceMatches(filter: filter, topic: topic) {
            for shard in set { expectedShards.insert(shard) }
        }
        check(shards == expectedShards, "\(topic): remote shards differ")

        guard retain else { return }
        publishCount += 1
        let payload: [UInt8] = clear ? [] : Array("m\(publishCount)".utf8)
        retained.store(Message(topic: topic, payload: payload, qos: .atMostOnce, retain: true))
        retainedTopics[topic] = clear ? nil : String(decoding: payload, as: UTF8.self)
        check(retained.message(topic: topic).map { String(decoding: $0.payload, as: UTF8.self) } == retainedTopics[topic],
              "\(topic): retained message differs")
    }

    func retainedLookup(filter bytes: [UInt8]) {
        guard let filter = validFilter(bytes) else { return }
        var found: [String: String] = [:]
        retained.forEachMatch(filter: filter) { message in
            check(found.updateValue(String(decoding: message.payload, as: UTF8.self), forKey: message.topic) == nil,
                  "\(filter): retained \(message.topic) visited twice")
        }
        let expected = retainedTopics.filter { referenceMatches(filter: filter, topic: $0.key) }
        check(found == expected, "\(filter): retained matches \(found.keys.sorted()) expected \(expected.keys.sorted())")
    }

    func checkValidation(_ bytes: [UInt8]) {
        _ = validFilter(bytes)
        _ = validTopic(bytes)
    }

    func checkCounts() {
        check(index.localCount == subscriptions.reduce(0) { $0 + $1.count }, "localCount differs")
        check(retained.count == retainedTopics.count, "retained count differs")
        // Unsubscribing everything and withdrawing all interest must leave nothing to match.
        for (session, filters) in zip(sessions, subscriptions) {
            for filter in filters.keys { index.unsubscribe(session, filter: filter) }
        }
        for (filter, shards) in remote { for shard in shards { index.setRemoteInterest(filter: filter, shard: shard, interested: false) } }
        check(index.localCount == 0, "subscriptions left after unsubscribing all")
        for topic in retainedTopics.keys {
            let shards = index.match(topic: topic) { _, _ in check(false, "\(topic) matched after unsubscribing all") }
            check(shards.isEmpty, "\(topic): remote interest left after withdrawing all")
        }
    }

    /// The filter as a String when both the wire rule and the reference rule accept it (they
    /// must agree); nil when both reject it.
    private func validFilter(_ bytes: [UInt8]) -> String? {
        var accepted = true
        do throws(MQTTWireError) { try TopicFilter.validate(bytes) } catch { accepted = false }
        check(accepted == referenceValidFilter(bytes), "TopicFilter.validate(\(bytes)) = \(accepted)")
        check((TopicFilter(String(decoding: bytes, as: UTF8.self)) != nil) == accepted, "TopicFilter(\(bytes)) disagrees with validate")
        return accepted ? String(decoding: bytes, as: UTF8.self) : nil
    }

    private func validTopic(_ bytes: [UInt8]) -> String? {
        var accepted = true
        do throws(MQTTWireError) { try TopicName.validate(bytes) } catch { accepted = false }
        check(accepted == referenceValidTopic(bytes), "TopicName.validate(\(bytes)) = \(accepted)")
        return accepted ? String(decoding: bytes, as: UTF8.self) : nil
    }
}

// MARK: - Reference rules (MQTT 3.1.1 §4.7), written for clarity, not speed

private func levels(_ bytes: [UInt8]) -> [[UInt8]] {
    bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
}

private func referenceValidFilter(_ bytes: [UInt8]) -> Bool {
    guard !bytes.isEmpty else { return false }
    let parts = levels(bytes)
    for (i, level) in parts.enumerated() {
        if level.contains(UInt8(ascii: "#")) && (level != [UInt8(ascii: "#")] || i != parts.count - 1) { return false }
        if level.contains(UInt8(ascii: "+")) && level != [UInt8(ascii: "+")] { return false }
    }
    return true
}

private func referenceValidTopic(_ bytes: [UInt8]) -> Bool {
    !bytes.isEmpty && !bytes.contains(UInt8(ascii: "+")) && !bytes.contains(UInt8(ascii: "#"))
}

private func referenceMatches(filter: String, topic: String) -> Bool {
    let f = filter.split(separator: "/", omittingEmptySubsequences: false)
    let t = topic.split(separator: "/", omittingEmptySubsequences: false)
    // Wildcards at the first level do not match topics starting with `$` (§4.7.2).
    if topic.hasPrefix("$") && (f[0] == "+" || f[0] == "#") { return false }
    var i = 0
    while i < f.count {
        if f[i] == "#" { return true }  // also matches the parent level ("a/#" matches "a")
        guard i < t.count else { return false }
        if f[i] != "+" && f[i] != t[i] { return false }
        i += 1
    }
    return i == t.count
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("FuzzTopicMatcher: \(message())") }
}
