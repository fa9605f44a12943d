import Logging
import BrokerCore
import CLibUV
import Glibc

/// One shard's listening socket for one configured listener. Every shard binds its own socket
/// on the same address with SO_REUSEPORT, and the kernel spreads new connections across them.
/// (libuv 1.44 has no UV_TCP_REUSEPORT, so the option is set on the raw fd before bind.)
final class TCPListener {
    unowned let shard: Shard
    /// Position in the configured listeners (and in `Shard.openByListener`).
    let index: Int
    let spec: ListenerSpec
    /// The listener's TLS context (shared by all shards); nil for mqtt and ws.
    let tls: TLSContext?
    /// Largest WebSocket frame payload: a whole packet of `max_packet_size` plus room for the
    /// start of the next one when a client packs several packets in a frame.
    let maxFramePayload: UInt64
    private let handle: UnsafeMutablePointer<uv_tcp_t>

    init(shard: Shard, index: Int, spec: ListenerSpec, tls: TLSContext?) throws {
        self.shard = shard
        self.index = index
        self.spec = spec
        self.tls = tls
        maxFramePayload = UInt64(shard.context.settings.limits.maxPacketSize) + Self.frameAllowance
        handle = .allocate(capacity: 1)
        var address = sockaddr_storage()
        let family = try Self.resolve(host: spec.host, port: spec.port, into: &address)
        try check(uv_tcp_init_ex(shard.loop, handle, UInt32(family)), "uv_tcp_init_ex")
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        var fd: uv_os_fd_t = -1
        try check(uv_fileno(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), &fd), "uv_fileno")
        var one: Int32 = 1
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw RuntimeError.libuv("setsockopt(SO_REUSEPORT)", -errno)
        }
        let what = "listen on \(spec.host):\(spec.port)"
        try withUnsafePointer(to: &address) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try check(uv_tcp_bind(handle, $0, 0), what) }
        }
        let stream = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
        try check(uv_listen(stream, 1024, listenerConnectionCallback), what)
    }

    static let frameAllowance: UInt64 = 1024

    /// Parses an IPv4 or IPv6 literal ("0.0.0.0", "::", "127.0.0.1"); returns the family.
    static func resolve(host: String, port: Int, into storage: inout sockaddr_storage) throws -> Int32 {
        let ok: Bool = withUnsafeMutablePointer(to: &storage) { pointer in
            if pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1, { uv_ip4_addr(host, Int32(port), $0) }) == 0 {
                return true
            }
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1, { uv_ip6_addr(host, Int32(port), $0) }) == 0
        }
        guard ok else { throw RuntimeError.invalidAddress(host) }
        return Int32(storage.ss_family)
    }

    func close() {
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), listenerCloseCallback)
    }

    /// A connection is waiting: accept it, or close it at once when `max_connections` is reached.
    func accept(on server: UnsafeMutablePointer<uv_stream_t>) {
        let client = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(shard.loop, client)
        let clientStream = UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_stream_t.self)
        guard uv_accept(server, clientStream) == 0 else {
            uv_close(UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_handle_t.self), freeHandleCallback)
            return
        }
        guard shard.context.admitConnection() else {
            shard.logger.warning("max_connections reached, refusing a connection")
            uv_close(UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_handle_t.self), freeHandleCallback)
            return
        }
        var transport: TransportStack?
        if spec.transport != .mqtt {
            do {
                transport = try TransportStack(
                    tls: tls, webSocketPath: spec.transport.usesWebSocket ? spec.path : nil,
                    maxFramePayload: maxFramePayload, scratch: shard.readBuffer)
            } catch {
                shard.logger.error("cannot set up \(spec.transport.rawValue) connection: \(error)")
                shard.context.connectionClosed()
                uv_close(UnsafeMutableRawPointer(client).assumingMemoryBound(to: uv_handle_t.self), freeHandleCallback)
                return
            }
        }
        TCPConnection(shard: shard, handle: client, listener: index, transport: transport).start()
    }
}

let listenerConnectionCallback: @convention(c) (UnsafeMutablePointer<uv_stream_t>?, Int32) -> Void = { server, status in
    guard status == 0, let server else { return }
    Unmanaged<TCPListener>.fromOpaque(server.pointee.data!).takeUnretainedValue().accept(on: server)
}

let listenerCloseCallback: @convention(c) (UnsafeMutablePointer<uv_handle_t>?) -> Void = { handle in
    UnsafeMutableRawPointer(handle)?.deallocate()
}

let freeHandleCallback: @convention(c) (UnsafeMutablePointer<uv_handle_t>?) -> Void = { handle in
    UnsafeMutableRawPointer(handle)?.deallocate()
}
