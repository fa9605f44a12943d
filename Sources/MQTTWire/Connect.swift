/// A CONNECT packet (MQTT 3.1.1 §3.1, 3.1 clients and MQTT 5.0 §3.1). Fields borrow from the
/// receive buffer.
public struct Connect: Equatable {
    /// "MQTT" or "MQIsdp".
    public var protocolName: ByteView
    /// 5 for 5.0, 4 for 3.1.1, 3 for 3.1.
    public var protocolLevel: UInt8
    /// The revision the name/level pair identifies.
    public var protocolVersion: ProtocolVersion
    /// Clean session (3.1.1) or clean start (5.0): whether an existing session is discarded.
    public var cleanSession: Bool
    /// Seconds; 0 turns the keep-alive off.
    public var keepAlive: UInt16
    /// May be empty: whether that is accepted is the broker's decision.
    public var clientId: ByteView
    public var will: Will?
    public var username: ByteView?
    public var password: ByteView?
    /// MQTT 5 CONNECT properties (none for earlier revisions).
    public var properties: Properties = .none

    public init(
        protocolVersion: ProtocolVersion, protocolName: ByteView, cleanSession: Bool, keepAlive: UInt16,
        clientId: ByteView, will: Will? = nil, username: ByteView? = nil, password: ByteView? = nil
    ) {
        self.protocolName = protocolName
        self.protocolLevel = protocolVersion.level
        self.protocolVersion = protocolVersion
        self.cleanSession = cleanSession
        self.keepAlive = keepAlive
        self.clientId = clientId
        self.will = will
        self.username = username
        self.password = password
    }

    static func decode(flags: UInt8, body: UnsafeRawBufferPointer) throws(MQTTWireError) -> Connect {
        let type = PacketType.connect
        guard flags == 0 else { throw .invalidFixedHeaderFlags(type, flags: flags) }
        var reader = ByteReader(body)
        let name = try reader.readBinary(in: type)
        let level = try reader.readUInt8(in: type)
        let version: ProtocolVersion
        if name.elementsEqual("MQTT".utf8) {
            version = level == ProtocolVersion.v5.level ? .v5 : .v3_1_1
        } else if name.elementsEqual("MQIsdp".utf8) {
            version = .v3_1
        } else {
            throw .unknownProtocolName
        }
        // A known name with another level is answered with CONNACK 1 (§3.1.2.2).
        guard level == version.level else { throw .unacceptableProtocolLevel(level) }

        let connectFlags = try reader.readUInt8(in: type)
        let keepAlive = try reader.readUInt16(in: type)
        // 3.1 did not reserve bit 0 and did not tie password to username; Mosquitto checks
        // both only for 3.1.1, and so do we.
        if version != .v3_1 && connectFlags & ConnectFlags.reserved != 0 {
            throw .connectReservedFlagSet
        }
        let hasWill = connectFlags & ConnectFlags.will != 0
        let willQoSBits = (connectFlags & ConnectFlags.willQoSMask) >> ConnectFlags.willQoSShift
        let willRetain = connectFlags & ConnectFlags.willRetain != 0
        if !hasWill && (willQoSBits != 0 || willRetain) { throw .willFlagsWithoutWill }
        guard let willQoS = QoS(rawValue: willQoSBits) else { throw .invalidWillQoS }
        let hasUsername = connectFlags & ConnectFlags.username != 0
        let hasPassword = connectFlags & ConnectFlags.password != 0
        // MQTT 5 allows a password without a username (§3.1.2.9).
        if version == .v3_1_1 && hasPassword && !hasUsername { throw .passwordWithoutUsername }
        let properties = version == .v5 ? try Properties.decode(from: &reader, in: .connect, packet: type) : .none

        let clientId = try reader.readString(in: type)
        var will: Will?
        if hasWill {
            let willProperties = version == .v5 ? try Properties.decode(from: &reader, in: .will, packet: type) : .none
            let topic = try reader.readString(in: type)
            let levels = try TopicName.validate(topic)
            let payload = try reader.readBinary(in: type)
            will = Will(topic: topic, payload: payload, qos: willQoS, retain: willRetain, topicLevels: levels)
            will?.properties = willProperties
        }
        // Some 3.1 clients set the username/password flags and then leave the field out;
        // Mosquitto ignores the flag for 3.1 when the packet ends there.
        var username: ByteView?
        if hasUsername && !(version == .v3_1 && reader.readableBytes == 0) {
            username = try reader.readString(in: type)
        }
        var password: ByteView?
        if hasPassword && !(version == .v3_1 && reader.readableBytes == 0) {
            password = try reader.readBinary(in: type)
        }
        try reader.expectEnd(of: type)

        var connect = Connect(
            protocolVersion: version, protocolName: name, cleanSession: connectFlags & ConnectFlags.cleanSession != 0,
            keepAlive: keepAlive, clientId: clientId, will: will, username: username, password: password)
        connect.properties = properties
        return connect
    }
}
