import MQTTWire
import TestSupport
import Testing

@Suite struct DecoderVerifierTests {
    @Test func streamOfEveryPacketTypeDecodesTheSameHoweverItIsCut() throws {
        let packets = try DecoderVerifier.verify(stream: SamplePackets.stream, seed: 1, randomSplits: 50)
        let expected = SamplePackets.all.filter { $0.name != "connect-v31" }.map(\.bytes)
        #expect(packets == expected)
    }

    @Test func mqtt31StreamSwitchesTheAccumulatorTo31() throws {
        // After a 3.1 CONNECT, a SUBSCRIBE with flags 0 (allowed for 3.1) decodes.
        let stream = ConnectEncoder.encode(protocolVersion: .v3_1, clientId: Array("c".utf8))
            + PacketBytes.frame(0x80, [0, 1] + PacketBytes.field("a/b") + [1])
        let packets = try DecoderVerifier.verify(stream: stream, seed: 2)
        #expect(packets.count == 2)
    }

    @Test func manySeedsAgree() throws {
        for seed in UInt64(10)..<UInt64(20) {
            try DecoderVerifier.verify(stream: SamplePackets.stream + SamplePackets.stream, seed: seed, randomSplits: 5)
        }
    }
}
