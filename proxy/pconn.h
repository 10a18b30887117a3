/* proxy/pconn.h — private to proxy/: the proxy, its connections, and what the
 * files that handle a connection's phases share. Nothing outside proxy/
 * includes it (include/proxy.h is the public face).
 *
 * A connection goes through phases, each in one file:
 *
 *   listener.c   accept: allow, the connection limits, eviction of the idle
 *   request.c    request   read a head (own pages: status.c; CONNECT; absolute URI)
 *                lookup    A, AAAA and TLSA in parallel → policy_decide()
 *                connect   happy eyeballs to the addresses allowed (connect.c)
 *   intercept.c  up_tls    our TLS handshake with the site, then dane.c's verdict
 *                peek      "200" sent: the browser's ClientHello, does it offer h2?
 *                down_tls  the browser's handshake with a minted certificate
 *                refused   TLS with the browser, its first request answered 502
 *   relay.c      relay     plaintext both ways, one write in flight per direction
 *                tunnel    "200", then bytes both ways untouched
 *   forward.c    http      plain HTTP: one request upstream and its response back
 *   pconn.c      what every phase uses: the timer, reading and writing a side,
 *                our own responses, and the one way out, pc_close(pc, reason)
 *
 * Behaviour is chosen by callback, never by testing a state: a phase installs
 * the libuv alloc/read pair of each side it reads (side_set_reader(), as
 * relayd swaps bev->readcb), and pc->phase names what TLS progress and a
 * timeout mean while it lasts (struct pc_phase).
 *
 * Backpressure: a side is read only while the other side has no write in
 * flight, so a slow reader slows the writer and nothing buffers without bound.
 *
 * Handles: a connection owns its client's TCP handle and its timer (embedded),
 * and the site's TCP handle once hconnect hands it over; each is closed in one
 * place (side_release(), pc_close()), and the struct is freed when libuv has
 * released the last of them.
 */
#ifndef DANEGUARD_PROXY_PCONN_H
#define DANEGUARD_PROXY_PCONN_H

#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <uv.h>

#include <mbedtls/x509_crt.h>

#include "ca.h"
#include "clients.h"
#include "config.h"
#include "connect.h"
#include "dane.h"
#include "http.h"
#include "inject.h"
#include "log.h"
#include "lookup.h"
#include "pages.h"
#include "policy.h"
#include "proxy.h"
#include "resolver.h"
#include "tls.h"

#define PROXY_MAX_LISTENERS CONFIG_MAX_ADDRS
/* TLSA records are kept as many as come (no count cap that could drop a usable
 * one), up to this much memory per set; beyond it the CONNECT is refused. One
 * DNS message holds less, so only a bug or a hostile resolver reaches it. */
#define PROXY_TLSA_MAX_BYTES (256 * 1024)
#define PROXY_NAME_TEXT_MAX 1024 /* a wire name as text, escapes included */
#define PROXY_MAX_ADDRS 16
/* The status page's lists: DANE and DNSSEC events in a longer one than the
 * ordinary errors, so a browser's background noise cannot push a real
 * refusal out within seconds. */
#define PROXY_RECENT_REFUSALS 200
#define PROXY_RECENT_ERRORS 20
#define PROXY_CONNECT_TIMEOUT_MS 10000
/* A burst of browsers (or a flood) waits in the kernel rather than in SYN-ACK
 * retransmits; the kernel caps it at net.core.somaxconn. */
#define PROXY_LISTEN_BACKLOG 4096
/* The client's bytes before they are understood (request heads, a request
 * body on its way, a ClientHello to peek at): the buffer starts at
 * buffer_size, doubles while less than PROXY_IN_MIN_ROOM is free, up to
 * PROXY_IN_MAX. */
#define PROXY_IN_MAX (4 * HTTP_DEFAULT_MAX_HEAD)
#define PROXY_IN_MIN_ROOM 1024
/* "limit reached" lines: at most one per this many milliseconds (per client
 * for the per-client limits). */
#define PROXY_LOG_INTERVAL_MS 1000
/* Resumable TLS sessions kept, towards sites and for browsers. */
#define PROXY_TLS_SESSIONS 1024

/* What the client asked for. */
enum pc_kind {
    PC_KIND_CONNECT, /* CONNECT host:port: a tunnel, intercepted or not */
    PC_KIND_HTTP,    /* an absolute URI: one plain-HTTP request forwarded */
};

struct pconn;

/* How a phase reads a side: the pair it hands to uv_read_start(). The two
 * always belong together, so bytes are counted in the buffer they were read
 * into. */
struct side_reader {
    uv_alloc_cb alloc;
    uv_read_cb read;
};

/* One end of a connection: the browser (pc->down) or the site (pc->up). */
struct side {
    struct pconn *pc;
    uv_tcp_t *tcp;                    /* NULL when there is none (yet, or any more) */
    struct tls_conn *tls;             /* when this side speaks TLS with us */
    const struct side_reader *reader; /* the phase's; NULL: this side is read no more */
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

/* What a phase means while it lasts. The readers are per side (struct side_reader). */
struct pc_phase {
    const char *name; /* for log lines: "lookup", "relay", ... */
    /* TLS progress: input arrived or output left (pc_advance()). NULL: none expected. */
    void (*step)(struct pconn *pc);
    /* The site's connection failed (a read or write error). NULL: close. */
    void (*site_failed)(struct pconn *pc, int status);
    /* Non-NULL: the phase waits for the site, and its timeout (handshake_timeout)
     * is a refusal saying "timed out <site_wait>"; NULL: a timeout closes. */
    const char *site_wait;
    int idle; /* bytes flowing restart the timer (idle_timeout) */
};

/* The TLSA records of one RRset, grown as they come. */
struct tlsa_set {
    struct dane_tlsa *rec;
    size_t n, cap;
    size_t bytes; /* memory held, bounded by PROXY_TLSA_MAX_BYTES */
    int overflow; /* a record could not be kept: the set is incomplete */
};

/* A CONNECT that proxy.exceptions let through without DANE (status page). */
struct exception_use {
    time_t when;
    char host[HTTP_MAX_HOST + 1];
    uint16_t port;
    char client[64];
    char pattern[CONFIG_HOST_MAX];
};

struct refusal {
    time_t when;
    char host[HTTP_MAX_HOST + 1];
    uint16_t port;
    char reason[256];
    enum pages_class cls;
};

/* A ring of the most recent events, newest at next - 1. */
struct refusal_ring {
    struct refusal *e; /* cap entries, owned by the struct proxy */
    size_t cap, n, next;
};

/* One minute of the status page's chart (see status.c). */
struct status_minute {
    int64_t minute; /* time / 60 */
    struct pages_minute m;
};

/* What the status page counts and lists (status.c). */
struct status_events {
    uint64_t by_class[PAGES_CLASSES];
    struct refusal refusals_store[PROXY_RECENT_REFUSALS];
    struct refusal errors_store[PROXY_RECENT_ERRORS];
    struct refusal_ring refusals, errors;
    struct status_minute minutes[PAGES_CHART_MINUTES];
    uint64_t queries_seen; /* the resolver's query counter at the last tick */
};

struct proxy {
    uv_loop_t *loop;
    struct config_proxy cfg;
    struct resolver *resolver; /* one reference (resolver_ref) */
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
    uint64_t disallowed_logged; /* ... and of the last "not in proxy.allow" line */
    struct proxy_stats stats;
    struct status_events events;
    struct exception_use exception_uses[PROXY_RECENT_ERRORS];
    size_t n_exception_uses, exception_uses_next;
    char self[64]; /* "127.0.0.1:8080": for the PAC file and onboarding page */
    char exe_path[PATH_MAX];    /* the running binary, for the refusal page's command */
    char config_path[PATH_MAX]; /* the running configuration, absolute ("" unknown) */
    time_t started;
    struct hconnect_policy *dest; /* where connections may go (allow_destinations) */
    struct clients *clients;      /* open connections per client address */
    uint8_t scratch[TLS_RECORD_MAX];
};

/* One browser connection, its fields grouped by the phase that owns them
 * (as h2o's st_connect_generator_t). */
struct pconn {
    struct proxy *px;
    const struct pc_phase *phase;
    int closing;      /* pc_close() ran: only libuv's callbacks are left */
    unsigned handles; /* open libuv handles */
    struct pconn *next, *prev;
    uv_tcp_t client_tcp;
    uv_timer_t timer;
    uint32_t timer_ms; /* what it was last set to (for the close reason) */
    struct side down;  /* the browser */
    struct side up;    /* the site */

    struct { /* listener.c */
        struct sockaddr_storage peer;
        struct client *client;       /* px->clients' entry of peer: one reference */
        struct pconn *wnext, *wprev; /* px->waiting_* list */
        int waiting;                 /* on that list */
    } conn;

    struct { /* request.c: the request being served */
        enum pc_kind kind;
        struct http_reader *reader;
        uint8_t *in; /* client bytes not yet consumed by the reader */
        size_t in_len, in_cap;
        int head_timer; /* the timer bounds the request head (handshake_timeout) */
        int keep_alive;
        int client_minor;
        int method; /* enum http_method of <http_parser.h> */
        char host[HTTP_MAX_HOST + 1];
        enum http_host_kind host_kind;
        uint16_t port;
    } req;

    struct {                       /* request.c: the lookups, and connecting */
        struct resolver *resolver; /* the request's (a reference): a reload does not move it */
        struct lookup *a, *aaaa, *tlsa, *target_tlsa;
        int pending;
        struct policy_lookup r_a, r_aaaa, r_tlsa, r_target_tlsa;
        struct sockaddr_storage addrs[PROXY_MAX_ADDRS];
        size_t n_addrs;
        struct tlsa_set tlsa_set;        /* at _port._tcp.host */
        struct tlsa_set target_tlsa_set; /* at _port._tcp.<CNAME target> (RFC 7671 §7) */
        char alias[PROXY_NAME_TEXT_MAX]; /* the secure CNAME chain's final target */
        int target_asked;                /* the TLSA lookup at alias has been started */
        struct hconnect *hc;
    } lookup;

    struct { /* request.c and intercept.c: what was decided, and why */
        struct policy_decision decision;
        char reason[DANE_REASON_MAX + 128];
        uint8_t spki[32];
        int have_spki;
        enum pages_class cls; /* a refusal's class, for its page */
        char exception[CONFIG_HOST_MAX]; /* the proxy.exceptions entry the host
                                            matched ("" none): no DANE */
    } verdict;

    struct { /* intercept.c */
        struct ca_cert *cert;
        int sent_200;         /* the CONNECT has been answered */
        int h1_only;          /* upstream again, offering http/1.1 only */
        struct http_buf page; /* refused: the page, written a record at a time */
        size_t page_off;      /* how much of it is written */
        int page_notified;    /* close_notify queued after it */
        /* the daneguard-dane header (inject.h): its value, set by the verdict
         * ("" for none), and the filter on the site's plaintext with its output
         * not yet taken by the browser's TLS session */
        char dane_header[INJECT_VALUE_MAX];
        struct inject inject;
        struct http_buf inject_out;
        size_t inject_off;
    } icpt;

    struct {                      /* forward.c: plain HTTP */
        struct http_buf head;     /* the request head to send */
        int request_done;         /* the request body has all been read */
        struct http_reader *resp; /* the site's responses */
    } fwd;
};

/* ---- pconn.c: life, timer, our own responses ---------------------------------- */

/* The side a handle of pc belongs to. */
static inline struct side *pc_side_of(struct pconn *pc, const uv_handle_t *h)
{
    return h == (const uv_handle_t *)&pc->client_tcp ? &pc->down : &pc->up;
}

/* The client's address without a port ("127.0.0.2"), for log lines. */
static inline const char *pc_client_text(const struct pconn *pc)
{
    return client_text(pc->conn.client);
}

/* Free a set's records and empty it. */
void tlsa_set_clear(struct tlsa_set *set);

extern const struct pc_phase pc_phase_respond; /* our own response is on its way */

/* A connection for px, its client handle and timer initialised and linked
 * into px->conns, in phase "accept"; NULL when out of memory. */
struct pconn *pc_new(struct proxy *px);

/* The one way a connection ends: logs host, client and reason at debug level,
 * stops what is under way towards the site, releases both sides and the
 * timer. reason is a static or caller's string, used only during the call.
 * Later calls do nothing. */
void pc_close(struct pconn *pc, const char *reason);

/* Enter phase (what TLS progress, failures and a timeout mean from now on). */
void pc_enter(struct pconn *pc, const struct pc_phase *phase);

/* (Re)start the connection's one timer: ms from now, then every ms. */
void pc_timer_set(struct pconn *pc, uint32_t ms);

/* TLS input arrived or output left: the phase's step, if any. */
void pc_advance(struct pconn *pc);

/* Write a copy of data to the client; then (may be NULL) runs once it has
 * left, unless the connection closed meanwhile. A failure closes. */
void pc_write(struct pconn *pc, const void *data, size_t len, void (*then)(struct pconn *pc));

/* A `then` for pc_write(): the response was the last one. */
void pc_close_after_write(struct pconn *pc);

/* A write of a copy of our own bytes. */
struct pc_write_req {
    uv_write_t req; /* first: done's argument is this */
    struct pconn *pc;
    void (*then)(struct pconn *pc);
    char data[];
};

/* Write a copy of data to side s; done gets the struct pc_write_req (with pc
 * and then) and frees it. 0, or -1 when nothing was written (done never runs). */
int pc_write_copy(struct pconn *pc, struct side *s, const void *data, size_t len, uv_write_cb done,
                  void (*then)(struct pconn *pc));

/* The next response is the connection's last: the respond phase, and nothing
 * more is read from the client (its bytes would have no buffer to go to). */
void pc_respond_last(struct pconn *pc);

/* The connection's last response: nothing more is read from the client, and
 * it closes once this has left. An error page of http_write_error(). */
void pc_send_error(struct pconn *pc, int status, const char *detail);

/* The same with a text/plain body of one line, "daneguard: ...", for refusals
 * a script may read (which address, which key). */
void pc_send_line(struct pconn *pc, int status, const char *fmt, ...) LOG_PRINTF(3, 4);

/* "proxy: host:port: what: pc->verdict.reason" at info level. */
void pc_log_verdict(struct pconn *pc, const char *what);

/* ---- pconn.c: sides ------------------------------------------------------------ */

/* Install the phase's reader on s (NULL: read nothing more); reading goes on
 * (with the new pair) if it was on. */
void side_set_reader(struct side *s, const struct side_reader *reader);

/* Start (with s->reader) or stop reading s. */
void side_read(struct side *s, int on);

/* Let go of s: stop reading it, close its handle (the one place a side's
 * handle is closed), free its TLS session and forget its I/O state. */
void side_release(struct side *s);

/* What every reader does first with nread. Returns 0 when the reader has
 * nothing more to do (closed, nothing read, or no room: reading stops);
 * else 1, with read_eof set when nread < 0. Traffic in an idle phase
 * restarts the timer. */
int side_read_begin(struct side *s, ssize_t nread);

/* A read or write on s failed with status: the phase's site_failed for the
 * site's side, else close. */
void side_failed(struct side *s, int status);

/* s's read ended (nread: UV_EOF or an error) and the phase has no use for the
 * end: close, saying which side ended it. */
void side_ended(struct side *s, ssize_t nread);

/* Start writing s's pending TLS output unless a write is in flight. */
void side_flush(struct side *s);

/* TLS output waiting or in flight on s. */
int side_output_pending(struct side *s);

/* A raw buffer for s (s->buf): allocated once, size bytes. 0 or -1. */
int side_buf_alloc(struct side *s, size_t size);

/* An alloc_cb for the client's bytes before they are understood (pc->req.in,
 * grown up to PROXY_IN_MAX): request heads and bodies, a ClientHello. */
void pc_in_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* The reader of a TLS side: ciphertext into the TLS engine, then pc_advance(). */
extern const struct side_reader side_tls_reader;

/* ---- listener.c --------------------------------------------------------------- */

/* Bind and listen on every cfg->listen address (and set px->self). 0, or -1
 * with why in err. */
int listener_open(struct proxy *px, const struct config_proxy *cfg, char *err, size_t errlen);

/* Close every listener (px is freed with the last of them and of its connections). */
void listener_close_all(struct proxy *px);

/* The list of connections waiting for a request head, oldest first. */
void listener_waiting_add(struct pconn *pc);
void listener_waiting_del(struct pconn *pc);

/* Whether pc's request names daneguard itself (a listen address and port,
 * localhost, or one of this machine's addresses for a wildcard listener). */
int listener_is_own_address(struct pconn *pc);

/* ---- request.c ----------------------------------------------------------------- */

/* The first request of a connection just accepted: read its head. */
void request_first(struct pconn *pc);

/* The next request on a keep-alive connection (a `then` for pc_write()). */
void request_next(struct pconn *pc);

/* Stop what is under way towards the site: lookups and connects. */
void request_abandon(struct pconn *pc);

/* Connect to the addresses looked up (again, for a second handshake). */
void request_connect(struct pconn *pc);

/* The TLSA records the decision rests on: the CNAME target's or the host's. */
const struct tlsa_set *request_tlsa(const struct pconn *pc);

/* What the policy decides on: the request and its lookups' results so far. */
void request_policy_input(const struct pconn *pc, struct policy_input *in);

/* ---- intercept.c ---------------------------------------------------------------- */

/* Connected to the site: our TLS handshake with it, the verdict, then the
 * browser's handshake (or the refusal). */
void intercept_start(struct pconn *pc);

/* Refuse: one log line, remembered for the status page, and the page: inside
 * TLS for a CONNECT, as a plain 502 for plain HTTP. The site is let go. */
void intercept_refuse(struct pconn *pc, enum pages_class cls, const char *reason);

/* ---- relay.c --------------------------------------------------------------------- */

/* Both handshakes done: plaintext between the two TLS sessions. */
void relay_tls_start(struct pconn *pc);

/* "200" sent for a tunnel: bytes both ways untouched (a `then` for pc_write()). */
void relay_tunnel_start(struct pconn *pc);

/* ---- forward.c ------------------------------------------------------------------- */

/* A plain-HTTP request's head is read: its body waits in pc->req.in (read up to
 * PROXY_IN_MAX) while the site is looked up and connected to. */
void forward_hold_body(struct pconn *pc);

/* Connected to the site: send the request, pass the response back. */
void forward_start(struct pconn *pc);

/* ---- metrics.c ------------------------------------------------------------------- */

/* Append /metrics as of now: the Prometheus text exposition format. */
void metrics_write(const struct proxy *px, time_t now, struct http_buf *b);

/* ---- status.c --------------------------------------------------------------------- */

/* Count an event of class cls and keep it for the status page: DANE and
 * DNSSEC events among the last PROXY_RECENT_REFUSALS, ordinary errors among
 * the last PROXY_RECENT_ERRORS. */
void status_event_add(struct proxy *px, enum pages_class cls, const char *host, uint16_t port,
                      const char *reason);

/* Keep a use of proxy.exceptions for the status page (the last PROXY_RECENT_ERRORS). */
void status_exception_use_add(struct proxy *px, const struct pconn *pc);

/* One more proxy request, for the chart. */
void status_request_seen(struct proxy *px);

/* The status page's input as of now: the proxy's, the resolver's and the CA's
 * counters, and the event lists (newest first, borrowing px's strings; recent
 * holds PROXY_RECENT_REFUSALS entries, errors PROXY_RECENT_ERRORS). */
struct status_scratch {
    struct pages_refusal_entry recent[PROXY_RECENT_REFUSALS];
    struct pages_refusal_entry errors[PROXY_RECENT_ERRORS];
    struct pages_upstream upstreams[CONFIG_MAX_ADDRS];
    struct upstream_server_info servers[CONFIG_MAX_ADDRS];
    char health[CONFIG_MAX_ADDRS][96];
    struct pages_minute minutes[PAGES_CHART_MINUTES];
    char notes[4096]; /* the resolver's notes */
    const char *ex_hosts[CONFIG_MAX_EXCEPTIONS];
    struct pages_exception_use ex_recent[PROXY_RECENT_ERRORS];
};
void status_gather(struct proxy *px, time_t now, struct pages_status *st,
                   struct status_scratch *scratch);

/* A refusal page for pc's request (its host and port, the proxy's command
 * paths filled in); the caller adds what the class needs. */
void status_refusal_init(const struct pconn *pc, struct pages_refusal *r, enum pages_class cls,
                         const char *reason);

/* The allowed ports as text ("443, 8443" or "80, 1024-65535"): CONNECT's
 * allowed_ports, or plain HTTP's http_ports. */
void status_ports_text(const struct proxy *px, int plain_http, char *buf, size_t cap);

/* Answer a request for daneguard's own pages (onboarding, CA, PAC, status). */
void status_page_serve(struct pconn *pc, const struct http_head *h);

#endif
