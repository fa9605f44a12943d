/// Splits topic names and filters into their levels. A topic is split once per publish and the
/// levels are borrowed (Substring) from it, so matching allocates at most the level array,
/// which callers reuse.
enum TopicLevels {
    /// Splits `topic` at every `/`, keeping empty levels (`a//b` has three levels).
    @inline(__always)
    static func split(_ topic: String, into levels: inout [Substring]) {
        levels.removeAll(keepingCapacity: true)
        var start = topic.startIndex
        let utf8 = topic.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: "/") {
                levels.append(topic[start..<index])
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        levels.append(topic[start..<topic.endIndex])
    }

    static func split(_ topic: String) -> [Substring] {
        var levels: [Substring] = []
        split(topic, into: &levels)
        return levels
    }
}
