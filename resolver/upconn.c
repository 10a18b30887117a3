/* resolver/upconn.c — one kept-open DNS connection to one upstream, over TCP or
 * DNS-over-TLS (include/upconn.h says what it promises).
 *
 * An upconn outlives its sockets: each connection attempt is a struct
 * upconn_sock, detached (sock->c = NULL) and closed when it fails or idles
 * out, so that a new one can open at once while libuv still releases the old.
 * Queries wait on c->queries; their framed bytes wait in c->outq until the
 * socket is open (and, over TLS, the server authenticated), then go out.
 * The TLS work is the project's one engine (include/tls.h), driven here the
 * way the proxy drives it.
 */
#include "upconn.h"

#include <mbedtls/md.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "addr.h"
#include "dane.h"
#include "dns_frame.h"
#include "log.h"
#include "wire.h"

#define UPCONN_FRAME_MAX (DNS_FRAME_PREFIX + DNS_FRAME_MAX)
#define UPCONN_OPT_KEEPALIVE 11 /* RFC 7828 */
#define UPCONN_OPT_PADDING 12   /* RFC 7830 */
#define UPCONN_TYPE_OPT 41
#define UPCONN_CONNECT_MS 3000

static const struct {
    int code;
    const char *text;
} upconn_errors[] = {
#define UPCONN_TEXT_(name, value, text) {value, text},
    UPCONN_ERRNO_MAP(UPCONN_TEXT_)
#undef UPCONN_TEXT_
};

const char *upconn_strerror(int code)
{
    for (size_t i = 0; i < sizeof upconn_errors / sizeof upconn_errors[0]; i++)
        if (upconn_errors[i].code == code)
            return upconn_errors[i].text;
    return code == 0 ? "success" : "unknown upconn error";
}

struct upconn_sock {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct upconn *c; /* NULL once detached */
    struct upconn *owner;
    struct tls_conn *tls;
    uint8_t *rbuf; /* framed plaintext in */
    size_t rlen;
    int connected, open;
    int closing;
};

struct upconn {
    uv_loop_t *loop;
    struct upconn_params p;
    char label[64];
    char auth_name[256];
    uint8_t (*pins)[32];
    struct upconn_sock *sock;    /* the current socket, or NULL */
    struct upconn_query queries; /* list head: attached queries */
    size_t n_queries;
    uint8_t *outq; /* framed queries waiting for the socket to open */
    size_t outq_len, outq_cap;
    uv_timer_t timer; /* connect/handshake deadline, then idle */
    uint32_t idle_ms; /* idle timeout now (the server's keepalive may shorten it) */
    int freed;
    unsigned handles;
    struct upconn_stats stats;
};

struct upconn_write {
    uv_write_t req;
    size_t len;
    uint8_t data[];
};

/* --- queries list ------------------------------------------------------------ */

static void q_unlink(struct upconn_query *q)
{
    q->prev->next = q->next;
    q->next->prev = q->prev;
    q->next = q->prev = NULL;
}

void upconn_cancel(struct upconn_query *q)
{
    if (!q || !q->next)
        return;
    /* The list it is on may be a connection's or a failing one's (below):
     * both are circular with a head, so unlinking needs neither. */
    q_unlink(q);
}

/* --- sockets ------------------------------------------------------------------ */

static void upconn_release(struct upconn *c);

static void sock_closed(uv_handle_t *h)
{
    struct upconn_sock *s = h->data;
    struct upconn *owner = s->owner;
    tls_conn_free(s->tls);
    free(s->rbuf);
    free(s);
    upconn_release(owner);
}

static void timer_closed(uv_handle_t *h)
{
    upconn_release(h->data);
}

static void upconn_release(struct upconn *c)
{
    if (--c->handles == 0 && c->freed) {
        void (*released)(void *) = c->p.released;
        void *arg = c->p.arg;
        free(c->outq);
        free(c->pins);
        free(c);
        if (released)
            released(arg);
    }
}

static void write_done(uv_write_t *w, int status)
{
    (void)status; /* a failed write shows as a read error too */
    free(w);
}

/* Put bytes on the socket as they are (ciphertext, or plain TCP). */
static int sock_put(struct upconn_sock *s, const uint8_t *data, size_t len)
{
    struct upconn_write *w = malloc(sizeof *w + len);
    if (!w)
        return UPCONN_ENOMEM;
    memcpy(w->data, data, len);
    w->len = len;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, write_done) < 0) {
        free(w);
        return UPCONN_ECLOSED;
    }
    return 0;
}

/* Whatever TLS has to send. */
static int sock_flush_tls(struct upconn_sock *s)
{
    const uint8_t *p;
    size_t len;
    if (!s->tls || !tls_conn_output(s->tls, &p, &len))
        return 0;
    int rc = sock_put(s, p, len);
    tls_conn_output_done(s->tls, len);
    return rc;
}

/* Plaintext out: through TLS or straight. */
static int sock_send(struct upconn_sock *s, const uint8_t *data, size_t len)
{
    if (!s->tls)
        return sock_put(s, data, len);
    while (len) {
        int n = tls_conn_write(s->tls, data, len);
        if (n == TLS_WANT_IO) {
            if (sock_flush_tls(s) < 0)
                return UPCONN_ECLOSED;
            continue;
        }
        if (n < 0)
            return UPCONN_ETLS;
        data += n;
        len -= (size_t)n;
    }
    return sock_flush_tls(s);
}

static void sock_close(struct upconn_sock *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    s->c = NULL;
    uv_close((uv_handle_t *)&s->tcp, sock_closed);
}

/* The socket failed (or closed): every query waiting on it fails with err,
 * one at a time from a list of their own, so that a callback may cancel
 * others or send again (on a new socket). */
static void conn_fail(struct upconn *c, int err)
{
    struct upconn_query failing;
    if (c->sock) {
        sock_close(c->sock);
        c->sock = NULL;
    }
    uv_timer_stop(&c->timer);
    c->outq_len = 0;
    c->stats.open = 0;
    c->stats.last_error = err;
    if (c->queries.next == &c->queries)
        return;
    c->stats.failures++;
    log_debug("forwarder: upstream %s: %s connection lost with %zu queries waiting: %s", c->label,
              c->p.tls ? "TLS" : "TCP", c->n_queries, upconn_strerror(err));
    failing.next = c->queries.next;
    failing.prev = c->queries.prev;
    failing.next->prev = &failing;
    failing.prev->next = &failing;
    c->queries.next = c->queries.prev = &c->queries;
    c->n_queries = 0;
    while (failing.next != &failing) {
        struct upconn_query *q = failing.next;
        q_unlink(q);
        q->on_fail(q, err);
    }
}

static void idle_fire(uv_timer_t *t)
{
    struct upconn *c = t->data;
    if (c->sock && c->n_queries == 0) {
        log_debug("forwarder: %s: idle, closing the %s connection", c->label,
                  c->p.tls ? "TLS" : "TCP");
        if (c->sock->tls && tls_conn_close_notify(c->sock->tls) == 0)
            sock_flush_tls(c->sock);
        conn_fail(c, UPCONN_ECLOSED);
    }
}

static void connect_fire(uv_timer_t *t)
{
    struct upconn *c = t->data;
    log_warnx("forwarder: upstream %s: %s connection not up after %u ms", c->label,
              c->p.tls ? "TLS" : "TCP", c->p.connect_timeout_ms);
    conn_fail(c, UPCONN_ETIMEDOUT);
}

static void idle_arm(struct upconn *c)
{
    if (c->sock && c->sock->open && c->n_queries == 0)
        uv_timer_start(&c->timer, idle_fire, c->idle_ms, 0);
}

/* The server's edns-tcp-keepalive (RFC 7828 §3.3.2) in a response: the idle
 * timeout is at most what it allows. */
static void keepalive_seen(struct upconn *c, const uint8_t *msg, size_t len)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    if (dns_rr_iter_init(&it, msg, len) < 0)
        return;
    while (dns_rr_iter_next(&it, &rr) == 1) {
        if (rr.type != UPCONN_TYPE_OPT)
            continue;
        for (size_t o = 0; o + 4 <= rr.rdlen;) {
            uint16_t code = (uint16_t)(rr.rdata[o] << 8 | rr.rdata[o + 1]);
            uint16_t olen = (uint16_t)(rr.rdata[o + 2] << 8 | rr.rdata[o + 3]);
            if (o + 4 + olen > rr.rdlen)
                break;
            if (code == UPCONN_OPT_KEEPALIVE && olen == 2) {
                uint32_t ms = (uint32_t)(rr.rdata[o + 4] << 8 | rr.rdata[o + 5]) * 100;
                if (ms < c->idle_ms)
                    c->idle_ms = ms;
            }
            o += 4 + (size_t)olen;
        }
        return;
    }
}

/* Complete messages in the socket's plaintext buffer, each to its query. */
static int sock_dispatch(struct upconn_sock *s)
{
    size_t off = 0, mlen;
    const uint8_t *msg;
    while (s->c && dns_frame_next(s->rbuf + off, s->rlen - off, &msg, &mlen)) {
        struct upconn *c = s->c;
        off += DNS_FRAME_PREFIX + mlen;
        if (mlen < DNS_HEADER_LEN)
            return UPCONN_EPROTO;
        uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
        struct upconn_query *q = c->queries.next;
        while (q != &c->queries && q->id != id)
            q = q->next;
        if (q == &c->queries)
            continue; /* a query given up on: its late answer */
        q_unlink(q);
        c->n_queries--;
        c->stats.replies++;
        keepalive_seen(c, msg, mlen);
        q->on_reply(q, msg, mlen);
    }
    if (s->c)
        idle_arm(s->c);
    s->rlen = dns_frame_consume(s->rbuf, s->rlen, off);
    return 0;
}

static void plain_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct upconn_sock *s = h->data;
    (void)suggested;
    buf->base = (char *)s->rbuf + s->rlen;
    buf->len = UPCONN_FRAME_MAX - s->rlen;
}

static void plain_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct upconn_sock *s = st->data;
    (void)buf;
    if (!s->c)
        return;
    if (n < 0) {
        conn_fail(s->c, UPCONN_ECLOSED);
        return;
    }
    s->rlen += (size_t)n;
    int rc = sock_dispatch(s);
    if (rc < 0 && s->c)
        conn_fail(s->c, rc);
    else if (s->c && s->rlen == UPCONN_FRAME_MAX)
        conn_fail(s->c, UPCONN_EPROTO);
}

/* --- TLS ------------------------------------------------------------------------ */

#define UPCONN_PIN_DEPTH 16 /* certificates a pin may be looked for in, leaf included */

/* The certificate of the presented chain (any order) that signed crt, named
 * as its issuer, or NULL (none, or crt is self-signed: the top). */
static const mbedtls_x509_crt *issuer_in(const mbedtls_x509_crt *chain,
                                         const mbedtls_x509_crt *crt)
{
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crt->sig_md);
    if (!md || mbedtls_md(md, crt->tbs.p, crt->tbs.len, hash) != 0)
        return NULL;
    for (const mbedtls_x509_crt *p = chain; p && p->raw.p; p = p->next) {
        if (p == crt || p->subject_raw.len != crt->issuer_raw.len ||
            memcmp(p->subject_raw.p, crt->issuer_raw.p, crt->issuer_raw.len) != 0)
            continue;
        /* mbedTLS's verify takes the key non-const; it only reads it */
        if (mbedtls_pk_verify_ext(crt->sig_pk, crt->sig_opts, (mbedtls_pk_context *)&p->pk,
                                  crt->sig_md, hash, mbedtls_md_get_size(md), crt->sig.p,
                                  crt->sig.len) == 0)
            return p;
    }
    return NULL;
}

/* RFC 8310 authentication of the server the handshake reached. Returns 1
 * authenticated, 0 not (why in reason). */
static int tls_authenticate(struct upconn *c, struct upconn_sock *s, char *reason, size_t cap)
{
    const mbedtls_x509_crt *chain = tls_conn_peer_chain(s->tls);
    if (!chain) {
        snprintf(reason, cap, "no certificate");
        return 0;
    }
    if (c->p.n_pins) {
        /* Only the leaf (whose key the handshake proved) and the certificates
         * that signed it, one above the other: any other certificate sent is
         * a copy anyone can send after a leaf of their own. */
        int matched = 0, depth = 0;
        for (const mbedtls_x509_crt *crt = chain; crt && crt->raw.p && !matched;
             crt = issuer_in(chain, crt)) {
            unsigned char h[32];
            if (++depth > UPCONN_PIN_DEPTH)
                break;
            if (dane_cert_spki_sha256(crt, h) != 0)
                continue;
            for (size_t i = 0; i < c->p.n_pins && !matched; i++)
                matched = memcmp(h, c->pins[i], 32) == 0;
        }
        if (!matched) {
            snprintf(reason, cap, "no certificate matches tls_pubkey_pinset");
            return 0;
        }
    }
    if (c->auth_name[0]) {
        struct dane_verdict v;
        if (!c->p.trust) {
            snprintf(reason, cap,
                     "no trust store (tls_ca_file, tls_ca_path) to check tls_auth_name %s",
                     c->auth_name);
            return 0;
        }
        if (dane_pkix_verify(chain, c->auth_name, c->p.trust, time(NULL), &v) != 0 ||
            v.result != DANE_RESULT_MATCH) {
            snprintf(reason, cap, "certificate does not validate for tls_auth_name %s: %s",
                     c->auth_name, v.reason[0] ? v.reason : "PKIX failed");
            return 0;
        }
    } else if (!c->p.n_pins) {
        snprintf(reason, cap, "neither tls_auth_name nor tls_pubkey_pinset to check");
        return 0;
    }
    return 1;
}

static void sock_open(struct upconn *c, struct upconn_sock *s)
{
    s->open = 1;
    c->stats.open = 1;
    c->stats.connections++;
    uv_timer_stop(&c->timer);
    /* One write (one TLS record) per query, as when the connection is up:
     * each record's length then shows its padding. */
    for (size_t off = 0; off + 2 <= c->outq_len;) {
        size_t n = 2 + ((size_t)c->outq[off] << 8 | c->outq[off + 1]);
        int rc = sock_send(s, c->outq + off, n);
        if (rc < 0) {
            conn_fail(c, rc);
            return;
        }
        off += n;
    }
    c->outq_len = 0;
    idle_arm(c);
}

static void tls_handshake_done(struct upconn *c, struct upconn_sock *s)
{
    char reason[DANE_REASON_MAX + 512];
    int resumed = tls_conn_resumed(s->tls);
    int ok = tls_authenticate(c, s, reason, sizeof reason);
    c->stats.authenticated = ok;
    if (!ok) {
        c->stats.auth_failures++;
        if (c->p.auth_required) {
            log_warnx("forwarder: upstream %s: DNS-over-TLS authentication failed: %s; not used "
                      "(tls_authentication: GETDNS_AUTHENTICATION_REQUIRED)",
                      c->label, reason);
            if (resumed)
                tls_client_config_forget(c->p.tls_cfg, tls_conn_host(s->tls),
                                         addr_port((struct sockaddr *)&c->p.addr));
            conn_fail(c, UPCONN_EAUTH);
            return;
        }
        log_warnx("forwarder: upstream %s: DNS-over-TLS not authenticated (%s); used all the "
                  "same (opportunistic: tls_authentication is not REQUIRED)",
                  c->label, reason);
    }
    if (resumed)
        c->stats.resumed++;
    tls_conn_save_session(s->tls);
    tls_conn_release_peer_chain(s->tls);
    log_debug("forwarder: upstream %s: TLS up (%s, %s%s)", c->label, tls_conn_version(s->tls),
              tls_conn_ciphersuite(s->tls), resumed ? ", resumed" : "");
    sock_open(c, s);
}

static void tls_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct upconn_sock *s = h->data;
    uint8_t *p = NULL;
    size_t cap = 0;
    (void)suggested;
    if (tls_conn_input_buffer(s->tls, &p, &cap) < 0)
        cap = 0;
    buf->base = (char *)p;
    buf->len = cap;
}

static void tls_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct upconn_sock *s = st->data;
    struct upconn *c = s->c;
    (void)buf;
    if (!c)
        return;
    if (n == UV_ENOBUFS || n == 0)
        return;
    if (n < 0)
        tls_conn_feed(s->tls, NULL, 0);
    else
        tls_conn_input_commit(s->tls, (size_t)n);
    if (!s->open) {
        int rc = tls_conn_handshake(s->tls);
        sock_flush_tls(s);
        if (rc == TLS_WANT_IO && n > 0)
            return;
        if (rc == TLS_WANT_IO) { /* the peer closed mid-handshake */
            conn_fail(c, UPCONN_ETLS);
            return;
        }
        if (rc < 0) {
            log_warnx("forwarder: upstream %s: TLS handshake failed: %s", c->label,
                      tls_conn_error(s->tls)[0] ? tls_conn_error(s->tls) : tls_strerror(rc));
            conn_fail(c, UPCONN_ETLS);
            return;
        }
        tls_handshake_done(c, s);
        if (s->c != c)
            return;
    }
    for (;;) {
        if (s->rlen == UPCONN_FRAME_MAX) {
            conn_fail(c, UPCONN_EPROTO);
            return;
        }
        int r = tls_conn_read(s->tls, s->rbuf + s->rlen, UPCONN_FRAME_MAX - s->rlen);
        sock_flush_tls(s);
        if (r == TLS_WANT_IO)
            break;
        if (r < 0) {
            if (r != TLS_EOF)
                log_debug("forwarder: upstream %s: TLS: %s", c->label, tls_strerror(r));
            conn_fail(c, UPCONN_ECLOSED);
            return;
        }
        s->rlen += (size_t)r;
        int rc = sock_dispatch(s);
        if (s->c != c)
            return;
        if (rc < 0) {
            conn_fail(c, rc);
            return;
        }
    }
    if (n < 0)
        conn_fail(c, UPCONN_ECLOSED);
}

static void sock_connected(uv_connect_t *req, int status)
{
    struct upconn_sock *s = req->data;
    struct upconn *c = s->c;
    if (!c)
        return;
    if (status < 0) {
        log_debug("forwarder: upstream %s: connect: %s", c->label, uv_strerror(status));
        conn_fail(c, UPCONN_ECONNECT);
        return;
    }
    s->connected = 1;
    if (!s->tls) {
        if (uv_read_start((uv_stream_t *)&s->tcp, plain_alloc, plain_read) < 0) {
            conn_fail(c, UPCONN_ECONNECT);
            return;
        }
        sock_open(c, s);
        return;
    }
    int rc = tls_conn_handshake(s->tls);
    if ((rc != TLS_WANT_IO && rc < 0) || sock_flush_tls(s) < 0 ||
        uv_read_start((uv_stream_t *)&s->tcp, tls_alloc, tls_read) < 0) {
        conn_fail(c, UPCONN_ETLS);
        return;
    }
}

static int conn_start(struct upconn *c)
{
    struct upconn_sock *s = calloc(1, sizeof *s);
    if (!s || !(s->rbuf = malloc(UPCONN_FRAME_MAX))) {
        free(s);
        return UPCONN_ENOMEM;
    }
    if (c->p.tls) {
        char ip[64];
        /* No SNI without a name: the address literal (tls.c sends none for it). */
        const char *host = c->auth_name[0]
                               ? c->auth_name
                               : addr_format((struct sockaddr *)&c->p.addr, 0, ip, sizeof ip);
        s->tls = tls_conn_new_client(c->p.tls_cfg, host, addr_port((struct sockaddr *)&c->p.addr));
        if (!s->tls) {
            free(s->rbuf);
            free(s);
            return UPCONN_ENOMEM;
        }
    }
    s->c = c;
    s->owner = c;
    c->handles++;
    uv_tcp_init(c->loop, &s->tcp);
    s->tcp.data = s;
    uv_tcp_nodelay(&s->tcp, 1);
    s->creq.data = s;
    c->sock = s;
    c->idle_ms = c->p.idle_timeout_ms;
    uv_timer_start(&c->timer, connect_fire, c->p.connect_timeout_ms, 0);
    if (uv_tcp_connect(&s->creq, &s->tcp, (struct sockaddr *)&c->p.addr, sock_connected) < 0) {
        c->sock = NULL;
        uv_timer_stop(&c->timer);
        sock_close(s);
        return UPCONN_ECONNECT;
    }
    return 0;
}

/* --- the API --------------------------------------------------------------------- */

struct upconn *upconn_new(uv_loop_t *loop, const struct upconn_params *p)
{
    struct upconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->p = *p;
    snprintf(c->label, sizeof c->label, "%s", p->label ? p->label : "upstream");
    snprintf(c->auth_name, sizeof c->auth_name, "%s", p->auth_name ? p->auth_name : "");
    if (p->n_pins) {
        if (!(c->pins = malloc(p->n_pins * 32))) {
            free(c);
            return NULL;
        }
        memcpy(c->pins, p->pins, p->n_pins * 32);
    }
    c->p.label = c->label;
    c->p.auth_name = c->auth_name;
    c->p.pins = NULL;
    if (!c->p.connect_timeout_ms)
        c->p.connect_timeout_ms = UPCONN_CONNECT_MS;
    c->queries.next = c->queries.prev = &c->queries;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->handles = 1;
    return c;
}

void upconn_free(struct upconn *c)
{
    if (!c)
        return;
    while (c->queries.next != &c->queries)
        q_unlink(c->queries.next);
    c->n_queries = 0;
    if (c->sock) {
        sock_close(c->sock);
        c->sock = NULL;
    }
    c->freed = 1;
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}

int upconn_send(struct upconn *c, struct upconn_query *q, uint8_t *msg, size_t len)
{
    uint8_t buf[DNS_FRAME_PREFIX + DNS_FRAME_MAX];
    size_t n = len;
    uint16_t id;
    int unique = 0;

    if (c->freed || len < DNS_HEADER_LEN || len > 65535 - 512)
        return UPCONN_EPROTO;
    for (int tries = 0; tries < 32 && !unique; tries++) {
        if (getrandom(&id, sizeof id, 0) != sizeof id)
            id = (uint16_t)random();
        unique = 1;
        for (struct upconn_query *o = c->queries.next; o != &c->queries; o = o->next)
            if (o->id == id)
                unique = 0;
    }
    if (!unique)
        return UPCONN_ENOMEM;
    msg[0] = (uint8_t)(id >> 8);
    msg[1] = (uint8_t)id;
    /* The options go in after the prefix's room, then the prefix (as
     * dns_frame_encode() writes it, without copying the message twice). */
    memcpy(buf + DNS_FRAME_PREFIX, msg, len);
    /* Options are a courtesy: a query that cannot take them goes as it is. */
    upconn_add_query_options(buf + DNS_FRAME_PREFIX, &n, sizeof buf - DNS_FRAME_PREFIX, 1,
                             c->p.tls ? c->p.padding_block : 0);
    buf[0] = (uint8_t)(n >> 8);
    buf[1] = (uint8_t)n;

    if (!c->sock) {
        int rc = conn_start(c);
        if (rc < 0)
            return rc;
    }
    if (c->sock->open) {
        int rc = sock_send(c->sock, buf, n + 2);
        if (rc < 0)
            return rc; /* the read side reports the failure to the others */
        uv_timer_stop(&c->timer);
    } else {
        if (c->outq_len + n + 2 > c->outq_cap) {
            size_t cap = (c->outq_cap ? c->outq_cap * 2 : 4096);
            while (cap < c->outq_len + n + 2)
                cap *= 2;
            uint8_t *p = realloc(c->outq, cap);
            if (!p)
                return UPCONN_ENOMEM;
            c->outq = p;
            c->outq_cap = cap;
        }
        memcpy(c->outq + c->outq_len, buf, n + 2);
        c->outq_len += n + 2;
    }
    q->id = id;
    q->next = &c->queries;
    q->prev = c->queries.prev;
    c->queries.prev->next = q;
    c->queries.prev = q;
    c->n_queries++;
    c->stats.queries++;
    return 0;
}

void upconn_get_stats(const struct upconn *c, struct upconn_stats *st)
{
    *st = c->stats;
}

/* --- EDNS(0) options of a query ------------------------------------------------------ */

int upconn_add_query_options(uint8_t *msg, size_t *len, size_t cap, int keepalive, uint16_t block)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    size_t l = *len, opt_rdlen_at = 0;
    int rc, has_opt = 0;

    if (!keepalive && !block)
        return 0;
    if (dns_rr_iter_init(&it, msg, l) < 0)
        return -1;
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        if (rr.type == UPCONN_TYPE_OPT && rr.section == DNS_SECTION_ADDITIONAL) {
            if (rr.rdata_offset + rr.rdlen != l)
                return -1; /* options must go at the end of the message */
            has_opt = 1;
            opt_rdlen_at = rr.rdata_offset - 2;
        }
    }
    if (rc < 0 || it.pos != l)
        return -1;
    size_t add = 0;
    uint8_t extra[11 + 4 + 4 + 4096];
    if (!has_opt) {
        static const uint8_t opt[] = {0, 0, UPCONN_TYPE_OPT, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
        memcpy(extra, opt, sizeof opt);
        add = sizeof opt;
    }
    size_t opts_at = add;
    if (keepalive) {
        memcpy(extra + add, (uint8_t[]){0, UPCONN_OPT_KEEPALIVE, 0, 0}, 4);
        add += 4;
    }
    if (block) {
        size_t total = l + add + 4;
        size_t pad = (block - total % block) % block;
        extra[add] = 0;
        extra[add + 1] = UPCONN_OPT_PADDING;
        extra[add + 2] = (uint8_t)(pad >> 8);
        extra[add + 3] = (uint8_t)pad;
        memset(extra + add + 4, 0, pad);
        add += 4 + pad;
    }
    size_t opts_len = add - opts_at;
    uint16_t rdlen = has_opt ? (uint16_t)(msg[opt_rdlen_at] << 8 | msg[opt_rdlen_at + 1]) : 0;
    if (l + add > cap || rdlen + opts_len > 65535)
        return -1;
    if (!has_opt) {
        uint16_t ar = (uint16_t)((msg[10] << 8 | msg[11]) + 1);
        msg[10] = (uint8_t)(ar >> 8);
        msg[11] = (uint8_t)ar;
        opt_rdlen_at = l + 9;
    }
    memcpy(msg + l, extra, add);
    l += add;
    rdlen = (uint16_t)(rdlen + opts_len);
    msg[opt_rdlen_at] = (uint8_t)(rdlen >> 8);
    msg[opt_rdlen_at + 1] = (uint8_t)rdlen;
    *len = l;
    return 0;
}
