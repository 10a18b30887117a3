/* include/lookup.h — the in-process lookup API for the proxy and the CLI:
 * name + type → the records and their DNSSEC status, through the same resolver
 * core and cache as the DNS server. Also the helpers that read addresses, TLSA
 * records and CNAME targets out of an answer (RFC 7671 §7 base domains).
 */
#ifndef DANEGUARD_LOOKUP_H
#define DANEGUARD_LOOKUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "resolver.h"
#include "wire.h"

struct lookup;

struct lookup_result {
    int timed_out;              /* no upstream answered in time */
    int rcode;                  /* DNS rcode of the answer */
    enum dns_security security; /* of the answer (bogus data still comes back) */
    const uint8_t *msg;         /* the whole reply, DNSSEC records kept; valid only
                                   during the callback */
    size_t len;
};

typedef void (*lookup_cb)(void *arg, const struct lookup_result *res);

#define LOOKUP_EBADNAME -1 /* not a domain name */
#define LOOKUP_EBUSY -2    /* the resolver refused: out of memory or too many lookups */

/* Look up name/qtype with DO and CD set: the data comes back even when bogus,
 * with its status. cb runs exactly once, from the loop (never inside this call),
 * unless lookup_cancel() comes first. The lookup holds a reference to r until
 * it is done (resolver_ref()), so it finishes on r whatever replaces r. *out
 * may be NULL when the caller never cancels. Returns 0, LOOKUP_EBADNAME or
 * LOOKUP_EBUSY (cb never runs then). */
int lookup_start(struct resolver *r, const char *name, uint16_t qtype, lookup_cb cb, void *arg,
                 struct lookup **out);

/* cb will not run; the lookup is freed. NULL is a no-op. Only before cb has
 * run: once it has, the lookup is gone (forget the pointer in cb). */
void lookup_cancel(struct lookup *l);

/* Every helper below walks the CNAME/DNAME chain from the question's name
 * (scrub_chain_end(): at most SCRUB_MAX_LINKS links, a loop is an error) and
 * takes records only from the name where it ends, compared case-insensitively:
 * never "every record of the type" or "the last CNAME" of the answer. */

/* The addresses at the chain's end, of the question's type (A or AAAA; none for
 * another type), as sockaddrs with port, at most max. Returns how many. */
size_t lookup_addresses(const struct lookup_result *res, uint16_t port,
                        struct sockaddr_storage *out, size_t max);

/* Call fn for the rdata of every record of type qtype at the chain's end.
 * Returns how many. */
size_t lookup_each_rdata(const struct lookup_result *res, uint16_t qtype,
                         void (*fn)(void *arg, const uint8_t *rdata, size_t len), void *arg);

/* When the chain has links (CNAME or DNAME), write its end ("host.example.") into
 * out and return 1; 0 when it has none; -1 on a malformed answer, a loop or a
 * chain longer than SCRUB_MAX_LINKS. */
int lookup_cname_target(const struct lookup_result *res, char *out, size_t cap);

#endif
