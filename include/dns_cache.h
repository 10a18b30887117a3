/* include/dns_cache.h — the answer cache: rendered replies keyed by
 * (name, type, class, DO, CD), with their DNSSEC status and expiry, LRU-evicted
 * under a memory bound. The clock is the caller's (now_ms), so tests pin it.
 */
#ifndef DANEGUARD_DNS_CACHE_H
#define DANEGUARD_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct dns_cache;

struct dns_cache_key {
    const uint8_t *qname; /* wire format; compared case-insensitively */
    size_t qname_len;
    uint16_t qtype, qclass;
    uint8_t do_bit, cd; /* variants never share an entry */
};

struct dns_cache_hit {
    const uint8_t *msg; /* the stored reply; valid until the next put, flush or free */
    size_t len;
    enum dns_security security;
    uint32_t age_s; /* seconds since it was stored */
    uint32_t ttl_left_s;
    uint8_t origin; /* as given to dns_cache_put_from(), else 0 */
};

struct dns_cache_stats {
    uint64_t hits, misses, inserts, evictions, expired;
    size_t entries, bytes, max_bytes;
};

/* The key a query's answer is cached under (points into q). */
void dns_cache_key_of_query(const struct dns_query *q, struct dns_cache_key *key);

/* A cache holding at most max_bytes (entries, keys and overhead counted).
 * Returns NULL when out of memory. Free with dns_cache_free(); NULL is a no-op. */
struct dns_cache *dns_cache_new(size_t max_bytes);
void dns_cache_free(struct dns_cache *cache);

/* Store a copy of msg under key for ttl_s seconds from now_ms, replacing any entry
 * with the same key and evicting least recently used entries to stay under the
 * bound. ttl_s == 0 stores nothing. Returns 0, or -1 when out of memory or the
 * entry alone is larger than an eighth of the bound (nothing stored then). */
int dns_cache_put(struct dns_cache *cache, const struct dns_cache_key *key, const uint8_t *msg,
                  size_t len, enum dns_security security, uint32_t ttl_s, uint64_t now_ms);

/* dns_cache_put(), remembering origin (the caller's number for where the answer
 * came from, e.g. which upstream), given back in dns_cache_hit.origin. */
int dns_cache_put_from(struct dns_cache *cache, const struct dns_cache_key *key,
                       const uint8_t *msg, size_t len, enum dns_security security,
                       uint32_t ttl_s, uint64_t now_ms, uint8_t origin);

/* Drop key's entry: 1 when there was one (its origin in *origin unless NULL), else 0. */
int dns_cache_remove(struct dns_cache *cache, const struct dns_cache_key *key, uint8_t *origin);

/* RFC 4035 §5.3.3: lower, in place, the TTL of every record of msg (OPT excepted)
 * covered by an RRSIG of the message (same owner, type covered) to at most that
 * RRSIG's Original TTL and the seconds left until its Signature Expiration at
 * now (0 once expired; serial-number arithmetic, RFC 4034 §3.1.5); an RRSIG
 * record's own TTL likewise. So an answer is never cached, nor served, past its
 * signatures. Past 64 RRSIGs every record is capped at the smallest such bound.
 * Returns 0 or WIRE_EFORMERR (msg unchanged from the bad record on). */
int dns_cap_ttls_by_rrsig(uint8_t *msg, size_t len, time_t now);

/* Look key up at now_ms: 1 and *hit filled (the entry becomes most recently used),
 * 0 when absent or expired (an expired entry is dropped). */
int dns_cache_get(struct dns_cache *cache, const struct dns_cache_key *key, uint64_t now_ms,
                  struct dns_cache_hit *hit);

/* RFC 8767 (serve stale): keep expired entries up to stale_s seconds past
 * their expiry (0, the default: drop them when found expired). They are
 * misses for dns_cache_get() and still count against the bound. */
void dns_cache_set_stale(struct dns_cache *cache, uint32_t stale_s);

/* An expired entry of key at most the stale bound past its expiry: 1 and *hit
 * filled (ttl_left_s 0, its stored TTLs untouched), else 0. A fresh entry is
 * not stale: 0. */
int dns_cache_get_stale(struct dns_cache *cache, const struct dns_cache_key *key, uint64_t now_ms,
                        struct dns_cache_hit *hit);

void dns_cache_flush(struct dns_cache *cache);
void dns_cache_get_stats(const struct dns_cache *cache, struct dns_cache_stats *stats);

#endif
