/* resolver/dns_cache.c — the answer cache: rendered replies keyed by
 * (name, type, class, DO, CD), in a chained hash table with a doubly linked LRU
 * list, under a memory bound.
 *
 * The hash is SipHash-2-4 with a key drawn from the kernel per cache, so a
 * client choosing query names cannot aim them all at one bucket.
 */
#include "dns_cache.h"
#include "siphash.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CACHE_MIN_BUCKETS 64

struct cache_entry {
    struct cache_entry *hnext;         /* bucket chain */
    struct cache_entry *newer, *older; /* LRU list: head is the newest */
    uint64_t hash;
    uint64_t stored_ms, expire_ms;
    size_t msg_len;
    uint32_t ttl_s;
    enum dns_security security;
    uint16_t qtype, qclass;
    uint8_t do_bit, cd, qname_len, origin;
    uint8_t data[]; /* qname (lowercased), then the message */
};

struct dns_cache {
    struct cache_entry **buckets;
    size_t nbuckets; /* a power of two */
    struct cache_entry *newest, *oldest;
    uint8_t sipkey[16];
    size_t bytes; /* entries + keys + messages + bucket array */
    size_t max_bytes;
    uint64_t stale_ms; /* expired entries kept this long for dns_cache_get_stale() */
    struct dns_cache_stats stats;
};

/* ---- keys ---- */

static inline uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* The key as bytes to hash: lowercased name, type, class, DO, CD. */
static uint64_t key_hash(const struct dns_cache *cache, const struct dns_cache_key *key)
{
    uint8_t buf[DNS_MAX_NAME + 6];
    size_t n = key->qname_len;

    for (size_t i = 0; i < n; i++)
        buf[i] = lower(key->qname[i]);
    buf[n++] = (uint8_t)(key->qtype >> 8);
    buf[n++] = (uint8_t)key->qtype;
    buf[n++] = (uint8_t)(key->qclass >> 8);
    buf[n++] = (uint8_t)key->qclass;
    buf[n++] = key->do_bit ? 1 : 0;
    buf[n++] = key->cd ? 1 : 0;
    return siphash24(cache->sipkey, buf, n);
}

static int key_match(const struct cache_entry *e, uint64_t hash, const struct dns_cache_key *key)
{
    if (e->hash != hash || e->qtype != key->qtype || e->qclass != key->qclass ||
        e->do_bit != (key->do_bit ? 1 : 0) || e->cd != (key->cd ? 1 : 0) ||
        e->qname_len != key->qname_len)
        return 0;
    for (size_t i = 0; i < key->qname_len; i++)
        if (e->data[i] != lower(key->qname[i]))
            return 0;
    return 1;
}

static size_t entry_bytes(const struct cache_entry *e)
{
    return sizeof *e + e->qname_len + e->msg_len;
}

/* ---- lists ---- */

static void lru_unlink(struct dns_cache *cache, struct cache_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        cache->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        cache->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(struct dns_cache *cache, struct cache_entry *e)
{
    e->newer = NULL;
    e->older = cache->newest;
    if (cache->newest)
        cache->newest->newer = e;
    else
        cache->oldest = e;
    cache->newest = e;
}

static struct cache_entry **bucket_of(struct dns_cache *cache, uint64_t hash)
{
    return &cache->buckets[hash & (cache->nbuckets - 1)];
}

static void entry_remove(struct dns_cache *cache, struct cache_entry *e)
{
    struct cache_entry **pp = bucket_of(cache, e->hash);
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(cache, e);
    cache->bytes -= entry_bytes(e);
    cache->stats.entries--;
    free(e);
}

/* Double the bucket array when chains would grow past one entry on average.
 * A failed allocation only costs speed, so it is not an error. */
static void maybe_grow(struct dns_cache *cache)
{
    if (cache->stats.entries < cache->nbuckets)
        return;
    size_t n = cache->nbuckets * 2;
    struct cache_entry **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < cache->nbuckets; i++) {
        struct cache_entry *e = cache->buckets[i], *next;
        for (; e; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(cache->buckets);
    cache->bytes += (n - cache->nbuckets) * sizeof *b;
    cache->buckets = b;
    cache->nbuckets = n;
}

static void seed_key(uint8_t key[16])
{
    if (getrandom(key, 16, 0) == 16)
        return;
    /* No kernel randomness (very early boot, seccomp): weaker, still per process. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t k[2] = {(uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)key,
                     (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)(uintptr_t)&seed_key};
    memcpy(key, k, sizeof k);
}

/* ---- public ---- */

struct dns_cache *dns_cache_new(size_t max_bytes)
{
    struct dns_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    cache->nbuckets = CACHE_MIN_BUCKETS;
    cache->buckets = calloc(cache->nbuckets, sizeof *cache->buckets);
    if (!cache->buckets) {
        free(cache);
        return NULL;
    }
    seed_key(cache->sipkey);
    cache->max_bytes = max_bytes;
    cache->bytes = sizeof *cache + cache->nbuckets * sizeof *cache->buckets;
    return cache;
}

void dns_cache_flush(struct dns_cache *cache)
{
    while (cache->oldest)
        entry_remove(cache, cache->oldest);
}

void dns_cache_free(struct dns_cache *cache)
{
    if (!cache)
        return;
    dns_cache_flush(cache);
    free(cache->buckets);
    free(cache);
}

static struct cache_entry *lookup(struct dns_cache *cache, const struct dns_cache_key *key,
                                  uint64_t hash)
{
    for (struct cache_entry *e = *bucket_of(cache, hash); e; e = e->hnext)
        if (key_match(e, hash, key))
            return e;
    return NULL;
}

int dns_cache_put(struct dns_cache *cache, const struct dns_cache_key *key, const uint8_t *msg,
                  size_t len, enum dns_security security, uint32_t ttl_s, uint64_t now_ms)
{
    return dns_cache_put_from(cache, key, msg, len, security, ttl_s, now_ms, 0);
}

int dns_cache_remove(struct dns_cache *cache, const struct dns_cache_key *key, uint8_t *origin)
{
    if (key->qname_len == 0 || key->qname_len > DNS_MAX_NAME)
        return 0;
    struct cache_entry *e = lookup(cache, key, key_hash(cache, key));
    if (!e)
        return 0;
    if (origin)
        *origin = e->origin;
    entry_remove(cache, e);
    return 1;
}

int dns_cache_put_from(struct dns_cache *cache, const struct dns_cache_key *key,
                       const uint8_t *msg, size_t len, enum dns_security security,
                       uint32_t ttl_s, uint64_t now_ms, uint8_t origin)
{
    uint64_t hash;
    struct cache_entry *old, *e;

    if (key->qname_len == 0 || key->qname_len > DNS_MAX_NAME)
        return -1;
    hash = key_hash(cache, key);
    /* the new answer supersedes the old one even when it may not be cached */
    old = lookup(cache, key, hash);
    if (old)
        entry_remove(cache, old);
    if (ttl_s == 0)
        return 0;

    size_t need = sizeof *e + key->qname_len + len;
    if (need > cache->max_bytes / 8)
        return -1;
    e = malloc(need);
    if (!e)
        return -1;
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->stored_ms = now_ms;
    e->expire_ms = now_ms + (uint64_t)ttl_s * 1000;
    e->ttl_s = ttl_s;
    e->msg_len = len;
    e->security = security;
    e->origin = origin;
    e->qtype = key->qtype;
    e->qclass = key->qclass;
    e->do_bit = key->do_bit ? 1 : 0;
    e->cd = key->cd ? 1 : 0;
    e->qname_len = (uint8_t)key->qname_len;
    for (size_t i = 0; i < key->qname_len; i++)
        e->data[i] = lower(key->qname[i]);
    memcpy(e->data + key->qname_len, msg, len);

    while (cache->oldest && cache->bytes + need > cache->max_bytes) {
        entry_remove(cache, cache->oldest);
        cache->stats.evictions++;
    }
    struct cache_entry **b = bucket_of(cache, hash);
    e->hnext = *b;
    *b = e;
    lru_push(cache, e);
    cache->bytes += need;
    cache->stats.entries++;
    cache->stats.inserts++;
    maybe_grow(cache);
    /* a grown bucket array counts too; make room for it from the LRU tail */
    while (cache->oldest != e && cache->bytes > cache->max_bytes) {
        entry_remove(cache, cache->oldest);
        cache->stats.evictions++;
    }
    return 0;
}

int dns_cache_get(struct dns_cache *cache, const struct dns_cache_key *key, uint64_t now_ms,
                  struct dns_cache_hit *hit)
{
    if (key->qname_len == 0 || key->qname_len > DNS_MAX_NAME) {
        cache->stats.misses++;
        return 0;
    }
    uint64_t hash = key_hash(cache, key);
    struct cache_entry *e = lookup(cache, key, hash);

    if (!e) {
        cache->stats.misses++;
        return 0;
    }
    if (now_ms >= e->expire_ms) {
        /* kept for serving stale (RFC 8767) within its bound; LRU still evicts it */
        if (now_ms - e->expire_ms >= cache->stale_ms)
            entry_remove(cache, e);
        cache->stats.expired++;
        cache->stats.misses++;
        return 0;
    }
    lru_unlink(cache, e);
    lru_push(cache, e);
    /* a clock that stepped back reads as age 0, never as a huge age */
    uint64_t age_ms = now_ms > e->stored_ms ? now_ms - e->stored_ms : 0;
    hit->msg = e->data + e->qname_len;
    hit->len = e->msg_len;
    hit->security = e->security;
    hit->age_s = (uint32_t)(age_ms / 1000);
    hit->ttl_left_s = e->ttl_s - hit->age_s;
    hit->origin = e->origin;
    cache->stats.hits++;
    return 1;
}

void dns_cache_set_stale(struct dns_cache *cache, uint32_t stale_s)
{
    cache->stale_ms = (uint64_t)stale_s * 1000;
}

int dns_cache_get_stale(struct dns_cache *cache, const struct dns_cache_key *key, uint64_t now_ms,
                        struct dns_cache_hit *hit)
{
    if (key->qname_len == 0 || key->qname_len > DNS_MAX_NAME || !cache->stale_ms)
        return 0;
    struct cache_entry *e = lookup(cache, key, key_hash(cache, key));
    if (!e || now_ms < e->expire_ms)
        return 0;
    if (now_ms - e->expire_ms >= cache->stale_ms) {
        entry_remove(cache, e);
        return 0;
    }
    uint64_t age_ms = now_ms > e->stored_ms ? now_ms - e->stored_ms : 0;
    hit->msg = e->data + e->qname_len;
    hit->len = e->msg_len;
    hit->security = e->security;
    hit->age_s = (uint32_t)(age_ms / 1000);
    hit->ttl_left_s = 0;
    hit->origin = e->origin;
    return 1;
}

void dns_cache_get_stats(const struct dns_cache *cache, struct dns_cache_stats *stats)
{
    *stats = cache->stats;
    stats->bytes = cache->bytes;
    stats->max_bytes = cache->max_bytes;
}

void dns_cache_key_of_query(const struct dns_query *q, struct dns_cache_key *key)
{
    key->qname = q->qname;
    key->qname_len = q->qname_len;
    key->qtype = q->qtype;
    key->qclass = q->qclass;
    key->do_bit = q->do_bit;
    key->cd = q->cd;
}

/* ---- TTLs bounded by signatures (RFC 4035 §5.3.3) ---- */

#define CAP_MAX_SIGS 64

struct sig_bound {
    uint8_t owner[DNS_MAX_NAME];
    size_t owner_len;
    uint16_t covered;
    uint32_t bound; /* min(Original TTL, seconds to Signature Expiration) */
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The bound an RRSIG's rdata puts on its RRset's TTL, or 0 when unreadable. */
static uint32_t sig_bound_of(const struct dns_rr *rr, time_t now)
{
    if (rr->rdlen < 18)
        return 0;
    uint32_t orig = rd32(rr->rdata + 4), expiration = rd32(rr->rdata + 8);
    int32_t left = (int32_t)(expiration - (uint32_t)now); /* serial arithmetic */
    uint32_t until = left > 0 ? (uint32_t)left : 0;
    return orig < until ? orig : until;
}

int dns_cap_ttls_by_rrsig(uint8_t *msg, size_t len, time_t now)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    struct sig_bound *sigs;
    size_t nsigs = 0;
    uint32_t all_min = UINT32_MAX;
    int overflow = 0, rc;

    if (dns_rr_iter_init(&it, msg, len) < 0)
        return WIRE_EFORMERR;
    sigs = malloc(CAP_MAX_SIGS * sizeof *sigs);
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        if (rr.type != DNS_TYPE_RRSIG)
            continue;
        uint32_t b = sig_bound_of(&rr, now);
        if (b < all_min)
            all_min = b;
        if (!sigs || nsigs == CAP_MAX_SIGS || rr.rdlen < 2) {
            overflow = 1;
            continue;
        }
        struct sig_bound *s = &sigs[nsigs++];
        memcpy(s->owner, rr.owner, rr.owner_len);
        s->owner_len = rr.owner_len;
        s->covered = (uint16_t)(rr.rdata[0] << 8 | rr.rdata[1]);
        s->bound = b;
    }
    if (rc < 0 || all_min == UINT32_MAX) { /* malformed, or nothing signed */
        free(sigs);
        return rc < 0 ? rc : 0;
    }
    dns_rr_iter_init(&it, msg, len);
    while (dns_rr_iter_next(&it, &rr) == 1) {
        uint32_t cap = overflow ? all_min : UINT32_MAX;
        if (rr.type == DNS_TYPE_OPT)
            continue;
        if (rr.type == DNS_TYPE_RRSIG) {
            uint32_t b = sig_bound_of(&rr, now);
            cap = b < cap ? b : cap;
        } else {
            for (size_t i = 0; i < nsigs; i++)
                if (sigs[i].covered == rr.type && sigs[i].bound < cap &&
                    dns_name_equal(sigs[i].owner, sigs[i].owner_len, rr.owner, rr.owner_len))
                    cap = sigs[i].bound;
        }
        uint8_t *ttl = msg + rr.rdata_offset - 6; /* TTL, then RDLENGTH, then rdata */
        if (rr.ttl > 0x7fffffff) /* RFC 2181 §8: the top bit set means 0, not "huge" */
            cap = 0;
        if (rr.ttl > cap) {
            ttl[0] = (uint8_t)(cap >> 24);
            ttl[1] = (uint8_t)(cap >> 16);
            ttl[2] = (uint8_t)(cap >> 8);
            ttl[3] = (uint8_t)cap;
        }
    }
    free(sigs);
    return 0;
}
