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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/x509_crt.h>

#include "addr.h"
#include "ca.h"
#include "clients.h"
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
/* TLSA records are kept as many as come (no count cap that could drop a usable
 * one), up to this much memory per set; beyond it the CONNECT is refused. One
 * DNS message holds less, so only a bug or a hostile resolver reaches it. */
#define PROXY_TLSA_MAX_BYTES (256 * 1024)
#define PROXY_NAME_TEXT_MAX 1024 /* a wire name as text, escapes included */
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
    size_t cap; /* what buf holds: fixed when it is allocated (a reload may change
                   buffer_size, never the size of a buffer already handed out) */
};

/* The TLSA records of one RRset, grown as they come. */
struct tlsa_set {
    struct dane_tlsa *rec;
    size_t n, cap;
    size_t bytes; /* memory held, bounded by PROXY_TLSA_MAX_BYTES */
    int overflow; /* a record could not be kept: the set is incomplete */
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
    struct hconnect_policy *dest; /* where connections may go (allow_destinations) */
    struct clients *clients;      /* open connections per client address */
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
    struct client *client; /* px->clients' entry of peer: one reference */

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
    int req_method;                /* plain HTTP: the request's method (HEAD: no body back) */
    int final_write;               /* a last response is on its way: read nothing more */

    /* lookups */
    struct lookup *l_a, *l_aaaa, *l_tlsa, *l_tlsa_alias;
    int pending_lookups;
    struct policy_lookup r_a, r_aaaa, r_tlsa, r_ttlsa;
    struct sockaddr_storage addrs[PROXY_MAX_ADDRS];
    size_t n_addrs;
    struct tlsa_set tlsa;            /* at _port._tcp.host */
    struct tlsa_set ttlsa;           /* at _port._tcp.<CNAME target> (RFC 7671 §7) */
    char alias[PROXY_NAME_TEXT_MAX]; /* the secure CNAME chain's final target */
    int target_asked;                /* the TLSA lookup at alias has been started */
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
    struct http_buf page;            /* refused: the page, written a record at a time */
    size_t page_off;                 /* how much of it is written */
    int page_notified;               /* close_notify queued after it */
};

/* --- small helpers ---------------------------------------------------------- */

/* The TLSA records the decision rests on: the CNAME target's or the host's. */
static const struct tlsa_set *tlsa_in_use(const struct pconn *pc)
{
    return pc->decision.use_target ? &pc->ttlsa : &pc->tlsa;
}

static void pc_close(struct pconn *pc);
static void pc_advance(struct pconn *pc);
static void side_flush(struct side *s);
static void start_request(struct pconn *pc);

static void tlsa_set_clear(struct tlsa_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        dane_tlsa_clear(&set->rec[i]);
    free(set->rec);
    memset(set, 0, sizeof *set);
}

/* Keep one more record; any failure marks the set incomplete (refused),
 * except RDATA too short to be a TLSA record, which is unusable anyway. */
static void tlsa_set_add(void *arg, const uint8_t *rdata, size_t len)
{
    struct tlsa_set *set = arg;
    if (set->overflow)
        return;
    if (set->bytes + sizeof *set->rec + len > PROXY_TLSA_MAX_BYTES) {
        set->overflow = 1;
        return;
    }
    if (set->n == set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 8;
        struct dane_tlsa *n = realloc(set->rec, ncap * sizeof *n);
        if (!n) {
            set->overflow = 1;
            return;
        }
        set->rec = n;
        set->cap = ncap;
    }
    int rc = dane_tlsa_parse_rdata(&set->rec[set->n], rdata, len);
    if (rc == 0) {
        set->n++;
        set->bytes += sizeof *set->rec + len;
    } else if (rc != DANE_ERDATA) {
        set->overflow = 1;
    }
}

static void handle_closed(uv_handle_t *h)
{
    struct pconn *pc = h->data;
    if (--pc->handles == 0) {
        struct proxy *px = pc->px;
        tlsa_set_clear(&pc->tlsa);
        tlsa_set_clear(&pc->ttlsa);
        tls_conn_free(pc->down.tls);
        tls_conn_free(pc->up.tls);
        http_reader_free(pc->reader);
        http_reader_free(pc->resp_reader);
        http_buf_free(&pc->upstream_head);
        http_buf_free(&pc->page);
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
    clients_unref(pc->px->clients, pc->client);
    pc->client = NULL;
    uv_close((uv_handle_t *)&pc->timer, handle_closed);
    uv_close((uv_handle_t *)&pc->client_tcp, handle_closed);
    if (pc->up.tcp)
        hconnect_tcp_close(pc->up.tcp, handle_closed); /* hconnect frees it */
}

static void refuse(struct pconn *pc, const char *reason);
static void send_error(struct pconn *pc, int status, const char *detail);
static void fail_plain(struct pconn *pc, int status, const char *reason);
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

static void side_read(struct side *s, int on);

/* The connection's last response: nothing more is read from the client (its
 * bytes would have no buffer to go to), and it closes once this has left. */
static void send_error(struct pconn *pc, int status, const char *detail)
{
    struct http_buf b = {0};
    pc->final_write = 1;
    side_read(&pc->down, 0);
    if (status == 403)
        pc->px->stats.forbidden++;
    if (http_write_error(&b, status, detail, 0) == 0)
        send_raw(pc, b.data, b.len, close_after_write);
    else
        pc_close(pc);
    http_buf_free(&b);
}

/* An error answer whose text/plain body is one line, "daneguard: ...", for
 * refusals a script may read (issue 8's contract: which address, which key). */
static void send_line(struct pconn *pc, int status, const char *fmt, ...) LOG_PRINTF(3, 4);

static void send_line(struct pconn *pc, int status, const char *fmt, ...)
{
    struct http_buf b = {0};
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    for (int i = 0; i < n; i++) /* one line, whatever a host name held */
        if ((unsigned char)line[i] < 0x20)
            line[i] = ' ';
    line[n++] = '\n';
    if (status == 403)
        pc->px->stats.forbidden++;
    if (http_write_response(&b, status, "text/plain; charset=utf-8", (size_t)n, NULL, 0) == 0 &&
        http_buf_append(&b, line, (size_t)n) == 0)
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
    if (on && s == &s->pc->down && s->pc->final_write)
        return;
    if (on) {
        if (uv_read_start((uv_stream_t *)s->tcp, alloc_cb, read_cb) == 0)
            s->reading = 1;
    } else {
        uv_read_stop((uv_stream_t *)s->tcp);
        s->reading = 0;
    }
}

/* Where a side's next bytes go. alloc_cb and read_cb both ask, so bytes are
 * counted in the buffer they were read into, whatever the state. */
enum side_input {
    IN_NONE,    /* nowhere: the side is not to be read now */
    IN_TLS,     /* the side's TLS input buffer */
    IN_REQUEST, /* pc->in: request heads, request bodies, a ClientHello to peek at */
    IN_RAW,     /* s->buf: tunnel bytes, a plain-HTTP response */
};

static enum side_input side_input(const struct pconn *pc, const struct side *s)
{
    if (pc->state == PS_CLOSING)
        return IN_NONE;
    if (s->tls && pc->state != PS_TUNNEL)
        return IN_TLS;
    if (s == &pc->down) {
        if (pc->final_write)
            return IN_NONE;
        switch (pc->state) {
        case PS_REQUEST:
        case PS_LOOKUP:
        case PS_CONNECT:
        case PS_UP_TLS:
        case PS_PEEK:
        case PS_HTTP:
            return IN_REQUEST;
        case PS_TUNNEL:
            return IN_RAW;
        default: /* refused without TLS: the page is on its way, then close */
            return IN_NONE;
        }
    }
    return pc->state == PS_TUNNEL || pc->state == PS_HTTP ? IN_RAW : IN_NONE;
}

/* A raw buffer for s: allocated once, at the buffer_size of that moment. */
static int side_buf_alloc(struct side *s, size_t size)
{
    if (s->buf)
        return 0;
    s->buf = malloc(size);
    s->cap = s->buf ? size : 0;
    s->len = 0;
    return s->buf ? 0 : -1;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pconn *pc = h->data;
    struct side *s = side_of(pc, (uv_stream_t *)h);
    uint8_t *p = NULL;
    size_t cap = 0;

    (void)suggested;
    switch (side_input(pc, s)) {
    case IN_TLS:
        if (tls_conn_input_buffer(s->tls, &p, &cap) < 0)
            cap = 0;
        break;
    case IN_REQUEST:
        if (pc->in_cap - pc->in_len < 1024 && pc->in_cap < 4 * HTTP_DEFAULT_MAX_HEAD) {
            size_t ncap = pc->in_cap ? pc->in_cap * 2 : pc->px->cfg.buffer_size;
            uint8_t *n = realloc(pc->in, ncap);
            if (n) {
                pc->in = n;
                pc->in_cap = ncap;
            }
        }
        p = pc->in + pc->in_len;
        cap = pc->in_cap - pc->in_len;
        break;
    case IN_RAW:
        if (side_buf_alloc(s, pc->px->cfg.buffer_size) == 0) {
            p = s->buf + s->len;
            cap = s->cap - s->len;
        }
        break;
    case IN_NONE:
        break;
    }
    buf->base = (char *)p;
    buf->len = cap; /* 0: libuv reports UV_ENOBUFS and read_cb stops reading */
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
    enum side_input in = side_input(pc, s);

    if (pc->state == PS_CLOSING)
        return;
    if (nread == 0)
        return;
    if (nread == UV_ENOBUFS || (nread > 0 && in == IN_NONE)) {
        side_read(s, 0); /* input full, or nowhere to put it: stop until wanted */
        return;
    }
    if (nread > 0) {
        /* The bytes are where alloc_cb put them: say so, or close. */
        const char *want = in == IN_REQUEST ? (char *)pc->in + pc->in_len
                           : in == IN_RAW   ? (char *)s->buf + s->len
                                            : buf->base;
        size_t room = in == IN_REQUEST ? pc->in_cap - pc->in_len
                      : in == IN_RAW   ? s->cap - s->len
                                       : (size_t)nread;
        if (buf->base != want || (size_t)nread > room) {
            log_warnx("proxy: %s: %zd bytes read into a buffer of another phase: closing",
                      pc->host[0] ? pc->host : "-", nread);
            pc_close(pc);
            return;
        }
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
    if (in == IN_TLS) {
        tls_conn_input_commit(s->tls, (size_t)nread);
        pc_advance(pc);
    } else if (pc->state == PS_TUNNEL) {
        s->len += (size_t)nread;
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
        s->len += (size_t)nread;
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
        size_t size = pc->px->cfg.buffer_size > pc->in_len ? pc->px->cfg.buffer_size : pc->in_len;
        free(pc->down.buf);
        pc->down.buf = NULL;
        if (side_buf_alloc(&pc->down, size) < 0) {
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
        hconnect_tcp_close(pc->up.tcp, handle_closed); /* hconnect frees it */
        pc->up.tcp = NULL;
    }
    pc->state = PS_REFUSED;
    if (pc->kind == KIND_HTTP) {
        struct http_buf b = {0};
        pc->final_write = 1; /* the rest of the request has nowhere to go */
        side_read(&pc->down, 0);
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

/* Write the rest of the refusal page into the refused TLS session, a record at
 * a time as the browser takes it (tls_write_done comes back here through
 * pc_advance), then close_notify, and close once it has all left. */
static void refused_write(struct pconn *pc)
{
    while (pc->page_off < pc->page.len) {
        int w =
            tls_conn_write(pc->down.tls, pc->page.data + pc->page_off, pc->page.len - pc->page_off);
        if (w == TLS_WANT_IO) {
            side_flush(&pc->down);
            if (pc->down.write_busy || pc->state == PS_CLOSING)
                return;
            w = tls_conn_write(pc->down.tls, pc->page.data + pc->page_off,
                               pc->page.len - pc->page_off);
        }
        if (w < 0) { /* TLS_WANT_IO again: output that cannot leave */
            pc_close(pc);
            return;
        }
        pc->page_off += (size_t)w;
        side_flush(&pc->down);
        if (pc->state == PS_CLOSING)
            return;
    }
    if (!pc->page_notified) {
        if (tls_conn_close_notify(pc->down.tls) == TLS_WANT_IO) {
            side_flush(&pc->down);
            if (pc->down.write_busy || pc->state == PS_CLOSING)
                return;
            tls_conn_close_notify(pc->down.tls);
        }
        pc->page_notified = 1;
    }
    side_flush(&pc->down);
    if (pc->state != PS_CLOSING && !pc->down.write_busy && !side_output_pending(&pc->down))
        pc_close(pc);
}

/* Answer the first request inside the refused TLS session with the page. */
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
                const struct tlsa_set *set = tlsa_in_use(pc);
                char **texts = calloc(set->n ? set->n : 1, sizeof *texts);
                size_t nt = 0;
                for (size_t i = 0; texts && i < set->n; i++)
                    if ((texts[nt] = dane_tlsa_to_text(&set->rec[i])) != NULL)
                        nt++;
                struct pages_refusal r = {
                    .host = pc->host,
                    .port = pc->port,
                    .reason = pc->reason,
                    .tlsa = (const char *const *)texts,
                    .n_tlsa = nt,
                    .spki_sha256 = pc->have_spki ? pc->spki : NULL,
                };
                http_buf_reset(&pc->page);
                int rc = pages_refusal_response(&pc->page, &r, 0);
                for (size_t i = 0; i < nt; i++)
                    free(texts[i]);
                free(texts);
                side_read(&pc->down, 0);
                pc->down.read_eof = 1; /* one request, one page, then close */
                if (rc < 0) {
                    pc_close(pc);
                    return;
                }
                pc->page_off = 0;
                refused_write(pc);
                return;
            }
            if (used == 0)
                break;
        }
    }
}

/* --- the state machine's TLS steps ------------------------------------------------ */

/* intercept: all, a host without usable TLSA: the DANE engine's PKIX rules
 * (the path, the name by RFC 6125, serverAuth), not mbedTLS's own name check. */
static int pkix_check(struct pconn *pc, const mbedtls_x509_crt *chain)
{
    struct dane_verdict v;
    dane_pkix_verify(chain, pc->host, &pc->px->trust, time(NULL), &v);
    if (v.result == DANE_RESULT_MATCH)
        return 0;
    snprintf(pc->reason, sizeof pc->reason, "PKIX validation failed: %s", v.reason);
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
        const struct tlsa_set *set = tlsa_in_use(pc);
        dane_verify(set->rec, set->n, chain, pc->host, &pc->px->trust, time(NULL), &v);
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

/* The browser's ClientHello (in pc->in): h2 offered → go on with the site's
 * h2 session; otherwise reconnect to the site offering http/1.1 only, so both
 * legs speak the same protocol (a client without h2 would otherwise fail
 * ALPN, or speak HTTP/1.1 into an h2 session). */
static void peek_hello(struct pconn *pc)
{
    int offers = tls_hello_offers_alpn(pc->in, pc->in_len, "h2");
    if (offers < 0 && pc->in_len < pc->in_cap && pc->in_len < TLS_HELLO_RECORD_MAX) {
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
    hconnect_tcp_close(pc->up.tcp, handle_closed); /* hconnect frees it */
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
            if (rc == TLS_EPEER_REQUIRES_TLS13)
                snprintf(reason, sizeof reason, "upstream requires TLS 1.3");
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
            if (pc->page.len)
                refused_write(pc);
            else if (pc->down.read_eof && !side_output_pending(&pc->down))
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
            /* not DANE-protected: a plain error, nothing minted */
            fail_plain(pc, status == UV_ETIMEDOUT ? 504 : 502, reason);
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

/* Design invariant 3: decide on the addresses that would be connected to,
 * whatever the name (DNS rebinding) or literal that led to them. Some refused:
 * only the others are tried; all refused: 403 naming the first and the key. */
static int destination_allowed(struct pconn *pc)
{
    struct hconnect_refusal why;
    char text[ADDR_TEXT_MAX], msg[256];
    size_t before = pc->n_addrs;

    pc->n_addrs = hconnect_policy_filter(pc->px->dest, pc->addrs, pc->n_addrs, &why);
    if (pc->n_addrs == before)
        return 1;
    addr_format((const struct sockaddr *)&why.addr, text, sizeof text);
    snprintf(msg, sizeof msg, "%s is %s", text,
             why.kind == ADDR_GLOBAL && why.own ? "an address of this machine"
                                                : addr_kind_describe(why.kind));
    if (pc->n_addrs > 0) {
        log_debug("proxy: %s:%u: not connecting to %s (and %zu more); %zu address(es) left",
                  pc->host, pc->port, msg, before - pc->n_addrs - 1, pc->n_addrs);
        return 1;
    }
    log_info("proxy: %s:%u: refused: %s (not in proxy.allow_destinations)", pc->host, pc->port,
             msg);
    refusal_remember(pc->px, pc->host, pc->port, msg);
    send_line(pc, 403, "daneguard: %s; add it to proxy.allow_destinations to allow it", msg);
    return 0;
}

static void start_connect(struct pconn *pc)
{
    if (!destination_allowed(pc))
        return;
    pc->state = PS_CONNECT;
    log_debug("proxy: %s:%u: %s (%s); connecting to %zu address(es)", pc->host, pc->port,
              policy_action_name(pc->decision.action), pc->decision.reason, pc->n_addrs);
    int rc = hconnect_start(pc->px->loop, pc->px->dest, pc->addrs, pc->n_addrs,
                            PROXY_CONNECT_TIMEOUT_MS, connected, pc, &pc->hc);
    if (rc < 0)
        connected(pc, rc, NULL, NULL);
}

/* --- lookups ---------------------------------------------------------------------- */

static void fill_policy_lookup(struct policy_lookup *pl, const struct lookup_result *res)
{
    memset(pl, 0, sizeof *pl);
    pl->timed_out = res->timed_out;
    pl->rcode = res->rcode;
    pl->security = res->security;
}

static const char *security_name(enum dns_security s)
{
    switch (s) {
    case DNS_SECURE:
        return "secure";
    case DNS_INSECURE:
        return "insecure";
    case DNS_BOGUS:
        return "bogus";
    case DNS_INDETERMINATE:
        return "indeterminate";
    }
    return "?";
}

static void log_lookup(struct pconn *pc, const char *what, const struct policy_lookup *pl)
{
    log_debug("proxy: %s:%u: %s: %s, rcode %d, %s, %zu record(s)%s", pc->host, pc->port, what,
              pl->not_started ? "not started"
              : pl->timed_out ? "timed out"
                              : "answered",
              pl->rcode, security_name(pl->security), pl->records,
              pl->cname == POLICY_CNAME_FOLLOWED     ? ", CNAME followed"
              : pl->cname == POLICY_CNAME_UNREADABLE ? ", CNAME unreadable"
                                                     : "");
}

static void lookups_done(struct pconn *pc);

/* An A or AAAA answer: addresses only from an answer that did not fail
 * (secure or insecure, NOERROR), and the CNAME target only from a secure one:
 * the same test the policy applies (policy_lookup_failed). */
static void on_address(struct pconn *pc, const struct lookup_result *res, int is_a)
{
    struct policy_lookup *pl = is_a ? &pc->r_a : &pc->r_aaaa;
    struct sockaddr_storage tmp[PROXY_MAX_ADDRS];
    char target[PROXY_NAME_TEXT_MAX];

    fill_policy_lookup(pl, res);
    pl->records = lookup_addresses(res, 0, tmp, PROXY_MAX_ADDRS);
    int rc = lookup_cname_target(res, target, sizeof target);
    pl->cname = rc == 1   ? POLICY_CNAME_FOLLOWED
                : rc == 0 ? POLICY_CNAME_NONE
                          : POLICY_CNAME_UNREADABLE;
    if (!policy_lookup_failed(pl)) {
        pc->n_addrs +=
            lookup_addresses(res, pc->port, pc->addrs + pc->n_addrs, PROXY_MAX_ADDRS - pc->n_addrs);
        if (rc == 1 && pl->security == DNS_SECURE && !pc->alias[0])
            snprintf(pc->alias, sizeof pc->alias, "%s", target);
    }
    log_lookup(pc, is_a ? "A" : "AAAA", pl);
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
    fill_policy_lookup(&pc->r_tlsa, res);
    pc->r_tlsa.records = lookup_each_rdata(res, DNS_TYPE_TLSA, tlsa_set_add, &pc->tlsa);
    log_lookup(pc, "TLSA", &pc->r_tlsa);
    if (--pc->pending_lookups == 0)
        lookups_done(pc);
}

/* RFC 7671 §7: the TLSA at the secure CNAME chain's target. Whatever it is,
 * the policy decides with it; a failure here refuses like one at the host. */
static void on_target_tlsa(void *arg, const struct lookup_result *res)
{
    struct pconn *pc = arg;
    pc->l_tlsa_alias = NULL;
    fill_policy_lookup(&pc->r_ttlsa, res);
    pc->r_ttlsa.records = lookup_each_rdata(res, DNS_TYPE_TLSA, tlsa_set_add, &pc->ttlsa);
    log_lookup(pc, "TLSA at the CNAME target", &pc->r_ttlsa);
    lookups_done(pc);
}

/* A CONNECT that gets no TLS at all: a plain error status with a one-line
 * text body saying why, and no certificate minted (intercept: dane's
 * contract); the browser shows its own "cannot reach" page. */
static void fail_plain(struct pconn *pc, int status, const char *reason)
{
    struct http_buf b = {0}, body = {0};
    snprintf(pc->reason, sizeof pc->reason, "%s", reason);
    log_verdict(pc, "failed");
    for (char *p = pc->reason; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    if (http_buf_printf(&body, "%s\n", pc->reason) == 0 &&
        http_write_response(&b, status, "text/plain; charset=utf-8", body.len, NULL, 0) == 0 &&
        http_buf_append(&b, body.data, body.len) == 0)
        send_raw(pc, b.data, b.len, close_after_write);
    else
        pc_close(pc);
    http_buf_free(&b);
    http_buf_free(&body);
}

static void lookups_done(struct pconn *pc)
{
    struct policy_input in = {
        .mode = pc->px->cfg.intercept,
        .ip_literal = pc->host_kind != HTTP_HOST_NAME,
        .no_tlsa = pc->kind == KIND_HTTP, /* plain HTTP: only DNSSEC proven wrong refuses */
        .a = pc->r_a,
        .aaaa = pc->r_aaaa,
        .tlsa = pc->r_tlsa,
        .tlsa_usable = dane_tlsa_count_usable(pc->tlsa.rec, pc->tlsa.n),
        .tlsa_overflow = pc->tlsa.overflow,
        .target_tlsa = pc->r_ttlsa,
        .target_tlsa_usable = dane_tlsa_count_usable(pc->ttlsa.rec, pc->ttlsa.n),
        .target_tlsa_overflow = pc->ttlsa.overflow,
    };

    if (!pc->target_asked && policy_wants_target(&in)) {
        char name[PROXY_NAME_TEXT_MAX + 32];
        int rc = LOOKUP_EBADNAME;
        pc->target_asked = 1;
        if (pc->alias[0] &&
            (size_t)snprintf(name, sizeof name, "_%u._tcp.%s", pc->port, pc->alias) < sizeof name)
            rc = lookup_start(pc->px->resolver, name, DNS_TYPE_TLSA, on_target_tlsa, pc,
                              &pc->l_tlsa_alias);
        if (rc == 0) {
            log_debug("proxy: %s:%u: CNAME target %s: looking up its TLSA", pc->host, pc->port,
                      pc->alias);
            return;
        }
        /* Fail closed: a lookup that cannot run is not "no TLSA" there. */
        pc->r_ttlsa = (struct policy_lookup){.not_started = 1, .security = DNS_INDETERMINATE};
        log_lookup(pc, "TLSA at the CNAME target", &pc->r_ttlsa);
        in.target_tlsa = pc->r_ttlsa;
    }
    policy_decide(&in, &pc->decision);
    if (pc->decision.action == POLICY_FAIL) {
        fail_plain(pc, pc->decision.status, pc->decision.reason);
        return;
    }
    if (pc->decision.action == POLICY_REFUSE) {
        refuse(pc, pc->decision.reason);
        return;
    }
    start_connect(pc);
}

/* Forget a previous request's lookups (keep-alive). */
static void lookups_reset(struct pconn *pc)
{
    tlsa_set_clear(&pc->tlsa);
    tlsa_set_clear(&pc->ttlsa);
    pc->n_addrs = 0;
    pc->alias[0] = '\0';
    pc->target_asked = 0;
    memset(&pc->r_a, 0, sizeof pc->r_a);
    memset(&pc->r_aaaa, 0, sizeof pc->r_aaaa);
    memset(&pc->r_tlsa, 0, sizeof pc->r_tlsa);
    memset(&pc->r_ttlsa, 0, sizeof pc->r_ttlsa);
    memset(&pc->decision, 0, sizeof pc->decision);
}

/* Lookups in flight for the client's other connections. */
static unsigned client_lookups(const struct pconn *pc)
{
    unsigned n = 0;
    for (const struct pconn *c = pc->px->conns; c; c = c->next)
        if (c != pc && c->client == pc->client && c->state == PS_LOOKUP)
            n += (c->l_a != NULL) + (c->l_aaaa != NULL) + (c->l_tlsa != NULL) +
                 (c->l_tlsa_alias != NULL);
    return n;
}

/* proxy.max_lookups_per_client: one client cannot take the resolver's
 * lookups in flight from the others. Over it: 503, nothing looked up,
 * nothing connected (fail closed), no certificate minted. */
static int client_lookups_allowed(struct pconn *pc)
{
    struct proxy *px = pc->px;
    unsigned want = pc->kind == KIND_CONNECT ? 3 : 2, have;
    /* a client with none in flight may always start one connection's */
    if (!pc->client || (have = client_lookups(pc)) == 0 ||
        have + want <= px->cfg.max_lookups_per_client)
        return 1;
    if (client_log_due(pc->client, uv_now(px->loop), 1000))
        log_info("proxy: client %s has %u DNS lookups in flight (max_lookups_per_client %u): "
                 "answering 503",
                 client_text(pc->client), have, px->cfg.max_lookups_per_client);
    send_line(pc, 503,
              "daneguard: this client has too many DNS lookups in flight; "
              "wait, or raise proxy.max_lookups_per_client");
    return 0;
}

static void start_lookups(struct pconn *pc)
{
    struct proxy *px = pc->px;
    char name[HTTP_MAX_HOST + 32];

    pc->state = PS_LOOKUP;
    timer_set(pc, px->cfg.handshake_timeout_ms);
    /* A name that inet_aton would read as an IPv4 address (0x7f000001,
     * 127.1) is one: that is what a browser would connect to. */
    if (pc->host_kind == HTTP_HOST_NAME &&
        addr_parse_ipv4_loose(pc->host, pc->port, &pc->addrs[0]) == 0)
        pc->host_kind = HTTP_HOST_IPV4;
    if (pc->host_kind != HTTP_HOST_NAME) {
        if ((pc->host_kind == HTTP_HOST_IPV4 &&
             addr_parse_ipv4_loose(pc->host, pc->port, &pc->addrs[0]) < 0) ||
            (pc->host_kind == HTTP_HOST_IPV6 &&
             addr_parse(pc->host, pc->port, &pc->addrs[0]) < 0)) {
            send_error(pc, 400, "not a valid IP address");
            return;
        }
        pc->n_addrs = 1;
        lookups_done(pc);
        return;
    }
    if (!client_lookups_allowed(pc))
        return;
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
        upstream_abandon(pc);
        send_error(pc, 400, "not a valid host name");
    } else if (rc < 0) {
        /* Fail closed: a lookup that cannot run is not "no TLSA". None of
         * them ran, so there is no DNSSEC state to show a page for. */
        upstream_abandon(pc);
        struct policy_lookup none = {.not_started = 1, .security = DNS_INDETERMINATE};
        pc->r_a = pc->r_aaaa = pc->r_tlsa = none;
        lookups_done(pc);
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
    /* A response to HEAD has no body whatever its Content-Length says: read as
     * one, an origin's next bytes would reach the client as its next response. */
    http_reader_set_request_method(pc->resp_reader, pc->req_method);
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
    /* Until the final response ends, or the bytes run out. A message without
     * a body (HEAD, 1xx, 204, 304) ends with its head: its END comes from one
     * more feed, with nothing left to consume. */
    while (!ended) {
        size_t used = 0;
        if (http_reader_feed(pc->resp_reader, (char *)pc->up.buf + off, pc->up.len - off, &used,
                             &ev) < 0) {
            log_debug("proxy: %s: bad response from the site", pc->host);
            pc_close(pc);
            http_buf_free(&out);
            return;
        }
        const struct http_head *h = http_reader_head(pc->resp_reader);
        int interim = h && h->status >= 100 && h->status < 200 && h->status != 101;
        if (ev == HTTP_EV_HEAD) {
            if (interim) {
                /* pass it on as is; HTTP/1.0 clients do not get 1xx (RFC 9110 §15.2) */
                if (pc->client_minor >= 1)
                    http_buf_append(&out, pc->up.buf + off, used);
            } else {
                int ka = pc->keep_alive && h->keep_alive;
                pc->keep_alive = ka;
                http_response_write_downstream(h, pc->client_minor, ka, &out);
            }
        } else if (ev == HTTP_EV_BODY || ev == HTTP_EV_END) {
            /* (NEED_MORE's bytes are part of a head the reader keeps) */
            http_buf_append(&out, pc->up.buf + off, used);
            if (ev == HTTP_EV_END && !interim)
                ended = 1; /* what follows from the site is dropped with it */
        }
        off += used;
        if (used == 0 && ev == HTTP_EV_NEED_MORE)
            break;
    }
    pc->up.len = 0;
    side_read(&pc->up, 0);
    if (ended) {
        /* The response is complete: drop the site, go on with the client. */
        hconnect_tcp_close(pc->up.tcp, handle_closed); /* hconnect frees it */
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
        pages_onboarding_html(&body, px->self, ca_fingerprint_sha256(px->ca));
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

/* proxy.http_ports: the plain-HTTP counterpart of allowed_ports. */
static int http_port_allowed(struct proxy *px, uint16_t port)
{
    for (size_t i = 0; i < px->cfg.n_http_ports; i++)
        if (px->cfg.http_ports[i].lo <= port && port <= px->cfg.http_ports[i].hi)
            return 1;
    return 0;
}

static void request_head(struct pconn *pc, const struct http_head *h)
{
    struct proxy *px = pc->px;
    waiting_del(pc);
    pc->keep_alive = h->keep_alive;
    pc->client_minor = h->version_minor;
    pc->req_method = h->method;
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
        if (is_own_address(pc)) {
            log_info("proxy: %s:%u: CONNECT to daneguard itself refused", pc->host, pc->port);
            send_line(pc, 403, "daneguard: a CONNECT to daneguard itself is not allowed");
            return;
        }
        if (!port_allowed(px, pc->port)) {
            log_info("proxy: %s:%u: forbidden port (not in proxy.allowed_ports)", pc->host,
                     pc->port);
            send_line(pc, 403,
                      "daneguard: CONNECT to port %u is not allowed; add it to "
                      "proxy.allowed_ports to allow it",
                      pc->port);
            return;
        }
        side_read(&pc->down, 0); /* the next bytes belong to the tunnel or TLS */
        start_lookups(pc);
        return;
    }
    /* Absolute URI: plain HTTP. */
    pc->kind = KIND_HTTP;
    if (!http_port_allowed(px, pc->port)) {
        log_info("proxy: %s:%u: forbidden port (not in proxy.http_ports)", pc->host, pc->port);
        send_line(pc, 403,
                  "daneguard: plain HTTP to port %u is not allowed; add it to "
                  "proxy.http_ports to allow it",
                  pc->port);
        return;
    }
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
    lookups_reset(pc);
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

/* proxy.max_connections_per_client, for a connection just accepted from an
 * allowed client: past the limit the client's own connection that has waited
 * longest for a request head makes room (as at max_connections, so a
 * browser's idle keep-alive pool does not lock it out), else the new one is
 * closed at once. Either way other clients keep their connections. Returns 0
 * when pc was closed. */
static int per_client_limit_ok(struct pconn *pc)
{
    struct proxy *px = pc->px;
    struct pconn *old;
    int log_it;

    pc->client = clients_ref(px->clients, (const struct sockaddr *)&pc->peer);
    if (!pc->client) {
        pc_close(pc);
        return 0;
    }
    if (client_refs(pc->client) <= px->cfg.max_connections_per_client)
        return 1;
    for (old = px->waiting_head; old && old->client != pc->client; old = old->wnext)
        ;
    log_it = client_log_due(pc->client, uv_now(px->loop), 1000);
    if (old) {
        if (log_it)
            log_info("proxy: client %s reached max_connections_per_client (%u): closing its "
                     "longest idle connections",
                     client_text(pc->client), px->cfg.max_connections_per_client);
        pc_close(old);
        return 1;
    }
    if (log_it)
        log_info("proxy: client %s reached max_connections_per_client (%u): closing its new "
                 "connections",
                 client_text(pc->client), px->cfg.max_connections_per_client);
    pc_close(pc);
    return 0;
}

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
    if (!addr_cidr_match(px->cfg.allow, px->cfg.n_allow, (struct sockaddr *)&pc->peer)) {
        if (px->stats.conns_open > px->cfg.max_connections)
            pc_close(pc); /* not even a 403 when full */
        else
            send_error(pc, 403, "this client is not allowed to use daneguard");
        return;
    }
    if (!per_client_limit_ok(pc))
        return;
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

/* The line an operator compares with the onboarding page (fetched over plain HTTP). */
static void log_ca(const struct ca *ca)
{
    log_info("proxy: CA certificate %s: SHA-256 fingerprint %s", ca_cert_path(ca),
             ca_fingerprint_sha256(ca));
}

/* The trust store file as an mbedTLS list. 0, or -1 with why in err. */
static int trust_load(mbedtls_x509_crt *trust, const char *path, char *err, size_t errlen)
{
    int rc = mbedtls_x509_crt_parse_file(trust, path);
    if (rc < 0) {
        snprintf(err, errlen, "trust_store %s: cannot read any certificate (mbedTLS -0x%04x)", path,
                 (unsigned)-rc);
        return -1;
    }
    return 0;
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
    px->resolver = resolver_ref(r);
    px->started = time(NULL);
    mbedtls_x509_crt_init(&px->trust);
    self_address(px);
    px->clients = clients_new();
    px->dest = hconnect_policy_new(cfg->proxy.allow_destinations, cfg->proxy.n_allow_destinations);
    if (!px->clients || !px->dest) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    log_info("proxy: not connecting to local addresses (%zu of this machine's) but for "
             "%zu network(s) in allow_destinations",
             hconnect_policy_own_count(px->dest), cfg->proxy.n_allow_destinations);

    struct ca_config cc = {.cache_entries = cfg->proxy.cert_cache_entries};
    if (ca_open(cfg->proxy.ca_dir, &cc, time(NULL), &px->ca, err, errlen) < 0)
        goto fail;
    if (ca_created(px->ca))
        log_info("proxy: created a new local CA in %s (install %s in browsers)", cfg->proxy.ca_dir,
                 ca_cert_path(px->ca));
    log_ca(px->ca);
    int rc;
    if (trust_load(&px->trust, cfg->proxy.trust_store, err, errlen) < 0)
        goto fail;
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

int proxy_reconfigure(struct proxy *px, const struct config *cfg, struct resolver *r, char *err,
                      size_t errlen)
{
    const struct config_proxy *n = &cfg->proxy;
    struct config_sockaddr listen[CONFIG_MAX_ADDRS];
    size_t n_listen = px->cfg.n_listen;
    mbedtls_x509_crt trust;
    struct ca *ca = NULL;
    char why[512];

    /* Everything that can fail first, so a failure changes nothing. */
    mbedtls_x509_crt_init(&trust);
    if (trust_load(&trust, n->trust_store, why, sizeof why) < 0) {
        snprintf(err, errlen, "proxy.%s", why);
        mbedtls_x509_crt_free(&trust);
        return -1;
    }
    if (strcmp(n->ca_dir, px->cfg.ca_dir) != 0) {
        struct ca_config cc = {.cache_entries = n->cert_cache_entries};
        if (ca_open(n->ca_dir, &cc, time(NULL), &ca, why, sizeof why) < 0) {
            snprintf(err, errlen, "proxy.ca_dir %s: %s", n->ca_dir, why);
            mbedtls_x509_crt_free(&trust);
            return -1;
        }
    }

    /* Commit. Connections keep the certificates they hold (reference counts). */
    uint32_t cache_entries = n->cert_cache_entries;
    mbedtls_x509_crt_free(&px->trust);
    px->trust = trust;
    if (ca) {
        log_info("proxy: reload: CA now in %s%s", n->ca_dir,
                 ca_created(ca) ? " (a new CA: install it in browsers)" : "");
        ca_close(px->ca);
        px->ca = ca;
        log_ca(ca);
    } else if (n->cert_cache_entries != px->cfg.cert_cache_entries &&
               ca_cache_resize(px->ca, n->cert_cache_entries) < 0) {
        log_warnx("proxy: reload: cert_cache_entries %u: out of memory, keeping %u",
                  n->cert_cache_entries, px->cfg.cert_cache_entries);
        cache_entries = px->cfg.cert_cache_entries;
    }
    if (n->n_listen != px->cfg.n_listen ||
        memcmp(n->listen, px->cfg.listen, n->n_listen * sizeof n->listen[0]) != 0)
        log_warnx("reload: proxy.listen_addresses changed; restart daneguard to rebind");
    memcpy(listen, px->cfg.listen, sizeof listen);
    px->cfg = *n;
    memcpy(px->cfg.listen, listen, sizeof listen); /* listeners stay as bound */
    px->cfg.n_listen = n_listen;
    px->cfg.cert_cache_entries = cache_entries;
    /* Lookups in flight keep the resolver they started on (a reference each);
     * the requests from now on use r. */
    resolver_unref(px->resolver);
    px->resolver = resolver_ref(r);
    /* allow_destinations, and this machine's addresses read again */
    struct hconnect_policy *dest =
        hconnect_policy_new(cfg->proxy.allow_destinations, cfg->proxy.n_allow_destinations);
    if (dest) {
        hconnect_policy_free(px->dest);
        px->dest = dest;
    } else {
        log_warnx("proxy: out of memory: allow_destinations and this machine's addresses "
                  "are the ones before the reload");
    }

    /* A client the new allow list leaves out keeps nothing open. */
    size_t dropped = 0;
    for (struct pconn *pc = px->conns, *next; pc; pc = next) {
        next = pc->next;
        if (!addr_cidr_match(px->cfg.allow, px->cfg.n_allow, (struct sockaddr *)&pc->peer)) {
            pc_close(pc);
            dropped++;
        }
    }
    if (dropped)
        log_info("proxy: reload: closed %zu connection(s) from clients no longer in allow",
                 dropped);
    return 0;
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
    hconnect_policy_free(px->dest);
    px->dest = NULL;
    clients_free(px->clients); /* every connection let its entry go in pc_close */
    px->clients = NULL;
    resolver_unref(px->resolver);
    px->resolver = NULL;
    for (size_t i = 0; i < px->n_listeners; i++)
        uv_close((uv_handle_t *)&px->listeners[i], listener_closed);
    if (px->handles_open == 0 && px->pconns_alive == 0)
        free(px);
}

void proxy_get_stats(const struct proxy *px, struct proxy_stats *st)
{
    *st = px->stats;
}
