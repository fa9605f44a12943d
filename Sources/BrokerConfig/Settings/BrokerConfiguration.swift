import BrokerAuth
import BrokerCore
import BrokerKafka
import BrokerMongo
import BrokerRuntime

/// The whole effective broker configuration: the file (or the defaults), the environment
/// and command-line overrides, validated and with every default filled in.
///
/// `BrokerConfiguration()` equals what `ConfigLoader` gives with no file (a test pins this).
/// Each section decodes straight into the settings type of the module that uses it; no
/// setting has a second home here.
package struct BrokerConfiguration: Sendable, Equatable {
    package var core: CoreSettings
    package var runtime: RuntimeSettings
    /// Users, ACL rules (`acl`), OpenID settings and `allow_anonymous`, for BrokerAuth.
    package var auth: AuthPolicy
    package var persistence: PersistenceSettings
    /// The link to other broker nodes; nil when the broker runs alone.
    package var cluster: ClusterSettings?
    /// The Kafka bridge; nil when it is off.
    package var kafka: KafkaBridgeConfiguration?
    /// The metrics endpoint; nil when it is off.
    package var metrics: MetricsSettings?
    package var log: LogSettings

    package init(
        core: CoreSettings = CoreSettings(), runtime: RuntimeSettings = RuntimeSettings(), auth: AuthPolicy = AuthPolicy(),
        persistence: PersistenceSettings = .memory, cluster: ClusterSettings? = nil, kafka: KafkaBridgeConfiguration? = nil,
        metrics: MetricsSettings? = nil, log: LogSettings = LogSettings()
    ) {
        self.core = core
        self.runtime = runtime
        self.auth = auth
        self.persistence = persistence
        self.cluster = cluster
        self.kafka = kafka
        self.metrics = metrics
        self.log = log
    }
}
