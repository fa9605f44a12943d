import BrokerMongo
import BrokerAuth
import BrokerKafka
import BrokerConfig
import BrokerRuntime
import Testing

@Suite struct EnvironmentInterpolationTests {
    private func load(_ yaml: String, _ environment: [String: String]) throws(ConfigLoadError) -> BrokerConfiguration {
        try ConfigLoader.load(yaml: yaml, environment: environment)
    }

    @Test func variableIsSubstitutedInsideText() throws {
        let configuration = try load("persistence: {type: mongodb, url: 'mongodb://${MONGO_HOST}:27017', database: '${DB}_x'}",
                                     ["MONGO_HOST": "db.local", "DB": "mqtt"])
        #expect(configuration.persistence == .mongodb(MongoStoreSettings(url: "mongodb://db.local:27017", database: "mqtt_x")))
    }

    @Test func defaultIsUsedWhenUnsetOrEmpty() throws {
        #expect(try load("metrics: {host: '${METRICS_HOST:-::1}', port: 9100}", [:]).metrics?.host == "::1")
        #expect(try load("metrics: {host: '${METRICS_HOST:-::1}', port: 9100}", ["METRICS_HOST": ""]).metrics?.host == "::1")
        #expect(try load("metrics: {host: '${METRICS_HOST:-::1}', port: 9100}", ["METRICS_HOST": "10.0.0.1"]).metrics?.host == "10.0.0.1")
    }

    @Test func wholeScalarReferenceIsConvertedToTheSchemaType() throws {
        let yaml = """
            # In flow style ({…}) a reference must be quoted; in block style it need not be.
            listeners:
              - port: ${PORT:-1883}
            pin_cores: ${PIN:-false}
            shards: "${SHARDS:-auto}"
            """
        let defaults = try load(yaml, [:])
        #expect(defaults.runtime.listeners[0].port == 1883)
        #expect(defaults.runtime.pinCores == false)
        #expect(defaults.runtime.shards == nil)
        let set = try load(yaml, ["PORT": "1884", "PIN": "true", "SHARDS": "3"])
        #expect(set.runtime.listeners[0].port == 1884)
        #expect(set.runtime.pinCores == true)
        #expect(set.runtime.shards == 3)
    }

    @Test func numericLookingValueStaysAStringWhereAStringIsExpected() throws {
        let configuration = try load("kafka: {brokers: k:1, client_id: '${CLIENT}'}", ["CLIENT": "12345"])
        #expect(configuration.kafka?.clientId == "12345")
    }

    @Test func unconvertibleValueIsATypeError() {
        #expect(throws: ConfigLoadError(file: nil, problems: [
            ConfigProblem(path: "listeners[0].port", message: #"expected an integer, found a string ("http")"#),
        ])) {
            try load("listeners: [{port: '${PORT}'}]", ["PORT": "http"])
        }
    }

    @Test func unsetVariableWithoutDefaultIsAnErrorWithItsPath() {
        do {
            _ = try load("listeners: [{port: 1883}, {protocol: ws, port: '${WS_PORT}'}]\nlog: {level: '${LEVEL}'}", [:])
            Issue.record("expected errors")
        } catch {
            #expect(error.problems.map(\.description) == [
                "listeners[1].port: environment variable WS_PORT is not set (use ${WS_PORT:-default} to give a default)",
                "log.level: environment variable LEVEL is not set (use ${LEVEL:-default} to give a default)",
            ])
        }
    }

    @Test func malformedReferencesAreErrors() {
        do {
            _ = try load("metrics: {host: '${HOST', port: 1}\nlog: {level: '${1X}'}", [:])
            Issue.record("expected errors")
        } catch {
            #expect(error.problems.map(\.description) == [
                "metrics.host: unterminated '${' (expected '${NAME}' or '${NAME:-default}')",
                "log.level: '${1X}' is not a valid reference (expected '${NAME}' or '${NAME:-default}')",
            ])
        }
    }

    @Test func doubledDollarWritesALiteralReference() throws {
        let configuration = try load("kafka: {brokers: k:1, client_id: 'a$${B}c'}", ["B": "no"])
        #expect(configuration.kafka?.clientId == "a${B}c")
    }

    @Test func bcryptHashesAreNotMistakenForReferences() throws {
        let hash = "$2b$10$QHlYbMuAeiFoARhsfOCQNebH1.Yz.HkgvzkC//pU39wRTN5o5pDma"
        let configuration = try load("auth: {internal_users: [{username: u, password: \(hash)}]}", [:])
        #expect(configuration.auth.users.first?.passwordHash == hash)
    }

    @Test func interpolationAppliesToTheLegacyLayout() throws {
        let configuration = try load("config: {openid: {connect_url: '${JWKS}'}}", ["JWKS": "https://id.example.com/certs"])
        #expect(configuration.auth.openID?.jwksURL == "https://id.example.com/certs")
    }
}
