extension JSONSchemaValidator {
    /// `type`: returns the instance, converted when it was an untyped scalar the schema wants
    /// as another type, or nil (after recording why) when it does not fit.
    func conform(
        _ instance: ConfigNode, toType typeNode: ConfigNode, at path: ConfigPath, _ violations: inout [SchemaViolation]
    ) -> ConfigNode? {
        let types: [String] = typeNode.value.stringValue.map { [$0] } ?? (typeNode.value.elements ?? []).compactMap(\.value.stringValue)
        if let accepted = Self.accept(instance, asAnyOf: types) { return accepted }
        if convertsUntypedScalars, let text = instance.untypedText {
            for type in types {
                if let converted = Self.convert(text, original: instance.value, to: type) {
                    return ConfigNode(converted, location: instance.location)
                }
            }
        }
        let expected = types.map(ConfigValue.describeSchemaType).joined(separator: " or ")
        violations.append(SchemaViolation(
            path: path, message: "expected \(expected), found \(instance.value.kindAndValue)",
            location: instance.location, isTypeMismatch: true))
        return nil
    }

    private static func accept(_ instance: ConfigNode, asAnyOf types: [String]) -> ConfigNode? {
        let actual = instance.value.schemaTypeName
        if types.contains(actual) { return instance }
        if actual == "integer", types.contains("number") { return instance }
        // Draft-07: 3.0 is an integer.
        if case .double(let number) = instance.value, types.contains("integer"),
            number.rounded() == number, let integer = Int(exactly: number)
        {
            var converted = instance
            converted.value = .int(integer)
            return converted
        }
        return nil
    }

    private static func convert(_ text: String, original: ConfigValue, to type: String) -> ConfigValue? {
        switch type {
        case "string":
            // An empty plain scalar is null, never the empty string.
            if case .null = original { return nil }
            return .string(text)
        case "integer":
            if case .int(let value) = YAMLScalarResolver.resolvePlain(text) { return .int(value) }
            return nil
        case "number":
            switch YAMLScalarResolver.resolvePlain(text) {
            case .int(let value): return .int(value)
            case .double(let value): return .double(value)
            default: return nil
            }
        case "boolean":
            if case .bool(let value) = YAMLScalarResolver.resolvePlain(text) { return .bool(value) }
            return nil
        case "null":
            if case .null = YAMLScalarResolver.resolvePlain(text) { return .null }
            return nil
        default:
            return nil
        }
    }

    func checkConstAndEnum(_ schema: ConfigNode, _ instance: ConfigNode, at path: ConfigPath, _ violations: inout [SchemaViolation]) {
        if let expected = schema["const"], !instance.value.isSchemaEqual(to: expected.value) {
            violations.append(SchemaViolation(
                path: path, message: "expected \(expected.value.rendered), found \(instance.value.rendered)", location: instance.location))
        }
        if let allowed = schema["enum"]?.value.elements, !allowed.contains(where: { instance.value.isSchemaEqual(to: $0.value) }) {
            let list = allowed.map { $0.value.stringValue ?? $0.value.rendered }.joined(separator: ", ")
            violations.append(SchemaViolation(
                path: path, message: "\(instance.value.rendered) is not one of: \(list)", location: instance.location))
        }
    }

    func checkNumber(_ schema: ConfigNode, _ instance: ConfigNode, at path: ConfigPath, _ violations: inout [SchemaViolation]) {
        guard let number = instance.value.numericValue else { return }
        let shown = instance.value.rendered
        func limit(_ keyword: String) -> (value: Double, shown: String)? {
            guard let node = schema[keyword], let value = node.value.numericValue else { return nil }
            return (value, node.value.rendered)
        }
        func report(_ message: String) {
            violations.append(SchemaViolation(path: path, message: message, location: instance.location))
        }
        if let minimum = limit("minimum"), number < minimum.value {
            report("\(shown) is less than the minimum \(minimum.shown)")
        }
        if let maximum = limit("maximum"), number > maximum.value {
            report("\(shown) is greater than the maximum \(maximum.shown)")
        }
        if let minimum = limit("exclusiveMinimum"), number <= minimum.value {
            report("\(shown) is not greater than the exclusive minimum \(minimum.shown)")
        }
        if let maximum = limit("exclusiveMaximum"), number >= maximum.value {
            report("\(shown) is not less than the exclusive maximum \(maximum.shown)")
        }
    }

    /// String keywords. Messages do not repeat the value: it may be a password.
    func checkString(_ schema: ConfigNode, _ instance: ConfigNode, at path: ConfigPath, _ violations: inout [SchemaViolation]) {
        guard case .string(let text) = instance.value else { return }
        func report(_ message: String) {
            violations.append(SchemaViolation(path: path, message: message, location: instance.location))
        }
        // JSON Schema counts characters as code points.
        let length = text.unicodeScalars.count
        if case .int(let minimum) = schema["minLength"]?.value, length < minimum {
            report("is \(length) characters long, shorter than the minimum length \(minimum)")
        }
        if case .int(let maximum) = schema["maxLength"]?.value, length > maximum {
            report("is \(length) characters long, longer than the maximum length \(maximum)")
        }
        if let pattern = schema["pattern"]?.value.stringValue {
            do {
                // Closer to ECMA-262, which JSON Schema patterns follow: `\d` and `\w` are
                // ASCII-only and `.` matches one code point, not a grapheme cluster.
                let regex = try Regex(pattern).asciiOnlyDigits().asciiOnlyWordCharacters().matchingSemantics(.unicodeScalar)
                // JSON Schema patterns are searched for, not anchored, unless they say ^…$.
                if text.firstMatch(of: regex) == nil {
                    report("does not match the pattern \(pattern)")
                }
            } catch {
                report("schema error: invalid pattern \(pattern)")
            }
        }
    }

    /// `items`, `minItems`, `maxItems`, `uniqueItems`.
    func applyArrayKeywords(
        _ schema: ConfigNode, to instance: ConfigNode, at path: ConfigPath,
        _ violations: inout [SchemaViolation], depth: Int
    ) -> ConfigNode {
        guard case .array(var elements) = instance.value else { return instance }
        func report(_ message: String) {
            violations.append(SchemaViolation(path: path, message: message, location: instance.location))
        }
        if case .int(let minimum) = schema["minItems"]?.value, elements.count < minimum {
            report("has \(elements.count) items, fewer than the minimum \(minimum)")
        }
        if case .int(let maximum) = schema["maxItems"]?.value, elements.count > maximum {
            report("has \(elements.count) items, more than the maximum \(maximum)")
        }
        if case .bool(true) = schema["uniqueItems"]?.value {
            // Checked on the items as written: defaults must not make distinct items equal.
            duplicateSearch: for first in elements.indices {
                for second in elements.indices where second > first {
                    if elements[first].value.isSchemaEqual(to: elements[second].value) {
                        report("items [\(first)] and [\(second)] are equal, but items must be unique")
                        break duplicateSearch
                    }
                }
            }
        }
        if let items = schema["items"] {
            if case .array(let positional) = items.value {
                for index in elements.indices where index < positional.count {
                    elements[index] = apply(positional[index], to: elements[index], at: path.appending(index: index), &violations, depth: depth + 1)
                }
            } else {
                for index in elements.indices {
                    elements[index] = apply(items, to: elements[index], at: path.appending(index: index), &violations, depth: depth + 1)
                }
            }
        }
        var result = instance
        result.value = .array(elements)
        return result
    }

    /// `required`, `properties` (with defaults) and `additionalProperties`.
    func applyObjectKeywords(
        _ schema: ConfigNode, to instance: ConfigNode, at path: ConfigPath,
        _ violations: inout [SchemaViolation], depth: Int
    ) -> ConfigNode {
        guard case .object(var members) = instance.value else { return instance }
        if let required = schema["required"]?.value.elements {
            for key in required.compactMap(\.value.stringValue) where !members.contains(where: { $0.key == key }) {
                violations.append(SchemaViolation(
                    path: path.appending(key: key), message: "required key is missing", location: instance.location))
            }
        }
        let properties = schema["properties"]?.value.members ?? []
        for property in properties {
            let propertyPath = path.appending(key: property.key)
            if let index = members.firstIndex(where: { $0.key == property.key }) {
                members[index].node = apply(property.node, to: members[index].node, at: propertyPath, &violations, depth: depth + 1)
            } else if let fallback = defaultValue(of: property.node) {
                // Run the default through its schema too, so defaults nested inside it apply.
                let filled = apply(property.node, to: fallback, at: propertyPath, &violations, depth: depth + 1)
                members.append(ConfigMember(key: property.key, node: filled))
            }
        }
        if let additional = schema["additionalProperties"] {
            let known = properties.map(\.key)
            for index in members.indices where !known.contains(members[index].key) {
                let memberPath = path.appending(key: members[index].key)
                if case .bool(false) = additional.value {
                    let expected = known.isEmpty ? "no keys are allowed here" : "expected one of: \(known.joined(separator: ", "))"
                    violations.append(SchemaViolation(
                        path: memberPath, message: "unknown key (\(expected))",
                        location: members[index].keyLocation ?? members[index].node.location))
                } else {
                    members[index].node = apply(additional, to: members[index].node, at: memberPath, &violations, depth: depth + 1)
                }
            }
        }
        var result = instance
        result.value = .object(members)
        return result
    }
}
