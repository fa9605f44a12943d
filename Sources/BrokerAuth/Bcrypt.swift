import CCrypt
import Glibc

/// bcrypt through libxcrypt's reentrant `crypt_rn`. About 70 ms per call at cost 10: call it
/// only off the shard threads.
package enum Bcrypt {
    /// Whether `hash` is a bcrypt hash this module verifies.
    package static func isBcryptHash(_ hash: String) -> Bool {
        hash.hasPrefix("$2a$") || hash.hasPrefix("$2b$") || hash.hasPrefix("$2y$")
    }

    /// Whether `password` matches `hash`, compared in constant time. False for anything that is
    /// not a bcrypt hash and for passwords with a NUL byte (C strings would cut them short).
    package static func verify(password: [UInt8], hash: String) -> Bool {
        guard isBcryptHash(hash), !password.contains(0) else { return false }
        guard let computed = crypt(password: password, setting: hash) else { return false }
        return constantTimeEqual(Array(computed.utf8), Array(hash.utf8))
    }

    /// A new bcrypt (`$2b$`) hash of `password` with a random salt.
    package static func hash(password: [UInt8], cost: Int = 10) -> String? {
        guard !password.contains(0) else { return nil }
        var setting = [CChar](repeating: 0, count: 64)
        guard crypt_gensalt_rn("$2b$", UInt(cost), nil, 0, &setting, Int32(setting.count)) != nil else { return nil }
        return crypt(password: password, setting: String(decoding: setting.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    private static func crypt(password: [UInt8], setting: String) -> String? {
        // struct crypt_data is 32 KiB: on the heap, zeroed, as libxcrypt asks.
        let size = MemoryLayout<crypt_data>.size
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<crypt_data>.alignment)
        defer {
            memset(data, 0, size)
            data.deallocate()
        }
        memset(data, 0, size)
        let cPassword = password.map { CChar(bitPattern: $0) } + [0]
        guard let result = crypt_rn(cPassword, setting, data, Int32(size)) else { return nil }
        let output = String(cString: result)
        // Failure is a string starting with "*" (libxcrypt never returns a valid hash then).
        return output.hasPrefix("*") ? nil : output
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
