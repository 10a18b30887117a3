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

struct lookup {
    struct resolver_request req; /* first */
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

size_t lookup_addresses(const struct lookup_result *res, uint16_t port,
                        struct sockaddr_storage *out, size_t max)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    size_t n = 0;
    if (!res->msg || dns_rr_iter_init(&it, res->msg, res->len) < 0)
        return 0;
    while (n < max && dns_rr_iter_next(&it, &rr) == 1 && rr.section == DNS_SECTION_ANSWER) {
        memset(&out[n], 0, sizeof out[n]);
        if (rr.type == DNS_TYPE_A && rr.rdlen == 4) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&out[n++];
            s4->sin_family = AF_INET;
            s4->sin_port = htons(port);
            memcpy(&s4->sin_addr, rr.rdata, 4);
        } else if (rr.type == DNS_TYPE_AAAA && rr.rdlen == 16) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out[n++];
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(port);
            memcpy(&s6->sin6_addr, rr.rdata, 16);
        }
    }
    return n;
}

size_t lookup_each_rdata(const struct lookup_result *res, uint16_t qtype,
                         void (*fn)(void *arg, const uint8_t *rdata, size_t len), void *arg)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    size_t n = 0;
    if (!res->msg || dns_rr_iter_init(&it, res->msg, res->len) < 0)
        return 0;
    while (dns_rr_iter_next(&it, &rr) == 1 && rr.section == DNS_SECTION_ANSWER) {
        if (rr.type == qtype) {
            fn(arg, rr.rdata, rr.rdlen);
            n++;
        }
    }
    return n;
}

int lookup_cname_target(const struct lookup_result *res, char *out, size_t cap)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    uint8_t target[DNS_MAX_NAME];
    size_t target_len = 0;
    if (!res->msg || dns_rr_iter_init(&it, res->msg, res->len) < 0)
        return -1;
    while (dns_rr_iter_next(&it, &rr) == 1 && rr.section == DNS_SECTION_ANSWER) {
        if (rr.type != DNS_TYPE_CNAME)
            continue;
        size_t pos = rr.rdata_offset;
        if (dns_name_read(res->msg, res->len, &pos, target, &target_len) < 0)
            return -1;
    }
    if (target_len == 0)
        return 0;
    return dns_name_to_text(target, target_len, out, cap) < 0 ? -1 : 1;
}
