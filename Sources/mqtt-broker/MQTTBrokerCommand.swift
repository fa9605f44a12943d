import ArgumentParser
import BrokerConfig
import BrokerCore
import BrokerRuntime
import Foundation
import Logging

/// The `mqtt-broker` command: load and validate the configuration, then run the shards until
/// SIGINT/SIGTERM.
@main
struct MQTTBrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mqtt-broker",
        abstract: "A sharded MQTT 3.1.1 broker.",
        discussion: """
            With no options it runs alone, in memory, with a plain MQTT listener on 0.0.0.0:1883 \
            and one shard per core. See config/config.yaml for every setting.
            """,
        version: BrokerContext.version)

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
        let unsupported = UnsupportedFeatures.find(in: settings)
        guard unsupported.isEmpty else {
            for feature in unsupported { logger.critical("\(feature) is configured but not implemented in this build") }
            throw ExitCode(1)
        }
        let broker: Broker
        do {
            broker = try Broker(runtime: settings.runtime, core: settings.core, logger: logger)
            try broker.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        broker.runUntilSignalled()
    }
}

extension Logger.Level {
    init(_ level: LogSettings.Level) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}
