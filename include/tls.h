/* include/tls.h — every mbedTLS TLS-session call in daneguard, behind a sans-I/O
 * engine: the caller feeds ciphertext read from a socket in and takes ciphertext
 * to write out. The proxy drives it from libuv; the CLI drives the same engine
 * over a blocking socket through tls_fetch.h. No sockets, no libuv, no threads in here; one tls_conn belongs to
 * one event loop. Keeping all of mbedTLS's ssl API in proxy/tls.c (the sessions)
 * and proxy/tls_config.c (the configurations) makes a move to mbedTLS 3.6 (TLS
 * 1.3) two files' work.
 *
 * Two shared configurations (create once, free after the last connection):
 *   tls_client_config — upstream side: ALPN offer, ciphers, curves, an LRU cache
 *       of resumable sessions keyed by host:port. Certificates are NOT verified
 *       here: the DANE engine judges tls_conn_peer_chain() after the handshake.
 *   tls_server_config — browser side: tickets + session-ID cache for resumption;
 *       the certificate, key and ALPN choice are given per connection.
 *
 * Driving a tls_conn (all calls non-blocking; same pattern on both sides):
 *   socket readable → tls_conn_input_buffer() / read into it / tls_conn_input_commit()
 *                     (or read anywhere and tls_conn_feed())
 *   then            → tls_conn_handshake() until 0, afterwards tls_conn_read() until
 *                     TLS_WANT_IO
 *   after EVERY call (reads can produce alerts) → tls_conn_output(); write the bytes;
 *                     tls_conn_output_done(n) when n of them have left
 *   socket EOF      → tls_conn_feed(conn, NULL, 0); reads then end in TLS_EOF (after
 *                     close_notify) or TLS_ETRUNCATED.
 * Memory: both internal buffers are allocated when needed and freed when drained,
 * so an idle connection holds only mbedTLS's own state, mostly its two fixed
 * ~16.7 KiB record buffers (Debian's build has no VARIABLE_BUFFER_LENGTH).
 * Measured after the handshake (tests/unit/test_tls.c, test_memory): client
 * ~38 KiB (~35 KiB once tls_conn_release_peer_chain()), server ~35 KiB.
 */
#ifndef DANEGUARD_TLS_H
#define DANEGUARD_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

/* Results: 0 is success; the rest are negative. XX(name, value, text). */
#define TLS_ERRNO_MAP(XX)                                                                          \
    XX(WANT_IO, -1, "needs more input or has output to flush")                                     \
    XX(EOF, -2, "peer closed the TLS session (close_notify)")                                      \
    XX(ENOMEM, -3, "out of memory")                                                                \
    XX(EINVAL, -4, "invalid argument")                                                             \
    XX(EINPUT_FULL, -5, "TLS input buffer full")                                                   \
    XX(ETRUNCATED, -6, "peer closed the connection without close_notify")                          \
    XX(EPEER_REQUIRES_TLS13, -7, "upstream requires TLS 1.3")                                      \
    XX(EPEER_HANDSHAKE_FAILURE, -8,                                                                \
       "peer refused the handshake (no common cipher suite, or it requires TLS 1.3)")              \
    XX(EALPN, -9, "no common application protocol (ALPN)")                                         \
    XX(EALERT, -10, "peer sent a fatal alert")                                                     \
    XX(EPROTOCOL, -11, "TLS protocol error")                                                       \
    XX(EHANDSHAKE, -12, "TLS handshake failed")                                                    \
    XX(ESTATE, -13, "call not valid in this connection state")                                     \
    XX(EINTERNAL, -14, "internal TLS library error")

enum tls_status {
    TLS_OK = 0,
#define TLS_ENUM_(name, value, text) TLS_##name = value,
    TLS_ERRNO_MAP(TLS_ENUM_)
#undef TLS_ENUM_
};

/* A static text for any value above (and "unknown TLS error" for others). */
const char *tls_strerror(int code);
/* The enum name without prefix ("EPEER_REQUIRES_TLS13"), for logs and tests. */
const char *tls_errname(int code);

/* Sizes. A record carries at most TLS_RECORD_MAX plaintext bytes, so reading and
 * writing in chunks of that size costs no extra copies or records. */
#define TLS_RECORD_MAX 16384
#define TLS_INPUT_MAX (32 * 1024)              /* unprocessed ciphertext held per conn */
#define TLS_OUTPUT_CAP (TLS_RECORD_MAX + 1024) /* pending ciphertext held per conn */

/* ---- client side (daneguard → origin) ---------------------------------- */

struct tls_client_config;

struct tls_client_options {
    /* ALPN protocols to offer, most preferred first, NULL-terminated; copied.
     * NULL or empty offers no ALPN. */
    const char *const *alpn;
    /* Resumable sessions kept (LRU, keyed by host:port); 0 disables resumption. */
    size_t session_cache_entries;
};

/* A client configuration: seeds its own CTR-DRBG from the system entropy.
 * Suites: ECDHE-{ECDSA,RSA} with CHACHA20-POLY1305, then AES-GCM, then AES-CBC
 * for old servers; curves x25519, P-256, then P-384. TLS 1.2 only.
 * Returns NULL (and logs why) on failure. Free with tls_client_config_free()
 * after every connection made from it is freed; NULL is a no-op. */
struct tls_client_config *tls_client_config_new(const struct tls_client_options *opt);
void tls_client_config_free(struct tls_client_config *cfg);

/* Drop the cached session of host:port, if any (e.g. when the DANE verdict on a
 * resumed session's chain was negative and a full handshake should be tried). */
void tls_client_config_forget(struct tls_client_config *cfg, const char *host, uint16_t port);

/* ---- server side (browser → daneguard) --------------------------------- */

struct tls_server_config;

struct tls_server_options {
    int session_tickets;       /* RFC 5077 tickets (keys rotate every lifetime) */
    int session_cache_entries; /* session-ID cache size; 0 disables it */
    int session_lifetime_s;    /* ticket and cache lifetime; 0 = 4 hours */
};

/* A server configuration: CTR-DRBG, ticket keys and session-ID cache.
 * Suites: ECDHE-ECDSA (the minted leaf key is EC) with CHACHA20-POLY1305 first
 * (server preference), then AES-GCM; curves x25519, P-256, P-384.
 * opt NULL means tickets on, 1000 cached IDs, 4 hours. Returns NULL (and logs why)
 * on failure. Free after every connection made from it; NULL is a no-op. */
struct tls_server_config *tls_server_config_new(const struct tls_server_options *opt);
void tls_server_config_free(struct tls_server_config *cfg);

/* ---- connections ------------------------------------------------------- */

struct tls_conn;

/* A client connection to host:port. host (a name or an IP literal; copied) is
 * sent as SNI unless it is an IP literal, and with port keys the session cache:
 * a cached session is offered for resumption. cfg must outlive the connection.
 * Returns NULL when out of memory or host is invalid (empty, too long). */
struct tls_conn *tls_conn_new_client(struct tls_client_config *cfg, const char *host,
                                     uint16_t port);

/* A server connection presenting chain (leaf first) with key, its private key.
 * Neither is owned or copied: both must stay valid until tls_conn_handshake()
 * has returned 0 or the connection is freed. alpn is the one protocol to accept
 * ("h2", "http/1.1"; copied) or NULL to negotiate none; a client that offers
 * ALPN without it fails the handshake with TLS_EALPN (RFC 7301 §3.2).
 * Returns NULL when out of memory or an argument is invalid. */
struct tls_conn *tls_conn_new_server(struct tls_server_config *cfg, mbedtls_x509_crt *chain,
                                     mbedtls_pk_context *key, const char *alpn);

/* Free a connection, its buffers and any unread output. NULL is a no-op. It
 * sends nothing: call tls_conn_close_notify() and flush first for a clean close. */
void tls_conn_free(struct tls_conn *conn);

/* Input. tls_conn_input_buffer() gives space inside conn to receive into
 * directly (a libuv alloc_cb): *buf and *cap, valid until the next call on conn.
 * *cap is 0 when TLS_INPUT_MAX bytes are already waiting (stop reading, call
 * tls_conn_read()/handshake first). tls_conn_input_commit() says n bytes of it
 * were filled (n <= *cap). Returns 0, TLS_ENOMEM, or TLS_EINVAL. */
int tls_conn_input_buffer(struct tls_conn *conn, uint8_t **buf, size_t *cap);
int tls_conn_input_commit(struct tls_conn *conn, size_t n);

/* Copy len bytes of ciphertext in. Returns 0, or TLS_EINPUT_FULL (nothing taken)
 * when they do not fit under TLS_INPUT_MAX, or TLS_ENOMEM. len 0 (cipher may be
 * NULL) marks the transport's end of file. */
int tls_conn_feed(struct tls_conn *conn, const void *cipher, size_t len);

/* Output. tls_conn_output() points *p at all pending ciphertext, *len bytes
 * (0 when none), returns *len > 0. The bytes stay put until tls_conn_output_done()
 * drops n of them from the front, so *p may be handed to an asynchronous write
 * (uv_write) meanwhile; later calls may append behind them, never move them.
 * uv_try_write() followed straight by output_done() keeps the pipeline full. */
int tls_conn_output(struct tls_conn *conn, const uint8_t **p, size_t *len);
void tls_conn_output_done(struct tls_conn *conn, size_t n);

/* Advance the handshake. Returns 0 once complete (and after), TLS_WANT_IO when
 * it needs more input or its output must be flushed first, or a negative error:
 * TLS_EPEER_REQUIRES_TLS13 when the upstream answered protocol_version,
 * TLS_EPEER_HANDSHAKE_FAILURE on handshake_failure to our ClientHello, TLS_EALPN,
 * TLS_EALERT, TLS_EPROTOCOL, TLS_ETRUNCATED. Errors are sticky: every later call
 * returns the same code, and tls_conn_error() explains it. */
int tls_conn_handshake(struct tls_conn *conn);

/* Decrypt into buf (cap bytes; TLS_RECORD_MAX avoids partial records). Returns
 * the number of bytes (> 0), TLS_WANT_IO (no complete record buffered), TLS_EOF
 * after the peer's close_notify, or a negative error. Call until TLS_WANT_IO:
 * several records may be buffered. Runs the handshake first if unfinished. */
int tls_conn_read(struct tls_conn *conn, void *buf, size_t cap);

/* Encrypt up to len bytes of buf as one record. Returns the bytes consumed
 * (>= 1, <= TLS_RECORD_MAX; write the rest with another call), or TLS_WANT_IO when
 * pending output leaves no room for a record (flush, then call again with any
 * data: nothing of buf was taken), or a negative error. */
int tls_conn_write(struct tls_conn *conn, const void *buf, size_t len);

/* Queue a close_notify alert. Returns 0, TLS_WANT_IO (flush output, call again)
 * or a negative error. */
int tls_conn_close_notify(struct tls_conn *conn);

/* After a client handshake whose chain the caller accepted (the DANE verdict),
 * keep the session, with a copy of the peer chain, for resumption by later
 * connections to the same host:port (replacing an older entry; after a resumed
 * handshake this refreshes it). Once per connection, and before
 * tls_conn_release_peer_chain(). Returns 0, TLS_ESTATE (handshake not done,
 * server side, resumption disabled, already saved, chain released), TLS_ENOMEM. */
int tls_conn_save_session(struct tls_conn *conn);

/* Accessors. Strings are owned by conn (or static) and valid until it is freed.
 *   handshake_done  1 once tls_conn_handshake() returned 0
 *   alpn            the agreed protocol, NULL when none
 *   ciphersuite     mbedTLS's name ("TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"),
 *                   NULL before the handshake completes
 *   version         "TLSv1.2", NULL before the handshake completes
 *   resumed         1 when the handshake resumed a session (ticket or session ID)
 *   host            client: the host given; server: the SNI received, or NULL */
int tls_conn_handshake_done(const struct tls_conn *conn);
const char *tls_conn_alpn(const struct tls_conn *conn);
const char *tls_conn_ciphersuite(const struct tls_conn *conn);
const char *tls_conn_version(const struct tls_conn *conn);
int tls_conn_resumed(const struct tls_conn *conn);
const char *tls_conn_host(const struct tls_conn *conn);

/* The peer's certificate chain as presented, leaf first (on a resumed session:
 * the chain saved with it). Client side only; NULL on the server side, before the
 * handshake, or after tls_conn_release_peer_chain(). Owned by conn. */
const mbedtls_x509_crt *tls_conn_peer_chain(const struct tls_conn *conn);

/* Free the peer chain once judged (saves its few KiB for the connection's life). */
void tls_conn_release_peer_chain(struct tls_conn *conn);

/* Why the last call failed, for a log line or error page: "" when nothing failed.
 * Owned by conn; valid until the next call on conn. */
const char *tls_conn_error(const struct tls_conn *conn);

/* ---- a ClientHello, before any session ------------------------------------ */

/* A first TLS record whole: its 5-byte header and at most TLS_RECORD_MAX bytes. */
#define TLS_HELLO_RECORD_MAX (5 + TLS_RECORD_MAX)

/* Does the ClientHello in data[0..len) (a client's first bytes: its first TLS
 * record, RFC 5246 §7.4.1.2) offer the ALPN protocol proto (RFC 7301 §3.1)?
 * 1 yes; 0 no (no ALPN extension, or a list without proto); -1 not parsable
 * yet (incomplete: read more, up to TLS_HELLO_RECORD_MAX bytes) or not a
 * ClientHello in one record. Reads data only; keeps nothing. */
int tls_hello_offers_alpn(const uint8_t *data, size_t len, const char *proto);

#endif
