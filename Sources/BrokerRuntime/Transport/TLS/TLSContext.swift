import COpenSSL
import Synchronization

/// One listener's `SSL_CTX`, shared by every shard (OpenSSL locks what it shares inside, such
/// as the session cache); each connection's `SSL` object stays on its shard.
///
/// `reload()` (SIGHUP) builds a new context from the files and swaps it in for new
/// connections; live connections keep the context they were made with (the `SSL` holds a
/// reference), so nothing is dropped. A reload that fails keeps the old context.
final class TLSContext: @unchecked Sendable {
    let settings: TLSSettings
    let webSocket: Bool
    /// The current `SSL_CTX *`, as an address (a pointer is not Sendable).
    private let current: Mutex<UInt>

    init(settings: TLSSettings, webSocket: Bool) throws {
        self.settings = settings
        self.webSocket = webSocket
        current = Mutex(UInt(bitPattern: Int(bitPattern: try Self.makeContext(settings, webSocket: webSocket))))
    }

    deinit {
        SSL_CTX_free(OpaquePointer(bitPattern: current.withLock { $0 }))
    }

    /// A new server-side `SSL` for one connection, from the current context.
    func newSession() -> OpaquePointer? {
        current.withLock { SSL_new(OpaquePointer(bitPattern: $0)) }
    }

    /// Re-reads certificate, key and CA files; throws (keeping the old context) when they fail.
    func reload() throws {
        let fresh = UInt(bitPattern: Int(bitPattern: try Self.makeContext(settings, webSocket: webSocket)))
        let old = current.withLock { context in
            defer { context = fresh }
            return context
        }
        SSL_CTX_free(OpaquePointer(bitPattern: old))
    }

    /// TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only. TLS 1.3 keeps OpenSSL's
    /// defaults (all AEAD).
    static let tls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20"

    static func makeContext(_ settings: TLSSettings, webSocket: Bool) throws -> OpaquePointer {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError.openSSL("SSL_CTX_new", TLSError.lastError()) }
        var ok = false
        defer { if !ok { SSL_CTX_free(context) } }
        let minimum = settings.minVersion == .v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION
        guard broker_ssl_ctx_set_min_version(context, minimum) == 1 else {
            throw TLSError.openSSL("minimum version", TLSError.lastError())
        }
        guard SSL_CTX_set_cipher_list(context, tls12Ciphers) == 1 else {
            throw TLSError.openSSL("cipher list", TLSError.lastError())
        }
        SSL_CTX_set_options(context, broker_ssl_server_options())
        // Idle connections give their 34 KiB of record buffers back.
        _ = broker_ssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        // Resumption: server-side session cache (TLS 1.2 ids) and tickets (on by default).
        _ = broker_ssl_ctx_set_session_cache_mode(context, Int(SSL_SESS_CACHE_SERVER))
        _ = broker_ssl_ctx_sess_set_cache_size(context, 20_000)
        let sessionContext = Array("mqtt-broker".utf8)
        _ = SSL_CTX_set_session_id_context(context, sessionContext, UInt32(sessionContext.count))

        guard SSL_CTX_use_certificate_chain_file(context, settings.cert) == 1 else {
            throw TLSError.file("certificate \(settings.cert)", TLSError.lastError())
        }
        guard SSL_CTX_use_PrivateKey_file(context, settings.key, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.file("key \(settings.key)", TLSError.lastError())
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError.file("key \(settings.key) does not match certificate \(settings.cert)", TLSError.lastError())
        }
        if let ca = settings.ca {
            guard SSL_CTX_load_verify_locations(context, ca, nil) == 1 else {
                throw TLSError.file("ca \(ca)", TLSError.lastError())
            }
            if let names = SSL_load_client_CA_file(ca) { SSL_CTX_set_client_CA_list(context, names) }
        }
        switch settings.clientAuth {
        case .none:
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        case .optional:
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        case .required:
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        broker_ssl_ctx_set_alpn(context, webSocket ? 1 : 0)
        ok = true
        return context
    }
}

/// Why a TLS context could not be built.
public enum TLSError: Error, CustomStringConvertible {
    case openSSL(String, String)
    case file(String, String)

    public var description: String {
        switch self {
        case .openSSL(let what, let reason): "TLS \(what): \(reason)"
        case .file(let what, let reason): "TLS cannot use \(what): \(reason)"
        }
    }

    /// The oldest error on this thread's OpenSSL queue, as text.
    static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown error" }
        let capacity = 256
        var text = [CChar](repeating: 0, count: capacity)
        ERR_error_string_n(code, &text, capacity)
        let bytes = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
