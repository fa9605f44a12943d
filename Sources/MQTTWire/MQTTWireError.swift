/// Everything that makes bytes not an acceptable MQTT packet: one case per rule.
///
/// Any of these closes the connection; `connectReturnCode` says which ones are first
/// answered with a CONNACK (MQTT 3.1.1 §3.1.4).
public enum MQTTWireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The fourth remaining-length byte still had its continuation bit set.
    case malformedRemainingLength
    /// The whole packet (fixed header included) would exceed the configured maximum.
    case packetTooLarge(size: Int, limit: Int)
    /// Packet type 0 or 15 (reserved).
    case invalidPacketType(UInt8)
    /// Fixed-header flag bits that the spec fixes had other values.
    case invalidFixedHeaderFlags(PacketType, flags: UInt8)
    /// PUBLISH with both QoS bits set.
    case invalidPublishQoS
    /// PUBLISH with DUP set at QoS 0.
    case duplicateFlagWithQoS0
    /// A packet identifier of 0 where one is required.
    case zeroPacketIdentifier(PacketType)
    /// A field runs past the end of the packet.
    case truncatedPacket(PacketType)
    /// Bytes left over after all of a packet's fields.
    case trailingBytes(PacketType, count: Int)
    /// A string is not well-formed UTF-8 (this includes encoded surrogates and overlong forms).
    case invalidUTF8
    /// A string contains U+0000.
    case nullCharacterInString
    /// A topic name of zero length.
    case emptyTopicName
    /// A topic name containing `+` or `#`.
    case wildcardInTopicName
    /// A topic filter of zero length.
    case emptyTopicFilter
    /// A wildcard that is not a whole level, or `#` that is not the last level.
    case invalidWildcardInTopicFilter
    /// More topic levels than the configured maximum.
    case tooManyTopicLevels(count: Int, limit: Int)
    /// SUBSCRIBE with no topic filters.
    case subscribeWithoutFilters
    /// SUBSCRIBE requesting a QoS byte other than 0, 1 or 2.
    case invalidRequestedQoS(UInt8)
    /// UNSUBSCRIBE with no topic filters.
    case unsubscribeWithoutFilters
    /// CONNECT whose protocol name is neither "MQTT" nor "MQIsdp".
    case unknownProtocolName
    /// A known protocol name with a level this broker does not speak.
    case unacceptableProtocolLevel(UInt8)
    /// CONNECT flags with the reserved bit set.
    case connectReservedFlagSet
    /// Will QoS or will retain set without the will flag.
    case willFlagsWithoutWill
    /// Will QoS 3.
    case invalidWillQoS
    /// Password flag without username flag (3.1.1).
    case passwordWithoutUsername
    /// CONNACK acknowledge flags with reserved bits set.
    case invalidConnAckFlags(UInt8)
    /// A CONNACK return code above 5.
    case invalidConnectReturnCode(UInt8)
    /// A SUBACK return code other than 0, 1, 2 or 0x80.
    case invalidSubscribeReturnCode(UInt8)
    /// SUBACK with no return codes.
    case subAckWithoutReturnCodes
    /// An MQTT 5 property block that runs past its packet or holds a value cut short.
    case malformedProperties(PacketType)
    /// An MQTT 5 property identifier the specification does not define.
    case unknownProperty(UInt8, PacketType)
    /// An MQTT 5 property that this packet may not carry.
    case propertyNotAllowed(PropertyID, PropertyContext)
    /// An MQTT 5 property given twice (only User Property may repeat).
    case duplicateProperty(PropertyID, PacketType)
    /// An MQTT 5 property value the specification forbids (0 where it must not be, a byte other than 0 or 1).
    case invalidPropertyValue(PropertyID)
    /// MQTT 5 subscription options with reserved bits, QoS 3 or retain handling 3.
    case invalidSubscriptionOptions(UInt8)

    /// The CONNACK code to send before closing, for errors the spec answers with one.
    public var connectReturnCode: ConnectReturnCode? {
        switch self {
        case .unacceptableProtocolLevel: return .unacceptableProtocolVersion
        default: return nil
        }
    }

    /// The MQTT 5 reason code of the DISCONNECT (or CONNACK) sent before closing: a packet
    /// over the size limit, a malformed encoding, or a rule broken (MQTT 5.0 §4.13).
    public var reasonCode: ReasonCode {
        switch self {
        case .packetTooLarge: return .packetTooLarge
        case .malformedRemainingLength, .truncatedPacket, .trailingBytes, .invalidUTF8, .nullCharacterInString,
             .malformedProperties, .invalidFixedHeaderFlags, .invalidPublishQoS, .invalidSubscriptionOptions,
             .invalidRequestedQoS, .connectReservedFlagSet, .willFlagsWithoutWill, .invalidWillQoS,
             .unknownProperty, .propertyNotAllowed:
            return .malformedPacket
        // MQTT 5.0 §2.2.2.2 and §3.8.2.1.2 call these protocol errors.
        case .duplicateProperty, .invalidPropertyValue:
            return .protocolError
        case .emptyTopicName, .wildcardInTopicName, .tooManyTopicLevels: return .topicNameInvalid
        case .unacceptableProtocolLevel, .unknownProtocolName: return .unsupportedProtocolVersion
        default: return .protocolError
        }
    }

    public var description: String {
        switch self {
        case .malformedRemainingLength:
            return "remaining length longer than 4 bytes"
        case let .packetTooLarge(size, limit):
            return "packet of \(size) bytes exceeds the limit of \(limit)"
        case let .invalidPacketType(value):
            return "reserved packet type \(value)"
        case let .invalidFixedHeaderFlags(type, flags):
            return "\(type) with invalid fixed header flags 0b\(String(flags, radix: 2))"
        case .invalidPublishQoS:
            return "PUBLISH with QoS 3"
        case .duplicateFlagWithQoS0:
            return "PUBLISH with DUP set at QoS 0"
        case let .zeroPacketIdentifier(type):
            return "\(type) with packet identifier 0"
        case let .truncatedPacket(type):
            return "\(type) ends inside a field"
        case let .trailingBytes(type, count):
            return "\(type) has \(count) unexpected trailing bytes"
        case .invalidUTF8:
            return "string is not well-formed UTF-8"
        case .nullCharacterInString:
            return "string contains U+0000"
        case .emptyTopicName:
            return "empty topic name"
        case .wildcardInTopicName:
            return "topic name contains a wildcard"
        case .emptyTopicFilter:
            return "empty topic filter"
        case .invalidWildcardInTopicFilter:
            return "topic filter uses a wildcard other than as a whole level ('#' only last)"
        case let .tooManyTopicLevels(count, limit):
            return "topic has \(count) levels, more than the limit of \(limit)"
        case .subscribeWithoutFilters:
            return "SUBSCRIBE without topic filters"
        case let .invalidRequestedQoS(value):
            return "SUBSCRIBE requests invalid QoS byte \(value)"
        case .unsubscribeWithoutFilters:
            return "UNSUBSCRIBE without topic filters"
        case .unknownProtocolName:
            return "CONNECT with an unknown protocol name"
        case let .unacceptableProtocolLevel(level):
            return "unacceptable protocol level \(level)"
        case .connectReservedFlagSet:
            return "CONNECT reserved flag set"
        case .willFlagsWithoutWill:
            return "will QoS or will retain set without the will flag"
        case .invalidWillQoS:
            return "will QoS 3"
        case .passwordWithoutUsername:
            return "password flag set without username flag"
        case let .invalidConnAckFlags(flags):
            return "CONNACK with reserved acknowledge flags 0x\(String(flags, radix: 16))"
        case let .invalidConnectReturnCode(code):
            return "CONNACK with unknown return code \(code)"
        case let .invalidSubscribeReturnCode(code):
            return "SUBACK with invalid return code 0x\(String(code, radix: 16))"
        case .subAckWithoutReturnCodes:
            return "SUBACK without return codes"
        case let .malformedProperties(type):
            return "\(type) has a malformed property block"
        case let .unknownProperty(id, type):
            return "\(type) carries unknown property 0x\(String(id, radix: 16))"
        case let .propertyNotAllowed(id, context):
            return "property \(id) is not allowed in \(context)"
        case let .duplicateProperty(id, type):
            return "\(type) carries property \(id) twice"
        case let .invalidPropertyValue(id):
            return "property \(id) has a value the specification forbids"
        case let .invalidSubscriptionOptions(byte):
            return "SUBSCRIBE with invalid subscription options 0x\(String(byte, radix: 16))"
        }
    }
}
