/// Validation of MQTT's UTF-8 encoded strings (MQTT 3.1.1 §1.5.3).
///
/// The decoder applies it to every string field; the broker may apply it to strings from
/// elsewhere. Well-formed UTF-8 excludes surrogates (U+D800...U+DFFF), overlong forms and
/// code points above U+10FFFF; MQTT also excludes U+0000.
public enum MQTTString {
    /// Throws `.invalidUTF8` or `.nullCharacterInString` if `string` is not acceptable.
    public static func validate(_ string: ByteView) throws(MQTTWireError) {
        try validate(string.unsafeBytes)
    }

    /// Throws `.invalidUTF8` or `.nullCharacterInString` if `bytes` are not acceptable.
    public static func validate(_ bytes: UnsafeRawBufferPointer) throws(MQTTWireError) {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return }
        var index = 0
        while index < count {
            // Fast path: topics and client ids are nearly always ASCII, so test 8 bytes at a
            // time for a high bit (non-ASCII) or a zero byte.
            while index + 8 <= count {
                let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                if (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0 {
                    throw .nullCharacterInString
                }
                index += 8
            }
            guard index < count else { return }
            let lead = base.load(fromByteOffset: index, as: UInt8.self)
            if lead < 0x80 {
                if lead == 0 { throw .nullCharacterInString }
                index += 1
                continue
            }
            // Table 3-7 of the Unicode standard: the allowed range of the second byte
            // depends on the lead byte; the rest are plain continuation bytes.
            let length: Int
            var secondLow: UInt8 = 0x80
            var secondHigh: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondLow = 0xA0
            case 0xED: length = 3; secondHigh = 0x9F  // excludes surrogates
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xF0: length = 4; secondLow = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondHigh = 0x8F  // caps at U+10FFFF
            default: throw .invalidUTF8
            }
            guard index + length <= count else { throw .invalidUTF8 }
            let second = base.load(fromByteOffset: index + 1, as: UInt8.self)
            guard second >= secondLow && second <= secondHigh else { throw .invalidUTF8 }
            var offset = 2
            while offset < length {
                let next = base.load(fromByteOffset: index + offset, as: UInt8.self)
                guard next & 0xC0 == 0x80 else { throw .invalidUTF8 }
                offset += 1
            }
            index += length
        }
    }
}
