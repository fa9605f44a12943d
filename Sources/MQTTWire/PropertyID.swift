/// The identifiers of MQTT 5 properties (MQTT 5.0 §2.2.2.2), with the type of their values.
public enum PropertyID: UInt8, Sendable, CaseIterable {
    case payloadFormatIndicator = 0x01
    case messageExpiryInterval = 0x02
    case contentType = 0x03
    case responseTopic = 0x08
    case correlationData = 0x09
    case subscriptionIdentifier = 0x0B
    case sessionExpiryInterval = 0x11
    case assignedClientIdentifier = 0x12
    case serverKeepAlive = 0x13
    case authenticationMethod = 0x15
    case authenticationData = 0x16
    case requestProblemInformation = 0x17
    case willDelayInterval = 0x18
    case requestResponseInformation = 0x19
    case responseInformation = 0x1A
    case serverReference = 0x1C
    case reasonString = 0x1F
    case receiveMaximum = 0x21
    case topicAliasMaximum = 0x22
    case topicAlias = 0x23
    case maximumQoS = 0x24
    case retainAvailable = 0x25
    case userProperty = 0x26
    case maximumPacketSize = 0x27
    case wildcardSubscriptionAvailable = 0x28
    case subscriptionIdentifierAvailable = 0x29
    case sharedSubscriptionAvailable = 0x2A

    /// How a property's value is encoded.
    public enum ValueType: Sendable {
        case byte, twoByteInteger, fourByteInteger, variableByteInteger, utf8String, binary, utf8StringPair
    }

    public var valueType: ValueType {
        switch self {
        case .payloadFormatIndicator, .requestProblemInformation, .requestResponseInformation, .maximumQoS,
             .retainAvailable, .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable,
             .sharedSubscriptionAvailable:
            return .byte
        case .serverKeepAlive, .receiveMaximum, .topicAliasMaximum, .topicAlias:
            return .twoByteInteger
        case .messageExpiryInterval, .sessionExpiryInterval, .willDelayInterval, .maximumPacketSize:
            return .fourByteInteger
        case .subscriptionIdentifier:
            return .variableByteInteger
        case .contentType, .responseTopic, .assignedClientIdentifier, .authenticationMethod, .responseInformation,
             .serverReference, .reasonString:
            return .utf8String
        case .correlationData, .authenticationData:
            return .binary
        case .userProperty:
            return .utf8StringPair
        }
    }

    /// The bit of this property in a `PropertyContext`'s set.
    var bit: UInt64 { 1 << UInt64(rawValue) }
}

/// Where a property block appears; each place allows its own properties (MQTT 5.0 §2.2.2.2,
/// client-to-server packets only: the broker never decodes what it sends).
public enum PropertyContext: Sendable, CustomStringConvertible {
    case connect, will, publish, acknowledgement, subscribe, unsubscribe, disconnect, auth

    var allowed: UInt64 {
        func set(_ ids: PropertyID...) -> UInt64 { ids.reduce(0) { $0 | $1.bit } }
        switch self {
        case .connect:
            return set(.sessionExpiryInterval, .receiveMaximum, .maximumPacketSize, .topicAliasMaximum,
                       .requestResponseInformation, .requestProblemInformation, .userProperty,
                       .authenticationMethod, .authenticationData)
        case .will:
            return set(.willDelayInterval, .payloadFormatIndicator, .messageExpiryInterval, .contentType,
                       .responseTopic, .correlationData, .userProperty)
        case .publish:
            // A client must not send a Subscription Identifier (§3.3.4): not allowed here.
            return set(.payloadFormatIndicator, .messageExpiryInterval, .topicAlias, .responseTopic,
                       .correlationData, .userProperty, .contentType)
        case .acknowledgement:
            return set(.reasonString, .userProperty)
        case .subscribe:
            return set(.subscriptionIdentifier, .userProperty)
        case .unsubscribe:
            return set(.userProperty)
        case .disconnect:
            return set(.sessionExpiryInterval, .reasonString, .userProperty, .serverReference)
        case .auth:
            return set(.authenticationMethod, .authenticationData, .reasonString, .userProperty)
        }
    }

    public var description: String {
        switch self {
        case .connect: "CONNECT"
        case .will: "will"
        case .publish: "PUBLISH"
        case .acknowledgement: "acknowledgement"
        case .subscribe: "SUBSCRIBE"
        case .unsubscribe: "UNSUBSCRIBE"
        case .disconnect: "DISCONNECT"
        case .auth: "AUTH"
        }
    }
}
