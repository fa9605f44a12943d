import BrokerMongo
import BrokerAuth
import BrokerConfig
import BrokerCore
import BrokerKafka
import BrokerRuntime
import Testing

@Suite struct ConfigLoaderTests {
    /// The problems a load reports, printed; empty when it loads.
    private func problems(_ yaml: String, environment: [String: String] = [:]) -> [String] {
        do {
            _ = try ConfigLoader.load(yaml: yaml, environment: environment)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func embeddedDefaultsMatchTheSwiftDefaults() throws {
        let configuration = try ConfigLoader.load(path: nil, environment: [:])
        #expect(configuration.core.limits == BrokerLimits())
        #expect(configuration.core == CoreSettings())
        #expect(configuration.runtime == RuntimeSettings())
        #expect(configuration.runtime.listeners == [ListenerSpec(transport: .mqtt, host: "0.0.0.0", port: 1883, path: "/")])
        #expect(configuration.runtime.shards == nil)
        #expect(configuration.auth == AuthPolicy())
        #expect(!configuration.auth.requiresAuthenticator)
        #expect(configuration.persistence == .memory)
        #expect(configuration.kafka == nil)
        #expect(configuration.metrics == nil)
        #expect(configuration.log == LogSettings())
        #expect(configuration == BrokerConfiguration())
    }

    @Test func schemaDefaultsOfOptionalSectionsMatchTheSwiftDefaults() throws {
        let configuration = try ConfigLoader.load(yaml: """
            auth: {openid: {issuer: https://id.example.com}}
            kafka:
              brokers: k:9092
              sasl: {username: u, password: p}
              publish: {client_events: [{mqtt_topic: a/#, topic: a}]}
              subscribe: [{topic: t, mqtt_topic: m}]
            metrics: {port: 9100}
            listeners: [{protocol: mqtts, port: 8883, tls: {cert: c, key: k}}]
            """, environment: [:])
        #expect(configuration.auth.openID == OpenIDPolicy(issuer: "https://id.example.com"))
        #expect(configuration.kafka == KafkaBridgeConfiguration(
            brokers: ["k:9092"], sasl: .init(username: "u", password: "p"),
            routes: [.init(mqttFilter: "a/#", topic: "a")],
            subscriptions: [.init(topic: "t", mqttTopic: "m")]))
        #expect(configuration.metrics == MetricsSettings(port: 9100))
        #expect(configuration.runtime.listeners[0].tls == TLSSettings(cert: "c", key: "k"))
    }

    @Test func twoListenersOnOnePortAreRefused() {
        #expect(problems("listeners: [{protocol: mqtts, host: 127.0.0.1, port: 8883, tls: {cert: c, key: k}}, {protocol: wss, host: 127.0.0.1, port: 8883, tls: {cert: c, key: k}}]") == [
            "listeners[1].port: port 8883 is already used by listeners[0] (127.0.0.1:8883)",
        ])
        #expect(problems("listeners: [{protocol: mqtt, port: 1883}, {protocol: ws, host: 127.0.0.1, port: 1883}]") == [
            "listeners[1].port: port 1883 is already used by listeners[0] (0.0.0.0:1883)",
        ])
        #expect(problems("listeners: [{protocol: mqtt, host: 127.0.0.1, port: 1883}, {protocol: ws, host: 127.0.0.2, port: 1883}]") == [])
    }

    @Test func clusterNeedsMongoDBPersistenceAndNamesItsNode() throws {
        #expect(problems("cluster: {node_id: a}") == [
            "cluster: a cluster needs persistence.type: mongodb (its nodes are linked through that MongoDB)",
        ])
        #expect(problems("cluster: {heartbeat_interval_ms: 5}, persistence: {type: mongodb, url: 'mongodb://db'}").count == 1)
        let named = try ConfigLoader.load(
            yaml: "cluster: {node_id: edge-1, dead_after_missed: 5}\npersistence: {type: mongodb, url: 'mongodb://db'}",
            environment: [:])
        #expect(named.cluster == ClusterSettings(nodeId: "edge-1", deadAfterMissed: 5))
        let unnamed = try ConfigLoader.load(
            yaml: "listeners: [{port: 1999}]\ncluster: {}\npersistence: {type: mongodb, url: 'mongodb://db'}", environment: [:])
        #expect(unnamed.cluster?.nodeId.hasSuffix(":1999") == true)
        #expect(try ConfigLoader.load(yaml: "", environment: [:]).cluster == nil)
    }

    @Test func exampleConfigFileLoadsAsTheDefaults() throws {
        let configuration = try ConfigLoader.load(path: RepositoryFiles.path("config/config.yaml"), environment: [:])
        #expect(configuration == BrokerConfiguration())
    }

    @Test func tlsWebSocketExampleLoads() throws {
        let configuration = try ConfigLoader.load(path: RepositoryFiles.path("config/examples/tls-websocket.yaml"), environment: [:])
        #expect(configuration.runtime.listeners.map(\.transport) == [.mqtt, .mqtts, .ws, .wss])
        #expect(configuration.runtime.listeners[1].tls?.minVersion == .v1_3)
        #expect(configuration.runtime.listeners[3].tls?.clientAuth == .optional)
        #expect(configuration.runtime.listeners[3].path == "/mqtt")
        #expect(configuration.runtime.shards == 4)
        #expect(configuration.runtime.pinCores)
        #expect(configuration.core.allowAnonymous == false)
        #expect(configuration.auth.openID?.algorithms == ["RS256", "ES256", "EdDSA"])
        #expect(configuration.persistence == .mongodb(MongoStoreSettings(url: "mongodb://localhost:27017", database: "mqtt")))
        #expect(configuration.kafka?.ackMode == .local)
        #expect(configuration.kafka?.routes[1] == KafkaBridgeConfiguration.Route(
            mqttFilter: "devices/+/logs", topic: "logs", key: KafkaBridgeConfiguration.Key.none, alsoMQTT: false))
        #expect(configuration.kafka?.subscriptions == [KafkaBridgeConfiguration.Subscription(
            topic: "commands", groupId: "mqtt-broker", mqttTopic: "broadcast/commands", qos: 1)])
        #expect(configuration.metrics == MetricsSettings(host: "127.0.0.1", port: 9100))
        #expect(configuration.log == LogSettings(level: .notice, format: .json))
    }

    @Test func legacyAedesExampleLoadsWithoutAnyEnvironment() throws {
        let configuration = try ConfigLoader.load(
            path: RepositoryFiles.path("config/examples/legacy-aedes.yaml"), environment: [:])
        #expect(configuration.kafka?.brokers == ["localhost:9092"])
        #expect(configuration.kafka?.routes.count == 1)
    }

    @Test func legacyAedesExampleLoadsAndTranslates() throws {
        let configuration = try ConfigLoader.load(
            path: RepositoryFiles.path("config/examples/legacy-aedes.yaml"), environment: ["KAFKA_BROKERS": "kafka-1:9092, kafka-2:9092"])
        #expect(configuration.auth.openID == OpenIDPolicy(
            jwksURL: "https://login.example.com/realms/devices/protocol/openid-connect/certs",
            rolesKey: "realm_access.roles", subjectKey: "sub"))
        #expect(configuration.auth.users == [AuthPolicy.User(
            username: "backend", passwordHash: "$2b$10$QHlYbMuAeiFoARhsfOCQNebH1.Yz.HkgvzkC//pU39wRTN5o5pDma", roles: ["backend"])])
        #expect(configuration.auth.rules == [
            AuthPolicy.Rule(role: "device", publish: ["devices/:id/#"], subscribe: ["devices/:id/commands/#"]),
            AuthPolicy.Rule(role: "backend", publish: ["#"], subscribe: ["#"]),
        ])
        #expect(configuration.auth.requiresAuthenticator)
        #expect(configuration.kafka == KafkaBridgeConfiguration(
            brokers: ["kafka-1:9092", "kafka-2:9092"],
            routes: [.init(mqttFilter: "devices/+/telemetry", topic: "telemetry")],
            connectEvent: .init(topic: "device-connect", type: KafkaBridgeConfiguration.defaultConnectType),
            disconnectEvent: .init(topic: "device-disconnect", type: KafkaBridgeConfiguration.defaultDisconnectType)))
        // No listeners in the old layout: the default one.
        #expect(configuration.runtime == RuntimeSettings())
        #expect(configuration.core == CoreSettings())
    }

    @Test func kafkaCompressionDefaultsToNoneAndIsChecked() throws {
        #expect(try ConfigLoader.load(yaml: "kafka: {brokers: k:9092}", environment: [:]).kafka?.compression == KafkaBridgeConfiguration.Compression.none)
        #expect(try ConfigLoader.load(yaml: "kafka: {brokers: k:9092, compression: lz4}", environment: [:]).kafka?.compression == .lz4)
        #expect(problems("kafka: {brokers: k:9092, compression: brotli}") == [
            "kafka.compression: \"brotli\" is not one of: none, gzip, snappy, lz4, zstd",
        ])
    }

    @Test func newLayoutWithKafkaNeedsBrokersButLegacyDefaultsThem() {
        #expect(problems("kafka: {publish: {connect_event: {topic: c}}}") == ["kafka.brokers: required key is missing"])
        #expect(problems("config: {kafka: {publish: {connect_event: {topic: c}}}}") == [])
    }

    @Test func legacyLayoutIsValidatedAgainstItsOwnSchema() {
        #expect(problems("""
            config:
              openid: {jwks_url: https://x}
              internal_users: [{username: u, password: plain, roles: [a]}]
              listeners: []
            """) == [
            "config.openid.connect_url: required key is missing",
            "config.openid.jwks_url: unknown key (expected one of: connect_url, roles_key, subject_key)",
            #"config.internal_users[0].password: does not match the pattern ^\$2[aby]\$\d\d\$.{53}$"#,
            "config.internal_users[0].roles: unknown key (expected one of: username, password)",
            "config.listeners: unknown key (expected one of: openid, internal_users, acl, kafka)",
        ])
    }

    @Test func plantedErrorsAreAllReportedWithTheirPaths() {
        let yaml = """
            listeners:
              - protocol: mqtt
                port: 1883
              - protocol: mqtt
                port: 70000
              - prot: mqtt
                port: 1884
              - protocol: udp
                port: 1885
              - protocol: mqtts
                port: 8883
              - protocol: ws
            shards: many
            pin_cores: "yes"
            limits:
              max_packet_size: 8
            auth:
              internal_users:
                - username: backend
                  password: not-a-hash
            log: {level: loud}
            """
        #expect(problems(yaml) == [
            "listeners[1].port: 70000 is greater than the maximum 65535",
            "listeners[2].prot: unknown key (expected one of: protocol, host, port, path, tls)",
            #"listeners[3].protocol: "udp" is not one of: mqtt, mqtts, ws, wss"#,
            "listeners[4].tls: required key is missing",
            "listeners[5].port: required key is missing",
            #"shards: expected "auto", found "many""#,
            #"pin_cores: expected a boolean, found a string ("yes")"#,
            "limits.max_packet_size: 8 is less than the minimum 16",
            #"auth.internal_users[0].password: does not match the pattern ^\$2[aby]\$\d\d\$.{53}$"#,
            #"log.level: "loud" is not one of: trace, debug, info, notice, warning, error, critical"#,
        ])
    }

    @Test func conditionalRequirementsApply() {
        #expect(problems("listeners: [{protocol: wss, port: 443, tls: {cert: c}}]") == ["listeners[0].tls.key: required key is missing"])
        #expect(problems("listeners: [{protocol: mqtt, port: 1883, tls: {cert: c, key: k}}]") == ["listeners[0].tls: is not allowed"])
        #expect(problems("listeners: [{protocol: mqtts, port: 8883, tls: {cert: c, key: k, client_auth: required}}]") == [
            "listeners[0].tls.ca: required key is missing",
        ])
        #expect(problems("persistence: {type: mongodb}") == ["persistence.url: required key is missing"])
        #expect(problems("auth: {openid: {audience: a}}") == [
            "auth.openid: does not match any of the alternatives: jwks_url: required key is missing | issuer: required key is missing",
        ])
        #expect(problems("metrics: {host: h}") == ["metrics.port: required key is missing"])
        #expect(problems("auth: {openid: {issuer: i, algorithms: [HS256]}}") == [
            #"auth.openid.algorithms[0]: "HS256" is not one of: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"#,
        ])
    }

    @Test func shardsAcceptAutoOrACount() throws {
        #expect(try ConfigLoader.load(yaml: "shards: auto", environment: [:]).runtime.shards == nil)
        #expect(try ConfigLoader.load(yaml: "shards: 6", environment: [:]).runtime.shards == 6)
        #expect(problems("shards: 2000") == ["shards: 2000 is greater than the maximum 1024"])
        #expect(problems("shards: 0") == ["shards: 0 is less than the minimum 1"])
    }

    /// max_topic_levels 65535 let a 65,000-level topic recurse that deep in the subscription
    /// and retained tries and overflow a shard's stack (issue 8): the schema caps it.
    @Test func topicLevelLimitIsCappedWhereMatchingStaysShallow() throws {
        #expect(try ConfigLoader.load(yaml: "limits:\n  max_topic_levels: 1024", environment: [:]).core.limits.maxTopicLevels == 1024)
        #expect(problems("limits:\n  max_topic_levels: 65535") == ["limits.max_topic_levels: 65535 is greater than the maximum 1024"])
    }

    @Test func unquotedNumbersAreAcceptedWhereStringsAreExpected() throws {
        let configuration = try ConfigLoader.load(
            yaml: "listeners: [{protocol: mqtts, port: 8883, tls: {cert: c, key: k, min_version: 1.3}}]", environment: [:])
        #expect(configuration.runtime.listeners[0].tls?.minVersion == .v1_3)
    }

    @Test func yamlSyntaxErrorReportsLineAndColumn() {
        do {
            _ = try ConfigLoader.load(yaml: "listeners:\n  - port: 1883\n    host: [a\nlog: {}\n", file: "broken.yaml", environment: [:])
            Issue.record("expected a syntax error")
        } catch {
            #expect(error.problems.count == 1)
            let problem = error.problems[0]
            #expect(problem.path == "broken.yaml")
            #expect(problem.message.hasPrefix("YAML syntax error at line 4, column 4: did not find expected ',' or ']'"))
            #expect(problem.location == SourceLocation(line: 4, column: 4))
            #expect(error.description.hasSuffix("\n  broken.yaml: YAML syntax error at line 4, column 4: did not find expected ',' or ']' (while parsing a flow sequence)"))
        }
    }

    @Test func missingFileIsOneProblemNamingThePath() {
        let path = "/nonexistent/mqtt-broker/config.yaml"
        do {
            _ = try ConfigLoader.load(path: path, environment: [:])
            Issue.record("expected a missing file error")
        } catch {
            #expect(error.problems == [ConfigProblem(path: path, message: "file not found")])
            #expect(error.description.contains("\(path): file not found"))
        }
    }

    @Test func topLevelMustBeAMapping() {
        #expect(problems("- a\n- b\n") == ["expected a mapping at the top level, found a list"])
    }

    @Test func loadErrorDescriptionListsEveryProblemOnItsOwnLine() {
        do {
            _ = try ConfigLoader.load(yaml: "shards: 0\nlog: {format: xml}\n", file: "c.yaml", environment: [:])
            Issue.record("expected problems")
        } catch {
            let lines = error.description.split(separator: "\n").map(String.init)
            #expect(lines == [
                "c.yaml: 2 configuration problems:",
                "  shards: 0 is less than the minimum 1 (line 1, column 9)",
                #"  log.format: "xml" is not one of: text, json (line 2, column 15)"#,
            ])
        }
    }
}
