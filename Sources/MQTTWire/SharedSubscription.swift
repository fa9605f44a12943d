/// A shared subscription filter (MQTT 5 §4.8.2, accepted from 3.1 and 3.1.1 clients too, as
/// Mosquitto, EMQX and HiveMQ do): `$share/{group}/{filter}`, and EMQX's `$queue/{filter}`,
/// which is the group named `$queue`. Each matching message goes to one member of the group.
///
/// The one home of the `$share` grammar: SUBSCRIBE, UNSUBSCRIBE, the subscription index and
/// the stored sessions all go through `parse`.
public struct SharedSubscription: Sendable, Equatable {
    /// The share name (never empty, no `/`, `+` or `#`).
    public let group: String
    /// The topic filter the members subscribe to (valid, not itself shared).
    public let filter: String

    /// `$share/{group}/{filter}`: how a session records the subscription, whichever spelling the
    /// client used (`$queue/a` and `$share/$queue/a` are one subscription).
    public var canonical: String { "\(Self.sharePrefix)\(group)/\(filter)" }

    public init(group: String, filter: String) {
        self.group = group
        self.filter = filter
    }

    public enum ParseResult: Sendable, Equatable {
        /// An ordinary filter.
        case notShared
        case shared(SharedSubscription)
        /// `$share/` or `$queue/` with an empty or wildcard group, no filter, or a filter that
        /// is not valid (SUBACK 0x80).
        case invalid
    }

    static let sharePrefix = "$share/"
    static let queuePrefix = "$queue/"

    /// Whether `filter` is spelled as a shared subscription, valid or not (a cheap prefix check).
    @inline(__always)
    public static func isShared(_ filter: String) -> Bool {
        filter.utf8.first == TopicName.dollar && (filter.hasPrefix(sharePrefix) || filter.hasPrefix(queuePrefix))
    }

    /// Splits a topic filter (already valid as a filter) into group and inner filter.
    public static func parse(_ filter: String) -> ParseResult {
        guard isShared(filter) else { return .notShared }
        let group: Substring
        let inner: Substring
        if filter.hasPrefix(queuePrefix) {
            group = "$queue"
            inner = filter.dropFirst(queuePrefix.count)
        } else {
            let rest = filter.dropFirst(sharePrefix.count)
            guard let slash = rest.firstIndex(of: "/") else { return .invalid }
            group = rest[..<slash]
            inner = rest[rest.index(after: slash)...]
        }
        guard !group.isEmpty, !group.contains(where: { $0 == "+" || $0 == "#" }) else { return .invalid }
        let innerFilter = String(inner)
        // A shared filter inside a shared filter is not a filter anyone can publish to.
        guard !innerFilter.isEmpty, !isShared(innerFilter), (try? TopicFilter.validate(Array(innerFilter.utf8))) != nil
        else { return .invalid }
        return .shared(SharedSubscription(group: String(group), filter: innerFilter))
    }
}
