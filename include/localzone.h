/* include/localzone.h — where a query name goes before any upstream sees it:
 * names answered here (local_data, hosts_file, and the zones RFC 6761, RFC
 * 6303 and RFC 8375 say a resolver serves itself, as Unbound does by default),
 * forward zones with their own upstreams, names under a negative trust anchor
 * (domain_insecure, RFC 7646), and the rebinding filter (rebind_protection).
 *
 * Which route a name takes (localzone_match()):
 * 1. a name that has local data (local_data, hosts_file) is answered here;
 * 2. otherwise the longest zone it is at or below decides, among the default
 *    local zones, the forward zones and the domain_insecure names; a forward
 *    zone or domain_insecure name wins over a local zone of the same name (so
 *    a router's "home.arpa" or "168.192.in-addr.arpa" can be reached); a
 *    domain_insecure name inside a forward zone keeps the zone's route (its
 *    upstreams, unvalidated), never the main upstreams;
 * 3. a local zone answers NXDOMAIN for a name without data (NODATA for a name
 *    with data below it); "localhost." answers 127.0.0.1 and ::1 for itself
 *    and every name below it (RFC 6761 §6.3);
 * 4. names outside all of them go to the validating upstreams.
 * Everything answered here, or through an unvalidated forward zone or a
 * domain_insecure name, is insecure: never AD, never bogus.
 *
 * Pure: no I/O but the hosts file read by localzone_new().
 */
#ifndef DANEGUARD_LOCALZONE_H
#define DANEGUARD_LOCALZONE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "wire.h"

struct localzone;

enum localzone_route {
    LOCALZONE_UPSTREAM, /* the validating upstreams */
    LOCALZONE_LOCAL,    /* answered here: localzone_answer() */
    LOCALZONE_FORWARD,  /* a forward zone: m->zone is its index in cfg->forward_zones */
    LOCALZONE_INSECURE, /* under a domain_insecure name: the upstreams, unvalidated */
};

struct localzone_match {
    enum localzone_route route;
    size_t zone;  /* LOCALZONE_FORWARD: which forward zone */
    int insecure; /* under a domain_insecure name (a forward zone's answer is unvalidated) */
};

/* One resource record of local data, parsed. */
struct localzone_rr {
    uint8_t owner[DNS_MAX_NAME]; /* wire format, lowercased */
    size_t owner_len;
    uint16_t type;
    uint32_t ttl;
    uint16_t rdlen;
    uint8_t rdata[CONFIG_LOCAL_DATA_LEN]; /* uncompressed */
};

/* Parse one local_data line in Unbound's local-data syntax ("router.lan.
 * 3600 IN A 192.168.1.1"; TTL and class may be left out: 3600, IN; names are
 * absolute whether or not they end in a dot). 0, or -1 with a message in err. */
int localzone_rr_parse(const char *text, struct localzone_rr *rr, char *err, size_t errlen);

/* The table for cfg: its local_data, its hosts_file (read now; an error names
 * the file and line), its forward zones and domain_insecure names, and the
 * default local zones. 0, or -1 with a message in err. localzone_free(NULL)
 * is a no-op. */
int localzone_new(const struct config_resolver *cfg, struct localzone **out, char *err,
                  size_t errlen);
void localzone_free(struct localzone *lz);

/* The route of qname (wire format, any case). */
void localzone_match(const struct localzone *lz, const uint8_t *qname, size_t qname_len,
                     struct localzone_match *m);

/* For a name whose route is LOCALZONE_LOCAL: an authoritative-style response
 * (QR, AA, RA, the question, answer and authority records, uncompressed) to
 * (qname, qtype, IN) with ID 0, as if an upstream had sent it, into out.
 * 0, or WIRE_ENOSPC / WIRE_EBADNAME. */
int localzone_answer(const struct localzone *lz, const uint8_t *qname, size_t qname_len,
                     uint16_t qtype, uint8_t *out, size_t cap, size_t *out_len);

/* DNS rebinding protection (Unbound's private-address, dnsmasq's
 * stop-dns-rebind): remove from msg (a response with every name uncompressed,
 * as scrub_message() writes it), in place, each A or AAAA RRset that holds an
 * address other than a global one (and each HTTPS or SVCB RRset with such an
 * ipv4hint or ipv6hint, or with hints that do not read) (loopback, RFC 1918, link-local, unique-local,
 * ...: addr_kind_of(), the ranges the proxy refuses too) and the RRSIGs that
 * cover it. The first address removed goes to first (may be NULL) as text.
 * Returns the number of records removed, or WIRE_EFORMERR. */
int localzone_rebind_filter(uint8_t *msg, size_t *len, char *first, size_t first_len);

/* Whether rebind_protection applies to answers for names of this route. */
int localzone_rebind_applies(const struct localzone *lz, const struct localzone_match *m);

/* The domain_insecure names, as written, separated by ", " ("" for none). */
const char *localzone_insecure_text(const struct localzone *lz);

/* Counts, for logs: records of local data, default local zones in effect. */
void localzone_counts(const struct localzone *lz, size_t *records, size_t *zones);

#endif
