/* proxy/status.c — what daneguard answers itself: an origin-form request (or
 * an absolute URI naming daneguard) routed to its pages — onboarding, the CA
 * certificate, the PAC file, the status page — and the status page's input,
 * gathered from the proxy's, the resolver's and the CA's counters and the
 * recent refusals. The pages themselves are written by pages.c.
 */
#include "pconn.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pages.h"
#include "upconn.h"
#include "version.h"

/* --- events: counted by class, kept in two lists ------------------------------------- */

static void ring_push(struct refusal_ring *ring, struct refusal *store, size_t cap,
                      enum pages_class cls, time_t when, const char *host, uint16_t port,
                      const char *reason)
{
    ring->e = store;
    ring->cap = cap;
    struct refusal *r = &ring->e[ring->next];
    r->when = when;
    snprintf(r->host, sizeof r->host, "%s", host ? host : "");
    r->port = port;
    snprintf(r->reason, sizeof r->reason, "%.*s", (int)sizeof r->reason - 1, reason ? reason : "");
    r->cls = cls;
    ring->next = (ring->next + 1) % cap;
    if (ring->n < cap)
        ring->n++;
}

/* The chart's bucket for now, started (and the resolver's queries since the
 * last tick added to it) when the minute is new. DNS queries are sampled at
 * each tick — a proxy request, an event, a look at the status page — and
 * counted in the minute of that tick. */
static struct pages_minute *chart_tick(struct proxy *px, time_t now)
{
    struct status_events *ev = &px->events;
    int64_t minute = (int64_t)now / 60;
    struct status_minute *b = &ev->minutes[(uint64_t)minute % PAGES_CHART_MINUTES];
    if (b->minute != minute) {
        memset(b, 0, sizeof *b);
        b->minute = minute;
    }
    struct resolver_stats rs;
    resolver_get_stats(px->resolver, &rs);
    /* a reload's new resolver counts from 0 again */
    uint64_t delta = rs.queries >= ev->queries_seen ? rs.queries - ev->queries_seen : rs.queries;
    b->m.queries += delta;
    ev->queries_seen = rs.queries;
    return &b->m;
}

void status_request_seen(struct proxy *px)
{
    chart_tick(px, time(NULL))->requests++;
}

void status_event_add(struct proxy *px, enum pages_class cls, const char *host, uint16_t port,
                      const char *reason)
{
    struct status_events *ev = &px->events;
    time_t now = time(NULL);
    if ((unsigned)cls >= PAGES_CLASSES)
        cls = PAGES_CLASS_UNREACHABLE;
    ev->by_class[cls]++;
    struct pages_minute *m = chart_tick(px, now);
    if (pages_class_count(cls) == PAGES_COUNT_ORDINARY) {
        m->errors++;
        ring_push(&ev->errors, ev->errors_store, PROXY_RECENT_ERRORS, cls, now, host, port,
                  reason);
    } else {
        m->refusals++;
        ring_push(&ev->refusals, ev->refusals_store, PROXY_RECENT_REFUSALS, cls, now, host, port,
                  reason);
    }
}

/* A ring's entries, newest first, into out (ring->cap entries at most). */
static size_t ring_list(const struct refusal_ring *ring, struct pages_refusal_entry *out)
{
    for (size_t i = 0; i < ring->n; i++) {
        const struct refusal *r = &ring->e[(ring->next + ring->cap - 1 - i) % ring->cap];
        out[i] = (struct pages_refusal_entry){r->when, r->host, r->port, r->reason, r->cls};
    }
    return ring->n;
}

/* --- the status page's input -------------------------------------------------------------- */

/* One upstream's health in words, from what the forwarder has seen: answering
 * (with its round trip), not answering, a transport backed off (and why, for
 * TCP and TLS), a TLS server that failed authentication. */
static void upstream_health(const struct upstream_server_info *u, char *buf, size_t cap)
{
    static const char *const tr_name[] = {"UDP", "TCP", "TLS"};
    size_t n;
    if (!u->known) {
        snprintf(buf, cap, "unknown");
        return;
    }
    if (u->fw.answered == 0 && u->fw.lost == 0)
        n = (size_t)snprintf(buf, cap, "not asked yet");
    else if (u->fw.lost_in_a_row >= 3)
        n = (size_t)snprintf(buf, cap, "not answering: the last %u tries timed out",
                             (unsigned)u->fw.lost_in_a_row);
    else
        n = (size_t)snprintf(buf, cap, "answering: srtt %u ms, %llu answered, %llu timed out",
                             (unsigned)u->fw.srtt_ms, (unsigned long long)u->fw.answered,
                             (unsigned long long)u->fw.lost);
    for (int tr = 0; tr < 3 && n < cap; tr++) {
        const struct upconn_stats *c = &u->fw.conn[tr];
        if (u->fw.down_ms[tr] > 0)
            n += (size_t)snprintf(buf + n, cap - n, "; %s backed off for %llu s%s%s",
                                  tr_name[tr], (unsigned long long)(u->fw.down_ms[tr] + 999) / 1000,
                                  tr > 0 && c->last_error ? ": " : "",
                                  tr > 0 && c->last_error ? upconn_strerror(c->last_error) : "");
        else if (tr == 2 && c->auth_failures > 0 && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "; TLS authentication failed %llu times",
                                  (unsigned long long)c->auth_failures);
    }
}

void status_exception_use_add(struct proxy *px, const struct pconn *pc)
{
    struct exception_use *u = &px->exception_uses[px->exception_uses_next];
    u->when = time(NULL);
    snprintf(u->host, sizeof u->host, "%s", pc->req.host);
    u->port = pc->req.port;
    snprintf(u->client, sizeof u->client, "%s", pc_client_text(pc));
    snprintf(u->pattern, sizeof u->pattern, "%s", pc->verdict.exception);
    px->exception_uses_next = (px->exception_uses_next + 1) % PROXY_RECENT_ERRORS;
    if (px->n_exception_uses < PROXY_RECENT_ERRORS)
        px->n_exception_uses++;
}

void status_gather(struct proxy *px, time_t now, struct pages_status *st,
                   struct status_scratch *sc)
{
    struct status_events *ev = &px->events;
    struct resolver_stats rs;
    struct ca_stats cs;

    chart_tick(px, now);
    resolver_get_stats(px->resolver, &rs);
    ca_stats_get(px->ca, &cs);
    size_t n_up = 0;
    while (n_up < CONFIG_MAX_ADDRS &&
           resolver_upstream_info(px->resolver, n_up, &sc->servers[n_up]) == 0)
        n_up++;
    for (size_t i = 0; i < n_up; i++) {
        upstream_health(&sc->servers[i], sc->health[i], sizeof sc->health[i]);
        sc->upstreams[i] = (struct pages_upstream){sc->servers[i].address,
                                                   sc->servers[i].transport, sc->health[i]};
    }
    /* the last hour, oldest first; minutes without a tick are empty */
    int64_t minute = (int64_t)now / 60;
    for (int i = 0; i < PAGES_CHART_MINUTES; i++) {
        int64_t m = minute - (PAGES_CHART_MINUTES - 1) + i;
        const struct status_minute *b = &ev->minutes[(uint64_t)m % PAGES_CHART_MINUTES];
        sc->minutes[i] = b->minute == m ? b->m : (struct pages_minute){0};
    }
    *st = (struct pages_status){
        .now = now,
        .uptime_s = (uint64_t)(now - px->started),
        .version = DANEGUARD_VERSION,
        .dns_queries = rs.queries,
        .cache_hits = rs.cache_hits,
        .cache_misses = rs.cache_misses,
        .cache_entries = rs.cache.entries,
        .cache_bytes = rs.cache.bytes,
        .servfail = rs.servfail_timeouts,
        .bogus = rs.bogus,
        .conns_open = px->stats.conns_open,
        .conns_total = px->stats.conns_total,
        .intercepted = px->stats.intercepted,
        .tunnelled = px->stats.tunnelled,
        .refused = px->stats.refused,
        .certs_minted = cs.misses,
        .cert_cache_hits = cs.hits,
        .recent = sc->recent,
        .n_recent = ring_list(&ev->refusals, sc->recent),
        .errors = sc->errors,
        .n_errors = ring_list(&ev->errors, sc->errors),
        .upstreams = sc->upstreams,
        .n_upstreams = n_up,
        .resolver_notes = resolver_status_notes(px->resolver, sc->notes, sizeof sc->notes),
        .insecure_domains = resolver_insecure_domains(px->resolver),
        .ca_fingerprint = ca_fingerprint_sha256(px->ca),
        .minutes = sc->minutes,
        .n_minutes = PAGES_CHART_MINUTES,
    };
    memcpy(st->by_class, ev->by_class, sizeof st->by_class);
}

/* --- refusal pages ---------------------------------------------------------------------- */

void status_refusal_init(const struct pconn *pc, struct pages_refusal *r, enum pages_class cls,
                         const char *reason)
{
    *r = (struct pages_refusal){
        .host = pc->req.host,
        .port = pc->req.port,
        .reason = reason,
        .cls = cls,
        .plain_http = pc->req.kind == PC_KIND_HTTP,
        .self_path = pc->px->exe_path,
        .config_path = pc->px->config_path,
    };
}

void status_ports_text(const struct proxy *px, int plain_http, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    if (plain_http) {
        for (size_t i = 0; i < px->cfg.n_http_ports && len < cap; i++) {
            const struct config_port_range *p = &px->cfg.http_ports[i];
            int n = p->lo == p->hi
                        ? snprintf(buf + len, cap - len, "%s%u", i ? ", " : "", (unsigned)p->lo)
                        : snprintf(buf + len, cap - len, "%s%u-%u", i ? ", " : "",
                                   (unsigned)p->lo, (unsigned)p->hi);
            if (n < 0)
                break;
            len += (size_t)n;
        }
    } else {
        for (size_t i = 0; i < px->cfg.n_allowed_ports && len < cap; i++) {
            int n = snprintf(buf + len, cap - len, "%s%u", i ? ", " : "",
                             (unsigned)px->cfg.allowed_ports[i]);
            if (n < 0)
                break;
            len += (size_t)n;
        }
    }
}

/* The proxy.exceptions part of st: hosts (CONFIG_MAX_EXCEPTIONS entries) and
 * recent (PROXY_RECENT_REFUSALS) are the caller's, and borrow px's strings. */
static void status_gather_exceptions(const struct proxy *px, struct pages_status *st,
                                     const char **hosts, struct pages_exception_use *recent)
{
    size_t n = 0;
    for (size_t i = 0; i < px->cfg.n_exceptions; i++)
        hosts[i] = px->cfg.exceptions[i];
    for (size_t i = 0; i < px->n_exception_uses; i++) {
        size_t k = (px->exception_uses_next + PROXY_RECENT_ERRORS - 1 - i) % PROXY_RECENT_ERRORS;
        const struct exception_use *u = &px->exception_uses[k];
        recent[n++] = (struct pages_exception_use){u->when, u->host, u->port, u->client,
                                                   u->pattern};
    }
    st->exceptions = hosts;
    st->n_exceptions = px->cfg.n_exceptions;
    st->exception_uses = px->stats.exception_uses;
    st->exception_recent = recent;
    st->n_exception_recent = n;
}

void status_page_serve(struct pconn *pc, const struct http_head *h)
{
    struct proxy *px = pc->px;
    struct http_buf body = {0}, head = {0};
    const char *type = PAGES_HTML_TYPE;
    int status = 200;
    const char *path = h->path ? h->path : "/";
    enum pages_route route = pages_route(path);
    size_t len = 0;
    const void *raw = NULL;

    pc_enter(pc, &pc_phase_respond);
    px->stats.pages_served++;
    switch (route) {
    case PAGES_ONBOARDING:
        pages_onboarding_html(&body, px->self, ca_fingerprint_sha256(px->ca));
        break;
    case PAGES_CA_PEM:
        raw = ca_pem(px->ca, &len);
        type = PAGES_PEM_TYPE;
        break;
    case PAGES_CA_DER:
        raw = ca_der(px->ca, &len);
        type = PAGES_DER_TYPE;
        break;
    case PAGES_PAC:
        pages_pac(&body, px->self);
        type = PAGES_PAC_TYPE;
        break;
    case PAGES_STATUS:
    case PAGES_STATUS_JSON: {
        struct status_scratch *sc = malloc(sizeof *sc);
        struct pages_status st;
        if (!sc) {
            http_buf_puts(&body, "out of memory\n");
            status = 503;
            type = "text/plain; charset=utf-8";
            break;
        }
        status_gather(px, time(NULL), &st, sc);
        status_gather_exceptions(px, &st, sc->ex_hosts, sc->ex_recent);
        if (route == PAGES_STATUS_JSON) {
            pages_status_json(&body, &st);
            type = PAGES_JSON_TYPE;
        } else {
            pages_status_html(&body, &st);
        }
        free(sc);
        break;
    }
    case PAGES_METRICS:
        metrics_write(px, time(NULL), &body);
        type = PAGES_METRICS_TYPE;
        break;
    case PAGES_NOT_FOUND:
    default:
        status = 404;
        http_buf_puts(&body, "not found\n");
        type = "text/plain; charset=utf-8";
        break;
    }
    if (!raw) {
        raw = body.data;
        len = body.len;
    }
    http_write_response(&head, status, type, len, NULL, pc->req.keep_alive);
    if (h->method != HTTP_HEAD) /* the head alone, Content-Length as for GET */
        http_buf_append(&head, raw, len);
    pc_write(pc, head.data, head.len, pc->req.keep_alive ? request_next : pc_close_after_write);
    http_buf_free(&head);
    http_buf_free(&body);
}
