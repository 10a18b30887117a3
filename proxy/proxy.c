/* proxy/proxy.c — the proxy's listeners and its per-connection state machine.
 *
 * A connection goes:
 *   REQUEST   read one HTTP request from the browser (http.c)
 *     ├─ origin-form to daneguard itself → a page (pages.c), keep-alive
 *     ├─ absolute URI (plain HTTP)        → HTTP: lookups, connect, forward one
 *     │                                      request and its response, back to REQUEST
 *     └─ CONNECT host:port                → LOOKUP: A, AAAA and TLSA in parallel
 *   LOOKUP    policy.c decides: tunnel, intercept (DANE or PKIX) or refuse
 *   CONNECT   happy-eyeballs to validated addresses only (connect.c)
 *   UP_TLS    our TLS client handshake with the site, then dane.c's verdict
 *   DOWN_TLS  "200", then a TLS server for the browser with a minted certificate
 *             and the ALPN protocol the site chose (ca.c, tls.c)
 *   RELAY     plaintext both ways, one write in flight per direction
 *   TUNNEL    "200", then bytes both ways untouched
 *   REFUSED   "200", TLS with a minted certificate, every request answered 502
 *             with the refusal page (and one log line)
 *
 * Backpressure: a side is read only while the other side has no write in
 * flight, so a slow reader slows the writer and nothing buffers without bound.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/x509_crt.h>

#include "ca.h"
#include "connect.h"
#include "dane.h"
#include "http.h"
#include "log.h"
#include "lookup.h"
#include "pages.h"
#include "policy.h"
#include "server.h"
#include "tls.h"

#define PROXY_MAX_LISTENERS CONFIG_MAX_ADDRS
#define PROXY_MAX_TLSA 32
#define PROXY_MAX_ADDRS 16
#define PROXY_RECENT_REFUSALS 20
#define PROXY_CONNECT_TIMEOUT_MS 10000
/* A burst of browsers (or a flood) waits in the kernel rather than in SYN-ACK
 * retransmits; the kernel caps it at net.core.somaxconn. */
#define PROXY_LISTEN_BACKLOG 4096

enum pstate {
    PS_REQUEST,  /* reading a request head from the client */
    PS_LOOKUP,   /* waiting for A / AAAA / TLSA */
    PS_CONNECT,  /* connecting upstream */
    PS_UP_TLS,   /* our handshake with the site */
    PS_PEEK,     /* "200" sent: waiting for the browser's ClientHello (its ALPN) */
    PS_DOWN_TLS, /* the browser's handshake with us */
    PS_RELAY,    /* intercepted: plaintext relay */
    PS_TUNNEL,   /* bytes relayed untouched */
    PS_REFUSED,  /* TLS with the browser, answering 502 */
    PS_HTTP,     /* plain HTTP: one request upstream and its response back */
    PS_CLOSING,
};

enum conn_kind { KIND_CONNECT, KIND_HTTP };

struct pconn;

struct side {
    struct pconn *pc;
    uv_tcp_t *tcp;
    struct tls_conn *tls;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    size_t write_len; /* TLS output bytes in flight */
    int write_busy;
    int reading;
    int read_eof;
    int shut;
    uint8_t *buf; /* raw bytes read, waiting for the other side (tunnel, HTTP) */
    size_t len;
};

struct refusal {
    time_t when;
    char host[HTTP_MAX_HOST + 1];
    uint16_t port;
    char reason[256];
};

struct proxy {
    uv_loop_t *loop;
    struct config_proxy cfg;
    struct resolver *resolver;
    struct ca *ca;
    struct tls_client_config *tls_client;
    struct tls_client_config *tls_client_h1; /* offers http/1.1 only */
    struct tls_server_config *tls_server;
    mbedtls_x509_crt trust;
    uv_tcp_t listeners[PROXY_MAX_LISTENERS];
    size_t n_listeners;
    unsigned handles_open;
    size_t pconns_alive; /* allocated, not yet freed (closed ones wait for libuv) */
    int closing;
    struct pconn *conns; /* doubly linked, for shutdown */
    /* Connections waiting for a request head (new or idle keep-alive), oldest
     * first: at max_connections the oldest of them makes room for a new one. */
    struct pconn *waiting_head, *waiting_tail;
    uint64_t limit_logged; /* uv_now() of the last "limit reached" line */
    struct proxy_stats stats;
    struct refusal recent[PROXY_RECENT_REFUSALS];
    size_t n_recent, recent_next;
    char self[64]; /* "127.0.0.1:8080": for the PAC file and onboarding page */
    time_t started;
    uint8_t scratch[TLS_RECORD_MAX];
};

struct pconn {
    struct proxy *px;
    struct pconn *next, *prev;
    struct pconn *wnext, *wprev; /* px->waiting_* list */
    int waiting;                 /* on that list */
    int head_timer;              /* the timer bounds the request head (handshake_timeout) */
    enum pstate state;
    enum conn_kind kind;
    unsigned handles; /* open libuv handles */
    uv_tcp_t client_tcp;
    uv_timer_t timer;
    struct side down; /* the browser */
    struct side up;   /* the site */
    struct sockaddr_storage peer;

    /* the request */
    struct http_reader *reader;
    uint8_t *in; /* client bytes not yet consumed by the reader */
    size_t in_len, in_cap;
    int keep_alive;
    int client_minor;
    char host[HTTP_MAX_HOST + 1];
    enum http_host_kind host_kind;
    uint16_t port;
    struct http_buf upstream_head; /* plain HTTP: the request head to send */
    int request_done;              /* plain HTTP: the request body has all been read */

    /* lookups */
    struct lookup *l_a, *l_aaaa, *l_tlsa, *l_tlsa_alias;
    int pending_lookups;
    struct policy_lookup r_a, r_aaaa, r_tlsa;
    struct sockaddr_storage addrs[PROXY_MAX_ADDRS];
    size_t n_addrs;
    struct dane_tlsa tlsa[PROXY_MAX_TLSA];
    size_t n_tlsa;
    char alias[HTTP_MAX_HOST + 2]; /* CNAME target of the host, for RFC 7671 §7 */
    int alias_secure;
    struct hconnect *hc;

    /* verdict */
    struct policy_decision decision;
    char reason[DANE_REASON_MAX + 128];
    uint8_t spki[32];
    int have_spki;
    struct ca_cert *cert;
    struct http_reader *resp_reader; /* plain HTTP responses */
    int sent_200;                    /* the CONNECT has been answered */
    int h1_only;                     /* upstream again, offering http/1.1 only */
};

/* --- small helpers ---------------------------------------------------------- */

static void pc_close(struct pconn *pc);
static void pc_advance(struct pconn *pc);
static void side_flush(struct side *s);
static void start_request(struct pconn *pc);

static void handle_closed(uv_handle_t *h)
{
    struct pconn *pc = h->data;
    if (h != (uv_handle_t *)&pc->client_tcp && h != (uv_handle_t *)&pc->timer)
        free(h);
    if (--pc->handles == 0) {
        struct proxy *px = pc->px;
        for (size_t i = 0; i < pc->n_tlsa; i++)
            dane_tlsa_clear(&pc->tlsa[i]);
        tls_conn_free(pc->down.tls);
        tls_conn_free(pc->up.tls);
        http_reader_free(pc->reader);
        http_reader_free(pc->resp_reader);
        http_buf_free(&pc->upstream_head);
        ca_cert_release(pc->cert);
        free(pc->down.buf);
        free(pc->up.buf);
        free(pc->in);
        free(pc);
        /* px goes with the last of its listeners and connections, whichever
         * libuv releases last (px->conns empties before the handles close) */
        if (--px->pconns_alive == 0 && px->closing && px->handles_open == 0)
            free(px);
    }
}

static void refusal_remember(struct proxy *px, const char *host, uint16_t port, const char *reason)
{
    struct refusal *r = &px->recent[px->recent_next];
    r->when = time(NULL);
    snprintf(r->host, sizeof r->host, "%s", host);
    r->port = port;
    snprintf(r->reason, sizeof r->reason, "%.*s", (int)sizeof r->reason - 1, reason);
    px->recent_next = (px->recent_next + 1) % PROXY_RECENT_REFUSALS;
    if (px->n_recent < PROXY_RECENT_REFUSALS)
        px->n_recent++;
}

static void waiting_add(struct pconn *pc)
{
    struct proxy *px = pc->px;
    if (pc->waiting)
        return;
    pc->waiting = 1;
    pc->wnext = NULL;
    pc->wprev = px->waiting_tail;
    if (px->waiting_tail)
        px->waiting_tail->wnext = pc;
    else
        px->waiting_head = pc;
    px->waiting_tail = pc;
}

static void waiting_del(struct pconn *pc)
{
    struct proxy *px = pc->px;
    if (!pc->waiting)
        return;
    pc->waiting = 0;
    if (pc->wprev)
        pc->wprev->wnext = pc->wnext;
    else
        px->waiting_head = pc->wnext;
    if (pc->wnext)
        pc->wnext->wprev = pc->wprev;
    else
        px->waiting_tail = pc->wprev;
    pc->wnext = pc->wprev = NULL;
}

/* Stop whatever is under way towards the site: lookups and connects. */
static void upstream_abandon(struct pconn *pc)
{
    lookup_cancel(pc->l_a);
    lookup_cancel(pc->l_aaaa);
    lookup_cancel(pc->l_tlsa);
    lookup_cancel(pc->l_tlsa_alias);
    pc->l_a = pc->l_aaaa = pc->l_tlsa = pc->l_tlsa_alias = NULL;
    pc->pending_lookups = 0;
    hconnect_cancel(pc->hc);
    pc->hc = NULL;
}

static void pc_close(struct pconn *pc)
{
    if (pc->state == PS_CLOSING)
        return;
    pc->state = PS_CLOSING;
    waiting_del(pc);
    upstream_abandon(pc);
    if (pc->next)
        pc->next->prev = pc->prev;
    if (pc->prev)
        pc->prev->next = pc->next;
    else
        pc->px->conns = pc->next;
    pc->px->stats.conns_open--;
    uv_close((uv_handle_t *)&pc->timer, handle_closed);
    uv_close((uv_handle_t *)&pc->client_tcp, handle_closed);
    if (pc->up.tcp)
        uv_close((uv_handle_t *)pc->up.tcp, handle_closed);
}

static void refuse(struct pconn *pc, const char *reason);
static void send_error(struct pconn *pc, int status, const char *detail);
static void timer_cb(uv_timer_t *t);

static void timer_set(struct pconn *pc, uint32_t ms)
{
    uv_timer_start(&pc->timer, timer_cb, ms, ms);
}

/* A connection's one timer: handshake_timeout while a request head arrives and
 * while the site is looked up, connected to and TLS-handshaken with (then the
 * browser's handshake with us gets a fresh handshake_timeout); idle_timeout
 * between keep-alive requests and while bytes flow. A site that does not get
 * through in time is a refusal with the page (fail closed, but say so), not a
 * dropped connection the browser would retry or report as a proxy failure. */
static void timer_cb(uv_timer_t *t)
{
    struct pconn *pc = t->data;
    const char *phase = pc->state == PS_LOOKUP    ? "looking up the site in DNS"
                        : pc->state == PS_CONNECT ? "connecting to the site"
                        : pc->state == PS_UP_TLS  ? "in the TLS handshake with the site"
                                                  : NULL;
    log_debug("proxy: %s:%u: timed out in state %d", pc->host[0] ? pc->host : "-", pc->port,
              (int)pc->state);
    if (phase) {
        char reason[160];
        snprintf(reason, sizeof reason, "timed out %s (handshake_timeout %u ms)", phase,
                 pc->px->cfg.handshake_timeout_ms);
        upstream_abandon(pc);
        if (pc->kind == KIND_CONNECT) {
            timer_set(pc, pc->px->cfg.handshake_timeout_ms);
            refuse(pc, reason);
        } else {
            log_info("proxy: %s:%u: %s", pc->host, pc->port, reason);
            pc->state = PS_REFUSED; /* not an upstream phase any more: the next tick closes */
            send_error(pc, 504, reason);
        }
        return;
    }
    pc_close(pc);
}

/* --- raw writes of our own bytes (responses, tunnel data) ------------------- */

struct owned_write {
    uv_write_t req;
    struct pconn *pc;
    void (*then)(struct pconn *pc);
    char data[];
};

static void owned_write_done(uv_write_t *req, int status)
{
    struct owned_write *w = (struct owned_write *)req;
    struct pconn *pc = w->pc;
    void (*then)(struct pconn *) = w->then;
    free(w);
    if (status < 0) {
        pc_close(pc);
        return;
    }
    if (then && pc->state != PS_CLOSING)
        then(pc);
}

/* Write a copy of data to the client's TCP stream; then runs after it left. */
static void send_raw(struct pconn *pc, const void *data, size_t len, void (*then)(struct pconn *pc))
{
    struct owned_write *w = malloc(sizeof *w + len);
    if (!w) {
        pc_close(pc);
        return;
    }
    w->pc = pc;
    w->then = then;
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&pc->client_tcp, &buf, 1, owned_write_done) < 0) {
        free(w);
        pc_close(pc);
    }
}

static void close_after_write(struct pconn *pc)
{
    pc_close(pc);
}

static void send_error(struct pconn *pc, int status, const char *detail)
{
    struct http_buf b = {0};
    if (status == 403)
        pc->px->stats.forbidden++;
    if (http_write_error(&b, status, detail, 0) == 0)
        send_raw(pc, b.data, b.len, close_after_write);
    else
        pc_close(pc);
    http_buf_free(&b);
}

/* --- reading ------------------------------------------------------------------ */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static struct side *side_of(struct pconn *pc, uv_stream_t *stream)
{
    return stream == (uv_stream_t *)&pc->client_tcp ? &pc->down : &pc->up;
}

static void side_read(struct side *s, int on)
{
    if (!s->tcp || s->read_eof || s->reading == on || s->pc->state == PS_CLOSING)
        return;
    if (on) {
        if (uv_read_start((uv_stream_t *)s->tcp, alloc_cb, read_cb) == 0)
            s->reading = 1;
    } else {
        uv_read_stop((uv_stream_t *)s->tcp);
        s->reading = 0;
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pconn *pc = h->data;
    struct side *s = side_of(pc, (uv_stream_t *)h);
    uint8_t *p = NULL;
    size_t cap = 0;

    if (s->tls && pc->state != PS_TUNNEL) {
        if (tls_conn_input_buffer(s->tls, &p, &cap) < 0)
            cap = 0;
    } else if (s == &pc->down &&
               (pc->state == PS_REQUEST || pc->state == PS_LOOKUP || pc->state == PS_CONNECT ||
                pc->state == PS_UP_TLS || pc->state == PS_PEEK || pc->state == PS_HTTP)) {
        size_t want = pc->px->cfg.buffer_size;
        if (pc->in_cap - pc->in_len < 1024 && pc->in_cap < 4 * HTTP_DEFAULT_MAX_HEAD) {
            size_t ncap = pc->in_cap ? pc->in_cap * 2 : want;
            uint8_t *n = realloc(pc->in, ncap);
            if (n) {
                pc->in = n;
                pc->in_cap = ncap;
            }
        }
        p = pc->in + pc->in_len;
        cap = pc->in_cap - pc->in_len;
    } else {
        if (!s->buf)
            s->buf = malloc(pc->px->cfg.buffer_size);
        p = s->buf;
        cap = s->buf ? pc->px->cfg.buffer_size : 0;
    }
    buf->base = (char *)p;
    buf->len = cap;
}

static void tunnel_forward(struct side *src, struct side *dst);
static void handle_request_bytes(struct pconn *pc);
static void http_upstream_bytes(struct pconn *pc);
static void peek_hello(struct pconn *pc);
static void start_connect(struct pconn *pc);

/* The site's connection failed (reset, ...) during our TLS handshake with it:
 * the browser gets the refusal page saying so, not a dropped CONNECT. */
static void up_handshake_failed(struct pconn *pc, int status)
{
    char reason[200];
    snprintf(reason, sizeof reason, "the site's connection failed during the TLS handshake: %s",
             uv_strerror(status));
    refuse(pc, reason);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct pconn *pc = stream->data;
    struct side *s = side_of(pc, stream);

    if (pc->state == PS_CLOSING)
        return;
    if (nread == 0)
        return;
    if (nread == UV_ENOBUFS) { /* input full: stop until drained */
        side_read(s, 0);
        return;
    }
    if (pc->state == PS_RELAY || pc->state == PS_TUNNEL || pc->state == PS_HTTP)
        uv_timer_again(&pc->timer);
    if (nread < 0) {
        s->read_eof = 1;
        s->reading = 0;
        if (nread != UV_EOF && s == &pc->up && pc->state == PS_UP_TLS) {
            up_handshake_failed(pc, (int)nread);
            return;
        }
        if (nread != UV_EOF) {
            pc_close(pc);
            return;
        }
        if (s->tls && pc->state != PS_TUNNEL) {
            tls_conn_feed(s->tls, NULL, 0);
            pc_advance(pc);
        } else if (pc->state == PS_TUNNEL) {
            struct side *other = s == &pc->down ? &pc->up : &pc->down;
            if (other->read_eof) {
                pc_close(pc);
            } else if (!other->shut && other->tcp) {
                other->shut = 1;
                if (uv_shutdown(&other->sreq, (uv_stream_t *)other->tcp, NULL) < 0)
                    pc_close(pc);
            }
        } else if (pc->state == PS_HTTP && s == &pc->up) {
            http_upstream_bytes(pc); /* a close-delimited response ends here */
        } else {
            pc_close(pc);
        }
        return;
    }
    if (s->tls && pc->state != PS_TUNNEL) {
        tls_conn_input_commit(s->tls, (size_t)nread);
        pc_advance(pc);
    } else if (pc->state == PS_TUNNEL) {
        s->len = (size_t)nread;
        tunnel_forward(s, s == &pc->down ? &pc->up : &pc->down);
    } else if (s == &pc->down && pc->state == PS_PEEK) {
        pc->in_len += (size_t)nread;
        peek_hello(pc);
    } else if (s == &pc->down) {
        pc->in_len += (size_t)nread;
        if (pc->state == PS_REQUEST && !pc->head_timer) {
            /* a keep-alive connection's next head: handshake_timeout from its
             * first byte, so a slow head (slowloris) cannot last idle_timeout */
            pc->head_timer = 1;
            timer_set(pc, pc->px->cfg.handshake_timeout_ms);
        }
        handle_request_bytes(pc);
    } else {
        s->len = (size_t)nread;
        http_upstream_bytes(pc);
    }
}

/* --- tunnel ------------------------------------------------------------------ */

static void tunnel_write_done(uv_write_t *req, int status)
{
    struct side *dst = req->data;
    struct pconn *pc = dst->pc;
    struct side *src = dst == &pc->up ? &pc->down : &pc->up;
    dst->write_busy = 0;
    if (pc->state == PS_CLOSING)
        return;
    if (status < 0) {
        pc_close(pc);
        return;
    }
    src->len = 0;
    side_read(src, 1);
}

static void tunnel_forward(struct side *src, struct side *dst)
{
    struct pconn *pc = src->pc;
    side_read(src, 0); /* until dst has taken these bytes */
    uv_buf_t buf = uv_buf_init((char *)src->buf, (unsigned)src->len);
    dst->wreq.data = dst;
    if (uv_write(&dst->wreq, (uv_stream_t *)dst->tcp, &buf, 1, tunnel_write_done) < 0) {
        pc_close(pc);
        return;
    }
    dst->write_busy = 1;
}

static void start_tunnel(struct pconn *pc)
{
    pc->state = PS_TUNNEL;
    timer_set(pc, pc->px->cfg.idle_timeout_ms);
    /* Bytes the client sent after its CONNECT head go first. */
    if (pc->in_len) {
        pc->down.buf =
            malloc(pc->px->cfg.buffer_size > pc->in_len ? pc->px->cfg.buffer_size : pc->in_len);
        if (!pc->down.buf) {
            pc_close(pc);
            return;
        }
        memcpy(pc->down.buf, pc->in, pc->in_len);
        pc->down.len = pc->in_len;
        pc->in_len = 0;
        tunnel_forward(&pc->down, &pc->up);
    } else {
        side_read(&pc->down, 1);
    }
    side_read(&pc->up, 1);
}

/* --- TLS plumbing ------------------------------------------------------------ */

static void tls_write_done(uv_write_t *req, int status)
{
    struct side *s = req->data;
    struct pconn *pc = s->pc;
    s->write_busy = 0;
    /* !s->tcp: the side was let go (refused) and this write was cancelled */
    if (pc->state == PS_CLOSING || !s->tcp)
        return;
    if (status < 0 && s == &pc->up && pc->state == PS_UP_TLS) {
        up_handshake_failed(pc, status);
        return;
    }
    if (status < 0) {
        pc_close(pc);
        return;
    }
    tls_conn_output_done(s->tls, s->write_len);
    s->write_len = 0;
    pc_advance(pc);
}

/* Start writing s's pending TLS output unless a write is in flight. */
static void side_flush(struct side *s)
{
    const uint8_t *p;
    size_t len;
    if (s->write_busy || !s->tls || !s->tcp)
        return;
    if (tls_conn_output(s->tls, &p, &len) <= 0 || len == 0)
        return;
    uv_buf_t buf = uv_buf_init((char *)p, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)s->tcp, &buf, 1);
    if (n > 0) {
        tls_conn_output_done(s->tls, (size_t)n);
        if ((size_t)n == len)
            return;
        p += n;
        len -= (size_t)n;
        buf = uv_buf_init((char *)p, (unsigned)len);
    }
    s->wreq.data = s;
    if (uv_write(&s->wreq, (uv_stream_t *)s->tcp, &buf, 1, tls_write_done) < 0) {
        pc_close(s->pc);
        return;
    }
    s->write_busy = 1;
    s->write_len = len;
}

static int side_output_pending(struct side *s)
{
    const uint8_t *p;
    size_t len = 0;
    return s->write_busy || (tls_conn_output(s->tls, &p, &len) > 0 && len > 0);
}

/* Move plaintext from src to dst while dst can take it. Returns -1 when the
 * connection was closed. */
static int relay_direction(struct pconn *pc, struct side *src, struct side *dst)
{
    uint8_t *scratch = pc->px->scratch;
    for (;;) {
        if (side_output_pending(dst)) {
            side_flush(dst);
            if (dst->write_busy) {
                side_read(src, 0); /* dst is slow: src waits */
                return 0;
            }
        }
        int n = tls_conn_read(src->tls, scratch, sizeof pc->px->scratch);
        if (n == TLS_WANT_IO) {
            side_read(src, 1);
            return 0;
        }
        if (n == TLS_EOF || n == TLS_ETRUNCATED || n < 0) {
            /* One side is done: tell the other, flush, and close. */
            tls_conn_close_notify(dst->tls);
            side_flush(dst);
            src->read_eof = 1;
            if (!dst->write_busy) {
                pc_close(pc);
                return -1;
            }
            return 0;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            int w = tls_conn_write(dst->tls, scratch + off, (size_t)n - off);
            if (w == TLS_WANT_IO) {
                /* Not reached in practice: dst's output is empty when this loop
                 * starts (flushed above, or we returned), and one read of at most
                 * TLS_RECORD_MAX bytes fits TLS_OUTPUT_CAP as long as dst's
                 * records carry >= ~470 bytes each (32 records of 512 with
                 * AES-GCM's 29 bytes of expansion: 17312 <= 17408); tested with
                 * 1024-byte records (max_fragment_length) in proxy_load.sh. The
                 * remainder cannot wait in scratch (shared by all connections),
                 * so a second miss closes rather than buffer without bound. */
                side_flush(dst);
                w = tls_conn_write(dst->tls, scratch + off, (size_t)n - off);
                if (w == TLS_WANT_IO) {
                    log_warnx("proxy: %s: relay output full", pc->host);
                    pc_close(pc);
                    return -1;
                }
            }
            if (w < 0) {
                pc_close(pc);
                return -1;
            }
            off += (size_t)w;
        }
        side_flush(dst);
    }
}

/* --- verdicts and refusal -------------------------------------------------------- */

static void log_verdict(struct pconn *pc, const char *what)
{
    log_info("proxy: %s:%u: %s: %s", pc->host, pc->port, what, pc->reason);
}

static void start_down_tls(struct pconn *pc, const char *alpn);

static void refuse(struct pconn *pc, const char *reason)
{
    struct proxy *px = pc->px;
    snprintf(pc->reason, sizeof pc->reason, "%s", reason);
    px->stats.refused++;
    refusal_remember(px, pc->host, pc->port, pc->reason);
    log_verdict(pc, "refused");
    if (pc->up.tcp) { /* the site is no longer needed */
        side_read(&pc->up, 0);
        uv_close((uv_handle_t *)pc->up.tcp, handle_closed);
        pc->up.tcp = NULL;
    }
    pc->state = PS_REFUSED;
    if (pc->kind == KIND_HTTP) {
        struct http_buf b = {0};
        struct pages_refusal r = {.host = pc->host, .port = pc->port, .reason = pc->reason};
        if (pages_refusal_response(&b, &r, 0) == 0)
            send_raw(pc, b.data, b.len, close_after_write);
        else
            pc_close(pc);
        http_buf_free(&b);
        return;
    }
    start_down_tls(pc, "http/1.1");
}

/* Answer every request inside the refused TLS session with the page. */
static void refused_serve(struct pconn *pc)
{
    uint8_t *scratch = pc->px->scratch;
    for (;;) {
        int n = tls_conn_read(pc->down.tls, scratch, sizeof pc->px->scratch);
        if (n == TLS_WANT_IO) {
            side_read(&pc->down, 1);
            return;
        }
        if (n < 0) {
            pc_close(pc);
            return;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used = 0;
            enum http_event ev;
            if (http_reader_feed(pc->reader, (char *)scratch + off, (size_t)n - off, &used, &ev) <
                0) {
                pc_close(pc);
                return;
            }
            off += used;
            if (ev == HTTP_EV_HEAD) {
                struct http_buf b = {0};
                char *texts[PROXY_MAX_TLSA];
                size_t nt = 0;
                for (size_t i = 0; i < pc->n_tlsa; i++)
                    if ((texts[nt] = dane_tlsa_to_text(&pc->tlsa[i])) != NULL)
                        nt++;
                struct pages_refusal r = {
                    .host = pc->host,
                    .port = pc->port,
                    .reason = pc->reason,
                    .tlsa = (const char *const *)texts,
                    .n_tlsa = nt,
                    .spki_sha256 = pc->have_spki ? pc->spki : NULL,
                };
                int rc = pages_refusal_response(&b, &r, 0);
                for (size_t i = 0; i < nt; i++)
                    free(texts[i]);
                if (rc == 0)
                    tls_conn_write(pc->down.tls, b.data, b.len);
                http_buf_free(&b);
                tls_conn_close_notify(pc->down.tls);
                side_flush(&pc->down);
                side_read(&pc->down, 0);
                pc->down.read_eof = 1;
                if (!pc->down.write_busy)
                    pc_close(pc);
                return;
            }
            if (used == 0)
                break;
        }
    }
}

/* --- the state machine's TLS steps ------------------------------------------------ */

static int pkix_check(struct pconn *pc, const mbedtls_x509_crt *chain)
{
    uint32_t flags = 0;
    int rc = mbedtls_x509_crt_verify((mbedtls_x509_crt *)chain, &pc->px->trust, NULL, pc->host,
                                     &flags, NULL, NULL);
    if (rc == 0)
        return 0;
    char info[256];
    mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
    for (char *p = info; *p; p++)
        if (*p == '\n')
            *p = ';';
    snprintf(pc->reason, sizeof pc->reason, "PKIX validation failed: %s", info);
    return -1;
}

static void upstream_verified(struct pconn *pc)
{
    const mbedtls_x509_crt *chain = tls_conn_peer_chain(pc->up.tls);
    struct dane_verdict v;

    if (!chain) {
        refuse(pc, "the site presented no certificate");
        return;
    }
    if (dane_cert_spki_sha256(chain, pc->spki) == 0)
        pc->have_spki = 1;
    if (pc->decision.action == POLICY_INTERCEPT_DANE) {
        dane_verify(pc->tlsa, pc->n_tlsa, chain, pc->host, &pc->px->trust, time(NULL), &v);
        if (v.result != DANE_RESULT_MATCH) {
            char reason[sizeof pc->reason];
            snprintf(reason, sizeof reason, "DANE mismatch: %s", v.reason);
            refuse(pc, reason);
            return;
        }
        snprintf(pc->reason, sizeof pc->reason, "DANE ok: %s", v.reason);
    } else {
        if (pkix_check(pc, chain) < 0) {
            char reason[sizeof pc->reason];
            snprintf(reason, sizeof reason, "%s", pc->reason);
            refuse(pc, reason);
            return;
        }
        snprintf(pc->reason, sizeof pc->reason, "PKIX ok (no usable TLSA)");
    }
    tls_conn_save_session(pc->up.tls);
    tls_conn_release_peer_chain(pc->up.tls);
    pc->px->stats.intercepted++;
    log_debug("proxy: %s:%u: intercepted: %s; upstream %s %s alpn=%s%s", pc->host, pc->port,
              pc->reason, tls_conn_version(pc->up.tls), tls_conn_ciphersuite(pc->up.tls),
              tls_conn_alpn(pc->up.tls) ? tls_conn_alpn(pc->up.tls) : "-",
              tls_conn_resumed(pc->up.tls) ? " (resumed)" : "");
    const char *alpn = tls_conn_alpn(pc->up.tls);
    if (!pc->sent_200 && alpn && strcmp(alpn, "http/1.1") != 0) {
        /* The site chose h2: make sure the browser offers it before we do. */
        timer_set(pc, pc->px->cfg.handshake_timeout_ms);
        pc->state = PS_PEEK;
        pc->sent_200 = 1;
        side_read(&pc->down, 0);
        send_raw(pc, HTTP_CONNECT_ESTABLISHED, strlen(HTTP_CONNECT_ESTABLISHED), peek_hello);
        return;
    }
    start_down_tls(pc, alpn);
}

/* Does the ClientHello in data (its first TLS record) offer ALPN "h2"? 1 yes,
 * 0 no (no ALPN extension, or a list without h2), -1 not parsable (yet). */
static int hello_offers_h2(const uint8_t *d, size_t n)
{
    if (n < 5 || d[0] != 0x16)
        return -1;
    size_t rec = ((size_t)d[3] << 8 | d[4]) + 5;
    if (n < rec)
        return -1;
    size_t p = 5 + 4 + 2 + 32; /* handshake header, version, random */
    if (rec < p + 1 || d[5] != 1)
        return -1;
    p += 1 + d[p]; /* session id */
    if (p + 2 > rec)
        return -1;
    p += 2 + ((size_t)d[p] << 8 | d[p + 1]); /* cipher suites */
    if (p + 1 > rec)
        return -1;
    p += 1 + d[p]; /* compression methods */
    if (p + 2 > rec)
        return p == rec ? 0 : -1; /* no extensions at all */
    size_t end = p + 2 + ((size_t)d[p] << 8 | d[p + 1]);
    if (end > rec)
        return -1;
    for (p += 2; p + 4 <= end;) {
        unsigned type = (unsigned)d[p] << 8 | d[p + 1];
        size_t len = (size_t)d[p + 2] << 8 | d[p + 3];
        p += 4;
        if (p + len > end)
            return -1;
        if (type == 16 && len >= 2) { /* application_layer_protocol_negotiation */
            for (size_t q = p + 2; q < p + len;) {
                size_t l = d[q];
                if (q + 1 + l > p + len)
                    return -1;
                if (l == 2 && d[q + 1] == 'h' && d[q + 2] == '2')
                    return 1;
                q += 1 + l;
            }
            return 0;
        }
        p += len;
    }
    return 0;
}

/* The browser's ClientHello (in pc->in): h2 offered → go on with the site's
 * h2 session; otherwise reconnect to the site offering http/1.1 only, so both
 * legs speak the same protocol (a client without h2 would otherwise fail
 * ALPN, or speak HTTP/1.1 into an h2 session). */
static void peek_hello(struct pconn *pc)
{
    int offers = hello_offers_h2(pc->in, pc->in_len);
    if (offers < 0 && pc->in_len < pc->in_cap && pc->in_len < 16389) {
        side_read(&pc->down, 1);
        return;
    }
    side_read(&pc->down, 0);
    if (offers != 0 || pc->up.write_busy) {
        start_down_tls(pc, tls_conn_alpn(pc->up.tls));
        return;
    }
    log_debug("proxy: %s:%u: the browser does not offer h2: reconnecting with http/1.1", pc->host,
              pc->port);
    pc->h1_only = 1;
    side_read(&pc->up, 0);
    uv_close((uv_handle_t *)pc->up.tcp, handle_closed);
    pc->up.tcp = NULL;
    tls_conn_free(pc->up.tls);
    pc->up.tls = NULL;
    pc->up.read_eof = pc->up.reading = pc->up.shut = 0;
    pc->have_spki = 0;
    pc->px->stats.intercepted--; /* counted again when verified again */
    start_connect(pc);
}

static void down_tls_after_200(struct pconn *pc)
{
    if (pc->in_len) { /* a ClientHello sent right behind the CONNECT */
        tls_conn_feed(pc->down.tls, pc->in, pc->in_len);
        pc->in_len = 0;
    }
    pc_advance(pc);
}

static void start_down_tls(struct pconn *pc, const char *alpn)
{
    struct proxy *px = pc->px;
    timer_set(pc, px->cfg.handshake_timeout_ms); /* the browser's handshake: a fresh one */
    int rc = ca_mint(px->ca, pc->host, time(NULL), &pc->cert);
    if (rc < 0) {
        log_warnx("proxy: %s: cannot mint a certificate: %s", pc->host, ca_strerror(rc));
        send_error(pc, 502, "daneguard could not mint a certificate for this host");
        return;
    }
    pc->down.tls =
        tls_conn_new_server(px->tls_server, ca_cert_chain(pc->cert), ca_cert_key(pc->cert), alpn);
    if (!pc->down.tls) {
        pc_close(pc);
        return;
    }
    if (pc->state != PS_REFUSED)
        pc->state = PS_DOWN_TLS;
    else {
        http_reader_free(pc->reader);
        pc->reader = http_reader_new(HTTP_READER_REQUEST, NULL);
        if (!pc->reader) {
            pc_close(pc);
            return;
        }
    }
    side_read(&pc->down, 0);
    if (pc->sent_200) { /* after a peek at the ClientHello */
        down_tls_after_200(pc);
        return;
    }
    pc->sent_200 = 1;
    send_raw(pc, HTTP_CONNECT_ESTABLISHED, strlen(HTTP_CONNECT_ESTABLISHED), down_tls_after_200);
}

static void pc_advance(struct pconn *pc)
{
    int rc;
    switch (pc->state) {
    case PS_UP_TLS:
        rc = tls_conn_handshake(pc->up.tls);
        side_flush(&pc->up);
        if (rc == TLS_WANT_IO) {
            side_read(&pc->up, 1);
            return;
        }
        if (rc < 0) {
            char reason[512];
            /* tls.c ends its text with mbedTLS's code, "(-0x23e0; ...)" */
            const char *code = strstr(tls_conn_error(pc->up.tls), "(-0x");
            unsigned mbed = 0;
            if (rc == TLS_EPEER_REQUIRES_TLS13)
                snprintf(reason, sizeof reason, "upstream requires TLS 1.3");
            else if (code && sscanf(code, "(-0x%x", &mbed) == 1 && mbed <= 0xFFFF &&
                     dane_cert_parse_error(-(int)mbed))
                dane_cert_unparsable_reason(reason, sizeof reason, -(int)mbed);
            else
                snprintf(reason, sizeof reason, "TLS handshake with the site failed: %s",
                         tls_conn_error(pc->up.tls));
            refuse(pc, reason);
            return;
        }
        side_read(&pc->up, 0);
        upstream_verified(pc);
        return;
    case PS_DOWN_TLS:
    case PS_REFUSED:
        if (!pc->down.tls)
            return;
        if (!tls_conn_handshake_done(pc->down.tls)) {
            rc = tls_conn_handshake(pc->down.tls);
            side_flush(&pc->down);
            if (rc == TLS_WANT_IO) {
                side_read(&pc->down, 1);
                return;
            }
            if (rc < 0) {
                log_debug("proxy: %s: browser handshake failed: %s", pc->host,
                          tls_conn_error(pc->down.tls));
                pc_close(pc);
                return;
            }
        }
        if (pc->state == PS_REFUSED) {
            if (pc->down.read_eof && !side_output_pending(&pc->down))
                pc_close(pc);
            else if (!pc->down.read_eof)
                refused_serve(pc);
            return;
        }
        pc->state = PS_RELAY;
        timer_set(pc, pc->px->cfg.idle_timeout_ms);
        /* fall through */
    case PS_RELAY:
        if (relay_direction(pc, &pc->down, &pc->up) < 0)
            return;
        if (relay_direction(pc, &pc->up, &pc->down) < 0)
            return;
        if ((pc->down.read_eof || pc->up.read_eof) && !side_output_pending(&pc->down) &&
            !side_output_pending(&pc->up))
            pc_close(pc);
        return;
    default:
        return;
    }
}

/* --- connecting ------------------------------------------------------------------ */

static void http_connected(struct pconn *pc);

static void connected(void *arg, int status, uv_tcp_t *tcp, const struct sockaddr *addr)
{
    struct pconn *pc = arg;
    pc->hc = NULL;
    if (status < 0) {
        char reason[256];
        snprintf(reason, sizeof reason, "no usable address: cannot connect to the site (%s)",
                 uv_strerror(status));
        if (pc->decision.action == POLICY_TUNNEL && pc->kind == KIND_CONNECT) {
            snprintf(pc->reason, sizeof pc->reason, "%s", reason);
            log_verdict(pc, "connect failed");
            send_error(pc, 502, reason);
            return;
        }
        refuse(pc, reason);
        return;
    }
    pc->up.tcp = tcp;
    tcp->data = pc;
    pc->handles++;
    uv_tcp_nodelay(tcp, 1);
    if (pc->kind == KIND_HTTP) {
        http_connected(pc);
        return;
    }
    if (pc->decision.action == POLICY_TUNNEL) {
        pc->px->stats.tunnelled++;
        log_debug("proxy: %s:%u: tunnelled: %s", pc->host, pc->port, pc->decision.reason);
        send_raw(pc, HTTP_CONNECT_ESTABLISHED, strlen(HTTP_CONNECT_ESTABLISHED), start_tunnel);
        return;
    }
    pc->up.tls = tls_conn_new_client(pc->h1_only ? pc->px->tls_client_h1 : pc->px->tls_client,
                                     pc->host, pc->port);
    if (!pc->up.tls) {
        pc_close(pc);
        return;
    }
    pc->state = PS_UP_TLS;
    pc_advance(pc);
}

static void start_connect(struct pconn *pc)
{
    pc->state = PS_CONNECT;
    log_debug("proxy: %s:%u: %s (%s); connecting to %zu address(es)", pc->host, pc->port,
              policy_action_name(pc->decision.action), pc->decision.reason, pc->n_addrs);
    int rc = hconnect_start(pc->px->loop, pc->addrs, pc->n_addrs, PROXY_CONNECT_TIMEOUT_MS,
                            connected, pc, &pc->hc);
    if (rc < 0)
        connected(pc, rc, NULL, NULL);
}

/* --- lookups ---------------------------------------------------------------------- */

static void add_tlsa(void *arg, const uint8_t *rdata, size_t len)
{
    struct pconn *pc = arg;
    if (pc->n_tlsa < PROXY_MAX_TLSA &&
        dane_tlsa_parse_rdata(&pc->tlsa[pc->n_tlsa], rdata, len) == 0)
        pc->n_tlsa++;
}

static void fill_policy_lookup(struct policy_lookup *pl, const struct lookup_result *res,
                               uint16_t type)
{
    struct sockaddr_storage tmp[PROXY_MAX_ADDRS];
    pl->timed_out = res->timed_out;
    pl->rcode = res->rcode;
    pl->security = res->security;
    if (type == DNS_TYPE_TLSA)
        pl->records = 0;
    else
        pl->records = lookup_addresses(res, 0, tmp, PROXY_MAX_ADDRS);
}

static void lookups_done(struct pconn *pc);

static void on_address(struct pconn *pc, const struct lookup_result *res, int is_a)
{
    fill_policy_lookup(is_a ? &pc->r_a : &pc->r_aaaa, res, is_a ? DNS_TYPE_A : DNS_TYPE_AAAA);
    if (res->security != DNS_BOGUS && !res->timed_out)
        pc->n_addrs +=
            lookup_addresses(res, pc->port, pc->addrs + pc->n_addrs, PROXY_MAX_ADDRS - pc->n_addrs);
    if (!pc->alias[0] && lookup_cname_target(res, pc->alias, sizeof pc->alias) == 1)
        pc->alias_secure = res->security == DNS_SECURE;
}

static void on_a(void *arg, const struct lookup_result *res)
{
    struct pconn *pc = arg;
    pc->l_a = NULL;
    on_address(pc, res, 1);
    if (--pc->pending_lookups == 0)
        lookups_done(pc);
}

static void on_aaaa(void *arg, const struct lookup_result *res)
{
    struct pconn *pc = arg;
    pc->l_aaaa = NULL;
    on_address(pc, res, 0);
    if (--pc->pending_lookups == 0)
        lookups_done(pc);
}

static void on_tlsa(void *arg, const struct lookup_result *res)
{
    struct pconn *pc = arg;
    pc->l_tlsa = NULL;
    fill_policy_lookup(&pc->r_tlsa, res, DNS_TYPE_TLSA);
    pc->r_tlsa.records = lookup_each_rdata(res, DNS_TYPE_TLSA, add_tlsa, pc);
    if (--pc->pending_lookups == 0)
        lookups_done(pc);
}

/* RFC 7671 §7: TLSA at the CNAME target when the chain was secure; the
 * original name's records are used when the target has none. */
static void on_tlsa_alias(void *arg, const struct lookup_result *res)
{
    struct pconn *pc = arg;
    pc->l_tlsa_alias = NULL;
    size_t saved = pc->n_tlsa;
    struct dane_tlsa keep[PROXY_MAX_TLSA];
    memcpy(keep, pc->tlsa, sizeof keep);
    pc->n_tlsa = 0;
    size_t n = lookup_each_rdata(res, DNS_TYPE_TLSA, add_tlsa, pc);
    if (!res->timed_out && res->security == DNS_SECURE && n > 0 &&
        dane_tlsa_count_usable(pc->tlsa, pc->n_tlsa) > 0) {
        for (size_t i = 0; i < saved; i++)
            dane_tlsa_clear(&keep[i]);
        fill_policy_lookup(&pc->r_tlsa, res, DNS_TYPE_TLSA);
        pc->r_tlsa.records = n;
        log_debug("proxy: %s: using TLSA of CNAME target %s", pc->host, pc->alias);
    } else {
        for (size_t i = 0; i < pc->n_tlsa; i++)
            dane_tlsa_clear(&pc->tlsa[i]);
        memcpy(pc->tlsa, keep, sizeof keep);
        pc->n_tlsa = saved;
        if (res->security == DNS_BOGUS || res->timed_out)
            fill_policy_lookup(&pc->r_tlsa, res, DNS_TYPE_TLSA); /* fail closed */
    }
    pc->alias[0] = '\0';
    lookups_done(pc);
}

static void lookups_done(struct pconn *pc)
{
    struct policy_input in = {
        .mode = pc->px->cfg.intercept,
        .tlsa = pc->r_tlsa,
        .tlsa_usable = dane_tlsa_count_usable(pc->tlsa, pc->n_tlsa),
        .a = pc->r_a,
        .aaaa = pc->r_aaaa,
        .ip_literal = pc->host_kind != HTTP_HOST_NAME,
    };

    if (pc->kind == KIND_CONNECT && pc->alias[0] && pc->alias_secure) {
        char name[HTTP_MAX_HOST + 32];
        snprintf(name, sizeof name, "_%u._tcp.%s", pc->port, pc->alias);
        if (lookup_start(pc->px->resolver, name, DNS_TYPE_TLSA, on_tlsa_alias, pc,
                         &pc->l_tlsa_alias) == 0)
            return;
    }
    if (pc->kind == KIND_HTTP) {
        /* Plain HTTP has no TLSA: only refuse what DNSSEC proves wrong. */
        in.tlsa = (struct policy_lookup){.rcode = DNS_RCODE_NOERROR, .security = DNS_INSECURE};
        in.tlsa_usable = 0;
        in.mode = CONFIG_INTERCEPT_DANE;
    }
    policy_decide(&in, &pc->decision);
    if (pc->decision.action == POLICY_REFUSE) {
        refuse(pc, pc->decision.reason);
        return;
    }
    start_connect(pc);
}

static void start_lookups(struct pconn *pc)
{
    struct proxy *px = pc->px;
    char name[HTTP_MAX_HOST + 32];

    pc->state = PS_LOOKUP;
    timer_set(pc, px->cfg.handshake_timeout_ms);
    if (pc->host_kind != HTTP_HOST_NAME) {
        struct sockaddr_storage *ss = &pc->addrs[0];
        memset(ss, 0, sizeof *ss);
        if (pc->host_kind == HTTP_HOST_IPV4) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
            s4->sin_family = AF_INET;
            s4->sin_port = htons(pc->port);
            inet_pton(AF_INET, pc->host, &s4->sin_addr);
        } else {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(pc->port);
            inet_pton(AF_INET6, pc->host, &s6->sin6_addr);
        }
        pc->n_addrs = 1;
        lookups_done(pc);
        return;
    }
    pc->pending_lookups = 2;
    int rc = lookup_start(px->resolver, pc->host, DNS_TYPE_A, on_a, pc, &pc->l_a);
    if (rc == 0)
        rc = lookup_start(px->resolver, pc->host, DNS_TYPE_AAAA, on_aaaa, pc, &pc->l_aaaa);
    if (rc == 0 && pc->kind == KIND_CONNECT) {
        snprintf(name, sizeof name, "_%u._tcp.%s", pc->port, pc->host);
        pc->pending_lookups++;
        rc = lookup_start(px->resolver, name, DNS_TYPE_TLSA, on_tlsa, pc, &pc->l_tlsa);
    }
    if (rc == LOOKUP_EBADNAME) {
        send_error(pc, 400, "not a valid host name");
    } else if (rc < 0) { /* fail closed: a lookup that cannot run is not "no TLSA" */
        upstream_abandon(pc);
        if (pc->kind == KIND_CONNECT)
            refuse(pc, "the resolver is overloaded: cannot look the site up");
        else
            send_error(pc, 503, "the resolver is overloaded");
    }
}

/* --- plain HTTP proxying ------------------------------------------------------------ */

static void http_up_write_done(uv_write_t *req, int status)
{
    struct owned_write *w = (struct owned_write *)req;
    struct pconn *pc = w->pc;
    free(w);
    pc->up.write_busy = 0;
    /* !pc->up.tcp: the response ended before the request body was all sent */
    if (pc->state == PS_CLOSING || !pc->up.tcp)
        return;
    if (status < 0) {
        pc_close(pc);
        return;
    }
    handle_request_bytes(pc); /* more of the request body, if any */
}

static void send_up(struct pconn *pc, const void *data, size_t len)
{
    struct owned_write *w = malloc(sizeof *w + len);
    if (!w) {
        pc_close(pc);
        return;
    }
    w->pc = pc;
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)pc->up.tcp, &buf, 1, http_up_write_done) < 0) {
        free(w);
        pc_close(pc);
        return;
    }
    pc->up.write_busy = 1;
}

static void http_connected(struct pconn *pc)
{
    pc->state = PS_HTTP;
    /* the site is reached: from here on an idle limit, not the handshake's */
    timer_set(pc, pc->px->cfg.idle_timeout_ms);
    pc->resp_reader = http_reader_new(HTTP_READER_RESPONSE, NULL);
    if (!pc->resp_reader) {
        pc_close(pc);
        return;
    }
    pc->px->stats.http_requests++;
    send_up(pc, pc->upstream_head.data, pc->upstream_head.len);
    side_read(&pc->up, 1);
}

static void http_response_written(struct pconn *pc)
{
    pc->down.write_busy = 0;
    side_read(&pc->up, 1);
}

/* The response from the site: rewrite its head, pass its body, and when it
 * ends go back to reading the client's next request (or close). */
static void http_upstream_bytes(struct pconn *pc)
{
    struct http_buf out = {0};
    size_t off = 0;
    int ended = 0;
    enum http_event ev = HTTP_EV_NEED_MORE;

    if (pc->up.len == 0 && pc->up.read_eof) {
        if (http_reader_finish(pc->resp_reader, &ev) < 0 || ev != HTTP_EV_END) {
            pc_close(pc);
            return;
        }
        ended = 1;
    }
    while (off < pc->up.len && !ended) {
        size_t used = 0;
        if (http_reader_feed(pc->resp_reader, (char *)pc->up.buf + off, pc->up.len - off, &used,
                             &ev) < 0) {
            log_debug("proxy: %s: bad response from the site", pc->host);
            pc_close(pc);
            http_buf_free(&out);
            return;
        }
        if (ev == HTTP_EV_HEAD) {
            const struct http_head *h = http_reader_head(pc->resp_reader);
            if (h->status >= 100 && h->status < 200 && h->status != 101) {
                /* interim response: pass it on as is */
                http_buf_append(&out, pc->up.buf + off, used);
            } else {
                int ka = pc->keep_alive && h->keep_alive;
                pc->keep_alive = ka;
                http_response_write_downstream(h, pc->client_minor, ka, &out);
            }
        } else {
            http_buf_append(&out, pc->up.buf + off, used);
            if (ev == HTTP_EV_END)
                ended = 1;
        }
        off += used;
        if (used == 0 && ev == HTTP_EV_NEED_MORE)
            break;
    }
    pc->up.len = 0;
    side_read(&pc->up, 0);
    if (ended) {
        /* The response is complete: drop the site, go on with the client. */
        uv_close((uv_handle_t *)pc->up.tcp, handle_closed);
        pc->up.tcp = NULL;
        pc->up.read_eof = 0;
        pc->up.reading = 0;
        http_reader_free(pc->resp_reader);
        pc->resp_reader = NULL;
        if (out.len)
            send_raw(pc, out.data, out.len, pc->keep_alive ? start_request : close_after_write);
        else if (pc->keep_alive)
            start_request(pc);
        else
            pc_close(pc);
    } else if (out.len) {
        pc->down.write_busy = 1;
        send_raw(pc, out.data, out.len, http_response_written);
    } else {
        side_read(&pc->up, 1);
    }
    http_buf_free(&out);
}

/* --- requests ------------------------------------------------------------------------ */

/* Whether host is an address literal of one of this machine's interfaces. */
static int is_local_literal(const char *host)
{
    uv_interface_address_t *ifs;
    int n, found = 0;
    struct in6_addr a6;
    struct in_addr a4;
    int v4 = inet_pton(AF_INET, host, &a4) == 1, v6 = !v4 && inet_pton(AF_INET6, host, &a6) == 1;
    if ((!v4 && !v6) || uv_interface_addresses(&ifs, &n) != 0)
        return 0;
    for (int i = 0; i < n && !found; i++) {
        if (v4 && ifs[i].address.address4.sin_family == AF_INET)
            found = ifs[i].address.address4.sin_addr.s_addr == a4.s_addr;
        else if (v6 && ifs[i].address.address6.sin6_family == AF_INET6)
            found = memcmp(&ifs[i].address.address6.sin6_addr, &a6, sizeof a6) == 0;
    }
    uv_free_interface_addresses(ifs, n);
    return found;
}

static int is_own_address(struct pconn *pc)
{
    struct proxy *px = pc->px;
    for (size_t i = 0; i < px->cfg.n_listen; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&px->cfg.listen[i].ss;
        char text[INET6_ADDRSTRLEN] = "";
        uint16_t port;
        if (sa->sa_family == AF_INET) {
            const struct sockaddr_in *s4 = (const void *)sa;
            inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
            port = ntohs(s4->sin_port);
        } else {
            const struct sockaddr_in6 *s6 = (const void *)sa;
            inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
            port = ntohs(s6->sin6_port);
        }
        int wildcard = strcmp(text, "0.0.0.0") == 0 || strcmp(text, "::") == 0;
        if (port == pc->port &&
            (strcmp(text, pc->host) == 0 || strcmp(pc->host, "localhost") == 0 ||
             (wildcard && is_local_literal(pc->host))))
            return 1;
    }
    return 0;
}

static void serve_page(struct pconn *pc, const struct http_head *h)
{
    struct proxy *px = pc->px;
    struct http_buf body = {0}, head = {0};
    const char *type = PAGES_HTML_TYPE;
    int status = 200;
    const char *path = h->path ? h->path : "/";
    size_t len = 0;
    const void *raw = NULL;

    px->stats.pages_served++;
    switch (pages_route(path)) {
    case PAGES_ONBOARDING:
        pages_onboarding_html(&body, px->self);
        break;
    case PAGES_CA_PEM:
        raw = ca_pem(px->ca, &len);
        type = PAGES_PEM_TYPE;
        break;
    case PAGES_CA_DER:
        raw = ca_der(px->ca, &len);
        type = PAGES_DER_TYPE;
        break;
    case PAGES_PAC:
        pages_pac(&body, px->self);
        type = PAGES_PAC_TYPE;
        break;
    case PAGES_STATUS:
    case PAGES_STATUS_JSON: {
        struct pages_refusal_entry recent[PROXY_RECENT_REFUSALS];
        struct resolver_stats rs;
        struct ca_stats cs;
        resolver_get_stats(px->resolver, &rs);
        ca_stats_get(px->ca, &cs);
        size_t n = 0;
        for (size_t i = 0; i < px->n_recent; i++) {
            size_t k = (px->recent_next + PROXY_RECENT_REFUSALS - 1 - i) % PROXY_RECENT_REFUSALS;
            recent[n++] = (struct pages_refusal_entry){px->recent[k].when, px->recent[k].host,
                                                       px->recent[k].port, px->recent[k].reason};
        }
        struct pages_status st = {
            .now = time(NULL),
            .uptime_s = (uint64_t)(time(NULL) - px->started),
            .dns_queries = rs.queries,
            .cache_hits = rs.cache_hits,
            .cache_misses = rs.cache_misses,
            .cache_entries = rs.cache.entries,
            .cache_bytes = rs.cache.bytes,
            .conns_open = px->stats.conns_open,
            .conns_total = px->stats.conns_total,
            .intercepted = px->stats.intercepted,
            .tunnelled = px->stats.tunnelled,
            .refused = px->stats.refused,
            .certs_minted = cs.misses,
            .cert_cache_hits = cs.hits,
            .recent = recent,
            .n_recent = n,
        };
        if (pages_route(path) == PAGES_STATUS_JSON) {
            pages_status_json(&body, &st);
            type = PAGES_JSON_TYPE;
        } else {
            pages_status_html(&body, &st);
        }
        break;
    }
    default:
        status = 404;
        http_buf_puts(&body, "not found\n");
        type = "text/plain; charset=utf-8";
        break;
    }
    if (!raw) {
        raw = body.data;
        len = body.len;
    }
    int head_only = h->method == 2 /* HTTP_HEAD */;
    http_write_response(&head, status, type, len, NULL, pc->keep_alive);
    if (!head_only)
        http_buf_append(&head, raw, len);
    send_raw(pc, head.data, head.len, pc->keep_alive ? start_request : close_after_write);
    http_buf_free(&head);
    http_buf_free(&body);
}

static int port_allowed(struct proxy *px, uint16_t port)
{
    for (size_t i = 0; i < px->cfg.n_allowed_ports; i++)
        if (px->cfg.allowed_ports[i] == port)
            return 1;
    return 0;
}

static void request_head(struct pconn *pc, const struct http_head *h)
{
    struct proxy *px = pc->px;
    waiting_del(pc);
    pc->keep_alive = h->keep_alive;
    pc->client_minor = h->version_minor;
    if (h->host) {
        snprintf(pc->host, sizeof pc->host, "%s", h->host);
        pc->host_kind = h->host_kind;
        pc->port = h->port;
    }

    if (h->kind == HTTP_TARGET_ORIGIN || (h->kind == HTTP_TARGET_ABSOLUTE && is_own_address(pc))) {
        side_read(&pc->down, 0);
        serve_page(pc, h);
        return;
    }
    if (h->kind == HTTP_TARGET_CONNECT) {
        pc->kind = KIND_CONNECT;
        if (!port_allowed(px, pc->port) || is_own_address(pc)) {
            log_info("proxy: %s:%u: forbidden port", pc->host, pc->port);
            send_error(pc, 403, "CONNECT to this port is not allowed by daneguard");
            return;
        }
        side_read(&pc->down, 0); /* the next bytes belong to the tunnel or TLS */
        start_lookups(pc);
        return;
    }
    /* Absolute URI: plain HTTP. */
    pc->kind = KIND_HTTP;
    if (h->websocket || h->framing == HTTP_FRAMING_TUNNEL) {
        send_error(pc, 501, "plain-HTTP upgrades are not supported; use https");
        return;
    }
    http_buf_reset(&pc->upstream_head);
    if (http_request_write_upstream(h, &pc->upstream_head) < 0) {
        send_error(pc, 400, NULL);
        return;
    }
    pc->request_done = h->framing == HTTP_FRAMING_NONE;
    start_lookups(pc);
}

/* Feed the client's bytes to the request reader. */
static void handle_request_bytes(struct pconn *pc)
{
    size_t off = 0;
    /* The reader (tens of KiB with its arena) only once a client says something:
     * a silent connection costs just its struct pconn. */
    if (!pc->reader && pc->in_len) {
        pc->reader = http_reader_new(HTTP_READER_REQUEST, NULL);
        if (!pc->reader) {
            pc_close(pc);
            return;
        }
    }
    while (off < pc->in_len && pc->state != PS_CLOSING) {
        size_t used = 0;
        enum http_event ev;
        if (pc->state == PS_HTTP || pc->state == PS_LOOKUP || pc->state == PS_CONNECT) {
            /* plain HTTP: request body bytes go upstream when connected */
            if (pc->kind != KIND_HTTP || pc->request_done || pc->state != PS_HTTP ||
                pc->up.write_busy)
                break;
        } else if (pc->state != PS_REQUEST) {
            break;
        }
        int rc = http_reader_feed(pc->reader, (char *)pc->in + off, pc->in_len - off, &used, &ev);
        if (rc < 0) {
            send_error(pc, http_error_status(rc), http_strerror(rc));
            return;
        }
        if (pc->state == PS_HTTP) {
            if (used)
                send_up(pc, pc->in + off, used);
            if (ev == HTTP_EV_END)
                pc->request_done = 1;
            off += used;
            break; /* one write in flight */
        }
        off += used;
        if (ev == HTTP_EV_HEAD) {
            memmove(pc->in, pc->in + off, pc->in_len - off);
            pc->in_len -= off;
            off = 0;
            request_head(pc, http_reader_head(pc->reader));
            if (pc->state == PS_CLOSING)
                return;
            if (pc->kind == KIND_CONNECT || pc->state != PS_REQUEST)
                return; /* leftovers wait in pc->in */
        }
        /* An END with nothing consumed closes the previous bodiless request
         * (the reader reports it on the next feed); the next head follows. */
        if (used == 0 && ev != HTTP_EV_END)
            break;
    }
    if (pc->state == PS_CLOSING)
        return;
    memmove(pc->in, pc->in + off, pc->in_len - off);
    pc->in_len -= off;
    if (pc->state == PS_REQUEST || (pc->state == PS_HTTP && !pc->request_done))
        side_read(&pc->down, 1);
    if (pc->in_len >= pc->in_cap && pc->state == PS_REQUEST)
        send_error(pc, 431, NULL);
}

static void start_request(struct pconn *pc)
{
    pc->state = PS_REQUEST;
    pc->kind = KIND_CONNECT;
    pc->host[0] = '\0';
    pc->port = 0;
    pc->n_addrs = 0;
    pc->alias[0] = '\0';
    memset(&pc->r_a, 0, sizeof pc->r_a);
    memset(&pc->r_aaaa, 0, sizeof pc->r_aaaa);
    memset(&pc->r_tlsa, 0, sizeof pc->r_tlsa);
    if (pc->reader && http_reader_state(pc->reader) != HTTP_READER_READY) {
        pc_close(pc);
        return;
    }
    pc->head_timer = pc->in_len > 0; /* pipelined bytes: a head has begun */
    timer_set(pc, pc->head_timer ? pc->px->cfg.handshake_timeout_ms : pc->px->cfg.idle_timeout_ms);
    waiting_add(pc);
    handle_request_bytes(pc);
}

/* --- accepting ---------------------------------------------------------------------- */

static void on_accept(uv_stream_t *server, int status)
{
    struct proxy *px = server->data;
    struct pconn *pc;
    int len = sizeof pc->peer;

    if (status < 0 || px->closing)
        return;
    pc = calloc(1, sizeof *pc);
    if (!pc)
        return;
    pc->px = px;
    px->pconns_alive++;
    pc->down.pc = pc->up.pc = pc;
    pc->down.tcp = &pc->client_tcp;
    uv_tcp_init(px->loop, &pc->client_tcp);
    uv_timer_init(px->loop, &pc->timer);
    pc->client_tcp.data = pc->timer.data = pc;
    pc->handles = 2;
    pc->next = px->conns;
    if (px->conns)
        px->conns->prev = pc;
    px->conns = pc;
    px->stats.conns_open++;
    px->stats.conns_total++;
    if (uv_accept(server, (uv_stream_t *)&pc->client_tcp) < 0 ||
        uv_tcp_getpeername(&pc->client_tcp, (struct sockaddr *)&pc->peer, &len) < 0) {
        pc_close(pc);
        return;
    }
    uv_tcp_nodelay(&pc->client_tcp, 1);
    /* Before the limit's eviction: a client outside allow must not make room
     * for itself by closing an allowed client's connection. */
    if (!config_cidr_match(px->cfg.allow, px->cfg.n_allow, (struct sockaddr *)&pc->peer)) {
        if (px->stats.conns_open > px->cfg.max_connections)
            pc_close(pc); /* not even a 403 when full */
        else
            send_error(pc, 403, "this client is not allowed to use daneguard");
        return;
    }
    if (px->stats.conns_open > px->cfg.max_connections) {
        /* At the limit the connection that has waited longest for a request
         * head (never sent one, or idle between keep-alive requests) makes
         * room: a flood of silent connections then cannot lock out clients
         * that speak. Only when every slot is busy is the newcomer turned
         * away with a 503. */
        struct pconn *old = px->waiting_head;
        uint64_t now = uv_now(px->loop);
        int log_it = now - px->limit_logged >= 1000 || !px->limit_logged;
        if (log_it)
            px->limit_logged = now ? now : 1;
        if (old) {
            if (log_it)
                log_info("proxy: connection limit (%u) reached: closing the longest idle ones",
                         px->cfg.max_connections);
            pc_close(old);
        } else {
            if (log_it)
                log_info("proxy: connection limit (%u) reached: answering 503",
                         px->cfg.max_connections);
            send_error(pc, 503, "daneguard has too many connections open");
            return;
        }
    }
    timer_set(pc, px->cfg.handshake_timeout_ms);
    pc->state = PS_REQUEST;
    pc->head_timer = 1;
    waiting_add(pc);
    side_read(&pc->down, 1);
}

/* --- set-up --------------------------------------------------------------------------- */

static void listener_closed(uv_handle_t *h)
{
    struct proxy *px = h->data;
    if (--px->handles_open == 0 && px->pconns_alive == 0)
        free(px);
}

static void self_address(struct proxy *px)
{
    const struct sockaddr *sa = (const struct sockaddr *)&px->cfg.listen[0].ss;
    char text[INET6_ADDRSTRLEN] = "127.0.0.1";
    uint16_t port = 8080;
    if (px->cfg.n_listen == 0)
        return;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
        port = ntohs(s4->sin_port);
        snprintf(px->self, sizeof px->self, "%s:%u", text, port);
    } else {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
        port = ntohs(s6->sin6_port);
        snprintf(px->self, sizeof px->self, "[%s]:%u", text, port);
    }
}

int proxy_new(uv_loop_t *loop, const struct config *cfg, struct resolver *r, struct proxy **out,
              char *err, size_t errlen)
{
    static const char *const alpn[] = {"h2", "http/1.1", NULL};
    struct proxy *px = calloc(1, sizeof *px);
    if (!px) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    px->loop = loop;
    px->cfg = cfg->proxy;
    px->resolver = r;
    px->started = time(NULL);
    mbedtls_x509_crt_init(&px->trust);
    self_address(px);

    struct ca_config cc = {.cache_entries = cfg->proxy.cert_cache_entries};
    if (ca_open(cfg->proxy.ca_dir, &cc, time(NULL), &px->ca, err, errlen) < 0)
        goto fail;
    if (ca_created(px->ca))
        log_info("proxy: created a new local CA in %s (install %s in browsers)", cfg->proxy.ca_dir,
                 ca_cert_path(px->ca));
    int rc = mbedtls_x509_crt_parse_file(&px->trust, cfg->proxy.trust_store);
    if (rc < 0) {
        snprintf(err, errlen, "trust_store %s: cannot read any certificate (mbedTLS -0x%04x)",
                 cfg->proxy.trust_store, (unsigned)-rc);
        goto fail;
    }
    struct tls_client_options co = {.alpn = alpn, .session_cache_entries = 1024};
    struct tls_server_options so = {.session_tickets = 1, .session_cache_entries = 1024};
    px->tls_client = tls_client_config_new(&co);
    static const char *const alpn_h1[] = {"http/1.1", NULL};
    struct tls_client_options co1 = {.alpn = alpn_h1, .session_cache_entries = 1024};
    px->tls_client_h1 = tls_client_config_new(&co1);
    px->tls_server = tls_server_config_new(&so);
    if (!px->tls_client || !px->tls_client_h1 || !px->tls_server) {
        snprintf(err, errlen, "cannot set up TLS");
        goto fail;
    }
    for (size_t i = 0; i < cfg->proxy.n_listen; i++) {
        uv_tcp_t *l = &px->listeners[px->n_listeners++];
        const struct sockaddr *sa = (const struct sockaddr *)&cfg->proxy.listen[i].ss;
        uv_tcp_init(loop, l);
        l->data = px;
        px->handles_open++;
        if ((rc = uv_tcp_bind(l, sa, sa->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0)) < 0 ||
            (rc = uv_listen((uv_stream_t *)l, PROXY_LISTEN_BACKLOG, on_accept)) < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", cfg->proxy.listen[i].text,
                     uv_strerror(rc));
            proxy_close(px);
            return -1;
        }
        log_info("proxy: listening on %s (intercept: %s)", cfg->proxy.listen[i].text,
                 cfg->proxy.intercept == CONFIG_INTERCEPT_ALL ? "all" : "dane");
    }
    *out = px;
    return 0;
fail:
    proxy_close(px);
    return -1;
}

void proxy_reconfigure(struct proxy *px, const struct config *cfg, struct resolver *r)
{
    struct config_sockaddr listen[CONFIG_MAX_ADDRS];
    size_t n_listen = px->cfg.n_listen;
    memcpy(listen, px->cfg.listen, sizeof listen);
    px->cfg = cfg->proxy;
    memcpy(px->cfg.listen, listen, sizeof listen); /* listeners stay as bound */
    px->cfg.n_listen = n_listen;
    px->resolver = r;
    /* Lookups waiting on the old resolver would never finish (it is freed
     * next): start them again on the new one, from scratch. */
    for (struct pconn *pc = px->conns; pc; pc = pc->next) {
        if (pc->state != PS_LOOKUP)
            continue;
        upstream_abandon(pc);
        for (size_t i = 0; i < pc->n_tlsa; i++)
            dane_tlsa_clear(&pc->tlsa[i]);
        pc->n_tlsa = 0;
        pc->n_addrs = 0;
        pc->alias[0] = '\0';
        memset(&pc->r_a, 0, sizeof pc->r_a);
        memset(&pc->r_aaaa, 0, sizeof pc->r_aaaa);
        memset(&pc->r_tlsa, 0, sizeof pc->r_tlsa);
        start_lookups(pc);
    }
}

void proxy_close(struct proxy *px)
{
    if (!px)
        return;
    px->closing = 1;
    while (px->conns)
        pc_close(px->conns);
    ca_close(px->ca);
    px->ca = NULL;
    tls_client_config_free(px->tls_client);
    tls_client_config_free(px->tls_client_h1);
    px->tls_client_h1 = NULL;
    tls_server_config_free(px->tls_server);
    px->tls_client = NULL;
    px->tls_server = NULL;
    mbedtls_x509_crt_free(&px->trust);
    for (size_t i = 0; i < px->n_listeners; i++)
        uv_close((uv_handle_t *)&px->listeners[i], listener_closed);
    if (px->handles_open == 0 && px->pconns_alive == 0)
        free(px);
}

void proxy_get_stats(const struct proxy *px, struct proxy_stats *st)
{
    *st = px->stats;
}
