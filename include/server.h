/* include/server.h — the DNS service for stub clients: UDP and TCP listeners
 * (IPv4 and IPv6), the allow list, and each query taken to the resolver core.
 * Replies over UDP are cut to the client's EDNS size with TC set when they do
 * not fit; TCP takes pipelined queries and answers each as soon as it can.
 */
#ifndef DANEGUARD_SERVER_H
#define DANEGUARD_SERVER_H

#include <uv.h>

#include "config.h"
#include "resolver.h"

struct dns_server;

struct dns_server_stats {
    uint64_t udp_queries, tcp_queries, refused, formerr, notimp, dropped;
    uint64_t tcp_connections, tcp_open;
    uint64_t jostled;         /* UDP queries dropped for a newer one (caps) */
    uint64_t shed;            /* UDP queries over a cap not let wait (no cache hit) */
    uint64_t expired;         /* queries answered SERVFAIL at their deadline */
    uint64_t tcp_idle_closed; /* TCP clients closed for want of a complete query */
};

/* Bind every cfg->listen address (UDP and TCP) on loop and serve queries through
 * r (not owned). Returns 0, or -1 with a message naming the address in err. */
int dns_server_new(uv_loop_t *loop, const struct config_resolver *cfg, struct resolver *r,
                   struct dns_server **out, char *err, size_t errlen);

/* Swap in a new resolver (not owned) and allow list, e.g. on reload. Queries
 * still waiting on the old resolver are answered SERVFAIL and cancelled first,
 * so the old resolver can be freed right after. */
void dns_server_reconfigure(struct dns_server *srv, const struct config_resolver *cfg,
                            struct resolver *r);

/* Answer nothing more, cancel every pending query, close every handle; the
 * server is freed once libuv has released them. NULL is a no-op. */
void dns_server_close(struct dns_server *srv);

void dns_server_get_stats(const struct dns_server *srv, struct dns_server_stats *st);

#endif
