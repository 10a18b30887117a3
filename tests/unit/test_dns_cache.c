/* tests/unit/test_dns_cache.c — the answer cache with a pinned clock: keys, variants,
 * expiry, LRU eviction under a small bound, replacement, statistics.
 */
#include "dns_cache.h"
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

/* RFC 8767: expired entries kept within the stale bound, misses for get,
 * found by get_stale; past the bound gone; a fresh entry is not stale. */
static void test_stale(void)
{
    struct dns_cache *c = dns_cache_new(1 << 20);
    struct key_buf kb;
    struct dns_cache_hit hit;
    struct dns_cache_stats st;

    mkkey(&kb, "example.com", 1, 1, 0);
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, (const uint8_t *)"abc", 3, DNS_SECURE, 30, T0), 0);
    CHECK_INT_EQ(dns_cache_get_stale(c, &kb.key, T0 + 1000, &hit), 0); /* not stale yet */
    CHECK_INT_EQ(dns_cache_get_stale(c, &kb.key, T0 + 40000, &hit), 0); /* no bound set */
    dns_cache_set_stale(c, 60);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0 + 40000, &hit), 0); /* expired: a miss */
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.entries, 1); /* but kept */
    CHECK_INT_EQ(dns_cache_get_stale(c, &kb.key, T0 + 40000, &hit), 1);
    CHECK_INT_EQ(hit.len, 3);
    CHECK(memcmp(hit.msg, "abc", 3) == 0);
    CHECK_INT_EQ(hit.security, DNS_SECURE);
    CHECK_INT_EQ(hit.age_s, 40);
    CHECK_INT_EQ(hit.ttl_left_s, 0);
    CHECK_INT_EQ(dns_cache_get_stale(c, &kb.key, T0 + 30000 + 59999, &hit), 1);
    CHECK_INT_EQ(dns_cache_get_stale(c, &kb.key, T0 + 30000 + 60000, &hit), 0); /* past it */
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.entries, 0);
    /* past the bound, get drops it too */
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, (const uint8_t *)"abc", 3, DNS_SECURE, 30, T0), 0);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0 + 90000, &hit), 0);
    dns_cache_get_stats(c, &st);
    CHECK_INT_EQ(st.entries, 0);
    /* a refreshed answer replaces the stale one */
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, (const uint8_t *)"old", 3, DNS_SECURE, 30, T0), 0);
    CHECK_INT_EQ(dns_cache_put(c, &kb.key, (const uint8_t *)"new", 3, DNS_SECURE, 30, T0 + 40000), 0);
    CHECK_INT_EQ(dns_cache_get_stale(c, &kb.key, T0 + 41000, &hit), 0);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0 + 41000, &hit), 1);
    CHECK(memcmp(hit.msg, "new", 3) == 0);
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

static void test_remove_origin(void)
{
    struct dns_cache *c = dns_cache_new(1 << 20);
    struct key_buf kb;
    struct dns_cache_hit hit;
    uint8_t origin = 99;

    mkkey(&kb, "Example.COM", 48, 1, 0);
    CHECK_INT_EQ(dns_cache_put_from(c, &kb.key, (const uint8_t *)"k", 1, DNS_INDETERMINATE, 60, T0,
                                    3),
                 0);
    CHECK_INT_EQ(dns_cache_get(c, mkkey(&kb, "example.com", 48, 1, 0), T0, &hit), 1);
    CHECK_INT_EQ(hit.origin, 3);
    CHECK_INT_EQ(dns_cache_remove(c, mkkey(&kb, "example.com", 48, 0, 0), &origin), 0);
    CHECK_INT_EQ(origin, 99); /* untouched when nothing was there */
    CHECK_INT_EQ(dns_cache_remove(c, mkkey(&kb, "EXAMPLE.com", 48, 1, 0), &origin), 1);
    CHECK_INT_EQ(origin, 3);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0, &hit), 0);
    CHECK_INT_EQ(dns_cache_remove(c, &kb.key, NULL), 0);
    /* dns_cache_put() stores origin 0 */
    dns_cache_put(c, &kb.key, (const uint8_t *)"k", 1, DNS_INDETERMINATE, 60, T0);
    CHECK_INT_EQ(dns_cache_get(c, &kb.key, T0, &hit), 1);
    CHECK_INT_EQ(hit.origin, 0);
    dns_cache_free(c);
}

/* ---- TTLs capped by RRSIGs ---- */

struct msg_buf {
    uint8_t b[2048];
    size_t n;
};

static void put16(struct msg_buf *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)(v >> 8);
    m->b[m->n++] = (uint8_t)v;
}

static void put32(struct msg_buf *m, uint32_t v)
{
    put16(m, v >> 16);
    put16(m, v & 0xffff);
}

static void put_name(struct msg_buf *m, const char *name)
{
    m->n += name_wire(name, m->b + m->n);
}

/* A record; returns the offset of its TTL. */
static size_t put_rr(struct msg_buf *m, const char *owner, unsigned type, uint32_t ttl,
                     const uint8_t *rdata, size_t rdlen)
{
    put_name(m, owner);
    put16(m, type);
    put16(m, 1);
    size_t at = m->n;
    put32(m, ttl);
    put16(m, (unsigned)rdlen);
    memcpy(m->b + m->n, rdata, rdlen);
    m->n += rdlen;
    return at;
}

static size_t put_rrsig(struct msg_buf *m, const char *owner, unsigned covered, uint32_t ttl,
                        uint32_t orig_ttl, uint32_t expiration)
{
    uint8_t rd[18 + 64 + 8];
    size_t n = 0;
    rd[n++] = (uint8_t)(covered >> 8);
    rd[n++] = (uint8_t)covered;
    rd[n++] = 13; /* algorithm */
    rd[n++] = 2;  /* labels */
    for (int i = 3; i >= 0; i--)
        rd[n++] = (uint8_t)(orig_ttl >> (8 * i));
    for (int i = 3; i >= 0; i--)
        rd[n++] = (uint8_t)(expiration >> (8 * i));
    for (int i = 3; i >= 0; i--)
        rd[n++] = (uint8_t)((expiration - 86400 * 30) >> (8 * i)); /* inception */
    rd[n++] = 0x12;
    rd[n++] = 0x34; /* key tag */
    n += name_wire("example.com", rd + n);
    memset(rd + n, 0xab, 16); /* a signature, short */
    n += 16;
    return put_rr(m, owner, 46, ttl, rd, n);
}

static uint32_t ttl_at(const struct msg_buf *m, size_t at)
{
    return (uint32_t)m->b[at] << 24 | (uint32_t)m->b[at + 1] << 16 | (uint32_t)m->b[at + 2] << 8 |
           m->b[at + 3];
}

static void test_ttl_cap_by_rrsig(void)
{
    const time_t now = 1700000000;
    const uint8_t a[4] = {192, 0, 2, 1}, aaaa[16] = {0x20, 0x01, 0x0d, 0xb8};
    struct msg_buf m = {.n = 0};

    /* header: a response, 1 question, 4 answers, 2 authority, 1 additional (OPT) */
    put16(&m, 0x1234);
    put16(&m, 0x8180);
    put16(&m, 1);
    put16(&m, 4);
    put16(&m, 2);
    put16(&m, 1);
    put_name(&m, "www.example.com");
    put16(&m, 1);
    put16(&m, 1);
    /* A, TTL 3600, its RRSIG: Original TTL 300, expiring in 100 s */
    size_t a_ttl = put_rr(&m, "WWW.example.com", 1, 3600, a, 4);
    size_t a_sig = put_rrsig(&m, "www.example.com", 1, 3600, 300, (uint32_t)now + 100);
    /* AAAA, unsigned: untouched */
    size_t aaaa_ttl = put_rr(&m, "www.example.com", 28, 7200, aaaa, 16);
    /* an RRSIG over TXT (absent): its own TTL capped by its Original TTL */
    size_t txt_sig = put_rrsig(&m, "www.example.com", 16, 900, 60, (uint32_t)now + 100000);
    /* authority: an SOA signed with an expired signature: 0 */
    uint8_t soa[22] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0x2c};
    size_t soa_ttl = put_rr(&m, "example.com", 6, 3600, soa, sizeof soa);
    size_t soa_sig = put_rrsig(&m, "example.com", 6, 3600, 3600, (uint32_t)now - 5);
    /* the OPT's TTL field holds flags, never a TTL */
    m.b[m.n++] = 0;
    put16(&m, 41);
    put16(&m, 1232);
    size_t opt_ttl = m.n;
    put32(&m, 0x00008000);
    put16(&m, 0);

    CHECK_INT_EQ(dns_cap_ttls_by_rrsig(m.b, m.n, now), 0);
    CHECK_INT_EQ(ttl_at(&m, a_ttl), 100); /* expiration, over the Original TTL 300 */
    CHECK_INT_EQ(ttl_at(&m, a_sig), 100);
    CHECK_INT_EQ(ttl_at(&m, aaaa_ttl), 7200);
    CHECK_INT_EQ(ttl_at(&m, txt_sig), 60);
    CHECK_INT_EQ(ttl_at(&m, soa_ttl), 0);
    CHECK_INT_EQ(ttl_at(&m, soa_sig), 0);
    CHECK_INT_EQ(ttl_at(&m, opt_ttl), 0x00008000);
    uint32_t ttl = 99;
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 0); /* the expired SOA signature: not cacheable at all */

    /* 500 s earlier: the Original TTL (300) is the lower bound for the A */
    struct msg_buf m2 = m;
    memcpy(m2.b + a_ttl, "\x00\x00\x0e\x10", 4); /* 3600 again */
    CHECK_INT_EQ(dns_cap_ttls_by_rrsig(m2.b, m2.n, now - 500), 0);
    CHECK_INT_EQ(ttl_at(&m2, a_ttl), 300);

    /* serial arithmetic (RFC 4034 §3.1.5): an expiration just past 2^32 wraps
     * to a small number and is still 32 s ahead */
    struct msg_buf m3 = {.n = 0};
    put16(&m3, 1);
    put16(&m3, 0x8180);
    put16(&m3, 1);
    put16(&m3, 2);
    put16(&m3, 0);
    put16(&m3, 0);
    put_name(&m3, "example.com");
    put16(&m3, 1);
    put16(&m3, 1);
    size_t w_ttl = put_rr(&m3, "example.com", 1, 3600, a, 4);
    put_rrsig(&m3, "example.com", 1, 3600, 3600, 0x10);
    CHECK_INT_EQ(dns_cap_ttls_by_rrsig(m3.b, m3.n, (time_t)0xfffffff0LL), 0);
    CHECK_INT_EQ(ttl_at(&m3, w_ttl), 32);

    /* a TTL with the top bit set means 0 (RFC 2181 §8): it becomes 0, not the
     * signature's bound (which would turn 2^31 into an hour) */
    struct msg_buf m4 = m3;
    memcpy(m4.b + w_ttl, "\x80\x00\x00\x00", 4);
    CHECK_INT_EQ(dns_cap_ttls_by_rrsig(m4.b, m4.n, (time_t)0xfffffff0LL), 0);
    CHECK_INT_EQ(ttl_at(&m4, w_ttl), 0);

    /* a record cut short is an error, not a read past the end */
    CHECK(dns_cap_ttls_by_rrsig(m.b, a_sig + 10, now) < 0);
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
    UNIT_RUN(test_remove_origin);
    UNIT_RUN(test_ttl_cap_by_rrsig);
    UNIT_RUN(test_stale);
    return UNIT_END();
}
