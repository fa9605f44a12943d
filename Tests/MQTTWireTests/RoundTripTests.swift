import MQTTWire
import TestSupport
import Testing

@Suite struct RoundTripTests {
    @Test(arguments: SamplePackets.all.map(\.name))
    func everySampleReencodesToTheSameBytes(name: String) throws {
        let bytes = SamplePackets.all.first { $0.name == name }!.bytes
        let version: ProtocolVersion = name == "connect-v31" ? .v3_1 : .v3_1_1
        #expect(try WireDecoding.reencode(bytes, protocolVersion: version) == bytes)
    }

    @Test func coversEveryPacketType() throws {
        var types = Set<PacketType>()
        for sample in SamplePackets.all {
            try WireDecoding.withPacket(sample.bytes) { types.insert($0.type); return () }
        }
        // AUTH exists only in MQTT 5 (MQTT5CodecTests).
        #expect(types == Set(PacketType.allCases).subtracting([.auth]))
    }

    @Test func connectFieldsSurviveEncoding() throws {
        let bytes = ConnectEncoder.encode(
            cleanSession: false, keepAlive: 30, clientId: Array("client-2".utf8),
            will: (topic: Array("last/will".utf8), payload: [0x00, 0xFF], qos: .exactlyOnce, retain: true),
            username: Array("user".utf8), password: [0x01, 0x02])
        try WireDecoding.withPacket(bytes) { packet in
            guard case let .connect(connect) = packet else { Issue.record("not CONNECT"); return }
            #expect(connect.protocolName.elementsEqual("MQTT".utf8))
            #expect(connect.protocolLevel == 4)
            #expect(connect.protocolVersion == .v3_1_1)
            #expect(!connect.cleanSession)
            #expect(connect.keepAlive == 30)
            #expect(connect.clientId.makeString() == "client-2")
            #expect(connect.will?.topic.makeString() == "last/will")
            #expect(connect.will?.payload.copyToArray() == [0x00, 0xFF])
            #expect(connect.will?.qos == .exactlyOnce)
            #expect(connect.will?.retain == true)
            #expect(connect.username?.makeString() == "user")
            #expect(connect.password?.copyToArray() == [0x01, 0x02])
        }
    }

    @Test func mqtt31ConnectIsRecognised() throws {
        let bytes = ConnectEncoder.encode(protocolVersion: .v3_1, clientId: Array("old".utf8))
        try WireDecoding.withPacket(bytes) { packet in
            guard case let .connect(connect) = packet else { Issue.record("not CONNECT"); return }
            #expect(connect.protocolName.elementsEqual("MQIsdp".utf8))
            #expect(connect.protocolLevel == 3)
            #expect(connect.protocolVersion == .v3_1)
            #expect(connect.will == nil && connect.username == nil && connect.password == nil)
        }
    }

    @Test func connAckFieldsSurviveEncoding() throws {
        for code in ConnectReturnCode.allCases {
            for sessionPresent in [false, true] {
                let bytes = ConnAckEncoder.encode(sessionPresent: sessionPresent, returnCode: code)
                #expect(bytes.count == ConnAckEncoder.size)
                try WireDecoding.withPacket(bytes) { packet in
                    #expect(packet == .connack(ConnAck(sessionPresent: sessionPresent, returnCode: code)))
                }
                #expect(try WireDecoding.reencode(bytes) == bytes)
            }
        }
    }

    @Test func publishFieldsSurviveEncoding() throws {
        for qos in QoS.allCases {
            let payload = [UInt8](repeating: 0x5A, count: 200)
            let bytes = PublishEncoder.encode(
                topic: Array("a/b/c".utf8), payload: payload, qos: qos, retain: true, dup: qos != .atMostOnce,
                packetId: 513)
            try WireDecoding.withPacket(bytes) { packet in
                guard case let .publish(publish) = packet else { Issue.record("not PUBLISH"); return }
                #expect(publish.topic.makeString() == "a/b/c")
                #expect(publish.payload.copyToArray() == payload)
                #expect(publish.qos == qos)
                #expect(publish.retain)
                #expect(publish.dup == (qos != .atMostOnce))
                #expect(publish.packetId == (qos == .atMostOnce ? nil : 513))
            }
            #expect(try WireDecoding.reencode(bytes) == bytes)
        }
    }

    @Test func publishHeaderPlusPayloadEqualsTheWholePacket() {
        let payload = [UInt8](repeating: 7, count: 20_000)
        for qos in QoS.allCases {
            let whole = PublishEncoder.encode(topic: Array("t/x".utf8), payload: payload, qos: qos, packetId: 9)
            let header = PublishEncoder.encodeHeader(topic: Array("t/x".utf8), payloadCount: payload.count, qos: qos, packetId: 9)
            #expect(header + payload == whole)
            #expect(PublishEncoder.size(topicCount: 3, payloadCount: payload.count, qos: qos) == whole.count)
            #expect(PublishEncoder.headerSize(topicCount: 3, payloadCount: payload.count, qos: qos) == header.count)
        }
    }

    @Test func acknowledgementsCarryTheirPacketId() throws {
        let expectations: [(PacketType, (UInt16) -> Packet)] = [
            (.puback, Packet.puback), (.pubrec, Packet.pubrec), (.pubrel, Packet.pubrel),
            (.pubcomp, Packet.pubcomp), (.unsuback, Packet.unsuback),
        ]
        for (type, make) in expectations {
            let bytes = AckEncoder.encode(type, packetId: 0xBEEF)
            #expect(bytes.count == AckEncoder.size)
            try WireDecoding.withPacket(bytes) { #expect($0 == make(0xBEEF)) }
            #expect(try WireDecoding.reencode(bytes) == bytes)
        }
        #expect(AckEncoder.encode(.pubrel, packetId: 1)[0] == 0x62)
    }

    @Test func subscribeFiltersAreReadInOrder() throws {
        let bytes = SubscribeEncoder.encode(packetId: 42, filters: [
            (filter: Array("a/+".utf8), qos: .atLeastOnce), (filter: Array("#".utf8), qos: .exactlyOnce),
        ])
        try WireDecoding.withPacket(bytes) { packet in
            guard case let .subscribe(subscribe) = packet else { Issue.record("not SUBSCRIBE"); return }
            #expect(subscribe.packetId == 42)
            #expect(subscribe.filters.count == 2)
            let entries = Array(subscribe.filters)
            #expect(entries.map { $0.filter.makeString() } == ["a/+", "#"])
            #expect(entries.map(\.qos) == [.atLeastOnce, .exactlyOnce])
        }
        #expect(try WireDecoding.reencode(bytes) == bytes)
    }

    @Test func subAckCodesSurviveEncoding() throws {
        let codes: [SubscribeReturnCode] = [.failure, .grantedQoS2, .grantedQoS0, .grantedQoS1]
        let bytes = SubAckEncoder.encode(packetId: 5, returnCodes: codes)
        try WireDecoding.withPacket(bytes) { #expect($0 == .suback(SubAck(packetId: 5, returnCodes: codes))) }
        #expect(try WireDecoding.reencode(bytes) == bytes)
    }

    @Test func unsubscribeFiltersAreReadInOrder() throws {
        let bytes = UnsubscribeEncoder.encode(packetId: 3, filters: [Array("a/#".utf8), Array("b".utf8), Array("+/+".utf8)])
        try WireDecoding.withPacket(bytes) { packet in
            guard case let .unsubscribe(unsubscribe) = packet else { Issue.record("not UNSUBSCRIBE"); return }
            #expect(unsubscribe.packetId == 3)
            #expect(unsubscribe.filters.count == 3)
            #expect(unsubscribe.filters.map { $0.makeString() } == ["a/#", "b", "+/+"])
        }
        #expect(try WireDecoding.reencode(bytes) == bytes)
    }

    @Test func emptyPacketsAreTwoBytes() throws {
        #expect(EmptyPacketEncoder.encode(.pingreq) == [0xC0, 0x00])
        #expect(EmptyPacketEncoder.encode(.pingresp) == [0xD0, 0x00])
        #expect(EmptyPacketEncoder.encode(.disconnect) == [0xE0, 0x00])
        try WireDecoding.withPacket([0xC0, 0x00]) { #expect($0 == .pingreq) }
        try WireDecoding.withPacket([0xD0, 0x00]) { #expect($0 == .pingresp) }
        try WireDecoding.withPacket([0xE0, 0x00]) { #expect($0 == .disconnect(.normal)) }
    }

    @Test func encodeIntoAppends() throws {
        var bytes: [UInt8] = [0xAA]
        try WireDecoding.withPacket(EmptyPacketEncoder.encode(.pingreq)) { $0.encode(into: &bytes) }
        #expect(bytes == [0xAA, 0xC0, 0x00])
    }

    @Test func decodingBorrowsInsteadOfCopying() throws {
        let bytes = PublishEncoder.encode(topic: Array("t".utf8), payload: [1, 2, 3])
        try bytes.withUnsafeWireBytes { buffer throws(MQTTWireError) in
            guard let packet = try Packet.decode(frame: buffer, maxPacketSize: 100),
                  case let .publish(publish) = packet
            else { Issue.record("not PUBLISH"); return }
            #expect(publish.payload.unsafeBytes.baseAddress == buffer.baseAddress! + 5)
        }
    }
}
