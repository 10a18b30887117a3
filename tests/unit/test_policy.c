/* tests/unit/test_policy.c — proxy/policy.c against every row and column of the
 * policy table in design.md: the TLSA rows, the address rows, and every lookup
 * that can change the decision (A, AAAA, TLSA at the host, the CNAME chain,
 * TLSA at the CNAME target) failing in every way: timeout, SERVFAIL, REFUSED,
 * FORMERR, bogus, indeterminate, and a lookup that could not start. Also the
 * plain error statuses (no certificate) of intercept: dane's CA contract. */
#include "policy.h"

#include "unit.h"

#define SECURE_ADDR                                                                                \
    ((struct policy_lookup){.rcode = DNS_RCODE_NOERROR, .security = DNS_SECURE, .records = 1})
#define NODATA_SECURE ((struct policy_lookup){.rcode = DNS_RCODE_NOERROR, .security = DNS_SECURE})
#define NX_SECURE ((struct policy_lookup){.rcode = DNS_RCODE_NXDOMAIN, .security = DNS_SECURE})
#define TLSA_SECURE(n)                                                                             \
    ((struct policy_lookup){.rcode = DNS_RCODE_NOERROR, .security = DNS_SECURE, .records = (n)})

/* Every way a lookup fails; each must refuse wherever it happens. */
static const struct policy_lookup FAILURES[] = {
    {.timed_out = 1, .rcode = DNS_RCODE_SERVFAIL, .security = DNS_INDETERMINATE},
    {.timed_out = 1, .rcode = DNS_RCODE_NOERROR, .security = DNS_SECURE},
    {.not_started = 1, .security = DNS_INDETERMINATE},
    {.not_started = 1, .rcode = DNS_RCODE_NOERROR, .security = DNS_SECURE},
    /* getdns reports an upstream's SERVFAIL as insecure: the rcode decides */
    {.rcode = DNS_RCODE_SERVFAIL, .security = DNS_INSECURE},
    {.rcode = DNS_RCODE_SERVFAIL, .security = DNS_INSECURE, .records = 1},
    {.rcode = DNS_RCODE_SERVFAIL, .security = DNS_SECURE, .records = 1},
    {.rcode = DNS_RCODE_REFUSED, .security = DNS_INSECURE},
    {.rcode = DNS_RCODE_REFUSED, .security = DNS_SECURE, .records = 1},
    {.rcode = DNS_RCODE_FORMERR, .security = DNS_INSECURE},
    {.rcode = 4 /* NOTIMP */, .security = DNS_INSECURE},
    {.rcode = DNS_RCODE_SERVFAIL, .security = DNS_BOGUS},
    {.rcode = DNS_RCODE_NOERROR, .security = DNS_BOGUS, .records = 1},
    {.rcode = DNS_RCODE_NXDOMAIN, .security = DNS_BOGUS},
    {.rcode = DNS_RCODE_NOERROR, .security = DNS_INDETERMINATE, .records = 1},
    {.rcode = DNS_RCODE_NOERROR, .security = DNS_INDETERMINATE},
};
#define N_FAILURES (sizeof FAILURES / sizeof FAILURES[0])

/* A host with a secure A record and a secure NODATA AAAA, the TLSA lookup as given. */
static struct policy_input input(enum config_intercept mode, struct policy_lookup tlsa,
                                 size_t usable)
{
    struct policy_input in = {
        .mode = mode,
        .tlsa = tlsa,
        .tlsa_usable = usable,
        .a = SECURE_ADDR,
        .aaaa = NODATA_SECURE,
    };
    return in;
}

/* cN CNAME tN, secure; the host's own TLSA: NXDOMAIN proven. */
static struct policy_input cname_input(enum config_intercept mode, struct policy_lookup target,
                                       size_t target_usable)
{
    struct policy_input in = input(mode, NX_SECURE, 0);
    in.a.cname = POLICY_CNAME_FOLLOWED;
    in.aaaa.cname = POLICY_CNAME_FOLLOWED;
    in.target_tlsa = target;
    in.target_tlsa_usable = target_usable;
    return in;
}

static struct policy_decision decide_full(const struct policy_input *in)
{
    struct policy_decision d = {POLICY_TUNNEL, NULL, -1, -1};
    policy_decide(in, &d);
    CHECK(d.reason != NULL && d.reason[0] != '\0');
    if (d.action == POLICY_FAIL)
        CHECK(d.status == 502 || d.status == 504);
    else
        CHECK_INT_EQ(d.status, 0);
    return d;
}

static enum policy_action decide(const struct policy_input *in)
{
    return decide_full(in).action;
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
    both(TLSA_SECURE(2), 1, POLICY_INTERCEPT_DANE, POLICY_INTERCEPT_DANE);
    both(TLSA_SECURE(2), 2, POLICY_INTERCEPT_DANE, POLICY_INTERCEPT_DANE);
}

/* The clock is not synchronized (issue 11): a host that would get DANE is
 * refused with the clock reason, in both modes; the rest is unchanged. */
static void test_clock_unsynced(void)
{
    struct policy_input in = input(CONFIG_INTERCEPT_DANE, TLSA_SECURE(2), 1);
    in.clock_unsynced = 1;
    struct policy_decision d = decide_full(&in);
    CHECK_INT_EQ(d.action, POLICY_REFUSE);
    CHECK_STR_EQ(d.reason, POLICY_REASON_CLOCK);
    in.mode = CONFIG_INTERCEPT_ALL;
    CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
    in = input(CONFIG_INTERCEPT_DANE, NX_SECURE, 0);
    in.clock_unsynced = 1;
    CHECK_INT_EQ(decide(&in), POLICY_TUNNEL);
    in = input(CONFIG_INTERCEPT_DANE, TLSA_SECURE(3), 0);
    in.clock_unsynced = 1;
    CHECK_INT_EQ(decide(&in), POLICY_TUNNEL);
}

/* Row 2: secure, only unusable records → tunnel / PKIX. */
static void test_secure_only_unusable(void)
{
    both(TLSA_SECURE(3), 0, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
}

/* Row 3: secure denial, NXDOMAIN and NODATA → tunnel / PKIX. */
static void test_secure_denial(void)
{
    both(NX_SECURE, 0, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
    both(TLSA_SECURE(0), 0, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
}

/* Row 4: insecure (unsigned zone) → tunnel / PKIX, even with usable-looking records. */
static void test_insecure(void)
{
    struct policy_lookup with = {
        .rcode = DNS_RCODE_NOERROR, .security = DNS_INSECURE, .records = 1};
    struct policy_lookup nx = {.rcode = DNS_RCODE_NXDOMAIN, .security = DNS_INSECURE};
    both(with, 1, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
    both(nx, 0, POLICY_TUNNEL, POLICY_INTERCEPT_PKIX);
}

/* Row 5 at the host: bogus, indeterminate, SERVFAIL, REFUSED, FORMERR, timeout,
 * a lookup that cannot start → the refusal page, in both modes, whatever
 * records came with the failure. */
static void test_tlsa_failures_refuse(void)
{
    for (size_t i = 0; i < N_FAILURES; i++) {
        both(FAILURES[i], 0, POLICY_REFUSE, POLICY_REFUSE);
        both(FAILURES[i], 1, POLICY_REFUSE, POLICY_REFUSE);
    }
}

/* Row 5 at a CNAME target (issue 8, defect 1): the target's TLSA lookup failing
 * in any way refuses, though the host's own TLSA are a proven "none": never a
 * fall-back to the host's result. */
static void test_target_failures_refuse(void)
{
    for (int mode = 0; mode < 2; mode++) {
        for (size_t i = 0; i < N_FAILURES; i++) {
            struct policy_input in = cname_input((enum config_intercept)mode, FAILURES[i], 0);
            CHECK(policy_wants_target(&in));
            CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
            in.target_tlsa_usable = 1;
            CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
            /* only one address family carried the secure CNAME: the same */
            in.aaaa = NODATA_SECURE;
            CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        }
    }
}

/* RFC 7671 §7: secure usable TLSA at the target decide; a target without
 * usable TLSA (proven) falls back to the host's own records. */
static void test_target_decides(void)
{
    for (int mode = 0; mode < 2; mode++) {
        enum policy_action no_dane = mode ? POLICY_INTERCEPT_PKIX : POLICY_TUNNEL;
        struct policy_input in = cname_input((enum config_intercept)mode, TLSA_SECURE(1), 1);
        struct policy_decision d = decide_full(&in);
        CHECK_INT_EQ(d.action, POLICY_INTERCEPT_DANE);
        CHECK_INT_EQ(d.use_target, 1);
        /* target: secure denial, only unusable, insecure → the host's (none) */
        in.target_tlsa = NX_SECURE;
        in.target_tlsa_usable = 0;
        d = decide_full(&in);
        CHECK_INT_EQ(d.action, no_dane);
        CHECK_INT_EQ(d.use_target, 0);
        in.target_tlsa = TLSA_SECURE(2);
        CHECK_INT_EQ(decide(&in), no_dane);
        in.target_tlsa = (struct policy_lookup){
            .rcode = DNS_RCODE_NOERROR, .security = DNS_INSECURE, .records = 1};
        in.target_tlsa_usable = 1;
        CHECK_INT_EQ(decide(&in), no_dane);
        /* ... and the host's own usable records then */
        in.tlsa = TLSA_SECURE(1);
        in.tlsa_usable = 1;
        d = decide_full(&in);
        CHECK_INT_EQ(d.action, POLICY_INTERCEPT_DANE);
        CHECK_INT_EQ(d.use_target, 0);
        /* the host's own TLSA lookup failing refuses though the target's are fine */
        in = cname_input((enum config_intercept)mode, TLSA_SECURE(1), 1);
        for (size_t i = 0; i < N_FAILURES; i++) {
            in.tlsa = FAILURES[i];
            CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        }
    }
}

/* Which CNAMEs send the policy to the target: a secure answer that did not fail. */
static void test_wants_target(void)
{
    struct policy_input in = input(CONFIG_INTERCEPT_DANE, NX_SECURE, 0);
    CHECK(!policy_wants_target(&in));
    in.a.cname = POLICY_CNAME_FOLLOWED;
    CHECK(policy_wants_target(&in));
    in.a.security = DNS_INSECURE; /* an unsigned link: the host's own TLSA only */
    CHECK(!policy_wants_target(&in));
    CHECK_INT_EQ(decide(&in), POLICY_TUNNEL);
    in.aaaa.cname = POLICY_CNAME_FOLLOWED; /* the other family's answer is secure */
    CHECK(policy_wants_target(&in));
    in.aaaa.cname = POLICY_CNAME_NONE;
    for (size_t i = 0; i < N_FAILURES; i++) { /* a failed answer's CNAME is not used */
        in.a = FAILURES[i];
        in.a.cname = POLICY_CNAME_FOLLOWED;
        CHECK(!policy_wants_target(&in));
    }
    in.ip_literal = 1;
    in.a = SECURE_ADDR;
    in.a.cname = POLICY_CNAME_FOLLOWED;
    CHECK(!policy_wants_target(&in));
    in.ip_literal = 0;
    in.no_tlsa = 1;
    CHECK(!policy_wants_target(&in));
}

/* A secure CNAME whose target cannot be read refuses; target_tlsa is not
 * even looked at. */
static void test_unreadable_cname(void)
{
    for (int mode = 0; mode < 2; mode++) {
        struct policy_input in = cname_input((enum config_intercept)mode, TLSA_SECURE(1), 1);
        in.a.cname = POLICY_CNAME_UNREADABLE;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        in.aaaa.cname = POLICY_CNAME_UNREADABLE;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        /* in an insecure answer it changes nothing: the host's TLSA decide */
        in.a.security = in.aaaa.security = DNS_INSECURE;
        CHECK_INT_EQ(decide(&in), mode ? POLICY_INTERCEPT_PKIX : POLICY_TUNNEL);
    }
}

/* TLSA sets that could not be kept whole refuse (no record silently dropped). */
static void test_tlsa_overflow(void)
{
    for (int mode = 0; mode < 2; mode++) {
        struct policy_input in = input((enum config_intercept)mode, TLSA_SECURE(40), 0);
        in.tlsa_overflow = 1;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        in = cname_input((enum config_intercept)mode, TLSA_SECURE(40), 0);
        in.target_tlsa_overflow = 1;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
    }
}

/* Row 6: the host's A or AAAA bogus → refuse, whatever the TLSA say. */
static void test_address_bogus_refuses(void)
{
    struct policy_lookup bogus = {.rcode = DNS_RCODE_NOERROR, .security = DNS_BOGUS, .records = 1};
    struct policy_lookup bogus_nodata = {.rcode = DNS_RCODE_NOERROR, .security = DNS_BOGUS};
    for (int mode = 0; mode < 2; mode++) {
        struct policy_input in = input((enum config_intercept)mode, TLSA_SECURE(1), 1);
        in.a = bogus;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        in.a = SECURE_ADDR;
        in.aaaa = bogus;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        in.aaaa = bogus_nodata; /* a bogus denial of the other family too */
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        /* a bogus address set is refused even when the TLSA are absent */
        in.tlsa = (struct policy_lookup){.rcode = DNS_RCODE_NXDOMAIN, .security = DNS_INSECURE};
        in.tlsa_usable = 0;
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        in.no_tlsa = 1; /* plain HTTP too */
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
    }
}

/* Row 6: no validated address. Addresses come from secure or insecure
 * answers only (issue 8, defect 7): a failed answer's records do not count.
 * Not a DNSSEC failure: a plain error (502, 504 on a timeout), no certificate;
 * an indeterminate answer gets the refusal page. */
static void test_address_unusable(void)
{
    struct policy_lookup timeout = {
        .timed_out = 1, .rcode = DNS_RCODE_SERVFAIL, .security = DNS_INDETERMINATE};
    struct policy_lookup servfail = {.rcode = DNS_RCODE_SERVFAIL, .security = DNS_INSECURE};
    struct policy_lookup servfail_records = {
        .rcode = DNS_RCODE_SERVFAIL, .security = DNS_INSECURE, .records = 1};
    struct policy_lookup indet = {
        .rcode = DNS_RCODE_NOERROR, .security = DNS_INDETERMINATE, .records = 1};
    struct policy_lookup nx = NX_SECURE;
    for (int mode = 0; mode < 2; mode++) {
        for (int usable = 0; usable < 2; usable++) {
            struct policy_input in = input((enum config_intercept)mode,
                                           usable ? TLSA_SECURE(1) : NX_SECURE, (size_t)usable);
            struct policy_decision d;
            in.a = servfail_records; /* defect 7: these records are not used */
            d = decide_full(&in);
            CHECK_INT_EQ(d.action, POLICY_FAIL);
            CHECK_INT_EQ(d.status, 502);
            in.a = servfail;
            CHECK_INT_EQ(decide_full(&in).status, 502);
            in.a = timeout;
            d = decide_full(&in);
            CHECK_INT_EQ(d.action, POLICY_FAIL);
            CHECK_INT_EQ(d.status, 504);
            in.a = in.aaaa = nx;
            d = decide_full(&in);
            CHECK_INT_EQ(d.action, POLICY_FAIL);
            CHECK_INT_EQ(d.status, 502);
            CHECK(strstr(d.reason, "NXDOMAIN") != NULL);
            in.a = in.aaaa = NODATA_SECURE;
            d = decide_full(&in);
            CHECK_INT_EQ(d.action, POLICY_FAIL);
            CHECK(strstr(d.reason, "no address") != NULL);
            in.a = indet;
            CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        }
    }
    /* one family is enough (IPv6-only, IPv4-only hosts) */
    struct policy_input in = input(CONFIG_INTERCEPT_DANE, TLSA_SECURE(1), 1);
    in.a = NODATA_SECURE;
    in.aaaa = SECURE_ADDR;
    CHECK_INT_EQ(decide(&in), POLICY_INTERCEPT_DANE);
    for (size_t i = 0; i < N_FAILURES; i++) {
        if (FAILURES[i].security == DNS_BOGUS)
            continue;       /* bogus anywhere refuses: test_address_bogus_refuses */
        in.a = FAILURES[i]; /* the other family's failure does not block a usable one */
        CHECK_INT_EQ(decide(&in), POLICY_INTERCEPT_DANE);
    }
    /* insecure addresses are usable */
    in.a =
        (struct policy_lookup){.rcode = DNS_RCODE_NOERROR, .security = DNS_INSECURE, .records = 1};
    in.aaaa = NODATA_SECURE;
    CHECK_INT_EQ(decide(&in), POLICY_INTERCEPT_DANE);
}

/* intercept: dane's CA contract: the refusal page (a minted certificate) only
 * for a DNSSEC failure; a name that does not exist or cannot be looked up at
 * all gets a plain error. */
static void test_page_or_plain_error(void)
{
    struct policy_lookup none = {.not_started = 1, .security = DNS_INDETERMINATE};
    struct policy_lookup timeout = {
        .timed_out = 1, .rcode = DNS_RCODE_SERVFAIL, .security = DNS_INDETERMINATE};
    struct policy_input in = input(CONFIG_INTERCEPT_DANE, none, 0);
    struct policy_decision d;
    in.a = in.aaaa = none; /* the resolver could start none of them */
    d = decide_full(&in);
    CHECK_INT_EQ(d.action, POLICY_FAIL);
    CHECK_INT_EQ(d.status, 502);
    /* every lookup timed out: the TLSA state is unknown, a possible attack */
    in.a = in.aaaa = in.tlsa = timeout;
    CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
    /* a nonexistent name: every answer a secure NXDOMAIN */
    in.a = in.aaaa = in.tlsa = NX_SECURE;
    d = decide_full(&in);
    CHECK_INT_EQ(d.action, POLICY_FAIL);
    CHECK_INT_EQ(d.status, 502);
}

/* Plain HTTP: no TLSA; the addresses alone decide, never an interception. */
static void test_plain_http(void)
{
    struct policy_lookup none = {0};
    for (int mode = 0; mode < 2; mode++) {
        struct policy_input in = input((enum config_intercept)mode, none, 0);
        in.no_tlsa = 1;
        CHECK_INT_EQ(decide(&in), POLICY_TUNNEL);
        in.a.cname = POLICY_CNAME_UNREADABLE;
        CHECK_INT_EQ(decide(&in), POLICY_TUNNEL);
        in.a = in.aaaa = NX_SECURE;
        CHECK_INT_EQ(decide(&in), POLICY_FAIL);
    }
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

static void test_lookup_failed(void)
{
    for (size_t i = 0; i < N_FAILURES; i++)
        CHECK(policy_lookup_failed(&FAILURES[i]));
    CHECK(!policy_lookup_failed(&SECURE_ADDR));
    CHECK(!policy_lookup_failed(&NX_SECURE));
    struct policy_lookup ins = {.rcode = DNS_RCODE_NXDOMAIN, .security = DNS_INSECURE};
    CHECK(!policy_lookup_failed(&ins));
}

static void test_action_names(void)
{
    CHECK_STR_EQ(policy_action_name(POLICY_TUNNEL), "tunnel");
    CHECK_STR_EQ(policy_action_name(POLICY_REFUSE), "refuse");
    CHECK_STR_EQ(policy_action_name(POLICY_FAIL), "fail");
    CHECK(strstr(policy_action_name(POLICY_INTERCEPT_DANE), "DANE") != NULL);
    CHECK(strstr(policy_action_name(POLICY_INTERCEPT_PKIX), "PKIX") != NULL);
}

/* Issue 13, proxy.exceptions: no TLSA step (not even a failed or
 * mismatching one) refuses, in either mode; every address step still does. */
static void test_exception(void)
{
    enum config_intercept modes[] = {CONFIG_INTERCEPT_DANE, CONFIG_INTERCEPT_ALL};
    for (size_t m = 0; m < 2; m++) {
        /* the TLSA lookup is not made: its result is "not started" */
        struct policy_input in = input(modes[m], (struct policy_lookup){.not_started = 1}, 0);
        in.exception = 1;
        CHECK_INT_EQ(decide(&in), POLICY_TUNNEL);
        in.a.cname = in.aaaa.cname = POLICY_CNAME_FOLLOWED;
        CHECK_INT_EQ(policy_wants_target(&in), 0);
        CHECK_INT_EQ(decide(&in), POLICY_TUNNEL);
        in = input(modes[m], TLSA_SECURE(1), 1); /* would be DANE */
        in.exception = 1;
        CHECK_INT_EQ(decide(&in), POLICY_TUNNEL);
        for (size_t i = 0; i < N_FAILURES; i++) {
            in = input(modes[m], (struct policy_lookup){.not_started = 1}, 0);
            in.exception = 1;
            in.a = FAILURES[i];
            in.aaaa = FAILURES[i];
            enum policy_action a = decide(&in);
            CHECK(a == POLICY_REFUSE || a == POLICY_FAIL);
        }
        in = input(modes[m], (struct policy_lookup){.not_started = 1}, 0);
        in.exception = 1;
        in.aaaa.security = DNS_BOGUS; /* one bogus address answer is enough */
        CHECK_INT_EQ(decide(&in), POLICY_REFUSE);
        in = input(modes[m], (struct policy_lookup){.not_started = 1}, 0);
        in.exception = 1;
        in.a = NX_SECURE;
        in.aaaa = NX_SECURE;
        CHECK_INT_EQ(decide(&in), POLICY_FAIL);
    }
}

int main(void)
{
    UNIT_RUN(test_secure_usable);
    UNIT_RUN(test_clock_unsynced);
    UNIT_RUN(test_secure_only_unusable);
    UNIT_RUN(test_secure_denial);
    UNIT_RUN(test_insecure);
    UNIT_RUN(test_tlsa_failures_refuse);
    UNIT_RUN(test_target_failures_refuse);
    UNIT_RUN(test_target_decides);
    UNIT_RUN(test_wants_target);
    UNIT_RUN(test_unreadable_cname);
    UNIT_RUN(test_tlsa_overflow);
    UNIT_RUN(test_address_bogus_refuses);
    UNIT_RUN(test_address_unusable);
    UNIT_RUN(test_page_or_plain_error);
    UNIT_RUN(test_plain_http);
    UNIT_RUN(test_ip_literal);
    UNIT_RUN(test_lookup_failed);
    UNIT_RUN(test_action_names);
    UNIT_RUN(test_exception);
    return UNIT_END();
}
