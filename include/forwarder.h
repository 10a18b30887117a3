/* include/forwarder.h — a caching forwarder between getdns and the upstreams.
 *
 * getdns 1.6.0 in stub mode keeps nothing between lookups: validating a name
 * two zones below the trust anchor costs it about eight upstream queries
 * (DNSKEY and DS of every zone on the way), every time. daneguard therefore
 * gives getdns one upstream of its own, on 127.0.0.1 (UDP and TCP), that answers
 * from a cache of raw upstream responses (DNSKEY, DS and everything else, for
 * their TTL, never past their signatures) and forwards misses to the
 * configured upstreams: identical queries in flight share one request, whose
 * retransmits go beside the earlier tries (adaptive timeouts per upstream) and
 * whose first reply matching the question is taken. getdns still validates
 * every answer itself; the forwarder only saves the round trips, and drops
 * what a bogus validation used (forwarder_purge()).
 * It is used whatever the transports: getdns only ever talks to it, over
 * loopback, and it speaks to the upstreams over UDP, TCP and DNS-over-TLS in
 * dns_transport_list order (TCP and TLS on kept-open, pipelined connections,
 * upconn.h), backing off a transport that fails for an upstream, and never
 * falling back from TLS with GETDNS_AUTHENTICATION_REQUIRED.
 */
#ifndef DANEGUARD_FORWARDER_H
#define DANEGUARD_FORWARDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "config.h"
#include "upconn.h"

struct forwarder;

struct forwarder_stats {
    uint64_t queries;     /* from getdns */
    uint64_t hits;        /* answered from the cache */
    uint64_t joined;      /* joined the same query already in flight */
    uint64_t upstream;    /* queries sent upstream, retries included */
    uint64_t retransmits; /* of those, sent beside an overdue one */
    uint64_t mismatched;  /* responses dropped: wrong source, ID or question */
    uint64_t failures;    /* queries no upstream answered */
    uint64_t purged;      /* cached answers dropped after bogus validations */
};

/* Listen on 127.0.0.1 (a port the kernel picks, UDP and TCP alike) and forward
 * to cfg's upstreams over cfg's transports (UDP answers that come truncated
 * again over TCP or TLS). The listening address goes to *addr. Returns 0 or
 * -1 with a message in err. */
int forwarder_new(uv_loop_t *loop, const struct config_resolver *cfg, struct forwarder **out,
                  struct sockaddr_storage *addr, char *err, size_t errlen);

/* Close everything; the memory goes once libuv has released the handles.
 * NULL is a no-op. */
void forwarder_free(struct forwarder *fw);

/* A validation of (qname, qtype) came out bogus; msg (may be NULL) is the
 * answer getdns validated. Drops the cached upstream answer for it and the
 * DNSKEY and DS answers of every name at and above qname and above the owners
 * and RRSIG signers in msg's answer and authority sections (the zones the
 * validation went through), so that asking again goes upstream, to another
 * upstream first when there is one. NULL fw is a no-op. */
void forwarder_purge(struct forwarder *fw, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                     const uint8_t *msg, size_t len);

void forwarder_get_stats(const struct forwarder *fw, struct forwarder_stats *st);

/* An in-process query (upstream.c's validated-key path, keycache.h): the
 * answer getdns would get for (qname, qtype, IN) with DO and CD, from the
 * cache or upstream, joined to the same query in flight. msg is the upstream
 * answer as cached (scrub_for_validator() done, TTLs capped by the RRSIGs),
 * valid only during the call; NULL when no answer came before the deadline. */
typedef void (*forwarder_answer_cb)(void *arg, const uint8_t *msg, size_t len);
struct forwarder_lookup;

/* Returns 1 when answered from the cache: *msg and *len point at the answer
 * (TTLs aged), valid until the next call into fw, and cb never runs. 0 when
 * pending: cb runs once, later, from the loop, unless
 * forwarder_lookup_cancel(*handle) ran first; *handle is invalid once cb has
 * run. -1 when it cannot start (NULL or closing fw, the forwarder full, out
 * of memory): cb never runs. */
int forwarder_lookup(struct forwarder *fw, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                     forwarder_answer_cb cb, void *arg, struct forwarder_lookup **handle,
                     const uint8_t **msg, size_t *len);

/* cb of a pending lookup will not run; the upstream query goes on (its
 * answer is cached). NULL is a no-op. */
void forwarder_lookup_cancel(struct forwarder_lookup *handle);

struct probe;
/* Consult probe (probe.h, may be NULL; not owned, outlives fw's use of it)
 * when choosing an upstream: one that strips DNSSEC is skipped while another
 * is known to pass it through. NULL fw is a no-op. */
void forwarder_set_probe(struct forwarder *fw, const struct probe *probe);
/* The DNSSEC probe's queries (probe.h): each to one upstream, over the
 * transport a client query to it would take now (forwarder_probe_transport(),
 * dns_transport_list order, back-offs honoured), on the forwarder's own
 * kept-open TCP or TLS connection, so TLS authentication and pins apply and
 * nothing goes in clear beside DNS-over-TLS. Not cached, not joined to client
 * queries, not counted in the upstream's figures. */
struct forwarder_probe;

/* The transport the forwarder would use for upstream u now:
 * CONFIG_TRANSPORT_UDP, _TCP or _TLS; -1 when fw is NULL or there is no
 * upstream u. */
int forwarder_probe_transport(const struct forwarder *fw, size_t u);

/* Send the query msg[0..len) to upstream u over TCP or TLS
 * (forwarder_probe_transport()); a fresh ID is written to msg[0..1]. 0: cb
 * runs once, later, with the raw answer (valid during the call) or NULL when
 * the query failed (connection, handshake or authentication); never after
 * forwarder_probe_cancel(*handle), nor once fw is closing. -1 (cb never runs,
 * *handle NULL): fw NULL or closing, no upstream u, its transport is UDP (the
 * caller asks over its own socket) or backed off, or out of memory. */
int forwarder_probe_query(struct forwarder *fw, size_t u, uint8_t *msg, size_t len,
                          forwarder_answer_cb cb, void *arg, struct forwarder_probe **handle);

/* Free a handle of forwarder_probe_query(): its cb will not run. The caller
 * frees every handle it got, from inside cb or later, before or after
 * forwarder_free(). NULL is a no-op. */
void forwarder_probe_cancel(struct forwarder_probe *handle);

/* What the forwarder knows of one configured upstream: for /metrics and the
 * status page. Transports are indexed UDP 0, TCP 1, TLS 2. */
struct forwarder_upstream_info {
    uint64_t sent, answered, lost; /* queries sent (retries included), answers, tries
                                      that went unanswered past their timeout */
    uint32_t lost_in_a_row;        /* unanswered since the last answer */
    uint32_t srtt_ms;              /* smoothed round trip (Unbound's srtt); 0 until measured */
    uint32_t rto_ms;               /* the timeout a try to it gets now */
    uint64_t since_answer_ms;      /* since its last answer; 0 when none yet */
    int measured;                  /* at least one answer: srtt_ms means something */
    uint64_t down_ms[3];           /* > 0: this transport is backed off for so long yet */
    struct upconn_stats conn[3];   /* TCP and TLS: the kept-open connection's counters */
};

/* Fill *out for upstream i (the order of the configuration). 0, or -1 when
 * fw is NULL or there is no upstream i. */
int forwarder_upstream_info(const struct forwarder *fw, size_t i,
                            struct forwarder_upstream_info *out);
#endif
