/// An MQTT 5 property block, validated as it is decoded and then a view of the receive buffer:
/// the three values every v5 PUBLISH is acted on by are read once with the block, the others
/// from it when asked (a packet that carries this stays small: `Packet` is copied as it is
/// decoded and handled, and a larger `Publish` showed up as memmove time in every fan-in).
///
/// Every rule of MQTT 5.0 §2.2.2 is checked when it is decoded: an identifier that is unknown or
/// not allowed in its packet, a property given twice (only User Property may repeat), a value
/// out of range (a zero Receive Maximum, Maximum Packet Size or Subscription Identifier, a byte
/// property other than 0 or 1), malformed UTF-8, or a value that runs past the block.
public struct Properties: Equatable {
    /// The properties as received, without the length in front.
    public private(set) var bytes: ByteView = .empty
    public private(set) var payloadFormatIndicator: UInt8?
    public private(set) var messageExpiryInterval: UInt32?
    /// Alias 0 is a protocol error the broker answers with its own reason code (0x94).
    public private(set) var topicAlias: UInt16?

    public init() {}

    /// A block as it is, not validated (`decode` validates; test clients and fuzzers build
    /// blocks of their own).
    public init(bytes: ByteView) {
        self.bytes = bytes
        guard !bytes.isEmpty else { return }
        var forwardsAll = true
        forEachEntry { id, entry in
            switch id {
            case .payloadFormatIndicator: payloadFormatIndicator = entry[1]
            case .messageExpiryInterval: messageExpiryInterval = Self.fourByteInteger(entry, at: 1)
            case .topicAlias: topicAlias = Self.twoByteInteger(entry, at: 1)
            default: break
            }
            if Self.forwardedMask & id.bit == 0 { forwardsAll = false }
        }
        self.forwardsAll = forwardsAll
    }

    /// Whether every property is one a subscriber gets (`forwarded()` is then the block itself).
    private var forwardsAll = true

    /// What a PUBLISH or will passes on to subscribers, as a set of `PropertyID.bit`s.
    private static let forwardedMask: UInt64 = [
        PropertyID.payloadFormatIndicator, .contentType, .responseTopic, .correlationData, .userProperty,
    ].reduce(0) { $0 | $1.bit }

    /// No properties: what a 3.1.1 packet has.
    public static var none: Properties { Properties() }

    public var subscriptionIdentifier: UInt32? {
        value(of: .subscriptionIdentifier).flatMap { view in
            (try? VariableLengthInteger.decode(from: view.unsafeBytes, at: 0)).flatMap { $0.map { UInt32($0.value) } }
        }
    }
    public var sessionExpiryInterval: UInt32? { fourByteInteger(.sessionExpiryInterval) }
    public var receiveMaximum: UInt16? { twoByteInteger(.receiveMaximum) }
    public var maximumPacketSize: UInt32? { fourByteInteger(.maximumPacketSize) }
    public var topicAliasMaximum: UInt16? { twoByteInteger(.topicAliasMaximum) }
    public var requestProblemInformation: UInt8? { byte(.requestProblemInformation) }
    public var requestResponseInformation: UInt8? { byte(.requestResponseInformation) }
    public var willDelayInterval: UInt32? { fourByteInteger(.willDelayInterval) }
    public var authenticationMethod: ByteView? { lengthPrefixed(.authenticationMethod) }
    public var authenticationData: ByteView? { lengthPrefixed(.authenticationData) }

    /// Reads the length-prefixed property block at the reader's position and moves past it.
    static func decode(
        from reader: inout ByteReader, in context: PropertyContext, packet: PacketType
    ) throws(MQTTWireError) -> Properties {
        guard let (length, lengthBytes) = try? VariableLengthInteger.decode(from: reader.bytes, at: reader.readerIndex)
        else { throw .malformedProperties(packet) }
        _ = reader.readBytes(count: lengthBytes)
        guard let block = reader.readBytes(count: length) else { throw .malformedProperties(packet) }
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
            try validateValue(of: id, from: &entries, packet: packet)
        }
        return Properties(bytes: block)
    }

    private static func validateValue(of id: PropertyID, from entries: inout ByteReader, packet: PacketType) throws(MQTTWireError) {
        switch id.valueType {
        case .byte:
            guard let value = entries.readUInt8() else { throw .malformedProperties(packet) }
            guard value <= 1 else { throw .invalidPropertyValue(id) }
        case .twoByteInteger:
            guard let value = entries.readUInt16() else { throw .malformedProperties(packet) }
            if id == .receiveMaximum && value == 0 { throw .invalidPropertyValue(id) }
        case .fourByteInteger:
            guard let high = entries.readUInt16(), let low = entries.readUInt16() else { throw .malformedProperties(packet) }
            if id == .maximumPacketSize && high == 0 && low == 0 { throw .invalidPropertyValue(id) }
        case .variableByteInteger:
            guard let (value, count) = try? VariableLengthInteger.decode(from: entries.bytes, at: entries.readerIndex)
            else { throw .malformedProperties(packet) }
            _ = entries.readBytes(count: count)
            guard value != 0 else { throw .invalidPropertyValue(id) }
        case .utf8String:
            guard let value = entries.readLengthPrefixedBytes() else { throw .malformedProperties(packet) }
            try MQTTString.validate(value)
        case .binary:
            guard entries.readLengthPrefixedBytes() != nil else { throw .malformedProperties(packet) }
        case .utf8StringPair:
            guard let key = entries.readLengthPrefixedBytes(), let value = entries.readLengthPrefixedBytes() else {
                throw .malformedProperties(packet)
            }
            try MQTTString.validate(key)
            try MQTTString.validate(value)
        }
    }

    // MARK: - Reading values (the block was validated)

    /// The value of the first property `id` (its encoding after the identifier), or nil.
    private func value(of id: PropertyID) -> ByteView? {
        guard !bytes.isEmpty else { return nil }
        var found: ByteView?
        forEachEntry { entryID, entry in
            if found == nil && entryID == id { found = entry.slice(from: 1, count: entry.count - 1) }
        }
        return found
    }

    private func byte(_ id: PropertyID) -> UInt8? { value(of: id).map { $0[0] } }

    private func twoByteInteger(_ id: PropertyID) -> UInt16? { value(of: id).map { Self.twoByteInteger($0, at: 0) } }

    private func fourByteInteger(_ id: PropertyID) -> UInt32? { value(of: id).map { Self.fourByteInteger($0, at: 0) } }

    /// Big-endian integers inside a validated block.
    private static func twoByteInteger(_ bytes: ByteView, at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    private static func fourByteInteger(_ bytes: ByteView, at offset: Int) -> UInt32 {
        UInt32(twoByteInteger(bytes, at: offset)) << 16 | UInt32(twoByteInteger(bytes, at: offset + 2))
    }

    private func lengthPrefixed(_ id: PropertyID) -> ByteView? {
        value(of: id).flatMap { ByteReader($0.unsafeBytes).getLengthPrefixedBytes(at: 0) }
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
        guard !bytes.isEmpty else { return [] }
        if forwardsAll { return Array(bytes.unsafeBytes) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        forEachEntry { id, entry in
            if Self.forwardedMask & id.bit != 0 { out.append(contentsOf: entry.unsafeBytes) }
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
            Properties(bytes: ByteView(buffer)).forEachEntry { id, entry in
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
