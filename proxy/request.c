/* proxy/request.c — a connection's request: its head (http.c), the lookups
 * that follow (A, AAAA and TLSA in parallel, then the TLSA at a secure CNAME
 * target), the policy's input and decision (policy.c), and connecting to the
 * addresses it allows (connect.c). What happens once connected is in
 * intercept.c, relay.c and forward.c.
 */
#include "pconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "clock_sync.h"

/* Lookups one request starts: A and AAAA, and for a CONNECT the TLSA. */
#define REQUEST_LOOKUPS_HTTP 2
#define REQUEST_LOOKUPS_CONNECT 3

static void request_bytes(struct pconn *pc);
static void lookups_done(struct pconn *pc);

/* Reading a request head (new or keep-alive). */
static const struct pc_phase request_phase = {.name = "request"};

/* Looking the site up, and connecting to it: a timeout refuses. */
static const struct pc_phase lookup_phase = {
    .name = "lookup",
    .site_wait = "looking up the site in DNS",
};
static const struct pc_phase connect_phase = {
    .name = "connect",
    .site_wait = "connecting to the site",
};

/* --- the request head ---------------------------------------------------------------- */

static void request_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct pconn *pc = stream->data;
    (void)buf;
    if (!side_read_begin(&pc->down, nread))
        return;
    if (nread < 0) {
        side_ended(&pc->down, nread);
        return;
    }
    pc->req.in_len += (size_t)nread;
    if (!pc->req.head_timer) {
        /* a keep-alive connection's next head: handshake_timeout from its
         * first byte, so a slow head (slowloris) cannot last idle_timeout */
        pc->req.head_timer = 1;
        pc_timer_set(pc, pc->px->cfg.handshake_timeout_ms);
    }
    request_bytes(pc);
}

static const struct side_reader request_reader = {pc_in_alloc, request_read};

void request_first(struct pconn *pc)
{
    pc_timer_set(pc, pc->px->cfg.handshake_timeout_ms);
    pc_enter(pc, &request_phase);
    pc->req.head_timer = 1;
    listener_waiting_add(pc);
    side_set_reader(&pc->down, &request_reader);
    side_read(&pc->down, 1);
}

/* Forget a previous request's lookups (keep-alive). */
static void lookups_reset(struct pconn *pc)
{
    tlsa_set_clear(&pc->lookup.tlsa_set);
    tlsa_set_clear(&pc->lookup.target_tlsa_set);
    resolver_unref(pc->lookup.resolver);
    pc->lookup.resolver = NULL;
    pc->lookup.n_addrs = 0;
    pc->lookup.alias[0] = '\0';
    pc->lookup.target_asked = 0;
    memset(&pc->lookup.r_a, 0, sizeof pc->lookup.r_a);
    memset(&pc->lookup.r_aaaa, 0, sizeof pc->lookup.r_aaaa);
    memset(&pc->lookup.r_tlsa, 0, sizeof pc->lookup.r_tlsa);
    memset(&pc->lookup.r_target_tlsa, 0, sizeof pc->lookup.r_target_tlsa);
    memset(&pc->verdict.decision, 0, sizeof pc->verdict.decision);
    pc->verdict.exception[0] = '\0';
}

void request_next(struct pconn *pc)
{
    pc_enter(pc, &request_phase);
    pc->req.kind = PC_KIND_CONNECT;
    pc->req.host[0] = '\0';
    pc->req.port = 0;
    lookups_reset(pc);
    if (pc->req.reader && http_reader_state(pc->req.reader) != HTTP_READER_READY) {
        pc_close(pc, "the request before was not read to its end");
        return;
    }
    pc->req.head_timer = pc->req.in_len > 0; /* pipelined bytes: a head has begun */
    pc_timer_set(pc, pc->req.head_timer ? pc->px->cfg.handshake_timeout_ms
                                        : pc->px->cfg.idle_timeout_ms);
    listener_waiting_add(pc);
    side_set_reader(&pc->down, &request_reader);
    request_bytes(pc);
}

static int port_allowed(const struct proxy *px, uint16_t port)
{
    for (size_t i = 0; i < px->cfg.n_allowed_ports; i++)
        if (px->cfg.allowed_ports[i] == port)
            return 1;
    return 0;
}

/* proxy.http_ports: the plain-HTTP counterpart of allowed_ports. */
static int http_port_allowed(const struct proxy *px, uint16_t port)
{
    for (size_t i = 0; i < px->cfg.n_http_ports; i++)
        if (px->cfg.http_ports[i].lo <= port && port <= px->cfg.http_ports[i].hi)
            return 1;
    return 0;
}

static void lookups_start(struct pconn *pc);

/* The last response: a page of daneguard's own (HTML, 502 or 403) with the
 * class's words, for a plain-HTTP request that did not get to the site. */
static void plain_page(struct pconn *pc, struct pages_refusal *r)
{
    struct http_buf b = {0};
    pc_respond_last(pc); /* the rest of the request has nowhere to go */
    if (r->cls == PAGES_CLASS_PORT)
        pc->px->stats.forbidden++;
    if (pages_refusal_response(&b, r, 0) == 0)
        pc_write(pc, b.data, b.len, pc_close_after_write);
    else
        pc_close(pc, "out of memory for an error page");
    http_buf_free(&b);
}

/* Plain HTTP to a port not in proxy.http_ports: a page saying which are. */
static void port_page(struct pconn *pc)
{
    struct pages_refusal r;
    char ports[256], reason[96];
    status_ports_text(pc->px, 1, ports, sizeof ports);
    snprintf(reason, sizeof reason, "plain HTTP to port %u is not allowed (proxy.http_ports)",
             (unsigned)pc->req.port);
    status_event_add(pc->px, PAGES_CLASS_PORT, pc->req.host, pc->req.port, reason);
    status_refusal_init(pc, &r, PAGES_CLASS_PORT, reason);
    r.allowed_ports = ports;
    plain_page(pc, &r);
}

static void request_head(struct pconn *pc, const struct http_head *h)
{
    struct proxy *px = pc->px;
    listener_waiting_del(pc);
    pc->req.keep_alive = h->keep_alive;
    pc->req.client_minor = h->version_minor;
    pc->req.method = h->method;
    if (h->host) {
        snprintf(pc->req.host, sizeof pc->req.host, "%s", h->host);
        pc->req.host_kind = h->host_kind;
        pc->req.port = h->port;
    }

    if (h->kind == HTTP_TARGET_ORIGIN ||
        (h->kind == HTTP_TARGET_ABSOLUTE && listener_is_own_address(pc))) {
        side_read(&pc->down, 0);
        status_page_serve(pc, h);
        return;
    }
    status_request_seen(px);
    if (h->kind == HTTP_TARGET_CONNECT) {
        pc->req.kind = PC_KIND_CONNECT;
        if (listener_is_own_address(pc)) {
            log_info("proxy: %s:%u: CONNECT to daneguard itself refused (client %s)",
                     pc->req.host, pc->req.port, pc_client_text(pc));
            pc_send_line(pc, 403, "daneguard: a CONNECT to daneguard itself is not allowed");
            return;
        }
        if (!port_allowed(px, pc->req.port)) {
            char ports[256];
            log_info("proxy: %s:%u: forbidden port (not in proxy.allowed_ports) (client %s)",
                     pc->req.host, pc->req.port, pc_client_text(pc));
            status_ports_text(px, 0, ports, sizeof ports);
            status_event_add(px, PAGES_CLASS_PORT, pc->req.host, pc->req.port,
                             "port not in proxy.allowed_ports");
            pc_send_line(pc, 403,
                         "daneguard: CONNECT to port %u is not allowed (allowed: %s); add it to "
                         "proxy.allowed_ports to allow it",
                         pc->req.port, ports);
            return;
        }
        side_read(&pc->down, 0); /* the next bytes belong to the tunnel or TLS */
        lookups_start(pc);
        return;
    }
    /* Absolute URI: plain HTTP. */
    pc->req.kind = PC_KIND_HTTP;
    if (!http_port_allowed(px, pc->req.port)) {
        log_info("proxy: %s:%u: forbidden port (not in proxy.http_ports) (client %s)",
                 pc->req.host, pc->req.port, pc_client_text(pc));
        port_page(pc);
        return;
    }
    if (h->websocket || h->framing == HTTP_FRAMING_TUNNEL) {
        pc_send_error(pc, 501, "plain-HTTP upgrades are not supported; use https");
        return;
    }
    http_buf_reset(&pc->fwd.head);
    if (http_request_write_upstream(h, &pc->fwd.head) < 0) {
        pc_send_error(pc, 400, NULL);
        return;
    }
    pc->fwd.request_done = h->framing == HTTP_FRAMING_NONE;
    forward_hold_body(pc);
    lookups_start(pc);
}

/* Feed the client's bytes to the request reader, up to the end of a head. */
static void request_bytes(struct pconn *pc)
{
    size_t off = 0;
    /* The reader (tens of KiB with its arena) only once a client says something:
     * a silent connection costs just its struct pconn. */
    if (!pc->req.reader && pc->req.in_len) {
        pc->req.reader = http_reader_new(HTTP_READER_REQUEST, NULL);
        if (!pc->req.reader) {
            pc_close(pc, "out of memory for a request reader");
            return;
        }
    }
    while (off < pc->req.in_len) {
        size_t used = 0;
        enum http_event ev;
        int rc = http_reader_feed(pc->req.reader, (char *)pc->req.in + off, pc->req.in_len - off,
                                  &used, &ev);
        if (rc < 0) {
            pc_send_error(pc, http_error_status(rc), http_strerror(rc));
            return;
        }
        off += used;
        if (ev == HTTP_EV_HEAD) {
            memmove(pc->req.in, pc->req.in + off, pc->req.in_len - off);
            pc->req.in_len -= off;
            /* the request's phase takes over; leftovers wait in pc->req.in */
            request_head(pc, http_reader_head(pc->req.reader));
            return;
        }
        /* An END with nothing consumed closes the previous bodiless request
         * (the reader reports it on the next feed); the next head follows. */
        if (used == 0 && ev != HTTP_EV_END)
            break;
    }
    memmove(pc->req.in, pc->req.in + off, pc->req.in_len - off);
    pc->req.in_len -= off;
    side_read(&pc->down, 1);
    if (pc->req.in_len >= pc->req.in_cap)
        pc_send_error(pc, 431, NULL);
}

/* --- lookups ------------------------------------------------------------------------------ */

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

const struct tlsa_set *request_tlsa(const struct pconn *pc)
{
    return pc->verdict.decision.use_target ? &pc->lookup.target_tlsa_set : &pc->lookup.tlsa_set;
}

void request_abandon(struct pconn *pc)
{
    lookup_cancel(pc->lookup.a);
    lookup_cancel(pc->lookup.aaaa);
    lookup_cancel(pc->lookup.tlsa);
    lookup_cancel(pc->lookup.target_tlsa);
    pc->lookup.a = pc->lookup.aaaa = pc->lookup.tlsa = pc->lookup.target_tlsa = NULL;
    pc->lookup.pending = 0;
    hconnect_cancel(pc->lookup.hc);
    pc->lookup.hc = NULL;
}

static void fill_policy_lookup(struct policy_lookup *pl, const struct lookup_result *res)
{
    memset(pl, 0, sizeof *pl);
    pl->timed_out = res->timed_out;
    pl->rcode = res->rcode;
    pl->security = res->security;
}

static void log_lookup(struct pconn *pc, const char *what, const struct policy_lookup *pl)
{
    log_debug("proxy: %s:%u: %s: %s, rcode %d, %s, %zu record(s)%s", pc->req.host, pc->req.port,
              what,
              pl->not_started ? "not started"
              : pl->timed_out ? "timed out"
                              : "answered",
              pl->rcode, dns_security_name(pl->security), pl->records,
              pl->cname == POLICY_CNAME_FOLLOWED     ? ", CNAME followed"
              : pl->cname == POLICY_CNAME_UNREADABLE ? ", CNAME unreadable"
                                                     : "");
}

/* An A or AAAA answer: addresses only from an answer that did not fail
 * (secure or insecure, NOERROR), and the CNAME target only from a secure one:
 * the same test the policy applies (policy_lookup_failed). */
static void on_address(struct pconn *pc, const struct lookup_result *res, int is_a)
{
    struct policy_lookup *pl = is_a ? &pc->lookup.r_a : &pc->lookup.r_aaaa;
    struct sockaddr_storage tmp[PROXY_MAX_ADDRS];
    char target[PROXY_NAME_TEXT_MAX];

    fill_policy_lookup(pl, res);
    pl->records = lookup_addresses(res, 0, tmp, PROXY_MAX_ADDRS);
    int rc = lookup_cname_target(res, target, sizeof target);
    pl->cname = rc == 1   ? POLICY_CNAME_FOLLOWED
                : rc == 0 ? POLICY_CNAME_NONE
                          : POLICY_CNAME_UNREADABLE;
    if (!policy_lookup_failed(pl)) {
        pc->lookup.n_addrs +=
            lookup_addresses(res, pc->req.port, pc->lookup.addrs + pc->lookup.n_addrs,
                             PROXY_MAX_ADDRS - pc->lookup.n_addrs);
        if (rc == 1 && pl->security == DNS_SECURE && !pc->lookup.alias[0])
            snprintf(pc->lookup.alias, sizeof pc->lookup.alias, "%s", target);
    }
    log_lookup(pc, is_a ? "A" : "AAAA", pl);
}

static void on_a(void *arg, const struct lookup_result *res)
{
    struct pconn *pc = arg;
    pc->lookup.a = NULL;
    on_address(pc, res, 1);
    if (--pc->lookup.pending == 0)
        lookups_done(pc);
}

static void on_aaaa(void *arg, const struct lookup_result *res)
{
    struct pconn *pc = arg;
    pc->lookup.aaaa = NULL;
    on_address(pc, res, 0);
    if (--pc->lookup.pending == 0)
        lookups_done(pc);
}

static void on_tlsa(void *arg, const struct lookup_result *res)
{
    struct pconn *pc = arg;
    pc->lookup.tlsa = NULL;
    fill_policy_lookup(&pc->lookup.r_tlsa, res);
    pc->lookup.r_tlsa.records =
        lookup_each_rdata(res, DNS_TYPE_TLSA, tlsa_set_add, &pc->lookup.tlsa_set);
    log_lookup(pc, "TLSA", &pc->lookup.r_tlsa);
    if (--pc->lookup.pending == 0)
        lookups_done(pc);
}

/* RFC 7671 §7: the TLSA at the secure CNAME chain's target. Whatever it is,
 * the policy decides with it; a failure here refuses like one at the host. */
static void on_target_tlsa(void *arg, const struct lookup_result *res)
{
    struct pconn *pc = arg;
    pc->lookup.target_tlsa = NULL;
    fill_policy_lookup(&pc->lookup.r_target_tlsa, res);
    pc->lookup.r_target_tlsa.records =
        lookup_each_rdata(res, DNS_TYPE_TLSA, tlsa_set_add, &pc->lookup.target_tlsa_set);
    log_lookup(pc, "TLSA at the CNAME target", &pc->lookup.r_target_tlsa);
    lookups_done(pc);
}

/* A CONNECT that gets no TLS at all: a plain error status with a one-line
 * text body saying why, and no certificate minted (intercept: dane's
 * contract); the browser shows its own "cannot reach" page. */
static void fail_plain(struct pconn *pc, int status, enum pages_class cls, const char *reason)
{
    struct http_buf b = {0}, body = {0};
    snprintf(pc->verdict.reason, sizeof pc->verdict.reason, "%s", reason);
    pc->px->stats.failed++;
    pc_log_verdict(pc, "failed");
    for (char *p = pc->verdict.reason; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    status_event_add(pc->px, cls, pc->req.host, pc->req.port, pc->verdict.reason);
    if (pc->req.kind == PC_KIND_HTTP) { /* a browser shows this one: a neutral page */
        struct pages_refusal r;
        status_refusal_init(pc, &r, cls, pc->verdict.reason);
        plain_page(pc, &r);
        return;
    }
    pc_enter(pc, &pc_phase_respond);
    if (http_buf_printf(&body, "%s\n", pc->verdict.reason) == 0 &&
        http_write_response(&b, status, "text/plain; charset=utf-8", body.len, NULL, 0) == 0 &&
        http_buf_append(&b, body.data, body.len) == 0)
        pc_write(pc, b.data, b.len, pc_close_after_write);
    else
        pc_close(pc, "out of memory for an error response");
    http_buf_free(&b);
    http_buf_free(&body);
}

/* What the policy decides on: the request and its lookups' results. */
void request_policy_input(const struct pconn *pc, struct policy_input *in)
{
    *in = (struct policy_input){
        .mode = pc->px->cfg.intercept,
        .ip_literal = pc->req.host_kind != HTTP_HOST_NAME,
        .no_tlsa = pc->req.kind == PC_KIND_HTTP, /* plain HTTP: only DNSSEC proven wrong refuses */
        .exception = pc->verdict.exception[0] != '\0',
        .a = pc->lookup.r_a,
        .aaaa = pc->lookup.r_aaaa,
        .tlsa = pc->lookup.r_tlsa,
        .tlsa_usable = dane_tlsa_count_usable(pc->lookup.tlsa_set.rec, pc->lookup.tlsa_set.n),
        .tlsa_overflow = pc->lookup.tlsa_set.overflow,
        .target_tlsa = pc->lookup.r_target_tlsa,
        .target_tlsa_usable =
            dane_tlsa_count_usable(pc->lookup.target_tlsa_set.rec, pc->lookup.target_tlsa_set.n),
        .target_tlsa_overflow = pc->lookup.target_tlsa_set.overflow,
        .clock_unsynced = clock_sync_relaxed(),
    };
}

/* A POLICY_FAIL's class: the name does not exist (or has no address), or
 * the lookups failed (the site cannot be reached). */
static enum pages_class fail_class(const struct policy_input *in)
{
    int failed = policy_lookup_failed(&in->a) || policy_lookup_failed(&in->aaaa);
    return failed ? PAGES_CLASS_UNREACHABLE : PAGES_CLASS_NXDOMAIN;
}

static void lookups_done(struct pconn *pc)
{
    struct policy_input in;

    request_policy_input(pc, &in);
    if (!pc->lookup.target_asked && policy_wants_target(&in)) {
        char name[PROXY_NAME_TEXT_MAX + 32];
        int rc = LOOKUP_EBADNAME;
        pc->lookup.target_asked = 1;
        if (pc->lookup.alias[0] && (size_t)snprintf(name, sizeof name, "_%u._tcp.%s", pc->req.port,
                                                    pc->lookup.alias) < sizeof name)
            rc = lookup_start(pc->lookup.resolver, name, DNS_TYPE_TLSA, on_target_tlsa, pc,
                              &pc->lookup.target_tlsa);
        if (rc == 0) {
            log_debug("proxy: %s:%u: CNAME target %s: looking up its TLSA", pc->req.host,
                      pc->req.port, pc->lookup.alias);
            return;
        }
        /* Fail closed: a lookup that cannot run is not "no TLSA" there. */
        pc->lookup.r_target_tlsa =
            (struct policy_lookup){.not_started = 1, .security = DNS_INDETERMINATE};
        log_lookup(pc, "TLSA at the CNAME target", &pc->lookup.r_target_tlsa);
        in.target_tlsa = pc->lookup.r_target_tlsa;
    }
    policy_decide(&in, &pc->verdict.decision);
    if (pc->verdict.decision.action == POLICY_FAIL) {
        fail_plain(pc, pc->verdict.decision.status, fail_class(&in),
                   pc->verdict.decision.reason);
        return;
    }
    if (pc->verdict.decision.action == POLICY_REFUSE) {
        /* every refusal of the policy is a DNSSEC failure (design.md's table),
         * or a clock that makes DNSSEC unverifiable */
        intercept_refuse(pc,
                         strcmp(pc->verdict.decision.reason, POLICY_REASON_CLOCK) == 0
                             ? PAGES_CLASS_CLOCK
                             : PAGES_CLASS_DNSSEC,
                         pc->verdict.decision.reason);
        return;
    }
    request_connect(pc);
}

/* Lookups in flight for the client's other connections. */
static unsigned client_lookups(const struct pconn *pc)
{
    unsigned n = 0;
    for (const struct pconn *c = pc->px->conns; c; c = c->next)
        if (c != pc && c->conn.client == pc->conn.client)
            n += (c->lookup.a != NULL) + (c->lookup.aaaa != NULL) + (c->lookup.tlsa != NULL) +
                 (c->lookup.target_tlsa != NULL);
    return n;
}

/* proxy.max_lookups_per_client: one client cannot take the resolver's
 * lookups in flight from the others. Over it: 503, nothing looked up,
 * nothing connected (fail closed), no certificate minted. */
static int client_lookups_allowed(struct pconn *pc)
{
    struct proxy *px = pc->px;
    unsigned want =
        pc->req.kind == PC_KIND_CONNECT ? REQUEST_LOOKUPS_CONNECT : REQUEST_LOOKUPS_HTTP;
    unsigned have;
    /* a client with none in flight may always start one connection's */
    if (!pc->conn.client || (have = client_lookups(pc)) == 0 ||
        have + want <= px->cfg.max_lookups_per_client)
        return 1;
    if (client_log_due(pc->conn.client, uv_now(px->loop), PROXY_LOG_INTERVAL_MS))
        log_info("proxy: client %s has %u DNS lookups in flight (max_lookups_per_client %u): "
                 "answering 503",
                 client_text(pc->conn.client), have, px->cfg.max_lookups_per_client);
    pc_send_line(pc, 503,
                 "daneguard: this client has too many DNS lookups in flight; "
                 "wait, or raise proxy.max_lookups_per_client");
    return 0;
}

static void lookups_start(struct pconn *pc)
{
    struct proxy *px = pc->px;
    struct resolver *r;
    char name[HTTP_MAX_HOST + 32];

    pc_enter(pc, &lookup_phase);
    pc_timer_set(pc, px->cfg.handshake_timeout_ms);
    /* A name that inet_aton would read as an IPv4 address (0x7f000001,
     * 127.1) is one: that is what a browser would connect to. */
    if (pc->req.host_kind == HTTP_HOST_NAME &&
        addr_parse_ipv4_loose(pc->req.host, pc->req.port, &pc->lookup.addrs[0]) == 0)
        pc->req.host_kind = HTTP_HOST_IPV4;
    if (pc->req.host_kind != HTTP_HOST_NAME) {
        if ((pc->req.host_kind == HTTP_HOST_IPV4 &&
             addr_parse_ipv4_loose(pc->req.host, pc->req.port, &pc->lookup.addrs[0]) < 0) ||
            (pc->req.host_kind == HTTP_HOST_IPV6 &&
             addr_parse(pc->req.host, pc->req.port, &pc->lookup.addrs[0]) < 0)) {
            pc_send_error(pc, 400, "not a valid IP address");
            return;
        }
        pc->lookup.n_addrs = 1;
        lookups_done(pc);
        return;
    }
    if (!client_lookups_allowed(pc))
        return;
    /* proxy.exceptions: no TLSA is asked for, so none can refuse; the
     * addresses are looked up and validated as for any host. */
    if (pc->req.kind == PC_KIND_CONNECT) {
        int ex = config_exception_match(&px->cfg, pc->req.host);
        if (ex >= 0)
            snprintf(pc->verdict.exception, sizeof pc->verdict.exception, "%s",
                     px->cfg.exceptions[ex]);
    }
    /* The request's lookups, the TLSA at a CNAME target included, run on the
     * resolver of this moment, whatever a reload brings meanwhile. */
    r = pc->lookup.resolver = resolver_ref(px->resolver);
    pc->lookup.pending = REQUEST_LOOKUPS_HTTP;
    int rc = lookup_start(r, pc->req.host, DNS_TYPE_A, on_a, pc, &pc->lookup.a);
    if (rc == 0)
        rc = lookup_start(r, pc->req.host, DNS_TYPE_AAAA, on_aaaa, pc, &pc->lookup.aaaa);
    if (rc == 0 && pc->req.kind == PC_KIND_CONNECT && !pc->verdict.exception[0]) {
        snprintf(name, sizeof name, "_%u._tcp.%s", pc->req.port, pc->req.host);
        pc->lookup.pending++;
        rc = lookup_start(r, name, DNS_TYPE_TLSA, on_tlsa, pc, &pc->lookup.tlsa);
    }
    if (rc == LOOKUP_EBADNAME) {
        request_abandon(pc);
        pc_send_error(pc, 400, "not a valid host name");
    } else if (rc < 0) {
        /* Fail closed: a lookup that cannot run is not "no TLSA". None of
         * them ran, so there is no DNSSEC state to show a page for. */
        request_abandon(pc);
        struct policy_lookup none = {.not_started = 1, .security = DNS_INDETERMINATE};
        pc->lookup.r_a = pc->lookup.r_aaaa = pc->lookup.r_tlsa = none;
        lookups_done(pc);
    }
}

/* --- connecting ------------------------------------------------------------------------ */

static void connected(void *arg, int status, uv_tcp_t *tcp, const struct sockaddr *addr)
{
    struct pconn *pc = arg;
    (void)addr;
    pc->lookup.hc = NULL;
    if (status < 0) {
        char reason[256];
        snprintf(reason, sizeof reason, "no usable address: cannot connect to the site (%s)",
                 uv_strerror(status));
        if (pc->verdict.decision.action == POLICY_TUNNEL && pc->req.kind == PC_KIND_CONNECT) {
            /* not DANE-protected: a plain error, nothing minted */
            fail_plain(pc, status == UV_ETIMEDOUT ? 504 : 502, PAGES_CLASS_UNREACHABLE, reason);
            return;
        }
        intercept_refuse(pc, PAGES_CLASS_UNREACHABLE, reason);
        return;
    }
    /* The site's handle is the connection's from here (side_release() closes it). */
    pc->up.tcp = tcp;
    tcp->data = pc;
    pc->handles++;
    uv_tcp_nodelay(tcp, 1);
    if (pc->req.kind == PC_KIND_HTTP) {
        forward_start(pc);
        return;
    }
    if (pc->verdict.decision.action == POLICY_TUNNEL) {
        pc->px->stats.tunnelled++;
        if (pc->verdict.exception[0]) {
            /* every use, with who used it: the operator chose to trust this
             * host without DANE, and should see how often that happens */
            pc->px->stats.exception_uses++;
            log_info("proxy: %s:%u: client %s: tunnelled without DANE (proxy.exceptions: %s)",
                     pc->req.host, pc->req.port, pc_client_text(pc), pc->verdict.exception);
            status_exception_use_add(pc->px, pc);
        }
        log_debug("proxy: %s:%u: tunnelled: %s", pc->req.host, pc->req.port,
                  pc->verdict.decision.reason);
        pc_write(pc, HTTP_CONNECT_ESTABLISHED, strlen(HTTP_CONNECT_ESTABLISHED),
                 relay_tunnel_start);
        return;
    }
    intercept_start(pc);
}

/* Design invariant 3: decide on the addresses that would be connected to,
 * whatever the name (DNS rebinding) or literal that led to them. Some refused:
 * only the others are tried; all refused: 403 naming the first and the key. */
static int destination_allowed(struct pconn *pc)
{
    struct hconnect_refusal why;
    char text[ADDR_TEXT_MAX], msg[256];
    size_t before = pc->lookup.n_addrs;

    pc->lookup.n_addrs =
        hconnect_policy_filter(pc->px->dest, pc->lookup.addrs, pc->lookup.n_addrs, &why);
    if (pc->lookup.n_addrs == before)
        return 1;
    addr_format((const struct sockaddr *)&why.addr, 0, text, sizeof text);
    snprintf(msg, sizeof msg, "%s is %s", text,
             why.kind == ADDR_GLOBAL && why.own ? "an address of this machine"
                                                : addr_kind_describe(why.kind));
    if (pc->lookup.n_addrs > 0) {
        log_debug("proxy: %s:%u: not connecting to %s (and %zu more); %zu address(es) left",
                  pc->req.host, pc->req.port, msg, before - pc->lookup.n_addrs - 1,
                  pc->lookup.n_addrs);
        return 1;
    }
    log_info("proxy: %s:%u: refused: %s (not in proxy.allow_destinations) (client %s)",
             pc->req.host, pc->req.port, msg, pc_client_text(pc));
    status_event_add(pc->px, PAGES_CLASS_UNREACHABLE, pc->req.host, pc->req.port, msg);
    pc_send_line(pc, 403, "daneguard: %s; add it to proxy.allow_destinations to allow it", msg);
    return 0;
}

void request_connect(struct pconn *pc)
{
    if (!destination_allowed(pc))
        return;
    pc_enter(pc, &connect_phase);
    log_debug("proxy: %s:%u: %s (%s); connecting to %zu address(es)", pc->req.host, pc->req.port,
              policy_action_name(pc->verdict.decision.action), pc->verdict.decision.reason,
              pc->lookup.n_addrs);
    int rc = hconnect_start(pc->px->loop, pc->px->dest, pc->lookup.addrs, pc->lookup.n_addrs,
                            PROXY_CONNECT_TIMEOUT_MS, connected, pc, &pc->lookup.hc);
    if (rc < 0)
        connected(pc, rc, NULL, NULL);
}
