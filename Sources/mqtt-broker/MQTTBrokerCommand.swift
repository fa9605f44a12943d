import ArgumentParser
import BrokerAuth
import BrokerConfig
import BrokerCore
import BrokerKafka
import BrokerMongo
import BrokerRuntime
import Foundation
import Logging
import Synchronization

/// The `mqtt-broker` command: `serve` (the default) runs the broker, `passwd` prints a bcrypt
/// hash for an internal user's password.
@main
struct MQTTBrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mqtt-broker",
        abstract: "A sharded MQTT 5, 3.1.1 and 3.1 broker.",
        discussion: """
            With no options it runs alone, in memory, with a plain MQTT listener on 0.0.0.0:1883 \
            and one shard per core. See config/config.yaml for every setting.
            """,
        version: BrokerContext.version,
        subcommands: [ServeCommand.self, PasswdCommand.self],
        defaultSubcommand: ServeCommand.self)
}

/// Loads and validates the configuration, then runs the shards until SIGINT/SIGTERM; SIGHUP
/// reloads users, ACL and the OpenID keys.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the broker (the default command).")

    @Option(name: .long, help: "YAML configuration file (new layout or the aedes broker's `config:` layout).")
    var config: String?

    @Option(name: .long, help: "Port of the plain MQTT listener (added on 0.0.0.0 when the config has none).")
    var port: Int?

    @Option(name: .long, help: "Number of event-loop shards (default: one per core).")
    var shards: Int?

    @Flag(name: .long, help: "Validate the configuration, print `config OK` or every problem, and exit.")
    var check = false

    func run() throws {
        let settings: BrokerConfiguration
        do {
            settings = try ConfigLoader.load(
                path: config, environment: ProcessInfo.processInfo.environment,
                overrides: ConfigOverrides(port: port, shards: shards))
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
        if check {
            print("config OK")
            return
        }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = settings.log.format == .json
                ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(settings.log.level)
            return handler
        }
        let logger = Logger(label: "mqtt-broker")
        let authenticator = settings.auth.requiresAuthenticator ? BrokerAuthenticator(policy: settings.auth, logger: logger) : nil
        let broker: Broker
        var bridge: KafkaBridge?
        var subscribers: [KafkaSubscriber] = []
        var store: MongoStore?
        do {
            if let kafka = settings.kafka {
                bridge = try KafkaBridge(configuration: kafka, logger: logger)
            }
            var snapshot: StoreSnapshot?
            var cluster: MongoCluster?
            if case .mongodb(var mongo) = settings.persistence {
                mongo.nodeId = settings.cluster?.nodeId
                let opened = try MongoStore(
                    settings: mongo, sessionExpirySeconds: settings.core.limits.sessionExpirySeconds, logger: logger)
                if let clusterSettings = settings.cluster {
                    let joining = MongoCluster(settings: clusterSettings, store: opened, logger: logger)
                    // Known to the other nodes before the snapshot is read (see `announce`); when
                    // MongoDB is down, `start` keeps trying.
                    do { try joining.announce() } catch {
                        logger.error("cluster: cannot announce this node yet", metadata: ["reason": "\(error.message)"])
                    }
                    cluster = joining
                }
                snapshot = opened.prepareAndLoadOnce()
                opened.start()
                store = opened
            }
            broker = try Broker(
                runtime: settings.runtime, core: settings.core, logger: logger, authenticator: authenticator, bridge: bridge,
                store: store, cluster: cluster)
            if let snapshot {
                broker.adopt(sessions: snapshot.sessions, retained: snapshot.retained, wills: snapshot.wills)
            } else if let store {
                // MongoDB unreachable: serve now, refusing persistent sessions until it is read.
                broker.context.storeLoaded.store(false, ordering: .relaxed)
                logger.error("MongoDB unavailable at start-up: serving, but refusing clean-session-0 clients until their sessions are loaded")
                let running = broker
                store.loadInBackground { snapshot in
                    running.adoptWhileRunning(sessions: snapshot.sessions, retained: snapshot.retained, wills: snapshot.wills)
                }
            }
            if let cluster {
                let running = broker
                let registry = broker.context.registry
                cluster.start(
                    mailboxes: broker.inboxes, nodeSlots: broker.context.nodeSlots, ownerShard: { registry.owner(of: $0)?.shard }
                ) { takeover, adopted in
                    running.adoptFromDeadNode(
                        sessions: takeover.sessions, replay: takeover.replay, replayTo: takeover.replayTo, wills: takeover.wills,
                        adopted: adopted)
                }
            }
            var metrics: MetricsServer?
            if let endpoint = settings.metrics {
                metrics = try MetricsServer(host: endpoint.host, port: endpoint.port, context: broker.context, logger: logger)
                metrics?.start()
            }
            authenticator?.start()
            try broker.start()
            metrics?.brokerStarted()
            if let bridge {
                subscribers = try KafkaSubscribers.start(bridge.configuration, broker: broker, logger: logger)
                let started = subscribers
                broker.beforeShutdown.withLock { $0 = { for subscriber in started { subscriber.stop() } } }
            }
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        if let authenticator {
            let path = config
            let overrides = ConfigOverrides(port: port, shards: shards)
            broker.onReload.withLock {
                $0 = { reload(authenticator, path: path, overrides: overrides, logger: logger) }
            }
        }
        broker.runUntilSignalled()
        for subscriber in subscribers { subscriber.stop() }
        bridge?.stop()
        store?.drain(timeoutSeconds: 10)
    }
}

/// Reads the configuration again and swaps users, ACL and OpenID settings; a file that no
/// longer validates leaves everything as it was.
private func reload(_ authenticator: BrokerAuthenticator, path: String?, overrides: ConfigOverrides, logger: Logger) {
    do {
        let settings = try ConfigLoader.load(path: path, environment: ProcessInfo.processInfo.environment, overrides: overrides)
        authenticator.reload(settings.auth)
    } catch {
        logger.error("reload failed, keeping the current users and ACL: \(error)")
    }
}

extension Logger.Level {
    init(_ level: LogSettings.Level) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}
