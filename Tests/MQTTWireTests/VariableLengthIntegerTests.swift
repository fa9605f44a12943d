import MQTTWire
import TestSupport
import Testing

@Suite struct VariableLengthIntegerTests {
    static let edges: [(value: Int, bytes: [UInt8])] = [
        (0, [0x00]),
        (127, [0x7F]),
        (128, [0x80, 0x01]),
        (16_383, [0xFF, 0x7F]),
        (16_384, [0x80, 0x80, 0x01]),
        (2_097_151, [0xFF, 0xFF, 0x7F]),
        (2_097_152, [0x80, 0x80, 0x80, 0x01]),
        (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F]),
    ]

    @Test(arguments: edges)
    func edgeValuesEncodeAndDecodeAsTheSpecTable(value: Int, bytes: [UInt8]) throws {
        #expect(VariableLengthInteger.encodedLength(value) == bytes.count)
        var written = [UInt8](repeating: 0xAA, count: 4)
        let count = written.withUnsafeMutableBytes { VariableLengthInteger.write(value, to: $0.baseAddress!) }
        #expect(Array(written.prefix(count)) == bytes)
        let decoded = try bytes.withUnsafeWireBytes { buffer throws(MQTTWireError) in
            try VariableLengthInteger.decode(from: buffer, at: 0)
        }
        #expect(decoded?.value == value)
        #expect(decoded?.byteCount == bytes.count)
    }

    @Test(arguments: edges)
    func truncatedEncodingNeedsMoreBytes(value: Int, bytes: [UInt8]) throws {
        for length in 0..<bytes.count {
            let prefix = Array(bytes.prefix(length))
            let decoded = try prefix.withUnsafeWireBytes { buffer throws(MQTTWireError) in
                try VariableLengthInteger.decode(from: buffer, at: 0)
            }
            #expect(decoded == nil)
        }
    }

    @Test func fifthByteIsMalformed() {
        let bytes: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        #expect(throws: MQTTWireError.malformedRemainingLength) {
            try bytes.withUnsafeWireBytes { buffer throws(MQTTWireError) in
                _ = try VariableLengthInteger.decode(from: buffer, at: 0)
            }
        }
    }

    @Test func decodesAtAnOffset() throws {
        let bytes: [UInt8] = [0x30, 0x80, 0x01]
        let decoded = try bytes.withUnsafeWireBytes { buffer throws(MQTTWireError) in
            try VariableLengthInteger.decode(from: buffer, at: 1)
        }
        #expect(decoded?.value == 128)
        #expect(decoded?.byteCount == 2)
    }
}
