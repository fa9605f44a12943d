import MQTTWire
/// Where a transport layer sends bytes toward the peer: the layer below it, or the socket.
protocol TransportSink: AnyObject {
    /// Queues `bytes` to go to the peer (copied; the caller's buffer may be reused at once).
    func send(_ bytes: UnsafeRawBufferPointer)
}

/// The transport ends the connection: `reason` is logged; whatever the layers queued (an HTTP
/// error, a WebSocket close frame, a TLS alert) is written before the socket closes.
struct TransportClose: Error {
    let reason: String
    /// An ordinary end (the peer's close frame or close_notify), logged at debug level.
    var orderly = false
}

/// One protocol layer between the socket and the MQTT engine (TLS, WebSocket). Layers stack:
/// each decodes what the one below delivers and hands plaintext up; it encodes what comes from
/// above with `send` and hands the result to `lower`. The MQTT engine never sees them.
protocol TransportLayer: TransportSink {
    /// Decodes bytes from below (in place where it can) and calls `up` with the bytes for the
    /// layer above, in order. Replies of its own (handshake, pong) go to the layer below.
    func decode(_ bytes: UnsafeMutableRawBufferPointer, up: (UnsafeMutableRawBufferPointer) throws -> Void) throws
    /// Pushes whatever `send` staged down to the layer below.
    func flush()
    /// Ends the layer's own protocol politely (close frame, close_notify), if not done already.
    func shutdown()
    /// Whether the layer's handshake is done, so application bytes may be sent.
    var isEstablished: Bool { get }
}

/// The bytes waiting for the socket, below every layer.
final class WireBuffer: TransportSink {
    var buffer = GrowableBuffer()

    func send(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(bytes)
    }

    deinit { buffer.release() }
}
