import BrokerAuth
import BrokerConfig
import BrokerCore
import BrokerKafka
import Testing

/// Every `auth`, `acl` and `kafka` key decodes into BrokerAuth's and BrokerKafka's own settings
/// types (there is no second copy to map between), each set to a value other than its default.
@Suite struct AuthAndKafkaDecodingTests {
    @Test func everyAuthAndAclKeyReachesTheAuthPolicy() throws {
        let configuration = try ConfigLoader.load(yaml: """
            allow_anonymous: false
            auth:
              disconnect_on_denied_publish: true
              internal_users:
                - {username: alice, password: "$2b$10$QHlYbMuAeiFoARhsfOCQNebH1.Yz.HkgvzkC//pU39wRTN5o5pDma", roles: [admin, ops]}
                - {username: bob, password: "$2b$10$QHlYbMuAeiFoARhsfOCQNebH1.Yz.HkgvzkC//pU39wRTN5o5pDmb"}
              openid:
                jwks_url: https://id.example.com/jwks
                issuer: https://id.example.com
                audience: mqtt
                roles_key: realm_access.roles
                subject_key: preferred_username
                algorithms: [PS256, EdDSA]
                leeway_seconds: 5
                jwks_refresh_seconds: 30
                token_type: Bearer
            acl:
              - {name: admin, authorize_publish: ["#"], authorize_subscribe: ["$SYS/#"]}
              - {name: device, authorize_publish: [devices/:id/up]}
            """, environment: [:])
        #expect(configuration.auth == AuthPolicy(
            users: [
                AuthPolicy.User(username: "alice", passwordHash: "$2b$10$QHlYbMuAeiFoARhsfOCQNebH1.Yz.HkgvzkC//pU39wRTN5o5pDma", roles: ["admin", "ops"]),
                AuthPolicy.User(username: "bob", passwordHash: "$2b$10$QHlYbMuAeiFoARhsfOCQNebH1.Yz.HkgvzkC//pU39wRTN5o5pDmb", roles: []),
            ],
            rules: [
                AuthPolicy.Rule(role: "admin", publish: ["#"], subscribe: ["$SYS/#"]),
                AuthPolicy.Rule(role: "device", publish: ["devices/:id/up"], subscribe: []),
            ],
            openID: OpenIDPolicy(
                jwksURL: "https://id.example.com/jwks", issuer: "https://id.example.com", audience: "mqtt",
                rolesKey: "realm_access.roles", subjectKey: "preferred_username", algorithms: ["PS256", "EdDSA"],
                leewaySeconds: 5, jwksRefreshSeconds: 30, tokenType: "Bearer"),
            allowAnonymous: false))
        // A user without roles gets its own name as its role, as in the old broker.
        #expect(configuration.auth.users[1].roles == ["bob"])
        #expect(configuration.core.allowAnonymous == false)
        #expect(configuration.core.disconnectOnDeniedPublish)
    }

    @Test func sharedSubscriptionStrategyIsDecodedAndCheckedAgainstTheSchema() throws {
        #expect(try ConfigLoader.load(yaml: "", environment: [:]).core.sharedSubscriptionStrategy == .roundRobin)
        for strategy in SharedSubscriptionStrategy.allCases {
            let configuration = try ConfigLoader.load(
                yaml: "shared_subscriptions: {strategy: \(strategy.rawValue)}", environment: [:])
            #expect(configuration.core.sharedSubscriptionStrategy == strategy)
        }
        #expect(throws: ConfigLoadError.self) {
            try ConfigLoader.load(yaml: "shared_subscriptions: {strategy: least_busy}", environment: [:])
        }
    }

    @Test func openIDDefaultsAreThePolicyDefaults() throws {
        let configuration = try ConfigLoader.load(yaml: "auth: {openid: {jwks_url: https://x}}", environment: [:])
        #expect(configuration.auth.openID == OpenIDPolicy(jwksURL: "https://x"))
        #expect(configuration.auth.requiresAuthenticator)
    }

    @Test func anAclAloneNeedsTheAuthenticator() throws {
        let configuration = try ConfigLoader.load(yaml: "acl: [{name: anonymous, authorize_subscribe: [public/#]}]", environment: [:])
        #expect(configuration.auth.requiresAuthenticator)
        #expect(configuration.auth.users.isEmpty)
    }

    @Test func everyKafkaKeyReachesTheBridgeConfiguration() throws {
        let configuration = try ConfigLoader.load(yaml: """
            kafka:
              brokers: "k1:9092, k2:9092"
              client_id: edge-7
              sasl: {mechanism: SCRAM-SHA-256, username: u, password: p}
              tls: {ca: /etc/ca.pem}
              ack_mode: local
              compression: zstd
              publish:
                connect_event: {topic: connects, type: my.connect}
                disconnect_event: {topic: disconnects}
                events_for: all
                client_events:
                  - {mqtt_topic: a/#, topic: a, key: topic, also_mqtt: false}
                  - {mqtt_topic: b/+, topic: b}
              subscribe:
                - {topic: commands, group_id: g1, mqtt_topic: "cmd/{key}", qos: 2, retain: true}
                - {topic: other, mqtt_topic: o}
            """, environment: [:])
        #expect(configuration.kafka == KafkaBridgeConfiguration(
            brokers: ["k1:9092", "k2:9092"], clientId: "edge-7",
            sasl: .init(mechanism: .scramSHA256, username: "u", password: "p"), tls: .init(ca: "/etc/ca.pem"),
            ackMode: .local, compression: .zstd,
            routes: [
                .init(mqttFilter: "a/#", topic: "a", key: .topic, alsoMQTT: false),
                .init(mqttFilter: "b/+", topic: "b", key: .clientId, alsoMQTT: true),
            ],
            connectEvent: .init(topic: "connects", type: "my.connect"),
            disconnectEvent: .init(topic: "disconnects", type: KafkaBridgeConfiguration.defaultDisconnectType),
            eventsFor: .all,
            subscriptions: [
                .init(topic: "commands", groupId: "g1", mqttTopic: "cmd/{key}", qos: 2, retain: true),
                .init(topic: "other", groupId: nil, mqttTopic: "o", qos: 0, retain: false),
            ]))
        #expect(configuration.kafka?.waitForKafka == false)
    }

    @Test func kafkaDefaults() throws {
        let kafka = try #require(try ConfigLoader.load(yaml: "kafka: {brokers: k:9092, tls: {}}", environment: [:]).kafka)
        #expect(kafka.clientId == KafkaBridgeConfiguration.defaultClientId)
        #expect(kafka.ackMode == .kafka && kafka.waitForKafka)
        #expect(kafka.eventsFor == .token)
        #expect(kafka.tls == KafkaBridgeConfiguration.TLS(ca: nil))
        #expect(kafka.sasl == nil && kafka.connectEvent == nil && kafka.routes.isEmpty && kafka.subscriptions.isEmpty)
    }
}
