import Crypto
import Foundation
import Synchronization

/// The internal users, and a short-lived cache of successful password checks so that a
/// reconnect storm does not cost 70 ms of bcrypt per client. The cache is keyed by an HMAC of
/// username and password under a random per-process key: it holds no password, and a hit
/// needs the exact username and password that passed bcrypt before. Checks of the same
/// username and password that arrive while one is running wait for its result instead of
/// running bcrypt again (a storm of clients sharing one account costs one bcrypt, not one each).
final class UserDirectory: Sendable {
    private let users: [String: AuthPolicy.User]
    private let cacheKey = SymmetricKey(size: .bits256)
    private let cache = Mutex<[Data: ContinuousClock.Instant]>([:])
    /// Checks running now, by cache key, with the threads waiting for them.
    private let running = Mutex<[Data: RunningCheck]>([:])
    /// bcrypt computations done for known users (for tests and profiling).
    let bcryptRuns = Atomic<Int>(0)
    static let cacheLifetime = Duration.seconds(60)
    static let cacheCapacity = 10_000
    /// Compared against when the username is unknown, so both cases take bcrypt's time.
    private let dummyHash: String

    init(users: [AuthPolicy.User]) {
        var byName: [String: AuthPolicy.User] = [:]
        for user in users { byName[user.username] = user }
        self.users = byName
        self.dummyHash = Bcrypt.hash(password: Array("not a password".utf8), cost: 10)
            ?? "$2b$10$QHlYbMuAeiFoARhsfOCQNebH1.Yz.HkgvzkC//pU39wRTN5o5pDma"
    }

    var isEmpty: Bool { users.isEmpty }

    /// The user when `password` is theirs (exact username match, bcrypt), nil otherwise. Slow:
    /// call on the cold path.
    func verify(username: String, password: [UInt8]) -> AuthPolicy.User? {
        guard let user = users[username] else {
            _ = Bcrypt.verify(password: password, hash: dummyHash)
            return nil
        }
        let key = cacheEntryKey(username: username, password: password)
        let now = ContinuousClock.now
        let cached = cache.withLock { cache in
            if let expiry = cache[key] {
                if expiry > now { return true }
                cache[key] = nil
            }
            return false
        }
        if cached { return user }
        let (check, runsIt) = running.withLock { running in
            if let check = running[key] {
                check.waiters += 1
                return (check, false)
            }
            let check = RunningCheck()
            running[key] = check
            return (check, true)
        }
        guard runsIt else {
            check.finished.wait()
            return check.passed ? user : nil
        }
        bcryptRuns.add(1, ordering: .relaxed)
        let passed = !password.isEmpty && Bcrypt.verify(password: password, hash: user.passwordHash)
        if passed {
            cache.withLock { cache in
                if cache.count >= Self.cacheCapacity { cache.removeAll() }
                cache[key] = now.advanced(by: Self.cacheLifetime)
            }
        }
        running.withLock { running in
            running[key] = nil
            check.passed = passed
            for _ in 0..<check.waiters { check.finished.signal() }
        }
        return passed ? user : nil
    }

    private func cacheEntryKey(username: String, password: [UInt8]) -> Data {
        var hmac = HMAC<SHA256>(key: cacheKey)
        let name = Array(username.utf8)
        // Length-prefixed so ("ab", "c") and ("a", "bc") differ.
        hmac.update(data: withUnsafeBytes(of: UInt32(name.count).bigEndian) { Array($0) })
        hmac.update(data: name)
        hmac.update(data: password)
        return Data(hmac.finalize())
    }
}

/// One bcrypt check in progress; threads checking the same credentials wait on `finished`.
/// `waiters` and `passed` are written under `UserDirectory.running`'s lock; a waiter reads
/// `passed` after the semaphore, which orders it after the write.
private final class RunningCheck: @unchecked Sendable {
    let finished = DispatchSemaphore(value: 0)
    var waiters = 0
    var passed = false
}
