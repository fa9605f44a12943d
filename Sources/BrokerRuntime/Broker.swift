import BrokerCore
import CLibUV
import Glibc
import Logging
import Synchronization

/// The whole broker process: builds the shared context and one shard per core, opens every
/// listener on every shard, runs the shard threads, and stops them all on SIGINT/SIGTERM.
public final class Broker: @unchecked Sendable {
    public let context: BrokerContext
    public let shards: [Shard]
    let runtime: RuntimeSettings
    let logger: Logger
    /// Called on the main thread on SIGHUP (authentication reloads its users, ACL and keys).
    public let onReload = Mutex<(@Sendable () -> Void)?>(nil)

    /// Creates the shards and opens the listeners (throws if a port cannot be bound).
    public init(runtime: RuntimeSettings, core: CoreSettings, logger: Logger, authenticator: (any Authenticator)? = nil) throws {
        self.runtime = runtime
        self.logger = logger
        let count = runtime.shards ?? Self.onlineCores()
        context = BrokerContext(settings: core, shardCount: count, startedAt: time(nil), authenticator: authenticator)
        var shards: [Shard] = []
        for index in 0..<count {
            shards.append(try Shard(index: index, context: context, logger: logger))
        }
        for shard in shards { shard.peers = shards }
        for spec in runtime.listeners {
            guard spec.transport == .mqtt else {
                throw BrokerStartError.unsupportedListener(spec.transport.rawValue)
            }
            for shard in shards { try shard.listen(spec) }
        }
        self.shards = shards
    }

    public static func onlineCores() -> Int {
        max(1, min(ShardSet.capacity, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }

    /// Starts one thread per shard (pinned to core i when configured).
    public func start() throws {
        signal(SIGPIPE, SIG_IGN)
        let cores = Self.onlineCores()
        for shard in shards {
            if runtime.pinCores { shard.pinnedCPU = shard.index % cores }
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, shardThreadEntry, Unmanaged.passRetained(shard).toOpaque())
            guard status == 0 else { throw BrokerStartError.thread(status) }
            shard.thread = thread
        }
        let addresses = runtime.listeners.map { "\($0.transport.rawValue)://\($0.host):\($0.port)" }.joined(separator: ", ")
        logger.info("mqtt-broker \(BrokerContext.version) listening on \(addresses) with \(shards.count) shard(s)")
    }

    /// Blocks until SIGINT or SIGTERM, then stops every shard and waits for their threads.
    public func runUntilSignalled() {
        let loop = uv_default_loop()!
        var handles: [UnsafeMutablePointer<uv_signal_t>] = []
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        for signalNumber in [SIGINT, SIGTERM] {
            let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
            uv_signal_init(loop, handle)
            handle.pointee.data = opaque
            uv_signal_start(handle, brokerSignalCallback, signalNumber)
            handles.append(handle)
        }
        handles.append(installReloadSignal(loop))
        signalHandles = handles
        uv_run(loop, UV_RUN_DEFAULT)
        for shard in shards {
            if let thread = shard.thread { pthread_join(thread, nil) }
        }
        logger.info("mqtt-broker stopped")
    }

    private var signalHandles: [UnsafeMutablePointer<uv_signal_t>] = []

    func signalled(_ number: Int32) {
        logger.info("signal \(number) received, shutting down")
        for handle in signalHandles {
            uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), nil)
        }
        let quiet = Atomic<Int>(0)
        for shard in shards {
            shard.onQuiet = { quiet.wrappingAdd(1, ordering: .releasing) }
        }
        for shard in shards { shard.requestShutdown() }
        // Phase 2 only once every shard has closed its connections (see Shard's shutdown notes).
        var waited = 0
        while quiet.load(ordering: .acquiring) < shards.count && waited < 10_000 {
            usleep(1000)
            waited += 1
        }
        for shard in shards { shard.stopLoop() }
    }
}

// MARK: - Reload (SIGHUP)

extension Broker {
    /// Listens for SIGHUP on the main loop and calls `onReload` (on the main thread). The handle
    /// is closed with the other signal handles at shutdown.
    func installReloadSignal(_ loop: UnsafeMutablePointer<uv_loop_t>) -> UnsafeMutablePointer<uv_signal_t> {
        let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
        uv_signal_init(loop, handle)
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_signal_start(handle, brokerReloadCallback, SIGHUP)
        return handle
    }

    func reloadRequested() {
        logger.info("SIGHUP received, reloading")
        onReload.withLock { $0 }?()
    }
}

let brokerReloadCallback: @convention(c) (UnsafeMutablePointer<uv_signal_t>?, Int32) -> Void = { handle, _ in
    Unmanaged<Broker>.fromOpaque(handle!.pointee.data).takeUnretainedValue().reloadRequested()
}

public enum BrokerStartError: Error, CustomStringConvertible {
    case unsupportedListener(String)
    case thread(Int32)

    public var description: String {
        switch self {
        case .unsupportedListener(let kind): "listener protocol \(kind) is not supported yet"
        case .thread(let status): "pthread_create failed: \(status)"
        }
    }
}

let brokerSignalCallback: @convention(c) (UnsafeMutablePointer<uv_signal_t>?, Int32) -> Void = { handle, number in
    Unmanaged<Broker>.fromOpaque(handle!.pointee.data).takeUnretainedValue().signalled(number)
}
