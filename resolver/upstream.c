/* resolver/upstream.c — the getdns context and the fetches it runs.
 *
 * Traps of Debian's getdns 1.6.0 handled here:
 * - its own timeout, firing while a DNSSEC validation-chain query is pending,
 *   double-frees the request (_getdns_validation_chain_timeout →
 *   _getdns_cancel_validation_chain frees what stub_timeout_cb already freed).
 *   Its timeout is therefore set out of reach (UPSTREAM_GETDNS_TIMEOUT_MS) and
 *   the fetch is bounded by our own timers: an attempt unanswered after its
 *   attempt time (measured lookup times, srtt + 4 * rttvar, at least 400 ms,
 *   then doubling) gets another getdns request beside it, the earlier ones
 *   left running, and the first complete answer is taken; the whole fetch
 *   has the configured timeout. Attempts still running when the fetch ends,
 *   or when nobody waits for it any more, are cancelled on the next loop
 *   turn, from a timer callback, never from inside getdns's (uvloop.c keeps
 *   EMFILE from getdns, after which its cancel would leave a freed request on
 *   its pending list). Fetches are capped at max_in_flight (fitted to the
 *   open-file limit), and an attempt beside a running one takes a slot too.
 * - a bogus answer may be one corrupted upstream answer that the forwarder
 *   cached: the forwarder's copies of it and of the DNSKEY/DS sets above it
 *   are dropped (forwarder_purge()) and the lookup is asked once more.
 * - getdns_context_create(ctx, 1) reads /etc/resolv.conf, where daneguard may
 *   itself be listed: the context is created with 0 and given its upstreams.
 * - with no trust anchor it fetches one from the web: anchors are always given.
 * - its libuv extension puts two polls on one fd: uvloop.c is used instead.
 */
#include "upstream.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "dns_cache.h"
#include "forwarder.h"
#include "keycache.h"
#include "log.h"
#include "probe.h"
#include "uvloop.h"

#define UPSTREAM_GETDNS_TIMEOUT_MS (24u * 3600 * 1000) /* out of reach, see above */
#define UPSTREAM_FIRST_ATTEMPT_MS 400                  /* at least; then doubling */
#define UPSTREAM_MAX_ATTEMPTS 8                        /* getdns requests per fetch */
#define UPSTREAM_MAX_PENDING 4  /* of them running at once */
#define UPSTREAM_MAX_EXTRA 64   /* attempts beside a running one, in all fetches */
#define UPSTREAM_BUCKETS 1024
#define UPSTREAM_MAX_ANCHORS 32

struct fetch_attempt {
    getdns_transaction_t tid;
    uint64_t started_ms;
    uint8_t pending; /* getdns has not called back yet */
    uint8_t extra;   /* started while another was pending (counted in up->extra_pending) */
    uint8_t gen;     /* the fetch's generation when started */
    uint8_t relaxed; /* started while signature times were not checked */
};

struct upstream_fetch {
    struct upstream *up;
    struct upstream_fetch *next_in_bucket;
    struct upstream_fetch *next, *prev; /* up->all, until freed */
    uint8_t qname[DNS_MAX_NAME]; /* lowercased */
    size_t qname_len;
    uint16_t qtype;
    char qname_text[1024];
    struct upstream_waiter waiters; /* list head */
    uv_timer_t attempt_timer;
    uv_timer_t deadline_timer;
    struct fetch_attempt att[UPSTREAM_MAX_ATTEMPTS];
    unsigned n_att;
    int starting;  /* index of the attempt whose getdns_general is running, or -1 */
    uint8_t gen;   /* bumped when a bogus answer is asked again */
    int requeried; /* a bogus answer was asked again already */
    int finished;  /* waiters answered, or none left (orphaned): attempts left are
                    * cancelled on the next loop turn, no new query joins it */
    int closing;   /* counts timer handles still to close */
    uint32_t attempt_ms;
    struct forwarder_lookup *quick; /* the answer for the key cache, pending */
    int quick_rc;                   /* what the key cache said, 0 when not asked */
    uint8_t *quick_msg;             /* the forwarder's cached answer, judged next turn */
    size_t quick_len;
};

struct upstream {
    uv_loop_t *loop;
    getdns_context *ctx;
    struct uvloop *uvloop;
    getdns_dict *extensions;
    uint32_t timeout_ms;
    uint32_t max_in_flight; /* fitted to the open-file limit */
    struct upstream_fetch *buckets[UPSTREAM_BUCKETS];
    struct upstream_stats stats;
    struct forwarder *forwarder; /* getdns's one upstream */
    struct probe *probe;         /* which upstreams strip DNSSEC */
    uint8_t anchors[UPSTREAM_MAX_ANCHORS][DNS_MAX_NAME]; /* trust anchor owners, wire */
    size_t anchor_len[UPSTREAM_MAX_ANCHORS];
    size_t n_anchors;
    int unvalidated; /* cfg->unvalidated: no DNSSEC asked for, every answer insecure */
    struct upstream_fetch all; /* list head: every fetch not yet freed */
    int32_t lookup_srtt, lookup_rttvar; /* ms, of complete attempts (Unbound's rtt) */
    unsigned extra_pending; /* attempts running beside another of the same fetch */
    int relaxed; /* validating without signature time checks (clock_sync.h) */
    struct keycache *keys; /* validated DNSKEY sets (main context only), or NULL */
    /* the configured upstreams and transports, for upstream_server_info() */
    struct config_upstream servers[CONFIG_MAX_ADDRS];
    size_t n_servers;
    enum config_transport transports[3];
    size_t n_transports;
};

const char *upstream_strerror(int err)
{
    switch (err) {
#define UPSTREAM_CASE(name, value, text)                                                           \
    case name:                                                                                     \
        return text;
        UPSTREAM_ERRORS(UPSTREAM_CASE)
#undef UPSTREAM_CASE
    }
    return "unknown upstream error";
}

static unsigned fetch_hash(const uint8_t *name, size_t len, uint16_t qtype)
{
    uint32_t h = 2166136261u ^ qtype;
    for (size_t i = 0; i < len; i++)
        h = (h ^ name[i]) * 16777619u;
    return h % UPSTREAM_BUCKETS;
}

/* --- context set-up -------------------------------------------------------- */

static void remember_anchor(struct upstream *up, getdns_dict *rr)
{
    getdns_bindata *name;
    if (up->n_anchors >= UPSTREAM_MAX_ANCHORS ||
        getdns_dict_get_bindata(rr, "name", &name) != GETDNS_RETURN_GOOD ||
        name->size > DNS_MAX_NAME)
        return;
    for (size_t i = 0; i < up->n_anchors; i++)
        if (dns_name_equal(up->anchors[i], up->anchor_len[i], name->data, name->size))
            return;
    memcpy(up->anchors[up->n_anchors], name->data, name->size);
    up->anchor_len[up->n_anchors++] = name->size;
}

static int add_trust_anchors(struct upstream *up, getdns_list *anchors, const char *path, char *err,
                             size_t errlen)
{
    FILE *fp = fopen(path, "r");
    getdns_list *rrs = NULL;
    size_t n = 0, have = 0;
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    getdns_return_t r = getdns_fp2rr_list(fp, &rrs, NULL, 3600);
    fclose(fp);
    if (r != GETDNS_RETURN_GOOD || getdns_list_get_length(rrs, &n) != GETDNS_RETURN_GOOD ||
        n == 0) {
        snprintf(err, errlen, "%s: no DNSKEY or DS records could be read", path);
        getdns_list_destroy(rrs);
        return -1;
    }
    getdns_list_get_length(anchors, &have);
    for (size_t i = 0; i < n; i++) {
        getdns_dict *rr;
        uint32_t type = 0;
        if (getdns_list_get_dict(rrs, i, &rr) == GETDNS_RETURN_GOOD &&
            getdns_dict_get_int(rr, "type", &type) == GETDNS_RETURN_GOOD &&
            (type == GETDNS_RRTYPE_DS || type == GETDNS_RRTYPE_DNSKEY)) {
            getdns_list_set_dict(anchors, have++, rr);
            remember_anchor(up, rr);
        }
    }
    getdns_list_destroy(rrs);
    return 0;
}

/* getdns's one upstream is daneguard's forwarder, plain DNS on loopback: the
 * forwarder does the TLS (tls_port, tls_auth_name, tls_pubkey_pinset,
 * tls_ca_file, tls_ca_path are its business). */
static getdns_dict *upstream_dict(const struct config_upstream *u)
{
    getdns_dict *d = getdns_dict_create();
    const struct sockaddr *sa = (const struct sockaddr *)&u->addr.ss;
    getdns_bindata addr;
    uint16_t port = addr_port(sa);
    if (!d)
        return NULL;
    addr.data = (uint8_t *)addr_bytes(sa, &addr.size); /* getdns copies it */
    getdns_dict_util_set_string(d, "address_type", addr.size == 16 ? "IPv6" : "IPv4");
    getdns_dict_set_bindata(d, "address_data", &addr);
    getdns_dict_set_int(d, "port", port ? port : 53);
    return d;
}

static int configure(struct upstream *up, const struct config_resolver *cfg, char *err,
                     size_t errlen)
{
    getdns_context *ctx = up->ctx;
    getdns_list *servers = NULL, *anchors = NULL;
    getdns_namespace_t ns = GETDNS_NAMESPACE_DNS;
    getdns_transport_list_t transports[3];
    int rc = -1;

    if (cfg->n_upstreams == 0) {
        snprintf(err, errlen, "no upstream recursive servers");
        return -1;
    }
    if (getdns_context_set_resolution_type(ctx, GETDNS_RESOLUTION_STUB) ||
        getdns_context_set_namespaces(ctx, 1, &ns) ||
        getdns_context_set_append_name(ctx, GETDNS_APPEND_NAME_NEVER) ||
        getdns_context_set_timeout(ctx, UPSTREAM_GETDNS_TIMEOUT_MS) ||
        getdns_context_set_idle_timeout(ctx, cfg->idle_timeout_ms) ||
        getdns_context_set_edns_maximum_udp_payload_size(ctx, DNS_MAX_UDP_REPLY) ||
        getdns_context_set_tls_authentication(ctx, cfg->tls_authentication_required
                                                       ? GETDNS_AUTHENTICATION_REQUIRED
                                                       : GETDNS_AUTHENTICATION_NONE)) {
        snprintf(err, errlen, "getdns refused a context setting");
        return -1;
    }
    for (size_t i = 0; i < cfg->n_transports; i++)
        transports[i] = (getdns_transport_list_t)cfg->transports[i];
    if (getdns_context_set_dns_transport_list(ctx, cfg->n_transports, transports)) {
        snprintf(err, errlen, "getdns refused the transport list");
        return -1;
    }

    servers = getdns_list_create();
    anchors = getdns_list_create();
    if (!servers || !anchors)
        goto out;
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        getdns_dict *d = upstream_dict(&cfg->upstreams[i]);
        if (!d || getdns_list_set_dict(servers, i, d) != GETDNS_RETURN_GOOD) {
            getdns_dict_destroy(d);
            goto out;
        }
        getdns_dict_destroy(d);
    }
    if (getdns_context_set_upstream_recursive_servers(ctx, servers)) {
        snprintf(err, errlen, "getdns refused the upstream servers");
        goto out;
    }
    for (size_t i = 0; i < cfg->n_trust_anchors; i++)
        if (add_trust_anchors(up, anchors, cfg->trust_anchors[i], err, errlen) < 0)
            goto out;
    if (getdns_context_set_dnssec_trust_anchors(ctx, anchors)) {
        snprintf(err, errlen, "getdns refused the trust anchors");
        goto out;
    }
    rc = 0;
out:
    if (rc < 0 && !err[0])
        snprintf(err, errlen, "out of memory");
    getdns_list_destroy(anchors);
    getdns_list_destroy(servers);
    return rc;
}

int upstream_new(uv_loop_t *loop, const struct config_resolver *cfg, struct upstream **out,
                 char *err, size_t errlen)
{
    struct upstream *up = calloc(1, sizeof *up);
    err[0] = '\0';
    if (!up) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    up->loop = loop;
    up->unvalidated = cfg->unvalidated;
    up->timeout_ms = cfg->timeout_ms;
    up->max_in_flight = cfg->max_lookups ? cfg->max_lookups : UPSTREAM_MAX_IN_FLIGHT;
    if (cfg->max_getdns_sockets)
        uvloop_set_socket_limit(cfg->max_getdns_sockets);
    up->all.next = up->all.prev = &up->all;
    up->lookup_rttvar = UPSTREAM_FIRST_ATTEMPT_MS / 4;
    if (getdns_context_create(&up->ctx, 0) != GETDNS_RETURN_GOOD) {
        snprintf(err, errlen, "getdns_context_create failed");
        goto fail;
    }
    up->uvloop = uvloop_new(loop);
    up->extensions = getdns_dict_create();
    if (!up->uvloop || !up->extensions ||
        getdns_context_set_eventloop(up->ctx, uvloop_getdns(up->uvloop)) ||
        (!cfg->unvalidated &&
         (getdns_dict_set_int(up->extensions, "dnssec_return_status", GETDNS_EXTENSION_TRUE) ||
          getdns_dict_set_int(up->extensions, "dnssec_return_all_statuses",
                              GETDNS_EXTENSION_TRUE)))) {
        snprintf(err, errlen, "cannot set up getdns on the event loop");
        goto fail;
    }
    memcpy(up->servers, cfg->upstreams, sizeof up->servers);
    up->n_servers = cfg->n_upstreams;
    memcpy(up->transports, cfg->transports, sizeof up->transports);
    up->n_transports = cfg->n_transports;
    /* getdns talks only to the caching forwarder, over loopback; the
     * forwarder talks to the upstreams over UDP, TCP and TLS (forwarder.h). */
    struct config_resolver *via = malloc(sizeof *via);
    struct sockaddr_storage fwd;
    if (!via || forwarder_new(loop, cfg, &up->forwarder, &fwd, err, errlen) < 0) {
        free(via);
        goto fail;
    }
    *via = *cfg;
    memset(via->upstreams, 0, sizeof via->upstreams);
    memcpy(&via->upstreams[0].addr.ss, &fwd, sizeof fwd);
    via->upstreams[0].addr.len = sizeof(struct sockaddr_in);
    snprintf(via->upstreams[0].addr.text, sizeof via->upstreams[0].addr.text,
             "daneguard's forwarder");
    via->n_upstreams = 1;
    /* getdns's side mirrors the first transport configured: TCP when the
     * upstreams are asked over TCP or TLS first (no UDP on loopback to lose in
     * a burst, no truncation), else UDP with TCP on truncation. */
    if (cfg->n_transports && cfg->transports[0] != CONFIG_TRANSPORT_UDP) {
        via->transports[0] = CONFIG_TRANSPORT_TCP;
        via->n_transports = 1;
    } else {
        via->transports[0] = CONFIG_TRANSPORT_UDP;
        via->transports[1] = CONFIG_TRANSPORT_TCP;
        via->n_transports = 2;
    }
    via->tls_authentication_required = 0; /* the forwarder authenticates upstreams */
    int rc = configure(up, via, err, errlen);
    free(via);
    if (rc < 0)
        goto fail;
    *out = up;
    return 0;
fail:
    upstream_free(up);
    return -1;
}

/* --- fetches --------------------------------------------------------------- */

static void fetch_timer_closed(uv_handle_t *h)
{
    struct upstream_fetch *f = h->data;
    if (--f->closing == 0) {
        f->next->prev = f->prev;
        f->prev->next = f->next;
        free(f->quick_msg);
        free(f);
    }
}

static void fetch_unlink(struct upstream_fetch *f)
{
    struct upstream_fetch **pp = &f->up->buckets[fetch_hash(f->qname, f->qname_len, f->qtype)];
    while (*pp && *pp != f)
        pp = &(*pp)->next_in_bucket;
    if (*pp)
        *pp = f->next_in_bucket;
}

static void attempt_done(struct upstream_fetch *f, struct fetch_attempt *a)
{
    if (a->pending && a->extra)
        f->up->extra_pending--;
    a->pending = 0;
}

static unsigned attempts_pending(const struct upstream_fetch *f)
{
    unsigned n = 0;
    for (unsigned i = 0; i < f->n_att; i++)
        n += f->att[i].pending;
    return n;
}

/* Stop the getdns requests still running and the timers, unlink, and free once
 * closed. Not from inside a getdns callback (see fetch_finish()). */
static void fetch_destroy(struct upstream_fetch *f)
{
    struct upstream *up = f->up;
    if (f->closing)
        return;
    forwarder_lookup_cancel(f->quick);
    f->quick = NULL;
    for (unsigned i = 0; i < f->n_att; i++) {
        if (f->att[i].pending) {
            attempt_done(f, &f->att[i]); /* the CANCEL callback will see this and ignore */
            getdns_cancel_callback(up->ctx, f->att[i].tid);
        }
    }
    fetch_unlink(f);
    up->stats.in_flight--;
    f->closing = 2;
    uv_close((uv_handle_t *)&f->attempt_timer, fetch_timer_closed);
    uv_close((uv_handle_t *)&f->deadline_timer, fetch_timer_closed);
}

static void fetch_reap_cb(uv_timer_t *t)
{
    fetch_destroy(t->data);
}

/* f is finished (answered, or nobody waits): destroy it on the next loop turn,
 * from its attempt timer, where cancelling its attempts still running is safe. */
static void fetch_reap_soon(struct upstream_fetch *f)
{
    uv_timer_stop(&f->deadline_timer);
    uv_timer_start(&f->attempt_timer, fetch_reap_cb, 0, 0);
}

/* Hand res to every waiter; each is unlinked before its callback runs. Earlier
 * attempts still running are cancelled on the next loop turn: this runs from
 * getdns's callback of another request, where cancelling is not safe. */
static void fetch_finish(struct upstream_fetch *f, const struct upstream_result *res)
{
    struct upstream_waiter *head = &f->waiters;
    fetch_unlink(f); /* new identical queries start a new fetch from here on */
    f->finished = 1;
    while (head->next != head) {
        struct upstream_waiter *w = head->next;
        w->prev->next = w->next;
        w->next->prev = w->prev;
        w->next = w->prev = NULL;
        w->fetch = NULL;
        w->done(w, res);
    }
    if (attempts_pending(f) == 0 && f->starting < 0) {
        fetch_destroy(f);
        return;
    }
    fetch_reap_soon(f);
}

static void getdns_done(getdns_context *ctx, getdns_callback_type_t type, getdns_dict *response,
                        void *userarg, getdns_transaction_t tid);

/* One more getdns request for f, beside those still running. */
static void fetch_attempt(struct upstream_fetch *f)
{
    struct upstream *up = f->up;
    if (f->n_att == UPSTREAM_MAX_ATTEMPTS || f->finished)
        return;
    struct fetch_attempt *a = &f->att[f->n_att];
    up->stats.attempts++;
    /* Marked pending before the call: getdns may complete (or fail) synchronously,
     * before it has told us the transaction ID. */
    a->extra = attempts_pending(f) > 0;
    a->pending = 1;
    up->extra_pending += a->extra;
    a->tid = 0;
    a->gen = f->gen;
    a->relaxed = (uint8_t)up->relaxed;
    a->started_ms = uv_now(up->loop);
    f->starting = (int)f->n_att++;
    getdns_transaction_t tid = 0;
    getdns_return_t r =
        getdns_general(up->ctx, f->qname_text, f->qtype, up->extensions, f, &tid, getdns_done);
    f->starting = -1;
    if (r != GETDNS_RETURN_GOOD) {
        log_debug("upstream: getdns_general refused %s/%u: %s", f->qname_text, f->qtype,
                  getdns_get_errorstr_by_id(r));
        attempt_done(f, a); /* another goes when the attempt timer fires */
    } else {
        a->tid = tid;
    }
}

/* The time one attempt is given before another goes beside it: Unbound's
 * srtt + 4 * rttvar of how long complete attempts took, at least
 * UPSTREAM_FIRST_ATTEMPT_MS and at most half the fetch's timeout. */
static uint32_t first_attempt_ms(const struct upstream *up)
{
    int64_t ms = (int64_t)up->lookup_srtt + 4 * (int64_t)up->lookup_rttvar;
    if (ms > up->timeout_ms / 2)
        ms = up->timeout_ms / 2;
    return ms < UPSTREAM_FIRST_ATTEMPT_MS ? UPSTREAM_FIRST_ATTEMPT_MS : (uint32_t)ms;
}

static void lookup_rtt_update(struct upstream *up, uint64_t ms)
{
    int32_t delta = (int32_t)(ms > 60000 ? 60000 : ms) - up->lookup_srtt;
    up->lookup_srtt += delta / 8;
    if (delta < 0)
        delta = -delta;
    up->lookup_rttvar += (delta - up->lookup_rttvar) / 4;
}

static void attempt_timer_cb(uv_timer_t *t)
{
    struct upstream_fetch *f = t->data;
    struct upstream *up = f->up;
    unsigned running = attempts_pending(f);
    f->attempt_ms *= 2;
    uv_timer_start(&f->attempt_timer, attempt_timer_cb, f->attempt_ms, 0);
    /* Not cancelled: an earlier attempt may be slow, not lost, and its answer
     * is as good as the new one's. Attempts beside running ones are bounded,
     * per fetch and in all, so that an overloaded upstream (or daneguard) is
     * not handed more of the same work; and each takes a lookup slot, so that
     * getdns's sockets stay within the share max_in_flight was fitted to. */
    if (running && (running >= UPSTREAM_MAX_PENDING || up->extra_pending >= UPSTREAM_MAX_EXTRA ||
                    up->stats.in_flight + up->extra_pending >= up->max_in_flight))
        return;
    log_trace("upstream: %s/%u: no answer yet, one more attempt beside %u running", f->qname_text,
              f->qtype, running);
    fetch_attempt(f);
}

static void deadline_timer_cb(uv_timer_t *t)
{
    struct upstream_fetch *f = t->data;
    struct upstream_result res = {.error = UPSTREAM_ETIMEDOUT};
    f->up->stats.timeouts++;
    log_info("upstream: %s/%u: no answer within %u ms", f->qname_text, f->qtype, f->up->timeout_ms);
    fetch_finish(f, &res);
}

/* --- the key cache's short path (keycache.h) ------------------------------ */

/* The key cache could not vouch for f's answer: the full getdns lookup, as
 * without the cache (it finds the forwarder's copy of the answer). */
static void quick_fallback(struct upstream_fetch *f)
{
    if (f->finished)
        return;
    uv_timer_start(&f->attempt_timer, attempt_timer_cb, f->attempt_ms, 0);
    fetch_attempt(f);
}

/* The forwarder's answer for f, copy (freed here): secure when getdns
 * validates it with the kept DNSKEY set of its signer, else the full lookup. */
static void quick_judge_copy(struct upstream_fetch *f, uint8_t *copy, size_t len)
{
    struct upstream *up = f->up;
    int rc;
    if (f->finished || up->relaxed) {
        free(copy);
        quick_fallback(f); /* (nothing when finished) */
        return;
    }
    rc = keycache_validate(up->keys, f->qname, f->qname_len, f->qtype, copy, len,
                           uv_now(up->loop), time(NULL), 0);
    f->quick_rc = rc;
    if (rc != 1) {
        log_trace("upstream: %s/%u: key cache: %s, full lookup", f->qname_text, f->qtype,
                  keycache_strerror(rc));
        free(copy);
        quick_fallback(f);
        return;
    }
    /* RFC 4035 §5.3.3, as for a full lookup's answer */
    dns_cap_ttls_by_rrsig(copy, len, time(NULL));
    struct upstream_result res = {.error = 0, .security = DNS_SECURE, .msg = copy, .len = len};
    log_trace("upstream: %s/%u: secure by the key cache, %zu bytes", f->qname_text, f->qtype, len);
    fetch_finish(f, &res);
    free(copy);
}

static void quick_judge(struct upstream_fetch *f, const uint8_t *msg, size_t len)
{
    uint8_t *copy = f->finished ? NULL : malloc(len ? len : 1);
    if (!copy) {
        quick_fallback(f);
        return;
    }
    memcpy(copy, msg, len);
    quick_judge_copy(f, copy, len);
}

static void quick_answer_cb(void *arg, const uint8_t *msg, size_t len)
{
    struct upstream_fetch *f = arg;
    f->quick = NULL;
    if (msg)
        quick_judge(f, msg, len);
    else
        quick_fallback(f);
}

/* A cached answer, judged on the loop turn after upstream_fetch() (whose
 * callbacks must not run from inside it). */
static void quick_cached_cb(uv_timer_t *t)
{
    struct upstream_fetch *f = t->data;
    uint8_t *msg = f->quick_msg;
    f->quick_msg = NULL;
    quick_judge_copy(f, msg, f->quick_len);
}

/* From upstream_fetch(): the forwarder's query goes upstream now, not after
 * the answers this loop turn still has to validate. Returns 1 when the key
 * cache's path is under way, 0 when the fetch takes getdns's path. */
static int quick_start(struct upstream_fetch *f)
{
    const uint8_t *msg = NULL;
    size_t len = 0;
    int rc = forwarder_lookup(f->up->forwarder, f->qname, f->qname_len, f->qtype, quick_answer_cb,
                              f, &f->quick, &msg, &len);
    if (rc != 1)
        return rc == 0;
    /* the forwarder has it: a copy, judged on the next turn */
    if (!(f->quick_msg = malloc(len ? len : 1)))
        return 0;
    memcpy(f->quick_msg, msg, len);
    f->quick_len = len;
    uv_timer_start(&f->attempt_timer, quick_cached_cb, 0, 0);
    return 1;
}

/* Whether a new fetch of qname tries the key cache first. */
static int quick_usable(const struct upstream *up)
{
    struct keycache_stats st;
    if (!up->keys || up->relaxed || !up->forwarder)
        return 0;
    keycache_get_stats(up->keys, &st);
    return st.zones > 0;
}

static enum dns_security security_from_getdns(uint32_t status)
{
    switch (status) {
    case GETDNS_DNSSEC_SECURE:
        return DNS_SECURE;
    case GETDNS_DNSSEC_INSECURE:
        return DNS_INSECURE;
    case GETDNS_DNSSEC_BOGUS:
        return DNS_BOGUS;
    default:
        return DNS_INDETERMINATE;
    }
}

/* Whether name is at or below anchor (both wire format). */
static int name_under(const uint8_t *name, size_t len, const uint8_t *anchor, size_t alen)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos == alen && dns_name_equal(name + pos, len - pos, anchor, alen))
            return 1;
        if (name[pos] == 0)
            break;
        pos += 1 + (size_t)name[pos];
    }
    return 0;
}

/* RFC 4035 §4.3: data outside every trust anchor's island of security cannot
 * be validated, so it is insecure, not bogus. The DS RRset at an anchor's apex
 * lives in the parent zone, above the anchor. getdns 1.6.0 calls both bogus. */
static int outside_anchors(const struct upstream_fetch *f)
{
    const struct upstream *up = f->up;
    for (size_t i = 0; i < up->n_anchors; i++) {
        if (!name_under(f->qname, f->qname_len, up->anchors[i], up->anchor_len[i]))
            continue;
        if (f->qtype == DNS_TYPE_DS &&
            dns_name_equal(f->qname, f->qname_len, up->anchors[i], up->anchor_len[i]))
            continue;
        return 0;
    }
    return 1;
}

static void getdns_done(getdns_context *ctx, getdns_callback_type_t type, getdns_dict *response,
                        void *userarg, getdns_transaction_t tid)
{
    struct upstream_fetch *f = userarg;
    struct fetch_attempt *a = NULL;
    getdns_list *full, *tree;
    getdns_bindata *wire;
    getdns_dict *reply;
    uint32_t status = GETDNS_DNSSEC_INDETERMINATE;
    (void)ctx;

    for (unsigned i = 0; i < f->n_att && !a; i++)
        if (f->att[i].pending && f->att[i].tid == tid && (f->att[i].tid || (int)i == f->starting))
            a = &f->att[i];
    if (!a && f->starting >= 0 && f->att[f->starting].pending && f->att[f->starting].tid == 0)
        a = &f->att[f->starting]; /* called back inside getdns_general */
    if (!a || type == GETDNS_CALLBACK_CANCEL) {
        if (a)
            attempt_done(f, a);
        getdns_dict_destroy(response);
        return;
    }
    attempt_done(f, a);
    if (f->finished) { /* another attempt answered first */
        getdns_dict_destroy(response);
        return;
    }
    if (a->relaxed && !f->up->relaxed) {
        /* Validated without signature times, but the clock has been
         * synchronized since: not to be trusted now (an old signature could
         * be a replay). Asked again, under the normal rule. */
        getdns_dict_destroy(response);
        if (attempts_pending(f) == 0)
            fetch_attempt(f);
        return;
    }
    if (type != GETDNS_CALLBACK_COMPLETE ||
        getdns_dict_get_list(response, "replies_full", &full) != GETDNS_RETURN_GOOD ||
        getdns_list_get_bindata(full, 0, &wire) != GETDNS_RETURN_GOOD) {
        /* Unreachable upstream, or getdns gave up: retry on the attempt timer. */
        log_trace("upstream: %s/%u: attempt failed (callback type %d)", f->qname_text, f->qtype,
                  (int)type);
        getdns_dict_destroy(response);
        return;
    }
    if (getdns_dict_get_list(response, "replies_tree", &tree) == GETDNS_RETURN_GOOD &&
        getdns_list_get_dict(tree, 0, &reply) == GETDNS_RETURN_GOOD)
        getdns_dict_get_int(reply, "dnssec_status", &status);

    if (((status == GETDNS_DNSSEC_BOGUS || status == GETDNS_DNSSEC_INDETERMINATE) &&
         outside_anchors(f)) ||
        f->up->unvalidated) /* a forward zone or domain_insecure: never secure, never bogus */
        status = GETDNS_DNSSEC_INSECURE;
    lookup_rtt_update(f->up, uv_now(f->up->loop) - a->started_ms);
    if (status == GETDNS_DNSSEC_BOGUS || status == GETDNS_DNSSEC_INDETERMINATE) {
        /* Perhaps one corrupted answer, cached by the forwarder: drop what the
         * validation used and ask once more (indeterminate under a trust
         * anchor, since outside_anchors() made the rest insecure, is a chain
         * that did not come together: the same). A bogus answer from an attempt
         * started before that purge says nothing new: wait for the newer one. */
        if (a->gen != f->gen) {
            getdns_dict_destroy(response);
            return;
        }
        forwarder_purge(f->up->forwarder, f->qname, f->qname_len, f->qtype, wire->data,
                        wire->size);
        unsigned dropped =
            keycache_purge(f->up->keys, f->qname, f->qname_len, wire->data, wire->size);
        if (dropped)
            log_debug("upstream: %s/%u: key cache: %u DNSKEY sets dropped", f->qname_text,
                      f->qtype, dropped);
        if (!f->requeried && f->n_att < UPSTREAM_MAX_ATTEMPTS) {
            log_debug("upstream: %s/%u: bogus, asking again", f->qname_text, f->qtype);
            f->requeried = 1;
            f->gen++;
            f->up->stats.requeries++;
            getdns_dict_destroy(response);
            fetch_attempt(f);
            return;
        }
    }
    if (status == GETDNS_DNSSEC_SECURE && f->up->keys && !a->relaxed && !f->up->relaxed) {
        getdns_list *chain = NULL;
        getdns_dict_get_list(response, "validation_chain", &chain);
        /* a kept set that getdns could not use for this answer is stale */
        int rc = keycache_learn(f->up->keys, f->qname, f->qname_len, f->qtype, wire->data,
                                wire->size, chain, f->quick_rc == KEYCACHE_EINSECURE,
                                uv_now(f->up->loop), time(NULL), 0);
        if (rc != 0)
            log_debug("upstream: %s/%u: key cache: %s", f->qname_text, f->qtype,
                      rc == 2   ? "the signer's DNSKEY set is kept, anchored by the local key"
                      : rc == 1 ? "the signer's DNSKEY set is kept, anchored by itself"
                                : keycache_strerror(rc));
    }
    /* RFC 4035 §5.3.3: no TTL past the signatures' expiration or Original TTL.
     * The wire data is ours (in response, destroyed below). */
    dns_cap_ttls_by_rrsig(wire->data, wire->size, time(NULL));
    struct upstream_result res = {
        .error = 0,
        .security = security_from_getdns(status),
        .msg = wire->data,
        .len = wire->size,
    };
    log_trace("upstream: %s/%u: answer of %zu bytes, dnssec status %u", f->qname_text, f->qtype,
              res.len, status);
    fetch_finish(f, &res);
    getdns_dict_destroy(response);
}

int upstream_fetch(struct upstream *up, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                   struct upstream_waiter *w)
{
    uint8_t lower[DNS_MAX_NAME];
    if (qname_len > DNS_MAX_NAME)
        return UPSTREAM_EGETDNS;
    for (size_t i = 0; i < qname_len; i++)
        lower[i] = (uint8_t)tolower(qname[i]);
    unsigned b = fetch_hash(lower, qname_len, qtype);
    struct upstream_fetch *f;
    int joined = 0, quick = 0;

    for (f = up->buckets[b]; f; f = f->next_in_bucket)
        if (f->qtype == qtype && f->qname_len == qname_len &&
            memcmp(f->qname, lower, qname_len) == 0)
            break;
    if (f) {
        joined = 1;
        up->stats.joined++;
    } else {
        if (up->stats.in_flight >= up->max_in_flight)
            return UPSTREAM_EBUSY;
        f = calloc(1, sizeof *f);
        if (!f)
            return UPSTREAM_ENOMEM;
        if (dns_name_to_text(lower, qname_len, f->qname_text, sizeof f->qname_text) < 0) {
            free(f);
            return UPSTREAM_EGETDNS;
        }
        f->up = up;
        f->next = up->all.next;
        f->prev = &up->all;
        up->all.next->prev = f;
        up->all.next = f;
        f->starting = -1;
        memcpy(f->qname, lower, qname_len);
        f->qname_len = qname_len;
        f->qtype = qtype;
        f->waiters.next = f->waiters.prev = &f->waiters;
        f->attempt_ms = first_attempt_ms(up);
        uv_timer_init(up->loop, &f->attempt_timer);
        uv_timer_init(up->loop, &f->deadline_timer);
        f->attempt_timer.data = f->deadline_timer.data = f;
        f->next_in_bucket = up->buckets[b];
        up->buckets[b] = f;
        up->stats.fetches++;
        up->stats.in_flight++;
        uv_timer_start(&f->deadline_timer, deadline_timer_cb, up->timeout_ms, 0);
    }
    w->fetch = f;
    w->next = &f->waiters;
    w->prev = f->waiters.prev;
    f->waiters.prev->next = w;
    f->waiters.prev = w;
    if (!joined && quick_usable(up))
        quick = quick_start(f);
    if (!joined && !quick) {
        uv_timer_start(&f->attempt_timer, attempt_timer_cb, f->attempt_ms, 0);
        fetch_attempt(f); /* after linking w; a synchronous getdns failure is only retried */
    }
    return 0;
}

void upstream_cancel(struct upstream_waiter *w)
{
    struct upstream_fetch *f = w->fetch;
    if (!f)
        return;
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->fetch = NULL;
    /* Nobody waits any more: its answer would be thrown away, so stop it and
     * give back its slot and getdns's sockets (what keeps a flooding client's
     * dropped queries from holding every lookup). Not from here, which may be
     * inside a getdns callback: on the next turn of the loop, by its attempt
     * timer; no new query joins it and no new attempt starts meanwhile, and an
     * answer that comes is dropped (f->finished). It stays on up->all, so
     * upstream_free() destroys it if the loop never turns again. */
    if (f->waiters.next == &f->waiters && !f->finished && !f->closing) {
        fetch_unlink(f);
        f->finished = 1;
        fetch_reap_soon(f);
    }
}

void upstream_set_time_checks(struct upstream *up, int relaxed)
{
    /* getdns compares inception and expiration with now in 32-bit serial
     * arithmetic (RFC 4034 §3.1.5): a skew of 2^31 - 1 accepts any date. */
    if (getdns_context_set_dnssec_allowed_skew(up->ctx, relaxed ? 0x7fffffffu : 0) !=
        GETDNS_RETURN_GOOD)
        log_warnx("upstream: getdns refused the DNSSEC allowed skew");
    if (up->relaxed != relaxed)
        keycache_flush(up->keys); /* sets learnt under the other rule */
    up->relaxed = relaxed;
}

int upstream_probe_dnssec(struct upstream *up, const struct config_resolver *cfg)
{
    /* under a trust anchor: the first one read is the one asked about. Each
     * upstream is asked over the forwarder's transport for it (probe.h):
     * DNS-over-TLS on its authenticated connection, never in clear beside it */
    if (!up->forwarder || up->probe || up->n_anchors == 0)
        return 0;
    if (probe_new(up->loop, up->forwarder, cfg->upstreams, cfg->n_upstreams, up->anchors[0],
                  up->anchor_len[0], &up->probe) < 0)
        return -1;
    forwarder_set_probe(up->forwarder, up->probe);
    return 0;
}

void upstream_status_notes(const struct upstream *up, char *out, size_t cap)
{
    probe_notes(up->probe, out, cap);
}

int upstream_dnssec_blocked(const struct upstream *up, const uint8_t *qname, size_t qname_len,
                            const char **why)
{
    if (!probe_blocked(up->probe, why))
        return 0;
    for (size_t i = 0; i < up->n_anchors; i++)
        if (name_under(qname, qname_len, up->anchors[i], up->anchor_len[i]))
            return 1;
    return 0;
}

void upstream_get_stats(const struct upstream *up, struct upstream_stats *st)
{
    struct keycache_stats ks;
    *st = up->stats;
    keycache_get_stats(up->keys, &ks);
    st->keycache_zones = ks.zones;
    st->keycache_secure = ks.secure;
    st->keycache_fallbacks = ks.fallbacks;
}

int upstream_use_key_cache(struct upstream *up)
{
    getdns_list *anchors = NULL;
    /* through the forwarder only (the answers come from it), validating,
     * under a trust anchor */
    if (!up->forwarder || up->unvalidated || up->n_anchors == 0 || up->keys)
        return 0;
    if (getdns_context_get_dnssec_trust_anchors(up->ctx, &anchors) != GETDNS_RETURN_GOOD)
        return -1;
    up->keys = keycache_new(0, anchors);
    getdns_list_destroy(anchors);
    if (!up->keys ||
        getdns_dict_set_int(up->extensions, "dnssec_return_validation_chain",
                            GETDNS_EXTENSION_TRUE) != GETDNS_RETURN_GOOD) {
        keycache_free(up->keys);
        up->keys = NULL;
        return -1;
    }
    return 0;
}

static const char *transport_name(enum config_transport t)
{
    return t == CONFIG_TRANSPORT_TLS ? "tls" : t == CONFIG_TRANSPORT_TCP ? "tcp" : "udp";
}

int upstream_server_info(const struct upstream *up, size_t i, struct upstream_server_info *out)
{
    if (!up || i >= up->n_servers)
        return -1;
    memset(out, 0, sizeof *out);
    /* the address and the port the first transport uses: 853 (tls_port) for TLS */
    struct sockaddr_storage ss = up->servers[i].addr.ss;
    if (up->n_transports && up->transports[0] == CONFIG_TRANSPORT_TLS) {
        uint16_t p = htons(up->servers[i].tls_port ? up->servers[i].tls_port : 853);
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = p;
        else if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = p;
    }
    addr_format((const struct sockaddr *)&ss, ADDR_FORMAT_PORT, out->address, sizeof out->address);
    /* the transports in order, "udp,tcp" */
    for (size_t k = 0; k < up->n_transports; k++) {
        size_t len = strlen(out->transport);
        snprintf(out->transport + len, sizeof out->transport - len, "%s%s", k ? "," : "",
                 transport_name(up->transports[k]));
    }
    out->known = forwarder_upstream_info(up->forwarder, i, &out->fw) == 0;
    return 0;
}
void upstream_free(struct upstream *up)
{
    if (!up)
        return;
    for (int i = 0; i < UPSTREAM_BUCKETS; i++) {
        while (up->buckets[i]) {
            struct upstream_fetch *f = up->buckets[i];
            if (f->waiters.next == &f->waiters)
                fetch_destroy(f);
            else
                upstream_cancel(f->waiters.next); /* the last one orphans f */
        }
    }
    /* finished and orphaned fetches waiting to cancel their last attempts; the
     * list head goes with up, so every fetch leaves it now (their memory goes
     * when their timers have closed) */
    while (up->all.next != &up->all) {
        struct upstream_fetch *f = up->all.next;
        fetch_destroy(f);
        f->next->prev = f->prev;
        f->prev->next = f->next;
        f->next = f->prev = f;
    }
    if (up->ctx)
        getdns_context_destroy(up->ctx);
    keycache_free(up->keys);
    uvloop_free(up->uvloop);
    probe_free(up->probe); /* its queries on the forwarder's connections first */
    forwarder_free(up->forwarder);
    getdns_dict_destroy(up->extensions);
    free(up);
}

/* --- upstreams from resolv.conf ------------------------------------------ */

static int listens_on(const struct config_resolver *cfg, const struct config_sockaddr *ns)
{
    for (size_t i = 0; i < cfg->n_listen; i++) {
        const struct sockaddr *l = (const void *)&cfg->listen[i].ss;
        const struct sockaddr *n = (const void *)&ns->ss;
        static const uint8_t loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        size_t len;
        const uint8_t *b = addr_bytes(n, &len);
        if (!b || l->sa_family != n->sa_family || addr_port(l) != addr_port(n))
            continue;
        /* any loopback nameserver of the family counts, whichever address we bind */
        if (addr_same_ip(l, n) || addr_is_unspecified(l) ||
            (len == 4 ? b[0] == 127 : memcmp(b, loopback6, 16) == 0))
            return 1;
    }
    return 0;
}

int upstream_from_resolv_conf(struct config_resolver *cfg, char *err, size_t errlen)
{
    FILE *fp = fopen(cfg->resolv_conf, "r");
    char line[512];
    int added = 0;
    if (!fp) {
        snprintf(err, errlen, "%s: %s", cfg->resolv_conf, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, fp) && cfg->n_upstreams < CONFIG_MAX_ADDRS) {
        char addr[128];
        struct config_upstream u = {.tls_port = 853};
        if (sscanf(line, " nameserver %127s", addr) != 1)
            continue;
        char *pct = strchr(addr, '%'); /* scoped v6: not supported, skip the scope */
        if (pct)
            *pct = '\0';
        if (config_sockaddr_parse(addr, 53, &u.addr) < 0)
            continue;
        if (listens_on(cfg, &u.addr)) {
            log_info("upstream: skipping nameserver %s from %s: daneguard listens there", addr,
                     cfg->resolv_conf);
            continue;
        }
        cfg->upstreams[cfg->n_upstreams++] = u;
        added++;
    }
    fclose(fp);
    if (added == 0) {
        snprintf(err, errlen,
                 "%s: no usable nameserver (daneguard does not forward to itself); "
                 "name the upstreams in the configuration, e.g.\n"
                 "  resolver:\n"
                 "    upstream_recursive_servers:\n"
                 "      - address_data: 192.168.1.1   # your router, or your ISP's resolver",
                 cfg->resolv_conf);
        return -1;
    }
    return added;
}
