/// Encoding any decoded packet back to bytes, through the same encoders the broker uses.
extension Packet {
    /// Bytes the packet occupies on the wire.
    public var encodedSize: Int {
        switch self {
        case let .connect(connect):
            return ConnectEncoder.size(
                protocolVersion: connect.protocolVersion, clientId: connect.clientId, will: connect.will,
                username: connect.username, password: connect.password)
        case .connack:
            return ConnAckEncoder.size
        case let .publish(publish):
            return PublishEncoder.size(topicCount: publish.topic.count, payloadCount: publish.payload.count, qos: publish.qos)
        case .puback, .pubrec, .pubrecFailed, .pubrel, .pubcomp, .unsuback:
            return AckEncoder.size
        case let .subscribe(subscribe):
            return SubscribeEncoder.size(filters: subscribe.filters)
        case let .suback(suback):
            return SubAckEncoder.size(returnCodeCount: suback.returnCodes.count)
        case let .unsubscribe(unsubscribe):
            return UnsubscribeEncoder.size(filters: unsubscribe.filters)
        case .pingreq, .pingresp, .disconnect(.normal):
            return EmptyPacketEncoder.size
        case let .disconnect(disconnect):
            return Self.v5Bytes(disconnect).count
        case let .auth(auth):
            return Self.v5Bytes(auth).count
        }
    }

    /// Writes the packet (exactly `encodedSize` bytes) and returns the bytes written.
    public func write(to destination: UnsafeMutableRawPointer) -> Int {
        switch self {
        case let .connect(connect):
            return ConnectEncoder.write(
                protocolVersion: connect.protocolVersion, cleanSession: connect.cleanSession,
                keepAlive: connect.keepAlive, clientId: connect.clientId, will: connect.will,
                username: connect.username, password: connect.password, to: destination)
        case let .connack(connack):
            return ConnAckEncoder.write(sessionPresent: connack.sessionPresent, returnCode: connack.returnCode, to: destination)
        case let .publish(publish):
            return PublishEncoder.write(
                topic: publish.topic, payload: publish.payload, qos: publish.qos, retain: publish.retain,
                dup: publish.dup, packetId: publish.packetId ?? 0, to: destination)
        case let .puback(packetId), let .pubrec(packetId), let .pubrel(packetId), let .pubcomp(packetId),
             let .unsuback(packetId):
            return AckEncoder.write(type, packetId: packetId, to: destination)
        case let .pubrecFailed(packetId):
            // 3.1.1 has no failed PUBREC: its form is a plain PUBREC.
            return AckEncoder.write(.pubrec, packetId: packetId, to: destination)
        case let .subscribe(subscribe):
            return SubscribeEncoder.write(packetId: subscribe.packetId, filters: subscribe.filters, to: destination)
        case let .suback(suback):
            return SubAckEncoder.write(packetId: suback.packetId, returnCodes: suback.returnCodes, to: destination)
        case let .unsubscribe(unsubscribe):
            return UnsubscribeEncoder.write(packetId: unsubscribe.packetId, filters: unsubscribe.filters, to: destination)
        case .pingreq, .pingresp, .disconnect(.normal):
            return EmptyPacketEncoder.write(type, to: destination)
        case let .disconnect(disconnect):
            return Self.copy(Self.v5Bytes(disconnect), to: destination)
        case let .auth(auth):
            return Self.copy(Self.v5Bytes(auth), to: destination)
        }
    }

    /// DISCONNECT with a reason or properties, and AUTH, exist only in MQTT 5.
    private static func v5Bytes(_ disconnect: Disconnect) -> [UInt8] {
        var properties = PropertyBuilder()
        if let interval = disconnect.sessionExpiryInterval { properties.fourByteInteger(.sessionExpiryInterval, interval) }
        return ReasonPacketEncoder.reasonOnly(.disconnect, reason: disconnect.reason, properties: properties)
    }

    private static func v5Bytes(_ auth: Auth) -> [UInt8] {
        var properties = PropertyBuilder()
        if let method = auth.method { properties.string(.authenticationMethod, method) }
        if let data = auth.data { properties.string(.authenticationData, data) }
        return ReasonPacketEncoder.reasonOnly(.auth, reason: auth.reason, properties: properties)
    }

    private static func copy(_ bytes: [UInt8], to destination: UnsafeMutableRawPointer) -> Int {
        bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return bytes.count
    }

    /// Appends the encoded packet to `bytes`.
    public func encode(into bytes: inout [UInt8]) {
        let start = bytes.count
        let size = encodedSize
        bytes.append(contentsOf: repeatElement(0, count: size))
        bytes.withUnsafeMutableBytes { buffer in
            let written = write(to: buffer.baseAddress! + start)
            precondition(written == size, "encoder wrote \(written) bytes, sized \(size)")
        }
    }

    /// The encoded packet as a new array.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encodedSize)
        encode(into: &bytes)
        return bytes
    }
}
