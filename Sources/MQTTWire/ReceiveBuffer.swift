/// The input side of one connection: bytes received but not yet consumed (an incomplete
/// packet, or what a paused connection holds back), and the rule for parsing new bytes.
///
/// The broker's runtime reads into a buffer its shard shares between connections; when this
/// buffer is empty those bytes are parsed in place and only the unconsumed tail is copied here,
/// so most reads copy nothing and an idle connection owns no receive memory. While it holds a
/// partial packet, the runtime reads straight into its free space (`reserveFree`/`commit`) so
/// the packet stays contiguous. `FrameAccumulator` (tests, fuzzers, verifiers) feeds bytes
/// through the same rule.
///
/// Noncopyable, like the `GrowableBuffer` it holds: its memory is freed when it goes away, or
/// earlier with `release()` (`TCPConnection` when its handle closes).
public struct ReceiveBuffer: ~Copyable {
    private var held = GrowableBuffer()

    public init() {}

    public var isEmpty: Bool { held.isEmpty }
    /// Bytes held.
    public var count: Int { held.count }
    /// The held bytes; valid until the next mutation.
    public var bytes: UnsafeRawBufferPointer { held.bytes }

    /// Bytes that arrived in memory this buffer does not own: parsed in place when nothing is
    /// held (the unconsumed tail is then copied in), appended and parsed here otherwise.
    /// `parse` returns how many bytes it consumed.
    public mutating func receive(_ incoming: UnsafeRawBufferPointer, parse: (UnsafeRawBufferPointer) -> Int) {
        guard !held.isEmpty else {
            let consumed = parse(incoming)
            if consumed < incoming.count { held.append(UnsafeRawBufferPointer(rebasing: incoming[consumed...])) }
            return
        }
        held.append(incoming)
        parseHeld(parse)
    }

    /// Parses what is held (after `commit`, or when a paused connection reads again) and drops
    /// what `parse` consumed.
    public mutating func parseHeld(_ parse: (UnsafeRawBufferPointer) -> Int) {
        guard !held.isEmpty else { return }
        held.consume(parse(held.bytes))
    }

    /// Appends bytes without parsing them (the TLS/WebSocket layers' decoded output).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        held.append(bytes)
    }

    /// At least `minimum` free bytes after the held ones, to read into; `commit` what was read.
    public mutating func reserveFree(_ minimum: Int) -> UnsafeMutableRawBufferPointer {
        held.reserveFree(minimum)
    }

    public mutating func commit(_ written: Int) {
        held.commit(written)
    }

    public mutating func release() {
        held.release()
    }
}
