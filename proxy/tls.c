/* proxy/tls.c — mbedTLS 2.28 TLS sessions as a sans-I/O engine (see include/tls.h).
 *
 * The BIO callbacks never touch a socket: bio_recv() takes ciphertext from
 * conn->in (filled by the caller), bio_send() appends ciphertext to conn->out
 * (drained by the caller). Both buffers are allocated when first needed and freed
 * when drained, so an idle connection costs mbedTLS's own state only (this build
 * has neither MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH nor MBEDTLS_PLATFORM_MEMORY, so
 * mbedTLS's two ~16.7 KiB record buffers per context are fixed; max_frag_len
 * would shrink records on the wire but not those buffers, so it is not used).
 *
 * mbedTLS 2.28 specifics used here (each one a place to revisit for 3.6):
 *   ssl_internal.h: mbedtls_ssl_flush_output() and handshake->resume;
 *   public-in-2.x fields: ssl.state, ssl.out_left, ssl.in_msg, ssl.session,
 *   ssl.p_bio; ssl_session_copy() keeps only the leaf of a peer chain, so the
 *   client session cache keeps its own copy of the chain for DANE-TA.
 *
 * The configurations these sessions run on (and the client's session cache)
 * are made in tls_config.c; proxy/tls_private.h holds what the two share.
 */
#include "tls.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/ssl_ticket.h>

#include "addr.h"
#include "log.h"
#include "tls_private.h"

/* ---- error table ------------------------------------------------------- */

const char *tls_strerror(int code)
{
    switch (code) {
    case TLS_OK:
        return "success";
#define TLS_STR_(name, value, text)                                                                \
    case value:                                                                                    \
        return text;
        TLS_ERRNO_MAP(TLS_STR_)
#undef TLS_STR_
    }
    return "unknown TLS error";
}

const char *tls_errname(int code)
{
    switch (code) {
    case TLS_OK:
        return "OK";
#define TLS_NAME_(name, value, text)                                                               \
    case value:                                                                                    \
        return #name;
        TLS_ERRNO_MAP(TLS_NAME_)
#undef TLS_NAME_
    }
    return "UNKNOWN";
}

struct tls_conn {
    mbedtls_ssl_context ssl;
    struct tls_client_config *ccfg; /* NULL on the server side */
    int is_server;
    int err;  /* sticky failure, 0 when none */
    int done; /* handshake complete */
    int resumed;
    int transport_eof;
    int peer_closed; /* close_notify received */
    int alert_sent;  /* description of the last plaintext alert we sent, -1 none */
    int session_saved;
    int chain_released;
    char *key;               /* client: session cache key */
    char *host;              /* client: host given; server: SNI received */
    struct tls_chain *chain; /* the saved chain of a session offered for resumption */
    uint8_t *in;             /* ciphertext waiting for mbedTLS: in[in_off, in_len) */
    size_t in_off, in_len, in_cap;
    uint8_t *out; /* ciphertext waiting for the caller: out[out_off, out_len) */
    size_t out_off, out_len;
    char errbuf[192];
};

/* ---- BIO: the two buffers ---------------------------------------------- */

static int bio_send(void *arg, const unsigned char *buf, size_t len)
{
    struct tls_conn *conn = arg;
    if (!conn->out) {
        if (!(conn->out = malloc(TLS_OUTPUT_CAP)))
            return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        conn->out_off = conn->out_len = 0;
    }
    /* Remember alerts sent in the clear (handshake), to tell why it failed. */
    if (!conn->done && len >= 7 && buf[0] == MBEDTLS_SSL_MSG_ALERT && buf[3] == 0 && buf[4] == 2)
        conn->alert_sent = buf[6];
    size_t room = TLS_OUTPUT_CAP - conn->out_len;
    if (room == 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    size_t n = len < room ? len : room;
    memcpy(conn->out + conn->out_len, buf, n);
    conn->out_len += n;
    return (int)n;
}

static int bio_recv(void *arg, unsigned char *buf, size_t len)
{
    struct tls_conn *conn = arg;
    size_t avail = conn->in_len - conn->in_off;
    if (avail == 0)
        return conn->transport_eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = len < avail ? len : avail;
    memcpy(buf, conn->in + conn->in_off, n);
    conn->in_off += n;
    if (conn->in_off == conn->in_len) {
        /* drained: give the memory back (an idle connection holds none) */
        free(conn->in);
        conn->in = NULL;
        conn->in_off = conn->in_len = conn->in_cap = 0;
    }
    return (int)n;
}

int tls_conn_input_buffer(struct tls_conn *conn, uint8_t **buf, size_t *cap)
{
    if (!conn || !buf || !cap)
        return TLS_EINVAL;
    size_t pending = conn->in_len - conn->in_off;
    *buf = NULL;
    *cap = 0;
    if (pending >= TLS_INPUT_MAX)
        return 0;
    if (conn->in_off > 0) { /* compact; nobody holds a pointer into it now */
        memmove(conn->in, conn->in + conn->in_off, pending);
        conn->in_off = 0;
        conn->in_len = pending;
    }
    /* room for what may arrive, up to the bound; one record plus a header at
     * first, so a small read does not make a large buffer */
    size_t want = pending + TLS_RECORD_MAX + 512;
    if (want > TLS_INPUT_MAX)
        want = TLS_INPUT_MAX;
    if (conn->in_cap < want) {
        uint8_t *p = realloc(conn->in, want);
        if (!p)
            return TLS_ENOMEM;
        conn->in = p;
        conn->in_cap = want;
    }
    *buf = conn->in + conn->in_len;
    *cap = conn->in_cap - conn->in_len;
    return 0;
}

int tls_conn_input_commit(struct tls_conn *conn, size_t n)
{
    if (!conn || n > conn->in_cap - conn->in_len)
        return TLS_EINVAL;
    conn->in_len += n;
    if (conn->in_len == conn->in_off && conn->in) {
        free(conn->in);
        conn->in = NULL;
        conn->in_off = conn->in_len = conn->in_cap = 0;
    }
    return 0;
}

int tls_conn_feed(struct tls_conn *conn, const void *cipher, size_t len)
{
    if (!conn || (len > 0 && !cipher))
        return TLS_EINVAL;
    if (len == 0) {
        conn->transport_eof = 1;
        return 0;
    }
    if (len > TLS_INPUT_MAX - (conn->in_len - conn->in_off))
        return TLS_EINPUT_FULL;
    if (conn->in_cap - conn->in_len < len) {
        size_t pending = conn->in_len - conn->in_off;
        if (conn->in_off > 0) {
            memmove(conn->in, conn->in + conn->in_off, pending);
            conn->in_off = 0;
            conn->in_len = pending;
        }
        if (conn->in_cap - conn->in_len < len) {
            uint8_t *p = realloc(conn->in, pending + len);
            if (!p)
                return TLS_ENOMEM;
            conn->in = p;
            conn->in_cap = pending + len;
        }
    }
    memcpy(conn->in + conn->in_len, cipher, len);
    conn->in_len += len;
    return 0;
}

/* Move what mbedTLS still holds (a partly accepted record) into conn->out. */
static int flush_pending(struct tls_conn *conn)
{
    if (conn->ssl.out_left == 0)
        return 0;
    int r = mbedtls_ssl_flush_output(&conn->ssl);
    return r == 0 ? 0 : r == MBEDTLS_ERR_SSL_WANT_WRITE ? TLS_WANT_IO : TLS_EINTERNAL;
}

int tls_conn_output(struct tls_conn *conn, const uint8_t **p, size_t *len)
{
    if (!conn || !p || !len)
        return 0;
    flush_pending(conn);
    *len = conn->out ? conn->out_len - conn->out_off : 0;
    *p = *len ? conn->out + conn->out_off : NULL;
    return *len > 0;
}

void tls_conn_output_done(struct tls_conn *conn, size_t n)
{
    if (!conn || !conn->out)
        return;
    size_t pending = conn->out_len - conn->out_off;
    conn->out_off += n < pending ? n : pending;
    if (conn->out_off == conn->out_len) {
        free(conn->out);
        conn->out = NULL;
        conn->out_off = conn->out_len = 0;
    }
}

/* ---- connections ------------------------------------------------------- */

int tls_conn_server_sni(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    struct tls_conn *conn = ssl->p_bio;
    (void)arg;
    if (!conn || conn->host || len == 0 || len > TLS_HOST_MAX)
        return 0;
    if ((conn->host = malloc(len + 1))) {
        memcpy(conn->host, name, len);
        conn->host[len] = '\0';
    }
    return 0; /* the certificate was chosen before the handshake */
}

static struct tls_conn *conn_alloc(void)
{
    struct tls_conn *conn = calloc(1, sizeof *conn);
    if (!conn)
        return NULL;
    mbedtls_ssl_init(&conn->ssl);
    conn->alert_sent = -1;
    return conn;
}

struct tls_conn *tls_conn_new_client(struct tls_client_config *cfg, const char *host, uint16_t port)
{
    if (!cfg || !host)
        return NULL;
    struct tls_conn *conn = conn_alloc();
    if (!conn)
        return NULL;
    conn->ccfg = cfg;
    if (!(conn->key = tls_config_session_key(host, port)) || !(conn->host = strdup(host)))
        goto fail;
    if (mbedtls_ssl_setup(&conn->ssl, &cfg->conf) != 0)
        goto fail;
    /* RFC 6066 §3: no SNI for address literals */
    if (!addr_is_literal(host) && mbedtls_ssl_set_hostname(&conn->ssl, host) != 0)
        goto fail;
    mbedtls_ssl_set_bio(&conn->ssl, conn, bio_send, bio_recv, NULL);
    struct session_entry *e = cfg->cache_max ? tls_config_session_find(cfg, conn->key) : NULL;
    if (e && mbedtls_ssl_set_session(&conn->ssl, &e->session) == 0) {
        tls_config_session_unlink(cfg, e);
        tls_config_session_push_front(cfg, e);
        if ((conn->chain = e->chain))
            conn->chain->refs++;
    }
    return conn;
fail:
    tls_conn_free(conn);
    return NULL;
}

struct tls_conn *tls_conn_new_server(struct tls_server_config *cfg, mbedtls_x509_crt *chain,
                                     mbedtls_pk_context *key, const char *alpn)
{
    if (!cfg || !chain || !key || (alpn && (!*alpn || strlen(alpn) > 255)))
        return NULL;
    struct server_variant *v = tls_config_server_variant(cfg, alpn);
    if (!v)
        return NULL;
    struct tls_conn *conn = conn_alloc();
    if (!conn)
        return NULL;
    conn->is_server = 1;
    if (mbedtls_ssl_setup(&conn->ssl, &v->conf) != 0)
        goto fail;
    mbedtls_ssl_set_bio(&conn->ssl, conn, bio_send, bio_recv, NULL);
    /* Documented for the SNI callback, but the handshake state exists from
     * mbedtls_ssl_setup() on, and this way clients without SNI work too. */
    if (mbedtls_ssl_set_hs_own_cert(&conn->ssl, chain, key) != 0)
        goto fail;
    return conn;
fail:
    tls_conn_free(conn);
    return NULL;
}

void tls_conn_free(struct tls_conn *conn)
{
    if (!conn)
        return;
    mbedtls_ssl_free(&conn->ssl);
    tls_config_chain_unref(conn->chain);
    free(conn->in);
    free(conn->out);
    free(conn->key);
    free(conn->host);
    free(conn);
}

static const char *alert_name(int d)
{
    switch (d) {
    case 0:
        return "close_notify";
    case 10:
        return "unexpected_message";
    case 20:
        return "bad_record_mac";
    case 22:
        return "record_overflow";
    case 40:
        return "handshake_failure";
    case 42:
        return "bad_certificate";
    case 43:
        return "unsupported_certificate";
    case 46:
        return "certificate_unknown";
    case 47:
        return "illegal_parameter";
    case 48:
        return "unknown_ca";
    case 50:
        return "decode_error";
    case 51:
        return "decrypt_error";
    case 70:
        return "protocol_version";
    case 71:
        return "insufficient_security";
    case 80:
        return "internal_error";
    case 86:
        return "inappropriate_fallback";
    case 90:
        return "user_canceled";
    case 100:
        return "no_renegotiation";
    case 110:
        return "unsupported_extension";
    case 112:
        return "unrecognized_name";
    case 120:
        return "no_application_protocol";
    }
    return "unknown";
}

/* Turn an mbedTLS result into ours; failures become sticky with a text. */
static int fail_from_mbedtls(struct tls_conn *conn, int r)
{
    const char *who = conn->is_server ? "client" : "server";
    char msg[128];
    int code;
    switch (r) {
    case MBEDTLS_ERR_SSL_WANT_READ:
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        return TLS_WANT_IO;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        conn->peer_closed = 1;
        return TLS_EOF;
    case MBEDTLS_ERR_SSL_CONN_EOF:
        code = TLS_ETRUNCATED;
        snprintf(conn->errbuf, sizeof conn->errbuf, "%s closed the connection %s", who,
                 conn->done ? "without close_notify" : "during the handshake");
        break;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
        int d = conn->ssl.in_msg ? conn->ssl.in_msg[1] : -1;
        if (!conn->is_server && !conn->done && d == MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION)
            code = TLS_EPEER_REQUIRES_TLS13;
        else if (!conn->is_server && conn->ssl.state == MBEDTLS_SSL_SERVER_HELLO &&
                 d == MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE)
            code = TLS_EPEER_HANDSHAKE_FAILURE;
        else if (d == MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL)
            code = TLS_EALPN;
        else
            code = TLS_EALERT;
        snprintf(conn->errbuf, sizeof conn->errbuf, "%s: %s sent fatal alert %s (%d)",
                 tls_strerror(code), who, alert_name(d), d);
        break;
    }
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        code = TLS_ENOMEM;
        snprintf(conn->errbuf, sizeof conn->errbuf, "%s", tls_strerror(code));
        break;
    default:
        mbedtls_strerror(r, msg, sizeof msg);
        if (conn->alert_sent == MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL)
            code = TLS_EALPN;
        else if (r == MBEDTLS_ERR_SSL_INTERNAL_ERROR) /* BAD_INPUT_DATA can be the peer's */
            code = TLS_EINTERNAL;
        else
            code = conn->done ? TLS_EPROTOCOL : TLS_EHANDSHAKE;
        if (conn->alert_sent >= 0)
            snprintf(conn->errbuf, sizeof conn->errbuf, "%s: %s (-0x%04x; we sent alert %s)",
                     tls_strerror(code), msg, (unsigned)-r, alert_name(conn->alert_sent));
        else
            snprintf(conn->errbuf, sizeof conn->errbuf, "%s: %s (-0x%04x)", tls_strerror(code), msg,
                     (unsigned)-r);
        break;
    }
    conn->err = code;
    return code;
}

int tls_conn_handshake(struct tls_conn *conn)
{
    if (!conn)
        return TLS_EINVAL;
    if (conn->err)
        return conn->err;
    if (conn->done)
        return 0;
    while (conn->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
        int r = mbedtls_ssl_handshake_step(&conn->ssl);
        /* handshake->resume is set once the hellos are exchanged; the struct is
         * freed by the last step, so sample it while it exists */
        if (conn->ssl.handshake)
            conn->resumed = conn->ssl.handshake->resume;
        if (r != 0)
            return fail_from_mbedtls(conn, r);
    }
    conn->done = 1;
    if (!conn->resumed) { /* the offered session was declined: its chain is stale */
        tls_config_chain_unref(conn->chain);
        conn->chain = NULL;
    }
    return 0;
}

int tls_conn_read(struct tls_conn *conn, void *buf, size_t cap)
{
    if (!conn || (!buf && cap))
        return TLS_EINVAL;
    int r = tls_conn_handshake(conn);
    if (r != 0)
        return r;
    if (conn->peer_closed)
        return TLS_EOF;
    if (cap == 0)
        return TLS_EINVAL;
    if (cap > TLS_RECORD_MAX)
        cap = TLS_RECORD_MAX;
    r = mbedtls_ssl_read(&conn->ssl, buf, cap);
    if (r > 0)
        return r;
    if (r == 0) /* transport EOF seen by mbedTLS */
        return fail_from_mbedtls(conn, MBEDTLS_ERR_SSL_CONN_EOF);
    return fail_from_mbedtls(conn, r);
}

int tls_conn_write(struct tls_conn *conn, const void *buf, size_t len)
{
    if (!conn || !buf || len == 0)
        return TLS_EINVAL;
    int r = tls_conn_handshake(conn);
    if (r != 0)
        return r;
    /* mbedtls_ssl_write() with a record still pending would flush it and report
     * this call's data as written: never let it see one */
    if ((r = flush_pending(conn)) != 0)
        return r;
    int max = mbedtls_ssl_get_max_out_record_payload(&conn->ssl);
    int exp = mbedtls_ssl_get_record_expansion(&conn->ssl);
    if (max <= 0 || exp < 0)
        return fail_from_mbedtls(conn, max <= 0 ? max : exp);
    size_t want = len < (size_t)max ? len : (size_t)max;
    size_t room = conn->out ? TLS_OUTPUT_CAP - conn->out_len : TLS_OUTPUT_CAP;
    if (room < want + (size_t)exp)
        return TLS_WANT_IO; /* whole records only: wait for the output to drain */
    r = mbedtls_ssl_write(&conn->ssl, buf, want);
    if (r > 0)
        return r;
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) { /* cannot happen with room checked above */
        snprintf(conn->errbuf, sizeof conn->errbuf, "output accounting error");
        return conn->err = TLS_EINTERNAL;
    }
    return fail_from_mbedtls(conn, r);
}

int tls_conn_close_notify(struct tls_conn *conn)
{
    if (!conn)
        return TLS_EINVAL;
    if (conn->err && conn->err != TLS_ETRUNCATED)
        return conn->err;
    int r = mbedtls_ssl_close_notify(&conn->ssl);
    if (r == 0)
        r = flush_pending(conn);
    return r == 0 ? 0 : r == TLS_WANT_IO ? r : fail_from_mbedtls(conn, r);
}

int tls_conn_save_session(struct tls_conn *conn)
{
    if (!conn || conn->is_server || !conn->done || conn->err || !conn->ccfg->cache_max ||
        conn->session_saved)
        return TLS_ESTATE;
    struct tls_client_config *cfg = conn->ccfg;
    const mbedtls_x509_crt *peer = tls_conn_peer_chain(conn);
    if (!peer)
        return TLS_ESTATE;
    struct session_entry *e = calloc(1, sizeof *e);
    if (!e)
        return TLS_ENOMEM;
    mbedtls_ssl_session_init(&e->session);
    if (!(e->key = strdup(conn->key)))
        goto oom;
    if (conn->chain) {
        e->chain = conn->chain;
        e->chain->refs++;
    } else if (!(e->chain = tls_config_chain_copy(peer))) {
        goto oom;
    }
    if (mbedtls_ssl_get_session(&conn->ssl, &e->session) != 0)
        goto oom;
    conn->session_saved = 1;
    struct session_entry *old = tls_config_session_find(cfg, e->key);
    if (old) {
        tls_config_session_unlink(cfg, old);
        tls_config_session_free(old);
    }
    while (cfg->cache_len >= cfg->cache_max) {
        struct session_entry *lru = cfg->tail;
        tls_config_session_unlink(cfg, lru);
        tls_config_session_free(lru);
    }
    tls_config_session_push_front(cfg, e);
    return 0;
oom:
    tls_config_session_free(e);
    return TLS_ENOMEM;
}

/* ---- accessors ---------------------------------------------------------- */

int tls_conn_handshake_done(const struct tls_conn *conn)
{
    return conn && conn->done;
}

const char *tls_conn_alpn(const struct tls_conn *conn)
{
    return conn && conn->done ? mbedtls_ssl_get_alpn_protocol(&conn->ssl) : NULL;
}

const char *tls_conn_ciphersuite(const struct tls_conn *conn)
{
    return conn && conn->done ? mbedtls_ssl_get_ciphersuite(&conn->ssl) : NULL;
}

const char *tls_conn_version(const struct tls_conn *conn)
{
    return conn && conn->done ? mbedtls_ssl_get_version(&conn->ssl) : NULL;
}

int tls_conn_resumed(const struct tls_conn *conn)
{
    return conn && conn->done && conn->resumed;
}

const char *tls_conn_host(const struct tls_conn *conn)
{
    return conn ? conn->host : NULL;
}

const mbedtls_x509_crt *tls_conn_peer_chain(const struct tls_conn *conn)
{
    if (!conn || conn->is_server || !conn->done || conn->chain_released)
        return NULL;
    if (conn->chain)
        return &conn->chain->crt;
    return mbedtls_ssl_get_peer_cert(&conn->ssl);
}

void tls_conn_release_peer_chain(struct tls_conn *conn)
{
    if (!conn || !conn->done)
        return;
    tls_config_chain_unref(conn->chain);
    conn->chain = NULL;
    if (conn->ssl.session && conn->ssl.session->peer_cert) {
        mbedtls_x509_crt_free(conn->ssl.session->peer_cert);
        free(conn->ssl.session->peer_cert);
        conn->ssl.session->peer_cert = NULL;
    }
    conn->chain_released = 1;
}

const char *tls_conn_error(const struct tls_conn *conn)
{
    return conn ? conn->errbuf : "";
}

/* ---- a ClientHello, before any session ------------------------------------ */

#define TLS_CONTENT_HANDSHAKE 22 /* RFC 5246 §6.2.1 ContentType handshake */
#define TLS_HS_CLIENT_HELLO 1    /* RFC 5246 §7.4 HandshakeType client_hello */
#define TLS_EXT_ALPN 16          /* RFC 7301 §3.1 application_layer_protocol_negotiation */
#define TLS_RECORD_HEADER 5      /* type, version (2), length (2) */
#define TLS_HS_HEADER 4          /* msg_type, length (3) */
#define TLS_HELLO_FIXED (2 + 32) /* client_version, random */

static size_t get16(const uint8_t *p)
{
    return (size_t)p[0] << 8 | p[1];
}

int tls_hello_offers_alpn(const uint8_t *d, size_t n, const char *proto)
{
    size_t plen = proto ? strlen(proto) : 0;
    if (n < TLS_RECORD_HEADER || d[0] != TLS_CONTENT_HANDSHAKE)
        return -1;
    size_t rec = get16(d + 3) + TLS_RECORD_HEADER;
    if (n < rec)
        return -1;
    size_t p = TLS_RECORD_HEADER + TLS_HS_HEADER + TLS_HELLO_FIXED;
    if (rec < p + 1 || d[TLS_RECORD_HEADER] != TLS_HS_CLIENT_HELLO)
        return -1;
    p += 1 + d[p]; /* session id */
    if (p + 2 > rec)
        return -1;
    p += 2 + get16(d + p); /* cipher suites */
    if (p + 1 > rec)
        return -1;
    p += 1 + d[p]; /* compression methods */
    if (p + 2 > rec)
        return p == rec ? 0 : -1; /* no extensions at all */
    size_t end = p + 2 + get16(d + p);
    if (end > rec)
        return -1;
    for (p += 2; p + 4 <= end;) {
        unsigned type = (unsigned)get16(d + p);
        size_t len = get16(d + p + 2);
        p += 4;
        if (p + len > end)
            return -1;
        if (type == TLS_EXT_ALPN && len >= 2) { /* a 2-byte list length, then the names */
            for (size_t q = p + 2; q < p + len;) {
                size_t l = d[q];
                if (q + 1 + l > p + len)
                    return -1;
                if (l == plen && memcmp(d + q + 1, proto, plen) == 0)
                    return 1;
                q += 1 + l;
            }
            return 0;
        }
        p += len;
    }
    return 0;
}
