/* resolver/resolver.c — the resolver core: cache first, else one shared
 * upstream fetch, then render the reply for this query's DO/CD variant and cache
 * it. Bogus (and indeterminate) answers are cached briefly (bogus_ttl); timeouts
 * are not cached. TTLs are capped (cache_max_ttl, cache_max_negative_ttl) in
 * what is served and what is cached alike.
 *
 * Every query waiting for one fetch gets the same upstream answer, one after
 * the other; those of one DO/CD variant differ only in what dns_reply_patch()
 * adapts (ID, the name's case, RD, AD, EDNS), so the answer is rendered once per
 * variant and the others get a patched copy: rendering a 64 KB answer is the
 * expensive part, and eight clients must not cost eight renderings.
 */
#include "resolver.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "scrub.h"

#define RESOLVER_VARIANTS 4 /* DO x CD: what dns_reply_patch() cannot adapt */

/* The last upstream answer rendered, per variant; keyed by the answer's bytes
 * (and what else the rendering depends on), so nothing else can match it. */
struct render_memo {
    uint8_t *upstream; /* a copy of the upstream answer, or NULL */
    size_t upstream_len;
    enum dns_security security;
    uint16_t qtype;
    time_t now;                      /* the bogus EDE depends on the time */
    uint8_t *msg[RESOLVER_VARIANTS]; /* rendered and capped, not patched; NULL: not yet */
    size_t len[RESOLVER_VARIANTS];
};

struct resolver {
    unsigned refs;
    uv_loop_t *loop;
    struct dns_cache *cache;
    struct upstream *upstream;
    uint32_t bogus_ttl_s;
    uint32_t max_ttl_s, max_negative_ttl_s;
    struct resolver_stats stats;
    struct render_memo memo;
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
    r->max_ttl_s = cfg->cache_max_ttl_s;
    r->max_negative_ttl_s = cfg->cache_max_negative_ttl_s;
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
    free(r->memo.upstream);
    for (int v = 0; v < RESOLVER_VARIANTS; v++)
        free(r->memo.msg[v]);
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
    struct dns_query q = req->q;
    if (req->any_type)
        q.qtype = req->any_type; /* ANY answered with one RRset, asked for again (RFC 8482) */
    *out = *res;
    int rc = scrub_message(&q, res->security, res->msg, res->len, clean, &out->len, &rep);
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

/* Does the memo hold res rendered for this variant? Then copy it to out. */
static int memo_get(struct resolver *r, const struct upstream_result *res, uint16_t qtype,
                    time_t now, unsigned v, uint8_t *out, size_t *len)
{
    struct render_memo *m = &r->memo;
    if (!m->upstream || !m->msg[v] || m->upstream_len != res->len || m->security != res->security ||
        m->qtype != qtype || m->now != now || memcmp(m->upstream, res->msg, res->len) != 0)
        return 0;
    memcpy(out, m->msg[v], m->len[v]);
    *len = m->len[v];
    return 1;
}

/* Remember msg as res rendered for variant v (forgetting other answers). Out
 * of memory only costs the sharing. */
static void memo_put(struct resolver *r, const struct upstream_result *res, uint16_t qtype,
                     time_t now, unsigned v, const uint8_t *msg, size_t len)
{
    struct render_memo *m = &r->memo;
    if (!m->upstream || m->upstream_len != res->len || m->security != res->security ||
        m->qtype != qtype || m->now != now || memcmp(m->upstream, res->msg, res->len) != 0) {
        free(m->upstream);
        for (int k = 0; k < RESOLVER_VARIANTS; k++) {
            free(m->msg[k]);
            m->msg[k] = NULL;
        }
        m->upstream = malloc(res->len ? res->len : 1);
        if (!m->upstream)
            return;
        memcpy(m->upstream, res->msg, res->len);
        m->upstream_len = res->len;
        m->security = res->security;
        m->qtype = qtype;
        m->now = now;
    }
    free(m->msg[v]);
    m->msg[v] = malloc(len ? len : 1);
    if (m->msg[v]) {
        memcpy(m->msg[v], msg, len);
        m->len[v] = len;
    }
}

/* RFC 8482: getdns 1.6.0 calls every positive answer to ANY bogus (there is no
 * RRset of type ANY for it to validate). Ask again for the type of the first
 * RRset the upstream gave for the name, and answer ANY with that one RRset,
 * validated: what Unbound serves behind an authority that answers ANY with one
 * RRset (RFC 8482 §4.1). Returns 1 when req now waits for that fetch. */
static int any_refetch(struct resolver *r, struct resolver_request *req,
                       const struct upstream_result *res)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    uint16_t type = 0;

    if (req->q.qtype != DNS_TYPE_ANY || req->any_type ||
        (res->security != DNS_BOGUS && res->security != DNS_INDETERMINATE) ||
        dns_rr_iter_init(&it, res->msg, res->len) < 0)
        return 0;
    while (!type && dns_rr_iter_next(&it, &rr) == 1 && rr.section == DNS_SECTION_ANSWER)
        if (rr.type != DNS_TYPE_RRSIG && rr.type != DNS_TYPE_NSEC && rr.type != DNS_TYPE_NSEC3 &&
            rr.type != DNS_TYPE_OPT && rr.type != DNS_TYPE_ANY &&
            dns_name_equal(rr.owner, rr.owner_len, req->q.qname, req->q.qname_len))
            type = rr.type;
    if (!type)
        return 0;
    req->any_type = type;
    return upstream_fetch(r->upstream, req->q.qname, req->q.qname_len, type, &req->waiter) == 0;
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
    } else if (any_refetch(r, req, upstream_res)) {
        free(clean); /* the type it names is a hint: the refetched answer is scrubbed */
        return;      /* done runs when the fetch for the one RRset completes */
    } else {
        /* Rendered with an OPT for the cache; dns_reply_patch() drops it for a
         * client that sent none. */
        struct dns_query q = req->q;
        unsigned variant = (q.do_bit ? 2u : 0u) | (q.cd ? 1u : 0u);
        time_t now = time(NULL);
        q.has_edns = 1;
        ans.security = res->security;
        if (res->security == DNS_BOGUS || res->security == DNS_INDETERMINATE)
            r->stats.bogus++;
        if (scrub_rc < 0) {
            dns_name_to_text(req->q.qname, req->q.qname_len, name, sizeof name);
            log_info("resolver: %s/%u: unusable upstream answer: %s", name, req->q.qtype,
                     scrub_strerror(scrub_rc));
            dns_reply_error(&req->q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, "unusable upstream answer",
                            r->render_buf, sizeof r->render_buf, &len);
        } else if (memo_get(r, res, q.qtype, now, variant, r->render_buf, &len)) {
            /* rendered and cached for an earlier query of this variant */
            dns_reply_patch(r->render_buf, &len, &req->q, res->security, 0);
        } else {
            int rc = dns_reply_render(&q, res->security, res->msg, res->len, now, r->render_buf,
                                      sizeof r->render_buf, &len);
            if (rc == 0)
                rc = dns_reply_cap_ttls(r->render_buf, len, r->max_ttl_s, r->max_negative_ttl_s);
            if (rc < 0) {
                dns_name_to_text(req->q.qname, req->q.qname_len, name, sizeof name);
                log_info("resolver: %s/%u: unusable upstream answer: %s", name, req->q.qtype,
                         wire_strerror(rc));
                dns_reply_error(&req->q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
                                "unusable upstream answer", r->render_buf, sizeof r->render_buf,
                                &len);
            } else {
                uint32_t ttl = 0, served = 0;
                struct dns_cache_key key;
                if (dns_answer_ttl(res->msg, res->len, &ttl) < 0)
                    ttl = 0;
                /* what we serve is capped: the cache keeps it no longer */
                if (dns_answer_ttl(r->render_buf, len, &served) == 0 && served < ttl)
                    ttl = served;
                if (ttl > r->max_ttl_s)
                    ttl = r->max_ttl_s;
                if (res->security == DNS_BOGUS || res->security == DNS_INDETERMINATE) {
                    if (ttl > r->bogus_ttl_s || ttl == 0)
                        ttl = r->bogus_ttl_s;
                    if (log_verbosity >= 1) {
                        dns_name_to_text(req->q.qname, req->q.qname_len, name, sizeof name);
                        log_debug("resolver: %s/%u: %s", name, req->q.qtype,
                                  res->security == DNS_BOGUS ? "bogus" : "indeterminate");
                    }
                }
                if (dns_msg_rcode(res->msg, res->len) == DNS_RCODE_SERVFAIL)
                    ttl = 0;
                dns_cache_key_of_query(&req->q, &key);
                dns_cache_put(r->cache, &key, r->render_buf, len, res->security, ttl,
                              uv_now(r->loop));
                memo_put(r, res, q.qtype, now, variant, r->render_buf, len);
                dns_reply_patch(r->render_buf, &len, &req->q, res->security, 0);
            }
        }
    }
    free(clean);
    ans.msg = r->render_buf;
    ans.len = len;
    req->done(req, &ans);
}

int resolver_answer_cached(struct resolver *r, const struct dns_query *q, uint8_t *out, size_t cap,
                           struct resolver_answer *ans)
{
    struct dns_cache_key key;
    struct dns_cache_hit hit;

    dns_cache_key_of_query(q, &key);
    if (dns_cache_get(r->cache, &key, uv_now(r->loop), &hit) != 1 || hit.len > cap)
        return 0;
    r->stats.queries++;
    r->stats.cache_hits++;
    size_t len = hit.len;
    memcpy(out, hit.msg, hit.len);
    dns_reply_patch(out, &len, q, hit.security, hit.age_s);
    ans->msg = out;
    ans->len = len;
    ans->security = hit.security;
    ans->timed_out = 0;
    return 1;
}

int resolver_answer(struct resolver *r, struct resolver_request *req, uint8_t *out, size_t cap,
                    struct resolver_answer *ans)
{
    if (resolver_answer_cached(r, &req->q, out, cap, ans))
        return 1;
    r->stats.queries++;
    r->stats.cache_misses++;
    req->resolver = r;
    req->any_type = 0;
    req->waiter.done = upstream_done;
    return upstream_fetch(r->upstream, req->q.qname, req->q.qname_len, req->q.qtype, &req->waiter);
}

void resolver_request_cancel(struct resolver_request *req)
{
    upstream_cancel(&req->waiter);
}

int resolver_upstream_health(const struct resolver *r, size_t i,
                             struct forwarder_upstream_health *h)
{
    return upstream_health(r->upstream, i, h);
}

void resolver_get_stats(const struct resolver *r, struct resolver_stats *st)
{
    *st = r->stats;
    dns_cache_get_stats(r->cache, &st->cache);
    upstream_get_stats(r->upstream, &st->upstream);
}
