import BrokerConfig
import BrokerRuntime
import Foundation
import Testing

@Suite struct ExampleConfigurationTests {
    @Test func exampleConfigDocumentsEverySchemaKey() throws {
        let schema = try ConfigLoader.bundledSchemaValidator().schema
        var keys: Set<String> = []
        func collect(_ node: ConfigNode) {
            for member in node["properties"]?.value.members ?? [] {
                keys.insert(member.key)
                collect(member.node)
            }
        }
        collect(schema)
        for definition in schema["definitions"]?.value.members ?? [] where definition.key != "legacy" {
            collect(definition.node)
        }
        let text = try String(contentsOfFile: RepositoryFiles.path("config/config.yaml"), encoding: .utf8)
        let undocumented = keys.filter { !text.contains("\($0):") }.sorted()
        #expect(undocumented == [])
    }

    @Test func exampleConfigReadsThePortFromTheEnvironment() throws {
        let configuration = try ConfigLoader.load(path: RepositoryFiles.path("config/config.yaml"), environment: ["MQTT_PORT": "1999"])
        #expect(configuration.runtime.listeners.map(\.port) == [1999])
    }
}
