/* include/scrub.h — scrubbing upstream answers before anything trusts them:
 * only the CNAME/DNAME chain that starts at the query name, the records of the
 * type asked for at its end, and the SOA/NSEC/NSEC3 proofs that belong to them
 * stay (design.md invariant 2; Unbound's iterator/iter_scrub.c and
 * val_check_nonsecure() do the same job).
 *
 * getdns validates each RRset of an answer on its own and calls the answer
 * secure when every one of them verifies, so a validly signed RRset from
 * anywhere else (an appended "x CNAME y", an A for another name, another
 * host's TLSA) would otherwise be served with AD, cached, and believed by the
 * lookup API. Everything here is pure: a wire message in, a wire message out.
 *
 * What stays (names compared case-insensitively):
 * - rcode NOERROR or NXDOMAIN: in the answer section, from the query name on,
 *   each name's CNAME (a single target), or the DNAME at an ancestor that
 *   applies to it (RFC 6672) with the CNAME synthesized from it (the
 *   upstream's copy when it matches, else one made with the DNAME's TTL), up to
 *   SCRUB_MAX_LINKS links; then the records of the query type at the last name
 *   (every type for ANY; for a CNAME query the chain stops at the query name);
 *   and the RRSIGs that cover a kept RRset (same owner, type covered). The
 *   kept records are written in chain order.
 *   In the authority section: when the last name has no record of the type
 *   asked for, the SOA of its closest enclosing zone; the NSEC/NSEC3 RRsets
 *   whose RRSIG's signer is that zone (or, for a wildcard expansion in the
 *   answer, the expanded RRset's signer); their RRSIGs. Unsigned NSEC/NSEC3
 *   never stay; for a secure answer an unsigned SOA does not either. NS and
 *   everything else go.
 *   In the additional section: nothing for a secure or bogus answer (getdns
 *   validates none of it); for an insecure one, the A/AAAA RRsets (and RRSIGs)
 *   of names that a kept NS, MX or SRV record points to.
 * - any other rcode: no records at all.
 * - the first OPT record of the additional section always stays (it carries
 *   the extended rcode bits).
 * A secure answer whose chain ends without the type asked for and without a
 * kept NSEC/NSEC3 proof is bogus: that is an unproven denial (a stripped
 * answer with signed records from elsewhere appended), never a secure NODATA.
 */
#ifndef DANEGUARD_SCRUB_H
#define DANEGUARD_SCRUB_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define SCRUB_MAX_LINKS 16 /* CNAME/DNAME links followed from the query name */

#define SCRUB_ERRORS(X)                                                                            \
    X(SCRUB_EFORMERR, -1, "malformed upstream answer")                                             \
    X(SCRUB_EQUESTION, -2, "the answer is for another question")                                   \
    X(SCRUB_ELOOP, -3, "the CNAME/DNAME chain loops")                                              \
    X(SCRUB_ELONG, -4, "the CNAME/DNAME chain is too long")                                        \
    X(SCRUB_ECONFLICT, -5, "one name has several CNAME or DNAME targets")                          \
    X(SCRUB_ENOMEM, -6, "out of memory")

enum scrub_error {
#define SCRUB_ENUM(name, value, text) name = value,
    SCRUB_ERRORS(SCRUB_ENUM)
#undef SCRUB_ENUM
};

const char *scrub_strerror(int err);

/* What scrub_message() found and did. */
struct scrub_report {
    enum dns_security security; /* the status to serve: the input one, or DNS_BOGUS
                                   for a secure answer that denies without proof */
    unsigned links;             /* CNAME/DNAME links followed from the query name */
    unsigned dropped_answer;    /* answer records off the chain (suspicious) */
    unsigned dropped_other;     /* authority and additional records removed (routine) */
    unsigned synthesized;       /* CNAMEs made from a DNAME */
    int answered;               /* the chain's end holds the type asked for */
    int denial_proof;           /* NSEC/NSEC3 records were kept in the authority */
};

/* Scrub msg (an upstream answer to q's name and type, judged sec by the
 * validator) into a new message in *out (malloc'd, the caller frees it; NULL
 * on failure), header and question copied, every name uncompressed (rdata
 * names too, for the types that hold them). rep is filled on success.
 * Returns 0; SCRUB_EQUESTION when msg is not a response to q (QR clear, more
 * than one question, or another name, type or class); SCRUB_EFORMERR,
 * SCRUB_ELOOP, SCRUB_ELONG, SCRUB_ECONFLICT (serve SERVFAIL); SCRUB_ENOMEM. */
int scrub_message(const struct dns_query *q, enum dns_security sec, const uint8_t *msg, size_t len,
                  uint8_t **out, size_t *out_len, struct scrub_report *rep);

/* The end of the CNAME/DNAME chain that starts at the question's name in msg's
 * answer section, by the rules above (for the lookup API, on replies that were
 * scrubbed already: take records only from this name). Writes the name (wire
 * format, as the upstream spelt it) into end, the question's type into *qtype
 * and the number of links into *links (each may be NULL). Returns 0, or
 * SCRUB_EFORMERR (no single question), SCRUB_ELOOP, SCRUB_ELONG,
 * SCRUB_ECONFLICT, SCRUB_ENOMEM. */
int scrub_chain_end(const uint8_t *msg, size_t len, uint8_t end[DNS_MAX_NAME], size_t *end_len,
                    uint16_t *qtype, unsigned *links);

/* Cut what a validator would check for nothing from an upstream answer, in
 * place: when msg answers with data (ANCOUNT > 0) and its authority section
 * holds only NS records and their RRSIGs (the zone's delegation, sent along
 * by servers without minimal responses), the authority section and every
 * additional record but OPT are removed. Each signed RRset removed is a
 * signature getdns no longer verifies (each costs it two EC group set-ups
 * and a verify). Denial proofs (SOA, NSEC, NSEC3) and answers without data
 * are left whole. A message whose names before the cut would read bytes past
 * it (labels reached by a backward pointer may run on forwards) or whose OPT
 * owner is a pointer is left whole too, so the result stays well-formed and
 * means what it meant. Returns 1 when cut, 0 when left as it was,
 * SCRUB_EFORMERR. */
int scrub_for_validator(uint8_t *msg, size_t *len);

#endif
