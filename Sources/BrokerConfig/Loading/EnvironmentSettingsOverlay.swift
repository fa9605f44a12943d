import BrokerMongo

/// Applies the environment variables the aedes-based broker read, in either layout, and the
/// command-line overrides.
///
/// - `KAFKA_BROKERS`: `kafka.brokers` when the file sets none (and turns the bridge on).
/// - `KAFKA_SASL_USERNAME` + `KAFKA_SASL_PASSWORD`: `kafka.sasl` with SCRAM-SHA-512 when the
///   file sets none and the bridge is on.
/// - `MONGO_URL`: `persistence: {type: mongodb, url, database}` unless the file sets a type or
///   url; the database is the one the URL's path names, or `test` when it names none, which is
///   where the aedes broker (aedes-persistence-mongodb on the Node.js driver) kept its data.
/// - `WEBSOCKET_PORT`: an extra `ws` listener on 0.0.0.0 at that port, path `/`.
///
/// The first three fill gaps in the file before defaults apply; the listener changes come
/// after defaults, so they add to the default listener instead of replacing it.
struct EnvironmentSettingsOverlay {
    /// The database of a `MONGO_URL` without a path: the Node.js driver's default, which the
    /// aedes broker's persistence used.
    static let aedesDefaultDatabase = "test"

    var environment: [String: String]
    var overrides: ConfigOverrides

    /// Before defaults: fills kafka and persistence from the environment where the file is silent.
    func applyBeforeDefaults(to document: inout ConfigNode, _ problems: inout [ConfigProblem]) {
        let brokers = nonEmpty("KAFKA_BROKERS")
        if let brokers, !(document["kafka"]?.hasMember("brokers") ?? false) {
            document.editMember("kafka") { $0.setMember("brokers", to: ConfigNode(.string(brokers))) }
        }
        let username = nonEmpty("KAFKA_SASL_USERNAME")
        let password = environment["KAFKA_SASL_PASSWORD"]
        switch (username, password) {
        case (let username?, let password?):
            if document.hasMember("kafka"), !(document["kafka"]?.hasMember("sasl") ?? false) {
                document.editMember("kafka") { kafka in
                    kafka.setMember("sasl", to: [
                        "mechanism": "SCRAM-SHA-512", "username": ConfigNode(.string(username)),
                        "password": ConfigNode(.string(password)),
                    ])
                }
            }
        case (nil, _?):
            problems.append(ConfigProblem(path: "KAFKA_SASL_PASSWORD", message: "is set but KAFKA_SASL_USERNAME is not"))
        case (_?, nil):
            problems.append(ConfigProblem(path: "KAFKA_SASL_USERNAME", message: "is set but KAFKA_SASL_PASSWORD is not"))
        case (nil, nil):
            break
        }
        if let url = nonEmpty("MONGO_URL") {
            let persistence = document["persistence"]
            if !(persistence?.hasMember("type") ?? false) && !(persistence?.hasMember("url") ?? false) {
                do {
                    let connection = try MongoConnectionString(url)
                    let database = persistence?["database"]?.value.stringValue ?? connection.pathDatabase ?? Self.aedesDefaultDatabase
                    document.editMember("persistence") { persistence in
                        persistence.setMember("type", to: "mongodb")
                        persistence.setMember("url", to: ConfigNode(.string(url)))
                        persistence.setMember("database", to: ConfigNode(.string(database)))
                    }
                } catch {
                    problems.append(ConfigProblem(path: "MONGO_URL", message: error.message))
                }
            }
        }
    }

    /// After defaults: adds the `WEBSOCKET_PORT` listener and applies `--port`/`--shards`.
    func applyAfterDefaults(to document: inout ConfigNode, _ problems: inout [ConfigProblem]) {
        var listeners = document["listeners"]?.value.elements ?? []
        if let text = nonEmpty("WEBSOCKET_PORT") {
            if let port = Int(text), (1...65535).contains(port) {
                let exists = listeners.contains { $0["protocol"]?.value == .string("ws") && $0["port"]?.value == .int(port) }
                if !exists {
                    listeners.append(["protocol": "ws", "host": "0.0.0.0", "port": ConfigNode(.int(port)), "path": "/"])
                }
            } else {
                problems.append(ConfigProblem(path: "WEBSOCKET_PORT", message: "expected a port number 1...65535, found \"\(text)\""))
            }
        }
        if let port = overrides.port {
            if (1...65535).contains(port) {
                if let index = listeners.firstIndex(where: { $0["protocol"]?.value == .string("mqtt") }) {
                    listeners[index].setMember("port", to: ConfigNode(.int(port)))
                } else {
                    listeners.append(["protocol": "mqtt", "host": "0.0.0.0", "port": ConfigNode(.int(port)), "path": "/"])
                }
            } else {
                problems.append(ConfigProblem(path: "--port", message: "\(port) is not a port number (1...65535)"))
            }
        }
        document.setMember("listeners", to: ConfigNode(.array(listeners), location: document["listeners"]?.location))
        if let shards = overrides.shards {
            if (1...1024).contains(shards) {
                document.setMember("shards", to: ConfigNode(.int(shards)))
            } else {
                problems.append(ConfigProblem(path: "--shards", message: "\(shards) is not between 1 and 1024"))
            }
        }
    }

    private func nonEmpty(_ name: String) -> String? {
        guard let value = environment[name], !value.isEmpty else { return nil }
        return value
    }
}
