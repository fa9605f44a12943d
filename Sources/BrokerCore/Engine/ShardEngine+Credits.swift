import MQTTWire

/// Credit-based flow control of QoS 1/2 publishes between shards: a bound on what one shard can
/// pour into another faster than it is applied.
///
/// A shard may have at most `creditWindow` QoS 1/2 publishes posted to one other shard and not
/// yet applied there. The receiver gives credit back in chunks of a quarter window, after
/// applying them; a sender out of credit stops reading the connection whose publish used the
/// last of it (mid-read, as a publisher hold does) until half the window is back.
///
/// Why: a congested session holds a publisher of another shard through a `holdPublisher` post
/// (ShardEngine+PublisherHolds), and until that post is applied the publisher's shard keeps
/// routing. Without a window, a client that publishes without waiting for its acknowledgements
/// could fill the ring and the sender's overflow (tens of thousands of messages) before its hold
/// lands, and the session would drop acknowledged messages past its doubled queue. With it, a
/// hold lands behind at most a window and a chunk of that shard's publishes (the hold is posted
/// before the credit that would let more through), so a holding session queues at most half its
/// limit plus that (`congestedQueueLimit`).
extension ShardEngine {
    /// QoS 1/2 publishes one shard may have on their way to another: `max_queued_messages`
    /// (at least 16, at most 4,096, a ring's capacity).
    public static func creditWindow(maxQueuedMessages: Int) -> Int { min(4096, max(16, maxQueuedMessages)) }

    /// The queue a congested session may grow to: twice `max_queued_messages`, and never less
    /// than what can still arrive after it asked for holds (see above).
    public static func congestedQueueLimit(maxQueuedMessages: Int) -> Int {
        let window = creditWindow(maxQueuedMessages: maxQueuedMessages)
        return max(2 * maxQueuedMessages, maxQueuedMessages / 2 + window + window / 4)
    }

    var creditChunk: Int { max(1, creditWindow / 4) }

    /// A QoS 1/2 publish was posted to `shard`: charge it, and stop reading its publisher when
    /// the window to that shard is used up.
    @inline(__always)
    func chargeCredit(for message: Message, to shard: Int) {
        guard message.qos != .atMostOnce else { return }
        postsInFlight[shard] += 1
        if postsInFlight[shard] >= creditWindow { waitForCredit(from: shard, publisher: message) }
    }

    private func waitForCredit(from shard: Int, publisher message: Message) {
        guard message.originShard == shardIndex, message.publisher != 0, let connection = connections[message.publisher],
              !connection.awaitingCredit
        else { return }
        connection.awaitingCredit = true
        creditWaiters[shard].append(connection)
        updateFlowPause(connection)
    }

    /// Shard `source` applied `count` of this shard's QoS 1/2 publishes.
    func creditReturned(_ count: Int, from source: Int) {
        guard source >= 0 else { return }
        postsInFlight[source] -= count
        guard postsInFlight[source] <= creditWindow / 2, !creditWaiters[source].isEmpty else { return }
        let waiting = creditWaiters[source]
        creditWaiters[source].removeAll()
        for connection in waiting {
            connection.awaitingCredit = false
            updateFlowPause(connection)
        }
    }

    /// A QoS 1/2 publish posted by shard `source` was applied here: give credit back per chunk.
    @inline(__always)
    func noteApplied(_ message: Message, from source: Int) {
        guard message.qos != .atMostOnce, source >= 0 else { return }
        appliedSinceCredit[source] += 1
        if appliedSinceCredit[source] == creditChunk {
            appliedSinceCredit[source] = 0
            environment.post(.credit(count: creditChunk), to: source)
        }
    }
}
