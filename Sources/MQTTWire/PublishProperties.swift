/// The properties of one outbound MQTT 5 PUBLISH: what the message forwards (copied once from
/// its publisher's packet), the expiry interval left, the subscription identifiers of the
/// subscriptions it matched, and the topic alias the broker uses for this subscriber. Sized once,
/// when made: the encoder asks for the size several times per packet.
public struct OutboundPublishProperties {
    /// Payload format, content type, response topic, correlation data and user properties,
    /// encoded, in the publisher's order (`Properties.forwarded()`).
    public let forwarded: [UInt8]
    public let messageExpiryInterval: UInt32?
    public let subscriptionIdentifiers: [UInt32]
    public let topicAlias: UInt16?
    /// Bytes of the properties without their length.
    public let byteCount: Int

    public init(
        forwarded: [UInt8] = [], messageExpiryInterval: UInt32? = nil, subscriptionIdentifiers: [UInt32] = [],
        topicAlias: UInt16? = nil
    ) {
        self.forwarded = forwarded
        self.messageExpiryInterval = messageExpiryInterval
        self.subscriptionIdentifiers = subscriptionIdentifiers
        self.topicAlias = topicAlias
        var count = forwarded.count
        if messageExpiryInterval != nil { count += 5 }
        if topicAlias != nil { count += 3 }
        for identifier in subscriptionIdentifiers { count += 1 + VariableLengthInteger.encodedLength(Int(identifier)) }
        byteCount = count
    }

    /// Bytes of the properties with their length in front.
    public var encodedSize: Int { VariableLengthInteger.encodedLength(byteCount) + byteCount }

    func write(into writer: inout ByteWriter) {
        writer.writeVariableLengthInteger(byteCount)
        if let topicAlias {
            writer.writeUInt8(PropertyID.topicAlias.rawValue)
            writer.writeUInt16(topicAlias)
        }
        if let messageExpiryInterval {
            writer.writeUInt8(PropertyID.messageExpiryInterval.rawValue)
            writer.writeUInt32(messageExpiryInterval)
        }
        if !forwarded.isEmpty { forwarded.withUnsafeBytes { writer.writeBytes(ByteView($0)) } }
        for identifier in subscriptionIdentifiers {
            writer.writeUInt8(PropertyID.subscriptionIdentifier.rawValue)
            writer.writeVariableLengthInteger(Int(identifier))
        }
    }
}
