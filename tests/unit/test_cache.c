/* tests/unit/test_cache.c — the answer cache with a pinned clock: keys, variants,
 * expiry, LRU eviction under a small bound, replacement, statistics.
 */
#include "cache.h"
#include "unit.h"

#include <stdlib.h>

#define T0 1000000ULL /* ms */

/* Wire-format names for keys, built from dotted text without wire.c. */
static size_t name_wire(const char *text, uint8_t *out)
{
    size_t n = 0;
    while (*text) {
        const char *dot = strchr(text, '.');
        size_t l = dot ? (size_t)(dot - text) : strlen(text);
        out[n++] = (uint8_t)l;
        memcpy(out + n, text, l);
        n += l;
        text += l + (dot ? 1 : 0);
    }
    out[n++] = 0;
    return n;
}

struct key_buf {
    uint8_t name[DNS_MAX_NAME];
    struct dns_cache_key key;
};

static struct dns_cache_key *mkkey(struct key_buf *kb, const char *name, uint16_t type, int do_bit,
                                   int cd)
{
    kb->key.qname_len = name_wire(name, kb->name);
    kb->key.qname = kb->name;
    kb->key.qtype = type;
    kb->key.qclass = DNS_CLASS_IN;
    kb->key.do_bit = (uint8_t)do_bit;
    kb->key.cd = (uint8_t)cd;
    return &kb->key;
}

static void test_put_get(void)
{
    struct dns_cache *c = dns_cache_new(1 << 20);
    struct key_buf kb;
    struct dns_cache_hit hit;
    const uint8_t msg[] = "a stored reply";

    CHECK(c != NULL);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "example.com", 1, 0, 0), T0, &hit), 0);
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, msg, sizeof msg, DNS_SECURE, 300, T0), 0);
    memset(&hit, 0, sizeof hit);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0 + 10500, &hit), 1);
    CHECK_INT_EQ(hit.len, sizeof msg);
    CHECK_MEM_EQ(hit.msg, msg, sizeof msg);
    CHECK(hit.msg != msg); /* a copy */
    CHECK_INT_EQ(hit.security, DNS_SECURE);
    CHECK_INT_EQ(hit.age_s, 10);
    CHECK_INT_EQ(hit.ttl_left_s, 290);
    /* other types and names miss */
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "example.com", 28, 0, 0), T0, &hit), 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "example.org", 1, 0, 0), T0, &hit), 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "www.example.com", 1, 0, 0), T0, &hit), 0);
    mkkey(&kb, "example.com", 1, 0, 0);
    kb.key.qclass = 3;
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0, &hit), 0);
    /* a clock that went backwards reads as age 0 */
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "example.com", 1, 0, 0), T0 - 5000, &hit), 1);
    CHECK_INT_EQ(hit.age_s, 0);
    dns_cache_free(c);
}

static void test_case_insensitive(void)
{
    struct dns_cache *c = dns_cache_new(1 << 20);
    struct key_buf kb;
    struct dns_cache_hit hit;

    CHECK_INT_EQ(dns_cache_put(c, mkkey(&kb, "WwW.ExAmPlE.CoM", 1, 1, 0), (const uint8_t *)"x", 1,
                               DNS_INSECURE, 60, T0),
                 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "www.example.com", 1, 1, 0), T0, &hit), 1);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "WWW.EXAMPLE.COM", 1, 1, 0), T0, &hit), 1);
    /* only ASCII letters fold: '[' (0x5b) is not '{' (0x7b) */
    CHECK_INT_EQ(
        dns_cache_put(c, mkkey(&kb, "a[b", 1, 0, 0), (const uint8_t *)"y", 1, DNS_INSECURE, 60, T0),
        0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "a{b", 1, 0, 0), T0, &hit), 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "A[B", 1, 0, 0), T0, &hit), 1);
    dns_cache_free(c);
}

static void test_variants(void)
{
    struct dns_cache *c = dns_cache_new(1 << 20);
    struct key_buf kb;
    struct dns_cache_hit hit;
    const char *names[4] = {"plain", "do", "cd", "do+cd"};

    for (int v = 0; v < 4; v++)
        CHECK_INT_EQ(dns_cache_put(c, mkkey(&kb, "example.com", 1, v & 1, v >> 1),
                                   (const uint8_t *)names[v], strlen(names[v]),
                                   v >> 1 ? DNS_BOGUS : DNS_SECURE, 60, T0),
                     0);
    for (int v = 0; v < 4; v++) {
        CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "example.com", 1, v & 1, v >> 1), T0, &hit), 1);
        CHECK_INT_EQ(hit.len, strlen(names[v]));
        CHECK_MEM_EQ(hit.msg, names[v], hit.len);
        CHECK_INT_EQ(hit.security, v >> 1 ? DNS_BOGUS : DNS_SECURE);
    }
    struct dns_cache_stats st;
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.entries, 4);
    dns_cache_free(c);
}

static void test_expiry(void)
{
    struct dns_cache *c = dns_cache_new(1 << 20);
    struct key_buf kb;
    struct dns_cache_hit hit;
    struct dns_cache_stats st;

    mkkey(&kb, "example.com", 1, 0, 0);
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, (const uint8_t *)"x", 1, DNS_SECURE, 30, T0), 0);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0 + 29999, &hit), 1);
    CHECK_INT_EQ(hit.age_s, 29);
    CHECK_INT_EQ(hit.ttl_left_s, 1);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0 + 30000, &hit), 0);
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.expired, 1);
    CHECK_INT_EQ(st.entries, 0); /* dropped on get */
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0, &hit), 0);
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.expired, 1);

    /* ttl 0 stores nothing, and supersedes what was there */
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, (const uint8_t *)"x", 1, DNS_SECURE, 0, T0), 0);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0, &hit), 0);
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, (const uint8_t *)"x", 1, DNS_SECURE, 10, T0), 0);
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, (const uint8_t *)"x", 1, DNS_SECURE, 0, T0), 0);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0, &hit), 0);
    dns_cache_free(c);
}

static void test_replace(void)
{
    struct dns_cache *c = dns_cache_new(1 << 20);
    struct key_buf kb;
    struct dns_cache_hit hit;
    struct dns_cache_stats st;

    mkkey(&kb, "example.com", 1, 0, 0);
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, (const uint8_t *)"old", 3, DNS_SECURE, 30, T0), 0);
    dns_cache_get_stats(c, &st);
    size_t bytes_one = st.bytes;
    CHECK_INT_EQ(dns_cache_put(c, mkkey(&kb, "EXAMPLE.com", 1, 0, 0), (const uint8_t *)"newer", 5,
                               DNS_INSECURE, 60, T0 + 1000),
                 0);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0 + 1000, &hit), 1);
    CHECK_INT_EQ(hit.len, 5);
    CHECK_MEM_EQ(hit.msg, "newer", 5);
    CHECK_INT_EQ(hit.security, DNS_INSECURE);
    CHECK_INT_EQ(hit.ttl_left_s, 60);
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.entries, 1);
    CHECK_INT_EQ(st.bytes, bytes_one + 2);
    CHECK_INT_EQ(st.inserts, 2);
    CHECK_INT_EQ(st.evictions, 0);
    dns_cache_flush(c);
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.entries, 0);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0 + 1000, &hit), 0);
    dns_cache_free(c);
}

static void test_lru(void)
{
    /* the bound holds the table's own overhead and a handful of 200-byte replies */
    struct dns_cache *c = dns_cache_new(4096);
    struct key_buf kb;
    struct dns_cache_hit hit;
    struct dns_cache_stats st;
    uint8_t msg[200];
    char name[32];

    memset(msg, 0xab, sizeof msg);
    dns_cache_get_stats(c, &st);
    size_t base = st.bytes;
    CHECK(base < 4096);
    CHECK_INT_EQ(
        dns_cache_put(c, mkkey(&kb, "n0.example", 1, 0, 0), msg, sizeof msg, DNS_SECURE, 60, T0),
        0);
    dns_cache_get_stats(c, &st);
    size_t per = st.bytes - base; /* struct + key + message */
    CHECK(per > sizeof msg + 11);
    size_t fit = (4096 - base) / per;
    CHECK(fit >= 3);
    for (size_t i = 1; i < fit; i++) {
        snprintf(name, sizeof name, "n%zu.example", i);
        CHECK_INT_EQ(
            dns_cache_put(c, mkkey(&kb, name, 1, 0, 0), msg, sizeof msg, DNS_SECURE, 60, T0 + i),
            0);
    }
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.entries, fit);
    CHECK_INT_EQ(st.evictions, 0);
    CHECK(st.bytes <= 4096);

    /* touch n0: n1 is now the least recently used */
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "n0.example", 1, 0, 0), T0 + 100, &hit), 1);
    CHECK_INT_EQ(dns_cache_put(c, mkkey(&kb, "new1.example", 1, 0, 0), msg, sizeof msg, DNS_SECURE,
                               60, T0 + 200),
                 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "n1.example", 1, 0, 0), T0 + 300, &hit), 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "n0.example", 1, 0, 0), T0 + 300, &hit), 1);
    CHECK_INT_EQ(dns_cache_put(c, mkkey(&kb, "new2.example", 1, 0, 0), msg, sizeof msg, DNS_SECURE,
                               60, T0 + 400),
                 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "n2.example", 1, 0, 0), T0 + 500, &hit), 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "new1.example", 1, 0, 0), T0 + 500, &hit), 1);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "new2.example", 1, 0, 0), T0 + 500, &hit), 1);
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.evictions, 2);
    CHECK_INT_EQ(st.entries, fit);
    CHECK(st.bytes <= st.max_bytes);
    CHECK_INT_EQ(st.max_bytes, 4096);

    /* an entry above an eighth of the bound is refused, and nothing is evicted */
    uint8_t big[600];
    memset(big, 1, sizeof big);
    CHECK_INT_EQ(
        dns_cache_put(c, mkkey(&kb, "big.example", 1, 0, 0), big, sizeof big, DNS_SECURE, 60, T0),
        -1);
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.evictions, 2);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0, &hit), 0);
    dns_cache_free(c);
}

static void test_many(void)
{
    /* enough entries to grow the table several times, under a bound that evicts */
    struct dns_cache *c = dns_cache_new(256 * 1024);
    struct key_buf kb;
    struct dns_cache_hit hit;
    struct dns_cache_stats st;
    uint8_t msg[64];
    char name[64];

    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "host%d.example.net", i);
        memcpy(msg, &i, sizeof i);
        CHECK_INT_EQ(dns_cache_put(c, mkkey(&kb, name, 1, i & 1, 0), msg, sizeof msg, DNS_INSECURE,
                                   3600, T0),
                     0);
    }
    dns_cache_get_stats(c, &st);
    CHECK(st.bytes <= st.max_bytes);
    CHECK(st.evictions > 0);
    CHECK_INT_EQ(st.inserts, 20000);
    CHECK_INT_EQ(st.entries + st.evictions, 20000);
    /* the newest are all there, with the right contents */
    for (int i = 19999; i > 19999 - 500; i--) {
        snprintf(name, sizeof name, "HOST%d.example.net", i);
        CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, name, 1, i & 1, 0), T0 + 1, &hit), 1);
        int v;
        memcpy(&v, hit.msg, sizeof v);
        CHECK_INT_EQ(v, i);
    }
    snprintf(name, sizeof name, "host%d.example.net", 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, name, 1, 0, 0), T0 + 1, &hit), 0);
    dns_cache_free(c);
}

static void test_stats(void)
{
    struct dns_cache *c = dns_cache_new(1 << 16);
    struct key_buf kb;
    struct dns_cache_hit hit;
    struct dns_cache_stats st;

    mkkey(&kb, "example.com", 1, 0, 0);
    dns_cache_get(c, &kb.key, T0, &hit);
    dns_cache_put(c, &kb.key, (const uint8_t *)"abc", 3, DNS_SECURE, 10, T0);
    dns_cache_get(c, &kb.key, T0, &hit);
    dns_cache_get(c, &kb.key, T0 + 1, &hit);
    dns_cache_get(c, &kb.key, T0 + 10000, &hit);
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.hits, 2);
    CHECK_INT_EQ(st.misses, 2);
    CHECK_INT_EQ(st.inserts, 1);
    CHECK_INT_EQ(st.expired, 1);
    CHECK_INT_EQ(st.evictions, 0);
    CHECK_INT_EQ(st.entries, 0);
    CHECK_INT_EQ(st.max_bytes, 1 << 16);
    CHECK(st.bytes > 0);
    dns_cache_free(c);
    dns_cache_free(NULL); /* a no-op */
}

int main(void)
{
    UNIT_RUN(test_put_get);
    UNIT_RUN(test_case_insensitive);
    UNIT_RUN(test_variants);
    UNIT_RUN(test_expiry);
    UNIT_RUN(test_replace);
    UNIT_RUN(test_lru);
    UNIT_RUN(test_many);
    UNIT_RUN(test_stats);
    return UNIT_END();
}
