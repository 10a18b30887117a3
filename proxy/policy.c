/* proxy/policy.c — the policy table of design.md as one pure function. */
#include "policy.h"

const char *policy_action_name(enum policy_action a)
{
    switch (a) {
    case POLICY_TUNNEL:
        return "tunnel";
    case POLICY_INTERCEPT_DANE:
        return "intercept (DANE)";
    case POLICY_INTERCEPT_PKIX:
        return "intercept (PKIX)";
    case POLICY_REFUSE:
        return "refuse";
    case POLICY_FAIL:
        return "fail";
    }
    return "?";
}

int policy_lookup_failed(const struct policy_lookup *l)
{
    return l->not_started || l->timed_out || l->security == DNS_BOGUS ||
           l->security == DNS_INDETERMINATE ||
           (l->rcode != DNS_RCODE_NOERROR && l->rcode != DNS_RCODE_NXDOMAIN);
}

/* An address answer whose CNAME chain, if any, is proven by DNSSEC. */
static int secure_answer(const struct policy_lookup *l)
{
    return !policy_lookup_failed(l) && l->security == DNS_SECURE;
}

int policy_wants_target(const struct policy_input *in)
{
    if (in->ip_literal || in->no_tlsa || in->exception)
        return 0;
    return (secure_answer(&in->a) && in->a.cname == POLICY_CNAME_FOLLOWED) ||
           (secure_answer(&in->aaaa) && in->aaaa.cname == POLICY_CNAME_FOLLOWED);
}

static int unreadable_cname(const struct policy_input *in)
{
    return (secure_answer(&in->a) && in->a.cname == POLICY_CNAME_UNREADABLE) ||
           (secure_answer(&in->aaaa) && in->aaaa.cname == POLICY_CNAME_UNREADABLE);
}

static int validated_addresses(const struct policy_lookup *l)
{
    return !policy_lookup_failed(l) && l->records > 0;
}

static int unavailable(const struct policy_lookup *l)
{
    return l->timed_out || l->not_started;
}

/* Answered, but not validated (a timeout is INDETERMINATE too, but unavailable). */
static int indeterminate(const struct policy_lookup *l)
{
    return l->security == DNS_INDETERMINATE && !unavailable(l);
}

static void decide(struct policy_decision *out, enum policy_action a, const char *reason)
{
    out->action = a;
    out->reason = reason;
    out->status = 0;
}

static void fail(struct policy_decision *out, int status, const char *reason)
{
    decide(out, POLICY_FAIL, reason);
    out->status = status;
}

/* Why a TLSA lookup that policy_lookup_failed() refuses. */
static const char *tlsa_failure(const struct policy_lookup *t, int at_target)
{
    if (t->not_started)
        return at_target ? "the TLSA lookup at the CNAME target could not start (resolver "
                           "overloaded, or the name is too long)"
                         : "the TLSA lookup could not start (resolver overloaded)";
    if (t->timed_out)
        return at_target ? "TLSA lookup at the CNAME target timed out" : "TLSA lookup timed out";
    if (t->security == DNS_BOGUS)
        return at_target ? "DNSSEC bogus: the TLSA records at the CNAME target fail validation"
                         : "DNSSEC bogus: the TLSA records fail validation";
    if (t->security == DNS_INDETERMINATE)
        return at_target ? "DNSSEC indeterminate: the TLSA records at the CNAME target could "
                           "not be validated"
                         : "DNSSEC indeterminate: the TLSA records could not be validated";
    return at_target ? "TLSA lookup at the CNAME target failed (SERVFAIL, REFUSED or a "
                       "malformed answer)"
                     : "TLSA lookup failed (SERVFAIL, REFUSED or a malformed answer)";
}

void policy_decide(const struct policy_input *in, struct policy_decision *out)
{
    const struct policy_lookup *t = &in->tlsa;
    size_t usable = in->tlsa_usable;
    enum policy_action no_dane =
        in->mode == CONFIG_INTERCEPT_ALL && !in->no_tlsa ? POLICY_INTERCEPT_PKIX : POLICY_TUNNEL;

    out->use_target = 0;
    if (in->ip_literal) {
        decide(out, no_dane, "IP address literal: no TLSA lookup");
        return;
    }

    /* DNSSEC failures first: they deserve the refusal page. */
    if (in->a.security == DNS_BOGUS || in->aaaa.security == DNS_BOGUS) {
        decide(out, POLICY_REFUSE, "DNSSEC bogus: the host's address records fail validation");
        return;
    }
    if (!in->no_tlsa && !in->exception) {
        /* Not one lookup could start: no DNSSEC state at all, nothing to sign for. */
        if (in->a.not_started && in->aaaa.not_started && t->not_started) {
            fail(out, 502, "the resolver is overloaded: the site cannot be looked up now");
            return;
        }
        if (policy_lookup_failed(t)) {
            decide(out, POLICY_REFUSE, tlsa_failure(t, 0));
            return;
        }
        if (in->tlsa_overflow) {
            decide(out, POLICY_REFUSE, "more TLSA data than daneguard keeps: refused");
            return;
        }
        if (unreadable_cname(in)) {
            decide(out, POLICY_REFUSE,
                   "the host's secure CNAME has a target that cannot be looked up");
            return;
        }
        if (policy_wants_target(in)) {
            const struct policy_lookup *tt = &in->target_tlsa;
            if (policy_lookup_failed(tt)) {
                decide(out, POLICY_REFUSE, tlsa_failure(tt, 1));
                return;
            }
            if (in->target_tlsa_overflow) {
                decide(out, POLICY_REFUSE,
                       "more TLSA data at the CNAME target than daneguard keeps: refused");
                return;
            }
            /* RFC 7671 §7: the target's records when it has usable ones, else
             * the host's own (both lookups succeeded). */
            if (tt->security == DNS_SECURE && tt->records > 0 && in->target_tlsa_usable > 0) {
                t = tt;
                usable = in->target_tlsa_usable;
                out->use_target = 1;
            }
        }
    }

    /* Addresses: validated ones only (secure or insecure answers). */
    if (!validated_addresses(&in->a) && !validated_addresses(&in->aaaa)) {
        if (indeterminate(&in->a) || indeterminate(&in->aaaa))
            decide(out, POLICY_REFUSE,
                   "DNSSEC indeterminate: the host's addresses could not be validated");
        else if (in->a.timed_out || in->aaaa.timed_out)
            fail(out, 504, "address lookup timed out: the site cannot be looked up");
        else if (policy_lookup_failed(&in->a) || policy_lookup_failed(&in->aaaa))
            fail(out, 502,
                 "address lookup failed (SERVFAIL, REFUSED, a malformed answer, or the resolver "
                 "is overloaded)");
        else if (in->a.rcode == DNS_RCODE_NXDOMAIN || in->aaaa.rcode == DNS_RCODE_NXDOMAIN)
            fail(out, 502, "no such host (NXDOMAIN): the name does not exist");
        else
            fail(out, 502, "no address: the host has no A or AAAA records");
        return;
    }

    if (in->no_tlsa) {
        decide(out, POLICY_TUNNEL, "plain HTTP: no TLSA");
        return;
    }
    if (in->exception) {
        decide(out, POLICY_TUNNEL, "in proxy.exceptions: tunnelled untouched, DANE not enforced");
        return;
    }
    if (t->security == DNS_INSECURE) {
        decide(out, no_dane, "TLSA not signed (insecure zone): no DANE");
        return;
    }
    if (t->records == 0) {
        decide(out, no_dane, "no TLSA records (proven by DNSSEC)");
        return;
    }
    if (usable == 0) {
        decide(out, no_dane, "only unusable TLSA records: no DANE");
        return;
    }
    if (in->clock_unsynced) {
        decide(out, POLICY_REFUSE, POLICY_REASON_CLOCK);
        return;
    }
    decide(out, POLICY_INTERCEPT_DANE,
           out->use_target ? "secure TLSA records at the CNAME target: DANE enforced"
                           : "secure TLSA records: DANE enforced");
}
