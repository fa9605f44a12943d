import BrokerConfig
import Foundation
import Testing

@Suite struct SchemaFileTests {
    @Test func bundledSchemaIsAnIdenticalCopyOfTheCanonicalOne() throws {
        let canonical = try #require(FileManager.default.contents(atPath: RepositoryFiles.path("config/config.schema.json")))
        let bundled = try #require(FileManager.default.contents(
            atPath: RepositoryFiles.path("Sources/BrokerConfig/Resources/config.schema.json")))
        #expect(canonical == bundled, "copy config/config.schema.json to Sources/BrokerConfig/Resources/")
    }

    @Test func bundledSchemaLoads() throws {
        let validator = try ConfigLoader.bundledSchemaValidator()
        #expect(validator.schema["definitions"]?["legacy"] != nil)
        #expect(validator.validate(["listeners": [["port": 1883]]]).isValid)
    }
}
