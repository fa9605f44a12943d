/// MQTT's "Remaining Length" encoding: 7 bits per byte, low group first, the high bit says
/// another byte follows. At most 4 bytes, so at most 268_435_455.
public enum VariableLengthInteger {
    /// The largest value four bytes can carry.
    public static let maxValue = 268_435_455
    /// The most bytes an encoding may take.
    public static let maxByteCount = 4

    /// Decodes the integer starting at `offset`.
    /// - Returns: the value and how many bytes it took, or nil if the buffer ends first.
    /// - Throws: `.malformedRemainingLength` if the fourth byte still says "more follows".
    public static func decode(
        from bytes: UnsafeRawBufferPointer, at offset: Int
    ) throws(MQTTWireError) -> (value: Int, byteCount: Int)? {
        guard offset >= 0 else { return nil }
        var value = 0
        for index in 0..<maxByteCount {
            let position = offset + index
            guard position < bytes.count else { return nil }
            let byte = bytes.baseAddress!.load(fromByteOffset: position, as: UInt8.self)
            value |= Int(byte & 0x7F) << (7 * index)
            if byte & 0x80 == 0 {
                return (value, index + 1)
            }
        }
        throw .malformedRemainingLength
    }

    /// Bytes needed to encode `value` (1...4).
    public static func encodedLength(_ value: Int) -> Int {
        precondition(value >= 0 && value <= maxValue, "remaining length out of range")
        switch value {
        case ..<128: return 1
        case ..<16_384: return 2
        case ..<2_097_152: return 3
        default: return 4
        }
    }

    /// Writes `value` at `destination`; returns the bytes written. The caller sized the space
    /// with `encodedLength(_:)`.
    @discardableResult
    public static func write(_ value: Int, to destination: UnsafeMutableRawPointer) -> Int {
        precondition(value >= 0 && value <= maxValue, "remaining length out of range")
        var remaining = value
        var index = 0
        repeat {
            var byte = UInt8(remaining & 0x7F)
            remaining >>= 7
            if remaining > 0 { byte |= 0x80 }
            destination.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
            index += 1
        } while remaining > 0
        return index
    }
}
