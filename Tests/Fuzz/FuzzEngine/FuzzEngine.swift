import BrokerCore
import Logging
import MQTTWire
import Synchronization

/// libFuzzer entry point for the broker core as a whole (built only by Tests/Fuzz/run.sh).
///
/// Two `ShardEngine`s run without sockets, with in-memory connections and inboxes. The input is
/// a program: raw byte chunks (split by the input itself) or well-formed packets built from a
/// few input bytes (CONNECT with one of a few client ids, SUBSCRIBE, PUBLISH, acks) go to one of
/// four connection slots on either shard, interleaved with clock ticks, dropped connections,
/// inbox deliveries and messages injected from outside MQTT (`ShardMessage.inject`, as the Kafka
/// subscriber posts them). Besides not crashing, the engines must only ever send valid server packets,
/// CONNACK first, nothing after a close, and keep their tables consistent. A CONNECT may be
/// MQTT 5 (with session expiry, receive maximum, topic alias maximum, maximum packet size and a
/// will delay); that slot's later packets are then sent in MQTT 5's layout, PUBLISH with
/// properties (expiry, topic alias, user property, payload format) and SUBSCRIBE with options and
/// an identifier, and what the broker sends it is framed and checked for its order only.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEngine(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let world = World()
    var input = Input(bytes: UnsafeBufferPointer(start: data, count: size))
    while let op = input.next() {
        let slot = Int(op >> 3) & 3
        switch op & 7 {
        case 0: world.send(input.chunk(), slot: slot)
        case 1: world.send(input.connect(), slot: slot)
        case 2: world.send(world.isV5(slot) ? input.v5(input.subscribe()) : input.subscribe(), slot: slot)
        case 3: world.send(world.isV5(slot) ? input.v5(input.publish()) : input.publish(), slot: slot)
        case 4: world.send(world.isV5(slot) ? input.v5(input.ack()) : input.ack(), slot: slot)
        case 5: world.advance(milliseconds: UInt64(input.next() ?? 0) * 100)
        case 6: world.drop(slot: slot)
        default:
            if op & 0x40 != 0 {
                world.inject(input.topic(), payload: input.next() ?? 0, shard: slot % shardCount)
            } else {
                world.deliverPosts()
            }
        }
        world.checkOutput()
    }
    world.finish()
    return 0
}

// MARK: - Input

private struct Input {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    mutating func next() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Raw bytes: a length byte, then that many bytes.
    mutating func chunk() -> [UInt8] {
        let length = min(Int(next() ?? 0), bytes.count - offset)
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }

    /// A topic or filter from a small alphabet (wildcards, empty levels, `$`).
    mutating func topic() -> [UInt8] {
        let length = Int(next() ?? 0) & 7
        let alphabet: [UInt8] = Array("ab/+#$/c".utf8)
        var out: [UInt8] = []
        for _ in 0..<length { out.append(alphabet[Int(next() ?? 0) & 7]) }
        return out
    }

    func qos(_ bits: UInt8) -> QoS { QoS(rawValue: bits % 3)! }

    /// A CONNECT: MQTT 5 when bits 7 and 6 are both set, 3.1 when only bit 7 is.
    mutating func connect() -> [UInt8] {
        let p = next() ?? 0
        let ids: [[UInt8]] = [Array("a".utf8), Array("b".utf8), [], Array("a/+/#".utf8)]
        let keepAlives: [UInt16] = [0, 1, 5, 60]
        var will: (topic: [UInt8], payload: [UInt8], qos: QoS, retain: Bool)?
        if p & 0x20 != 0 { will = (Array("w/t".utf8), Array("gone".utf8), qos(p >> 6), p & 0x40 != 0) }
        if p & 0xC0 == 0xC0 { return v5Connect(clientId: ids[Int(p) & 3], p: p, keepAlive: keepAlives[Int(p >> 3) & 3]) }
        return ConnectEncoder.encode(
            protocolVersion: p & 0x80 == 0 ? .v3_1_1 : .v3_1, cleanSession: p & 4 != 0,
            keepAlive: keepAlives[Int(p >> 3) & 3], clientId: ids[Int(p) & 3], will: will)
    }

    /// An MQTT 5 CONNECT: clean start from bit 2, then (from the next input byte) a session
    /// expiry of 0, 1 or 30 s, receive maximum 1 or 2, topic alias maximum 0 or 2, maximum
    /// packet size 64 or none, and a will (bit 5 of `p`) delayed 0 or 1 s.
    mutating func v5Connect(clientId: [UInt8], p: UInt8, keepAlive: UInt16) -> [UInt8] {
        let q = next() ?? 0
        var properties: [UInt8] = [0x11, 0, 0, 0, [0, 1, 30, 0][Int(q) & 3]]
        properties += [0x21, 0, 1 + (q >> 2) & 1]
        if q & 8 != 0 { properties += [0x22, 0, 2] }
        if q & 16 != 0 { properties += [0x27, 0, 0, 0, 64] }
        var flags: UInt8 = p & 4 != 0 ? 0x02 : 0
        var payload: [UInt8] = [UInt8(properties.count)] + properties + [0, UInt8(clientId.count)] + clientId
        if p & 0x20 != 0 {
            flags |= 0x04 | (q & 0x20 != 0 ? 0x08 : 0)
            let willProperties: [UInt8] = q & 0x40 != 0 ? [0x18, 0, 0, 0, 1] : []
            payload += [UInt8(willProperties.count)] + willProperties + [0, 3] + Array("w/t".utf8) + [0, 4] + Array("gone".utf8)
        }
        let body: [UInt8] = [0, 4] + Array("MQTT".utf8) + [5, flags, UInt8(keepAlive >> 8), UInt8(keepAlive & 0xFF)] + payload
        return [0x10, UInt8(body.count)] + body
    }

    /// `bytes` (a packet `subscribe`, `publish` or `ack` made) in MQTT 5's layout: a PUBLISH
    /// gets properties from the next input byte (expiry 1 s, a topic alias 0...3 and then maybe
    /// no topic, a user property, a payload format indicator), a SUBSCRIBE an identifier and
    /// options (No Local, Retain As Published, Retain Handling 0...3) on its first filter.
    mutating func v5(_ bytes: [UInt8]) -> [UInt8] {
        let q = next() ?? 0
        var properties: [UInt8] = []
        if q & 1 != 0 { properties += [0x02, 0, 0, 0, 1] }
        if q & 2 != 0 { properties += [0x23, 0, (q >> 4) & 3] }
        if q & 4 != 0 { properties += [0x26, 0, 1, 0x6B, 0, 1, 0x76] }
        if q & 8 != 0 { properties += [0x01, 1] }
        return bytes.withUnsafeBytes { buffer in
            guard let packet = try? Packet.decode(frame: buffer, maxPacketSize: 1 << 20) else { return bytes }
            return properties.withUnsafeBytes { block in
                switch packet {
                case .publish(var publish):
                    publish.properties = Properties(bytes: ByteView(block))
                    if q & 0x42 == 0x42 { publish.topic = .empty }
                    return Packet.publish(publish).encoded(version: .v5)
                case .subscribe(var subscribe):
                    subscribe.subscriptionIdentifier = UInt32(q >> 4)
                    var encoded = Packet.subscribe(subscribe).encoded(version: .v5)
                    // Options of the first filter: after the header, packet id, properties and filter.
                    let propertiesLength = subscribe.subscriptionIdentifier == 0 ? 1 : 3
                    let filterAt = 2 + 2 + propertiesLength
                    if encoded.count > filterAt + 2, encoded[1] < 0x80 {
                        let optionsAt = filterAt + 2 + (Int(encoded[filterAt]) << 8 | Int(encoded[filterAt + 1]))
                        if optionsAt < encoded.count { encoded[optionsAt] |= (q & 0x0F) << 2 }
                    }
                    return encoded
                default:
                    return packet.encoded(version: .v5)
                }
            }
        }
    }

    mutating func subscribe() -> [UInt8] {
        let p = next() ?? 0
        let count = 1 + Int(p & 1)
        // Bit 1: a shared subscription ("$share/" then group, "/" and filter from the topic
        // alphabet, valid or not); bit 7 with it: "$queue/".
        let prefix: [UInt8] = p & 2 == 0 ? [] : Array((p & 0x80 == 0 ? "$share/" : "$queue/").utf8)
        let filters = (0..<count).map { _ in (filter: prefix + topic(), qos: qos(p >> 2)) }
        return SubscribeEncoder.encode(packetId: UInt16(next() ?? 0), filters: filters)
    }

    mutating func publish() -> [UInt8] {
        let p = next() ?? 0
        let qos = qos(p)
        let topic = topic()
        let payload = Array(repeating: p, count: Int(next() ?? 0) & 0x1F)
        // Large payloads are referenced, not copied, by the outbound queue: cover that path too.
        let big = p & 0x80 != 0 ? Array(repeating: UInt8(7), count: OutboundQueue.referenceThreshold) : []
        return PublishEncoder.encode(
            topic: topic, payload: payload + big, qos: qos, retain: p & 4 != 0, dup: qos != .atMostOnce && p & 8 != 0,
            packetId: qos == .atMostOnce ? 0 : UInt16(next() ?? 0))
    }

    mutating func ack() -> [UInt8] {
        let p = next() ?? 0
        let id = UInt16(next() ?? 0)
        switch p & 7 {
        case 0: return AckEncoder.encode(.puback, packetId: id)
        case 1: return AckEncoder.encode(.pubrec, packetId: id)
        case 2: return AckEncoder.encode(.pubrel, packetId: id)
        case 3: return AckEncoder.encode(.pubcomp, packetId: id)
        case 4:
            // Bit 7: a shared filter ("$share/", or "$queue/" with bit 6), as `subscribe` makes them.
            let prefix: [UInt8] = p & 0x80 == 0 ? [] : Array((p & 0x40 == 0 ? "$share/" : "$queue/").utf8)
            return UnsubscribeEncoder.encode(packetId: id, filters: [prefix + topic()])
        case 5: return EmptyPacketEncoder.encode(.pingreq)
        case 6: return EmptyPacketEncoder.encode(.disconnect)
        default: return EmptyPacketEncoder.encode(.pingreq) + AckEncoder.encode(.puback, packetId: id)
        }
    }
}

// MARK: - In-memory broker

private let shardCount = 2

private final class World {
    let context: BrokerContext
    var shards: [FuzzShard] = []
    var slots: [FuzzConnection?] = Array(repeating: nil, count: 4)
    var now: UInt64 = 1_000

    init() {
        var limits = BrokerLimits()
        limits.maxInflightMessages = 3
        limits.maxQueuedMessages = 5
        limits.maxTopicLevels = 4
        limits.maxPacketSize = 4096
        limits.connectTimeoutSeconds = 2
        limits.sessionExpirySeconds = 30
        context = BrokerContext(settings: CoreSettings(limits: limits, sysIntervalSeconds: 5), shardCount: shardCount, startedAt: 1_700_000_000)
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        for index in 0..<shardCount {
            let shard = FuzzShard(world: self)
            shard.engine = ShardEngine(shardIndex: index, context: context, environment: shard, logger: logger)
            shards.append(shard)
        }
    }

    /// The connection in `slot`, opened anew (on shard slot % 2) if there is none or it closed.
    func connection(_ slot: Int) -> FuzzConnection {
        if let existing = slots[slot], !existing.isClosed { return existing }
        let connection = FuzzConnection(shard: shards[slot % shardCount])
        slots[slot] = connection
        return connection
    }

    func send(_ bytes: [UInt8], slot: Int) {
        connection(slot).receive(bytes)
    }

    /// Whether the slot's connection speaks MQTT 5 (as the engine read its CONNECT).
    func isV5(_ slot: Int) -> Bool { slots[slot].map { !$0.isClosed && $0.isV5 } ?? false }

    func drop(slot: Int) {
        guard let connection = slots[slot], !connection.isClosed else { return }
        connection.shard.engine.connectionLost(connection.client)
        check(connection.isClosed, "connectionLost did not close the connection")
    }

    /// A message from outside MQTT (a Kafka record), posted to a shard's mailbox as the Kafka
    /// subscriber posts it; its `routed` must be called exactly once, once it is applied.
    func inject(_ topic: [UInt8], payload: UInt8, shard: Int) {
        guard (try? TopicName.validate(topic)) != nil else { return }
        let message = Message(
            topic: String(decoding: topic, as: UTF8.self), payload: [payload], qos: QoS(rawValue: payload % 3)!,
            retain: payload & 4 != 0)
        let routed = RoutedCount()
        shards[shard].fuzzMailbox.post(.inject(message, routed: { routed.increment() }))
        check(routed.value == 0, "an injected message was routed before its shard applied it")
        deliverPosts()
        check(routed.value == 1, "an injected message was routed \(routed.value) times")
    }

    func advance(milliseconds: UInt64) {
        now += milliseconds
        for shard in shards { shard.engine.tick() }
    }

    /// Delivers every pending inbox message, and what they cause, then parses what connections
    /// resumed by a session transfer hold back.
    func deliverPosts() {
        var moved = true
        while moved {
            moved = false
            for shard in shards where !shard.outbox.isEmpty {
                let posts = shard.outbox
                shard.outbox.removeAll()
                for (message, target) in posts { shards[target].engine.handleInbox(message, from: shard.engine.shardIndex) }
                moved = true
            }
            for shard in shards {
                for message in shard.fuzzMailbox.drain() {
                    shard.engine.handleInbox(message)
                    moved = true
                }
            }
            for connection in slots.compactMap({ $0 }) where connection.resumePending {
                connection.resumePending = false
                connection.receive([])
                moved = true
            }
        }
    }

    func checkOutput() {
        for connection in slots.compactMap({ $0 }) { connection.drainOutbound() }
    }

    /// Settles everything, checks each shard's tables, then drops every connection and checks
    /// that clean sessions and their subscriptions are gone.
    func finish() {
        deliverPosts()
        checkOutput()
        checkTables()
        for slot in slots.indices { drop(slot: slot) }
        deliverPosts()
        checkOutput()
        checkTables()
        for shard in shards {
            check(shard.engine.connections.isEmpty, "connections left open")
            for session in shard.engine.sessions.values {
                check(!session.cleanSession, "clean session \(session.clientId) outlived its connection")
                check(session.connection == nil, "offline session \(session.clientId) has a connection")
            }
        }
    }

    func checkTables() {
        for shard in shards {
            let engine = shard.engine!
            var subscriptionCount = 0
            for (clientId, session) in engine.sessions {
                check(session.clientId == clientId, "session filed under another client id")
                subscriptionCount += session.subscriptions.count
                if let connection = session.connection {
                    check(connection.state == .connected, "session \(clientId) attached to a \(connection.state) connection")
                    check(connection.session === session, "session \(clientId) and its connection disagree")
                    check(engine.connections[connection.id] === connection, "session \(clientId) on an unknown connection")
                }
                for owner in engine.shards(holding: clientId, in: self) where owner != shard.index {
                    fail("session \(clientId) held by shards \(shard.index) and \(owner)")
                }
            }
            check(engine.subscriptions.localCount == subscriptionCount,
                  "shard \(shard.index): index holds \(engine.subscriptions.localCount) subscriptions, sessions \(subscriptionCount)")
            for connection in engine.connections.values {
                check(connection.state != .closed, "closed connection still registered")
                if connection.state == .connected {
                    check(connection.session?.connection === connection, "connected \(connection.logName) without its session")
                }
            }
        }
        checkSharedGroups()
    }

    /// Every shard knows every shared group with a member anywhere, and every shard's member
    /// counts as that shard last announced them, which are its true counts once posts are in.
    func checkSharedGroups() {
        var keys = Set<String>()
        for shard in shards { keys.formUnion(shard.engine.subscriptions.sharedGroups.keys) }
        for key in keys {
            var anyMember = false
            for shard in shards {
                let members = shard.engine.sessions.values.filter { $0.subscriptions[key] != nil }
                let online = members.filter { $0.connection != nil }.count
                anyMember = anyMember || !members.isEmpty
                for viewer in shards {
                    let group = viewer.engine.subscriptions.sharedGroups[key]
                    let counts = group?.counts(of: shard.index) ?? (online: 0, total: 0)
                    check(Int(counts.total) == members.count && Int(counts.online) == online,
                          "shard \(viewer.index) counts \(counts) members of \(key) on shard \(shard.index), which has \(online)/\(members.count)")
                }
                check((shard.engine.subscriptions.sharedGroups[key]?.localMemberCount ?? 0) == members.count,
                      "shard \(shard.index): group \(key) and its sessions disagree")
            }
            check(anyMember, "group \(key) outlived its last member")
        }
    }
}

extension ShardEngine {
    fileprivate func shards(holding clientId: String, in world: World) -> [Int] {
        world.shards.filter { $0.engine.sessions[clientId] != nil }.map(\.index)
    }
}

private final class FuzzShard: ShardEnvironment {
    unowned let world: World
    var engine: ShardEngine!
    var outbox: [(ShardMessage, Int)] = []
    /// Work "from other threads" (authentication verdicts; none without an authenticator).
    let fuzzMailbox = FuzzMailbox()
    var mailbox: any ShardMailbox { fuzzMailbox }

    init(world: World) { self.world = world }

    var index: Int { engine.shardIndex }
    var now: UInt64 { world.now }
    var wallClockSeconds: Int { 1_700_000_000 + Int(world.now / 1000) }
    func post(_ message: ShardMessage, to shard: Int) {
        check(shard != index && shard >= 0 && shard < shardCount, "post to shard \(shard) from \(index)")
        outbox.append((message, shard))
    }
}

/// How often an injected message's `routed` ran (the closure must be `Sendable`).
private final class RoutedCount: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

private final class FuzzMailbox: ShardMailbox {
    private let queue = Mutex<[ShardMessage]>([])

    func post(_ message: ShardMessage) { queue.withLock { $0.append(message) } }

    func drain() -> [ShardMessage] {
        queue.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
    }
}

/// One client connection: bytes in as the runtime would pass them (unconsumed bytes kept and
/// passed again, nothing parsed while paused), bytes out checked as server packets.
private final class FuzzConnection: ConnectionIO {
    unowned let shard: FuzzShard
    var client: ClientConnection!
    var isClosed = false
    var isPaused = false
    var resumePending = false
    var held: [UInt8] = []
    let outbound = FrameAccumulator()
    var packetsSeen = 0
    /// Whether the engine took the connection's CONNECT as MQTT 5: its output is then framed and
    /// checked for order only (the 3.1.1 decoder does not read a server's v5 packets).
    var isV5: Bool { client.protocolVersion == .v5 }
    var v5Outbound: [UInt8] = []
    var disconnectSeen = false
    /// Set once the engine asked to close; from then on nothing may be queued.
    var closeRequested = false

    init(shard: FuzzShard) {
        self.shard = shard
        client = shard.engine.connectionOpened(io: self, peer: "fuzz")
    }

    func receive(_ bytes: [UInt8]) {
        guard !isClosed else { return }
        held += bytes
        guard !isPaused, !held.isEmpty else { return }
        let consumed = held.withUnsafeBytes { shard.engine.receive($0, on: client) }
        check(consumed <= held.count, "engine consumed more than it was given")
        if isClosed { held = [] } else { held.removeFirst(consumed) }
    }

    func drainOutbound() {
        // As the runtime's flush does: look without creating a queue, and hand it back written.
        guard let queue = client.outboundIfAny else { return }
        queue.beginFlush()
        guard !queue.isEmpty else { return }
        check(!flushedAtClose, "bytes queued after the connection was closed")
        if isV5 {
            queue.forEachChunk { v5Outbound += $0 }
            client.outboundWritten()
            checkV5Output()
            return
        }
        queue.forEachChunk { outbound.append($0) }
        client.outboundWritten()
        do throws(MQTTWireError) {
            try outbound.forEachPacket(maxPacketSize: 1 << 28) { packet in
                packetsSeen += 1
                switch packet {
                case .connack:
                    check(packetsSeen == 1, "CONNACK after other packets")
                case .publish, .puback, .pubrec, .pubrecFailed, .pubrel, .pubcomp, .suback, .unsuback, .pingresp:
                    check(packetsSeen > 1, "\(packet) before CONNACK")
                case .connect, .subscribe, .unsubscribe, .pingreq, .disconnect, .auth:
                    fail("the broker sent a 3.1.1 client a client packet: \(packet)")
                }
            }
        } catch {
            fail("the broker sent an invalid packet: \(error)")
        }
    }

    /// MQTT 5 output: whole frames, CONNACK first, never a client packet, nothing after a
    /// DISCONNECT.
    private func checkV5Output() {
        while true {
            let header = v5Outbound.withUnsafeBytes { try? FrameHeader.check($0, maxPacketSize: 1 << 28) }
            guard let header = header ?? nil else { return }
            packetsSeen += 1
            check(!disconnectSeen, "a packet after the broker's DISCONNECT")
            switch header.type {
            case .connack: check(packetsSeen == 1, "CONNACK after other packets")
            case .connect, .subscribe, .unsubscribe, .pingreq: fail("the broker sent a client packet: \(header.type)")
            case .disconnect: disconnectSeen = true
            default: check(packetsSeen > 1, "\(header.type) before CONNACK")
            }
            v5Outbound.removeFirst(header.totalLength)
        }
    }

    private var flushedAtClose = false

    // ConnectionIO
    func outboundChanged() {
        check(!isClosed, "bytes queued on a closed connection")
    }

    func close() {
        check(!closeRequested, "close requested twice")
        closeRequested = true
        // The runtime flushes what is queued, then closes: take it now, nothing may follow.
        drainOutbound()
        flushedAtClose = true
        isClosed = true
    }

    func pauseReading() { isPaused = true }

    func resumeReading() {
        isPaused = false
        resumePending = true
    }
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("FuzzEngine: \(message)")
}
