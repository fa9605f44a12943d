@testable import BrokerCore
@testable import BrokerRuntime
import CLibUV
import Glibc
import Logging
import MQTTWire
import Testing

/// The one write path of `TCPConnection`, over a real socket whose peer reads slowly: what the
/// socket does not take at once is copied and finished by `uv_write`, bytes queued meanwhile
/// follow it, and the peer receives exactly the queued stream, in order.
@Suite struct TCPConnectionWriteTests {
    /// A connection on one end of a socketpair; the test holds the other end (`peer`).
    final class Harness {
        let shard: Shard
        let connection: TCPConnection
        let peer: Int32

        init() throws {
            let context = BrokerContext(settings: CoreSettings(), shardCount: 1, startedAt: 0)
            shard = try Shard(index: 0, context: context, logger: Logger(label: "test"))
            shard.peerInboxes = [shard.inbox]
            var fds: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw HarnessError.socketpair }
            // A small send buffer, so a write of a few hundred KiB is only partly taken.
            var size: Int32 = 4096
            setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            peer = fds[1]
            let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
            uv_tcp_init(shard.loop, handle)
            guard uv_tcp_open(handle, uv_os_sock_t(fds[0])) == 0 else { throw HarnessError.open }
            // As if it came through the shard's only listener.
            shard.openByListener = [0]
            connection = TCPConnection(shard: shard, handle: handle, listener: 0)
            connection.start()
        }

        enum HarnessError: Error { case socketpair, open }

        var client: ClientConnection { connection.client }

        /// Queues `bytes` as the engine does (copied into the queue's buffer) and asks for a
        /// flush the way the engine does (`ClientConnection.outboundChanged`, once per flush).
        func queue(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { client.outbound.append($0) }
            client.outboundChanged()
        }

        /// Queues a message's payload as a delivery does: referenced, not copied, from 1 KiB.
        func queue(payloadOf message: Message) {
            client.outbound.appendPayload(of: message)
            client.outboundChanged()
        }

        /// Reads what the peer end has, without blocking.
        func readAvailable() -> [UInt8] {
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard count > 0 else { break }
                received += chunk[0..<count]
            }
            return received
        }

        /// Runs loop turns (flushes happen before each poll) while reading the peer end, until
        /// `expected` bytes arrived or the loop made no progress for a while.
        func receive(_ expected: Int) -> [UInt8] {
            var received: [UInt8] = []
            var idle = 0
            while received.count < expected && idle < 2000 {
                uv_run(shard.loop, UV_RUN_NOWAIT)
                let more = readAvailable()
                if more.isEmpty { idle += 1; usleep(100) } else { idle = 0 }
                received += more
            }
            return received
        }

        func close() {
            shard.engine.connectionLost(client)
            for _ in 0..<10 { uv_run(shard.loop, UV_RUN_NOWAIT) }
            Glibc.close(peer)
        }
    }

    private func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
    }

    @Test func aWriteTheSocketOnlyPartlyTakesIsFinishedInOrder() throws {
        let harness = try Harness()
        defer { harness.close() }
        let first = pattern(300_000, seed: 1)
        harness.queue(first)
        harness.shard.beforePoll()
        // The socket took only part of it: the rest waits in uv_write.
        #expect(harness.client.outbound.isEmpty)
        #expect(harness.shard.bytesSent < first.count)
        // Queued while that write is pending: it must follow, not overtake.
        let second = pattern(50_000, seed: 2)
        harness.queue(second)
        harness.shard.beforePoll()
        #expect(!harness.client.outbound.isEmpty)
        let received = harness.receive(first.count + second.count)
        #expect(received.count == first.count + second.count)
        #expect(received == first + second)
        #expect(harness.shard.bytesSent == first.count + second.count)
    }

    /// Small packets between referenced payloads make many vectors; the socket stops partway
    /// through one of them, and the rest (the tail of that vector and every later one) is copied
    /// in order for `uv_write`.
    @Test func aPartialWriteAcrossManyVectorsKeepsTheirOrder() throws {
        let harness = try Harness()
        defer { harness.close() }
        var expected: [UInt8] = []
        for index in 0..<40 {
            let header = pattern(7 + index, seed: index)
            harness.queue(header)
            let payload = pattern(OutboundQueue.referenceThreshold + 997 * index, seed: 100 + index)
            harness.queue(payloadOf: Message(topic: "t", payload: payload, qos: .atMostOnce, retain: false))
            expected += header + payload
        }
        #expect(harness.client.outbound.chunkCount == 80)
        harness.shard.beforePoll()
        #expect(harness.shard.bytesSent < expected.count)
        let received = harness.receive(expected.count)
        #expect(received.count == expected.count)
        #expect(received == expected)
    }

    /// After a flush, the next bytes ask for a flush again and go out at the next turn: the
    /// flush request is re-armed by the runtime (`OutboundQueue.beginFlush`).
    @Test func everyBatchIsWrittenAtTheEndOfItsTurn() throws {
        let harness = try Harness()
        defer { harness.close() }
        for round in 0..<3 {
            let batch = pattern(1000, seed: round)
            harness.queue(batch)
            harness.queue(batch)
            harness.shard.beforePoll()
            #expect(harness.client.outbound.isEmpty)
            #expect(harness.readAvailable() == batch + batch)
        }
    }

    @Test func aPeerThatStopsReadingIsDroppedPastTheBlockedLimit() throws {
        let harness = try Harness()
        defer { Glibc.close(harness.peer) }
        harness.queue(pattern(300_000, seed: 3))
        harness.shard.beforePoll()
        #expect(harness.client.state == .awaitingConnect)
        // Nothing is read from the peer end; the broker keeps queueing.
        let block = pattern(1 << 20, seed: 4)
        for _ in 0...(TCPConnection.blockedOutboundLimit >> 20) { harness.queue(block) }
        harness.shard.beforePoll()
        #expect(harness.client.state == .closed)
        for _ in 0..<10 { uv_run(harness.shard.loop, UV_RUN_NOWAIT) }
    }
}
