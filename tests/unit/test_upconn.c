/* tests/unit/test_upconn.c — the EDNS(0) options upconn.c adds to a query it
 * sends over TCP or TLS: edns-tcp-keepalive (RFC 7828) and padding to a
 * multiple of the block size (RFC 7830, RFC 8467 §4.1), with or without an OPT
 * record already there; malformed queries are left as they were.
 */
#include "config.h"
#include "forwarder.h"
#include "unit.h"
#include "upconn.h"
#include "wire.h"

#include <string.h>

/* A query for name/A with DO (an OPT RR) when do_opt. */
static size_t make_query(uint8_t *b, const char *name, int do_opt)
{
    struct dns_query q;
    size_t n = 0;
    dns_query_init(&q, name, 1);
    memset(b, 0, 12);
    b[0] = 0x12, b[1] = 0x34, b[2] = 0x01;
    b[5] = 1;
    b[11] = do_opt ? 1 : 0;
    n = 12;
    memcpy(b + n, q.qname, q.qname_len);
    n += q.qname_len;
    b[n++] = 0, b[n++] = 1, b[n++] = 0, b[n++] = 1;
    if (do_opt) {
        static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0};
        memcpy(b + n, opt, sizeof opt);
        n += sizeof opt;
    }
    return n;
}

/* The option codes in the (last) OPT record, and its rdlen. */
static int opt_has(const uint8_t *msg, size_t len, uint16_t code, uint16_t *olen)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    if (dns_rr_iter_init(&it, msg, len) < 0)
        return 0;
    while (dns_rr_iter_next(&it, &rr) == 1) {
        if (rr.type != 41)
            continue;
        for (size_t o = 0; o + 4 <= rr.rdlen;) {
            uint16_t c = (uint16_t)(rr.rdata[o] << 8 | rr.rdata[o + 1]);
            uint16_t l = (uint16_t)(rr.rdata[o + 2] << 8 | rr.rdata[o + 3]);
            if (c == code) {
                *olen = l;
                return 1;
            }
            o += 4 + (size_t)l;
        }
    }
    return 0;
}

static void test_padding_with_opt(void)
{
    uint8_t b[1024];
    const char *names[] = {"a.test", "www.secure.world.test", "a-rather-long-label.example.org"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = make_query(b, names[i], 1);
        uint16_t l;
        struct dns_query q;
        CHECK_INT_EQ(upconn_add_query_options(b, &n, sizeof b, 1, 128), 0);
        CHECK_INT_EQ(n % 128, 0);
        CHECK(opt_has(b, n, 11, &l) && l == 0);
        CHECK(opt_has(b, n, 12, &l));
        CHECK_INT_EQ(b[11], 1); /* still one additional record */
        CHECK_INT_EQ(dns_query_parse(b, n, &q), 0);
        CHECK_INT_EQ(q.do_bit, 1);
    }
}

static void test_padding_without_opt(void)
{
    uint8_t b[1024];
    size_t n = make_query(b, "www.world.test", 0);
    uint16_t l;
    CHECK_INT_EQ(upconn_add_query_options(b, &n, sizeof b, 0, 128), 0);
    CHECK_INT_EQ(n, 128);
    CHECK_INT_EQ(b[11], 1);
    CHECK(!opt_has(b, n, 11, &l));
    CHECK(opt_has(b, n, 12, &l));
    /* block 468 (RFC 8467's for responses) works the same */
    n = make_query(b, "www.world.test", 1);
    CHECK_INT_EQ(upconn_add_query_options(b, &n, sizeof b, 1, 468), 0);
    CHECK_INT_EQ(n, 468);
}

static void test_keepalive_only_and_errors(void)
{
    uint8_t b[1024], copy[1024];
    size_t n = make_query(b, "www.world.test", 1), n0 = n;
    uint16_t l;
    CHECK_INT_EQ(upconn_add_query_options(b, &n, sizeof b, 1, 0), 0);
    CHECK_INT_EQ(n, n0 + 4);
    CHECK(opt_has(b, n, 11, &l));
    CHECK(!opt_has(b, n, 12, &l));
    /* no room: unchanged */
    n = make_query(b, "www.world.test", 0);
    memcpy(copy, b, n);
    n0 = n;
    CHECK_INT_EQ(upconn_add_query_options(b, &n, n0 + 8, 1, 128), -1);
    CHECK_INT_EQ(n, n0);
    CHECK_MEM_EQ(b, copy, n0);
    /* trailing garbage or a cut message: unchanged */
    n = make_query(b, "www.world.test", 1) + 3;
    CHECK_INT_EQ(upconn_add_query_options(b, &n, sizeof b, 1, 128), -1);
    n = 14;
    CHECK_INT_EQ(upconn_add_query_options(b, &n, sizeof b, 1, 128), -1);
    CHECK_STR_EQ(upconn_strerror(UPCONN_EAUTH), "upstream not authenticated");
}

/* The upstream accessor (/metrics): one entry per configured upstream,
 * nothing sent, nothing backed off, no connection, and the initial
 * round-trip estimate before any query. */
static void test_forwarder_upstream_info(void)
{
    struct config cfg;
    struct forwarder *fw = NULL;
    struct sockaddr_storage addr;
    struct forwarder_upstream_info h;
    char err[256];
    uv_loop_t loop;

    config_defaults(&cfg);
    CHECK_INT_EQ(config_sockaddr_parse("127.0.0.1@5353", 53, &cfg.resolver.upstreams[0].addr), 0);
    cfg.resolver.n_upstreams = 1;
    cfg.resolver.transports[0] = CONFIG_TRANSPORT_TLS;
    cfg.resolver.n_transports = 1;
    uv_loop_init(&loop);
    CHECK_INT_EQ(forwarder_new(&loop, &cfg.resolver, &fw, &addr, err, sizeof err), 0);
    CHECK_INT_EQ(forwarder_upstream_info(fw, 0, &h), 0);
    CHECK_INT_EQ(h.sent, 0);
    CHECK_INT_EQ(h.measured, 0);
    CHECK_INT_EQ(h.rto_ms, 376);
    CHECK_INT_EQ(h.down_ms[2], 0);
    CHECK_INT_EQ(h.conn[2].connections, 0);
    CHECK_INT_EQ(forwarder_upstream_info(fw, 1, &h), -1);
    CHECK_INT_EQ(forwarder_upstream_info(NULL, 0, &h), -1);
    forwarder_free(fw);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    UNIT_RUN(test_forwarder_upstream_info);
    UNIT_RUN(test_padding_with_opt);
    UNIT_RUN(test_padding_without_opt);
    UNIT_RUN(test_keepalive_only_and_errors);
    return UNIT_END();
}
