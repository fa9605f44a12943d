@testable import BrokerAuth
import BrokerCore
import Synchronization
import Testing

@Suite struct BcryptTests {
    @Test func hashThenVerify() throws {
        let hash = try #require(Bcrypt.hash(password: Array("secret".utf8), cost: 4))
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(Bcrypt.verify(password: Array("secret".utf8), hash: hash))
        #expect(!Bcrypt.verify(password: Array("Secret".utf8), hash: hash))
        #expect(!Bcrypt.verify(password: [], hash: hash))
        #expect(!Bcrypt.verify(password: Array("secret\0x".utf8), hash: hash))
    }

    @Test func acceptsTheOtherBcryptPrefixes() throws {
        let hash = try #require(Bcrypt.hash(password: Array("pw".utf8), cost: 4))
        for prefix in ["$2a$", "$2y$"] {
            #expect(Bcrypt.verify(password: Array("pw".utf8), hash: prefix + hash.dropFirst(4)))
        }
        #expect(!Bcrypt.verify(password: Array("pw".utf8), hash: "$6$salt$notbcrypt"))
    }

    func users() throws -> UserDirectory {
        UserDirectory(users: [
            AuthPolicy.User(username: "alice", passwordHash: try #require(Bcrypt.hash(password: Array("alice-pw".utf8), cost: 4)), roles: []),
            AuthPolicy.User(username: "bob", passwordHash: try #require(Bcrypt.hash(password: Array("bob-pw".utf8), cost: 4)), roles: ["r"]),
        ])
    }

    @Test func anotherUsersPasswordDoesNotUnlockAUsername() throws {
        let directory = try users()
        #expect(directory.verify(username: "alice", password: Array("alice-pw".utf8))?.roles == ["alice"])
        #expect(directory.verify(username: "bob", password: Array("bob-pw".utf8))?.roles == ["r"])
        #expect(directory.verify(username: "alice", password: Array("bob-pw".utf8)) == nil)
        #expect(directory.verify(username: "bob", password: Array("alice-pw".utf8)) == nil)
    }

    @Test func unknownUserEmptyPasswordAndNearMissNamesAreRefused() throws {
        let directory = try users()
        #expect(directory.verify(username: "carol", password: Array("alice-pw".utf8)) == nil)
        #expect(directory.verify(username: "alice", password: []) == nil)
        #expect(directory.verify(username: "Alice", password: Array("alice-pw".utf8)) == nil)
        #expect(directory.verify(username: "alice ", password: Array("alice-pw".utf8)) == nil)
    }

    @Test func cachedSuccessNeedsTheSamePassword() throws {
        let directory = try users()
        #expect(directory.verify(username: "alice", password: Array("alice-pw".utf8)) != nil)
        #expect(directory.verify(username: "alice", password: Array("alice-pw".utf8)) != nil)
        #expect(directory.verify(username: "alice", password: Array("alice-pwx".utf8)) == nil)
    }

    /// A storm of clients sharing one account: the checks that arrive while the first one runs
    /// wait for its result (cost 12: one check takes long enough for all to arrive meanwhile).
    @Test func concurrentChecksOfTheSameCredentialsRunBcryptOnce() async throws {
        let hash = try #require(Bcrypt.hash(password: Array("shared".utf8), cost: 12))
        let directory = UserDirectory(users: [AuthPolicy.User(username: "fleet", passwordHash: hash, roles: [])])
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask { directory.verify(username: "fleet", password: Array("shared".utf8)) != nil }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
        #expect(directory.bcryptRuns.load(ordering: .relaxed) == 1)
        // A wrong password shares nothing with the right one.
        #expect(directory.verify(username: "fleet", password: Array("wrong".utf8)) == nil)
        #expect(directory.bcryptRuns.load(ordering: .relaxed) == 2)
    }
}
