/// Typed access to the members of a validated mapping, for decoding settings structs.
///
/// The schema has already checked types, so a mismatch here means the schema and the
/// decoder disagree; it is still reported as a problem rather than trapping.
struct ConfigObjectReader {
    let node: ConfigNode
    let path: ConfigPath

    init(_ node: ConfigNode, at path: ConfigPath) throws(ConfigProblem) {
        guard case .object = node.value else { throw ConfigProblem(path: path.description, message: "expected a mapping") }
        self.node = node
        self.path = path
    }

    func has(_ key: String) -> Bool {
        guard let value = node[key] else { return false }
        return value.value != .null
    }

    func optionalString(_ key: String) throws(ConfigProblem) -> String? {
        guard let value = node[key], value.value != .null else { return nil }
        guard case .string(let text) = value.value else { throw mismatch(key, "a string") }
        return text
    }

    func string(_ key: String) throws(ConfigProblem) -> String {
        guard let text = try optionalString(key) else { throw missing(key) }
        return text
    }

    func int(_ key: String) throws(ConfigProblem) -> Int {
        guard let value = node[key] else { throw missing(key) }
        guard case .int(let number) = value.value else { throw mismatch(key, "an integer") }
        return number
    }

    func bool(_ key: String) throws(ConfigProblem) -> Bool {
        guard let value = node[key] else { throw missing(key) }
        guard case .bool(let flag) = value.value else { throw mismatch(key, "a boolean") }
        return flag
    }

    func strings(_ key: String) throws(ConfigProblem) -> [String] {
        var result: [String] = []
        for (index, element) in try array(key).enumerated() {
            guard case .string(let text) = element.value else {
                throw ConfigProblem(path: path.appending(key: key).appending(index: index).description, message: "expected a string")
            }
            result.append(text)
        }
        return result
    }

    /// The elements of a list member; an absent member is an empty list.
    func array(_ key: String) throws(ConfigProblem) -> [ConfigNode] {
        guard let value = node[key], value.value != .null else { return [] }
        guard case .array(let elements) = value.value else { throw mismatch(key, "a list") }
        return elements
    }

    /// A nested mapping, or nil when absent.
    func object(_ key: String) throws(ConfigProblem) -> ConfigObjectReader? {
        guard let value = node[key], value.value != .null else { return nil }
        return try ConfigObjectReader(value, at: path.appending(key: key))
    }

    /// Each element of a list member read as a mapping.
    func objects(_ key: String) throws(ConfigProblem) -> [ConfigObjectReader] {
        var readers: [ConfigObjectReader] = []
        for (index, element) in try array(key).enumerated() {
            readers.append(try ConfigObjectReader(element, at: path.appending(key: key).appending(index: index)))
        }
        return readers
    }

    /// A string member converted to a raw-valued enum.
    func choice<Choice: RawRepresentable>(_ key: String, as type: Choice.Type) throws(ConfigProblem) -> Choice
    where Choice.RawValue == String {
        let text = try string(key)
        guard let choice = Choice(rawValue: text) else {
            throw ConfigProblem(path: path.appending(key: key).description, message: "unsupported value \"\(text)\"")
        }
        return choice
    }

    private func missing(_ key: String) -> ConfigProblem {
        ConfigProblem(path: path.appending(key: key).description, message: "required key is missing")
    }

    private func mismatch(_ key: String, _ expected: String) -> ConfigProblem {
        ConfigProblem(path: path.appending(key: key).description, message: "expected \(expected)", location: node[key]?.location)
    }
}
