/// Limits the core enforces per connection and per session (config `limits`).
public struct BrokerLimits: Sendable, Equatable {
    public var maxPacketSize = 1_048_576
    public var maxInflightMessages = 20
    public var maxQueuedMessages = 1000
    /// 0 = unlimited.
    public var maxConnections = 0
    public var maxKeepalive = 65535
    public var maxTopicLevels = 128
    public var connectTimeoutSeconds = 10
    /// 0 = never.
    public var sessionExpirySeconds = 7200
    public init() {}
}

/// Settings of the broker core.
public struct CoreSettings: Sendable, Equatable {
    public var limits = BrokerLimits()
    public var allowAnonymous = true
    public var sysIntervalSeconds = 10
    public init() {}
}
