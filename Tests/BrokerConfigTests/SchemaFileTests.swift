import BrokerConfig
import Foundation
import Testing

@Suite struct SchemaFileTests {
    @Test func compiledInSchemaIsTheCanonicalOne() throws {
        let canonical = try #require(FileManager.default.contents(atPath: RepositoryFiles.path("config/config.schema.json")))
        #expect(
            canonical == Data(ConfigLoader.bundledSchemaText.utf8),
            "run Tests/tools/embed-schema.sh after editing config/config.schema.json")
    }

    @Test func bundledSchemaLoads() throws {
        let validator = try ConfigLoader.bundledSchemaValidator()
        #expect(validator.schema["definitions"]?["legacy"] != nil)
        #expect(validator.validate(["listeners": [["port": 1883]]]).isValid)
    }
}
