import BrokerConfig
import BrokerRuntime

/// Settings that validate but whose subsystem this build does not have yet. The broker refuses
/// to start rather than run without the metrics endpoint the operator asked for.
enum UnsupportedFeatures {
    static func find(in settings: BrokerConfiguration) -> [String] {
        var found: [String] = []
        if settings.metrics != nil { found.append("metrics") }
        return found
    }
}
