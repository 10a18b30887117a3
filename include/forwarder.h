/* include/forwarder.h — a caching forwarder between getdns and the upstreams.
 *
 * getdns 1.6.0 in stub mode keeps nothing between lookups: validating a name
 * two zones below the trust anchor costs it about eight upstream queries
 * (DNSKEY and DS of every zone on the way), every time. daneguard therefore
 * gives getdns one upstream of its own, on 127.0.0.1 (UDP and TCP), that answers
 * from a cache of raw upstream responses (DNSKEY, DS and everything else, for
 * their TTL) and forwards misses to the configured upstreams. getdns still
 * validates every answer itself; the forwarder only saves the round trips.
 * It is used when the transports are UDP first (TCP on truncation); with
 * DNS-over-TLS in the list, or TCP first, getdns talks to the upstreams
 * directly, over its own reused connections.
 */
#ifndef DANEGUARD_FORWARDER_H
#define DANEGUARD_FORWARDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "config.h"

struct forwarder;

struct forwarder_stats {
    uint64_t queries;  /* from getdns */
    uint64_t hits;     /* answered from the cache */
    uint64_t upstream; /* queries sent upstream, retries included */
    uint64_t failures; /* queries no upstream answered */
};

/* Listen on 127.0.0.1 (a port the kernel picks, UDP and TCP alike) and forward
 * to cfg's upstreams over UDP, and TCP on truncation. The listening address goes
 * to *addr. Returns 0 or -1 with a message in err. */
int forwarder_new(uv_loop_t *loop, const struct config_resolver *cfg, struct forwarder **out,
                  struct sockaddr_storage *addr, char *err, size_t errlen);

/* Close everything; the memory goes once libuv has released the handles.
 * NULL is a no-op. */
void forwarder_free(struct forwarder *fw);

void forwarder_get_stats(const struct forwarder *fw, struct forwarder_stats *st);

#endif
