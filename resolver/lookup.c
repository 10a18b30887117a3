/* resolver/lookup.c — the in-process lookup API over the resolver core.
 *
 * A lookup is a resolver_request for a synthetic query with DO and CD set, so
 * one cache serves the proxy, the CLI and stub clients alike. Cache hits are
 * answered from a zero-delay timer, so the callback never runs inside
 * lookup_start() (as with libuv's own calls).
 */
#include "lookup.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "scrub.h"

struct lookup {
    struct resolver_request req; /* first */
    struct resolver *resolver;   /* a reference: the lookup finishes where it started */
    uv_timer_t timer;            /* delivers cache hits */
    lookup_cb cb;
    void *arg;
    uint8_t *hit; /* a cache hit's copy, until delivered */
    size_t hit_len;
    enum dns_security hit_security;
    int cancelled;
};

static void lookup_closed(uv_handle_t *h)
{
    struct lookup *l = h->data;
    resolver_unref(l->resolver); /* outside the resolver's callbacks: may free it */
    free(l->hit);
    free(l);
}

static void lookup_deliver(struct lookup *l, const struct resolver_answer *ans)
{
    struct lookup_result res = {
        .timed_out = ans->timed_out,
        .rcode = dns_msg_rcode(ans->msg, ans->len),
        .security = ans->security,
        .msg = ans->msg,
        .len = ans->len,
    };
    l->cb(l->arg, &res);
    uv_close((uv_handle_t *)&l->timer, lookup_closed);
}

static void lookup_upstream_done(struct resolver_request *req, const struct resolver_answer *ans)
{
    lookup_deliver((struct lookup *)req, ans);
}

static void lookup_hit_timer(uv_timer_t *t)
{
    struct lookup *l = t->data;
    struct resolver_answer ans = {
        .msg = l->hit,
        .len = l->hit_len,
        .security = l->hit_security,
    };
    lookup_deliver(l, &ans);
}

int lookup_start(struct resolver *r, const char *name, uint16_t qtype, lookup_cb cb, void *arg,
                 struct lookup **out)
{
    static uint8_t buf[65535];
    struct resolver_answer ans;
    struct lookup *l = calloc(1, sizeof *l);
    if (!l)
        return LOOKUP_EBUSY;
    if (dns_query_init(&l->req.q, name, qtype) < 0) {
        free(l);
        return LOOKUP_EBADNAME;
    }
    l->resolver = resolver_ref(r);
    l->cb = cb;
    l->arg = arg;
    l->req.done = lookup_upstream_done;
    uv_timer_init(resolver_loop(r), &l->timer);
    l->timer.data = l;
    if (out)
        *out = l;
    int rc = resolver_answer(r, &l->req, buf, sizeof buf, &ans);
    if (rc == 0)
        return 0;
    if (rc == 1) {
        l->hit = malloc(ans.len);
        if (l->hit) {
            memcpy(l->hit, ans.msg, ans.len);
            l->hit_len = ans.len;
            l->hit_security = ans.security;
            uv_timer_start(&l->timer, lookup_hit_timer, 0, 0);
            return 0;
        }
    }
    uv_close((uv_handle_t *)&l->timer, lookup_closed);
    if (out)
        *out = NULL;
    return LOOKUP_EBUSY;
}

void lookup_cancel(struct lookup *l)
{
    if (!l || uv_is_closing((uv_handle_t *)&l->timer))
        return;
    resolver_request_cancel(&l->req);
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, lookup_closed);
}

/* Where the answer's chain from the question's name ends (scrub_chain_end(),
 * bounded by SCRUB_MAX_LINKS): records are taken from that name only, never
 * "every record of the type" or "the last CNAME" of the answer section. */
struct chain_end {
    uint8_t name[DNS_MAX_NAME];
    size_t len;
    uint16_t qtype;
    unsigned links;
};

static int chain_end_of(const struct lookup_result *res, struct chain_end *e)
{
    if (!res->msg)
        return -1;
    return scrub_chain_end(res->msg, res->len, e->name, &e->len, &e->qtype, &e->links) < 0 ? -1 : 0;
}

/* Call fn for each answer record of type at the chain's end; how many. */
static size_t each_at_end(const struct lookup_result *res, const struct chain_end *e, uint16_t type,
                          int (*fn)(void *arg, const struct dns_rr *rr), void *arg)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    size_t n = 0;
    if (dns_rr_iter_init(&it, res->msg, res->len) < 0)
        return 0;
    while (dns_rr_iter_next(&it, &rr) == 1 && rr.section == DNS_SECTION_ANSWER) {
        if (rr.type != type || !dns_name_equal(rr.owner, rr.owner_len, e->name, e->len))
            continue;
        if (fn(arg, &rr) < 0)
            break;
        n++;
    }
    return n;
}

struct addr_sink {
    struct sockaddr_storage *out;
    size_t n, max;
    uint16_t port;
};

static int add_address(void *arg, const struct dns_rr *rr)
{
    struct addr_sink *s = arg;
    if (s->n >= s->max)
        return -1;
    if ((rr->type == DNS_TYPE_A && rr->rdlen == 4) || (rr->type == DNS_TYPE_AAAA && rr->rdlen == 16))
        if (addr_from_bytes(rr->rdata, rr->rdlen, s->port, &s->out[s->n]) == 0)
            s->n++;
    return 0;
}

size_t lookup_addresses(const struct lookup_result *res, uint16_t port,
                        struct sockaddr_storage *out, size_t max)
{
    struct chain_end e;
    struct addr_sink sink = {.out = out, .max = max, .port = port};
    if (chain_end_of(res, &e) < 0 || (e.qtype != DNS_TYPE_A && e.qtype != DNS_TYPE_AAAA))
        return 0;
    each_at_end(res, &e, e.qtype, add_address, &sink);
    return sink.n;
}

struct rdata_sink {
    void (*fn)(void *arg, const uint8_t *rdata, size_t len);
    void *arg;
};

static int give_rdata(void *arg, const struct dns_rr *rr)
{
    struct rdata_sink *s = arg;
    s->fn(s->arg, rr->rdata, rr->rdlen);
    return 0;
}

size_t lookup_each_rdata(const struct lookup_result *res, uint16_t qtype,
                         void (*fn)(void *arg, const uint8_t *rdata, size_t len), void *arg)
{
    struct chain_end e;
    struct rdata_sink sink = {fn, arg};
    if (chain_end_of(res, &e) < 0)
        return 0;
    return each_at_end(res, &e, qtype, give_rdata, &sink);
}

int lookup_cname_target(const struct lookup_result *res, char *out, size_t cap)
{
    struct chain_end e;
    if (chain_end_of(res, &e) < 0)
        return -1;
    if (e.links == 0)
        return 0;
    return dns_name_to_text(e.name, e.len, out, cap) < 0 ? -1 : 1;
}
