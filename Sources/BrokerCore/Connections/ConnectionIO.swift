/// What the broker core asks of the transport under one client connection. The runtime
/// implements it over libuv (TCP, TLS, WebSocket); tests implement it in memory.
public protocol ConnectionIO: AnyObject {
    /// The connection's outbound queue has new bytes; write them before the loop sleeps again.
    /// Called once until the runtime calls `OutboundQueue.beginFlush()` (the queue keeps the
    /// request), so a turn schedules one write per connection and a packet costs no call.
    func outboundChanged()
    /// Flush what is queued, then close. No more bytes are read from the client.
    func close()
    /// Stop delivering received bytes (a CONNECT waiting for a session from another shard).
    func pauseReading()
    /// Deliver received bytes again, starting with any bytes held back while paused.
    func resumeReading()
}
