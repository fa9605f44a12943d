import BrokerCore
import CLibUV
import Glibc
import Logging
import MQTTWire

/// One accepted TCP socket on a shard's loop, and the `ConnectionIO` the engine drives.
///
/// Plain MQTT has no `transport` and keeps the zero-copy path described below. TLS and
/// WebSocket connections have a `TransportStack`: socket bytes are decoded through it into
/// `held` (the engine parses them there) and the outbound queue is encoded through it into the
/// stack's wire buffer, which is written like any other bytes.
///
/// Reads land in the shard's shared read buffer and are parsed in place; only the bytes of an
/// incomplete packet are kept here. Writes are batched: the engine queues bytes during a loop
/// turn and `flush()` writes them with one `uv_try_write` (vectored); only what the socket does
/// not take at once is copied and handed to `uv_write`.
final class TCPConnection: ConnectionIO {
    // Stored properties are laid out in declaration order: words first, the bytes together at
    // the end, so that an idle connection carries no padding.
    unowned let shard: Shard
    let handle: UnsafeMutablePointer<uv_tcp_t>
    private(set) var client: ClientConnection!
    /// TLS and/or WebSocket layers; nil for plain MQTT.
    let transport: TransportStack?
    /// Received bytes not yet consumed by the engine, and the rule for parsing new ones.
    var held = ReceiveBuffer()
    /// The `uv_write` in progress and its copy of the unwritten bytes; nil when none is pending.
    private var pendingWrite: UnsafeMutablePointer<PendingWrite>?
    /// Bytes read during the shard's current loop turn (`readTurn`, the turn's low 32 bits: a
    /// stale count survives a wrap only if the connection read nothing for 2³² turns).
    private var turnBytes: UInt32 = 0
    private var readTurn: UInt32 = 0
    private var pausedByEngine = false
    private var pausedByBackpressure = false
    private var reading = false
    private(set) var isClosing = false
    private var handleClosed = false
    /// The listener it came through (index into `Shard.openByListener`).
    private let listener: UInt8

    var stream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    }

    /// Bytes queued behind a write the socket has not finished before the client is dropped.
    static let blockedOutboundLimit = 16 * 1024 * 1024

    init(shard: Shard, handle: UnsafeMutablePointer<uv_tcp_t>, listener: Int, transport: TransportStack? = nil) {
        self.shard = shard
        self.handle = handle
        self.listener = UInt8(listener)
        self.transport = transport
    }

    /// Takes over an accepted handle: registers with the engine and starts reading.
    func start() {
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        shard.openByListener[Int(listener)] += 1
        uv_tcp_nodelay(handle, 1)
        client = shard.engine.connectionOpened(io: self, peer: peerAddress())
        startReading()
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> TCPConnection {
        Unmanaged<TCPConnection>.fromOpaque(pointer!).takeUnretainedValue()
    }

    private func peerAddress() -> PeerAddress {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(handle, $0, &length) }
        }
        guard status == 0 else { return "unknown" }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer -> PeerAddress in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    let port = UInt16(bigEndian: address.pointee.sin6_port)
                    let bytes = withUnsafeBytes(of: address.pointee.sin6_addr) { Array($0) }
                    // ::ffff:a.b.c.d, an IPv4 client of a dual-stack listener.
                    if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                        let ipv4 = bytes[12...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                        return .ipv4(ipv4, port: port)
                    }
                    var name = [CChar](repeating: 0, count: 64)
                    uv_ip6_name(address, &name, 64)
                    let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    return .text("\(text):\(port)")
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                .ipv4(UInt32(bigEndian: address.pointee.sin_addr.s_addr), port: UInt16(bigEndian: address.pointee.sin_port))
            }
        }
    }

    // MARK: - Reading

    private func startReading() {
        guard !reading, !isClosing, !pausedByEngine, !pausedByBackpressure else { return }
        reading = uv_read_start(stream, connectionAllocCallback, connectionReadCallback) == 0
    }

    private func stopReading() {
        guard reading else { return }
        uv_read_stop(stream)
        reading = false
    }

    /// Where libuv should put the next bytes: after held-back bytes if there are any (so a
    /// packet stays contiguous), else the shard's shared buffer.
    func allocate(suggested: Int) -> uv_buf_t {
        if held.isEmpty || transport != nil {
            let buffer = shard.readBuffer
            return uv_buf_init(buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(buffer.count))
        }
        let free = held.reserveFree(16 * 1024)
        return uv_buf_init(free.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(free.count))
    }

    func didRead(_ count: Int, into base: UnsafeMutableRawPointer?) {
        guard !isClosing else { return }
        if count < 0 {
            // UV_EOF or a socket error: the client went away without DISCONNECT.
            shard.engine.connectionLost(client)
            return
        }
        guard count > 0 else { return }
        shard.bytesReceived += count
        countTurnBytes(count)
        // Apply what other shards posted first: an interest or retained update they sent before
        // this client could have learnt of it (e.g. another client's SUBACK) is then seen.
        shard.drainInbox()
        if let transport {
            receiveThroughTransport(transport, UnsafeMutableRawBufferPointer(start: base, count: count))
        } else if base == shard.readBuffer.baseAddress {
            // Into the shard's buffer (nothing was held): parsed in place, the tail kept.
            let engine = shard.engine!
            let client = client!
            held.receive(UnsafeRawBufferPointer(start: base, count: count)) { engine.receive($0, on: client) }
        } else {
            // Straight into `held`, behind a partial packet.
            held.commit(count)
            processHeldBytes()
        }
        if shard.isOverloaded && !isClosing {
            pausedByBackpressure = true
            stopReading()
            shard.backpressured.append(self)
        } else if Int(turnBytes) >= Shard.readBudgetPerTurn && reading {
            // libuv reads a busy socket up to 32 times per loop turn; a flooding publisher would
            // then starve the acknowledgements of everyone else on the shard. Stop here and read
            // again next turn, after the other connections had theirs.
            stopReading()
            shard.yieldedConnections.append(self)
        }
        shard.flushAfterRead()
    }

    private func countTurnBytes(_ count: Int) {
        let turn = UInt32(truncatingIfNeeded: shard.turn)
        if readTurn != turn {
            readTurn = turn
            turnBytes = 0
        }
        turnBytes &+= UInt32(clamping: count)
    }

    /// Next loop turn after yielding: read again unless something else paused us meanwhile.
    func resumeAfterYield() {
        startReading()
    }

    /// Decodes socket bytes through the layers into `held`, then lets the engine parse them.
    private func receiveThroughTransport(_ transport: TransportStack, _ bytes: UnsafeMutableRawBufferPointer) {
        do {
            try transport.receive(bytes) { held.append(UnsafeRawBufferPointer($0)) }
        } catch {
            let reason = (error as? TransportClose)?.reason ?? "\(error)"
            if (error as? TransportClose)?.orderly == true {
                shard.logger.debug("\(reason), closing", metadata: ["client": "\(client.logName)"])
            } else {
                shard.logger.info("\(reason), closing", metadata: ["client": "\(client.logName)"])
            }
            // Whatever the layers queued (HTTP error, close frame, alert) goes out in close().
            shard.engine.connectionLost(client)
            return
        }
        // A handshake reply or pong: written like engine output, scheduled once per flush.
        if !transport.wire.buffer.isEmpty && client.outbound.requestFlush() { shard.scheduleFlush(self) }
        processHeldBytes()
    }

    /// Parses bytes held back while paused (or incomplete until now). When the engine closes
    /// the connection meanwhile it reports everything consumed, so `held` ends empty.
    func processHeldBytes() {
        guard !isClosing else { return }
        if !pausedByEngine {
            let engine = shard.engine!
            let client = client!
            held.parseHeld { engine.receive($0, on: client) }
        }
        startReading()
    }

    func backpressureLifted() {
        pausedByBackpressure = false
        startReading()
    }

    // MARK: - ConnectionIO

    func outboundChanged() {
        shard.scheduleFlush(self)
    }

    func pauseReading() {
        pausedByEngine = true
        stopReading()
    }

    func resumeReading() {
        pausedByEngine = false
        // Parsed on the next loop turn, not inside the engine call that resumed us.
        shard.resumedConnections.append(self)
    }

    func close() {
        guard !isClosing else { return }
        isClosing = true
        stopReading()
        if let transport {
            // Queued MQTT bytes first, then the layers' goodbyes (close frame, close_notify).
            if pendingWrite == nil, let outbound = client.outboundIfAny, !outbound.isEmpty, transport.isEstablished {
                transport.encode(outbound)
                client.outboundWritten()
            }
            transport.shutdown()
        }
        // `held` may be the very buffer the engine is parsing right now: freed in didClose.
        // What the socket takes right now (a refusing CONNACK, say) is written; a write still
        // pending behind a client that stopped reading is cancelled by the close.
        flush()
        closeHandle()
    }

    // MARK: - Writing

    /// Writes everything the engine queued: plain MQTT straight from the outbound queue's chunks,
    /// TLS/WebSocket from the stack's wire buffer after encoding the queue through the layers.
    /// Both go through `write(vectors:total:)`, the one write path.
    func flush() {
        let outbound = client.outboundIfAny
        outbound?.beginFlush()
        guard !writeIsPending(), !handleClosed else { return }
        if let transport {
            if let outbound, !outbound.isEmpty, transport.isEstablished {
                transport.encode(outbound)
                client.outboundWritten()
            }
            let wire = transport.wire
            guard !wire.buffer.isEmpty else { return }
            let bytes = wire.buffer.bytes
            reserveVectors(1)[0] = uv_buf_init(
                UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: CChar.self)), UInt32(bytes.count))
            let failed = !write(vectors: 1, total: bytes.count)
            wire.buffer.release()
            if failed && !isClosing { shard.engine.connectionLost(client) }
        } else {
            guard let outbound, !outbound.isEmpty else { return }
            let iovecs = reserveVectors(outbound.chunkCount)
            var count = 0
            outbound.forEachChunk { chunk in
                iovecs[count] = uv_buf_init(
                    UnsafeMutableRawPointer(mutating: chunk.baseAddress!).assumingMemoryBound(to: CChar.self), UInt32(chunk.count))
                count += 1
            }
            let failed = !write(vectors: count, total: outbound.totalBytes)
            client.outboundWritten()
            if failed && !isClosing { shard.engine.connectionLost(client) }
        }
    }

    /// The shard's scratch `uv_buf_t` array, grown to hold at least `count` entries.
    private func reserveVectors(_ count: Int) -> UnsafeMutablePointer<uv_buf_t> {
        if count > shard.iovecCapacity {
            shard.iovecs.deallocate()
            shard.iovecCapacity = max(count, shard.iovecCapacity * 2)
            shard.iovecs = .allocate(capacity: shard.iovecCapacity)
        }
        return shard.iovecs
    }

    /// Writes the first `vectors` entries of the shard's scratch array (`total` bytes): one
    /// vectored `uv_try_write`; whatever the socket does not take now is copied once and left
    /// to `uv_write`. The caller may reuse or free the bytes the vectors point at afterwards.
    /// Returns false when the socket failed: the caller drops its bytes, then the connection.
    private func write(vectors: Int, total: Int) -> Bool {
        let iovecs = shard.iovecs
        let written = Int(uv_try_write(stream, iovecs, UInt32(vectors)))
        if written == total {
            shard.bytesSent += total
            return true
        }
        guard written >= 0 || written == Int(UV_EAGAIN.rawValue) else { return false }
        let alreadyWritten = max(0, written)
        shard.bytesSent += alreadyWritten
        let rest = UnsafeMutableRawBufferPointer.allocate(byteCount: total - alreadyWritten, alignment: 1)
        var skip = alreadyWritten
        var filled = 0
        for index in 0..<vectors {
            var chunk = UnsafeRawBufferPointer(start: iovecs[index].base, count: Int(iovecs[index].len))
            if skip > 0 {
                let dropped = min(skip, chunk.count)
                skip -= dropped
                chunk = UnsafeRawBufferPointer(rebasing: chunk[dropped...])
            }
            guard chunk.count > 0 else { continue }
            (rest.baseAddress! + filled).copyMemory(from: chunk.baseAddress!, byteCount: chunk.count)
            filled += chunk.count
        }
        let pending = UnsafeMutablePointer<PendingWrite>.allocate(capacity: 1)
        pending.initialize(to: PendingWrite(bytes: rest))
        pending.pointee.request.data = Unmanaged.passUnretained(self).toOpaque()
        var buffer = uv_buf_init(rest.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(rest.count))
        let status = withUnsafeMutablePointer(to: &pending.pointee.request) {
            uv_write($0, stream, &buffer, 1, connectionWriteCallback)
        }
        if status < 0 {
            Self.free(pending)
            return false
        }
        pendingWrite = pending
        return true
    }

    /// Whether a `uv_write` is still pending. The socket is then not draining, and a client that
    /// stops reading may not make the broker hold more than `blockedOutboundLimit` for it.
    private func writeIsPending() -> Bool {
        guard pendingWrite != nil else { return false }
        if client.outboundBytes > Self.blockedOutboundLimit && !isClosing {
            shard.logger.info("client not reading, closing", metadata: ["client": "\(client.logName)"])
            shard.engine.connectionLost(client)
        }
        return true
    }

    func didWrite(status: Int32) {
        if let pendingWrite {
            if status == 0 { shard.bytesSent += pendingWrite.pointee.bytes.count }
            Self.free(pendingWrite)
        }
        pendingWrite = nil
        if status < 0 {
            if !isClosing { shard.engine.connectionLost(client) }
        } else if client.outboundBytes > 0 || transport?.wire.buffer.isEmpty == false {
            flush()
        }
    }

    private static func free(_ pending: UnsafeMutablePointer<PendingWrite>) {
        pending.pointee.bytes.deallocate()
        pending.deinitialize(count: 1)
        pending.deallocate()
    }

    // MARK: - Closing

    private func closeHandle() {
        guard !handleClosed else { return }
        handleClosed = true
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), connectionCloseCallback)
    }

    /// libuv is done with the handle: free everything and drop the reference `start()` took.
    func didClose() {
        held.release()
        if let pendingWrite { Self.free(pendingWrite) }
        pendingWrite = nil
        handle.deallocate()
        shard.context.connectionClosed()
        shard.openByListener[Int(listener)] -= 1
        Unmanaged.passUnretained(self).release()
    }
}

/// A `uv_write` in progress and the copy of the bytes it sends: allocated only while the socket
/// does not take everything at once, so an idle connection holds neither.
struct PendingWrite {
    var request = uv_write_t()
    let bytes: UnsafeMutableRawBufferPointer
}

let connectionAllocCallback: @convention(c) (UnsafeMutablePointer<uv_handle_t>?, Int, UnsafeMutablePointer<uv_buf_t>?) -> Void = {
    handle, suggested, buffer in
    buffer!.pointee = TCPConnection.from(handle!.pointee.data).allocate(suggested: suggested)
}

let connectionReadCallback: @convention(c) (UnsafeMutablePointer<uv_stream_t>?, Int, UnsafePointer<uv_buf_t>?) -> Void = {
    stream, count, buffer in
    TCPConnection.from(stream!.pointee.data).didRead(count, into: UnsafeMutableRawPointer(buffer?.pointee.base))
}

let connectionWriteCallback: @convention(c) (UnsafeMutablePointer<uv_write_t>?, Int32) -> Void = { request, status in
    TCPConnection.from(request!.pointee.data).didWrite(status: status)
}

let connectionCloseCallback: @convention(c) (UnsafeMutablePointer<uv_handle_t>?) -> Void = { handle in
    TCPConnection.from(handle!.pointee.data).didClose()
}
