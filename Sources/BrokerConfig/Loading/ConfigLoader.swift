import Foundation

/// Loads the broker configuration: file (or embedded defaults), environment, overrides.
///
/// Steps: parse YAML → interpolate `${VAR}` → if the old layout, validate it against
/// `#/definitions/legacy` and translate → fill gaps from the old broker's environment
/// variables → validate against the schema, applying defaults → add `WEBSOCKET_PORT` and
/// command-line overrides → validate again → decode. Each step reports all its problems.
package enum ConfigLoader {
    /// Loads the file at `path`; nil loads the embedded defaults (an empty document).
    package static func load(
        path: String?, environment: [String: String], overrides: ConfigOverrides = ConfigOverrides()
    ) throws(ConfigLoadError) -> BrokerConfiguration {
        guard let path else {
            return try load(yaml: "", file: nil, environment: environment, overrides: overrides)
        }
        return try load(yaml: try readFile(path), file: path, environment: environment, overrides: overrides)
    }

    /// Loads configuration text; `file` names it in messages.
    package static func load(
        yaml text: String, file: String? = nil, environment: [String: String], overrides: ConfigOverrides = ConfigOverrides()
    ) throws(ConfigLoadError) -> BrokerConfiguration {
        let tree = try effectiveTree(yaml: text, file: file, environment: environment, overrides: overrides)
        do {
            return try ConfigurationDecoder.decode(tree)
        } catch {
            throw ConfigLoadError(file: file, problems: [error])
        }
    }

    /// The validated configuration tree in the current layout with every default filled in,
    /// for showing the effective configuration.
    package static func effectiveTree(
        yaml text: String, file: String? = nil, environment: [String: String], overrides: ConfigOverrides = ConfigOverrides()
    ) throws(ConfigLoadError) -> ConfigNode {
        func fail(_ problems: [ConfigProblem]) -> ConfigLoadError { ConfigLoadError(file: file, problems: problems) }
        let validator = try bundledSchemaValidator()

        var document: ConfigNode
        do {
            document = try YAMLDocumentParser.parse(text)
        } catch {
            throw fail([ConfigProblem(
                path: file ?? "", message: "YAML syntax error at \(error.location): \(error.message)", location: error.location)])
        }
        if document.value == .null { document.value = .object([]) }
        guard case .object = document.value else {
            throw fail([ConfigProblem(
                path: "", message: "expected a mapping at the top level, found \(document.value.kindAndValue)", location: document.location)])
        }

        var problems: [ConfigProblem] = []
        document = EnvironmentInterpolator(environment: environment).interpolate(document, &problems)
        guard problems.isEmpty else { throw fail(problems) }

        let isLegacy = LegacyLayoutTranslator.isLegacy(document)
        if isLegacy {
            let legacy = validator.validate(document, against: "#/definitions/legacy")
            guard legacy.isValid else { throw fail(legacy.problems) }
            document = LegacyLayoutTranslator.translate(legacy.value)
        }

        let overlay = EnvironmentSettingsOverlay(environment: environment, overrides: overrides)
        overlay.applyBeforeDefaults(to: &document, &problems)
        if isLegacy { LegacyLayoutTranslator.fillKafkaBrokers(in: &document) }
        let defaulted = validator.validate(document)
        problems += defaulted.problems
        guard problems.isEmpty else { throw fail(problems) }

        document = defaulted.value
        overlay.applyAfterDefaults(to: &document, &problems)
        guard problems.isEmpty else { throw fail(problems) }
        let final = validator.validate(document)
        guard final.isValid else { throw fail(final.problems) }
        return final.value
    }

    /// The validator for the schema compiled into the binary (see `EmbeddedSchema`).
    package static func bundledSchemaValidator() throws(ConfigLoadError) -> JSONSchemaValidator {
        try bundledSchema.get()
    }

    /// The text of the compiled-in schema: config/config.schema.json at build time.
    package static var bundledSchemaText: String { EmbeddedSchema.text + "\n" }

    // Parsed once per process: the schema does not change while the broker runs.
    private static let bundledSchema: Result<JSONSchemaValidator, ConfigLoadError> = Result {
        () throws(ConfigLoadError) -> JSONSchemaValidator in try JSONSchemaValidator(schemaText: bundledSchemaText)
    }

    private static func readFile(_ path: String) throws(ConfigLoadError) -> String {
        func fail(_ message: String) -> ConfigLoadError {
            ConfigLoadError(file: path, problems: [ConfigProblem(path: path, message: message)])
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw fail("file not found") }
        guard !isDirectory.boolValue else { throw fail("is a directory, not a configuration file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read the file (permission denied?)") }
        guard let text = String(data: data, encoding: .utf8) else { throw fail("is not UTF-8 text") }
        return text
    }
}
