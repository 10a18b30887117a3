/* include/policy.h — what happens to a CONNECT, as one pure function of the
 * lookups: the policy table of design.md. No I/O, no clock.
 *
 * Every lookup that can change the decision is an input here, with the same
 * failure test (policy_lookup_failed): the A and AAAA lookups (which carry
 * the CNAME chain, if any), the TLSA lookup at the host and the TLSA lookup at
 * the CNAME target (RFC 7671 §7). A failed lookup, or one that could not
 * start, never reads as "no TLSA".
 */
#ifndef DANEGUARD_POLICY_H
#define DANEGUARD_POLICY_H

#include <stddef.h>

#include "config.h"
#include "wire.h"

/* What an address answer says about CNAMEs on the way to the addresses. */
enum policy_cname {
    POLICY_CNAME_NONE,      /* no CNAME in the answer */
    POLICY_CNAME_FOLLOWED,  /* a CNAME chain whose final target could be read */
    POLICY_CNAME_UNREADABLE /* a CNAME whose target cannot be read or looked up */
};

/* The outcome of one DNS lookup, as the policy sees it. */
struct policy_lookup {
    int not_started; /* the lookup could not start (too many in flight, name
                        too long): it counts as failed, never as empty */
    int timed_out;   /* no upstream answered */
    int rcode;       /* DNS rcode */
    enum dns_security security;
    size_t records;          /* records of the asked type in the answer */
    enum policy_cname cname; /* A and AAAA only */
};

struct policy_input {
    enum config_intercept mode;
    int ip_literal; /* the host is an address: no lookups at all */
    int no_tlsa;    /* plain HTTP: no TLSA lookups, the addresses alone decide */
    int exception;  /* the host is in proxy.exceptions: no TLSA lookups; validated
                       addresses → tunnel untouched, in either mode */
    struct policy_lookup a, aaaa;
    struct policy_lookup tlsa; /* TLSA at _port._tcp.host */
    size_t tlsa_usable;        /* its usable records (dane_tlsa_count_usable) */
    int tlsa_overflow;         /* not all of its records could be kept */
    /* TLSA at _port._tcp.<CNAME target>: looked up when policy_wants_target()
     * says so (else ignored); not_started when the name cannot be made. */
    struct policy_lookup target_tlsa;
    size_t target_tlsa_usable;
    int target_tlsa_overflow;
    /* the resolver validates without signature time checks (the system
     * clock is not synchronized, clock_sync.h): DANE cannot be enforced */
    int clock_unsynced;
};

enum policy_action {
    POLICY_TUNNEL,         /* relay bytes untouched */
    POLICY_INTERCEPT_DANE, /* terminate, enforce the TLSA records */
    POLICY_INTERCEPT_PKIX, /* terminate, check the chain against the trust store */
    POLICY_REFUSE,         /* the refusal page (TLS with a minted certificate):
                              a DNSSEC failure, a possible attack */
    POLICY_FAIL,           /* a plain error status (`status`), no TLS, no
                              certificate: the name does not exist, has no
                              address or cannot be looked up */
};

struct policy_decision {
    enum policy_action action;
    const char *reason; /* static text for logs, the refusal page and error bodies */
    int status;         /* POLICY_FAIL: 502, or 504 for timeouts; else 0 */
    int use_target;     /* the TLSA at the CNAME target decide (RFC 7671 §7) */
};

/* The failure test applied to every lookup: it could not start, timed out,
 * is bogus or indeterminate, or its rcode is neither NOERROR nor NXDOMAIN
 * (SERVFAIL, REFUSED, FORMERR, an unparsable answer ...). */
int policy_lookup_failed(const struct policy_lookup *l);

/* Whether an address answer that did not fail is secure and followed a CNAME:
 * then the TLSA at the chain's target must be looked up (RFC 7671 §7) and
 * put in in->target_tlsa before policy_decide(). */
int policy_wants_target(const struct policy_input *in);

/* Decide by the table. In order: a bogus address answer → refuse; not one
 * lookup could start → fail 502; a failed TLSA lookup at the host (a timeout
 * too), too many TLSA records, an unreadable secure CNAME, a failed TLSA
 * lookup at the CNAME target or one that could not start → refuse; no
 * address from an answer that did not fail → fail (502, 504 when an address
 * lookup timed out; an indeterminate answer → refuse); then the TLSA in use —
 * the target's when it holds a secure usable record, else the host's —
 * secure with a usable record → DANE; anything else (secure denial, only
 * unusable records, insecure) → tunnel in `dane` mode and PKIX in `all` mode.
 * An exception skips every TLSA step but none of the address steps: validated
 * addresses → tunnel (in both modes), bogus ones → refuse. A host that would
 * get DANE while the clock is not synchronized → refuse (POLICY_REASON_CLOCK).
 * Fail closed: no soft-fail. */
void policy_decide(const struct policy_input *in, struct policy_decision *out);

/* The reason of the refusal for a DANE host while the clock is not synchronized. */
#define POLICY_REASON_CLOCK                                                                        \
    "the system clock is not synchronized: DNSSEC signatures cannot be checked, so DANE cannot "  \
    "be enforced (refused until the clock is synchronized)"


const char *policy_action_name(enum policy_action a);

#endif
