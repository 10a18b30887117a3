/* resolver/probe.c — does each upstream pass DNSSEC through? (probe.h)
 *
 * Each upstream is asked over the transport the forwarder uses for it
 * (forwarder_probe_transport()): over UDP one socket of our own per upstream
 * per round (a fresh source port), over TCP or DNS-over-TLS the forwarder's
 * own kept-open connection (forwarder_probe_query(): its TLS authentication
 * and pins apply, nothing goes in clear beside DoT). Two queries with random
 * IDs, up to three tries each (over a connection: sent again only when the
 * last one failed); a reply counts only from the upstream asked, to our ID
 * and question. An answer with rcode SERVFAIL or
 * REFUSED says nothing about stripping (the upstream could not resolve): it
 * counts as no answer. A truncated answer cannot be inspected: it counts as
 * signed (no evidence of stripping).
 */
#include "probe.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "addr.h"
#include "forwarder.h"
#include "log.h"
#include "wire.h"

#define PROBE_TRIES 3
#define PROBE_QUERIES 2 /* 0: DNSKEY at the anchor, 1: DS under it */

struct probe_target {
    struct probe *p;
    size_t idx;
    struct config_upstream up;
    char text[ADDR_ENDPOINT_MAX + 16]; /* "192.168.1.1", or with " port N" */
    enum probe_state state;
    enum probe_state logged; /* the last state said in the log */
    uv_udp_t udp;
    int udp_open;
    uv_timer_t timer;
    int stream;                                /* this round over the forwarder's connection */
    struct forwarder_probe *pending[PROBE_QUERIES]; /* stream queries in flight */
    struct probe_slot {
        struct probe_target *t;
        int k;
    } slot[PROBE_QUERIES];
    uint16_t id[PROBE_QUERIES];
    int result[PROBE_QUERIES]; /* 0 no answer yet, 1 signed, -1 without signatures */
    int tries;
    int running;
};

struct probe {
    uv_loop_t *loop;
    struct forwarder *fw; /* NULL: every upstream over UDP */
    size_t n;
    unsigned handles;
    int closing;
    int blocked_logged;
    uint8_t query[PROBE_QUERIES][DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 11];
    size_t qlen[PROBE_QUERIES];
    uint8_t qname[PROBE_QUERIES][DNS_MAX_NAME];
    size_t qname_len[PROBE_QUERIES];
    uint16_t qtype[PROBE_QUERIES];
    char anchor_text[1024];
    char why[512];
    uint8_t rbuf[65536];
    struct probe_target t[CONFIG_MAX_ADDRS];
};

static void handle_closed(uv_handle_t *h)
{
    struct probe_target *t = h->data;
    struct probe *p = t->p;
    if (--p->handles == 0 && p->closing)
        free(p);
}

static void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

/* A query for name/type with RD and an OPT with DO (RFC 3225), ID 0. */
static size_t build_query(uint8_t *out, const uint8_t *name, size_t len, uint16_t qtype)
{
    size_t n = DNS_HEADER_LEN;
    memset(out, 0, DNS_HEADER_LEN);
    out[2] = 0x01; /* RD */
    put16(out + 4, 1);
    put16(out + 10, 1);
    memcpy(out + n, name, len);
    n += len;
    put16(out + n, qtype);
    put16(out + n + 2, DNS_CLASS_IN);
    n += 4;
    out[n++] = 0; /* OPT: root owner */
    put16(out + n, DNS_TYPE_OPT);
    put16(out + n + 2, DNS_MAX_UDP_REPLY);
    out[n + 4] = 0;             /* extended rcode */
    out[n + 5] = 0;             /* version */
    put16(out + n + 6, 0x8000); /* DO */
    put16(out + n + 8, 0);
    return n + 10;
}

static const char *state_words(enum probe_state s)
{
    switch (s) {
    case PROBE_STRIPS:
        return "removes DNSSEC signatures";
    case PROBE_DROPS_DS:
        return "does not answer DS queries (it drops DNSSEC records)";
    case PROBE_UNREACHABLE:
        return "does not answer";
    case PROBE_CAPABLE:
        return "passes DNSSEC through";
    default:
        return "not probed yet";
    }
}

static int strips(enum probe_state s)
{
    return s == PROBE_STRIPS || s == PROBE_DROPS_DS;
}

int probe_blocked(const struct probe *p, const char **why)
{
    int stripping = 0;
    if (!p || p->n == 0)
        return 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->t[i].state == PROBE_CAPABLE || p->t[i].state == PROBE_UNKNOWN)
            return 0;
        stripping |= strips(p->t[i].state);
    }
    if (stripping && why)
        *why = p->why;
    return stripping;
}

/* After a round: say what changed, once, in words a user understands. */
static void report(struct probe_target *t)
{
    struct probe *p = t->p;
    if (t->state != t->logged) {
        if (strips(t->state))
            log_warnx("upstream: %s %s; daneguard cannot validate through it%s", t->text,
                      state_words(t->state),
                      p->n > 1 ? " (not used while another upstream works)" : "");
        else if (t->state == PROBE_CAPABLE && strips(t->logged))
            log_warnx("upstream: %s passes DNSSEC through again: used again", t->text);
        else if (t->state == PROBE_UNREACHABLE)
            log_debug("upstream: %s: no answer to the DNSSEC probe", t->text);
        else
            log_debug("upstream: %s: %s", t->text, state_words(t->state));
        t->logged = t->state;
    }
    const char *why;
    if (probe_blocked(p, NULL)) {
        size_t n = 0;
        n += (size_t)snprintf(p->why, sizeof p->why, "no upstream passes DNSSEC:");
        for (size_t i = 0; i < p->n && n < sizeof p->why; i++)
            n += (size_t)snprintf(p->why + n, sizeof p->why - n, "%s %s %s", i ? ";" : "",
                                  p->t[i].text, state_words(p->t[i].state));
        if (!p->blocked_logged && probe_blocked(p, &why)) {
            log_warnx("upstream: %s. Names under the trust anchor \"%s\" get SERVFAIL until "
                      "one does: name an upstream that keeps DNSSEC records in "
                      "resolver.upstream_recursive_servers (your ISP's resolver, or a public "
                      "validating one), or turn off the router's DNS filtering or DNS proxy",
                      why, p->anchor_text);
            p->blocked_logged = 1;
        }
    } else if (p->blocked_logged) {
        log_warnx("upstream: an upstream passes DNSSEC through again: validating");
        p->blocked_logged = 0;
    }
}

static void round_start(struct probe_target *t);
static void try_send(struct probe_target *t);

static void cancel_pending(struct probe_target *t)
{
    for (int k = 0; k < PROBE_QUERIES; k++) {
        forwarder_probe_cancel(t->pending[k]);
        t->pending[k] = NULL;
    }
}

static void period_cb(uv_timer_t *timer)
{
    round_start(timer->data);
}

static void round_end(struct probe_target *t)
{
    int dnskey = t->result[0], ds = t->result[1];
    if (dnskey < 0 || ds < 0)
        t->state = PROBE_STRIPS;
    else if (dnskey > 0 && ds == 0)
        t->state = PROBE_DROPS_DS;
    else if (dnskey > 0 && ds > 0)
        t->state = PROBE_CAPABLE;
    else
        t->state = PROBE_UNREACHABLE;
    t->running = 0;
    cancel_pending(t);
    if (t->udp_open) {
        t->udp_open = 0;
        uv_close((uv_handle_t *)&t->udp, handle_closed);
    }
    report(t);
    uv_timer_start(&t->timer, period_cb,
                   t->state == PROBE_CAPABLE ? PROBE_INTERVAL_MS : PROBE_RETRY_MS, 0);
}

/* Whether msg answers query k of t: from the right ID, a response, our question. */
static int answers(const struct probe_target *t, int k, const uint8_t *msg, size_t len)
{
    const struct probe *p = t->p;
    uint8_t name[DNS_MAX_NAME];
    size_t name_len, pos = DNS_HEADER_LEN;
    if (len < DNS_HEADER_LEN || !(msg[2] & 0x80) || (uint16_t)(msg[0] << 8 | msg[1]) != t->id[k] ||
        msg[4] != 0 || msg[5] != 1)
        return 0;
    if (dns_name_read(msg, len, &pos, name, &name_len) < 0 || len - pos < 4)
        return 0;
    return dns_name_equal(name, name_len, p->qname[k], p->qname_len[k]) &&
           (uint16_t)(msg[pos] << 8 | msg[pos + 1]) == p->qtype[k];
}

/* 1 signed, -1 stripped, 0 says nothing (SERVFAIL, REFUSED, unreadable). */
static int judge(const uint8_t *msg, size_t len)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    int rcode = dns_msg_rcode(msg, len);
    if (msg[2] & 0x02) /* TC: cannot be inspected over UDP */
        return 1;
    if (rcode == DNS_RCODE_FORMERR || rcode == DNS_RCODE_NOTIMP)
        return -1; /* no EDNS: signatures never come */
    if (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN)
        return 0;
    if (dns_rr_iter_init(&it, msg, len) < 0)
        return 0;
    while (dns_rr_iter_next(&it, &rr) == 1)
        if (rr.type == DNS_TYPE_RRSIG && rr.section != DNS_SECTION_ADDITIONAL)
            return 1;
    return -1;
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct probe_target *t = h->data;
    (void)suggested;
    buf->base = (char *)t->p->rbuf;
    buf->len = sizeof t->p->rbuf;
}

static void udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *peer,
                     unsigned flags)
{
    struct probe_target *t = u->data;
    (void)flags;
    if (n <= 0 || !peer || !t->running || t->p->closing ||
        !addr_equal(peer, (const struct sockaddr *)&t->up.addr.ss))
        return;
    for (int k = 0; k < PROBE_QUERIES; k++) {
        if (t->result[k] || !answers(t, k, (const uint8_t *)buf->base, (size_t)n))
            continue;
        t->result[k] = judge((const uint8_t *)buf->base, (size_t)n); /* 0: asked again */
    }
    if (t->result[0] && t->result[1]) {
        uv_timer_stop(&t->timer);
        round_end(t);
    }
}

/* An answer (or NULL: a failure) over the forwarder's connection. */
static void stream_answer(void *arg, const uint8_t *msg, size_t len)
{
    struct probe_slot *s = arg;
    struct probe_target *t = s->t;
    int k = s->k;
    forwarder_probe_cancel(t->pending[k]);
    t->pending[k] = NULL;
    if (!msg || !t->running || t->p->closing || t->result[k] || !answers(t, k, msg, len))
        return; /* a failure: sent again on the next try */
    t->result[k] = judge(msg, len);
    if (t->result[0] && t->result[1]) {
        uv_timer_stop(&t->timer);
        round_end(t);
    }
}

static void try_timeout(uv_timer_t *timer)
{
    struct probe_target *t = timer->data;
    if (t->tries >= PROBE_TRIES)
        round_end(t);
    else
        try_send(t);
}

static void try_send(struct probe_target *t)
{
    struct probe *p = t->p;
    const struct sockaddr *sa = (const struct sockaddr *)&t->up.addr.ss;
    t->tries++;
    for (int k = 0; k < PROBE_QUERIES; k++) {
        if (t->result[k] || (t->stream && t->pending[k])) /* still in flight: its ID stays */
            continue;
        if (getrandom(&t->id[k], sizeof t->id[k], 0) != sizeof t->id[k])
            t->id[k] = (uint16_t)random();
        uint8_t q[sizeof p->query[0]];
        memcpy(q, p->query[k], p->qlen[k]);
        put16(q, t->id[k]);
        if (t->stream) {
            if (forwarder_probe_query(p->fw, t->idx, q, p->qlen[k], stream_answer, &t->slot[k],
                                      &t->pending[k]) == 0)
                t->id[k] = (uint16_t)(q[0] << 8 | q[1]);
            continue;
        }
        uv_buf_t b = uv_buf_init((char *)q, (unsigned)p->qlen[k]);
        if (t->udp_open)
            uv_udp_try_send(&t->udp, &b, 1, sa);
    }
    uv_timer_start(&t->timer, try_timeout, PROBE_TRY_MS, 0);
}

static void round_start(struct probe_target *t)
{
    struct probe *p = t->p;
    const struct sockaddr *sa = (const struct sockaddr *)&t->up.addr.ss;
    struct sockaddr_in any4 = {.sin_family = AF_INET};
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    if (p->closing || t->running)
        return;
    t->running = 1;
    t->tries = 0;
    memset(t->result, 0, sizeof t->result);
    t->stream = p->fw && forwarder_probe_transport(p->fw, t->idx) != CONFIG_TRANSPORT_UDP;
    if (!t->stream && !t->udp_open) {
        uv_udp_init(p->loop, &t->udp);
        t->udp.data = t;
        p->handles++;
        t->udp_open = 1;
        uv_unref((uv_handle_t *)&t->udp); /* a one-shot CLI still ends */
        if (uv_udp_bind(&t->udp,
                        sa->sa_family == AF_INET6 ? (const struct sockaddr *)&any6
                                                  : (const struct sockaddr *)&any4,
                        0) < 0 ||
            uv_udp_recv_start(&t->udp, udp_alloc, udp_recv) < 0) {
            t->udp_open = 0;
            uv_close((uv_handle_t *)&t->udp, handle_closed);
        }
    }
    try_send(t);
}

/* "192.168.1.1", "192.168.1.1 port 5353", or over DNS-over-TLS
 * "192.0.2.1 (DNS-over-TLS)", "192.0.2.1 port 8853 (DNS-over-TLS)". */
static void endpoint_text(const struct config_upstream *u, int tls, char *out, size_t cap)
{
    const struct sockaddr *sa = (const struct sockaddr *)&u->addr.ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    size_t len;
    const uint8_t *b = addr_bytes(sa, &len);
    uint16_t port = tls ? (u->tls_port ? u->tls_port : 853) : addr_port(sa);
    const char *over = tls ? " (DNS-over-TLS)" : "";
    if (b)
        inet_ntop(len == 16 ? AF_INET6 : AF_INET, b, ip, sizeof ip);
    if (port == (tls ? 853 : 53) || port == 0)
        snprintf(out, cap, "%s%s", ip, over);
    else
        snprintf(out, cap, "%s port %u%s", ip, (unsigned)port, over);
}

int probe_new(uv_loop_t *loop, struct forwarder *fw, const struct config_upstream *upstreams,
              size_t n, const uint8_t *anchor, size_t anchor_len, struct probe **out)
{
    struct probe *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    if (n > CONFIG_MAX_ADDRS)
        n = CONFIG_MAX_ADDRS;
    p->loop = loop;
    p->fw = fw;
    p->n = n;
    if (dns_name_to_text(anchor, anchor_len, p->anchor_text, sizeof p->anchor_text) < 0)
        snprintf(p->anchor_text, sizeof p->anchor_text, "?");
    memcpy(p->qname[0], anchor, anchor_len);
    p->qname_len[0] = anchor_len;
    p->qtype[0] = DNS_TYPE_DNSKEY;
    /* PROBE_LABEL.<anchor>, or the anchor itself when that does not fit */
    size_t l = strlen(PROBE_LABEL);
    if (anchor_len + 1 + l <= DNS_MAX_NAME) {
        p->qname[1][0] = (uint8_t)l;
        memcpy(p->qname[1] + 1, PROBE_LABEL, l);
        memcpy(p->qname[1] + 1 + l, anchor, anchor_len);
        p->qname_len[1] = anchor_len + 1 + l;
    } else {
        memcpy(p->qname[1], anchor, anchor_len);
        p->qname_len[1] = anchor_len;
    }
    p->qtype[1] = DNS_TYPE_DS;
    for (int k = 0; k < PROBE_QUERIES; k++)
        p->qlen[k] = build_query(p->query[k], p->qname[k], p->qname_len[k], p->qtype[k]);
    for (size_t i = 0; i < n; i++) {
        struct probe_target *t = &p->t[i];
        t->p = p;
        t->idx = i;
        t->up = upstreams[i];
        for (int k = 0; k < PROBE_QUERIES; k++)
            t->slot[k] = (struct probe_slot){t, k};
        endpoint_text(&t->up, fw && forwarder_probe_transport(fw, i) == CONFIG_TRANSPORT_TLS,
                      t->text, sizeof t->text);
        uv_timer_init(loop, &t->timer);
        t->timer.data = t;
        p->handles++;
        uv_unref((uv_handle_t *)&t->timer);
        /* the first round from the loop, not from here: a resolver built only
         * to check the configuration (daneguard -n) is freed before its loop
         * turns, and sends nothing */
        uv_timer_start(&t->timer, period_cb, 0, 0);
    }
    *out = p;
    return 0;
}

void probe_free(struct probe *p)
{
    if (!p)
        return;
    p->closing = 1;
    if (p->handles == 0) {
        free(p);
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        struct probe_target *t = &p->t[i];
        cancel_pending(t);
        if (t->udp_open) {
            t->udp_open = 0;
            uv_close((uv_handle_t *)&t->udp, handle_closed);
        }
        uv_close((uv_handle_t *)&t->timer, handle_closed);
    }
}

enum probe_state probe_get_state(const struct probe *p, size_t i)
{
    return p && i < p->n ? p->t[i].state : PROBE_UNKNOWN;
}

int probe_usable(const struct probe *p, size_t i)
{
    if (!p || i >= p->n || !strips(p->t[i].state))
        return 1;
    for (size_t k = 0; k < p->n; k++)
        if (p->t[k].state == PROBE_CAPABLE)
            return 0;
    return 1;
}

void probe_notes(const struct probe *p, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    if (!p)
        return;
    for (size_t i = 0; i < p->n && n < cap; i++)
        if (strips(p->t[i].state))
            n += (size_t)snprintf(
                out + n, cap - n, "Upstream %s %s; daneguard cannot validate through it%s.\n",
                p->t[i].text, state_words(p->t[i].state), probe_usable(p, i) ? "" : " (not used)");
}
