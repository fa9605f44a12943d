/// Server-side frame headers and small control frames (RFC 6455 §5.2): final, unmasked.
public enum WebSocketFrameEncoder {
    /// Largest header: 2 bytes + a 64-bit length.
    public static let maxHeaderLength = 10

    /// Length of the header for a payload of `payloadLength` bytes.
    public static func headerLength(payloadLength: Int) -> Int {
        payloadLength < 126 ? 2 : payloadLength <= 0xFFFF ? 4 : 10
    }

    /// Writes a final, unmasked frame header into `into` (at least `headerLength` bytes);
    /// returns the bytes written.
    @discardableResult
    public static func writeHeader(
        opcode: WebSocketOpcode, payloadLength: Int, into: UnsafeMutableRawPointer
    ) -> Int {
        into.storeBytes(of: 0x80 | opcode.rawValue, as: UInt8.self)
        if payloadLength < 126 {
            (into + 1).storeBytes(of: UInt8(payloadLength), as: UInt8.self)
            return 2
        }
        if payloadLength <= 0xFFFF {
            (into + 1).storeBytes(of: 126, as: UInt8.self)
            (into + 2).storeBytes(of: UInt8(payloadLength >> 8), as: UInt8.self)
            (into + 3).storeBytes(of: UInt8(payloadLength & 0xFF), as: UInt8.self)
            return 4
        }
        (into + 1).storeBytes(of: 127, as: UInt8.self)
        for index in 0..<8 {
            (into + 2 + index).storeBytes(of: UInt8(truncatingIfNeeded: UInt64(payloadLength) >> (56 - 8 * index)), as: UInt8.self)
        }
        return 10
    }

    /// A whole frame: header then payload.
    public static func frame(opcode: WebSocketOpcode, payload: [UInt8]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerLength(payloadLength: payload.count))
        bytes.withUnsafeMutableBytes { _ = writeHeader(opcode: opcode, payloadLength: payload.count, into: $0.baseAddress!) }
        return bytes + payload
    }

    /// A close frame carrying `code`.
    public static func close(_ code: UInt16) -> [UInt8] {
        frame(opcode: .close, payload: [UInt8(code >> 8), UInt8(code & 0xFF)])
    }

    /// The pong answering a ping with `payload`.
    public static func pong(_ payload: [UInt8]) -> [UInt8] {
        frame(opcode: .pong, payload: payload)
    }
}
