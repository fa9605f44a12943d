import BrokerAuth
import BrokerCore
import BrokerKafka
import BrokerMongo
import BrokerRuntime
import Foundation

/// Turns a validated, defaulted configuration tree (current layout) into `BrokerConfiguration`.
enum ConfigurationDecoder {
    static func decode(_ node: ConfigNode) throws(ConfigProblem) -> BrokerConfiguration {
        let root = try ConfigObjectReader(node, at: .root)
        let runtime = try runtime(root)
        let persistence = try persistence(root.object("persistence"))
        return BrokerConfiguration(
            core: try core(root),
            runtime: runtime,
            auth: try auth(root),
            persistence: persistence,
            cluster: try root.object("cluster").map { (cluster) throws(ConfigProblem) in
                try Self.cluster(cluster, persistence: persistence, runtime: runtime)
            },
            kafka: try root.object("kafka").map(kafka),
            metrics: try root.object("metrics").map { (metrics) throws(ConfigProblem) in
                MetricsSettings(host: try metrics.string("host"), port: try metrics.int("port"))
            },
            log: try log(root.object("log")))
    }

    private static func core(_ root: ConfigObjectReader) throws(ConfigProblem) -> CoreSettings {
        var limits = BrokerLimits()
        if let reader = try root.object("limits") {
            limits.maxPacketSize = try reader.int("max_packet_size")
            limits.maxInflightMessages = try reader.int("max_inflight_messages")
            limits.maxQueuedMessages = try reader.int("max_queued_messages")
            limits.queueBackpressure = try reader.bool("queue_backpressure")
            limits.maxConnections = try reader.int("max_connections")
            limits.maxKeepalive = try reader.int("max_keepalive")
            limits.maxTopicLevels = try reader.int("max_topic_levels")
            limits.connectTimeoutSeconds = try reader.int("connect_timeout_seconds")
            limits.sessionExpirySeconds = try reader.int("session_expiry_seconds")
            limits.receiveMaximum = try reader.int("receive_maximum")
            limits.topicAliasMaximum = try reader.int("topic_alias_maximum")
        }
        return CoreSettings(
            limits: limits, allowAnonymous: try root.bool("allow_anonymous"),
            sysIntervalSeconds: try root.int("sys_interval_seconds"),
            disconnectOnDeniedPublish: try root.object("auth")?.bool("disconnect_on_denied_publish") ?? false,
            sharedSubscriptionStrategy: try root.object("shared_subscriptions")?
                .choice("strategy", as: SharedSubscriptionStrategy.self) ?? .roundRobin,
            reasonStrings: try root.bool("reason_strings"))
    }

    private static func runtime(_ root: ConfigObjectReader) throws(ConfigProblem) -> RuntimeSettings {
        var listeners: [ListenerSpec] = []
        for reader in try root.objects("listeners") {
            let port = try reader.int("port")
            let host = try reader.string("host")
            // Every shard binds each listener with SO_REUSEPORT, so a second listener on the same
            // port would bind too and the kernel would split connections between them.
            if let earlier = listeners.firstIndex(where: { $0.port == port && Self.addressesOverlap($0.host, host) }) {
                throw ConfigProblem(
                    path: reader.path.appending(key: "port").description,
                    message: "port \(port) is already used by listeners[\(earlier)] (\(listeners[earlier].host):\(port))")
            }
            let tls = try reader.object("tls").map { (tls) throws(ConfigProblem) in
                TLSSettings(
                    cert: try tls.string("cert"), key: try tls.string("key"), ca: try tls.optionalString("ca"),
                    minVersion: try tls.choice("min_version", as: TLSSettings.TLSVersion.self),
                    clientAuth: try tls.choice("client_auth", as: TLSSettings.ClientAuth.self))
            }
            listeners.append(ListenerSpec(
                transport: try reader.choice("protocol", as: ListenerSpec.Transport.self), host: host,
                port: port, path: try reader.string("path"), tls: tls))
        }
        // "auto" (the only string the schema allows) means one shard per core.
        let shards: Int? = if case .int(let count) = root.node["shards"]?.value { count } else { nil }
        return RuntimeSettings(listeners: listeners, shards: shards, pinCores: try root.bool("pin_cores"))
    }

    /// Whether two listen hosts claim the same port: the same host, or either is a wildcard.
    static func addressesOverlap(_ a: String, _ b: String) -> Bool {
        let wildcards: Set<String> = ["0.0.0.0", "::", "*", ""]
        return a == b || wildcards.contains(a) || wildcards.contains(b)
    }

    /// `auth` and `acl` together: BrokerAuth decides with both. `allow_anonymous` is read here
    /// too (the engine reads it from `CoreSettings` when no authenticator is configured).
    private static func auth(_ root: ConfigObjectReader) throws(ConfigProblem) -> AuthPolicy {
        let reader = try root.object("auth")
        let users = try reader?.objects("internal_users").map { (user) throws(ConfigProblem) in
            AuthPolicy.User(username: try user.string("username"), passwordHash: try user.string("password"), roles: try user.strings("roles"))
        }
        let rules = try root.objects("acl").map { (rule) throws(ConfigProblem) in
            AuthPolicy.Rule(role: try rule.string("name"), publish: try rule.strings("authorize_publish"),
                            subscribe: try rule.strings("authorize_subscribe"))
        }
        // The schema lists the accepted algorithms; a name that reaches here is one of them.
        let openID = try (try reader?.object("openid")).map { (openID) throws(ConfigProblem) in
            OpenIDPolicy(
                jwksURL: try openID.optionalString("jwks_url"), issuer: try openID.optionalString("issuer"),
                audience: try openID.optionalString("audience"), rolesKey: try openID.optionalString("roles_key"),
                subjectKey: try openID.string("subject_key"), algorithms: Set(try openID.strings("algorithms")),
                leewaySeconds: try openID.int("leeway_seconds"), jwksRefreshSeconds: try openID.int("jwks_refresh_seconds"),
                tokenType: try openID.optionalString("token_type"))
        }
        return AuthPolicy(users: users ?? [], rules: rules, openID: openID, allowAnonymous: try root.bool("allow_anonymous"))
    }

    /// The URL is read by libmongoc's own parser, so a malformed one stops start-up (and
    /// `--check`) with libmongoc's reason at `persistence.url`.
    private static func persistence(_ reader: ConfigObjectReader?) throws(ConfigProblem) -> PersistenceSettings {
        guard let reader, try reader.string("type") == "mongodb" else { return .memory }
        let url = try reader.string("url")
        do {
            _ = try MongoConnectionString(url)
        } catch {
            throw ConfigProblem(
                path: reader.path.appending(key: "url").description, message: error.message,
                location: reader.node["url"]?.location)
        }
        return .mongodb(MongoStoreSettings(
            url: url, database: try reader.string("database"),
            durability: try reader.choice("durability", as: MongoStoreSettings.Durability.self),
            flushIntervalMilliseconds: try reader.int("flush_interval_ms"), writers: try reader.int("writers")))
    }

    /// The nodes are linked through the persistence MongoDB: a cluster without it is refused.
    private static func cluster(
        _ reader: ConfigObjectReader, persistence: PersistenceSettings, runtime: RuntimeSettings
    ) throws(ConfigProblem) -> ClusterSettings {
        guard case .mongodb = persistence else {
            throw ConfigProblem(
                path: reader.path.description,
                message: "a cluster needs persistence.type: mongodb (its nodes are linked through that MongoDB)",
                location: reader.node.location)
        }
        let host = ProcessInfo.processInfo.hostName
        let port = runtime.listeners.first.map { ":\($0.port)" } ?? ""
        return ClusterSettings(
            nodeId: try reader.optionalString("node_id") ?? "\(host)\(port)",
            heartbeatIntervalMilliseconds: try reader.int("heartbeat_interval_ms"),
            deadAfterMissed: try reader.int("dead_after_missed"), busRetentionSeconds: try reader.int("bus_retention_seconds"))
    }

    private static func kafka(_ reader: ConfigObjectReader) throws(ConfigProblem) -> KafkaBridgeConfiguration {
        typealias Kafka = KafkaBridgeConfiguration
        let brokers = try reader.string("brokers").split(separator: ",")
            .map { String($0.filter { !$0.isWhitespace }) }
            .filter { !$0.isEmpty }
        let sasl = try reader.object("sasl").map { (sasl) throws(ConfigProblem) in
            Kafka.SASL(
                mechanism: try sasl.choice("mechanism", as: Kafka.SASLMechanism.self),
                username: try sasl.string("username"), password: try sasl.string("password"))
        }
        let tls = try reader.object("tls").map { (tls) throws(ConfigProblem) in Kafka.TLS(ca: try tls.optionalString("ca")) }
        var configuration = Kafka(
            brokers: brokers, clientId: try reader.optionalString("client_id") ?? Kafka.defaultClientId, sasl: sasl, tls: tls,
            ackMode: try reader.choice("ack_mode", as: Kafka.AckMode.self),
            compression: try reader.choice("compression", as: Kafka.Compression.self))
        if let publish = try reader.object("publish") {
            configuration.connectEvent = try publish.object("connect_event").map { (event) throws(ConfigProblem) in
                Kafka.Event(topic: try event.string("topic"), type: try event.optionalString("type") ?? Kafka.defaultConnectType)
            }
            configuration.disconnectEvent = try publish.object("disconnect_event").map { (event) throws(ConfigProblem) in
                Kafka.Event(topic: try event.string("topic"), type: try event.optionalString("type") ?? Kafka.defaultDisconnectType)
            }
            configuration.eventsFor = try publish.choice("events_for", as: Kafka.EventAudience.self)
            configuration.routes = try publish.objects("client_events").map { (route) throws(ConfigProblem) in
                Kafka.Route(
                    mqttFilter: try route.string("mqtt_topic"), topic: try route.string("topic"),
                    key: try route.choice("key", as: Kafka.Key.self), alsoMQTT: try route.bool("also_mqtt"))
            }
        }
        configuration.subscriptions = try reader.objects("subscribe").map { (entry) throws(ConfigProblem) in
            Kafka.Subscription(
                topic: try entry.string("topic"), groupId: try entry.optionalString("group_id"),
                mqttTopic: try entry.string("mqtt_topic"), qos: try entry.int("qos"), retain: try entry.bool("retain"))
        }
        return configuration
    }

    private static func log(_ reader: ConfigObjectReader?) throws(ConfigProblem) -> LogSettings {
        guard let reader else { return LogSettings() }
        return LogSettings(
            level: try reader.choice("level", as: LogSettings.Level.self),
            format: try reader.choice("format", as: LogSettings.Format.self))
    }
}
