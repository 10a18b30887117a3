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

/* Health of configured upstream i, from the forwarder (forwarder.h).
 * Returns 0, or -1 past the last upstream. */
struct forwarder_upstream_health;
int upstream_health(const struct upstream *up, size_t i, struct forwarder_upstream_health *h);

/* Fill cfg->upstreams from the nameserver lines of cfg->resolv_conf, skipping
 * every address daneguard itself listens on (it may be the system resolver).
 * Returns the number added, or -1 with a message in err. */
int upstream_from_resolv_conf(struct config_resolver *cfg, char *err, size_t errlen);

#endif
