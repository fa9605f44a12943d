import COpenSSL

/// SHA-1 from libcrypto, for the WebSocket accept key (RFC 6455 §4.2.2) only.
package func sha1(_ bytes: [UInt8]) -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
    bytes.withUnsafeBufferPointer { input in
        _ = SHA1(input.baseAddress, input.count, &digest)
    }
    return digest
}
