/// What the frame decoder found in the bytes it was given.
public enum WebSocketEvent {
    /// Unmasked application bytes of a binary (or continuation) frame, in stream order. Frame
    /// and message boundaries are not reported: MQTT over WebSocket is one byte stream.
    /// The buffer is part of the decoder's input; do not escape it.
    case data(UnsafeMutableRawBufferPointer)
    /// A ping with its (≤ 125 byte) payload, to be answered with a pong carrying the same bytes.
    case ping([UInt8])
    /// A pong (ignored by servers, reported for completeness).
    case pong
    /// The peer started the close handshake; `code` is nil when the frame carried no status.
    case close(code: UInt16?)
}

/// Streaming RFC 6455 server-side frame decoder: client frames must be masked, control frames
/// short and unfragmented, data frames binary, and no frame longer than `maxFramePayload`.
///
/// It never buffers payload: data bytes are unmasked in place and reported as they arrive, so
/// a frame that announces more bytes than it sends costs only the few header bytes kept here.
/// Only a frame header split across reads (≤ 14 bytes) and a control frame's payload
/// (≤ 125 bytes) are kept between calls.
public struct WebSocketFrameDecoder {
    public let maxFramePayload: UInt64

    private enum State {
        case header
        case payload(opcode: WebSocketOpcode, remaining: UInt64, mask: (UInt8, UInt8, UInt8, UInt8), maskOffset: Int)
    }

    private var state = State.header
    /// A frame header split across calls.
    private var partialHeader: [UInt8] = []
    /// The payload of the control frame being read.
    private var controlPayload: [UInt8] = []
    /// Inside a fragmented data message (a continuation frame must come next).
    private var inFragmentedMessage = false
    /// A close frame was received: nothing after it is read.
    public private(set) var isClosed = false

    public init(maxFramePayload: UInt64) {
        self.maxFramePayload = maxFramePayload
    }

    /// Decodes `input` (unmasking data in place) and reports what it contains, in order.
    /// Throws when the stream breaks the protocol; the connection then closes with the code.
    public mutating func decode(
        _ input: UnsafeMutableRawBufferPointer, _ handle: (WebSocketEvent) -> Void
    ) throws(WebSocketFrameError) {
        var offset = 0
        let count = input.count
        while offset < count && !isClosed {
            switch state {
            case .header:
                // Parse from the input directly when no header part is pending, else gather.
                if partialHeader.isEmpty {
                    let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
                    if let (length, next) = try parseHeader(rest) {
                        offset += length
                        state = next
                        try finishIfEmpty(handle)
                        continue
                    }
                    partialHeader.append(contentsOf: rest)
                    offset = count
                } else {
                    // Add one byte at a time: a header is at most 14 bytes.
                    partialHeader.append(input[offset])
                    offset += 1
                    let gathered = partialHeader
                    let parsed = gathered.withUnsafeBytes { bytes in
                        Result { () throws(WebSocketFrameError) in try parseHeader(bytes) }
                    }
                    if let (_, next) = try parsed.get() {
                        partialHeader.removeAll(keepingCapacity: true)
                        state = next
                        try finishIfEmpty(handle)
                    }
                }
            case .payload(let opcode, let remaining, let mask, let maskOffset):
                let take = Int(min(UInt64(count - offset), remaining))
                let chunk = UnsafeMutableRawBufferPointer(rebasing: input[offset..<(offset + take)])
                let newMaskOffset = Self.unmask(chunk, mask: mask, offset: maskOffset)
                offset += take
                let left = remaining - UInt64(take)
                if opcode.isControl {
                    controlPayload.append(contentsOf: chunk)
                } else if take > 0 {
                    handle(.data(chunk))
                }
                if left == 0 {
                    state = .header
                    if opcode.isControl { try finishControl(opcode, handle) }
                } else {
                    state = .payload(opcode: opcode, remaining: left, mask: mask, maskOffset: newMaskOffset)
                }
            }
        }
    }

    /// A frame with an empty payload is complete as soon as its header is.
    private mutating func finishIfEmpty(_ handle: (WebSocketEvent) -> Void) throws(WebSocketFrameError) {
        if case .payload(let opcode, 0, _, _) = state {
            state = .header
            if opcode.isControl { try finishControl(opcode, handle) }
        }
    }

    private mutating func finishControl(_ opcode: WebSocketOpcode, _ handle: (WebSocketEvent) -> Void) throws(WebSocketFrameError) {
        let payload = controlPayload
        controlPayload.removeAll(keepingCapacity: true)
        switch opcode {
        case .ping:
            handle(.ping(payload))
        case .pong:
            handle(.pong)
        case .close:
            if payload.count == 1 { throw WebSocketFrameError(.protocolError, "close frame with a 1-byte payload") }
            isClosed = true
            handle(.close(code: payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil))
        default:
            break
        }
    }

    /// Parses a frame header at the start of `bytes`: nil when more bytes are needed, else its
    /// length and the state for its payload.
    private mutating func parseHeader(_ bytes: UnsafeRawBufferPointer) throws(WebSocketFrameError) -> (Int, State)? {
        guard bytes.count >= 2 else { return nil }
        let first = bytes[0]
        let second = bytes[1]
        guard first & 0x70 == 0 else { throw WebSocketFrameError(.protocolError, "reserved bits set") }
        let final = first & 0x80 != 0
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else {
            throw WebSocketFrameError(.protocolError, "unknown opcode \(first & 0x0F)")
        }
        guard second & 0x80 != 0 else { throw WebSocketFrameError(.protocolError, "unmasked client frame") }
        var length = UInt64(second & 0x7F)
        var headerLength = 2
        if length == 126 {
            headerLength = 4
            guard bytes.count >= headerLength else { return nil }
            length = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
        } else if length == 127 {
            headerLength = 10
            guard bytes.count >= headerLength else { return nil }
            length = 0
            for index in 2..<10 { length = length << 8 | UInt64(bytes[index]) }
            guard length >> 63 == 0 else { throw WebSocketFrameError(.protocolError, "64-bit length with the top bit set") }
        }
        guard bytes.count >= headerLength + 4 else { return nil }
        let mask = (bytes[headerLength], bytes[headerLength + 1], bytes[headerLength + 2], bytes[headerLength + 3])
        headerLength += 4

        switch opcode {
        case .close, .ping, .pong:
            guard final else { throw WebSocketFrameError(.protocolError, "fragmented control frame") }
            guard length <= 125 else { throw WebSocketFrameError(.protocolError, "control frame longer than 125 bytes") }
        case .text:
            throw WebSocketFrameError(.unsupportedData, "text frame (MQTT needs binary frames)")
        case .binary:
            guard !inFragmentedMessage else { throw WebSocketFrameError(.protocolError, "new message inside a fragmented one") }
            inFragmentedMessage = !final
        case .continuation:
            guard inFragmentedMessage else { throw WebSocketFrameError(.protocolError, "continuation frame without a message") }
            inFragmentedMessage = !final
        }
        guard length <= maxFramePayload else {
            throw WebSocketFrameError(.messageTooBig, "frame of \(length) bytes exceeds \(maxFramePayload)")
        }
        return (headerLength, .payload(opcode: opcode, remaining: length, mask: mask, maskOffset: 0))
    }

    /// XORs `chunk` with the mask starting at mask byte `offset`; returns the next mask offset.
    static func unmask(_ chunk: UnsafeMutableRawBufferPointer, mask: (UInt8, UInt8, UInt8, UInt8), offset: Int) -> Int {
        guard chunk.count > 0 else { return offset }
        let key = [mask.0, mask.1, mask.2, mask.3]
        var index = 0
        var keyIndex = offset
        // Word at a time once aligned with the key: payloads are mostly long.
        while keyIndex != 0 && index < chunk.count {
            chunk[index] ^= key[keyIndex]
            index += 1
            keyIndex = (keyIndex + 1) & 3
        }
        if keyIndex == 0 {
            let word = UInt64(key[0]) | UInt64(key[1]) << 8 | UInt64(key[2]) << 16 | UInt64(key[3]) << 24
            let word64 = word | word << 32
            let base = chunk.baseAddress!
            while chunk.count - index >= 8 {
                let value = (base + index).loadUnaligned(as: UInt64.self)
                (base + index).storeBytes(of: value ^ word64, as: UInt64.self)
                index += 8
            }
        }
        while index < chunk.count {
            chunk[index] ^= key[keyIndex]
            index += 1
            keyIndex = (keyIndex + 1) & 3
        }
        return keyIndex
    }
}
