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
    }
    return "?";
}

static int lookup_failed(const struct policy_lookup *l)
{
    return l->timed_out || l->security == DNS_BOGUS || l->security == DNS_INDETERMINATE ||
           (l->rcode != DNS_RCODE_NOERROR && l->rcode != DNS_RCODE_NXDOMAIN);
}

static void decide(struct policy_decision *out, enum policy_action a, const char *reason)
{
    out->action = a;
    out->reason = reason;
}

void policy_decide(const struct policy_input *in, struct policy_decision *out)
{
    const struct policy_lookup *t = &in->tlsa;
    enum policy_action no_dane =
        in->mode == CONFIG_INTERCEPT_ALL ? POLICY_INTERCEPT_PKIX : POLICY_TUNNEL;

    if (!in->ip_literal) {
        if (in->a.security == DNS_BOGUS || in->aaaa.security == DNS_BOGUS) {
            decide(out, POLICY_REFUSE,
                   "DNSSEC bogus: the host's address records "
                   "fail validation");
            return;
        }
        if (in->a.timed_out && in->aaaa.timed_out) {
            decide(out, POLICY_REFUSE, "address lookup timed out");
            return;
        }
        if (lookup_failed(&in->a) && lookup_failed(&in->aaaa)) {
            decide(out, POLICY_REFUSE, "address lookup failed");
            return;
        }
        if (in->a.records == 0 && in->aaaa.records == 0) {
            decide(out, POLICY_REFUSE,
                   "no usable address: the host has no A or "
                   "AAAA records");
            return;
        }
    } else {
        {
            decide(out, no_dane, "IP address literal: no TLSA lookup");
            return;
        }
    }

    if (t->timed_out) {
        decide(out, POLICY_REFUSE, "TLSA lookup timed out");
        return;
    }
    if (t->security == DNS_BOGUS) {
        decide(out, POLICY_REFUSE, "DNSSEC bogus: the TLSA records fail validation");
        return;
    }
    if (t->security == DNS_INDETERMINATE) {
        decide(out, POLICY_REFUSE,
               "DNSSEC indeterminate: the TLSA records could not "
               "be validated");
        return;
    }
    if (t->rcode != DNS_RCODE_NOERROR && t->rcode != DNS_RCODE_NXDOMAIN) {
        decide(out, POLICY_REFUSE, "TLSA lookup failed (SERVFAIL or refused)");
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
    if (in->tlsa_usable == 0) {
        decide(out, no_dane, "only unusable TLSA records: no DANE");
        return;
    }
    {
        decide(out, POLICY_INTERCEPT_DANE, "secure TLSA records: DANE enforced");
        return;
    }
}
