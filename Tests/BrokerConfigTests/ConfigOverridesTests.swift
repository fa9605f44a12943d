import BrokerConfig
import BrokerRuntime
import Testing

@Suite struct ConfigOverridesTests {
    @Test func portOverrideChangesTheFirstPlainMQTTListener() throws {
        let configuration = try ConfigLoader.load(
            yaml: "listeners: [{protocol: ws, port: 8080}, {protocol: mqtt, port: 1883}, {protocol: mqtt, port: 1884}]",
            environment: [:], overrides: ConfigOverrides(port: 2883))
        #expect(configuration.runtime.listeners.map(\.port) == [8080, 2883, 1884])
    }

    @Test func portOverrideChangesTheDefaultListener() throws {
        let configuration = try ConfigLoader.load(path: nil, environment: [:], overrides: ConfigOverrides(port: 11883))
        #expect(configuration.runtime.listeners == [ListenerSpec(transport: .mqtt, port: 11883)])
    }

    @Test func portOverrideAddsAListenerWhenThereIsNoPlainMQTTOne() throws {
        let configuration = try ConfigLoader.load(
            yaml: "listeners: [{protocol: mqtts, port: 8883, tls: {cert: c, key: k}}]",
            environment: [:], overrides: ConfigOverrides(port: 1883))
        #expect(configuration.runtime.listeners.map(\.transport) == [.mqtts, .mqtt])
        #expect(configuration.runtime.listeners[1] == ListenerSpec(transport: .mqtt, host: "0.0.0.0", port: 1883, path: "/"))
    }

    @Test func shardsOverrideWins() throws {
        let configuration = try ConfigLoader.load(yaml: "shards: 2", environment: [:], overrides: ConfigOverrides(shards: 8))
        #expect(configuration.runtime.shards == 8)
    }

    @Test func overridesOutOfRangeAreErrors() {
        #expect(throws: ConfigLoadError(file: nil, problems: [
            ConfigProblem(path: "--port", message: "70000 is not a port number (1...65535)"),
            ConfigProblem(path: "--shards", message: "0 is not between 1 and 1024"),
        ])) {
            try ConfigLoader.load(path: nil, environment: [:], overrides: ConfigOverrides(port: 70000, shards: 0))
        }
    }
}
