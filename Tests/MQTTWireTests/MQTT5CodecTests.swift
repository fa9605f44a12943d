import MQTTWire
import TestSupport
import Testing

/// MQTT 5 packets: properties decoded in place and validated, subscription options, reason
/// codes, and the broker's encoders for its v5 packets.
@Suite struct MQTT5CodecTests {
    typealias B = MQTT5Bytes

    func decode5(_ bytes: [UInt8]) throws(MQTTWireError) -> Packet.Kind {
        try WireDecoding.withPacket(bytes, protocolVersion: .v5) { Packet.Kind($0) }
    }

    // MARK: - CONNECT

    @Test func connectCarriesItsPropertiesAndWillProperties() throws {
        let props: [UInt8] = [0x11, 0, 0, 0x0E, 0x10] + [0x21, 0, 5] + [0x27, 0, 0, 1, 0] + [0x22, 0, 3] + [0x17, 0]
        let will = B.properties([0x18, 0, 0, 0, 9, 0x01, 1]) + B.string("w/t") + B.string("bye")
        let bytes = B.connect(properties: props, flags: 0x06, rest: will)
        try WireDecoding.withPacket(bytes, protocolVersion: .v3_1_1) { packet in
            guard case let .connect(connect) = packet else { Issue.record("not CONNECT"); return }
            #expect(connect.protocolVersion == .v5)
            #expect(connect.properties.sessionExpiryInterval == 3600)
            #expect(connect.properties.receiveMaximum == 5)
            #expect(connect.properties.maximumPacketSize == 256)
            #expect(connect.properties.topicAliasMaximum == 3)
            #expect(connect.properties.requestProblemInformation == 0)
            #expect(connect.will?.properties.willDelayInterval == 9)
            #expect(connect.will?.properties.payloadFormatIndicator == 1)
            #expect(connect.will?.topic.makeString() == "w/t")
            // The will's subscribers get its payload format, not its delay.
            #expect(connect.will?.properties.forwarded() == [0x01, 1])
        }
    }

    @Test func connectPropertyRulesAreEnforced() {
        // Session Expiry Interval twice.
        #expect(throws: MQTTWireError.duplicateProperty(.sessionExpiryInterval, .connect)) {
            _ = try WireDecoding.withPacket(B.connect(properties: [0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2])) { _ in () }
        }
        // Receive Maximum 0 is forbidden.
        #expect(throws: MQTTWireError.invalidPropertyValue(.receiveMaximum)) {
            _ = try WireDecoding.withPacket(B.connect(properties: [0x21, 0, 0])) { _ in () }
        }
        // Topic Alias belongs in PUBLISH, not CONNECT.
        #expect(throws: MQTTWireError.propertyNotAllowed(.topicAlias, .connect)) {
            _ = try WireDecoding.withPacket(B.connect(properties: [0x23, 0, 1])) { _ in () }
        }
        // 0x7F is no property at all.
        #expect(throws: MQTTWireError.unknownProperty(0x7F, .connect)) {
            _ = try WireDecoding.withPacket(B.connect(properties: [0x7F, 0])) { _ in () }
        }
        // A property length running past the packet.
        #expect(throws: MQTTWireError.malformedProperties(.connect)) {
            _ = try WireDecoding.withPacket(B.connect(properties: [0x11, 0, 0])) { _ in () }
        }
        // A byte property that is neither 0 nor 1.
        #expect(throws: MQTTWireError.invalidPropertyValue(.requestProblemInformation)) {
            _ = try WireDecoding.withPacket(B.connect(properties: [0x17, 2])) { _ in () }
        }
    }

    @Test func mqtt5AllowsAPasswordWithoutAUsername() throws {
        let bytes = B.connect(properties: [], flags: 0x42, rest: B.string("secret"))
        try WireDecoding.withPacket(bytes) { packet in
            guard case let .connect(connect) = packet else { Issue.record("not CONNECT"); return }
            #expect(connect.username == nil)
            #expect(connect.password?.makeString() == "secret")
        }
    }

    // MARK: - PUBLISH

    @Test func publishForwardsWhatSubscribersGetInTheirOrder() throws {
        let user1: [UInt8] = [0x26] + B.string("b") + B.string("2")
        let user2: [UInt8] = [0x26] + B.string("a") + B.string("1")
        let contentType: [UInt8] = [0x03] + B.string("text/plain")
        let props = user1 + [0x02, 0, 0, 0, 60] + contentType + [0x23, 0, 4] + user2 + [0x01, 1]
        try WireDecoding.withPacket(B.publish(topic: "t", qos: 1, properties: props), protocolVersion: .v5) { packet in
            guard case let .publish(publish) = packet else { Issue.record("not PUBLISH"); return }
            #expect(publish.properties.messageExpiryInterval == 60)
            #expect(publish.properties.topicAlias == 4)
            #expect(publish.properties.payloadFormatIndicator == 1)
            #expect(publish.payload.makeString() == "hi")
            // Expiry and alias stay behind; the rest keeps its order (user properties too).
            #expect(publish.properties.forwarded() == user1 + contentType + user2 + [0x01, 1])
        }
    }

    @Test func publishRulesAreEnforced() {
        // A client must not send a Subscription Identifier.
        #expect(throws: MQTTWireError.propertyNotAllowed(.subscriptionIdentifier, .publish)) {
            _ = try decode5(B.publish(topic: "t", properties: [0x0B, 1]))
        }
        // An empty topic is left to the broker (it may name an alias) ...
        #expect((try? decode5(B.publish(topic: "", properties: [0x23, 0, 1]))) == .publish)
        // ... but is still refused in 3.1.1.
        #expect(throws: MQTTWireError.emptyTopicName) {
            _ = try WireDecoding.withPacket(B.packet(0x30, B.string("") + Array("x".utf8))) { _ in () }
        }
    }

    @Test func userPropertiesMayRepeatButOtherPropertiesMayNot() throws {
        let pair: [UInt8] = [0x26] + B.string("k") + B.string("v")
        #expect((try? decode5(B.publish(topic: "t", properties: pair + pair))) == .publish)
        #expect(throws: MQTTWireError.duplicateProperty(.contentType, .publish)) {
            _ = try decode5(B.publish(topic: "t", properties: [0x03] + B.string("a") + [0x03] + B.string("b")))
        }
    }

    // MARK: - SUBSCRIBE, UNSUBSCRIBE, acknowledgements, DISCONNECT, AUTH

    @Test func subscribeReadsOptionsAndTheIdentifier() throws {
        let body: [UInt8] = [0, 1] + B.properties([0x0B, 0xC8, 0x01]) + B.string("a/+") + [0x2E]
        try WireDecoding.withPacket(B.packet(0x82, body), protocolVersion: .v5) { packet in
            guard case let .subscribe(subscribe) = packet else { Issue.record("not SUBSCRIBE"); return }
            #expect(subscribe.subscriptionIdentifier == 200)
            let options = Array(subscribe.filters)[0].options
            #expect(options.qos == .exactlyOnce)
            #expect(options.noLocal)
            #expect(options.retainAsPublished)
            #expect(options.retainHandling == 2)
        }
        // Reserved bits, and retain handling 3.
        for byte: UInt8 in [0x40, 0x30] {
            #expect(throws: MQTTWireError.invalidSubscriptionOptions(byte)) {
                _ = try decode5(B.packet(0x82, [0, 1, 0] + B.string("a") + [byte]))
            }
        }
        // Subscription Identifier 0 is forbidden.
        #expect(throws: MQTTWireError.invalidPropertyValue(.subscriptionIdentifier)) {
            _ = try decode5(B.packet(0x82, [0, 1] + B.properties([0x0B, 0]) + B.string("a") + [0]))
        }
    }

    @Test func unsubscribeSkipsItsProperties() throws {
        let body: [UInt8] = [0, 9] + B.properties([0x26] + B.string("k") + B.string("v")) + B.string("a/b")
        try WireDecoding.withPacket(B.packet(0xA2, body), protocolVersion: .v5) { packet in
            guard case let .unsubscribe(unsubscribe) = packet else { Issue.record("not UNSUBSCRIBE"); return }
            #expect(Array(unsubscribe.filters).map { $0.makeString() } == ["a/b"])
        }
    }

    @Test func acknowledgementsReadTheirReasonCode() throws {
        #expect(try WireDecoding.withPacket([0x50, 0x02, 0, 3], protocolVersion: .v5) { $0 } == .pubrec(3))
        #expect(try WireDecoding.withPacket([0x50, 0x03, 0, 3, 0x10], protocolVersion: .v5) { $0 } == .pubrec(3))
        #expect(try WireDecoding.withPacket([0x50, 0x04, 0, 3, 0x87, 0], protocolVersion: .v5) { $0 } == .pubrecFailed(3))
        #expect(try WireDecoding.withPacket([0x40, 0x04, 0, 3, 0x80, 0], protocolVersion: .v5) { $0 } == .puback(3))
        #expect(throws: MQTTWireError.propertyNotAllowed(.topicAlias, .acknowledgement)) {
            _ = try decode5([0x40, 0x07, 0, 3, 0, 3, 0x23, 0, 1])
        }
    }

    @Test func disconnectAndAuth() throws {
        #expect(try WireDecoding.withPacket([0xE0, 0x00], protocolVersion: .v5) { $0 } == .disconnect(.normal))
        let withWill = try WireDecoding.withPacket([0xE0, 0x01, 0x04], protocolVersion: .v5) { $0 }
        #expect(withWill == .disconnect(Disconnect(reason: .disconnectWithWillMessage)))
        let expiry = try WireDecoding.withPacket([0xE0, 0x07, 0x00, 0x05, 0x11, 0, 0, 0, 30], protocolVersion: .v5) { $0 }
        #expect(expiry == .disconnect(Disconnect(reason: .normalDisconnection, sessionExpiryInterval: 30)))
        let auth = B.packet(0xF0, [0x19] + B.properties([0x15] + B.string("OAUTH2-JWT") + [0x16] + B.string("tok")))
        try WireDecoding.withPacket(auth, protocolVersion: .v5) { packet in
            guard case let .auth(decoded) = packet else { Issue.record("not AUTH"); return }
            #expect(decoded.reason == .reAuthenticate)
            #expect(decoded.method?.makeString() == "OAUTH2-JWT")
            #expect(decoded.data?.makeString() == "tok")
        }
        #expect(throws: MQTTWireError.invalidPacketType(15)) { _ = try WireDecoding.withPacket([0xF0, 0x00]) { _ in () } }
    }

    @Test(arguments: MQTT5Bytes.samples.map(\.name))
    func everyV5SampleReencodesToItsBytes(name: String) throws {
        let bytes = MQTT5Bytes.samples.first { $0.name == name }!.bytes
        let again = try WireDecoding.withPacket(bytes, protocolVersion: .v5) { $0.encoded(version: .v5) }
        // Properties the broker does not keep (reason strings, user properties of SUBSCRIBE,
        // UNSUBSCRIBE and acknowledgements) are not written back; the rest is byte for byte.
        let lossy = ["v5-subscribe", "v5-unsubscribe", "v5-puback-reason", "v5-pubrec-failed", "v5-disconnect"]
        if lossy.contains(name) {
            #expect(try WireDecoding.withPacket(again, protocolVersion: .v5) { $0.encoded(version: .v5) } == again)
        } else {
            #expect(again == bytes)
        }
    }

    // MARK: - What the broker sends

    @Test func connackCarriesPropertiesAndAcknowledgementsTheirReason() {
        var properties = PropertyBuilder()
        properties.twoByteInteger(.receiveMaximum, 10)
        properties.string(.assignedClientIdentifier, Array("auto-1".utf8))
        #expect(ReasonPacketEncoder.connack(sessionPresent: true, reason: .success, properties: properties)
            == [0x20, 15, 0x01, 0x00, 12, 0x21, 0, 10, 0x12, 0, 6] + Array("auto-1".utf8))
        // Success without properties keeps the 3.1.1 length; a refusal adds its code.
        #expect(ReasonPacketEncoder.acknowledgement(.puback, packetId: 7, reason: .success) == [0x40, 2, 0, 7])
        #expect(ReasonPacketEncoder.acknowledgement(.puback, packetId: 7, reason: .notAuthorized) == [0x40, 3, 0, 7, 0x87])
        #expect(ReasonPacketEncoder.subscriptionAck(.suback, packetId: 1, reasons: [.grantedQoS1, .topicFilterInvalid])
            == [0x90, 5, 0, 1, 0, 0x01, 0x8F])
        #expect(ReasonPacketEncoder.reasonOnly(.disconnect, reason: .sessionTakenOver) == [0xE0, 2, 0x8E, 0])
    }

    @Test func publishHeaderWritesPropertiesBeforeThePayload() throws {
        let forwarded: [UInt8] = [0x26] + B.string("k") + B.string("v")
        let properties = OutboundPublishProperties(forwarded: forwarded, messageExpiryInterval: 30, subscriptionIdentifiers: [5, 300])
        let size = PublishEncoder.headerSize(topicCount: 1, payloadCount: 2, qos: .atLeastOnce, propertiesSize: properties.encodedSize)
        var header = [UInt8](repeating: 0, count: size)
        _ = header.withUnsafeMutableBytes { destination in
            [UInt8]("t".utf8).withUnsafeBytes {
                PublishEncoder.writeHeader(
                    topic: ByteView($0), payloadCount: 2, qos: .atLeastOnce, packetId: 9, properties: properties,
                    to: destination.baseAddress!)
            }
        }
        let bytes = header + Array("hi".utf8)
        // Topic, packet id, properties (expiry first, then what is forwarded, then the
        // identifiers, 300 as a two-byte varint), payload.
        #expect(bytes == [0x32, 25, 0, 1, 0x74, 0, 9, 17, 0x02, 0, 0, 0, 30] + forwarded + [0x0B, 5, 0x0B, 0xAC, 0x02]
            + Array("hi".utf8))
    }
}

extension Packet {
    /// A packet's kind, for comparing decoded packets without their borrowed views.
    enum Kind: Equatable {
        case publish, other
        init(_ packet: Packet) { if case .publish = packet { self = .publish } else { self = .other } }
    }
}
