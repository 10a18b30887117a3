/* resolver/resolver.c — the resolver core: cache first, else one shared
 * upstream fetch, then render the reply for this query's DO/CD variant and cache
 * it. Bogus answers are cached briefly (bogus_ttl); timeouts are not cached.
 */
#include "resolver.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "scrub.h"

#define RESOLVER_MAX_TTL 86400 /* as Unbound's cache-max-ttl */

struct resolver {
    unsigned refs;
    uv_loop_t *loop;
    struct dns_cache *cache;
    struct upstream *upstream;
    uint32_t bogus_ttl_s;
    struct resolver_stats stats;
    uint8_t render_buf[65535];
};

int resolver_new(uv_loop_t *loop, const struct config_resolver *cfg, struct resolver **out,
                 char *err, size_t errlen)
{
    struct resolver *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->refs = 1;
    r->loop = loop;
    r->bogus_ttl_s = cfg->bogus_ttl_s;
    r->cache = dns_cache_new(cfg->cache_size);
    if (!r->cache) {
        snprintf(err, errlen, "cannot allocate a cache of %zu bytes", cfg->cache_size);
        goto fail;
    }
    if (upstream_new(loop, cfg, &r->upstream, err, errlen) < 0)
        goto fail;
    *out = r;
    return 0;
fail:
    resolver_unref(r);
    return -1;
}

struct resolver *resolver_ref(struct resolver *r)
{
    if (r)
        r->refs++;
    return r;
}

void resolver_unref(struct resolver *r)
{
    if (!r || --r->refs > 0)
        return;
    upstream_free(r->upstream);
    dns_cache_free(r->cache);
    free(r);
}

uv_loop_t *resolver_loop(const struct resolver *r)
{
    return r->loop;
}

uint64_t resolver_now_ms(const struct resolver *r)
{
    return uv_now(r->loop);
}

/* Scrub an upstream answer before anything else sees it (scrub.h): the reply,
 * the cache and the lookup API get only the chain from the query name. *out is
 * res with the scrubbed message (in *clean, for the caller to free) and the
 * status to serve. */
static int scrub_upstream(const struct resolver_request *req, const struct upstream_result *res,
                          struct upstream_result *out, uint8_t **clean)
{
    struct scrub_report rep;
    char name[1024];
    *out = *res;
    int rc = scrub_message(&req->q, res->security, res->msg, res->len, clean, &out->len, &rep);
    if (rc < 0) {
        out->security = DNS_INDETERMINATE; /* served as SERVFAIL */
        return rc;
    }
    out->msg = *clean;
    out->security = rep.security;
    if (rep.dropped_answer || rep.security != res->security) {
        dns_name_to_text(req->q.qname, req->q.qname_len, name, sizeof name);
        if (rep.dropped_answer)
            log_info("resolver: %s/%u: dropped %u answer record(s) off the chain from the query "
                     "name",
                     name, req->q.qtype, rep.dropped_answer);
        if (rep.security != res->security)
            log_info("resolver: %s/%u: secure, but neither the data asked for nor a denial "
                     "proof: bogus",
                     name, req->q.qtype);
    }
    return 0;
}

static void upstream_done(struct upstream_waiter *w, const struct upstream_result *upstream_res)
{
    struct resolver_request *req =
        (struct resolver_request *)((char *)w - offsetof(struct resolver_request, waiter));
    struct resolver *r = req->resolver;
    struct resolver_answer ans = {.security = DNS_INDETERMINATE};
    size_t len = 0;
    char name[1024];
    struct upstream_result scrubbed;
    const struct upstream_result *res = upstream_res;
    uint8_t *clean = NULL;
    int scrub_rc = 0;

    if (!res->error) {
        scrub_rc = scrub_upstream(req, upstream_res, &scrubbed, &clean);
        res = &scrubbed;
    }
    if (res->error) {
        r->stats.servfail_timeouts++;
        ans.timed_out = 1;
        if (dns_reply_error(&req->q, DNS_RCODE_SERVFAIL, DNS_EDE_NO_REACHABLE_AUTHORITY,
                            "no upstream answered in time", r->render_buf, sizeof r->render_buf,
                            &len) < 0)
            len = 0;
    } else {
        /* Rendered with an OPT for the cache; dns_reply_patch() drops it for a
         * client that sent none. */
        struct dns_query q = req->q;
        q.has_edns = 1;
        int rc = scrub_rc < 0 ? scrub_rc
                              : dns_reply_render(&q, res->security, res->msg, res->len, time(NULL),
                                                 r->render_buf, sizeof r->render_buf, &len);
        ans.security = res->security;
        if (rc < 0) {
            dns_name_to_text(req->q.qname, req->q.qname_len, name, sizeof name);
            log_info("resolver: %s/%u: unusable upstream answer: %s", name, req->q.qtype,
                     scrub_rc < 0 ? scrub_strerror(rc) : wire_strerror(rc));
            dns_reply_error(&req->q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, "unusable upstream answer",
                            r->render_buf, sizeof r->render_buf, &len);
        } else {
            uint32_t ttl = 0;
            struct dns_cache_key key;
            if (dns_answer_ttl(res->msg, res->len, &ttl) < 0)
                ttl = 0;
            if (ttl > RESOLVER_MAX_TTL)
                ttl = RESOLVER_MAX_TTL;
            if (res->security == DNS_BOGUS) {
                r->stats.bogus++;
                if (ttl > r->bogus_ttl_s || ttl == 0)
                    ttl = r->bogus_ttl_s;
                if (log_verbosity >= 1) {
                    dns_name_to_text(req->q.qname, req->q.qname_len, name, sizeof name);
                    log_debug("resolver: %s/%u: bogus", name, req->q.qtype);
                }
            }
            if (dns_msg_rcode(res->msg, res->len) == DNS_RCODE_SERVFAIL)
                ttl = 0;
            dns_cache_key_of_query(&req->q, &key);
            dns_cache_put(r->cache, &key, r->render_buf, len, res->security, ttl, uv_now(r->loop));
            dns_reply_patch(r->render_buf, &len, &req->q, res->security, 0);
        }
    }
    free(clean);
    ans.msg = r->render_buf;
    ans.len = len;
    req->done(req, &ans);
}

int resolver_answer(struct resolver *r, struct resolver_request *req, uint8_t *out, size_t cap,
                    struct resolver_answer *ans)
{
    struct dns_cache_key key;
    struct dns_cache_hit hit;

    r->stats.queries++;
    dns_cache_key_of_query(&req->q, &key);
    if (dns_cache_get(r->cache, &key, uv_now(r->loop), &hit) == 1 && hit.len <= cap) {
        r->stats.cache_hits++;
        size_t len = hit.len;
        memcpy(out, hit.msg, hit.len);
        dns_reply_patch(out, &len, &req->q, hit.security, hit.age_s);
        ans->msg = out;
        ans->len = len;
        ans->security = hit.security;
        ans->timed_out = 0;
        return 1;
    }
    r->stats.cache_misses++;
    req->resolver = r;
    req->waiter.done = upstream_done;
    return upstream_fetch(r->upstream, req->q.qname, req->q.qname_len, req->q.qtype, &req->waiter);
}

void resolver_request_cancel(struct resolver_request *req)
{
    upstream_cancel(&req->waiter);
}

void resolver_get_stats(const struct resolver *r, struct resolver_stats *st)
{
    *st = r->stats;
    dns_cache_get_stats(r->cache, &st->cache);
    upstream_get_stats(r->upstream, &st->upstream);
}
