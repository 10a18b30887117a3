/* tests/unit/test_policy.c — proxy/policy.c against every row and column of the
 * policy table in design.md, plus the address rows and the edges between them
 * (timeouts, SERVFAIL, indeterminate, IP literals). */
#include "policy.h"

#include "unit.h"

static const struct policy_lookup OK_SECURE_ADDR = {0, DNS_RCODE_NOERROR, DNS_SECURE, 1};
static const struct policy_lookup NODATA_SECURE = {0, DNS_RCODE_NOERROR, DNS_SECURE, 0};

/* A host with a secure A record and a secure NODATA AAAA, the TLSA lookup as given. */
static struct policy_input input(enum config_intercept mode, struct policy_lookup tlsa,
                                 size_t usable)
{
    struct policy_input in = {
        .mode = mode,
        .tlsa = tlsa,
        .tlsa_usable = usable,
        .a = OK_SECURE_ADDR,
        .aaaa = NODATA_SECURE,
    };
    return in;
}

static enum policy_action decide(const struct policy_input *in)
{
    struct policy_decision d = {POLICY_TUNNEL, NULL};
    policy_decide(in, &d);
    CHECK(d.reason != NULL && d.reason[0] != '\0');
    return d.action;
}

/* decide in both modes: want_dane for intercept: dane, want_all for intercept: all */
static void both(struct policy_lookup tlsa, size_t usable, enum policy_action want_dane,
                 enum policy_action want_all)
{
    struct policy_input in = input(CONFIG_INTERCEPT_DANE, tlsa, usable);
    CHECK_INT_EQ(decide(&in), want_dane);
    in.mode = CONFIG_INTERCEPT_ALL;
    CHECK_INT_EQ(decide(&in), want_all);
}

/* Row 1: secure, at least one usable record → DANE in both modes. */
static void test_secure_usable(void)
{
    struct policy_lookup t = {0, DNS_RCODE_NOERROR, DNS_SECURE, 2};
    both(t, 1, POLICY_INTERCEPT_DANE, POLICY_INTERCEPT_DANE);
    both(t, 2, POLICY_INTERCEPT_DANE, POLICY_INTERCEPT_DANE);
}

/* Row 2: secure, only unusable records → tunnel / PKIX. */
static void test_secure_only_unusable(void)
{
    struct policy_lookup t = {0, DNS_RCODE_NOERROR, DNS_SECURE, 3};
    both(t, 0, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
}

/* Row 3: secure denial, NXDOMAIN and NODATA → tunnel / PKIX. */
static void test_secure_denial(void)
{
    struct policy_lookup nx = {0, DNS_RCODE_NXDOMAIN, DNS_SECURE, 0};
    struct policy_lookup nodata = {0, DNS_RCODE_NOERROR, DNS_SECURE, 0};
    both(nx, 0, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
    both(nodata, 0, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
}

/* Row 4: insecure (unsigned zone) → tunnel / PKIX, even with usable-looking records. */
static void test_insecure(void)
{
    struct policy_lookup with = {0, DNS_RCODE_NOERROR, DNS_INSECURE, 1};
    struct policy_lookup nx = {0, DNS_RCODE_NXDOMAIN, DNS_INSECURE, 0};
    both(with, 1, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
    both(nx, 0, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
}

/* Row 5: bogus, indeterminate, lookup timeout (and SERVFAIL) → refuse, both modes. */
static void test_tlsa_failures_refuse(void)
{
    struct policy_lookup bogus = {0, DNS_RCODE_NOERROR, DNS_BOGUS, 1};
    struct policy_lookup bogus_servfail = {0, DNS_RCODE_SERVFAIL, DNS_BOGUS, 0};
    struct policy_lookup indet = {0, DNS_RCODE_NOERROR, DNS_INDETERMINATE, 0};
    struct policy_lookup timeout = {1, DNS_RCODE_NOERROR, DNS_SECURE, 0};
    struct policy_lookup timeout_insecure = {1, DNS_RCODE_NOERROR, DNS_INSECURE, 0};
    struct policy_lookup servfail = {0, DNS_RCODE_SERVFAIL, DNS_INSECURE, 0};
    struct policy_lookup refused = {0, DNS_RCODE_REFUSED, DNS_SECURE, 0};
    both(bogus, 1, POLICY_REFUSE, POLICY_REFUSE);
    both(bogus, 0, POLICY_REFUSE, POLICY_REFUSE);
    both(bogus_servfail, 0, POLICY_REFUSE, POLICY_REFUSE);
    both(indet, 0, POLICY_REFUSE, POLICY_REFUSE);
    both(timeout, 0, POLICY_REFUSE, POLICY_REFUSE);
    both(timeout_insecure, 0, POLICY_REFUSE, POLICY_REFUSE);
    both(servfail, 0, POLICY_REFUSE, POLICY_REFUSE);
    both(refused, 0, POLICY_REFUSE, POLICY_REFUSE);
}

/* Row 6: the host's A or AAAA bogus → refuse, whatever the TLSA say. */
static void test_address_bogus_refuses(void)
{
    struct policy_lookup good = {0, DNS_RCODE_NOERROR, DNS_SECURE, 1};
    struct policy_lookup bogus = {0, DNS_RCODE_NOERROR, DNS_BOGUS, 1};
    for (int mode = 0; mode < 2; mode++) {
        struct policy_input in = input((enum config_intercept)mode, good, 1);
        in.a = bogus;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        in.a = OK_SECURE_ADDR;
        in.aaaa = bogus;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        /* a bogus address set is refused even when the TLSA are absent */
        in.tlsa = (struct policy_lookup){0, DNS_RCODE_NXDOMAIN, DNS_INSECURE, 0};
        in.tlsa_usable = 0;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
    }
}

/* No usable address: both lookups failed, timed out, or came back empty. */
static void test_address_unusable(void)
{
    struct policy_lookup good = {0, DNS_RCODE_NOERROR, DNS_SECURE, 1};
    struct policy_lookup timeout = {1, DNS_RCODE_NOERROR, DNS_SECURE, 0};
    struct policy_lookup servfail = {0, DNS_RCODE_SERVFAIL, DNS_INDETERMINATE, 0};
    struct policy_lookup nx = {0, DNS_RCODE_NXDOMAIN, DNS_SECURE, 0};
    struct policy_input in = input(CONFIG_INTERCEPT_DANE, good, 1);
    in.a = in.aaaa = timeout;
    CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
    in.a = in.aaaa = servfail;
    CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
    in.a = in.aaaa = nx;
    CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
    in.a = in.aaaa = NODATA_SECURE;
    CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
    /* one family is enough (IPv6-only, IPv4-only hosts) */
    in.a = NODATA_SECURE;
    in.aaaa = OK_SECURE_ADDR;
    CHECK_INT_EQ(decide(&in), POLICY_INTERCEPT_DANE);
    in.a = timeout; /* the other family's timeout does not block a usable one */
    CHECK_INT_EQ(decide(&in), POLICY_INTERCEPT_DANE);
    /* insecure addresses are usable */
    in.a = (struct policy_lookup){0, DNS_RCODE_NOERROR, DNS_INSECURE, 1};
    in.aaaa = NODATA_SECURE;
    CHECK_INT_EQ(decide(&in), POLICY_INTERCEPT_DANE);
}

/* An IP literal has no TLSA: tunnel / PKIX, whatever the (unused) lookups hold. */
static void test_ip_literal(void)
{
    struct policy_lookup none = {0};
    for (int mode = 0; mode < 2; mode++) {
        struct policy_input in = input((enum config_intercept)mode, none, 0);
        in.ip_literal = 1;
        in.a = in.aaaa = none;
        CHECK_INT_EQ(decide(&in), mode ? POLICY_INTERCEPT_PKIX : POLICY_TUNNEL);
    }
}

static void test_action_names(void)
{
    CHECK_STR_EQ(policy_action_name(POLICY_TUNNEL), "tunnel");
    CHECK_STR_EQ(policy_action_name(POLICY_REFUSE), "refuse");
    CHECK(strstr(policy_action_name(POLICY_INTERCEPT_DANE), "DANE") != NULL);
    CHECK(strstr(policy_action_name(POLICY_INTERCEPT_PKIX), "PKIX") != NULL);
}

int main(void)
{
    UNIT_RUN(test_secure_usable);
    UNIT_RUN(test_secure_only_unusable);
    UNIT_RUN(test_secure_denial);
    UNIT_RUN(test_insecure);
    UNIT_RUN(test_tlsa_failures_refuse);
    UNIT_RUN(test_address_bogus_refuses);
    UNIT_RUN(test_address_unusable);
    UNIT_RUN(test_ip_literal);
    UNIT_RUN(test_action_names);
    return UNIT_END();
}
