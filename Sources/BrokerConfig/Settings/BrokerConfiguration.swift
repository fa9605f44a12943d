public import BrokerCore
public import BrokerRuntime

/// The whole effective broker configuration: the file (or the defaults), the environment
/// and command-line overrides, validated and with every default filled in.
///
/// `BrokerConfiguration()` equals what `ConfigLoader` gives with no file (a test pins this).
public struct BrokerConfiguration: Sendable, Equatable {
    public var core: CoreSettings
    public var runtime: RuntimeSettings
    public var auth: AuthSettings
    public var acl: [AclRule]
    public var persistence: PersistenceSettings
    /// The Kafka bridge; nil when it is off.
    public var kafka: KafkaSettings?
    /// The metrics endpoint; nil when it is off.
    public var metrics: MetricsSettings?
    public var log: LogSettings

    public init(
        core: CoreSettings = CoreSettings(), runtime: RuntimeSettings = RuntimeSettings(), auth: AuthSettings = AuthSettings(),
        acl: [AclRule] = [], persistence: PersistenceSettings = .memory, kafka: KafkaSettings? = nil,
        metrics: MetricsSettings? = nil, log: LogSettings = LogSettings()
    ) {
        self.core = core
        self.runtime = runtime
        self.auth = auth
        self.acl = acl
        self.persistence = persistence
        self.kafka = kafka
        self.metrics = metrics
        self.log = log
    }
}
