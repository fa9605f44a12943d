import Synchronization

/// What the authenticator decided and how long it took, since start (metrics read it).
public struct AuthStatistics: Sendable, Equatable {
    /// How a client authenticated.
    public enum Method: String, Sendable, CaseIterable {
        case password, token, anonymous
    }

    /// Verdicts per method: allowed and denied.
    public var allowed: [Method: Int] = [:]
    public var denied: [Method: Int] = [:]
    /// From a CONNECT's credentials reaching the authenticator to its verdict.
    public var latency = LatencyHistogram()
    /// Fetches of the provider's key set (JWKS), at start, on the timer and for unknown keys.
    public var jwksFetches = 0
    public var jwksFailures = 0

    public init() {}
}

/// The counters behind `AuthStatistics`, recorded from the authenticator's own threads (the
/// cold path) with relaxed atomics.
public final class AuthCounters: Sendable {
    private let allowed = AuthStatistics.Method.allCases.map { _ in StatCounter() }
    private let denied = AuthStatistics.Method.allCases.map { _ in StatCounter() }
    private let fetches = StatCounter()
    private let fetchFailures = StatCounter()
    public let latency = AtomicLatencyHistogram()

    public init() {}

    public func record(_ method: AuthStatistics.Method, allowed wasAllowed: Bool, nanoseconds: UInt64) {
        let index = AuthStatistics.Method.allCases.firstIndex(of: method)!
        (wasAllowed ? allowed : denied)[index].value.wrappingAdd(1, ordering: .relaxed)
        latency.record(nanoseconds: nanoseconds)
    }

    public func recordJWKSFetch(succeeded: Bool) {
        fetches.value.wrappingAdd(1, ordering: .relaxed)
        if !succeeded { fetchFailures.value.wrappingAdd(1, ordering: .relaxed) }
    }

    public var snapshot: AuthStatistics {
        var statistics = AuthStatistics()
        for (index, method) in AuthStatistics.Method.allCases.enumerated() {
            statistics.allowed[method] = allowed[index].value.load(ordering: .relaxed)
            statistics.denied[method] = denied[index].value.load(ordering: .relaxed)
        }
        statistics.latency = latency.snapshot
        statistics.jwksFetches = fetches.value.load(ordering: .relaxed)
        statistics.jwksFailures = fetchFailures.value.load(ordering: .relaxed)
        return statistics
    }
}
