import Glibc

/// The wait between attempts at something MongoDB did not take: doubling from `first` up to
/// 5 s, back to `first` once an attempt goes through. One home for every retry loop of the
/// module (writers, the late loader, the cluster's threads).
struct Backoff {
    static let longest: UInt32 = 5_000_000
    private let first: UInt32
    private var delay: UInt32

    /// `first`: microseconds.
    init(first: UInt32) {
        self.first = first
        delay = first
    }

    /// Sleeps the current delay, then doubles it.
    mutating func wait() {
        usleep(delay)
        delay = min(delay * 2, Self.longest)
    }

    mutating func reset() { delay = first }
}
