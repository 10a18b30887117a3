/* tests/unit/test_lookup.c — resolver/lookup.c, the in-process lookup API, on a
 * real libuv loop with the whole resolver behind it (getdns in stub mode, the
 * forwarder) and the test playing the upstream on 127.0.0.1
 * (tests/unit/dnspeer.h). The callback runs once and never inside
 * lookup_start(), cache hits included; a cancelled lookup never calls back; a
 * lookup outlives the caller's reference to its resolver; the answer helpers
 * take records only at the end of the CNAME chain.
 *
 * Linked with resolver/fdwrap.o (the Makefile's FDWRAP_TESTS): getdns runs here.
 */
#include "lookup.h"

#include <stdlib.h>

#include "config.h"
#include "dnspeer.h"
#include "resolver.h"
#include "unit.h"

static void put_name(uint8_t *out, size_t *n, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        out[(*n)++] = (uint8_t)l;
        memcpy(out + *n, name, l);
        *n += l;
        name += l + (dot ? 1 : 0);
    }
    out[(*n)++] = 0;
}

static void put_rr(uint8_t *out, size_t *n, const char *owner, uint16_t type, const uint8_t *rdata,
                   size_t rdlen)
{
    put_name(out, n, owner);
    uint8_t fixed[10] = {(uint8_t)(type >> 8), (uint8_t)type, 0, 1, 0, 0, 0x0e, 0x10,
                         (uint8_t)(rdlen >> 8), (uint8_t)rdlen};
    memcpy(out + *n, fixed, sizeof fixed);
    *n += sizeof fixed;
    memcpy(out + *n, rdata, rdlen);
    *n += rdlen;
}

static const uint8_t tlsa_rdata[35] = {3, 1, 1, 0xde, 0xad, 0xbe, 0xef};

/* The upstream: one.unit.test A 127.0.0.1; alias.unit.test CNAME
 * one.unit.test, with a decoy A record at another name beside the chain;
 * _443._tcp.one.unit.test TLSA 3 1 1; the rest REFUSED. */
static size_t peer_answer(struct peer *p, const uint8_t *q, size_t qlen, int over_tcp,
                          uint8_t *out, size_t cap)
{
    char name[256];
    question_name(q, qlen, name, sizeof name);
    for (char *c = name; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    uint16_t type = question_type(q, qlen);
    size_t n = make_reply(q, qlen, out, cap, 0, 0, 0, 0);
    if (!n)
        return 0;
    unsigned an = 0;
    static const uint8_t a1[4] = {127, 0, 0, 1}, a9[4] = {127, 0, 0, 9};
    if (!strcmp(name, "one.unit.test.") && type == 1) {
        put_rr(out, &n, "one.unit.test", 1, a1, 4);
        an = 1;
    } else if (!strcmp(name, "alias.unit.test.") && type == 1) {
        uint8_t target[64];
        size_t tl = 0;
        put_name(target, &tl, "one.unit.test");
        put_rr(out, &n, "decoy.unit.test", 1, a9, 4); /* not on the chain */
        put_rr(out, &n, "alias.unit.test", 5, target, tl);
        put_rr(out, &n, "one.unit.test", 1, a1, 4);
        an = 3;
    } else if (!strcmp(name, "_443._tcp.one.unit.test.") && type == 52) {
        put_rr(out, &n, "_443._tcp.one.unit.test", 52, tlsa_rdata, sizeof tlsa_rdata);
        an = 1;
    } else if (!strstr(name, "unit.test.")) {
        out[3] = (uint8_t)((out[3] & 0xf0) | 5); /* REFUSED */
    }
    out[7] = (uint8_t)an;
    return n;
}

struct world {
    uv_loop_t loop;
    struct peer peer;
    struct config cfg;
    struct resolver *r;
};

static int world_open(struct world *w)
{
    char err[256];
    memset(w, 0, sizeof *w);
    uv_loop_init(&w->loop);
    if (peer_open(&w->peer, peer_answer) < 0)
        return -1;
    w->peer.count_only = "unit.test."; /* not the resolver's DNSSEC probes */
    config_defaults(&w->cfg);
    struct config_resolver *rc = &w->cfg.resolver;
    peer_as_upstream(rc, w->peer.port);
    rc->timeout_ms = 3000;
    rc->rebind_protection = 0; /* the peer's addresses are 127.0.0.x */
    if (resolver_new(&w->loop, rc, &w->r, err, sizeof err) < 0) {
        fprintf(stderr, "  world: %s\n", err);
        return -1;
    }
    return 0;
}

/* A test whose world cannot be set up fails at once (its checks would only
 * crash on the missing parts). */
#define WORLD_OPEN(w)                                                                              \
    do {                                                                                           \
        if (world_open(w) != 0) {                                                                  \
            CHECK(!"world_open");                                                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void world_close(struct world *w)
{
    resolver_unref(w->r);
    peer_close(&w->peer);
    for (int i = 0; i < 200 && uv_run(&w->loop, UV_RUN_NOWAIT); i++)
        pump(&w->loop, NULL, NULL, NULL, 5);
    CHECK_INT_EQ(uv_loop_close(&w->loop), 0);
}

/* What a callback saw. */
struct got {
    int calls;
    int inside_start; /* a call came while lookup_start() ran */
    int rcode, timed_out;
    size_t n_addrs;
    struct sockaddr_storage addrs[4];
    int cname;
    char target[256];
    size_t n_tlsa;
    uint8_t tlsa[64];
    size_t tlsa_len;
};

static int in_start;

static void on_tlsa(void *arg, const uint8_t *rdata, size_t len)
{
    struct got *g = arg;
    if (len <= sizeof g->tlsa) {
        memcpy(g->tlsa, rdata, len);
        g->tlsa_len = len;
    }
}

static void on_result(void *arg, const struct lookup_result *res)
{
    struct got *g = arg;
    g->calls++;
    g->inside_start |= in_start;
    g->rcode = res->rcode;
    g->timed_out = res->timed_out;
    g->n_addrs = lookup_addresses(res, 443, g->addrs, 4);
    g->cname = lookup_cname_target(res, g->target, sizeof g->target);
    g->n_tlsa = lookup_each_rdata(res, 52, on_tlsa, g);
}

static int got_called(void *arg)
{
    return ((struct got *)arg)->calls > 0;
}

static int start(struct world *w, const char *name, uint16_t qtype, struct got *g,
                 struct lookup **out)
{
    in_start = 1;
    int rc = lookup_start(w->r, name, qtype, on_result, g, out);
    in_start = 0;
    return rc;
}

static int is_127_0_0(const struct sockaddr_storage *ss, int last, uint16_t port)
{
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    return ss->ss_family == AF_INET && ntohl(s4->sin_addr.s_addr) == (0x7f000000u | (unsigned)last) &&
           ntohs(s4->sin_port) == port;
}

static void test_result_callback(void)
{
    struct world w;
    struct got g = {0};
    WORLD_OPEN(&w);
    CHECK_INT_EQ(start(&w, "one.unit.test", 1, &g, NULL), 0);
    CHECK_INT_EQ(g.calls, 0); /* never inside lookup_start() */
    pump(&w.loop, &w.peer, got_called, &g, 5000);
    pump(&w.loop, &w.peer, NULL, NULL, 50); /* and only once */
    CHECK_INT_EQ(g.calls, 1);
    CHECK_INT_EQ(g.inside_start, 0);
    CHECK_INT_EQ(g.rcode, 0);
    CHECK_INT_EQ(g.timed_out, 0);
    CHECK_INT_EQ(g.n_addrs, 1);
    CHECK(g.n_addrs == 1 && is_127_0_0(&g.addrs[0], 1, 443));
    CHECK_INT_EQ(g.cname, 0);
    world_close(&w);
}

/* Asked again: from the cache, still from the loop, nothing upstream. */
static void test_cache_hit_from_loop(void)
{
    struct world w;
    struct got g = {0}, h = {0};
    WORLD_OPEN(&w);
    CHECK_INT_EQ(start(&w, "one.unit.test", 1, &g, NULL), 0);
    pump(&w.loop, &w.peer, got_called, &g, 5000);
    CHECK_INT_EQ(g.calls, 1);
    unsigned asked = w.peer.udp_queries + w.peer.tcp_queries;
    CHECK_INT_EQ(start(&w, "ONE.unit.test.", 1, &h, NULL), 0);
    CHECK_INT_EQ(h.calls, 0);
    pump(&w.loop, &w.peer, got_called, &h, 2000);
    CHECK_INT_EQ(h.calls, 1);
    CHECK_INT_EQ(h.inside_start, 0);
    CHECK_INT_EQ(h.n_addrs, 1);
    CHECK_INT_EQ(w.peer.udp_queries + w.peer.tcp_queries, asked);
    world_close(&w);
}

/* Cancelled before its answer (and a cache hit cancelled before its timer):
 * the callback never runs, and everything is freed (ASan would say). */
static void test_cancel(void)
{
    struct world w;
    struct got g = {0}, h = {0}, k = {0};
    struct lookup *l = NULL;
    WORLD_OPEN(&w);
    CHECK_INT_EQ(start(&w, "one.unit.test", 1, &g, &l), 0);
    CHECK(l != NULL);
    lookup_cancel(l);
    pump(&w.loop, &w.peer, NULL, NULL, 300);
    CHECK_INT_EQ(g.calls, 0);
    /* Once in the cache, a hit cancelled before the loop turns. */
    CHECK_INT_EQ(start(&w, "one.unit.test", 1, &h, NULL), 0);
    pump(&w.loop, &w.peer, got_called, &h, 5000);
    CHECK_INT_EQ(h.calls, 1);
    l = NULL;
    CHECK_INT_EQ(start(&w, "one.unit.test", 1, &k, &l), 0);
    CHECK(l != NULL);
    lookup_cancel(l);
    lookup_cancel(NULL); /* a no-op */
    pump(&w.loop, &w.peer, NULL, NULL, 100);
    CHECK_INT_EQ(k.calls, 0);
    world_close(&w);
}

static void test_bad_name(void)
{
    struct world w;
    struct got g = {0};
    struct lookup *l = (struct lookup *)&g;
    char long_label[80];
    memset(long_label, 'a', 64);
    strcpy(long_label + 64, ".test");
    WORLD_OPEN(&w);
    CHECK_INT_EQ(start(&w, "a..b", 1, &g, &l), LOOKUP_EBADNAME);
    CHECK_INT_EQ(start(&w, long_label, 1, &g, NULL), LOOKUP_EBADNAME);
    pump(&w.loop, &w.peer, NULL, NULL, 100);
    CHECK_INT_EQ(g.calls, 0);
    CHECK_INT_EQ(w.peer.udp_queries + w.peer.tcp_queries, 0);
    world_close(&w);
}

/* The caller drops its reference to the resolver while a lookup is in
 * flight (a reload): the lookup finishes on it, then it goes. */
static void test_outlives_callers_reference(void)
{
    struct world w;
    struct got g = {0};
    WORLD_OPEN(&w);
    CHECK_INT_EQ(start(&w, "one.unit.test", 1, &g, NULL), 0);
    resolver_unref(w.r);
    w.r = NULL;
    pump(&w.loop, &w.peer, got_called, &g, 5000);
    CHECK_INT_EQ(g.calls, 1);
    CHECK_INT_EQ(g.n_addrs, 1);
    world_close(&w);
}

/* A CNAME: the target is reported, and addresses come from the chain's end
 * only (not the decoy beside it). TLSA rdata come whole. */
static void test_cname_and_tlsa(void)
{
    struct world w;
    struct got g = {0}, t = {0};
    WORLD_OPEN(&w);
    CHECK_INT_EQ(start(&w, "alias.unit.test", 1, &g, NULL), 0);
    pump(&w.loop, &w.peer, got_called, &g, 5000);
    CHECK_INT_EQ(g.calls, 1);
    CHECK_INT_EQ(g.cname, 1);
    CHECK_STR_EQ(g.target, "one.unit.test.");
    CHECK_INT_EQ(g.n_addrs, 1);
    CHECK(g.n_addrs == 1 && is_127_0_0(&g.addrs[0], 1, 443));
    CHECK_INT_EQ(start(&w, "_443._tcp.one.unit.test", 52, &t, NULL), 0);
    pump(&w.loop, &w.peer, got_called, &t, 5000);
    CHECK_INT_EQ(t.calls, 1);
    CHECK_INT_EQ(t.n_tlsa, 1);
    CHECK_INT_EQ(t.tlsa_len, sizeof tlsa_rdata);
    CHECK_MEM_EQ(t.tlsa, tlsa_rdata, sizeof tlsa_rdata);
    CHECK_INT_EQ(t.n_addrs, 0); /* not an address type */
    world_close(&w);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemon: a peer gone is an error, not an exit */
    UNIT_RUN(test_result_callback);
    UNIT_RUN(test_cache_hit_from_loop);
    UNIT_RUN(test_cancel);
    UNIT_RUN(test_bad_name);
    UNIT_RUN(test_outlives_callers_reference);
    UNIT_RUN(test_cname_and_tlsa);
    return UNIT_END();
}
