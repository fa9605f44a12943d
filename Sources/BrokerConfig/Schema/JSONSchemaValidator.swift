/// Validates configuration trees against a JSON Schema (draft-07 subset) and produces the
/// effective configuration with defaults applied.
///
/// Supported keywords: `type`, `properties`, `required`, `additionalProperties`, `items`,
/// `enum`, `const`, `pattern`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
/// `minLength`, `maxLength`, `minItems`, `maxItems`, `uniqueItems`, `allOf`, `anyOf`, `oneOf`,
/// `not`, `if`/`then`/`else`, `$ref` to pointers in the same document, boolean schemas, and
/// `default`. Other keywords are ignored. Unlike draft-07, keywords beside `$ref` are applied
/// too, so a property can say `{"$ref": …, "default": {}}`.
///
/// Every violation is collected; validation never stops at the first.
package struct JSONSchemaValidator: Sendable {
    /// The whole schema document; `$ref` pointers resolve against it.
    package let schema: ConfigNode
    /// Whether untyped scalars may be converted to the type a schema asks for. Off inside
    /// `not`: "must not be a string" should not be satisfied by reading `1` as "1".
    var convertsUntypedScalars = true

    package init(schema: ConfigNode) {
        self.schema = schema
    }

    /// Reads a schema written as JSON (or YAML).
    package init(schemaText: String) throws(ConfigLoadError) {
        do {
            schema = try YAMLDocumentParser.parse(schemaText)
        } catch {
            throw ConfigLoadError(file: "schema", problems: [
                ConfigProblem(path: "schema", message: "\(error.message) at \(error.location)", location: error.location),
            ])
        }
    }

    /// Validates `instance` against the subschema at `pointer` (`#` is the whole schema,
    /// `#/definitions/legacy` a definition).
    package func validate(_ instance: ConfigNode, against pointer: String = "#") -> SchemaValidationResult {
        guard let target = resolve(pointer) else {
            return SchemaValidationResult(value: instance, problems: [
                ConfigProblem(path: "", message: "schema error: cannot resolve \(pointer)"),
            ])
        }
        var violations: [SchemaViolation] = []
        let value = apply(target, to: instance, at: .root, &violations, depth: 0)
        return SchemaValidationResult(value: value, problems: violations.map(\.problem))
    }

    /// Finds the subschema a JSON pointer (`#/definitions/listener`) names.
    func resolve(_ pointer: String) -> ConfigNode? {
        guard pointer.hasPrefix("#") else { return nil }
        var node = schema
        for token in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let key = String(token).replacing("~1", with: "/").replacing("~0", with: "~")
            switch node.value {
            case .object:
                guard let child = node[key] else { return nil }
                node = child
            case .array(let elements):
                guard let index = Int(key), elements.indices.contains(index) else { return nil }
                node = elements[index]
            default:
                return nil
            }
        }
        return node
    }

    /// Applies one (sub)schema: checks it and returns the instance with defaults and type
    /// conversions applied. Keywords run as a pipeline, each on the previous one's output.
    func apply(
        _ schema: ConfigNode, to instance: ConfigNode, at path: ConfigPath,
        _ violations: inout [SchemaViolation], depth: Int
    ) -> ConfigNode {
        // A $ref cycle in a broken schema must not hang the loader.
        guard depth < 64 else {
            violations.append(SchemaViolation(path: path, message: "schema error: $ref nesting too deep", location: instance.location))
            return instance
        }
        switch schema.value {
        case .bool(true):
            return instance
        case .bool(false):
            violations.append(SchemaViolation(path: path, message: "is not allowed", location: instance.location))
            return instance
        case .object:
            break
        default:
            return instance
        }

        var current = instance
        if let reference = schema["$ref"]?.value.stringValue {
            if let target = resolve(reference) {
                current = apply(target, to: current, at: path, &violations, depth: depth + 1)
            } else {
                violations.append(SchemaViolation(path: path, message: "schema error: cannot resolve \(reference)", location: instance.location))
            }
        }
        if let typeNode = schema["type"] {
            guard let converted = conform(current, toType: typeNode, at: path, &violations) else { return current }
            current = converted
        }
        checkConstAndEnum(schema, current, at: path, &violations)
        checkNumber(schema, current, at: path, &violations)
        checkString(schema, current, at: path, &violations)
        current = applyArrayKeywords(schema, to: current, at: path, &violations, depth: depth)
        current = applyObjectKeywords(schema, to: current, at: path, &violations, depth: depth)
        current = applyCombinators(schema, to: current, at: path, &violations, depth: depth)
        return current
    }

    /// The `default` of a property schema, looking through `$ref`.
    func defaultValue(of schema: ConfigNode, depth: Int = 0) -> ConfigNode? {
        if let value = schema["default"] { return value }
        guard depth < 16, let reference = schema["$ref"]?.value.stringValue, let target = resolve(reference) else { return nil }
        return defaultValue(of: target, depth: depth + 1)
    }
}
