/// Where a connection comes from, kept small: every connection holds one, and its text
/// ("203.0.113.7:51234" is longer than the 15 bytes a Swift string keeps inline) would cost
/// each remote IPv4 client a heap allocation for its whole life. Formatted when a log line, an
/// authentication request or a bridge event needs it.
public enum PeerAddress: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// An IPv4 address (a.b.c.d as the number a·2²⁴ + b·2¹⁶ + c·2⁸ + d) and port; IPv4-mapped
    /// IPv6 peers of a dual-stack listener are kept this way too.
    case ipv4(UInt32, port: UInt16)
    /// Any other peer, as text (IPv6, or a name given by tests).
    case text(String)

    public init(stringLiteral value: String) { self = .text(value) }

    /// "a.b.c.d:port", or the text.
    public var description: String {
        switch self {
        case .ipv4(let address, let port):
            "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff):\(port)"
        case .text(let text):
            text
        }
    }
}
