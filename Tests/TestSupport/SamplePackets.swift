import MQTTWire

/// Valid encoded packets of every type, in several shapes; the seed of round-trip tests, the
/// decoder verifier's stream and the fuzzer's corpus.
package enum SamplePackets {
    /// A name for each sample and its bytes. The list starts with a 3.1.1 CONNECT, so the whole
    /// concatenation is a valid server-side (and client-side) stream.
    package static let all: [(name: String, bytes: [UInt8])] = [
        ("connect-minimal", ConnectEncoder.encode(clientId: Array("client-1".utf8))),
        ("connect-full", ConnectEncoder.encode(
            cleanSession: false, keepAlive: 30, clientId: Array("client-2".utf8),
            will: (topic: Array("last/will".utf8), payload: [0x00, 0xFF, 0x10], qos: .atLeastOnce, retain: true),
            username: Array("user".utf8), password: [0x01, 0x02, 0x03])),
        ("connect-empty-client-id", ConnectEncoder.encode(clientId: [])),
        ("connect-v31", ConnectEncoder.encode(
            protocolVersion: .v3_1, clientId: Array("old-client".utf8), username: Array("u".utf8),
            password: Array("p".utf8))),
        ("connack-accepted", ConnAckEncoder.encode(sessionPresent: true, returnCode: .accepted)),
        ("connack-refused", ConnAckEncoder.encode(sessionPresent: false, returnCode: .notAuthorized)),
        ("publish-qos0", PublishEncoder.encode(topic: Array("a/b".utf8), payload: Array("hello".utf8))),
        ("publish-qos1-retain", PublishEncoder.encode(
            topic: Array("sensors/ü/temp".utf8), payload: [1, 2, 3], qos: .atLeastOnce, retain: true, packetId: 7)),
        ("publish-qos2-dup", PublishEncoder.encode(
            topic: Array("x".utf8), payload: [], qos: .exactlyOnce, dup: true, packetId: 65535)),
        ("publish-large", PublishEncoder.encode(
            topic: Array("big".utf8), payload: (0..<300).map { UInt8(truncatingIfNeeded: $0) })),
        ("puback", AckEncoder.encode(.puback, packetId: 1)),
        ("pubrec", AckEncoder.encode(.pubrec, packetId: 2)),
        ("pubrel", AckEncoder.encode(.pubrel, packetId: 3)),
        ("pubcomp", AckEncoder.encode(.pubcomp, packetId: 4)),
        ("subscribe", SubscribeEncoder.encode(packetId: 10, filters: [
            (filter: Array("a/+/c".utf8), qos: .atMostOnce),
            (filter: Array("#".utf8), qos: .atLeastOnce),
            (filter: Array("d/e/#".utf8), qos: .exactlyOnce),
        ])),
        ("suback", SubAckEncoder.encode(packetId: 10, returnCodes: [.grantedQoS0, .grantedQoS1, .grantedQoS2, .failure])),
        ("unsubscribe", UnsubscribeEncoder.encode(packetId: 11, filters: [Array("a/+/c".utf8), Array("#".utf8)])),
        ("unsuback", AckEncoder.encode(.unsuback, packetId: 11)),
        ("pingreq", EmptyPacketEncoder.encode(.pingreq)),
        ("pingresp", EmptyPacketEncoder.encode(.pingresp)),
        ("disconnect", EmptyPacketEncoder.encode(.disconnect)),
    ]

    /// Every sample except the 3.1 CONNECT (which would switch the stream to 3.1), concatenated.
    package static var stream: [UInt8] {
        all.filter { $0.name != "connect-v31" }.flatMap(\.bytes)
    }
}
