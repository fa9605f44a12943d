import BrokerCore
import Foundation

/// A CloudEvents 1.0 event in structured JSON mode (the whole event is the record value).
package struct CloudEvent: Sendable, Equatable {
    package var id: String
    package var source: String
    package var type: String
    /// RFC 3339 timestamp.
    package var time: String
    package var subject: String
    /// `data`, as string members (`device` first).
    package var data: [(String, String)]

    package static func == (lhs: CloudEvent, rhs: CloudEvent) -> Bool {
        lhs.id == rhs.id && lhs.source == rhs.source && lhs.type == rhs.type && lhs.time == rhs.time
            && lhs.subject == rhs.subject && lhs.data.elementsEqual(rhs.data, by: ==)
    }

    package init(id: String, source: String, type: String, time: String, subject: String, data: [(String, String)]) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.subject = subject
        self.data = data
    }

    /// The event for a client's connect or disconnect: subject is the authenticated subject,
    /// or the client id when there is none; `data` names the device (client id), subject, peer
    /// and, for a disconnect, the reason.
    package static func forClient(
        _ client: BridgeClient, type: String, source: String, reason: String? = nil, id: String = UUID().uuidString,
        date: Date = Date()
    ) -> CloudEvent {
        var data: [(String, String)] = [("device", client.clientId)]
        if let subject = client.subject { data.append(("subject", subject)) }
        data.append(("peer", client.peer))
        if let reason { data.append(("reason", reason)) }
        return CloudEvent(
            id: id, source: source, type: type, time: rfc3339(date), subject: client.subject ?? client.clientId, data: data)
    }

    /// The structured-mode JSON, attributes in the specification's order.
    package var json: String {
        var text = "{\"specversion\":\"1.0\""
        for (name, value) in [("id", id), ("source", source), ("type", type), ("time", time), ("subject", subject),
                              ("datacontenttype", "application/json")] {
            text += ",\(Self.quoted(name)):\(Self.quoted(value))"
        }
        text += ",\"data\":{"
        text += data.map { "\(Self.quoted($0.0)):\(Self.quoted($0.1))" }.joined(separator: ",")
        text += "}}"
        return text
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
