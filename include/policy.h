/* include/policy.h — what happens to a CONNECT, as one pure function of the
 * lookups: the policy table of design.md. No I/O, no clock.
 */
#ifndef DANEGUARD_POLICY_H
#define DANEGUARD_POLICY_H

#include <stddef.h>

#include "config.h"
#include "wire.h"

/* The outcome of one DNS lookup, as the policy sees it. */
struct policy_lookup {
    int timed_out; /* no upstream answered */
    int rcode;     /* DNS rcode */
    enum dns_security security;
    size_t records; /* records of the asked type in the answer */
};

struct policy_input {
    enum config_intercept mode;
    struct policy_lookup tlsa; /* TLSA at the base domain in use */
    size_t tlsa_usable;        /* usable TLSA records (dane_tlsa_count_usable) */
    struct policy_lookup a, aaaa;
    int ip_literal; /* the host is an address: no address lookups, no TLSA */
};

enum policy_action {
    POLICY_TUNNEL,         /* relay bytes untouched */
    POLICY_INTERCEPT_DANE, /* terminate, enforce the TLSA records */
    POLICY_INTERCEPT_PKIX, /* terminate, check the chain against the trust store */
    POLICY_REFUSE,         /* answer with the refusal page */
};

struct policy_decision {
    enum policy_action action;
    const char *reason; /* static text for logs and the refusal page */
};

/* Decide by the table: bogus addresses, bogus / indeterminate / timed-out /
 * SERVFAIL TLSA → refuse; secure TLSA with a usable record → DANE; anything
 * else (secure denial, only unusable records, insecure) → tunnel in `dane`
 * mode and PKIX in `all` mode. Fail closed: no soft-fail. */
void policy_decide(const struct policy_input *in, struct policy_decision *out);

const char *policy_action_name(enum policy_action a);

#endif
