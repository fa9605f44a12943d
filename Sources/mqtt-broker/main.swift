import BrokerCore
import BrokerRuntime
import Logging

var arguments = CommandLine.arguments.dropFirst()
var port = 1883
var shards: Int?
while let argument = arguments.popFirst() {
    switch argument {
    case "--port": port = Int(arguments.popFirst() ?? "") ?? port
    case "--shards": shards = Int(arguments.popFirst() ?? "")
    default: break
    }
}
LoggingSystem.bootstrap(StreamLogHandler.standardError)
var logger = Logger(label: "mqtt-broker")
logger.logLevel = .debug
let broker = try Broker(
    runtime: RuntimeSettings(listeners: [ListenerSpec(transport: .mqtt, port: port)], shards: shards),
    core: CoreSettings(), logger: logger)
try broker.start()
broker.runUntilSignalled()
