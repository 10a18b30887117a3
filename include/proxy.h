/* include/proxy.h — the DANE-enforcing HTTP forward proxy: listeners, the
 * allow list, and each connection's phases (request → lookups → upstream TLS
 * → verdict → intercept, tunnel or refuse → relay; proxy/pconn.h says which
 * file holds which).
 */
#ifndef DANEGUARD_PROXY_H
#define DANEGUARD_PROXY_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "resolver.h"

struct proxy;

struct proxy_stats {
    uint64_t conns_total, conns_open, intercepted, tunnelled, refused, forbidden, http_requests;
    uint64_t pages_served;
    uint64_t exception_uses; /* CONNECTs tunnelled without DANE by proxy.exceptions */
    uint64_t failed;         /* CONNECTs answered with a plain error (no such name, ...) */
};

/* Open the CA in cfg->ca_dir (created on first start), load the trust store and
 * bind every listen address. r is used for every lookup; the proxy takes a
 * reference to it (resolver_ref()) and drops it in proxy_close(). Returns 0
 * or -1 with a message in err. */
int proxy_new(uv_loop_t *loop, const struct config *cfg, struct resolver *r, struct proxy **out,
              char *err, size_t errlen);

/* A new resolver and every setting but listen_addresses (logged when changed:
 * a restart rebinds). trust_store is read again, ca_dir opened when it changed
 * (loading or creating its CA), cert_cache_entries applied to the cache. The
 * new allow list applies to open connections too: those from clients it
 * leaves out are closed. Otherwise connections in progress keep what they
 * started with (their minted certificates included), lookups in flight
 * included: they finish on the resolver they started on, which they hold a
 * reference to; requests from now on use r (the proxy takes a reference and
 * drops the old one's). Returns 0, or -1 with a message naming the key in err
 * when the trust store or the CA cannot be loaded: then nothing changed, and r
 * is not used (the caller drops its reference). */
int proxy_reconfigure(struct proxy *px, const struct config *cfg, struct resolver *r, char *err,
                      size_t errlen);

/* Close the listeners and every connection; freed once libuv has released the
 * handles. NULL is a no-op. */
void proxy_close(struct proxy *px);

void proxy_get_stats(const struct proxy *px, struct proxy_stats *st);

#endif
