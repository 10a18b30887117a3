/* tests/unit/test_server.c — resolver/server.c on a real libuv loop, with the
 * whole resolver behind it (resolver core, getdns in stub mode, the forwarder)
 * and the test playing the upstream on 127.0.0.1 (tests/unit/dnspeer.h). The
 * upstream signs nothing, so data comes back bogus: queries that want it set
 * CD. Malformed and refused queries, the answer over UDP and its truncation
 * (TC) to the client's size, and DNS over TCP: pipelined queries, a length
 * prefix split across writes, and framed answers.
 *
 * Linked with resolver/fdwrap.o (the Makefile's FDWRAP_TESTS): getdns runs here.
 */
#include "server.h"

#include <stdlib.h>

#include "addr.h"
#include "config.h"
#include "dnspeer.h"
#include "resolver.h"
#include "unit.h"

/* The upstream: "bigN.unit.test." gets N A records, other names under
 * unit.test. one, the rest (the root's DNSKEY, DS queries) REFUSED. */
static size_t peer_answer(struct peer *p, const uint8_t *q, size_t qlen, int over_tcp,
                          uint8_t *out, size_t cap)
{
    char name[256];
    question_name(q, qlen, name, sizeof name);
    for (char *c = name; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    if (!strstr(name, "unit.test.") || question_type(q, qlen) != 1)
        return make_reply(q, qlen, out, cap, 0, 5, 0, 0);
    unsigned n = 1;
    if (!strncmp(name, "big", 3))
        n = (unsigned)atoi(name + 3);
    return make_reply(q, qlen, out, cap, 0, 0, n, 1);
}

struct world {
    uv_loop_t loop;
    struct peer peer;
    struct config cfg;
    struct resolver *r;
    struct dns_server *srv;
    uint16_t port; /* the server's */
    int client;
};

/* A free port on 127.0.0.1 (UDP and TCP both), for the server to bind. */
static uint16_t free_port(void)
{
    for (int tries = 0; tries < 20; tries++) {
        int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = peer_loopback(0);
        socklen_t al = sizeof a;
        uint16_t port = 0;
        if (bind(u, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(u, (struct sockaddr *)&a, &al) == 0 &&
            bind(t, (struct sockaddr *)&a, sizeof a) == 0)
            port = ntohs(a.sin_port);
        close(u);
        close(t);
        if (port)
            return port;
    }
    return 0;
}

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
    /* A port free a moment ago may be taken by then (the resolver's own
     * sockets, another program): then another. */
    rc->n_listen = 1;
    for (int tries = 0; !w->srv && tries < 20; tries++) {
        w->port = free_port();
        struct sockaddr_in at = peer_loopback(w->port);
        memcpy(&rc->listen[0].ss, &at, sizeof at);
        rc->listen[0].len = sizeof at;
        snprintf(rc->listen[0].text, sizeof rc->listen[0].text, "127.0.0.1@%u", w->port);
        if (dns_server_new(&w->loop, rc, w->r, &w->srv, err, sizeof err) < 0)
            w->srv = NULL;
    }
    if (!w->srv) {
        fprintf(stderr, "  world: %s\n", err);
        return -1;
    }
    w->client = client_udp();
    return w->client < 0 ? -1 : 0;
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
    dns_server_close(w->srv);
    resolver_unref(w->r);
    close(w->client);
    peer_close(&w->peer);
    for (int i = 0; i < 200 && uv_run(&w->loop, UV_RUN_NOWAIT); i++)
        pump(&w->loop, NULL, NULL, NULL, 5);
    CHECK_INT_EQ(uv_loop_close(&w->loop), 0);
}

static struct dns_server_stats stats(struct world *w)
{
    struct dns_server_stats st;
    dns_server_get_stats(w->srv, &st);
    return st;
}

static ssize_t ask_raw(struct world *w, const uint8_t *q, size_t qn, uint8_t *out, unsigned ms)
{
    return udp_ask(&w->loop, &w->peer, w->client, w->port, q, qn, out, 65535, ms);
}

/* A header that says one question, and no question: FORMERR, same ID. */
static void test_malformed_formerr(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    uint8_t q[] = {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'b'};
    ssize_t n = ask_raw(&w, q, sizeof q, r, 2000);
    CHECK(n >= 12);
    if (n >= 12) {
        CHECK_INT_EQ(msg_id(r), 0x1234);
        CHECK_INT_EQ(msg_rcode(r), 1); /* FORMERR */
        CHECK(r[2] & 0x80);            /* a reply */
    }
    CHECK_INT_EQ(stats(&w).formerr, 1);
    CHECK_INT_EQ(w.peer.udp_queries + w.peer.tcp_queries, 0);
    world_close(&w);
}

/* Shorter than a header: nothing to answer to, dropped. A reply (QR set) too. */
static void test_short_and_replies_dropped(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    uint8_t tiny[5] = {1, 2, 3, 4, 5};
    CHECK_INT_EQ(ask_raw(&w, tiny, sizeof tiny, r, 200), -1);
    uint8_t q[512];
    size_t qn = make_query(q, 3, "one.unit.test", 1, 1, 0);
    q[2] |= 0x80;
    CHECK_INT_EQ(ask_raw(&w, q, qn, r, 200), -1);
    CHECK_INT_EQ(stats(&w).dropped, 2);
    world_close(&w);
}

static void test_notimp_and_refused(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    uint8_t q[512];
    size_t qn = make_query(q, 4, "one.unit.test", 1, 1, 0);
    q[2] |= 2 << 3; /* opcode STATUS */
    ssize_t n = ask_raw(&w, q, qn, r, 2000);
    CHECK(n >= 12);
    if (n >= 12)
        CHECK_INT_EQ(msg_rcode(r), 4); /* NOTIMP */
    qn = make_query(q, 5, "one.unit.test", 252, 1, 0); /* AXFR */
    n = ask_raw(&w, q, qn, r, 2000);
    CHECK(n >= 12);
    if (n >= 12)
        CHECK_INT_EQ(msg_rcode(r), 5); /* REFUSED */
    /* Outside allow (reconfigured to another network): REFUSED. */
    struct config_resolver rc = w.cfg.resolver;
    CHECK_INT_EQ(addr_cidr_parse("10.0.0.0/8", &rc.allow[0]), 0);
    rc.n_allow = 1;
    dns_server_reconfigure(w.srv, &rc, w.r);
    qn = make_query(q, 6, "one.unit.test", 1, 1, 0);
    n = ask_raw(&w, q, qn, r, 2000);
    CHECK(n >= 12);
    if (n >= 12) {
        CHECK_INT_EQ(msg_id(r), 6);
        CHECK_INT_EQ(msg_rcode(r), 5);
    }
    CHECK_INT_EQ(w.peer.udp_queries + w.peer.tcp_queries, 0);
    world_close(&w);
}

/* A name with data: the answer comes back over UDP (CD: bogus data too). */
static void test_udp_answer(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    uint8_t q[512];
    size_t qn = make_query(q, 0x4242, "one.unit.test", 1, 1, 1232);
    ssize_t n = ask_raw(&w, q, qn, r, 4000);
    CHECK(n > 12);
    if (n > 12) {
        CHECK_INT_EQ(msg_id(r), 0x4242);
        CHECK_INT_EQ(msg_rcode(r), 0);
        CHECK_INT_EQ(first_a_last_octet(r, (size_t)n), 1);
    }
    CHECK(w.peer.udp_queries >= 1);
    world_close(&w);
}

/* 60 A records do not fit 512 bytes: over UDP without EDNS the reply is cut
 * to fit and says TC; with EDNS 4096 it is whole. */
static void test_udp_truncated(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    uint8_t q[512];
    size_t qn = make_query(q, 1, "big60.unit.test", 1, 1, 0);
    ssize_t n = ask_raw(&w, q, qn, r, 4000);
    CHECK(n > 12);
    CHECK(n <= 512);
    if (n > 12) {
        CHECK_INT_EQ(msg_tc(r), 1);
        CHECK_INT_EQ(msg_id(r), 1);
    }
    qn = make_query(q, 2, "big60.unit.test", 1, 1, 4096);
    n = ask_raw(&w, q, qn, r, 4000);
    CHECK(n > 512);
    if (n > 512) {
        CHECK_INT_EQ(msg_tc(r), 0);
        CHECK_INT_EQ(msg_ancount(r), 60);
    }
    world_close(&w);
}

/* Over TCP: two queries in one stream, the first's length prefix split across
 * two writes and the second pipelined behind it in the same write; both come
 * back framed, the big one whole (no TC on TCP). */
static void test_tcp_framing(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    int fd = client_tcp(&w.loop, w.port);
    CHECK(fd >= 0);
    if (fd >= 0) {
        uint8_t q[512], stream[1100];
        size_t sn = 0, qn;
        qn = make_query(q, 0x0101, "big60.unit.test", 1, 1, 0);
        sn += dns_frame_encode(stream + sn, sizeof stream - sn, q, qn);
        qn = make_query(q, 0x0202, "one.unit.test", 1, 1, 0);
        sn += dns_frame_encode(stream + sn, sizeof stream - sn, q, qn);
        CHECK_INT_EQ(write(fd, stream, 1), 1);
        pump(&w.loop, &w.peer, NULL, NULL, 50);
        CHECK_INT_EQ(write(fd, stream + 1, sn - 1), (ssize_t)(sn - 1));
        int eof = 0;
        size_t got = tcp_read_frames(&w.loop, &w.peer, fd, r, sizeof r, 2, 5000, &eof);
        const uint8_t *m;
        size_t mlen, off = 0;
        int seen_big = 0, seen_one = 0;
        while (dns_frame_next(r + off, got - off, &m, &mlen)) {
            if (mlen > 12 && msg_id(m) == 0x0101) {
                seen_big = 1;
                CHECK_INT_EQ(msg_tc(m), 0);
                CHECK_INT_EQ(msg_ancount(m), 60);
            } else if (mlen > 12 && msg_id(m) == 0x0202) {
                seen_one = 1;
                CHECK_INT_EQ(first_a_last_octet(m, mlen), 1);
            }
            off += DNS_FRAME_PREFIX + mlen;
        }
        CHECK(seen_big);
        CHECK(seen_one);
        CHECK_INT_EQ(off, got); /* nothing but whole frames */
        CHECK_INT_EQ(eof, 0);
        /* A malformed query on TCP: FORMERR, framed, and the connection stays. */
        uint8_t bad[] = {0, 15, 0x77, 0x77, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'b'};
        CHECK_INT_EQ(write(fd, bad, sizeof bad), (ssize_t)sizeof bad);
        got = tcp_read_frames(&w.loop, &w.peer, fd, r, sizeof r, 1, 2000, &eof);
        CHECK(dns_frame_next(r, got, &m, &mlen) == 1 && mlen >= 12);
        if (got >= 14) {
            CHECK_INT_EQ(msg_id(r + 2), 0x7777);
            CHECK_INT_EQ(msg_rcode(r + 2), 1);
        }
        close(fd);
    }
    CHECK_INT_EQ(stats(&w).tcp_queries, 3);
    world_close(&w);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemon: a peer gone is an error, not an exit */
    UNIT_RUN(test_malformed_formerr);
    UNIT_RUN(test_short_and_replies_dropped);
    UNIT_RUN(test_notimp_and_refused);
    UNIT_RUN(test_udp_answer);
    UNIT_RUN(test_udp_truncated);
    UNIT_RUN(test_tcp_framing);
    return UNIT_END();
}
