import COpenSSL
import MQTTWire

/// TLS server side of one connection through memory BIOs: ciphertext from the socket is
/// written into `input`, OpenSSL's records are read out of `output` into the wire buffer. All
/// of it runs on the shard's loop thread; OpenSSL never touches the socket and never blocks.
final class TLSLayer: TransportLayer {
    private let ssl: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer
    private let wire: WireBuffer
    private let scratch: UnsafeMutableRawBufferPointer
    /// Application bytes gathered by `send` so that small chunks share one record.
    private var staged = GrowableBuffer()
    private(set) var isEstablished = false
    /// A fatal TLS error happened: no close_notify may follow.
    private var failed = false
    private var shutDown = false
    static let recordSize = 16 * 1024

    init(context: TLSContext, wire: WireBuffer, scratch: UnsafeMutableRawBufferPointer) throws {
        guard let ssl = context.newSession() else { throw TLSError.openSSL("SSL_new", TLSError.lastError()) }
        self.ssl = ssl
        input = BIO_new(BIO_s_mem())
        output = BIO_new(BIO_s_mem())
        // Return "retry" on an empty input BIO rather than EOF.
        BIO_ctrl(input, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        BIO_ctrl(output, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        SSL_set_bio(ssl, input, output)
        SSL_set_accept_state(ssl)
        self.wire = wire
        self.scratch = scratch
    }

    deinit {
        SSL_free(ssl)  // frees both BIOs too
        staged.release()
    }

    func decode(_ bytes: UnsafeMutableRawBufferPointer, up: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard !failed, !shutDown else { return }
        if bytes.count > 0 {
            _ = BIO_write(input, bytes.baseAddress, Int32(bytes.count))
        }
        while true {
            ERR_clear_error()
            let count = SSL_read(ssl, scratch.baseAddress, Int32(scratch.count))
            if count > 0 {
                isEstablished = true
                try up(UnsafeMutableRawBufferPointer(rebasing: scratch[..<Int(count)]))
                continue
            }
            let error = SSL_get_error(ssl, count)
            if !isEstablished && SSL_is_init_finished(ssl) == 1 { isEstablished = true }
            switch error {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                shutDown = true
                SSL_shutdown(ssl)
                throw TransportClose(reason: "TLS close_notify", orderly: true)
            default:
                failed = true
                let reason = TLSError.lastError()
                ERR_clear_error()
                throw TransportClose(reason: isEstablished ? "TLS error: \(reason)" : "TLS handshake failed: \(reason)")
            }
        }
    }

    func send(_ bytes: UnsafeRawBufferPointer) {
        guard isEstablished, !failed, !shutDown, bytes.count > 0 else { return }
        if bytes.count >= Self.recordSize / 4 {
            writeStaged()
            write(bytes)
        } else {
            if staged.count + bytes.count > Self.recordSize { writeStaged() }
            staged.append(bytes)
        }
    }

    private func writeStaged() {
        guard !staged.isEmpty else { return }
        write(staged.bytes)
        staged.consume(staged.count)
    }

    /// The memory BIO grows as needed, so SSL_write takes everything at once.
    private func write(_ bytes: UnsafeRawBufferPointer) {
        ERR_clear_error()
        if SSL_write(ssl, bytes.baseAddress, Int32(bytes.count)) <= 0 {
            failed = true
            ERR_clear_error()
        }
    }

    /// Moves staged application bytes into records, and every pending record into the wire.
    func flush() {
        writeStaged()
        while true {
            let pending = Int(BIO_ctrl_pending(output))
            guard pending > 0 else { return }
            let free = wire.buffer.reserveFree(pending)
            let read = BIO_read(output, free.baseAddress, Int32(pending))
            guard read > 0 else { return }
            wire.buffer.commit(Int(read))
        }
    }

    func shutdown() {
        guard isEstablished, !failed, !shutDown else { return }
        shutDown = true
        writeStaged()
        ERR_clear_error()
        SSL_shutdown(ssl)
        ERR_clear_error()
    }
}
