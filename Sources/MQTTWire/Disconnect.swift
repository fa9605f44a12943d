/// A DISCONNECT packet. MQTT 3.1.1's has no body (`normal`); MQTT 5's carries a reason code
/// and may change the session expiry interval (MQTT 5.0 §3.14).
public struct Disconnect: Equatable {
    public var reason: ReasonCode
    /// The new session expiry interval, when the client changes it.
    public var sessionExpiryInterval: UInt32?

    public init(reason: ReasonCode = .normalDisconnection, sessionExpiryInterval: UInt32? = nil) {
        self.reason = reason
        self.sessionExpiryInterval = sessionExpiryInterval
    }

    public static var normal: Disconnect { Disconnect() }

    static func decode(flags: UInt8, body: UnsafeRawBufferPointer) throws(MQTTWireError) -> Disconnect {
        let type = PacketType.disconnect
        guard flags == 0 else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        var reader = ByteReader(body)
        var disconnect = Disconnect()
        if reader.readableBytes > 0 { disconnect.reason = ReasonCode(rawValue: try reader.readUInt8(in: type)) }
        if reader.readableBytes > 0 {
            disconnect.sessionExpiryInterval = try Properties.decode(from: &reader, in: .disconnect, packet: type)
                .sessionExpiryInterval
        }
        try reader.expectEnd(of: type)
        return disconnect
    }
}

/// An MQTT 5 AUTH packet (MQTT 5.0 §3.15): a reason code and the authentication exchange's
/// method and data. Borrows from the receive buffer.
public struct Auth: Equatable {
    public var reason: ReasonCode
    public var method: ByteView?
    public var data: ByteView?

    public init(reason: ReasonCode, method: ByteView? = nil, data: ByteView? = nil) {
        self.reason = reason
        self.method = method
        self.data = data
    }

    static func decode(flags: UInt8, body: UnsafeRawBufferPointer) throws(MQTTWireError) -> Auth {
        let type = PacketType.auth
        guard flags == 0 else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        var reader = ByteReader(body)
        var auth = Auth(reason: .success)
        if reader.readableBytes > 0 { auth.reason = ReasonCode(rawValue: try reader.readUInt8(in: type)) }
        if reader.readableBytes > 0 {
            let properties = try Properties.decode(from: &reader, in: .auth, packet: type)
            auth.method = properties.authenticationMethod
            auth.data = properties.authenticationData
        }
        try reader.expectEnd(of: type)
        return auth
    }
}
