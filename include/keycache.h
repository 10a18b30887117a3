/* include/keycache.h — validated DNSKEY sets by zone, and new answers
 * validated against them by getdns (Unbound's validator/val_kcache.h idea).
 *
 * getdns 1.6.0 keeps nothing between lookups: every new name costs it the
 * signatures of the whole chain (DNSKEY at the anchor, DS, DNSKEY of the
 * zone, the answer). Once a full lookup has proven a zone's DNSKEY RRset, it
 * is kept here, and a new name in that zone is validated by getdns's own
 * getdns_validate_dnssec2() with that RRset as the support records and, as
 * the trust anchor, a local RSA key that signed the RRset once getdns had
 * validated it (keycache.c says why): the local signature (a cheap RSA
 * check) and the answer's signature by the zone's key, both against the
 * current time (RFC 4035 §5.3.1, §5.3.3). getdns stays the validator; this
 * module only chooses what it is handed, and makes it locally.
 *
 * Only the plainest answers take this path (keycache_validate()): NOERROR,
 * the answer section the RRset asked for at the query name and its RRSIGs,
 * nothing in the authority section, only OPT in the additional one; every
 * RRSIG by one signer that is the query name or an ancestor of it, with a
 * label count equal to the owner's (no wildcard expansion, which needs a
 * denial proof); no validated zone known between the signer and the name (a
 * delegation the parent's signature must not reach past); a type that is
 * not DNSSEC's own (DS, DNSKEY, RRSIG, NSEC, NSEC3), not CNAME or DNAME and
 * not a meta type. Anything else, and anything getdns does not call secure,
 * goes back to the full lookup, so the worst case is what it was without
 * this cache.
 *
 * A DNSKEY RRset is learnt (keycache_learn()) only from a full lookup that
 * getdns called secure, of an answer of that same plain shape, and only
 * after getdns has validated that RRset on its own from the configured trust
 * anchors with the records of the lookup's validation chain (so a DNSKEY
 * record slipped into some other answer of the chain is never taken), and
 * the answer against it. It is kept for the smallest TTL of its records and
 * of the zone's DS records, at most KEYCACHE_MAX_TTL; its signatures'
 * validity is checked again at every use.
 */
#ifndef DANEGUARD_KEYCACHE_H
#define DANEGUARD_KEYCACHE_H

#include <getdns/getdns.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KEYCACHE_MAX_TTL 3600 /* s, the longest a learnt RRset is kept */
#define KEYCACHE_MAX_ZONES 1024 /* a few KiB of getdns dicts each */

#define KEYCACHE_ERRORS(X)                                                                         \
    X(KEYCACHE_EFORMERR, -1, "malformed answer")                                                   \
    X(KEYCACHE_ETYPE, -2, "a type the key cache does not answer")                                  \
    X(KEYCACHE_ERCODE, -3, "not a NOERROR answer with data")                                       \
    X(KEYCACHE_EANSWER, -4, "answer records other than the RRset asked for")                       \
    X(KEYCACHE_ENOSIG, -5, "no RRSIG over the RRset")                                              \
    X(KEYCACHE_ESIGNER, -6, "signer not the name or an ancestor, or several signers")              \
    X(KEYCACHE_EWILDCARD, -7, "a wildcard expansion")                                              \
    X(KEYCACHE_EEXTRA, -8, "authority or additional records")                                      \
    X(KEYCACHE_ENOKEY, -9, "no validated DNSKEY set for the signer")                               \
    X(KEYCACHE_ECLOSER, -10, "a validated zone lies between the signer and the name")              \
    X(KEYCACHE_EINSECURE, -11, "getdns did not find it secure")                                    \
    X(KEYCACHE_ECHAIN, -12, "the validation chain does not prove the DNSKEY set")                  \
    X(KEYCACHE_ENOMEM, -13, "out of memory")

enum keycache_error {
#define KEYCACHE_ENUM(name, value, text) name = value,
    KEYCACHE_ERRORS(KEYCACHE_ENUM)
#undef KEYCACHE_ENUM
};

const char *keycache_strerror(int err);

struct keycache;

struct keycache_stats {
    uint64_t zones;     /* DNSKEY sets held now */
    uint64_t learned;   /* sets stored */
    uint64_t secure;    /* answers getdns validated with a kept set */
    uint64_t fallbacks; /* answers handed back to the full lookup */
    uint64_t purged;    /* sets dropped after bogus answers, flushes not counted */
};

/* A cache of at most max_zones sets (0: KEYCACHE_MAX_ZONES); anchors are the
 * configured trust anchors (DS or DNSKEY RR dicts), copied. NULL when out of
 * memory. */
struct keycache *keycache_new(size_t max_zones, const getdns_list *anchors);

/* NULL is a no-op. */
void keycache_free(struct keycache *kc);

/* Drop every set (reload, a clock change, the resolver's flush). */
void keycache_flush(struct keycache *kc);

/* The signer of msg's answer to (qname, qtype) when msg has the plain shape
 * above (the signer into signer, wire format, as written), else a negative
 * keycache_error. Pure. */
int keycache_answer_signer(const uint8_t *msg, size_t len, const uint8_t *qname, size_t qname_len,
                           uint16_t qtype, uint8_t signer[255], size_t *signer_len);

/* Validate msg, an upstream answer to (qname, qtype, IN) with DNSSEC records,
 * with the kept set of its signer: getdns_validate_dnssec2() at time now with
 * skew seconds allowed. Returns 1 when getdns calls it secure, else a
 * negative keycache_error (the caller runs the full lookup). now_ms is a
 * monotonic clock for expiry. */
int keycache_validate(struct keycache *kc, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                      const uint8_t *msg, size_t len, uint64_t now_ms, time_t now, uint32_t skew);

/* A full lookup of (qname, qtype) that getdns called secure: msg its answer,
 * chain its "validation_chain" list. Stores the signer's DNSKEY set when the
 * rules above allow; a set kept already is replaced only when stale is set
 * (the kept set failed this answer: a key rollover). Returns 2 when stored
 * with the local key as its anchor, 1 when stored with itself as the anchor,
 * 0 when there was nothing to learn (an answer of another shape, the set
 * kept already), or a negative keycache_error. */
int keycache_learn(struct keycache *kc, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                   const uint8_t *msg, size_t len, const getdns_list *chain, int stale,
                   uint64_t now_ms, time_t now, uint32_t skew);

/* A lookup of qname came out bogus: drop the sets of qname and every name
 * above it, and of the owners and RRSIG signers in msg (may be NULL) and
 * every name above them. Returns how many were dropped. */
unsigned keycache_purge(struct keycache *kc, const uint8_t *qname, size_t qname_len,
                    const uint8_t *msg, size_t len);

void keycache_get_stats(const struct keycache *kc, struct keycache_stats *st);

#endif
