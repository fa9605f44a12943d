/// An MQTT 5 property block, validated as it is decoded and read in place: the values the
/// broker acts on are parsed into fields, the block itself stays a view of the receive buffer
/// (`bytes`), from which what is forwarded is copied once (`copyForwarded`).
///
/// Every rule of MQTT 5.0 §2.2.2 is checked: an identifier that is unknown or not allowed in
/// its packet, a property given twice (only User Property may repeat), a value out of range
/// (a zero Receive Maximum, Maximum Packet Size, Topic Alias or Subscription Identifier, a byte
/// property other than 0 or 1), malformed UTF-8, or a value that runs past the block.
public struct Properties: Equatable {
    /// The properties as received, without the length in front.
    public var bytes: ByteView = .empty
    public var payloadFormatIndicator: UInt8?
    public var messageExpiryInterval: UInt32?
    public var topicAlias: UInt16?
    public var subscriptionIdentifier: UInt32?
    public var sessionExpiryInterval: UInt32?
    public var receiveMaximum: UInt16?
    public var maximumPacketSize: UInt32?
    public var topicAliasMaximum: UInt16?
    public var requestProblemInformation: UInt8?
    public var requestResponseInformation: UInt8?
    public var willDelayInterval: UInt32?
    public var authenticationMethod: ByteView?
    public var authenticationData: ByteView?

    public init() {}

    /// No properties: what a 3.1.1 packet has.
    public static var none: Properties { Properties() }

    /// Reads the length-prefixed property block at the reader's position and moves past it.
    static func decode(
        from reader: inout ByteReader, in context: PropertyContext, packet: PacketType
    ) throws(MQTTWireError) -> Properties {
        guard let (length, lengthBytes) = try? VariableLengthInteger.decode(from: reader.bytes, at: reader.readerIndex)
        else { throw .malformedProperties(packet) }
        _ = reader.readBytes(count: lengthBytes)
        guard let block = reader.readBytes(count: length) else { throw .malformedProperties(packet) }
        var properties = Properties()
        properties.bytes = block
        var seen: UInt64 = 0
        var entries = ByteReader(block.unsafeBytes)
        while entries.readableBytes > 0 {
            let rawID = entries.readUInt8()!
            guard let id = PropertyID(rawValue: rawID) else { throw .unknownProperty(rawID, packet) }
            guard context.allowed & id.bit != 0 else { throw .propertyNotAllowed(id, context) }
            if id != .userProperty {
                guard seen & id.bit == 0 else { throw .duplicateProperty(id, packet) }
                seen |= id.bit
            }
            try properties.read(id, from: &entries, packet: packet)
        }
        return properties
    }

    private mutating func read(_ id: PropertyID, from entries: inout ByteReader, packet: PacketType) throws(MQTTWireError) {
        switch id.valueType {
        case .byte:
            guard let value = entries.readUInt8() else { throw .malformedProperties(packet) }
            guard value <= 1 else { throw .invalidPropertyValue(id) }
            switch id {
            case .payloadFormatIndicator: payloadFormatIndicator = value
            case .requestProblemInformation: requestProblemInformation = value
            case .requestResponseInformation: requestResponseInformation = value
            default: break
            }
        case .twoByteInteger:
            guard let value = entries.readUInt16() else { throw .malformedProperties(packet) }
            switch id {
            case .receiveMaximum:
                guard value != 0 else { throw .invalidPropertyValue(id) }
                receiveMaximum = value
            case .topicAliasMaximum: topicAliasMaximum = value
            // Alias 0 is a protocol error the broker answers with its own reason code (0x94).
            case .topicAlias: topicAlias = value
            default: break
            }
        case .fourByteInteger:
            guard let high = entries.readUInt16(), let low = entries.readUInt16() else {
                throw .malformedProperties(packet)
            }
            let value = UInt32(high) << 16 | UInt32(low)
            switch id {
            case .messageExpiryInterval: messageExpiryInterval = value
            case .sessionExpiryInterval: sessionExpiryInterval = value
            case .willDelayInterval: willDelayInterval = value
            case .maximumPacketSize:
                guard value != 0 else { throw .invalidPropertyValue(id) }
                maximumPacketSize = value
            default: break
            }
        case .variableByteInteger:
            guard let (value, count) = try? VariableLengthInteger.decode(from: entries.bytes, at: entries.readerIndex)
            else { throw .malformedProperties(packet) }
            _ = entries.readBytes(count: count)
            guard value != 0 else { throw .invalidPropertyValue(id) }
            subscriptionIdentifier = UInt32(value)
        case .utf8String:
            guard let value = entries.readLengthPrefixedBytes() else { throw .malformedProperties(packet) }
            try MQTTString.validate(value)
            if id == .authenticationMethod { authenticationMethod = value }
        case .binary:
            guard let value = entries.readLengthPrefixedBytes() else { throw .malformedProperties(packet) }
            if id == .authenticationData { authenticationData = value }
        case .utf8StringPair:
            guard let key = entries.readLengthPrefixedBytes(), let value = entries.readLengthPrefixedBytes() else {
                throw .malformedProperties(packet)
            }
            try MQTTString.validate(key)
            try MQTTString.validate(value)
        }
    }

    /// Calls `body` with each property's identifier and its whole encoding (identifier
    /// included), in order. The block was validated when it was decoded.
    public func forEachEntry(_ body: (PropertyID, ByteView) -> Void) {
        var reader = ByteReader(bytes.unsafeBytes)
        while reader.readableBytes > 0 {
            let start = reader.readerIndex
            guard let id = reader.readUInt8().flatMap(PropertyID.init(rawValue:)) else { return }
            switch id.valueType {
            case .byte: _ = reader.readBytes(count: 1)
            case .twoByteInteger: _ = reader.readBytes(count: 2)
            case .fourByteInteger: _ = reader.readBytes(count: 4)
            case .variableByteInteger:
                guard let (_, count) = try? VariableLengthInteger.decode(from: reader.bytes, at: reader.readerIndex)
                else { return }
                _ = reader.readBytes(count: count)
            case .utf8String, .binary: _ = reader.readLengthPrefixedBytes()
            case .utf8StringPair:
                _ = reader.readLengthPrefixedBytes()
                _ = reader.readLengthPrefixedBytes()
            }
            body(id, reader.getBytes(at: start, count: reader.readerIndex - start)!)
        }
    }

    /// The properties a PUBLISH or will passes on to subscribers unchanged and in order:
    /// payload format, content type, response topic, correlation data and user properties.
    /// Topic Alias belongs to one connection and Message Expiry Interval is rewritten on every
    /// delivery (the time left), so both stay behind. Empty when there is nothing to forward.
    public func forwarded() -> [UInt8] {
        var out: [UInt8] = []
        forEachEntry { id, entry in
            switch id {
            case .payloadFormatIndicator, .contentType, .responseTopic, .correlationData, .userProperty:
                out.append(contentsOf: entry.unsafeBytes)
            default:
                break
            }
        }
        return out
    }
}

/// The user properties and content type of a forwarded property block (`Properties.forwarded`),
/// for the Kafka bridge, which carries them as record headers.
public struct ForwardedProperties: Equatable, Sendable {
    public var userProperties: [(key: String, value: String)] = []
    public var contentType: String?

    public init() {}

    /// Reads `block` (as `Message.properties` holds it).
    public init(block: [UInt8]) {
        block.withUnsafeBytes { buffer in
            var properties = Properties()
            properties.bytes = ByteView(buffer)
            properties.forEachEntry { id, entry in
                var reader = ByteReader(entry.unsafeBytes)
                _ = reader.readUInt8()
                switch id {
                case .userProperty:
                    guard let key = reader.readLengthPrefixedBytes(), let value = reader.readLengthPrefixedBytes() else { return }
                    userProperties.append((key.makeString(), value.makeString()))
                case .contentType:
                    contentType = reader.readLengthPrefixedBytes()?.makeString()
                default:
                    break
                }
            }
        }
    }

    /// The block that carries these: content type first, then the user properties in order.
    public var block: [UInt8] {
        var builder = PropertyBuilder()
        if let contentType { builder.string(.contentType, contentType.utf8) }
        for (key, value) in userProperties { builder.userProperty(key, value) }
        return builder.bytes
    }

    public static func == (lhs: ForwardedProperties, rhs: ForwardedProperties) -> Bool {
        lhs.contentType == rhs.contentType && lhs.userProperties.elementsEqual(rhs.userProperties) { $0 == $1 }
    }
}
