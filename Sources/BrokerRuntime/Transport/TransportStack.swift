import BrokerCore
import WebSocketWire

/// The layers of one non-plain connection (TLS, WebSocket or both, TLS below) and the bytes
/// they have for the socket. A plain MQTT connection has no stack: its reads are parsed in
/// place and its writes go out vectored, with no copy (see TCPConnection).
final class TransportStack {
    let wire: WireBuffer
    let tls: TLSLayer?
    let webSocket: WebSocketLayer?

    /// `scratch` is the shard's read buffer: TLS decrypts into it after the ciphertext it held
    /// has been handed to OpenSSL.
    init(tls context: TLSContext?, webSocketPath: String?, maxFramePayload: UInt64, scratch: UnsafeMutableRawBufferPointer) throws {
        let wire = WireBuffer()
        self.wire = wire
        let tls = try context.map { try TLSLayer(context: $0, wire: wire, scratch: scratch) }
        self.tls = tls
        let lower: any TransportSink = tls ?? wire
        webSocket = webSocketPath.map { WebSocketLayer(path: $0, maxFramePayload: maxFramePayload, lower: lower) }
    }

    /// Whether MQTT bytes may be sent (every layer's handshake is done).
    var isEstablished: Bool { (tls?.isEstablished ?? true) && (webSocket?.isEstablished ?? true) }

    /// Decodes socket bytes through every layer; `deliver` gets the MQTT bytes.
    func receive(_ bytes: UnsafeMutableRawBufferPointer, deliver: (UnsafeMutableRawBufferPointer) -> Void) throws {
        defer { tls?.flush() }
        if let tls {
            try tls.decode(bytes) { plain in try self.aboveTLS(plain, deliver) }
        } else {
            try aboveTLS(bytes, deliver)
        }
    }

    private func aboveTLS(_ bytes: UnsafeMutableRawBufferPointer, _ deliver: (UnsafeMutableRawBufferPointer) -> Void) throws {
        if let webSocket {
            try webSocket.decode(bytes) { deliver($0) }
        } else {
            deliver(bytes)
        }
    }

    /// Encodes everything `outbound` holds (WebSocket: one binary frame) into `wire`.
    func encode(_ outbound: OutboundQueue) {
        if let webSocket {
            webSocket.sendFrame(of: outbound)
        } else if let tls {
            outbound.forEachChunk { tls.send($0) }
        }
        tls?.flush()
    }

    /// Ends the layers' protocols (top first), writing their goodbyes into `wire`.
    func shutdown() {
        webSocket?.shutdown()
        webSocket?.flush()
        tls?.shutdown()
        tls?.flush()
    }
}
