import Synchronization

/// A latency distribution in Prometheus' histogram form: counts per upper bound (cumulative
/// when rendered), the sum and the count. Snapshots of an `AtomicLatencyHistogram`.
public struct LatencyHistogram: Sendable, Equatable {
    /// Upper bounds in seconds, as Prometheus' `le` labels (then `+Inf`).
    public static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Observations per bucket (not cumulative); one more than `bounds`, the last for `+Inf`.
    public var counts: [Int]
    public var sumSeconds: Double
    public var count: Int { counts.reduce(0, +) }

    public init(counts: [Int] = Array(repeating: 0, count: LatencyHistogram.bounds.count + 1), sumSeconds: Double = 0) {
        self.counts = counts
        self.sumSeconds = sumSeconds
    }

    /// Adds `other`'s observations (several recorders of one figure, such as the store's writers).
    public mutating func add(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        sumSeconds += other.sumSeconds
    }
}

/// Records latencies from any thread with relaxed atomics: for cold paths (Kafka delivery
/// reports, authentication verdicts), never for a shard's message path.
public final class AtomicLatencyHistogram: Sendable {
    private let buckets: [StatCounter]
    private let sumMicroseconds = StatCounter()

    public init() {
        buckets = (0...LatencyHistogram.bounds.count).map { _ in StatCounter() }
    }

    public func record(nanoseconds: UInt64) {
        let seconds = Double(nanoseconds) / 1e9
        let index = LatencyHistogram.bounds.firstIndex { seconds <= $0 } ?? LatencyHistogram.bounds.count
        buckets[index].value.wrappingAdd(1, ordering: .relaxed)
        sumMicroseconds.value.wrappingAdd(Int(nanoseconds / 1000), ordering: .relaxed)
    }

    public var snapshot: LatencyHistogram {
        LatencyHistogram(
            counts: buckets.map { $0.value.load(ordering: .relaxed) },
            sumSeconds: Double(sumMicroseconds.value.load(ordering: .relaxed)) / 1e6)
    }
}
