import Synchronization

/// A shared subscription group's number, the same on every shard (0: none). Queue and in-flight
/// entries carry it instead of the group's name (`SharedGroup.key`) so that they stay as small
/// as they were without shared subscriptions.
public struct SharedGroupID: Hashable, Sendable {
    public let rawValue: UInt32

    public static let none = SharedGroupID(rawValue: 0)
}

/// Gives each shared subscription group name one number for the life of the process (shared by
/// all shards; used where a group is first seen on a shard and where a stored entry is read or
/// written, never per message). Numbers are not reused: a broker that sees many short-lived
/// group names keeps one entry per name.
public final class SharedGroupIDs: Sendable {
    private struct Table {
        var ids: [String: SharedGroupID] = [:]
        var keys: [String] = [""]
    }
    private let table = Mutex(Table())

    public init() {}

    public func id(for key: String) -> SharedGroupID {
        table.withLock { table in
            if let id = table.ids[key] { return id }
            let id = SharedGroupID(rawValue: UInt32(table.keys.count))
            table.keys.append(key)
            table.ids[key] = id
            return id
        }
    }

    public func key(for id: SharedGroupID) -> String? {
        table.withLock { table in
            id != .none && Int(id.rawValue) < table.keys.count ? table.keys[Int(id.rawValue)] : nil
        }
    }
}
