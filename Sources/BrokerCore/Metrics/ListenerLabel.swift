/// How metrics name one configured listener: `name` is its address as the start-up log prints it
/// (`mqtt://0.0.0.0:1883`), `transport` one of mqtt, mqtts, ws, wss.
public struct ListenerLabel: Sendable, Equatable {
    public let name: String
    public let transport: String

    public init(name: String, transport: String) {
        self.name = name
        self.transport = transport
    }
}
