/// Rewrites a configuration in the aedes-based broker's layout (everything under `config:`)
/// into the current layout, keeping source locations for later messages.
///
/// The old broker gave an internal user the role named like the user (the ACL entry
/// `name: backend` applied to the user `backend`), so each user gets `roles: [username]`.
/// Listeners are not part of the old layout: the defaults (and `WEBSOCKET_PORT`) apply.
enum LegacyLayoutTranslator {
    /// Whether a document uses the old layout: its top level has the key `config`.
    static func isLegacy(_ document: ConfigNode) -> Bool {
        document.value.members?.contains { $0.key == "config" } ?? false
    }

    /// The old layout had no place for the Kafka brokers: they came from `KAFKA_BROKERS` only.
    /// When that is unset too, librdkafka's own default (`localhost:9092`) applies, so an old
    /// file loads unchanged; the bridge then retries that address and reports it is down.
    static let defaultKafkaBrokers = "localhost:9092"

    /// Called after the environment overlay: gives a legacy `kafka` section its default brokers.
    static func fillKafkaBrokers(in document: inout ConfigNode) {
        guard document.hasMember("kafka"), !(document["kafka"]?.hasMember("brokers") ?? false) else { return }
        document.editMember("kafka") { $0.setMember("brokers", to: ConfigNode(.string(defaultKafkaBrokers))) }
    }

    /// Translates a document already validated against `#/definitions/legacy`.
    static func translate(_ document: ConfigNode) -> ConfigNode {
        let old = document["config"] ?? ConfigNode(.object([]))
        var result = ConfigNode(.object([]), location: document.location)
        var auth = ConfigNode(.object([]))
        if let users = old["internal_users"]?.value.elements {
            auth.setMember("internal_users", to: ConfigNode(.array(users.map(translateUser))))
        }
        if let openID = old["openid"], case .object(let members) = openID.value {
            let renamed = members.map { member in
                var copy = member
                if copy.key == "connect_url" { copy.key = "jwks_url" }
                return copy
            }
            auth.setMember("openid", to: ConfigNode(.object(renamed), location: openID.location))
        }
        if auth.value.members?.isEmpty == false { result.setMember("auth", to: auth) }
        if let acl = old["acl"] { result.setMember("acl", to: acl) }
        if let publish = old["kafka"]?["publish"] {
            var kafka = ConfigNode(.object([]), location: old["kafka"]?.location)
            kafka.setMember("publish", to: publish)
            result.setMember("kafka", to: kafka)
        } else if let kafka = old["kafka"] {
            result.setMember("kafka", to: kafka)
        }
        return result
    }

    private static func translateUser(_ user: ConfigNode) -> ConfigNode {
        var translated = user
        if let username = user["username"], !user.hasMember("roles") {
            translated.setMember("roles", to: ConfigNode(.array([username])))
        }
        return translated
    }
}
