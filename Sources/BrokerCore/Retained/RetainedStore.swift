import MQTTWire
/// Retained messages by topic, as a trie so that a wildcard subscription finds its retained
/// messages without scanning every topic. Each shard keeps its own replica (updated through
/// shard inboxes), so a SUBSCRIBE reads only its own shard's memory.
public final class RetainedStore {
    final class Node {
        var children: [String: Node] = [:]
        var message: Message?
    }

    private let root = Node()
    public private(set) var count = 0

    public init() {}

    /// Stores `message` as the retained message of its topic, or clears the topic's retained
    /// message when the payload is empty.
    public func store(_ message: Message) {
        let levels = TopicLevels.split(message.topic)
        if message.payload.isEmpty {
            remove(levels: levels[...], from: root)
            return
        }
        var node = root
        for level in levels {
            let key = String(level)
            if let next = node.children[key] {
                node = next
            } else {
                let next = Node()
                node.children[key] = next
                node = next
            }
        }
        if node.message == nil { count += 1 }
        node.message = message
    }

    /// Removes the message at `levels` and prunes empty nodes. Returns true when `node` is now empty.
    @discardableResult
    private func remove(levels: ArraySlice<Substring>, from node: Node) -> Bool {
        if let level = levels.first {
            let key = String(level)
            guard let child = node.children[key] else { return false }
            if remove(levels: levels.dropFirst(), from: child) { node.children[key] = nil }
        } else if node.message != nil {
            node.message = nil
            count -= 1
        }
        return node.message == nil && node.children.isEmpty
    }

    /// The retained message of exactly `topic`.
    public func message(topic: String) -> Message? {
        var node = root
        for level in TopicLevels.split(topic) {
            guard let next = node.children[String(level)] else { return nil }
            node = next
        }
        return node.message
    }

    /// Calls `body` for every retained message whose topic matches `filter` (a valid filter).
    public func forEachMatch(filter: String, _ body: (Message) -> Void) {
        let levels = TopicLevels.split(filter)
        visit(root, levels: levels[...], atRoot: true, body)
    }

    private func visit(_ node: Node, levels: ArraySlice<Substring>, atRoot: Bool, _ body: (Message) -> Void) {
        guard let level = levels.first else {
            if let message = node.message { body(message) }
            return
        }
        switch level {
        case "#":
            // "a/#" also matches "a" itself.
            if let message = node.message, !atRoot { body(message) }
            for (key, child) in node.children where !(atRoot && TopicName.isDollarTopic(key)) {
                visitAll(child, body)
            }
        case "+":
            for (key, child) in node.children where !(atRoot && TopicName.isDollarTopic(key)) {
                visit(child, levels: levels.dropFirst(), atRoot: false, body)
            }
        default:
            if let child = node.children[String(level)] {
                visit(child, levels: levels.dropFirst(), atRoot: false, body)
            }
        }
    }

    private func visitAll(_ node: Node, _ body: (Message) -> Void) {
        if let message = node.message { body(message) }
        for child in node.children.values { visitAll(child, body) }
    }
}
