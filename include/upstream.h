/* include/upstream.h — the getdns context (stub mode, validating) and the
 * upstream fetches it runs: one fetch per (name, type) in flight, shared by every
 * client waiting for it, with daneguard's own retry and deadline timers.
 *
 * getdns 1.6.0 double-frees when its own timeout fires during a validation-chain
 * query, so its timeout is set out of reach and a fetch is bounded here instead:
 * an attempt that has not completed in time gets another beside it (the first
 * complete answer wins), until the deadline (config timeout). A bogus answer
 * is asked for once more after the forwarder's copies are dropped.
 */
#ifndef DANEGUARD_UPSTREAM_H
#define DANEGUARD_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "forwarder.h"
#include "wire.h"

struct upstream;

#define UPSTREAM_ERRORS(X)                                                                         \
    X(UPSTREAM_ETIMEDOUT, -1, "no answer from any upstream before the deadline")                   \
    X(UPSTREAM_ENOMEM, -2, "out of memory")                                                        \
    X(UPSTREAM_EGETDNS, -3, "getdns refused the lookup")                                           \
    X(UPSTREAM_ECONFIG, -4, "bad upstream configuration")                                          \
    X(UPSTREAM_EBUSY, -5, "too many lookups in flight")

enum upstream_error {
#define UPSTREAM_ENUM(name, value, text) name = value,
    UPSTREAM_ERRORS(UPSTREAM_ENUM)
#undef UPSTREAM_ENUM
};

const char *upstream_strerror(int err);

struct upstream_result {
    int error;                  /* 0, or an upstream_error */
    enum dns_security security; /* meaningful when error == 0 */
    const uint8_t *msg;         /* the upstream's answer, DNSSEC records kept; valid only
                                   during the callback */
    size_t len;
};

/* A client of a fetch. Embed it; fill done; the rest is private. */
struct upstream_waiter {
    void (*done)(struct upstream_waiter *w, const struct upstream_result *res);
    struct upstream_waiter *next, *prev;
    struct upstream_fetch *fetch;
};

struct upstream_stats {
    uint64_t fetches;  /* distinct upstream lookups started */
    uint64_t joined;   /* client queries that joined a fetch already in flight */
    uint64_t attempts; /* getdns_general calls, retries included */
    uint64_t timeouts; /* fetches that reached their deadline */
    uint64_t requeries; /* bogus answers asked again after purging the forwarder */
    uint64_t in_flight;
    uint64_t keycache_zones;     /* validated DNSKEY sets kept (keycache.h) */
    uint64_t keycache_secure;    /* answers validated with a kept set */
    uint64_t keycache_fallbacks; /* answers the key cache handed to a full lookup */
};

/* A validating stub context on loop with cfg's upstreams, transports, trust
 * anchors and timeouts. cfg must have its upstreams filled (see
 * upstream_from_resolv_conf()). Returns 0 or -1 with a message in err. */
int upstream_new(uv_loop_t *loop, const struct config_resolver *cfg, struct upstream **out,
                 char *err, size_t errlen);

/* Cancels every fetch (no callbacks run) and frees. NULL is a no-op. */
void upstream_free(struct upstream *up);

/* Ask for (qname, qtype, IN); w->done runs once, later, from the loop — never
 * from inside this call. Returns 0, or a negative upstream_error (done never runs):
 * UPSTREAM_EBUSY when UPSTREAM_MAX_IN_FLIGHT distinct lookups are already
 * running (each holds sockets: a flood of new names must not exhaust fds). */
#define UPSTREAM_MAX_IN_FLIGHT 1500
int upstream_fetch(struct upstream *up, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                   struct upstream_waiter *w);

/* Stop waiting: w->done will not run. The fetch goes on for the other waiters. */
void upstream_cancel(struct upstream_waiter *w);

void upstream_get_stats(const struct upstream *up, struct upstream_stats *st);

/* relaxed 1: validate without signature time checks (the clock is not
 * synchronized, clock_sync.h); 0: the normal rule. An answer validated under
 * the relaxed rule that completes after the switch back is asked again. */
void upstream_set_time_checks(struct upstream *up, int relaxed);

/* Keep validated DNSKEY sets (keycache.h) and validate new names in their
 * zones with them, from now on: when getdns talks to the upstreams through
 * the caching forwarder, validating, with a trust anchor; else nothing. For
 * the main context only (forward zones and domain_insecure names have their
 * own contexts and never take this path). 0, or -1 when out of memory. */
int upstream_use_key_cache(struct upstream *up);

/* Probe up's upstreams for DNSSEC stripping (probe.h) from now on, each over
 * the transport the forwarder uses for it, when there is a trust anchor;
 * else nothing. cfg is up's configuration. For the main context
 * only (a forward zone's router is expected to strip). 0, or -1 when out of
 * memory. */
int upstream_probe_dnssec(struct upstream *up, const struct config_resolver *cfg);

/* Lines for the status page about the upstreams (those that strip DNSSEC),
 * each ending in '\n', into out (cap > 0 bytes, "" when none). */
void upstream_status_notes(const struct upstream *up, char *out, size_t cap);

/* 1 when qname lies under a trust anchor and no upstream passes DNSSEC
 * through (probe.h): nothing there can be validated, so the caller answers
 * SERVFAIL with *why (static text) as the EDE text. Else 0. */
int upstream_dnssec_blocked(const struct upstream *up, const uint8_t *qname, size_t qname_len,
                            const char **why);
/* One configured upstream as daneguard sees it: its address as written, its
 * transports, and what the caching forwarder (which talks to it over every
 * transport) measured: counters, round trips, back-offs, TCP/TLS
 * connections. */
struct upstream_server_info {
    char address[ADDR_TEXT_MAX]; /* "192.0.2.1:53", "[2001:db8::1]:853": the first
                                    transport's port */
    char transport[16]; /* "udp,tcp", "tls", ... */
    int known;          /* fw holds measurements (always, once up exists) */
    struct forwarder_upstream_info fw;
};

/* Fill *out for configured upstream i. 0, or -1 when there is no upstream i. */
int upstream_server_info(const struct upstream *up, size_t i, struct upstream_server_info *out);

/* Fill cfg->upstreams from the nameserver lines of cfg->resolv_conf, skipping
 * every address daneguard itself listens on (it may be the system resolver).
 * Returns the number added, or -1 with a message in err. */
int upstream_from_resolv_conf(struct config_resolver *cfg, char *err, size_t errlen);

#endif
