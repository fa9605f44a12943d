import BrokerMongo
import BrokerConfig
import BrokerKafka
import BrokerRuntime
import Testing

/// The aedes-based broker's environment variables, in the old and the new layout.
@Suite struct LegacyEnvironmentVariableTests {
    private static let legacy = "config: {kafka: {publish: {connect_event: {topic: c}}}}"
    private static let current = "kafka: {publish: {connect_event: {topic: c}}}"

    @Test(arguments: [legacy, current])
    func kafkaBrokersFillsTheBrokerList(yaml: String) throws {
        let configuration = try ConfigLoader.load(yaml: yaml, environment: ["KAFKA_BROKERS": "a:9092,b:9092"])
        #expect(configuration.kafka?.brokers == ["a:9092", "b:9092"])
        #expect(configuration.kafka?.connectEvent?.topic == "c")
    }

    @Test func kafkaBrokersInTheFileWin() throws {
        let configuration = try ConfigLoader.load(yaml: "kafka: {brokers: file:9092}", environment: ["KAFKA_BROKERS": "env:9092"])
        #expect(configuration.kafka?.brokers == ["file:9092"])
    }

    @Test func kafkaBrokersAloneTurnsTheBridgeOn() throws {
        #expect(try ConfigLoader.load(yaml: "", environment: ["KAFKA_BROKERS": "k:9092"]).kafka == KafkaBridgeConfiguration(brokers: ["k:9092"]))
        #expect(try ConfigLoader.load(yaml: "", environment: [:]).kafka == nil)
    }

    @Test(arguments: [legacy, current])
    func kafkaSASLVariablesGiveSCRAMSHA512(yaml: String) throws {
        let configuration = try ConfigLoader.load(yaml: yaml, environment: [
            "KAFKA_BROKERS": "k:9092", "KAFKA_SASL_USERNAME": "broker", "KAFKA_SASL_PASSWORD": "s3cret",
        ])
        #expect(configuration.kafka?.sasl == KafkaBridgeConfiguration.SASL(mechanism: .scramSHA512, username: "broker", password: "s3cret"))
    }

    @Test func kafkaSASLInTheFileWins() throws {
        let configuration = try ConfigLoader.load(
            yaml: "kafka: {brokers: k:1, sasl: {mechanism: PLAIN, username: f, password: p}}",
            environment: ["KAFKA_SASL_USERNAME": "env", "KAFKA_SASL_PASSWORD": "x"])
        #expect(configuration.kafka?.sasl == KafkaBridgeConfiguration.SASL(mechanism: .plain, username: "f", password: "p"))
    }

    @Test func kafkaSASLUsernameWithoutPasswordIsAnError() {
        #expect(throws: ConfigLoadError(file: nil, problems: [
            ConfigProblem(path: "KAFKA_SASL_USERNAME", message: "is set but KAFKA_SASL_PASSWORD is not"),
        ])) {
            try ConfigLoader.load(yaml: Self.current, environment: ["KAFKA_BROKERS": "k:1", "KAFKA_SASL_USERNAME": "u"])
        }
    }

    /// As in the aedes broker: the URL's path names the database; without one, the Node.js
    /// driver's default (`test`), where that broker's data then lived.
    @Test(arguments: ["config: {acl: []}", ""])
    func mongoURLSelectsMongoDBPersistence(yaml: String) throws {
        let configuration = try ConfigLoader.load(yaml: yaml, environment: ["MONGO_URL": "mongodb://db:27017/?directConnection=true"])
        #expect(configuration.persistence == .mongodb(MongoStoreSettings(url: "mongodb://db:27017/?directConnection=true", database: "test")))
        let named = try ConfigLoader.load(yaml: yaml, environment: ["MONGO_URL": "mongodb://u:p@db1:27017,db2:27017/devices?replicaSet=rs0"])
        #expect(named.persistence == .mongodb(MongoStoreSettings(url: "mongodb://u:p@db1:27017,db2:27017/devices?replicaSet=rs0", database: "devices")))
    }

    @Test func aDatabaseInTheFileWinsOverTheMongoURLPath() throws {
        let configuration = try ConfigLoader.load(yaml: "persistence: {database: broker}", environment: ["MONGO_URL": "mongodb://db/devices"])
        #expect(configuration.persistence == .mongodb(MongoStoreSettings(url: "mongodb://db/devices", database: "broker")))
    }

    @Test(arguments: ["mongodb://db:99999", "mongodb://", "mongodb://db/?tls=maybe", "mongodb://u:p@db/?authMechanism=GSSAPI&authSource=x"])
    func aMalformedMongoURLIsAProblemNamedAfterTheVariable(url: String) {
        do {
            _ = try ConfigLoader.load(yaml: "", environment: ["MONGO_URL": url])
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.problems.map(\.path) == ["MONGO_URL"])
            #expect(error.problems.allSatisfy { !$0.message.isEmpty })
        }
    }

    @Test func aMalformedPersistenceURLIsAProblemAtItsPathWithLibmongocsReason() {
        do {
            _ = try ConfigLoader.load(yaml: "persistence: {type: mongodb, url: 'mongodb://db/?tls=maybe'}", environment: [:])
            Issue.record("accepted")
        } catch {
            #expect(error.problems.map(\.description) == [#"persistence.url: Unsupported value for "tls": "maybe""#])
            #expect(error.problems.first?.location?.line == 1)
        }
    }

    @Test func persistenceTypeInTheFileWinsOverMongoURL() throws {
        let configuration = try ConfigLoader.load(yaml: "persistence: {type: memory}", environment: ["MONGO_URL": "mongodb://db"])
        #expect(configuration.persistence == .memory)
    }

    @Test(arguments: ["config: {acl: []}", ""])
    func websocketPortAddsAWebSocketListenerBesideTheDefault(yaml: String) throws {
        let configuration = try ConfigLoader.load(yaml: yaml, environment: ["WEBSOCKET_PORT": "8080"])
        #expect(configuration.runtime.listeners == [
            ListenerSpec(transport: .mqtt, port: 1883),
            ListenerSpec(transport: .ws, host: "0.0.0.0", port: 8080, path: "/"),
        ])
    }

    @Test func websocketPortIsNotAddedTwice() throws {
        let configuration = try ConfigLoader.load(
            yaml: "listeners: [{protocol: ws, port: 8080}]", environment: ["WEBSOCKET_PORT": "8080"])
        #expect(configuration.runtime.listeners == [ListenerSpec(transport: .ws, port: 8080)])
    }

    @Test func invalidWebsocketPortIsAnError() {
        #expect(throws: ConfigLoadError(file: nil, problems: [
            ConfigProblem(path: "WEBSOCKET_PORT", message: #"expected a port number 1...65535, found "http""#),
        ])) {
            try ConfigLoader.load(yaml: "", environment: ["WEBSOCKET_PORT": "http"])
        }
    }
}
