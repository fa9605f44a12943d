#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/rand.h>

/* SSL_CTX_set_* macros Swift cannot call. */
static inline long broker_ssl_ctx_set_min_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long broker_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline long broker_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}
static inline long broker_ssl_ctx_sess_set_cache_size(SSL_CTX *ctx, long size) {
    return SSL_CTX_sess_set_cache_size(ctx, size);
}

/* SSL_OP_* are macros built from SSL_OP_BIT: not imported. */
static inline uint64_t broker_ssl_server_options(void) {
    return SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
}

/* ALPN: pick "mqtt" (raw MQTT over TLS) or "http/1.1" (WebSocket over TLS) when the client
   offers it; with no overlap the handshake goes on without ALPN rather than failing. */
static int broker_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                              const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    static const unsigned char mqtt[] = "\x04mqtt";
    static const unsigned char web[] = "\x08http/1.1\x04mqtt";
    const unsigned char *prefs = arg ? web : mqtt;
    unsigned int prefslen = arg ? sizeof(web) - 1 : sizeof(mqtt) - 1;
    if (SSL_select_next_proto((unsigned char **)out, outlen, prefs, prefslen, in, inlen) == OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    return SSL_TLSEXT_ERR_NOACK;
}
static inline void broker_ssl_ctx_set_alpn(SSL_CTX *ctx, int websocket) {
    SSL_CTX_set_alpn_select_cb(ctx, broker_alpn_select, websocket ? (void *)1 : NULL);
}
#endif
