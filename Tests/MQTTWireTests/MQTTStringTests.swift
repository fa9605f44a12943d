import MQTTWire
import Testing

@Suite struct MQTTStringTests {
    func validationError(_ bytes: [UInt8]) -> MQTTWireError? {
        bytes.withUnsafeBytes { buffer in
            do throws(MQTTWireError) { try MQTTString.validate(buffer); return nil } catch { return error }
        }
    }

    @Test(arguments: ["", "a", "exactly8", "longer than eight bytes of ASCII", "ü", "€uro", "😀 emoji",
                      "mixed ascii then ü then more ascii text", "\u{FFFF}", "\u{10FFFF}", "\u{D7FF}", "\u{E000}"])
    func wellFormedStringsPass(text: String) {
        #expect(validationError(Array(text.utf8)) == nil)
    }

    @Test func nullIsRejectedOnBothPaths() {
        #expect(validationError([0]) == .nullCharacterInString)
        #expect(validationError(Array("abcdefgh".utf8) + [0] + Array("ijklmnop".utf8)) == .nullCharacterInString)
        #expect(validationError(Array("abcdefg".utf8) + [0]) == .nullCharacterInString)
        #expect(validationError(Array("ü".utf8) + [0]) == .nullCharacterInString)
    }

    @Test(arguments: [
        [UInt8(0x80)],                      // lone continuation
        [0xC0, 0x80],                       // overlong U+0000
        [0xC1, 0xBF],                       // overlong
        [0xE0, 0x80, 0x80],                 // overlong 3-byte
        [0xED, 0xA0, 0x80],                 // surrogate U+D800
        [0xED, 0xBF, 0xBF],                 // surrogate U+DFFF
        [0xF0, 0x80, 0x80, 0x80],           // overlong 4-byte
        [0xF4, 0x90, 0x80, 0x80],           // above U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],           // invalid lead
        [0xFF],                             // invalid byte
        [0xE2, 0x82],                       // truncated
        [0xE2, 0x28, 0xA1],                 // bad continuation
        [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0xC3],  // truncated after the fast path
    ])
    func illFormedSequencesAreRejected(bytes: [UInt8]) {
        #expect(validationError(bytes) == .invalidUTF8)
    }
}
