/* daemon/cli_check_dns.c — the DNS half of daneguard check: A, AAAA and TLSA
 * looked up through daneguard's own validating resolver, in-process, and what
 * each answer says in words an operator reads (status, count, why). Addresses
 * come only from answers that are neither bogus nor late. cli_check.c runs
 * the rest of the check.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli_check.h"

struct rdata_sink {
    struct dane_tlsa *recs;
    size_t *n;
};

static void add_tlsa(void *arg, const uint8_t *rdata, size_t len)
{
    struct rdata_sink *s = arg;
    if (*s->n < CHECK_MAX_TLSA && dane_tlsa_parse_rdata(&s->recs[*s->n], rdata, len) == 0)
        (*s->n)++;
}

static const char *rcode_name(int rcode)
{
    switch (rcode) {
    case DNS_RCODE_NOERROR:
        return "NOERROR";
    case DNS_RCODE_FORMERR:
        return "FORMERR";
    case DNS_RCODE_SERVFAIL:
        return "SERVFAIL";
    case DNS_RCODE_NXDOMAIN:
        return "NXDOMAIN";
    case DNS_RCODE_NOTIMP:
        return "NOTIMP";
    case DNS_RCODE_REFUSED:
        return "REFUSED";
    default:
        return "an unexpected rcode";
    }
}

/* The status word an operator reads: a timeout is neither secure nor bogus. */
const char *cli_check_dns_status(const struct rrset *s)
{
    return s->timed_out ? "indeterminate" : dns_security_name(s->security);
}

int cli_check_dns_ok(const struct rrset *s)
{
    return s->done && !s->timed_out && s->security == DNS_SECURE;
}

/* Why the answer is what it is, for the status line; "" when nothing to add. */
static void rrset_explain(struct rrset *s, const struct lookup_result *res)
{
    const char *text = NULL;
    s->why[0] = '\0';
    if (res->timed_out) {
        snprintf(s->why, sizeof s->why, "timeout: no upstream answered before the deadline");
        return;
    }
    if (res->security == DNS_BOGUS) {
        (void)dns_bogus_ede(res->msg, res->len, time(NULL), &text);
        snprintf(s->why, sizeof s->why, "%s%s%s", text ? text : "DNSSEC validation failed",
                 res->rcode != DNS_RCODE_NOERROR ? ", " : "",
                 res->rcode != DNS_RCODE_NOERROR ? rcode_name(res->rcode) : "");
        return;
    }
    if (res->rcode == DNS_RCODE_NXDOMAIN)
        snprintf(s->why, sizeof s->why, "NXDOMAIN");
    else if (res->rcode != DNS_RCODE_NOERROR)
        snprintf(s->why, sizeof s->why, "%s (rcode %d)", rcode_name(res->rcode), res->rcode);
    else if (s->count == 0)
        snprintf(s->why, sizeof s->why, "NODATA");
    if (res->security == DNS_INSECURE)
        snprintf(s->why + strlen(s->why), sizeof s->why - strlen(s->why), "%s%s",
                 s->why[0] ? "; " : "", "no DNSSEC chain of trust to it");
}

static void on_lookup(void *arg, const struct lookup_result *res)
{
    struct check_lookup *cl = arg;
    struct check *c = cl->c;
    struct rrset *s = cl->out;

    cl->l = NULL;
    s->done = 1;
    s->timed_out = res->timed_out;
    s->rcode = res->rcode;
    s->security = res->security;
    if (cl->qtype == DNS_TYPE_TLSA) {
        struct rdata_sink sink = {cl == &c->lalias ? c->alias_recs : c->tlsa_recs,
                                  cl == &c->lalias ? &c->n_alias : &c->n_tlsa};
        s->count = lookup_each_rdata(res, DNS_TYPE_TLSA, add_tlsa, &sink);
    } else {
        struct sockaddr_storage tmp[CHECK_MAX_ADDRS];
        s->count = 0;
        /* only what the lookups returned, and never from a bogus or late answer */
        size_t n = lookup_addresses(res, c->port, tmp, CHECK_MAX_ADDRS);
        for (size_t i = 0; i < n; i++)
            if ((tmp[i].ss_family == AF_INET) == (cl->qtype == DNS_TYPE_A)) {
                s->count++;
                if (!res->timed_out && res->security != DNS_BOGUS && c->n_addrs < CHECK_MAX_ADDRS)
                    c->addrs[c->n_addrs++] = tmp[i];
            }
        if (lookup_cname_target(res, s->cname, sizeof s->cname) != 1)
            s->cname[0] = '\0';
    }
    rrset_explain(s, res);
    c->pending--;
}

static void on_watchdog(uv_timer_t *t)
{
    struct check *c = t->data;
    c->expired = 1;
}

int cli_check_dns_start(struct check *c, struct check_lookup *cl, const char *name, uint16_t qtype,
                        struct rrset *out)
{
    cl->c = c;
    cl->out = out;
    cl->qtype = qtype;
    out->started = 1;
    if (lookup_start(c->resolver, name, qtype, on_lookup, cl, &cl->l) < 0) {
        cl->l = NULL;
        return -1;
    }
    c->pending++;
    return 0;
}

/* Runs the loop until every lookup started so far has answered, or the
 * watchdog (a margin over the resolver's own deadline) fires. */
void cli_check_dns_wait(struct check *c, uint32_t timeout_ms)
{
    c->expired = 0;
    uv_timer_start(&c->watchdog, on_watchdog, (uint64_t)timeout_ms * 2 + 5000, 0);
    while (c->pending > 0 && !c->expired)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_timer_stop(&c->watchdog);
    struct check_lookup *all[] = {&c->la, &c->laaaa, &c->ltlsa, &c->lalias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->l != NULL) {
            lookup_cancel(all[i]->l);
            all[i]->l = NULL;
            all[i]->out->done = 1;
            all[i]->out->timed_out = 1;
            snprintf(all[i]->out->why, sizeof all[i]->out->why,
                     "timeout: no answer from the resolver");
            c->pending--;
        }
}

void cli_check_dns_print(const char *label, const char *name, const struct rrset *s,
                         const char *unit, const char *tail)
{
    printf("%s %s: %s, %zu %s%s%s%s%s%s\n", label, name, cli_check_dns_status(s), s->count, unit,
           s->count == 1                   ? ""
           : unit[strlen(unit) - 1] == 's' ? "es"
                                           : "s",
           s->why[0] ? " (" : "", s->why, s->why[0] ? ")" : "", tail ? tail : "");
}
