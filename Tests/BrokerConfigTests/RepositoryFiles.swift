/// Paths of files in this repository, found from this source file's location.
enum RepositoryFiles {
    static let root: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/BrokerConfigTests/RepositoryFiles.swift
        return components.joined(separator: "/")
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }
}
