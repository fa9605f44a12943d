extension ConfigNode {
    /// Sets (or adds, at the end) the member `key` of an object node; other kinds are left alone.
    mutating func setMember(_ key: String, to newValue: ConfigNode) {
        guard case .object(var members) = value else { return }
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].node = newValue
        } else {
            members.append(ConfigMember(key: key, node: newValue))
        }
        value = .object(members)
    }

    /// Edits the object member `key`, creating it as an empty object first when absent.
    mutating func editMember(_ key: String, _ edit: (inout ConfigNode) -> Void) {
        var child = self[key] ?? ConfigNode(.object([]))
        if child.value == .null { child.value = .object([]) }
        edit(&child)
        setMember(key, to: child)
    }

    /// Whether an object node has the member `key` with a non-null value.
    func hasMember(_ key: String) -> Bool {
        guard let child = self[key] else { return false }
        return child.value != .null
    }
}
