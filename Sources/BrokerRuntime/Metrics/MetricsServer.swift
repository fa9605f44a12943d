import BrokerCore
import CLibUV
import Glibc
import Logging
import Synchronization

/// The `metrics:` HTTP listener: `/metrics` (Prometheus text), `/healthz` (the process serves),
/// `/readyz` (200 or 503 with a JSON list of what is not ready). One thread of its own with
/// blocking sockets, one request at a time, each bounded in time (2 s to send the request) and
/// size (8 KiB of header): a scrape reads what the shards published, so no shard ever waits
/// for it, and a slow or hostile client delays only other scrapes.
public final class MetricsServer: @unchecked Sendable {
    private let context: BrokerContext
    private let logger: Logger
    private let socket: Int32
    /// Whether the broker's listeners are bound and its shards running (set by the executable).
    private let started = Atomic<Bool>(false)

    static let maxHeaderBytes = 8192
    static let requestTimeoutSeconds = 2

    /// Binds `host:port` (throws when it cannot).
    public init(host: String, port: Int, context: BrokerContext, logger: Logger) throws {
        self.context = context
        self.logger = logger
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw MetricsServerError.address(host) }
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError.bind(host, port, errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let failure = errno
            close(fd)
            throw MetricsServerError.bind(host, port, failure)
        }
        socket = fd
    }

    /// Serves until the process ends; `/readyz` says not ready until `brokerStarted`.
    public func start() {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            let server = Unmanaged<MetricsServer>.fromOpaque(context!).takeRetainedValue()
            server.serve()
            return nil
        }, box)
        precondition(status == 0, "cannot start the metrics thread: \(status)")
        pthread_detach(thread)
    }

    /// The broker's listeners are bound and its shards run.
    public func brokerStarted() { started.store(true, ordering: .releasing) }

    private func serve() {
        while true {
            let client = accept(socket, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                logger.error("metrics listener: accept failed (errno \(errno)); it stops")
                return
            }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var timeout = timeval(tv_sec: Self.requestTimeoutSeconds, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        let deadline = time(nil) + Self.requestTimeoutSeconds
        while !Self.headerComplete(request) {
            guard request.count < Self.maxHeaderBytes else {
                respond(client, status: "431 Request Header Fields Too Large", type: "text/plain", body: "header too large\n")
                return
            }
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard count > 0, time(nil) <= deadline else { return }  // closed, or too slow: just close
            request += chunk[0..<count]
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        guard line.count >= 2 else {
            respond(client, status: "400 Bad Request", type: "text/plain", body: "bad request\n")
            return
        }
        guard line[0] == "GET" || line[0] == "HEAD" else {
            respond(client, status: "405 Method Not Allowed", type: "text/plain", body: "GET only\n")
            return
        }
        let path = line[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        switch path {
        case "/metrics":
            respond(client, status: "200 OK", type: "text/plain; version=0.0.4; charset=utf-8", body: MetricsExposition.render(context))
        case "/healthz":
            respond(client, status: "200 OK", type: "application/json", body: "{\"status\":\"ok\"}\n")
        case "/readyz":
            var reasons = MetricsExposition.notReady(context)
            if !started.load(ordering: .acquiring) { reasons.insert("listeners not started", at: 0) }
            let list = reasons.map { "\"\($0)\"" }.joined(separator: ",")
            respond(
                client, status: reasons.isEmpty ? "200 OK" : "503 Service Unavailable", type: "application/json",
                body: "{\"ready\":\(reasons.isEmpty),\"not_ready\":[\(list)]}\n")
        default:
            respond(client, status: "404 Not Found", type: "text/plain", body: "not found: /metrics, /healthz, /readyz\n")
        }
    }

    private static func headerComplete(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        for index in 3..<bytes.count where bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10 && bytes[index - 3] == 13 {
            return true
        }
        return false
    }

    private func respond(_ client: Int32, status: String, type: String, body: String) {
        let bodyBytes = Array(body.utf8)
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(bodyBytes.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8) + bodyBytes
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return }
            offset += written
        }
    }
}

public enum MetricsServerError: Error, CustomStringConvertible {
    case address(String)
    case bind(String, Int, Int32)

    public var description: String {
        switch self {
        case .address(let host): "metrics.host \(host) is not an IPv4 address"
        case .bind(let host, let port, let code): "cannot listen on \(host):\(port) for metrics: \(String(cString: strerror(code)))"
        }
    }
}
