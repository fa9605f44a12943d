import BrokerCore
import BrokerRuntime

/// Turns a validated, defaulted configuration tree (current layout) into `BrokerConfiguration`.
enum ConfigurationDecoder {
    static func decode(_ node: ConfigNode) throws(ConfigProblem) -> BrokerConfiguration {
        let root = try ConfigObjectReader(node, at: .root)
        return BrokerConfiguration(
            core: try core(root),
            runtime: try runtime(root),
            auth: try auth(root.object("auth")),
            acl: try root.objects("acl").map { (rule) throws(ConfigProblem) in
                AclRule(role: try rule.string("name"), publish: try rule.strings("authorize_publish"),
                        subscribe: try rule.strings("authorize_subscribe"))
            },
            persistence: try persistence(root.object("persistence")),
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
        }
        return CoreSettings(
            limits: limits, allowAnonymous: try root.bool("allow_anonymous"),
            sysIntervalSeconds: try root.int("sys_interval_seconds"),
            disconnectOnDeniedPublish: try root.object("auth")?.bool("disconnect_on_denied_publish") ?? false)
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

    private static func auth(_ reader: ConfigObjectReader?) throws(ConfigProblem) -> AuthSettings {
        guard let reader else { return AuthSettings() }
        let users = try reader.objects("internal_users").map { (user) throws(ConfigProblem) in
            InternalUser(username: try user.string("username"), passwordHash: try user.string("password"), roles: try user.strings("roles"))
        }
        let openID = try reader.object("openid").map { (openID) throws(ConfigProblem) in
            var algorithms: [OpenIDSettings.Algorithm] = []
            for name in try openID.strings("algorithms") {
                guard let algorithm = OpenIDSettings.Algorithm(rawValue: name) else {
                    throw ConfigProblem(path: openID.path.appending(key: "algorithms").description, message: "unsupported algorithm \(name)")
                }
                algorithms.append(algorithm)
            }
            return OpenIDSettings(
                jwksURL: try openID.optionalString("jwks_url"), issuer: try openID.optionalString("issuer"),
                audience: try openID.optionalString("audience"), rolesKey: try openID.optionalString("roles_key"),
                subjectKey: try openID.string("subject_key"), algorithms: algorithms,
                leewaySeconds: try openID.int("leeway_seconds"), jwksRefreshSeconds: try openID.int("jwks_refresh_seconds"),
                tokenType: try openID.optionalString("token_type"))
        }
        return AuthSettings(internalUsers: users, openID: openID)
    }

    private static func persistence(_ reader: ConfigObjectReader?) throws(ConfigProblem) -> PersistenceSettings {
        guard let reader, try reader.string("type") == "mongodb" else { return .memory }
        return .mongodb(url: try reader.string("url"), database: try reader.string("database"))
    }

    private static func kafka(_ reader: ConfigObjectReader) throws(ConfigProblem) -> KafkaSettings {
        let brokers = try reader.string("brokers").split(separator: ",")
            .map { String($0.filter { !$0.isWhitespace }) }
            .filter { !$0.isEmpty }
        let sasl = try reader.object("sasl").map { (sasl) throws(ConfigProblem) in
            KafkaSettings.SASL(
                mechanism: try sasl.choice("mechanism", as: KafkaSettings.SASLMechanism.self),
                username: try sasl.string("username"), password: try sasl.string("password"))
        }
        let tls = try reader.object("tls").map { (tls) throws(ConfigProblem) in KafkaSettings.TLS(ca: try tls.optionalString("ca")) }
        var publish = KafkaSettings.PublishSettings()
        if let reader = try reader.object("publish") {
            publish.connectEvent = try reader.object("connect_event").map(eventTarget)
            publish.disconnectEvent = try reader.object("disconnect_event").map(eventTarget)
            publish.eventsFor = try reader.choice("events_for", as: KafkaSettings.EventAudience.self)
            publish.clientEvents = try reader.objects("client_events").map { (route) throws(ConfigProblem) in
                KafkaSettings.ClientEventRoute(
                    mqttTopic: try route.string("mqtt_topic"), topic: try route.string("topic"),
                    key: try route.choice("key", as: KafkaSettings.MessageKey.self), alsoMQTT: try route.bool("also_mqtt"))
            }
        }
        let subscriptions = try reader.objects("subscribe").map { (entry) throws(ConfigProblem) in
            KafkaSettings.Subscription(
                topic: try entry.string("topic"), groupID: try entry.optionalString("group_id"),
                mqttTopic: try entry.string("mqtt_topic"), qos: try entry.int("qos"), retain: try entry.bool("retain"))
        }
        return KafkaSettings(
            brokers: brokers, clientID: try reader.optionalString("client_id"), sasl: sasl, tls: tls,
            ackMode: try reader.choice("ack_mode", as: KafkaSettings.AckMode.self),
            compression: try reader.choice("compression", as: KafkaSettings.Compression.self),
            publish: publish, subscribe: subscriptions)
    }

    private static func eventTarget(_ reader: ConfigObjectReader) throws(ConfigProblem) -> KafkaSettings.EventTarget {
        KafkaSettings.EventTarget(topic: try reader.string("topic"), type: try reader.optionalString("type"))
    }

    private static func log(_ reader: ConfigObjectReader?) throws(ConfigProblem) -> LogSettings {
        guard let reader else { return LogSettings() }
        return LogSettings(
            level: try reader.choice("level", as: LogSettings.Level.self),
            format: try reader.choice("format", as: LogSettings.Format.self))
    }
}
