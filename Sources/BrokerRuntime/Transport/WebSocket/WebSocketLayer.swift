import BrokerCore
import WebSocketWire

/// RFC 6455 server over whatever is below (the socket or TLS): answers the HTTP upgrade on the
/// listener's path, then turns client frames into the MQTT byte stream and each flush of MQTT
/// bytes into one unmasked binary frame.
final class WebSocketLayer: TransportLayer {
    let path: String
    let lower: any TransportSink
    private var decoder: WebSocketFrameDecoder
    /// The HTTP request head as it arrives (bounded by the handshake's request limit).
    private var request: [UInt8] = []
    private(set) var isEstablished = false
    /// A close frame (or an HTTP error) has been sent: nothing more may follow it.
    private var closeSent = false

    init(path: String, maxFramePayload: UInt64, lower: any TransportSink) {
        self.path = path
        self.lower = lower
        decoder = WebSocketFrameDecoder(maxFramePayload: maxFramePayload)
    }

    func decode(_ bytes: UnsafeMutableRawBufferPointer, up: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard !closeSent else { return }
        if isEstablished {
            try decodeFrames(bytes, up: up)
            return
        }
        request.append(contentsOf: bytes)
        let outcome = request.withUnsafeBytes { WebSocketHandshake.parse($0, path: path, sha1: sha1) }
        switch outcome {
        case .incomplete:
            return
        case .reject(let status, let response):
            request = []
            response.withUnsafeBytes { lower.send($0) }
            closeSent = true
            throw TransportClose(reason: "WebSocket upgrade refused with HTTP \(status)")
        case .upgrade(let consumed, _, let response):
            response.withUnsafeBytes { lower.send($0) }
            isEstablished = true
            var early = Array(request[consumed...])
            request = []
            if !early.isEmpty {
                try early.withUnsafeMutableBytes { try decodeFrames($0, up: up) }
            }
        }
    }

    private func decodeFrames(_ bytes: UnsafeMutableRawBufferPointer, up: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        var failure: TransportClose?
        do throws(WebSocketFrameError) {
            try decoder.decode(bytes) { event in
                guard failure == nil else { return }
                switch event {
                case .data(let chunk):
                    do { try up(chunk) } catch let error as TransportClose { failure = error } catch {
                        failure = TransportClose(reason: "\(error)")
                    }
                case .ping(let payload):
                    WebSocketFrameEncoder.pong(payload).withUnsafeBytes { lower.send($0) }
                case .pong:
                    break
                case .close(let code):
                    // Echo the status (RFC 6455 §5.5.1), then the connection ends.
                    sendClose(code.flatMap { $0 >= 1000 && $0 < 5000 ? $0 : nil } ?? WebSocketCloseCode.normal.rawValue)
                    failure = TransportClose(reason: "WebSocket close frame (\(code.map(String.init) ?? "no status"))", orderly: true)
                }
            }
        } catch {
            sendClose(error.code.rawValue)
            throw TransportClose(reason: "WebSocket \(error.reason), closing with \(error.code.rawValue)")
        }
        if let failure { throw failure }
    }

    private func sendClose(_ code: UInt16) {
        guard !closeSent else { return }
        closeSent = true
        WebSocketFrameEncoder.close(code).withUnsafeBytes { lower.send($0) }
    }

    /// Sends raw bytes as one binary frame (used by tests and for small writes).
    func send(_ bytes: UnsafeRawBufferPointer) {
        guard isEstablished, !closeSent else { return }
        var header = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &header) { raw in
            let length = WebSocketFrameEncoder.writeHeader(opcode: .binary, payloadLength: bytes.count, into: raw.baseAddress!)
            lower.send(UnsafeRawBufferPointer(rebasing: raw[..<length]))
        }
        lower.send(bytes)
    }

    /// Everything queued for the client, as one binary frame.
    func sendFrame(of outbound: OutboundQueue) {
        guard isEstablished, !closeSent else { return }
        var header = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &header) { raw in
            let length = WebSocketFrameEncoder.writeHeader(opcode: .binary, payloadLength: outbound.totalBytes, into: raw.baseAddress!)
            lower.send(UnsafeRawBufferPointer(rebasing: raw[..<length]))
        }
        outbound.forEachChunk { lower.send($0) }
    }

    func flush() {}

    func shutdown() {
        if isEstablished { sendClose(WebSocketCloseCode.normal.rawValue) }
    }
}
