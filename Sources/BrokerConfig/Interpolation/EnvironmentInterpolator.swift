/// Replaces `${NAME}` and `${NAME:-default}` in string values with environment variables.
///
/// `:-` follows the shell: the default is used when the variable is unset or empty. `$${`
/// writes a literal `${`. A string that is exactly one `${…}` becomes an untyped scalar, so
/// the validator can turn `port: ${PORT:-1883}` into the integer the schema wants.
struct EnvironmentInterpolator {
    var environment: [String: String]

    /// Interpolates every string in the tree; problems name the path of the string.
    func interpolate(_ node: ConfigNode, at path: ConfigPath = .root, _ problems: inout [ConfigProblem]) -> ConfigNode {
        var result = node
        switch node.value {
        case .string(let text) where text.contains("${"):
            do {
                let (value, isWholeReference) = try expand(text)
                result.value = .string(value)
                result.untypedText = isWholeReference ? value : nil
            } catch {
                problems.append(ConfigProblem(path: path.description, message: error.message, location: node.location))
            }
        case .array(let elements):
            result.value = .array(elements.enumerated().map { index, element in
                interpolate(element, at: path.appending(index: index), &problems)
            })
        case .object(let members):
            result.value = .object(members.map { member in
                var copy = member
                copy.node = interpolate(member.node, at: path.appending(key: member.key), &problems)
                return copy
            })
        default:
            break
        }
        return result
    }

    /// Why a string could not be expanded.
    struct ExpansionError: Error {
        var message: String
    }

    /// Expands one string; also says whether it consisted of exactly one reference.
    func expand(_ text: String) throws(ExpansionError) -> (String, Bool) {
        var output = ""
        var referenceCount = 0
        var literalCount = 0
        var index = text.startIndex
        while index < text.endIndex {
            let rest = text[index...]
            if rest.hasPrefix("$${") {
                output += "${"
                literalCount += 1
                index = text.index(index, offsetBy: 3)
            } else if rest.hasPrefix("${") {
                guard let close = rest.firstIndex(of: "}") else {
                    throw ExpansionError(message: "unterminated '${' (expected '${NAME}' or '${NAME:-default}')")
                }
                let body = text[text.index(index, offsetBy: 2)..<close]
                output += try resolve(body)
                referenceCount += 1
                index = text.index(after: close)
            } else {
                output.append(text[index])
                literalCount += 1
                index = text.index(after: index)
            }
        }
        return (output, referenceCount == 1 && literalCount == 0)
    }

    private func resolve(_ body: Substring) throws(ExpansionError) -> String {
        let name: Substring
        let fallback: Substring?
        if let separator = body.firstRange(of: ":-") {
            name = body[..<separator.lowerBound]
            fallback = body[separator.upperBound...]
        } else {
            name = body
            fallback = nil
        }
        guard name.wholeMatch(of: /[A-Za-z_][A-Za-z0-9_]*/) != nil else {
            throw ExpansionError(message: "'${\(body)}' is not a valid reference (expected '${NAME}' or '${NAME:-default}')")
        }
        if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
            return value
        }
        if let fallback { return String(fallback) }
        throw ExpansionError(message: "environment variable \(name) is not set (use ${\(name):-default} to give a default)")
    }
}
