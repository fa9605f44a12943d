import BrokerCore
import CLibUV
import Glibc
import Logging
import Synchronization

/// The whole broker process: builds the shared context and one shard per core, opens every
/// listener on every shard, runs the shard threads, and stops them all on SIGINT/SIGTERM.
public final class Broker: @unchecked Sendable {
    public let context: BrokerContext
    /// Built on the main thread, then each one is touched only by its own thread (the main
    /// thread joins them); other threads use `inboxes`.
    let shards: [Shard]
    /// The way into each shard from any thread, by shard index.
    public let inboxes: [ShardInbox]
    /// How many shards have finished phase 1 of shutdown.
    private let quietShards = QuietCounter()
    let runtime: RuntimeSettings
    let logger: Logger
    /// Called on the main thread on SIGHUP (authentication reloads its users, ACL and keys).
    public let onReload = Mutex<(@Sendable () -> Void)?>(nil)
    /// Called on the main thread on SIGINT/SIGTERM before the shards shut down: the executable
    /// stops what posts into them from outside (the Kafka subscribers), so nothing arrives after
    /// a shard closed its inbox.
    public let beforeShutdown = Mutex<(@Sendable () -> Void)?>(nil)
    /// One TLS context per mqtts/wss listener, shared by every shard; reloaded on SIGHUP.
    let tlsContexts: [(spec: ListenerSpec, context: TLSContext)]

    /// Creates the shards and opens the listeners (throws if a port cannot be bound).
    public init(runtime: RuntimeSettings, core: CoreSettings, logger: Logger, authenticator: (any Authenticator)? = nil,
        bridge: (any PublishBridge)? = nil, store: (any SessionStore)? = nil, cluster: (any ClusterLink)? = nil
    ) throws {
        self.runtime = runtime
        self.logger = logger
        let count = runtime.shards ?? Self.onlineCores()
        context = BrokerContext(
            settings: core, shardCount: count, startedAt: time(nil), authenticator: authenticator, bridge: bridge, store: store,
            cluster: cluster,
            listeners: runtime.listeners.map { ListenerLabel(name: $0.address, transport: $0.transport.rawValue) })
        var shards: [Shard] = []
        let quiet = quietShards
        for index in 0..<count {
            shards.append(try Shard(index: index, context: context, logger: logger, onQuiet: { quiet.increment() }))
        }
        let inboxes = shards.map(\.inbox)
        for shard in shards { shard.peerInboxes = inboxes }
        self.inboxes = inboxes
        var contexts: [(spec: ListenerSpec, context: TLSContext)] = []
        for spec in runtime.listeners {
            var context: TLSContext?
            if spec.transport.usesTLS {
                guard let tls = spec.tls else { throw BrokerStartError.missingTLS(spec.transport.rawValue, spec.port) }
                context = try TLSContext(settings: tls, webSocket: spec.transport.usesWebSocket)
                contexts.append((spec, context!))
            }
            for shard in shards { try shard.listen(spec, tls: context) }
        }
        tlsContexts = contexts
        self.shards = shards
    }

    public static func onlineCores() -> Int {
        max(1, min(ShardSet.capacity, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }

    /// Gives the shards what the store kept, before their threads start: each session to one
    /// shard (a client that connects elsewhere takes it over as usual), every retained message
    /// to every shard's replica.
    public func adopt(sessions: [StoredSession], retained: [Message], wills: [StoredWill]) {
        precondition(shards.allSatisfy { $0.thread == nil }, "adopt before start")
        let wills = StoredWill.owed(wills, registry: context.registry)
        for session in sessions { shards[shardIndex(of: session.clientId)].engine.adopt(session) }
        for message in retained {
            for shard in shards { shard.engine.adoptRetained(message) }
        }
        // Once every session is in place, so that persistent subscribers get them queued.
        shards[0].engine.publishStoredWills(wills)
    }

    /// The same once the shards run (MongoDB was unreachable at start): each shard takes its
    /// part through its inbox; persistent CONNECTs are accepted again once all have.
    public func adoptWhileRunning(sessions: [StoredSession], retained: [Message], wills: [StoredWill]) {
        let wills = StoredWill.owed(wills, registry: context.registry)
        var parts = Array(repeating: [StoredSession](), count: shards.count)
        for session in sessions { parts[shardIndex(of: session.clientId)].append(session) }
        let context = self.context
        let logger = self.logger
        let counter = AdoptionCounter(shards.count)
        let firstInbox = inboxes[0]
        for (index, inbox) in inboxes.enumerated() {
            inbox.post(.adoptStored(sessions: parts[index], retained: retained, adopted: {
                if counter.shardDone() {
                    firstInbox.post(.publishStoredWills(wills))
                    context.storeLoaded.store(true, ordering: .releasing)
                    logger.notice("sessions and retained messages loaded from MongoDB; persistent sessions accepted again")
                }
            }))
        }
    }

    /// A dead cluster node's persistent sessions and wills, claimed by this node: each session
    /// goes to its shard (offline, unless its client is connected here already) with the bus
    /// messages to replay to it, then the wills are published, so that those sessions get them too.
    /// `adopted` is called once every shard has its part (the wills are posted then).
    public func adoptFromDeadNode(
        sessions: [StoredSession], replay: [Message], replayTo: [String], wills: [StoredWill],
        adopted: @escaping @Sendable () -> Void
    ) {
        let wills = StoredWill.owed(wills, registry: context.registry)
        var parts = Array(repeating: [StoredSession](), count: shards.count)
        for session in sessions { parts[shardIndex(of: session.clientId)].append(session) }
        var replayParts = Array(repeating: [String](), count: shards.count)
        for clientId in replayTo { replayParts[shardIndex(of: clientId)].append(clientId) }
        let counter = AdoptionCounter(shards.count)
        let firstInbox = inboxes[0]
        for (index, inbox) in inboxes.enumerated() {
            let needsReplay = !parts[index].isEmpty || !replayParts[index].isEmpty
            inbox.post(.adoptSessions(parts[index], replay: needsReplay ? replay : [], replayTo: replayParts[index], adopted: {
                if counter.shardDone() {
                    firstInbox.post(.publishStoredWills(wills))
                    adopted()
                }
            }))
        }
    }

    /// The shard a stored session starts on (FNV-1a of its client id).
    private func shardIndex(of clientId: String) -> Int {
        Int(FNV1a.hash(clientId) % UInt64(shards.count))
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
        let addresses = runtime.listeners.map(\.address).joined(separator: ", ")
        logger.info("mqtt-broker \(BrokerContext.version) listening on \(addresses) with \(shards.count) shard(s)")
    }

    /// Blocks until SIGINT or SIGTERM, then stops every shard and waits for their threads.
    /// SIGHUP reloads TLS certificates and calls `onReload` (see `reloadRequested`).
    public func runUntilSignalled() {
        let loop = uv_default_loop()!
        var handles: [UnsafeMutablePointer<uv_signal_t>] = []
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            let handle = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
            uv_signal_init(loop, handle)
            handle.pointee.data = opaque
            uv_signal_start(handle, brokerSignalCallback, signalNumber)
            handles.append(handle)
        }
        signalHandles = handles
        uv_run(loop, UV_RUN_DEFAULT)
        for shard in shards {
            if let thread = shard.thread { pthread_join(thread, nil) }
        }
        logger.info("mqtt-broker stopped")
    }

    private var signalHandles: [UnsafeMutablePointer<uv_signal_t>] = []

    /// Builds a new TLS context from each TLS listener's files and swaps it in for new
    /// connections; established connections keep theirs. A listener whose files fail keeps
    /// its current context.
    public func reloadCertificates() {
        for (spec, context) in tlsContexts {
            do {
                try context.reload()
                logger.notice("reloaded TLS certificate for \(spec.transport.rawValue) port \(spec.port)")
            } catch {
                logger.error("TLS reload for \(spec.transport.rawValue) port \(spec.port) failed, keeping the old certificate: \(error)")
            }
        }
    }

    func signalled(_ number: Int32) {
        if number == SIGHUP {
            reloadRequested()
            return
        }
        logger.info("signal \(number) received, shutting down")
        for handle in signalHandles {
            uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), nil)
        }
        beforeShutdown.withLock { $0 }?()
        for inbox in inboxes { inbox.post(.shutdown) }
        // Phase 2 only once every shard has closed its connections (see Shard's shutdown notes).
        var waited = 0
        while quietShards.count < shards.count && waited < 10_000 {
            usleep(1000)
            waited += 1
        }
        for inbox in inboxes { inbox.requestStop() }
    }
}

// MARK: - Reload (SIGHUP)

extension Broker {
    /// SIGHUP, on the main thread: new TLS contexts for new connections, then whatever the
    /// executable registered (authentication reloads its users, ACL and keys).
    func reloadRequested() {
        logger.info("SIGHUP received, reloading")
        reloadCertificates()
        onReload.withLock { $0 }?()
    }
}

/// Counts shards that have taken their part of a late load.
final class AdoptionCounter: Sendable {
    private let remaining: Atomic<Int>
    init(_ shards: Int) { remaining = Atomic(shards) }
    /// True for the last shard.
    func shardDone() -> Bool { remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 }
}

/// Counts shards that reported quiet (written by shard threads, read by the main thread).
final class QuietCounter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.wrappingAdd(1, ordering: .releasing) }
    var count: Int { value.load(ordering: .acquiring) }
}

public enum BrokerStartError: Error, CustomStringConvertible {
    case missingTLS(String, Int)
    case thread(Int32)

    public var description: String {
        switch self {
        case .missingTLS(let kind, let port): "listener \(kind) on port \(port) needs tls.cert and tls.key"
        case .thread(let status): "pthread_create failed: \(status)"
        }
    }
}

let brokerSignalCallback: @convention(c) (UnsafeMutablePointer<uv_signal_t>?, Int32) -> Void = { handle, number in
    Unmanaged<Broker>.fromOpaque(handle!.pointee.data).takeUnretainedValue().signalled(number)
}
