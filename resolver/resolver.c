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

#include "clock_sync.h"
#include "localzone.h"
#include "log.h"
#include "scrub.h"

#define RESOLVER_VARIANTS 4   /* DO x CD: what dns_reply_patch() cannot adapt */
#define RESOLVER_STALE_TTL 30 /* RFC 8767 §4: the TTL of a stale answer */

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
    /* localzone.h: names answered here, forward zones (a context for each,
     * validated as configured, and an unvalidated one where a domain_insecure
     * name overlaps a validated zone), and domain_insecure names (the
     * upstreams without validation) */
    struct localzone *zones;
    struct upstream *forward[CONFIG_MAX_FORWARD_ZONES][2]; /* [validated?] */
    struct upstream *insecure;
    int rebind_protection;
    uint32_t bogus_ttl_s;
    uint32_t max_ttl_s, max_negative_ttl_s;
    struct resolver_stats stats;
    struct render_memo memo;
    uv_timer_t *clock_timer; /* dnssec_time_check: after_sync; closed apart from r */
    int relaxed;             /* validating without signature time checks */
    int serve_expired;
    uint8_t render_buf[65535];
};

static void memo_forget(struct render_memo *m)
{
    free(m->upstream);
    m->upstream = NULL;
    for (int v = 0; v < RESOLVER_VARIANTS; v++) {
        free(m->msg[v]);
        m->msg[v] = NULL;
    }
}

/* dnssec_time_check: after_sync. Unsynchronized: validate without signature
 * times. Synchronized again: the normal rule, and every answer validated
 * under the relaxed one leaves the cache (an expired signature replayed
 * while the clock was wrong must not outlive the sync). */
static void clock_check(struct resolver *r)
{
    int relaxed = !clock_sync_is_synchronized();
    clock_sync_set_relaxed(relaxed);
    if (relaxed == r->relaxed)
        return;
    upstream_set_time_checks(r->upstream, relaxed);
    for (size_t i = 0; i < CONFIG_MAX_FORWARD_ZONES; i++)
        for (int v = 0; v < 2; v++)
            if (r->forward[i][v])
                upstream_set_time_checks(r->forward[i][v], relaxed);
    if (r->insecure)
        upstream_set_time_checks(r->insecure, relaxed);
    if (!relaxed) {
        dns_cache_flush(r->cache);
        memo_forget(&r->memo);
    }
    r->relaxed = relaxed;
}

static void clock_timer_cb(uv_timer_t *t)
{
    if (t->data)
        clock_check(t->data);
}

static void clock_timer_closed(uv_handle_t *h)
{
    free(h);
}

/* Whether names at or below a and at or below b can meet (one is under the other). */
static int names_overlap(const char *a, const char *b)
{
    uint8_t wa[DNS_MAX_NAME], wb[DNS_MAX_NAME];
    size_t la, lb;
    if (dns_name_from_text(a, wa, &la) < 0 || dns_name_from_text(b, wb, &lb) < 0)
        return 0;
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *n = pass ? wb : wa, *z = pass ? wa : wb;
        size_t nl = pass ? lb : la, zl = pass ? la : lb;
        for (size_t pos = 0; pos < nl; pos += 1 + (size_t)n[pos]) {
            if (nl - pos == zl && dns_name_equal(n + pos, nl - pos, z, zl))
                return 1;
            if (n[pos] == 0)
                break;
        }
    }
    return 0;
}

/* The contexts for forward zones and domain_insecure names (localzone.h). */
static int local_routes_new(struct resolver *r, const struct config_resolver *cfg, char *err,
                            size_t errlen)
{
    struct config_resolver *sub;
    int rc = -1;

    r->rebind_protection = cfg->rebind_protection;
    if (localzone_new(cfg, &r->zones, err, errlen) < 0)
        return -1;
    if (!(sub = malloc(sizeof *sub))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* The open-file budget main.c fitted to one context is shared: each extra
     * context gets an eighth of its lookups and forwarder sockets (getdns's
     * sockets are capped for all contexts together, uvloop.c). */
#define SUB_SHARE(v, dflt) ((v ? v : dflt) / 8 + 1)
    for (size_t i = 0; i < cfg->n_forward_zones; i++) {
        const struct config_forward_zone *z = &cfg->forward_zones[i];
        int need[2] = {!z->validated, z->validated};
        for (size_t k = 0; k < cfg->n_domain_insecure; k++)
            need[0] |= names_overlap(z->name, cfg->domain_insecure[k]);
        for (int v = 0; v < 2; v++) {
            if (!need[v])
                continue;
            *sub = *cfg;
            memset(sub->upstreams, 0, sizeof sub->upstreams);
            for (size_t u = 0; u < z->n_upstreams; u++) {
                sub->upstreams[u].addr = z->upstreams[u];
                sub->upstreams[u].tls_port = 853;
            }
            sub->n_upstreams = z->n_upstreams;
            /* a router speaks plain DNS */
            sub->transports[0] = CONFIG_TRANSPORT_UDP;
            sub->transports[1] = CONFIG_TRANSPORT_TCP;
            sub->n_transports = 2;
            sub->unvalidated = !v;
            sub->max_lookups = SUB_SHARE(cfg->max_lookups, UPSTREAM_MAX_IN_FLIGHT);
            sub->max_forwarder_sockets = SUB_SHARE(cfg->max_forwarder_sockets, 1024);
            if (upstream_new(r->loop, sub, &r->forward[i][v], err, errlen) < 0) {
                char why[256];
                snprintf(why, sizeof why, "%s", err);
                snprintf(err, errlen, "forward zone %s: %s", z->name, why);
                goto out;
            }
        }
        log_info("resolver: forward zone %s to %s%s (%s)", z->name, z->upstreams[0].text,
                 z->n_upstreams > 1 ? " and others" : "",
                 z->validated ? "validated" : "not validated: answered without AD");
    }
    if (cfg->n_domain_insecure) {
        *sub = *cfg;
        sub->unvalidated = 1;
        sub->max_lookups = SUB_SHARE(cfg->max_lookups, UPSTREAM_MAX_IN_FLIGHT);
        sub->max_forwarder_sockets = SUB_SHARE(cfg->max_forwarder_sockets, 1024);
        if (upstream_new(r->loop, sub, &r->insecure, err, errlen) < 0)
            goto out;
        log_info("resolver: domain_insecure (negative trust anchors, not validated): %s",
                 localzone_insecure_text(r->zones));
    }
    rc = 0;
out:
    free(sub);
    return rc;
#undef SUB_SHARE
}

/* The context that answers qname; NULL for a name answered here. */
static struct upstream *route(struct resolver *r, const uint8_t *qname, size_t qname_len,
                              struct localzone_match *m)
{
    localzone_match(r->zones, qname, qname_len, m);
    switch (m->route) {
    case LOCALZONE_LOCAL:
        return NULL;
    case LOCALZONE_FORWARD: {
        struct upstream **f = r->forward[m->zone];
        /* the context as configured, or the unvalidated one under a domain_insecure name */
        return m->insecure && f[0] ? f[0] : f[1] ? f[1] : f[0];
    }
    case LOCALZONE_INSECURE:
        return r->insecure;
    case LOCALZONE_UPSTREAM:
    default:
        return r->upstream;
    }
}

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
    if (upstream_probe_dnssec(r->upstream, cfg) < 0 || upstream_use_key_cache(r->upstream) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (local_routes_new(r, cfg, err, errlen) < 0)
        goto fail;
    r->serve_expired = cfg->serve_expired;
    if (cfg->serve_expired)
        dns_cache_set_stale(r->cache, cfg->serve_expired_ttl_s);
    if (cfg->dnssec_time_check == CONFIG_TIME_CHECK_AFTER_SYNC) {
        if (!(r->clock_timer = malloc(sizeof *r->clock_timer))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        uv_timer_init(loop, r->clock_timer);
        r->clock_timer->data = r;
        clock_check(r); /* before the first lookup */
        uv_timer_start(r->clock_timer, clock_timer_cb, CLOCK_SYNC_POLL_MS, CLOCK_SYNC_POLL_MS);
        uv_unref((uv_handle_t *)r->clock_timer); /* a one-shot CLI still ends */
    } else {
        clock_sync_set_relaxed(0);
    }
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
    if (r->clock_timer) {
        r->clock_timer->data = NULL;
        uv_close((uv_handle_t *)r->clock_timer, clock_timer_closed);
    }
    upstream_free(r->upstream);
    for (size_t i = 0; i < CONFIG_MAX_FORWARD_ZONES; i++)
        for (int v = 0; v < 2; v++)
            upstream_free(r->forward[i][v]);
    upstream_free(r->insecure);
    localzone_free(r->zones);
    dns_cache_free(r->cache);
    memo_forget(&r->memo);
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

/* rebind_protection (localzone.h): A and AAAA RRsets with local addresses
 * leave an answer for a name outside the local and forward zones, with a log
 * line; what is left is no longer what the zone signed, so it is not served
 * as secure. clean is res->msg, writable. 0, or -1 for a malformed message. */
static int rebind_filter(struct resolver *r, const struct resolver_request *req,
                         struct upstream_result *res, uint8_t *clean)
{
    struct localzone_match m;
    char first[64], name[1024];
    int n;

    localzone_match(r->zones, req->q.qname, req->q.qname_len, &m);
    if (!localzone_rebind_applies(r->zones, &m))
        return 0;
    n = localzone_rebind_filter(clean, &res->len, first, sizeof first);
    if (n < 0)
        return -1;
    if (n > 0) {
        dns_name_to_text(req->q.qname, req->q.qname_len, name, sizeof name);
        log_info("resolver: %s/%u: removed %d record(s) with a local address (%s...): DNS "
                 "rebinding protection (rebind_protection; forward_zones and local_data names "
                 "are exempt)",
                 name, req->any_type ? req->any_type : req->q.qtype, n, first);
        if (res->security == DNS_SECURE)
            res->security = DNS_INSECURE;
    }
    return 0;
}

/* A name answered here (localzone_answer()): rendered as an insecure
 * upstream answer would be, not cached (it costs less than a cache entry). */
static int local_answer(struct resolver *r, const struct dns_query *query, uint8_t *out,
                        size_t cap, struct resolver_answer *ans)
{
    uint8_t raw[4096];
    size_t raw_len = 0, len = 0;
    struct dns_query q = *query;
    int rc;

    q.has_edns = 1; /* as for the cache: patched for the client below */
    rc = localzone_answer(r->zones, q.qname, q.qname_len, q.qtype, raw, sizeof raw, &raw_len);
    if (rc == 0)
        rc = dns_reply_render(&q, DNS_INSECURE, raw, raw_len, time(NULL), out, cap, &len);
    if (rc == 0)
        rc = dns_reply_cap_ttls(out, len, r->max_ttl_s, r->max_negative_ttl_s);
    if (rc == 0)
        rc = dns_reply_patch(out, &len, query, DNS_INSECURE, 0);
    if (rc < 0 && dns_reply_error(query, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER,
                                  "local data does not fit", out, cap, &len) < 0)
        return UPSTREAM_ENOMEM;
    ans->msg = out;
    ans->len = len;
    ans->security = DNS_INSECURE;
    ans->timed_out = 0;
    return 1;
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
    struct localzone_match m;
    struct upstream *up = route(r, req->q.qname, req->q.qname_len, &m);
    req->any_type = type;
    return up && upstream_fetch(up, req->q.qname, req->q.qname_len, type, &req->waiter) == 0;
}

/* Every TTL of msg (the OPT aside) set to ttl. */
static void set_ttls(uint8_t *msg, size_t len, uint32_t ttl)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    if (dns_rr_iter_init(&it, msg, len) < 0)
        return;
    while (dns_rr_iter_next(&it, &rr) == 1) {
        if (rr.type == DNS_TYPE_OPT || rr.rdata_offset < 6)
            continue;
        uint8_t *p = msg + rr.rdata_offset - 6;
        p[0] = (uint8_t)(ttl >> 24);
        p[1] = (uint8_t)(ttl >> 16);
        p[2] = (uint8_t)(ttl >> 8);
        p[3] = (uint8_t)ttl;
    }
}

/* RFC 8767: no upstream could answer; an expired answer to the same query,
 * within serve_expired_ttl past its expiry, secure (AD) or insecure, never
 * bogus, with TTL 30 and EDE 3 (Stale Answer; 19, Stale NXDOMAIN Answer, for
 * NXDOMAIN). 1 with it in r->render_buf. */
static int serve_stale(struct resolver *r, struct resolver_request *req, size_t *len,
                       enum dns_security *sec)
{
    struct dns_cache_key key;
    struct dns_cache_hit hit;
    size_t l;
    int rcode;

    if (!r->serve_expired || req->any_type)
        return 0;
    dns_cache_key_of_query(&req->q, &key);
    if (dns_cache_get_stale(r->cache, &key, uv_now(r->loop), &hit) != 1 ||
        (hit.security != DNS_SECURE && hit.security != DNS_INSECURE) ||
        hit.len > sizeof r->render_buf - 256)
        return 0;
    rcode = dns_msg_rcode(hit.msg, hit.len);
    if (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN)
        return 0;
    memcpy(r->render_buf, hit.msg, hit.len);
    l = hit.len;
    if (dns_reply_add_ede(r->render_buf, &l, sizeof r->render_buf,
                          rcode == DNS_RCODE_NXDOMAIN ? DNS_EDE_STALE_NXDOMAIN_ANSWER
                                                      : DNS_EDE_STALE_ANSWER,
                          "no upstream answered: an expired answer (RFC 8767)") < 0 ||
        dns_reply_patch(r->render_buf, &l, &req->q, hit.security, 0) < 0)
        return 0;
    set_ttls(r->render_buf, l, RESOLVER_STALE_TTL);
    *len = l;
    *sec = hit.security;
    r->stats.stale++;
    if (log_verbosity >= 1) {
        char name[1024];
        dns_name_to_text(req->q.qname, req->q.qname_len, name, sizeof name);
        log_debug("resolver: %s/%u: no upstream answered: served stale, %u s old", name,
                  req->q.qtype, hit.age_s);
    }
    return 1;
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
        if (scrub_rc == 0 && r->rebind_protection && rebind_filter(r, req, &scrubbed, clean) < 0)
            scrub_rc = SCRUB_EFORMERR;
    }
    if ((res->error || dns_msg_rcode(res->msg, res->len) == DNS_RCODE_SERVFAIL ||
         dns_msg_rcode(res->msg, res->len) == DNS_RCODE_REFUSED) &&
        serve_stale(r, req, &len, &ans.security)) {
        /* RFC 8767 */
    } else if (res->error) {
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
        /* signatures "not yet valid" on an unsynchronized clock: a box that
         * booted in the past (dnssec_time_check: always); say what to do */
        const char *ede_text;
        if (res->security == DNS_BOGUS && !r->clock_timer &&
            dns_bogus_ede(res->msg, res->len, now, &ede_text) == DNS_EDE_SIGNATURE_NOT_YET_VALID &&
            !clock_sync_is_synchronized())
            clock_sync_hint_always();
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
    const char *why = NULL;
    if (resolver_answer_cached(r, &req->q, out, cap, ans))
        return 1;
    struct localzone_match m;
    struct upstream *up = route(r, req->q.qname, req->q.qname_len, &m);
    if (up == r->upstream &&
        upstream_dnssec_blocked(r->upstream, req->q.qname, req->q.qname_len, &why)) {
        /* No upstream passes DNSSEC through (probe.h): nothing under the
         * anchor can be validated. Say why, at once (RFC 8914 EDE 10). */
        size_t len = 0;
        r->stats.queries++;
        if (dns_reply_error(&req->q, DNS_RCODE_SERVFAIL, DNS_EDE_RRSIGS_MISSING, why, out, cap,
                            &len) == 0) {
            *ans = (struct resolver_answer){.msg = out, .len = len, .security = DNS_INDETERMINATE};
            return 1;
        }
    }
    r->stats.queries++;
    if (!up) /* never leaves this machine */
        return local_answer(r, &req->q, out, cap, ans);
    r->stats.cache_misses++;
    req->resolver = r;
    req->any_type = 0;
    req->waiter.done = upstream_done;
    return upstream_fetch(up, req->q.qname, req->q.qname_len, req->q.qtype, &req->waiter);
}

void resolver_request_cancel(struct resolver_request *req)
{
    upstream_cancel(&req->waiter);
}

const char *resolver_insecure_domains(const struct resolver *r)
{
    return r ? localzone_insecure_text(r->zones) : "";
}

void resolver_get_stats(const struct resolver *r, struct resolver_stats *st)
{
    *st = r->stats;
    dns_cache_get_stats(r->cache, &st->cache);
    upstream_get_stats(r->upstream, &st->upstream);
}

const char *resolver_status_notes(const struct resolver *r, char *out, size_t cap)
{
    size_t n = 0;
    if (!cap)
        return "";
    out[0] = '\0';
    if (r->relaxed)
        n += (size_t)snprintf(out, cap,
                              "The system clock is not synchronized: DNSSEC is validated without "
                              "signature time checks, and hosts with DANE records are refused "
                              "until it is.\n");
    if (n < cap)
        upstream_status_notes(r->upstream, out + n, cap - n);
    return out;
}

int resolver_upstream_info(const struct resolver *r, size_t i, struct upstream_server_info *out)
{
    return upstream_server_info(r->upstream, i, out);
}
