/* include/resolver.h — the resolver core: a client's query answered from the
 * cache or through one shared upstream fetch, rendered once per DO/CD variant
 * (every waiting query of that variant gets a patched copy) and cached. The
 * DNS server (server.c) and the in-process lookup API (lookup.c) both go
 * through it, so they share one cache.
 */
#ifndef DANEGUARD_RESOLVER_H
#define DANEGUARD_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "dns_cache.h"
#include "config.h"
#include "upstream.h"
#include "wire.h"

struct resolver;

/* What a query got: a whole reply message for it. */
struct resolver_answer {
    const uint8_t *msg; /* valid only during the callback (or until the next call) */
    size_t len;
    enum dns_security security;
    int timed_out; /* no upstream answered: msg is a SERVFAIL with EDE 22 */
};

/* One client query in progress. Embed it, fill q and done; the rest is private. */
struct resolver_request {
    struct dns_query q;
    void (*done)(struct resolver_request *req, const struct resolver_answer *ans);
    struct upstream_waiter waiter;
    struct resolver *resolver;
    uint16_t any_type; /* ANY (RFC 8482): the one RRset type asked for instead, or 0 */
};

struct resolver_stats {
    uint64_t queries, cache_hits, cache_misses, servfail_timeouts, bogus;
    uint64_t stale; /* answers served stale (RFC 8767) */
    struct dns_cache_stats cache;
    struct upstream_stats upstream;
};

/* A resolver on loop for cfg (copied where needed; upstreams must be filled),
 * with one reference, the caller's. Returns 0 or -1 with a message in err. */
int resolver_new(uv_loop_t *loop, const struct config_resolver *cfg, struct resolver **out,
                 char *err, size_t errlen);

/* One more reference to r (as unwind's resolver_ref): whoever keeps r beyond
 * the call that gave it takes one, so that a reload's new resolver does not
 * pull the old one from under lookups still in flight. Returns r; NULL is a
 * no-op. */
struct resolver *resolver_ref(struct resolver *r);

/* Drop a reference; with the last, r is freed (its upstream fetches
 * cancelled). NULL is a no-op. Not from inside one of r's own callbacks:
 * lookup.c drops its references from a close callback. */
void resolver_unref(struct resolver *r);

/* Answer req->q. From the cache: returns 1 with the reply, patched for this query,
 * in out (cap bytes, 65535 is always enough) — done does not run. Otherwise
 * returns 0 and req->done runs later from the loop; or a negative upstream_error
 * (done never runs). req must stay put until done runs or it is cancelled. */
int resolver_answer(struct resolver *r, struct resolver_request *req, uint8_t *out, size_t cap,
                    struct resolver_answer *ans);

/* resolver_answer() for the cache alone: 1 with the reply in out, or 0 (nothing
 * is asked upstream): for a caller that admits a lookup only on a miss. */
int resolver_answer_cached(struct resolver *r, const struct dns_query *q, uint8_t *out, size_t cap,
                           struct resolver_answer *ans);

/* Stop waiting for req: done will not run. */
void resolver_request_cancel(struct resolver_request *req);

/* The loop the resolver runs on. */
uv_loop_t *resolver_loop(const struct resolver *r);

/* Current time in ms, as the resolver's cache sees it. */
uint64_t resolver_now_ms(const struct resolver *r);

/* The domain_insecure names (negative trust anchors), ", " between them, ""
 * for none: for the status page. Owned by r. */
const char *resolver_insecure_domains(const struct resolver *r);

void resolver_get_stats(const struct resolver *r, struct resolver_stats *st);

/* What the user should know about r, in words, one line each ('\n' after each):
 * an unsynchronized clock, upstreams that strip DNSSEC. Written to out (cap
 * bytes, cut to fit); returns out ("" when all is well). */
const char *resolver_status_notes(const struct resolver *r, char *out, size_t cap);
/* Upstream i of r's configuration (upstream_server_info()): 0, or -1 past
 * the last. */
int resolver_upstream_info(const struct resolver *r, size_t i, struct upstream_server_info *out);

#endif
