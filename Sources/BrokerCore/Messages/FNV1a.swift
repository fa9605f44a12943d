/// FNV-1a, 64 bits: the one hash the broker spreads things with where the same key must land
/// in the same place every time (a stored session's shard, a Kafka key's shard, a shared
/// subscription's member for `hash_client_id` and `hash_topic`). Not for hostile input.
public enum FNV1a {
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    public static func hash(_ string: String) -> UInt64 { hash(string.utf8) }
}
