/// Raw MQTT 5 packets built byte by byte, so tests and the fuzzer's seeds can hold any field
/// (also an invalid one) where the broker's encoders write only what the broker sends.
package enum MQTT5Bytes {
    package static func varint(_ value: Int) -> [UInt8] {
        var out: [UInt8] = []
        var rest = value
        repeat {
            var byte = UInt8(rest & 0x7F)
            rest >>= 7
            if rest > 0 { byte |= 0x80 }
            out.append(byte)
        } while rest > 0
        return out
    }

    package static func string(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        return [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    package static func packet(_ first: UInt8, _ body: [UInt8]) -> [UInt8] { [first] + varint(body.count) + body }

    /// A property block: its length, then the properties.
    package static func properties(_ bytes: [UInt8]) -> [UInt8] { varint(bytes.count) + bytes }

    package static func userProperty(_ key: String, _ value: String) -> [UInt8] { [0x26] + string(key) + string(value) }

    /// CONNECT with protocol level 5; `rest` follows the client id (will, username, password).
    package static func connect(properties: [UInt8], clientId: String = "c5", flags: UInt8 = 0x02, rest: [UInt8] = []) -> [UInt8] {
        packet(0x10, string("MQTT") + [5, flags, 0, 60] + Self.properties(properties) + string(clientId) + rest)
    }

    package static func publish(topic: String, qos: UInt8 = 0, properties: [UInt8], payload: [UInt8] = Array("hi".utf8)) -> [UInt8] {
        packet(0x30 | qos << 1, string(topic) + (qos > 0 ? [0, 7] : []) + Self.properties(properties) + payload)
    }

    /// Valid MQTT 5 packets of every kind a client sends, with properties: the fuzzer's v5 seeds.
    package static let samples: [(name: String, bytes: [UInt8])] = [
        ("v5-connect", connect(
            properties: [0x11, 0, 0, 0x0E, 0x10, 0x21, 0, 5, 0x27, 0, 0, 1, 0, 0x22, 0, 3] + userProperty("k", "v"),
            flags: 0xC6,
            rest: properties([0x18, 0, 0, 0, 9, 0x01, 1]) + string("w/t") + string("bye") + string("user") + string("pw"))),
        ("v5-publish", publish(
            topic: "a/b", qos: 1,
            properties: [0x01, 1, 0x02, 0, 0, 0, 60, 0x23, 0, 2] + [0x03] + string("text/plain") + [0x08] + string("reply/to")
                + [0x09, 0, 2, 0xAB, 0xCD] + userProperty("a", "1") + userProperty("a", "2"))),
        ("v5-publish-alias", publish(topic: "", properties: [0x23, 0, 2])),
        ("v5-subscribe", packet(0x82, [0, 3] + properties([0x0B, 0xC8, 0x01] + userProperty("s", "1"))
            + string("a/+") + [0x2E] + string("$share/g/b") + [0x01])),
        ("v5-unsubscribe", packet(0xA2, [0, 4] + properties(userProperty("u", "1")) + string("a/+"))),
        ("v5-puback-reason", packet(0x40, [0, 7, 0x10] + properties([0x1F] + string("fine")))),
        ("v5-pubrec-failed", packet(0x50, [0, 8, 0x87, 0])),
        ("v5-disconnect", packet(0xE0, [0x04] + properties([0x11, 0, 0, 0, 30] + [0x1F] + string("bye")))),
        ("v5-auth", packet(0xF0, [0x19] + properties([0x15] + string("OAUTH2-JWT") + [0x16] + string("token")))),
    ]

    /// Every sample after its CONNECT: a valid MQTT 5 client stream.
    package static var stream: [UInt8] { samples.flatMap(\.bytes) }
}
