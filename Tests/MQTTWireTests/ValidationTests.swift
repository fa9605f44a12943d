import MQTTWire
import TestSupport
import Testing

/// One failing example per decoding rule, each asserting the exact error.
@Suite struct ValidationTests {
    typealias P = PacketBytes

    func error(_ bytes: [UInt8], _ version: ProtocolVersion = .v3_1_1) -> MQTTWireError? {
        WireDecoding.error(bytes, protocolVersion: version)
    }

    // MARK: fixed header flags

    @Test func pubrelSubscribeUnsubscribeRequireFlags0010() {
        #expect(error(P.frame(0x60, [0, 1])) == .invalidFixedHeaderFlags(.pubrel, flags: 0))
        #expect(error(P.frame(0x80, [0, 1] + P.field("a") + [0])) == .invalidFixedHeaderFlags(.subscribe, flags: 0))
        #expect(error(P.frame(0xA3, [0, 1] + P.field("a"))) == .invalidFixedHeaderFlags(.unsubscribe, flags: 3))
    }

    @Test func otherPacketsRequireFlagsZero() {
        #expect(error(P.frame(0x12, [])) == .invalidFixedHeaderFlags(.connect, flags: 2))
        #expect(error(P.frame(0x21, [0, 0])) == .invalidFixedHeaderFlags(.connack, flags: 1))
        #expect(error(P.frame(0x42, [0, 1])) == .invalidFixedHeaderFlags(.puback, flags: 2))
        #expect(error(P.frame(0x58, [0, 1])) == .invalidFixedHeaderFlags(.pubrec, flags: 8))
        #expect(error(P.frame(0x71, [0, 1])) == .invalidFixedHeaderFlags(.pubcomp, flags: 1))
        #expect(error(P.frame(0x92, [0, 1, 0])) == .invalidFixedHeaderFlags(.suback, flags: 2))
        #expect(error(P.frame(0xB2, [0, 1])) == .invalidFixedHeaderFlags(.unsuback, flags: 2))
        #expect(error(P.frame(0xC1, [])) == .invalidFixedHeaderFlags(.pingreq, flags: 1))
        #expect(error(P.frame(0xD4, [])) == .invalidFixedHeaderFlags(.pingresp, flags: 4))
        #expect(error(P.frame(0xEF, [])) == .invalidFixedHeaderFlags(.disconnect, flags: 15))
    }

    @Test func mqtt31ClientsAreNotHeldToReservedFlags() {
        // Mosquitto checks these only for 3.1.1: 3.1 did not reserve them.
        #expect(error(P.frame(0x80, [0, 1] + P.field("a") + [0]), .v3_1) == nil)
        #expect(error(P.frame(0x6A, [0, 1]), .v3_1) == nil)
        #expect(error(P.frame(0xC1, []), .v3_1) == nil)
    }

    // MARK: PUBLISH

    @Test func publishQoS3IsInvalid() {
        #expect(error(P.publish(topic: Array("a".utf8), flags: 0b0110, packetId: [0, 1])) == .invalidPublishQoS)
    }

    @Test func publishDupAtQoS0IsInvalid() {
        #expect(error(P.publish(topic: Array("a".utf8), flags: 0b1000)) == .duplicateFlagWithQoS0)
    }

    @Test func publishTopicRules() {
        #expect(error(P.publish(topic: [])) == .emptyTopicName)
        #expect(error(P.publish(topic: Array("a/+".utf8))) == .wildcardInTopicName)
        #expect(error(P.publish(topic: Array("#".utf8))) == .wildcardInTopicName)
        #expect(error(P.publish(topic: Array("a/b\u{0}".utf8))) == .nullCharacterInString)
        #expect(error(P.publish(topic: [0x61, 0xC0, 0x80])) == .invalidUTF8)
    }

    @Test func publishQoS1NeedsAPacketId() {
        #expect(error(P.publish(topic: Array("a".utf8), flags: 0b0010)) == .truncatedPacket(.publish))
        #expect(error(P.publish(topic: Array("a".utf8), flags: 0b0010, packetId: [0, 0])) == .zeroPacketIdentifier(.publish))
    }

    @Test func publishTopicLongerThanTheBodyIsTruncated() {
        #expect(error(P.frame(0x30, [0, 5, 0x61])) == .truncatedPacket(.publish))
    }

    // MARK: packet identifiers and fixed lengths

    @Test func zeroPacketIdentifiersAreInvalid() {
        #expect(error(P.frame(0x40, [0, 0])) == .zeroPacketIdentifier(.puback))
        #expect(error(P.frame(0x50, [0, 0])) == .zeroPacketIdentifier(.pubrec))
        #expect(error(P.frame(0x62, [0, 0])) == .zeroPacketIdentifier(.pubrel))
        #expect(error(P.frame(0x70, [0, 0])) == .zeroPacketIdentifier(.pubcomp))
        #expect(error(P.frame(0xB0, [0, 0])) == .zeroPacketIdentifier(.unsuback))
        #expect(error(P.frame(0x82, [0, 0] + P.field("a") + [0])) == .zeroPacketIdentifier(.subscribe))
        #expect(error(P.frame(0x90, [0, 0, 0])) == .zeroPacketIdentifier(.suback))
        #expect(error(P.frame(0xA2, [0, 0] + P.field("a"))) == .zeroPacketIdentifier(.unsubscribe))
    }

    @Test func fixedLengthPacketsRejectTrailingBytes() {
        #expect(error(P.frame(0x40, [0, 1, 0])) == .trailingBytes(.puback, count: 1))
        #expect(error(P.frame(0x62, [0, 1, 0, 0])) == .trailingBytes(.pubrel, count: 2))
        #expect(error(P.frame(0xB0, [0, 1, 9])) == .trailingBytes(.unsuback, count: 1))
        #expect(error(P.frame(0x20, [0, 0, 0])) == .trailingBytes(.connack, count: 1))
        #expect(error(P.frame(0xC0, [0])) == .trailingBytes(.pingreq, count: 1))
        #expect(error(P.frame(0xD0, [0])) == .trailingBytes(.pingresp, count: 1))
        #expect(error(P.frame(0xE0, [0, 0])) == .trailingBytes(.disconnect, count: 2))
        #expect(error(P.connect(rest: [0])) == .trailingBytes(.connect, count: 1))
    }

    @Test func shortFixedLengthPacketsAreTruncated() {
        #expect(error(P.frame(0x40, [0])) == .truncatedPacket(.puback))
        #expect(error(P.frame(0x20, [0])) == .truncatedPacket(.connack))
    }

    // MARK: SUBSCRIBE, SUBACK, UNSUBSCRIBE

    @Test func subscribeNeedsAFilter() {
        #expect(error(P.frame(0x82, [0, 1])) == .subscribeWithoutFilters)
    }

    @Test func subscribeRequestedQoSAbove2IsInvalid() {
        #expect(error(P.frame(0x82, [0, 1] + P.field("a") + [3])) == .invalidRequestedQoS(3))
        #expect(error(P.frame(0x82, [0, 1] + P.field("a") + [0x81])) == .invalidRequestedQoS(0x81))
    }

    @Test func subscribeEntryWithoutQoSIsTruncated() {
        #expect(error(P.frame(0x82, [0, 1] + P.field("a"))) == .truncatedPacket(.subscribe))
    }

    @Test func subscribeFilterRules() {
        #expect(error(P.frame(0x82, [0, 1] + P.field("") + [0])) == .emptyTopicFilter)
        #expect(error(P.frame(0x82, [0, 1] + P.field("a/#/b") + [0])) == .invalidWildcardInTopicFilter)
        #expect(error(P.frame(0x82, [0, 1] + P.field("a") + [0] + P.field("a+") + [1])) == .invalidWildcardInTopicFilter)
        #expect(error(P.frame(0x82, [0, 1] + P.field([0xED, 0xA0, 0x80]) + [0])) == .invalidUTF8)
    }

    @Test func unsubscribeNeedsAFilter() {
        #expect(error(P.frame(0xA2, [0, 1])) == .unsubscribeWithoutFilters)
    }

    @Test func unsubscribeFilterRules() {
        #expect(error(P.frame(0xA2, [0, 1] + P.field(""))) == .emptyTopicFilter)
        #expect(error(P.frame(0xA2, [0, 1] + P.field("#a"))) == .invalidWildcardInTopicFilter)
        #expect(error(P.frame(0xA2, [0, 1, 0])) == .truncatedPacket(.unsubscribe))
    }

    @Test func subAckRules() {
        #expect(error(P.frame(0x90, [0, 1])) == .subAckWithoutReturnCodes)
        #expect(error(P.frame(0x90, [0, 1, 0, 3])) == .invalidSubscribeReturnCode(3))
    }

    @Test func connAckRules() {
        #expect(error(P.frame(0x20, [0x02, 0])) == .invalidConnAckFlags(0x02))
        #expect(error(P.frame(0x20, [0, 6])) == .invalidConnectReturnCode(6))
    }

    // MARK: CONNECT

    @Test func knownProtocolNameWithAnotherLevelIsUnacceptable() {
        let error311 = error(P.connect(name: "MQTT", level: 3))
        #expect(error311 == .unacceptableProtocolLevel(3))
        #expect(error311?.connectReturnCode == .unacceptableProtocolVersion)
        #expect(error(P.connect(name: "MQTT", level: 6)) == .unacceptableProtocolLevel(6))
        #expect(error(P.connect(name: "MQIsdp", level: 4)) == .unacceptableProtocolLevel(4))
    }

    @Test func unknownProtocolNameIsRejected() {
        let failure = error(P.connect(name: "MQTX", level: 4))
        #expect(failure == .unknownProtocolName)
        #expect(failure?.connectReturnCode == nil)
    }

    @Test func connectReservedFlagMustBeZeroIn311() {
        #expect(error(P.connect(flags: 0x03)) == .connectReservedFlagSet)
        #expect(error(P.connect(name: "MQIsdp", level: 3, flags: 0x03)) == nil)
    }

    @Test func willQoSAndRetainNeedTheWillFlag() {
        #expect(error(P.connect(flags: 0x02 | 0x08)) == .willFlagsWithoutWill)
        #expect(error(P.connect(flags: 0x02 | 0x20)) == .willFlagsWithoutWill)
    }

    @Test func willQoS3IsInvalid() {
        #expect(error(P.connect(flags: 0x02 | 0x04 | 0x18, rest: P.field("w") + P.field("p"))) == .invalidWillQoS)
    }

    @Test func willTopicFollowsTopicNameRules() {
        #expect(error(P.connect(flags: 0x06, rest: P.field("w/#") + P.field("p"))) == .wildcardInTopicName)
        #expect(error(P.connect(flags: 0x06, rest: P.field("") + P.field("p"))) == .emptyTopicName)
        #expect(error(P.connect(flags: 0x06, rest: P.field("w"))) == .truncatedPacket(.connect))
    }

    @Test func passwordWithoutUsernameIsInvalidIn311Only() {
        #expect(error(P.connect(flags: 0x42, rest: P.field("secret"))) == .passwordWithoutUsername)
        // 3.1 allowed it (Mosquitto too): the password is kept.
        let bytes = P.connect(name: "MQIsdp", level: 3, flags: 0x42, rest: P.field("secret"))
        #expect(throws: Never.self) {
            try WireDecoding.withPacket(bytes, protocolVersion: .v3_1) { packet in
                guard case let .connect(connect) = packet else { Issue.record("not CONNECT"); return }
                #expect(connect.username == nil)
                #expect(connect.password?.makeString() == "secret")
            }
        }
    }

    @Test func mqtt31FlagsWithMissingFieldsAreIgnored() throws {
        let bytes = P.connect(name: "MQIsdp", level: 3, flags: 0xC2)
        try WireDecoding.withPacket(bytes) { packet in
            guard case let .connect(connect) = packet else { Issue.record("not CONNECT"); return }
            #expect(connect.username == nil && connect.password == nil)
        }
        #expect(error(P.connect(flags: 0xC2)) == .truncatedPacket(.connect))
    }

    @Test func emptyClientIdIsTheBrokersDecision() throws {
        try WireDecoding.withPacket(P.connect(clientId: "")) { packet in
            guard case let .connect(connect) = packet else { Issue.record("not CONNECT"); return }
            #expect(connect.clientId.isEmpty)
        }
    }

    @Test func connectStringsAreValidated() {
        #expect(error(P.connect(clientId: "a\u{0}")) == .nullCharacterInString)
        #expect(error(P.connect(flags: 0x82, rest: P.field([0xFF]))) == .invalidUTF8)
    }

    @Test func truncatedConnectIsMalformed() {
        #expect(error(P.frame(0x10, P.field("MQTT"))) == .truncatedPacket(.connect))
        #expect(error(P.frame(0x10, [0, 4, 0x4D])) == .truncatedPacket(.connect))
    }

    @Test func everyErrorDescribesItself() {
        let samples: [MQTTWireError] = [
            .malformedRemainingLength, .packetTooLarge(size: 2, limit: 1), .invalidPacketType(0),
            .invalidFixedHeaderFlags(.pubrel, flags: 0), .invalidPublishQoS, .duplicateFlagWithQoS0,
            .zeroPacketIdentifier(.puback), .truncatedPacket(.connect), .trailingBytes(.puback, count: 1),
            .invalidUTF8, .nullCharacterInString, .emptyTopicName, .wildcardInTopicName, .emptyTopicFilter,
            .invalidWildcardInTopicFilter, .tooManyTopicLevels(count: 3, limit: 2), .subscribeWithoutFilters,
            .invalidRequestedQoS(3), .unsubscribeWithoutFilters, .unknownProtocolName,
            .unacceptableProtocolLevel(5), .connectReservedFlagSet, .willFlagsWithoutWill, .invalidWillQoS,
            .passwordWithoutUsername, .invalidConnAckFlags(2), .invalidConnectReturnCode(6),
            .invalidSubscribeReturnCode(3), .subAckWithoutReturnCodes,
        ]
        #expect(Set(samples.map(\.description)).count == samples.count)
        #expect(samples.filter { $0.connectReturnCode != nil } == [.unacceptableProtocolLevel(5)])
    }
}
