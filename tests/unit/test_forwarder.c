/* tests/unit/test_forwarder.c — resolver/forwarder.c on a real libuv loop:
 * the test asks over UDP (as getdns does) and plays the upstream on 127.0.0.1
 * (tests/unit/dnspeer.h). What is forwarded and cached, which upstream replies
 * are dropped (wrong ID, wrong question), truncation taken over TCP, identical
 * queries joined, purging, a TCP client that is not getdns turned away, and
 * the DNSSEC probe's queries over the forwarder's own TCP connection. */
#include "forwarder.h"

#include <stdlib.h>

#include "config.h"
#include "dnspeer.h"
#include "unit.h"

/* What the peer does with a query, by the name asked ("<how>.unit.test."). */
static size_t peer_answer(struct peer *p, const uint8_t *q, size_t qlen, int over_tcp,
                          uint8_t *out, size_t cap)
{
    char name[256];
    question_name(q, qlen, name, sizeof name);
    if (!strcmp(name, "badid.unit.test.") || !strcmp(name, "badq.unit.test.")) {
        /* a forged reply first (address .66), then the real one (.1) */
        uint8_t forged[512];
        size_t n = make_reply(q, qlen, forged, sizeof forged, 0, 0, 1, 66);
        if (name[3] == 'i') {
            forged[1] ^= 0x5a; /* another ID */
        } else {
            forged[n - 16 - 3] = 28; /* the question's type: AAAA, not A */
        }
        peer_send_udp(p, forged, n, &p->last_from);
        return make_reply(q, qlen, out, cap, 0, 0, 1, 1);
    }
    if (!strcmp(name, "tc.unit.test."))
        return over_tcp ? make_reply(q, qlen, out, cap, 0, 0, 40, 1)
                        : make_reply(q, qlen, out, cap, 0x02, 0, 0, 0);
    if (strstr(name, ".unit.test."))
        return make_reply(q, qlen, out, cap, 0, 0, 1, 1);
    return make_reply(q, qlen, out, cap, 0, 5, 0, 0); /* REFUSED */
}

struct world {
    uv_loop_t loop;
    struct peer peer;
    struct config cfg;
    struct forwarder *fw;
    uint16_t port; /* the forwarder's */
    int client;
};

static int world_tcp_only; /* dns_transport_list: [TCP] */

static int world_open(struct world *w)
{
    char err[256];
    struct sockaddr_storage at;
    memset(w, 0, sizeof *w);
    uv_loop_init(&w->loop);
    if (peer_open(&w->peer, peer_answer) < 0)
        return -1;
    config_defaults(&w->cfg);
    peer_as_upstream(&w->cfg.resolver, w->peer.port);
    w->cfg.resolver.timeout_ms = 2000;
    if (world_tcp_only) {
        w->cfg.resolver.transports[0] = CONFIG_TRANSPORT_TCP;
        w->cfg.resolver.n_transports = 1;
    }
    if (forwarder_new(&w->loop, &w->cfg.resolver, &w->fw, &at, err, sizeof err) < 0) {
        fprintf(stderr, "  forwarder_new: %s\n", err);
        return -1;
    }
    w->port = ntohs(((struct sockaddr_in *)&at)->sin_port);
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
    forwarder_free(w->fw);
    close(w->client);
    peer_close(&w->peer);
    uv_run(&w->loop, UV_RUN_DEFAULT); /* the handles close */
    CHECK_INT_EQ(uv_loop_close(&w->loop), 0);
}

static struct forwarder_stats stats(struct world *w)
{
    struct forwarder_stats st;
    forwarder_get_stats(w->fw, &st);
    return st;
}

/* Predicates for pump(): the peer holds a query; the forwarder joined one. */
static int peer_holds_one(void *arg)
{
    return ((struct world *)arg)->peer.n_held >= 1;
}

static int mismatched_one(void *arg)
{
    return stats((struct world *)arg).mismatched >= 1;
}

static int joined_one(void *arg)
{
    return stats((struct world *)arg).joined >= 1;
}

static ssize_t ask(struct world *w, uint16_t id, const char *name, uint8_t *out)
{
    uint8_t q[512];
    size_t n = make_query(q, id, name, 1, 1, 1232);
    return udp_ask(&w->loop, &w->peer, w->client, w->port, q, n, out, 65535, 2000);
}

static void test_forwards_and_caches(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    ssize_t n = ask(&w, 0x1111, "one.unit.test", r);
    CHECK(n > 12);
    if (n > 12) {
        CHECK_INT_EQ(msg_id(r), 0x1111);
        CHECK_INT_EQ(msg_rcode(r), 0);
        CHECK_INT_EQ(first_a_last_octet(r, (size_t)n), 1);
    }
    CHECK_INT_EQ(w.peer.udp_queries, 1);
    /* The same question again, another ID: from the cache, under the new ID. */
    n = ask(&w, 0x2222, "ONE.unit.test", r);
    CHECK(n > 12);
    if (n > 12) {
        CHECK_INT_EQ(msg_id(r), 0x2222);
        CHECK_INT_EQ(first_a_last_octet(r, (size_t)n), 1);
        CHECK_INT_EQ(r[13], 'O'); /* the name as this asker wrote it */
    }
    CHECK_INT_EQ(w.peer.udp_queries, 1);
    struct forwarder_stats st = stats(&w);
    CHECK_INT_EQ(st.queries, 2);
    CHECK_INT_EQ(st.hits, 1);
    CHECK_INT_EQ(st.upstream, 1);
    world_close(&w);
}

static void test_wrong_id_ignored(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    ssize_t n = ask(&w, 7, "badid.unit.test", r);
    CHECK(n > 12);
    if (n > 12)
        CHECK_INT_EQ(first_a_last_octet(r, (size_t)n), 1); /* not the forged .66 */
    CHECK(stats(&w).mismatched >= 1);
    world_close(&w);
}

static void test_wrong_question_ignored(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    ssize_t n = ask(&w, 8, "badq.unit.test", r);
    CHECK(n > 12);
    if (n > 12)
        CHECK_INT_EQ(first_a_last_octet(r, (size_t)n), 1);
    CHECK(stats(&w).mismatched >= 1);
    world_close(&w);
}

/* A reply from another address than the upstream asked is dropped too. */
static void test_wrong_source_ignored(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    w.peer.hold = 1;
    uint8_t q[512], forged[512];
    size_t qn = make_query(q, 9, "src.unit.test", 1, 1, 1232);
    struct sockaddr_in to = peer_loopback(w.port);
    CHECK_INT_EQ(sendto(w.client, q, qn, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)qn);
    pump(&w.loop, &w.peer, peer_holds_one, &w, 2000);
    CHECK(w.peer.n_held >= 1);
    /* the right ID and question, from a socket that is not the upstream */
    int other = client_udp();
    size_t fn = make_reply(w.peer.held[0], w.peer.held_len[0], forged, sizeof forged, 0, 0, 1, 66);
    sendto(other, forged, fn, 0, (struct sockaddr *)&w.peer.held_from[0],
           sizeof w.peer.held_from[0]);
    close(other);
    pump(&w.loop, &w.peer, mismatched_one, &w, 2000);
    CHECK_INT_EQ(stats(&w).mismatched, 1);
    peer_release(&w.peer);
    ssize_t n = udp_ask(&w.loop, &w.peer, w.client, w.port, NULL, 0, r, sizeof r, 2000);
    CHECK(n > 12);
    if (n > 12)
        CHECK_INT_EQ(first_a_last_octet(r, (size_t)n), 1);
    world_close(&w);
}

/* A truncated UDP reply: the same upstream is asked over TCP, and getdns gets
 * the whole answer (40 records) when it fits its EDNS size. */
static void test_truncated_goes_tcp(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    ssize_t n = ask(&w, 10, "tc.unit.test", r);
    CHECK(n > 12);
    if (n > 12) {
        CHECK_INT_EQ(msg_tc(r), 0);
        CHECK_INT_EQ(msg_ancount(r), 40);
    }
    CHECK_INT_EQ(w.peer.udp_queries, 1);
    CHECK_INT_EQ(w.peer.tcp_queries, 1);
    /* Asked without EDNS (512 bytes), the cached answer goes out truncated. */
    uint8_t q[512];
    size_t qn = make_query(q, 11, "tc.unit.test", 1, 1, 0);
    n = udp_ask(&w.loop, &w.peer, w.client, w.port, q, qn, r, sizeof r, 2000);
    CHECK(n > 12 && n <= 512);
    if (n > 12)
        CHECK_INT_EQ(msg_tc(r), 1);
    CHECK_INT_EQ(w.peer.udp_queries + w.peer.tcp_queries, 2);
    world_close(&w);
}

/* Two askers of one question while it is in flight: one upstream query. */
static void test_identical_queries_joined(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    w.peer.hold = 1;
    int second = client_udp();
    uint8_t q[512];
    size_t qn = make_query(q, 0x0a0a, "join.unit.test", 1, 1, 1232);
    struct sockaddr_in to = peer_loopback(w.port);
    sendto(w.client, q, qn, 0, (struct sockaddr *)&to, sizeof to);
    pump(&w.loop, &w.peer, peer_holds_one, &w, 2000);
    qn = make_query(q, 0x0b0b, "join.unit.test", 1, 1, 1232);
    sendto(second, q, qn, 0, (struct sockaddr *)&to, sizeof to);
    pump(&w.loop, &w.peer, joined_one, &w, 2000);
    struct forwarder_stats st = stats(&w);
    CHECK_INT_EQ(st.joined, 1);
    /* one upstream request: its retransmits (a slow machine) are the only others */
    CHECK_INT_EQ(w.peer.udp_queries, 1 + st.retransmits);
    CHECK_INT_EQ(st.upstream, 1 + st.retransmits);
    peer_release(&w.peer);
    ssize_t n = udp_ask(&w.loop, &w.peer, w.client, w.port, NULL, 0, r, sizeof r, 2000);
    CHECK(n > 12);
    if (n > 12)
        CHECK_INT_EQ(msg_id(r), 0x0a0a);
    n = udp_ask(&w.loop, &w.peer, second, w.port, NULL, 0, r, sizeof r, 2000);
    CHECK(n > 12);
    if (n > 12)
        CHECK_INT_EQ(msg_id(r), 0x0b0b);
    close(second);
    world_close(&w);
}

/* After forwarder_purge() the cached answer is gone: the next query goes up. */
static void test_purge_drops_cached(void)
{
    struct world w;
    static uint8_t r[65535];
    WORLD_OPEN(&w);
    CHECK(ask(&w, 1, "purge.unit.test", r) > 12);
    CHECK(ask(&w, 2, "purge.unit.test", r) > 12);
    CHECK_INT_EQ(w.peer.udp_queries, 1);
    static const uint8_t name[] = "\5purge\4unit\4test";
    forwarder_purge(w.fw, name, sizeof name, 1, NULL, 0);
    CHECK_INT_EQ(stats(&w).purged >= 1, 1);
    CHECK(ask(&w, 3, "purge.unit.test", r) > 12);
    CHECK_INT_EQ(w.peer.udp_queries, 2);
    world_close(&w);
}

/* The TCP side serves getdns's own sockets alone: the test's connection is
 * closed unanswered. */
static void test_tcp_stranger_refused(void)
{
    struct world w;
    static uint8_t r[4096];
    WORLD_OPEN(&w);
    int fd = client_tcp(&w.loop, w.port);
    CHECK(fd >= 0);
    if (fd >= 0) {
        uint8_t q[512], framed[514];
        size_t qn = make_query(q, 5, "one.unit.test", 1, 1, 0);
        size_t fn = dns_frame_encode(framed, sizeof framed, q, qn);
        (void)!write(fd, framed, fn);
        int eof = 0;
        size_t got = tcp_read_frames(&w.loop, &w.peer, fd, r, sizeof r, 1, 1000, &eof);
        CHECK_INT_EQ(got, 0);
        CHECK_INT_EQ(eof, 1);
        close(fd);
    }
    CHECK_INT_EQ(w.peer.udp_queries + w.peer.tcp_queries, 0);
    world_close(&w);
}

/* The probe's queries (forwarder_probe_query()): over UDP first the caller
 * asks itself (-1); over TCP on the forwarder's connection, answered raw to
 * the ID written in, neither cached nor counted as a client query; a
 * cancelled one is never called back, before or after forwarder_free(). */
struct probe_answer {
    int calls;
    size_t len;
    uint8_t msg[512];
    struct forwarder_probe *h;
};

static void probe_cb(void *arg, const uint8_t *msg, size_t len)
{
    struct probe_answer *a = arg;
    a->calls++;
    a->len = msg ? len : 0;
    if (msg && len <= sizeof a->msg)
        memcpy(a->msg, msg, len);
    forwarder_probe_cancel(a->h); /* freed from inside its callback */
    a->h = NULL;
}

static int probe_answered(void *arg)
{
    return ((struct probe_answer *)arg)->calls > 0;
}

static void test_probe_query(void)
{
    struct world w;
    struct probe_answer a = {0}, b = {0}, c = {0};
    uint8_t q[512];
    static uint8_t r[65535];
    size_t n;

    WORLD_OPEN(&w); /* [UDP, TCP] */
    CHECK_INT_EQ(forwarder_probe_transport(w.fw, 0), CONFIG_TRANSPORT_UDP);
    CHECK_INT_EQ(forwarder_probe_transport(w.fw, 1), -1);
    n = make_query(q, 0, "p.unit.test", 48, 0, 1232);
    CHECK_INT_EQ(forwarder_probe_query(w.fw, 0, q, n, probe_cb, &a, &a.h), -1);
    CHECK(a.h == NULL);
    world_close(&w);

    world_tcp_only = 1;
    WORLD_OPEN(&w);
    world_tcp_only = 0;
    CHECK_INT_EQ(forwarder_probe_transport(w.fw, 0), CONFIG_TRANSPORT_TCP);
    n = make_query(q, 0, "p.unit.test", 48, 0, 1232);
    CHECK_INT_EQ(forwarder_probe_query(w.fw, 0, q, n, probe_cb, &a, &a.h), 0);
    uint16_t id = msg_id(q);
    CHECK(pump(&w.loop, &w.peer, probe_answered, &a, 2000));
    CHECK_INT_EQ(a.calls, 1);
    CHECK(a.len > 12);
    if (a.len > 12)
        CHECK_INT_EQ(msg_id(a.msg), id);
    CHECK_INT_EQ(w.peer.tcp_queries, 1);
    CHECK_INT_EQ(w.peer.udp_queries, 0);
    CHECK_INT_EQ((int)stats(&w).queries, 0);
    /* not cached: a client asking the same goes upstream */
    n = make_query(q, 7, "p.unit.test", 48, 0, 1232);
    CHECK(udp_ask(&w.loop, &w.peer, w.client, w.port, q, n, r, sizeof r, 2000) > 12);
    CHECK_INT_EQ(w.peer.tcp_queries, 2);
    /* cancelled at once: no callback */
    n = make_query(q, 0, "p2.unit.test", 48, 0, 1232);
    CHECK_INT_EQ(forwarder_probe_query(w.fw, 0, q, n, probe_cb, &b, &b.h), 0);
    forwarder_probe_cancel(b.h);
    b.h = NULL;
    pump(&w.loop, &w.peer, NULL, NULL, 300);
    CHECK_INT_EQ(b.calls, 0);
    /* pending when the forwarder goes: no callback, cancelled after */
    n = make_query(q, 0, "p3.unit.test", 48, 0, 1232);
    CHECK_INT_EQ(forwarder_probe_query(w.fw, 0, q, n, probe_cb, &c, &c.h), 0);
    world_close(&w);
    CHECK_INT_EQ(c.calls, 0);
    forwarder_probe_cancel(c.h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemon: a peer gone is an error, not an exit */
    UNIT_RUN(test_forwards_and_caches);
    UNIT_RUN(test_wrong_id_ignored);
    UNIT_RUN(test_wrong_question_ignored);
    UNIT_RUN(test_wrong_source_ignored);
    UNIT_RUN(test_truncated_goes_tcp);
    UNIT_RUN(test_identical_queries_joined);
    UNIT_RUN(test_purge_drops_cached);
    UNIT_RUN(test_tcp_stranger_refused);
    UNIT_RUN(test_probe_query);
    return UNIT_END();
}
