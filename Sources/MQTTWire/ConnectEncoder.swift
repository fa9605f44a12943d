/// Encodes CONNECT (client → server), for test clients and benchmarks.
public enum ConnectEncoder {
    public static func size(
        protocolVersion: ProtocolVersion = .v3_1_1, clientId: ByteView, will: Will? = nil,
        username: ByteView? = nil, password: ByteView? = nil
    ) -> Int {
        let remaining = remainingLength(
            protocolVersion: protocolVersion, clientId: clientId, will: will, username: username, password: password)
        return FixedHeaderSize.of(remainingLength: remaining) + remaining
    }

    private static func remainingLength(
        protocolVersion: ProtocolVersion, clientId: ByteView, will: Will?, username: ByteView?, password: ByteView?
    ) -> Int {
        // name, level, flags, keep-alive, client id, then the optional fields.
        var length = 2 + protocolVersion.protocolName.count + 1 + 1 + 2 + 2 + clientId.count
        if let will { length += 2 + will.topic.count + 2 + will.payload.count }
        if let username { length += 2 + username.count }
        if let password { length += 2 + password.count }
        return length
    }

    public static func write(
        protocolVersion: ProtocolVersion = .v3_1_1, cleanSession: Bool, keepAlive: UInt16, clientId: ByteView,
        will: Will? = nil, username: ByteView? = nil, password: ByteView? = nil,
        to destination: UnsafeMutableRawPointer
    ) -> Int {
        let remaining = remainingLength(
            protocolVersion: protocolVersion, clientId: clientId, will: will, username: username, password: password)
        var flags: UInt8 = 0
        if cleanSession { flags |= ConnectFlags.cleanSession }
        if let will {
            flags |= ConnectFlags.will | will.qos.rawValue << ConnectFlags.willQoSShift
            if will.retain { flags |= ConnectFlags.willRetain }
        }
        if username != nil { flags |= ConnectFlags.username }
        if password != nil { flags |= ConnectFlags.password }

        var writer = ByteWriter(destination, capacity: FixedHeaderSize.of(remainingLength: remaining) + remaining)
        writer.writeFixedHeader(PacketType.connect.rawValue << 4, remainingLength: remaining)
        writer.writeUInt16(UInt16(protocolVersion.protocolName.count))
        for byte in protocolVersion.protocolName { writer.writeUInt8(byte) }
        writer.writeUInt8(protocolVersion.level)
        writer.writeUInt8(flags)
        writer.writeUInt16(keepAlive)
        writer.writeLengthPrefixed(clientId)
        if let will {
            writer.writeLengthPrefixed(will.topic)
            writer.writeLengthPrefixed(will.payload)
        }
        if let username { writer.writeLengthPrefixed(username) }
        if let password { writer.writeLengthPrefixed(password) }
        return writer.writerIndex
    }

    public static func encode(
        protocolVersion: ProtocolVersion = .v3_1_1, cleanSession: Bool = true, keepAlive: UInt16 = 60,
        clientId: [UInt8], will: (topic: [UInt8], payload: [UInt8], qos: QoS, retain: Bool)? = nil,
        username: [UInt8]? = nil, password: [UInt8]? = nil
    ) -> [UInt8] {
        let fields = [clientId, will?.topic ?? [], will?.payload ?? [], username ?? [], password ?? []]
        return withViews(of: fields) { views in
            let willView = will.map { Will(topic: views[1], payload: views[2], qos: $0.qos, retain: $0.retain) }
            let usernameView = username == nil ? nil : views[3]
            let passwordView = password == nil ? nil : views[4]
            let count = size(
                protocolVersion: protocolVersion, clientId: views[0], will: willView, username: usernameView,
                password: passwordView)
            return makeBytes(count: count) {
                write(
                    protocolVersion: protocolVersion, cleanSession: cleanSession, keepAlive: keepAlive,
                    clientId: views[0], will: willView, username: usernameView, password: passwordView, to: $0)
            }
        }
    }
}
