import ArgumentParser
import BrokerAuth
import Foundation

/// `mqtt-broker passwd`: reads a password from standard input (one line) and prints its bcrypt
/// hash for `auth.internal_users[].password`.
struct PasswdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Print a bcrypt hash of a password read from standard input.",
        discussion: "Example: printf '%s' 's3cret' | mqtt-broker passwd")

    @Option(name: .long, help: "bcrypt cost, 4...31 (each step doubles the time).")
    var cost = 10

    func run() throws {
        guard (4...31).contains(cost) else {
            throw ValidationError("--cost must be between 4 and 31")
        }
        var input = FileHandle.standardInput.readDataToEndOfFile()
        if input.last == UInt8(ascii: "\n") { input.removeLast() }
        if input.last == UInt8(ascii: "\r") { input.removeLast() }
        guard !input.isEmpty else {
            FileHandle.standardError.write(Data("empty password\n".utf8))
            throw ExitCode(1)
        }
        guard let hash = Bcrypt.hash(password: Array(input), cost: cost) else {
            FileHandle.standardError.write(Data("cannot hash this password (NUL byte?)\n".utf8))
            throw ExitCode(1)
        }
        print(hash)
    }
}
