@testable import BrokerConfig
import Testing

/// Each supported JSON Schema keyword, against a small schema, passing and failing.
@Suite struct SchemaValidatorKeywordTests {
    /// Validates YAML `instance` against JSON `schema`; returns the printed problems.
    private func problems(_ schema: String, _ instance: String) throws -> [String] {
        try validate(schema, instance).problems.map(\.description)
    }

    private func validate(_ schema: String, _ instance: String) throws -> SchemaValidationResult {
        let validator = try JSONSchemaValidator(schemaText: schema)
        return validator.validate(try YAMLDocumentParser.parse(instance))
    }

    @Test func type() throws {
        #expect(try problems(#"{"type": "integer"}"#, "5") == [])
        #expect(try problems(#"{"type": "integer"}"#, "5.0") == [])
        #expect(try problems(#"{"type": "number"}"#, "5") == [])
        #expect(try problems(#"{"type": ["string", "null"]}"#, "~") == [])
        #expect(try problems(#"{"type": "integer"}"#, #""5""#) == [#"expected an integer, found a string ("5")"#])
        #expect(try problems(#"{"type": "object"}"#, "[1]") == ["expected a mapping, found a list"])
        #expect(try problems(#"{"type": "boolean"}"#, "1.5") == ["expected a boolean, found a number (1.5)"])
    }

    @Test func typeConvertsUnquotedScalarsToStrings() throws {
        let result = try validate(#"{"type": "string"}"#, "1.2")
        #expect(result.problems == [])
        #expect(result.value.value == .string("1.2"))
    }

    @Test func properties() throws {
        let schema = #"{"properties": {"port": {"type": "integer"}}}"#
        #expect(try problems(schema, "port: 1") == [])
        #expect(try problems(schema, "port: x") == [#"port: expected an integer, found a string ("x")"#])
    }

    @Test func required() throws {
        let schema = #"{"type": "object", "required": ["port", "host"]}"#
        #expect(try problems(schema, "{port: 1, host: h}") == [])
        #expect(try problems(schema, "{}") == ["port: required key is missing", "host: required key is missing"])
    }

    @Test func additionalPropertiesFalse() throws {
        let schema = #"{"properties": {"protocol": {}, "port": {}}, "additionalProperties": false}"#
        #expect(try problems(schema, "{port: 1}") == [])
        #expect(try problems(schema, "{prot: 1}") == ["prot: unknown key (expected one of: protocol, port)"])
    }

    @Test func additionalPropertiesSchema() throws {
        let schema = #"{"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}"#
        #expect(try problems(schema, "{a: x, b: 2}") == [])
        #expect(try problems(schema, "{a: x, b: y}") == [#"b: expected an integer, found a string ("y")"#])
    }

    @Test func items() throws {
        let schema = #"{"items": {"type": "integer", "maximum": 10}}"#
        #expect(try problems(schema, "[1, 2]") == [])
        #expect(try problems(schema, "[1, 20, x]") == [
            "[1]: 20 is greater than the maximum 10", #"[2]: expected an integer, found a string ("x")"#,
        ])
    }

    @Test func enumKeyword() throws {
        let schema = #"{"enum": ["mqtt", "ws"]}"#
        #expect(try problems(schema, "ws") == [])
        #expect(try problems(schema, "udp") == [#""udp" is not one of: mqtt, ws"#])
    }

    @Test func const() throws {
        #expect(try problems(#"{"const": "auto"}"#, "auto") == [])
        #expect(try problems(#"{"const": 1}"#, "1.0") == [])
        #expect(try problems(#"{"const": "auto"}"#, "manual") == [#"expected "auto", found "manual""#])
    }

    @Test func pattern() throws {
        let schema = #"{"type": "string", "pattern": "^\\$2[aby]\\$\\d\\d\\$.{53}$"}"#
        #expect(try problems(schema, "$2b$10$QHlYbMuAeiFoARhsfOCQNebH1.Yz.HkgvzkC//pU39wRTN5o5pDma") == [])
        #expect(try problems(schema, "secret") == [#"does not match the pattern ^\$2[aby]\$\d\d\$.{53}$"#])
        // Unanchored patterns match anywhere, as in ECMA-262; \d is ASCII only.
        #expect(try problems(#"{"pattern": "^\\d+$"}"#, "١٢") == [#"does not match the pattern ^\d+$"#])
        #expect(try problems(#"{"pattern": "b+"}"#, "abba") == [])
    }

    @Test func minimumAndMaximum() throws {
        let schema = #"{"minimum": 1, "maximum": 65535}"#
        #expect(try problems(schema, "1") == [])
        #expect(try problems(schema, "65535") == [])
        #expect(try problems(schema, "0") == ["0 is less than the minimum 1"])
        #expect(try problems(schema, "70000") == ["70000 is greater than the maximum 65535"])
    }

    @Test func exclusiveMinimumAndMaximum() throws {
        let schema = #"{"exclusiveMinimum": 0, "exclusiveMaximum": 1.5}"#
        #expect(try problems(schema, "0.5") == [])
        #expect(try problems(schema, "0") == ["0 is not greater than the exclusive minimum 0"])
        #expect(try problems(schema, "1.5") == ["1.5 is not less than the exclusive maximum 1.5"])
    }

    @Test func minLengthAndMaxLength() throws {
        let schema = #"{"minLength": 2, "maxLength": 3}"#
        #expect(try problems(schema, "ab") == [])
        #expect(try problems(schema, "äöü") == [])
        #expect(try problems(schema, "a") == ["is 1 characters long, shorter than the minimum length 2"])
        #expect(try problems(schema, "abcd") == ["is 4 characters long, longer than the maximum length 3"])
    }

    @Test func minItemsAndMaxItems() throws {
        let schema = #"{"minItems": 1, "maxItems": 2}"#
        #expect(try problems(schema, "[1]") == [])
        #expect(try problems(schema, "[]") == ["has 0 items, fewer than the minimum 1"])
        #expect(try problems(schema, "[1, 2, 3]") == ["has 3 items, more than the maximum 2"])
    }

    @Test func uniqueItems() throws {
        let schema = #"{"uniqueItems": true}"#
        #expect(try problems(schema, "[1, 2, {a: 1, b: 2}, {b: 2, a: 3}]") == [])
        #expect(try problems(schema, "[1, 2, 1.0]") == ["items [0] and [2] are equal, but items must be unique"])
        #expect(try problems(schema, "[{a: 1, b: 2}, {b: 2, a: 1}]") == ["items [0] and [1] are equal, but items must be unique"])
    }

    @Test func oneOf() throws {
        let schema = #"{"oneOf": [{"type": "string", "const": "auto"}, {"type": "integer", "minimum": 1, "maximum": 1024}]}"#
        #expect(try problems(schema, "auto") == [])
        #expect(try problems(schema, "8") == [])
        // The integer alternative is the one meant: its own message is shown.
        #expect(try problems(schema, "2000") == ["2000 is greater than the maximum 1024"])
        #expect(try problems(schema, "manual") == [#"expected "auto", found "manual""#])
        #expect(try problems(#"{"oneOf": [{"minimum": 1}, {"maximum": 10}]}"#, "5") == [
            "matches more than one alternative (1, 2) where exactly one is allowed",
        ])
    }

    @Test func anyOf() throws {
        let schema = #"{"anyOf": [{"required": ["jwks_url"]}, {"required": ["issuer"]}]}"#
        #expect(try problems(schema, "{issuer: x}") == [])
        #expect(try problems(schema, "{jwks_url: x, issuer: y}") == [])
        #expect(try problems(schema, "{audience: x}") == [
            "does not match any of the alternatives: jwks_url: required key is missing | issuer: required key is missing",
        ])
    }

    @Test func allOf() throws {
        let schema = #"{"allOf": [{"minimum": 1}, {"maximum": 10}]}"#
        #expect(try problems(schema, "5") == [])
        #expect(try problems(schema, "0") == ["0 is less than the minimum 1"])
        #expect(try problems(schema, "11") == ["11 is greater than the maximum 10"])
    }

    @Test func not() throws {
        #expect(try problems(#"{"not": {"type": "string"}}"#, "1") == [])
        #expect(try problems(#"{"not": {"type": "string"}}"#, "x") == ["must not match the schema under 'not'"])
    }

    @Test func ifThenElse() throws {
        let schema = #"""
            {"if": {"properties": {"protocol": {"enum": ["mqtts"]}}, "required": ["protocol"]},
             "then": {"required": ["tls"]},
             "else": {"properties": {"tls": false}}}
            """#
        #expect(try problems(schema, "{protocol: mqtts, tls: {}}") == [])
        #expect(try problems(schema, "{protocol: mqtt}") == [])
        #expect(try problems(schema, "{protocol: mqtts}") == ["tls: required key is missing"])
        #expect(try problems(schema, "{protocol: mqtt, tls: {}}") == ["tls: is not allowed"])
    }

    @Test func refToDefinitions() throws {
        let schema = #"""
            {"properties": {"port": {"$ref": "#/definitions/port"}},
             "definitions": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}}}
            """#
        #expect(try problems(schema, "port: 1883") == [])
        #expect(try problems(schema, "port: 0") == ["port: 0 is less than the minimum 1"])
        #expect(try problems(##"{"$ref": "#/definitions/missing"}"##, "1") == ["schema error: cannot resolve #/definitions/missing"])
    }

    @Test func defaultsFillMissingKeysRecursively() throws {
        let schema = #"""
            {"properties": {
                "host": {"type": "string", "default": "0.0.0.0"},
                "limits": {"$ref": "#/definitions/limits", "default": {}}},
             "definitions": {"limits": {"properties": {"max": {"type": "integer", "default": 20}}}}}
            """#
        let result = try validate(schema, "{}")
        #expect(result.problems == [])
        #expect(result.value == ["host": "0.0.0.0", "limits": ["max": 20]])
        // Given values win over defaults.
        #expect(try validate(schema, "{host: h, limits: {max: 3}}").value == ["host": "h", "limits": ["max": 3]])
    }

    @Test func booleanSchemas() throws {
        #expect(try problems("true", "anything") == [])
        #expect(try problems("false", "anything") == ["is not allowed"])
    }

    @Test func allProblemsAreCollected() throws {
        let schema = #"""
            {"type": "object", "additionalProperties": false, "required": ["a"],
             "properties": {"a": {"type": "integer"}, "b": {"type": "string", "enum": ["x"]}, "c": {"maximum": 1}}}
            """#
        #expect(try problems(schema, "{b: y, c: 2, d: 1}") == [
            "a: required key is missing", #"b: "y" is not one of: x"#, "c: 2 is greater than the maximum 1",
            "d: unknown key (expected one of: a, b, c)",
        ])
    }
}
