import WebSocketWire

/// libFuzzer entry point for the WebSocket frame decoder and the upgrade parser (built only by
/// Tests/Fuzz/run.sh).
///
/// The input is decoded as a client frame stream twice: from an exactly-sized copy in one call
/// (so AddressSanitizer sees any over-read), and in pieces of a size taken from the input. Both
/// must report the same data bytes, control events and error. The input is also parsed as an
/// HTTP upgrade request, which must never crash and must answer 101 only with a consumed count
/// inside the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebSocketFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let limit = UInt64(1 + Int(input[0]) * 37)
    let whole = decode(input, pieceSize: size, limit: limit)
    let pieces = decode(input, pieceSize: 1 + size % 11, limit: limit)
    guard whole == pieces else { fatalError("whole and piecewise decoding differ: \(whole) vs \(pieces)") }

    switch WebSocketHandshake.parse(input, path: "/", maxRequestLength: 512, sha1: { _ in Array(repeating: 0, count: 20) }) {
    case .upgrade(let consumed, _, let response):
        guard consumed <= size, !response.isEmpty else { fatalError("upgrade consumed \(consumed) of \(size)") }
    case .incomplete, .reject:
        break
    }
    return 0
}

private struct Outcome: Equatable, CustomStringConvertible {
    var data: [UInt8] = []
    var events: [String] = []
    var error: WebSocketFrameError?
    var description: String { "\(data.count) bytes, \(events), \(String(describing: error))" }
}

private func decode(_ input: UnsafeRawBufferPointer, pieceSize: Int, limit: UInt64) -> Outcome {
    var decoder = WebSocketFrameDecoder(maxFramePayload: limit)
    var outcome = Outcome()
    var offset = 0
    while offset < input.count && outcome.error == nil && !decoder.isClosed {
        let end = min(input.count, offset + pieceSize)
        // An exactly-sized heap copy: the decoder unmasks in place.
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: end - offset, alignment: 1)
        defer { piece.deallocate() }
        piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[offset..<end]))
        do throws(WebSocketFrameError) {
            try decoder.decode(piece) { event in
                switch event {
                case .data(let bytes): outcome.data.append(contentsOf: bytes)
                case .ping(let payload): outcome.events.append("ping \(payload)")
                case .pong: outcome.events.append("pong")
                case .close(let code): outcome.events.append("close \(String(describing: code))")
                }
            }
        } catch {
            outcome.error = error
        }
        offset = end
    }
    return outcome
}
