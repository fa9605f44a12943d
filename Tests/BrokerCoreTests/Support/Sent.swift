import MQTTWire
import TestSupport

/// A packet the broker sent, copied out of the outbound queue so tests can compare it.
enum Sent: Equatable, CustomStringConvertible {
    case connack(sessionPresent: Bool, code: ConnectReturnCode)
    case publish(topic: String, payload: String, qos: QoS, retain: Bool, dup: Bool, packetId: UInt16?)
    case puback(UInt16)
    case pubrec(UInt16)
    case pubrel(UInt16)
    case pubcomp(UInt16)
    case suback(UInt16, [SubscribeReturnCode])
    case unsuback(UInt16)
    case pingresp
    case other(String)

    init(_ packet: Packet) {
        switch packet {
        case .connack(let ack): self = .connack(sessionPresent: ack.sessionPresent, code: ack.returnCode)
        case .publish(let p):
            self = .publish(
                topic: p.topic.makeString(), payload: p.payload.makeString(), qos: p.qos, retain: p.retain,
                dup: p.dup, packetId: p.packetId)
        case .puback(let id): self = .puback(id)
        case .pubrec(let id): self = .pubrec(id)
        case .pubrel(let id): self = .pubrel(id)
        case .pubcomp(let id): self = .pubcomp(id)
        case .suback(let ack): self = .suback(ack.packetId, ack.returnCodes)
        case .unsuback(let id): self = .unsuback(id)
        case .pingresp: self = .pingresp
        default: self = .other("\(packet)")
        }
    }

    var description: String {
        switch self {
        case .publish(let topic, let payload, let qos, let retain, let dup, let id):
            "PUBLISH(\(topic) \"\(payload)\" q\(qos.rawValue)\(retain ? " r" : "")\(dup ? " dup" : "") id:\(id.map(String.init) ?? "-"))"
        case .connack(let sessionPresent, let code): "CONNACK(sp:\(sessionPresent) \(code))"
        case .puback(let id): "PUBACK(\(id))"
        case .pubrec(let id): "PUBREC(\(id))"
        case .pubrel(let id): "PUBREL(\(id))"
        case .pubcomp(let id): "PUBCOMP(\(id))"
        case .suback(let id, let codes): "SUBACK(\(id) \(codes))"
        case .unsuback(let id): "UNSUBACK(\(id))"
        case .pingresp: "PINGRESP"
        case .other(let text): text
        }
    }

    /// Topic and payload of a PUBLISH, for order-insensitive checks.
    var topicAndPayload: String? {
        if case .publish(let topic, let payload, _, _, _, _) = self { return "\(topic)=\(payload)" }
        return nil
    }

    static func publish(_ topic: String, _ payload: String, qos: QoS = .atMostOnce, retain: Bool = false, dup: Bool = false, id: UInt16? = nil) -> Sent {
        .publish(topic: topic, payload: payload, qos: qos, retain: retain, dup: dup, packetId: id)
    }
}
