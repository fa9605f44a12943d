// The handshake is checked with the SHA-1 the broker itself passes in (BrokerRuntime, OpenSSL).
import BrokerRuntime
import Testing
import WebSocketWire

func handshake(_ text: String, path: String = "/", limit: Int = WebSocketHandshake.defaultMaxRequestLength) -> WebSocketHandshake.Outcome {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { WebSocketHandshake.parse($0, path: path, maxRequestLength: limit, sha1: sha1) }
}

func status(_ outcome: WebSocketHandshake.Outcome) -> Int? {
    switch outcome {
    case .incomplete: nil
    case .upgrade: 101
    case .reject(let status, _): status
    }
}

let rfcRequest = """
    GET /mqtt?x=1 HTTP/1.1\r
    Host: server.example.com\r
    Upgrade: websocket\r
    Connection: keep-alive, Upgrade\r
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
    Sec-WebSocket-Protocol: mqttv3.1, mqtt\r
    Sec-WebSocket-Version: 13\r
    \r

    """

@Suite struct WebSocketHandshakeTests {
    @Test func rfcExampleGivesTheRfcAcceptKey() throws {
        guard case .upgrade(let consumed, let subprotocol, let response) = handshake(rfcRequest + "\u{2}", path: "/mqtt") else {
            Issue.record("not an upgrade")
            return
        }
        #expect(consumed == rfcRequest.utf8.count)
        #expect(subprotocol == "mqtt")
        let text = String(decoding: response, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        #expect(text.contains("Sec-WebSocket-Protocol: mqtt\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    @Test func olderSubprotocolNameIsAccepted() {
        let request = rfcRequest.replacingOccurrences("mqttv3.1, mqtt", with: "mqttv3.1")
        guard case .upgrade(_, let subprotocol, _) = handshake(request, path: "/mqtt") else {
            Issue.record("not an upgrade")
            return
        }
        #expect(subprotocol == "mqttv3.1")
    }

    @Test func noSubprotocolOfferedStillUpgradesWithoutTheHeader() {
        let request = rfcRequest.replacingOccurrences("Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n", with: "")
        guard case .upgrade(_, nil, let response) = handshake(request, path: "/mqtt") else {
            Issue.record("not an upgrade without subprotocol")
            return
        }
        #expect(!String(decoding: response, as: UTF8.self).contains("Sec-WebSocket-Protocol"))
    }

    @Test func incompleteUntilTheBlankLine() {
        let bytes = Array(rfcRequest.utf8)
        for cut in [0, 1, 10, bytes.count - 1] {
            #expect(handshake(String(decoding: bytes[..<cut], as: UTF8.self), path: "/mqtt") == .incomplete)
        }
    }

    @Test func wrongPathIs404() {
        #expect(status(handshake(rfcRequest, path: "/")) == 404)
        #expect(status(handshake(rfcRequest, path: "/mqtt/")) == 404)
    }

    @Test func missingUpgradeIs426() {
        let request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(status(handshake(request)) == 426)
        let response = handshake(request)
        if case .reject(_, let bytes) = response {
            #expect(String(decoding: bytes, as: UTF8.self).contains("Upgrade: websocket"))
        }
    }

    @Test func wrongVersionIs426() {
        #expect(status(handshake(rfcRequest.replacingOccurrences("Version: 13", with: "Version: 8"), path: "/mqtt")) == 426)
    }

    @Test func malformedRequestsAre400() {
        let bad = [
            "POST /mqtt HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /mqtt HTTP/1.0\r\nHost: x\r\n\r\n",
            "GET /mqtt\r\nHost: x\r\n\r\n",
            "hello\r\n\r\n",
            "GET /mqtt HTTP/1.1\r\nno colon here\r\n\r\n",
            "GET /mqtt HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            "GET /mqtt HTTP/1.1\r\nHost: x\r\nBad\u{1}: y\r\n\r\n",
            "GET /mqtt HTTP/1.1\r\nHost: x\nUpgrade: websocket\r\n\r\n",
            rfcRequest.replacingOccurrences("Host: server.example.com\r\n", with: ""),
            rfcRequest.replacingOccurrences("keep-alive, Upgrade", with: "keep-alive"),
            rfcRequest.replacingOccurrences("dGhlIHNhbXBsZSBub25jZQ==", with: "c2hvcnQ="),
            rfcRequest.replacingOccurrences("dGhlIHNhbXBsZSBub25jZQ==", with: "not base64 at all!!!!!!!"),
            rfcRequest.replacingOccurrences("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", with: ""),
        ]
        for request in bad {
            #expect(status(handshake(request, path: "/mqtt")) == 400, "\(request.debugDescription)")
        }
    }

    @Test func oversizeHeadIs431() {
        let filler = String(repeating: "a", count: 9000)
        #expect(status(handshake("GET / HTTP/1.1\r\nX: \(filler)")) == 431, "without its end")
        #expect(status(handshake("GET / HTTP/1.1\r\nX: \(filler)\r\n\r\n")) == 431, "complete but too long")
        #expect(status(handshake(rfcRequest, path: "/mqtt", limit: 64)) == 431)
    }

    @Test func rejectionsCloseTheConnection() {
        guard case .reject(_, let bytes) = handshake("GET /x HTTP/1.1\r\nHost: a\r\n\r\n") else {
            Issue.record("not rejected")
            return
        }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.contains("Content-Length: 0\r\n"))
    }

    @Test func base64() {
        #expect(Base64.encode([]) == "")
        #expect(Base64.encode(Array("f".utf8)) == "Zg==")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.encode(Array("foo".utf8)) == "Zm9v")
        #expect(Base64.decodedLength("Zm9vYg==") == 4)
        #expect(Base64.decodedLength("Zm9=YmE=") == nil)
    }
}

extension String {
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
