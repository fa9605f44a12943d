/// The server side of the RFC 6455 opening handshake: parses the client's HTTP/1.1 upgrade
/// request and builds the 101 answer, or the plain HTTP error for anything else.
public enum WebSocketHandshake {
    /// Largest request head accepted (request line and headers); more is answered with 431.
    public static let defaultMaxRequestLength = 8192
    /// The GUID of RFC 6455 §1.3, appended to the key before hashing.
    public static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// MQTT's WebSocket subprotocols, in order of preference (MQTT 3.1.1 §6; mqttv3.1 is the
    /// name older clients such as some browser libraries offer).
    public static let subprotocols = ["mqtt", "mqttv3.1"]

    public enum Outcome: Equatable {
        /// The request head is not complete yet; feed it again with more bytes.
        case incomplete
        /// A valid upgrade. `consumed` bytes of the input were the request; any after it are
        /// already WebSocket frames. `response` is the 101 to send.
        case upgrade(consumed: Int, subprotocol: String?, response: [UInt8])
        /// Not a valid upgrade: send `response` (an HTTP error) and close.
        case reject(status: Int, response: [UInt8])
    }

    /// Parses the request at the start of `request`. `sha1` hashes the accept key (the runtime
    /// passes OpenSSL's; this module depends on nothing).
    public static func parse(
        _ request: UnsafeRawBufferPointer, path expectedPath: String,
        maxRequestLength: Int = defaultMaxRequestLength, sha1: ([UInt8]) -> [UInt8]
    ) -> Outcome {
        guard let headEnd = findHeadEnd(request) else {
            return request.count > maxRequestLength ? reject(431, "Request Header Fields Too Large") : .incomplete
        }
        guard headEnd <= maxRequestLength else { return reject(431, "Request Header Fields Too Large") }
        // Headers are ASCII; anything else is malformed.
        let head = UnsafeRawBufferPointer(rebasing: request[..<(headEnd - 4)])
        guard head.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 < 127) || $0 == 13 || $0 == 10 }) else {
            return reject(400, "Bad Request")
        }
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.contains(where: { $0.contains("\n") || $0.contains("\r") }) else { return reject(400, "Bad Request") }
        let requestLine = lines[0].split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, requestLine[0] == "GET", requestLine[1].first == "/" || requestLine[1].hasPrefix("http"),
              requestLine[2] == "HTTP/1.1"
        else { return reject(400, "Bad Request") }

        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                  line.first != " ", line.first != "\t"
            else { return reject(400, "Bad Request") }
            let name = line[..<colon].lowercased()
            guard !name.contains(" ") && !name.contains("\t") else { return reject(400, "Bad Request") }
            let value = line[line.index(after: colon)...].trimmingSpaces
            // Repeated headers are combined as one comma-separated list (RFC 9110 §5.3).
            headers[name] = headers[name].map { "\($0), \(value)" } ?? String(value)
        }
        guard headers["host"] != nil else { return reject(400, "Bad Request") }

        var target = Substring(requestLine[1])
        if target.hasPrefix("http://") || target.hasPrefix("https://") {
            // Absolute form: keep the path only.
            let afterScheme = target[target.index(target.firstIndex(of: ":")!, offsetBy: 3)...]
            target = afterScheme.firstIndex(of: "/").map { afterScheme[$0...] } ?? "/"
        }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard path == expectedPath else { return reject(404, "Not Found") }

        guard let upgrade = headers["upgrade"], tokens(upgrade).contains("websocket") else {
            return reject(426, "Upgrade Required", extra: "Upgrade: websocket\r\nConnection: Upgrade\r\n")
        }
        guard let connection = headers["connection"], tokens(connection).contains("upgrade") else {
            return reject(400, "Bad Request")
        }
        guard headers["sec-websocket-version"]?.trimmingSpaces == "13" else {
            return reject(426, "Upgrade Required", extra: "Sec-WebSocket-Version: 13\r\n")
        }
        guard let key = headers["sec-websocket-key"]?.trimmingSpaces, Base64.decodedLength(key) == 16 else {
            return reject(400, "Bad Request")
        }

        let offered = headers["sec-websocket-protocol"].map(tokens) ?? []
        let chosen = subprotocols.first { offered.contains($0) }
        let accept = Base64.encode(sha1(Array((String(key) + acceptGUID).utf8)))
        var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        response += "Sec-WebSocket-Accept: \(accept)\r\n"
        if let chosen { response += "Sec-WebSocket-Protocol: \(chosen)\r\n" }
        response += "\r\n"
        return .upgrade(consumed: headEnd, subprotocol: chosen, response: Array(response.utf8))
    }

    /// Offset just past the first CRLFCRLF, or nil.
    static func findHeadEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    /// Comma-separated tokens, trimmed and lower-cased (subprotocol names are compared as sent
    /// by MQTT clients: lower case).
    static func tokens(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingSpaces.lowercased() }
    }

    static func reject(_ status: Int, _ reason: String, extra: String = "") -> Outcome {
        let response = "HTTP/1.1 \(status) \(reason)\r\n\(extra)Connection: close\r\nContent-Length: 0\r\n\r\n"
        return .reject(status: status, response: Array(response.utf8))
    }
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return slice
    }
}
