/// Where a value sits inside the configuration tree, printed as `listeners[1].port`.
struct ConfigPath: Sendable, Equatable, CustomStringConvertible {
    /// One step down the tree.
    enum Component: Sendable, Equatable {
        case key(String)
        case index(Int)
    }

    var components: [Component] = []

    static let root = ConfigPath()

    func appending(key: String) -> ConfigPath {
        ConfigPath(components: components + [.key(key)])
    }

    func appending(index: Int) -> ConfigPath {
        ConfigPath(components: components + [.index(index)])
    }

    var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += key
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }
}
