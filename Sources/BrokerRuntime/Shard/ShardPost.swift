import BrokerCore

/// A message on its way from one shard to another, with the moment its sender posted it.
///
/// Each pair of shards has its own ring, FIFO, so two posts from one shard arrive in order. Two
/// posts from different shards need more: a client's `mosquitto_pub` whose PUBACK came back
/// before the next client published must reach a subscriber first, even when the subscriber's
/// shard was not scheduled in between and finds both posts waiting in two rings. The receiver
/// applies what it finds in stamp order (`Shard.drainInbox`).
///
/// The stamp is `uv_hrtime` taken at the first post of each loop callback (`Shard.postStamp`),
/// so after the bytes that callback read and before any acknowledgement it sends: a post caused
/// by another post's acknowledgement always carries a later stamp. Stamps from one sender never
/// decrease, so each ring stays sorted.
struct ShardPost {
    let message: ShardMessage
    let stamp: UInt64
}
