/* include/clients.h — the proxy's clients by source address: how many
 * connections each has open, for the per-client limits
 * (proxy.max_connections_per_client), and when a limit was last logged.
 *
 * A client's entry exists while it has a connection open: clients_ref() when a
 * connection is accepted, clients_unref() when it closes; the entry is freed
 * with its last reference, so the table never holds more entries than there
 * are open connections. The table is hashed with a per-process random seed.
 */
#ifndef DANEGUARD_CLIENTS_H
#define DANEGUARD_CLIENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct clients;
struct client;

/* An empty table; NULL when out of memory. Free it with clients_free(). */
struct clients *clients_new(void);

/* Frees the table and any entries left; NULL is a no-op. */
void clients_free(struct clients *cs);

/* The entry of sa's address (AF_INET or AF_INET6; a v4-mapped IPv6 address
 * is its IPv4 one; the port is ignored), created on first use, with one more
 * reference. The table owns it; the caller gives the reference back with
 * clients_unref(). NULL when out of memory or sa is not an IP address. */
struct client *clients_ref(struct clients *cs, const struct sockaddr *sa);

/* Drop one reference; the entry is freed with its last. NULL is a no-op. */
void clients_unref(struct clients *cs, struct client *c);

/* The references held, i.e. the client's open connections. */
unsigned client_refs(const struct client *c);

/* The client's address without a port ("127.0.0.2"), for log lines. */
const char *client_text(const struct client *c);

/* 1 when a "limit reached" line for this client may be logged now (none in
 * the last interval_ms; now_ms from uv_now()), and remembers now; else 0. */
int client_log_due(struct client *c, uint64_t now_ms, uint64_t interval_ms);

/* Entries in the table (distinct clients with a connection open). */
size_t clients_count(const struct clients *cs);

#endif
