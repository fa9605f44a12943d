/// Hand-made packet bytes for tests that need what the encoders refuse to produce.
enum PacketBytes {
    /// A frame with the given first byte and body, with a minimal remaining length.
    static func frame(_ typeAndFlags: UInt8, _ body: [UInt8]) -> [UInt8] {
        var bytes = [typeAndFlags]
        var remaining = body.count
        repeat {
            var byte = UInt8(remaining & 0x7F)
            remaining >>= 7
            if remaining > 0 { byte |= 0x80 }
            bytes.append(byte)
        } while remaining > 0
        return bytes + body
    }

    /// An MQTT length-prefixed field.
    static func field(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    static func field(_ string: String) -> [UInt8] {
        field(Array(string.utf8))
    }

    /// A CONNECT with the given header fields followed by `fields` (already length-prefixed
    /// or raw, as the test needs).
    static func connect(
        name: String = "MQTT", level: UInt8 = 4, flags: UInt8 = 0x02, keepAlive: UInt16 = 60,
        clientId: String = "c", rest: [UInt8] = []
    ) -> [UInt8] {
        let body = field(name) + [level, flags, UInt8(keepAlive >> 8), UInt8(keepAlive & 0xFF)] + field(clientId) + rest
        return frame(0x10, body)
    }

    /// A QoS 0 PUBLISH with a raw topic.
    static func publish(topic: [UInt8], flags: UInt8 = 0, packetId: [UInt8] = [], payload: [UInt8] = []) -> [UInt8] {
        frame(0x30 | flags, field(topic) + packetId + payload)
    }
}
