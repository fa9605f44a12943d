import MQTTWire
import Testing

@Suite struct ByteReaderTests {
    @Test func getDoesNotMoveAndReadDoes() {
        let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x00, 0x02, 0x41, 0x42, 0xFF]
        bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            #expect(reader.getUInt8(at: 0) == 0x01)
            #expect(reader.getUInt16(at: 1) == 0x0203)
            #expect(reader.readerIndex == 0)
            #expect(reader.readUInt8() == 0x01)
            #expect(reader.readUInt16() == 0x0203)
            #expect(reader.readerIndex == 3)
            let text = reader.readLengthPrefixedBytes()
            #expect(text?.makeString() == "AB")
            #expect(reader.readableBytes == 1)
            #expect(reader.readBytes(count: 1)?.copyToArray() == [0xFF])
            #expect(reader.readableBytes == 0)
        }
    }

    @Test func readsThatLackBytesReturnNilAndStay() {
        let bytes: [UInt8] = [0x00, 0x05, 0x41]
        bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            #expect(reader.readLengthPrefixedBytes() == nil)
            #expect(reader.readerIndex == 0)
            #expect(reader.readBytes(count: 4) == nil)
            #expect(reader.getUInt16(at: 2) == nil)
            #expect(reader.getUInt8(at: 3) == nil)
            #expect(reader.getUInt8(at: -1) == nil)
            #expect(reader.getBytes(at: 1, count: Int.max) == nil)
            #expect(reader.readBytes(count: 3)?.count == 3)
            #expect(reader.readUInt8() == nil)
        }
    }

    @Test func emptyBufferReadsNothing() {
        var reader = ByteReader(UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(reader.readUInt8() == nil)
        #expect(reader.readBytes(count: 0)?.isEmpty == true)
        #expect(reader.readRemainingBytes().isEmpty)
    }

    @Test func byteViewComparesContentsAndDescribesItself() {
        let a: [UInt8] = Array("topic".utf8)
        let b: [UInt8] = Array("xtopic".utf8)
        a.withUnsafeBytes { bufferA in
            b.withUnsafeBytes { bufferB in
                let viewA = ByteView(bufferA)
                let viewB = ByteView(UnsafeRawBufferPointer(rebasing: bufferB[1...]))
                #expect(viewA == viewB)
                #expect(viewA.hashValue == viewB.hashValue)
                #expect(viewA != ByteView(bufferB))
                #expect(viewA.elementsEqual("topic".utf8))
                #expect(viewA[0] == UInt8(ascii: "t"))
                #expect(viewA.description == "\"topic\"")
                #expect(viewA.withUnsafeBytes { $0.count } == 5)
            }
        }
        [UInt8]([0x00, 0xAB]).withUnsafeBytes { #expect(ByteView($0).description == "0x00ab") }
        #expect(ByteView.empty == ByteView.empty)
    }
}
