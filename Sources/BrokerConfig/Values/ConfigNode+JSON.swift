extension ConfigNode {
    /// The value as indented JSON with keys in their original order, for printing the
    /// effective configuration (`--print-config`) in a form any tool can read.
    package func jsonText(indent: String = "  ") -> String {
        var output = ""
        writeJSON(to: &output, depth: 0, indent: indent)
        return output
    }

    private func writeJSON(to output: inout String, depth: Int, indent: String) {
        let inner = String(repeating: indent, count: depth + 1)
        let outer = String(repeating: indent, count: depth)
        switch value {
        case .null: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .int(let number): output += String(number)
        // JSON has no infinities or NaN.
        case .double(let number): output += number.isFinite ? String(number) : "null"
        case .string(let text): output += Self.jsonQuoted(text)
        case .array(let elements):
            guard !elements.isEmpty else { output += "[]"; return }
            output += "[\n"
            for (index, element) in elements.enumerated() {
                output += inner
                element.writeJSON(to: &output, depth: depth + 1, indent: indent)
                output += index == elements.count - 1 ? "\n" : ",\n"
            }
            output += outer + "]"
        case .object(let members):
            guard !members.isEmpty else { output += "{}"; return }
            output += "{\n"
            for (index, member) in members.enumerated() {
                output += inner + Self.jsonQuoted(member.key) + ": "
                member.node.writeJSON(to: &output, depth: depth + 1, indent: indent)
                output += index == members.count - 1 ? "\n" : ",\n"
            }
            output += outer + "}"
        }
    }

    private static func jsonQuoted(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
