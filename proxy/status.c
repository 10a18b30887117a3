/* proxy/status.c — what daneguard answers itself: an origin-form request (or
 * an absolute URI naming daneguard) routed to its pages — onboarding, the CA
 * certificate, the PAC file, the status page — and the status page's input,
 * gathered from the proxy's, the resolver's and the CA's counters and the
 * recent refusals. The pages themselves are written by pages.c.
 */
#include "pconn.h"

#include <http_parser.h>
#include <stdio.h>
#include <string.h>

#include "pages.h"

void status_refusal_add(struct proxy *px, const char *host, uint16_t port, const char *reason)
{
    struct refusal *r = &px->recent[px->recent_next];
    r->when = time(NULL);
    snprintf(r->host, sizeof r->host, "%s", host);
    r->port = port;
    snprintf(r->reason, sizeof r->reason, "%.*s", (int)sizeof r->reason - 1, reason);
    px->recent_next = (px->recent_next + 1) % PROXY_RECENT_REFUSALS;
    if (px->n_recent < PROXY_RECENT_REFUSALS)
        px->n_recent++;
}

void status_exception_use_add(struct proxy *px, const struct pconn *pc)
{
    struct exception_use *u = &px->exception_uses[px->exception_uses_next];
    u->when = time(NULL);
    snprintf(u->host, sizeof u->host, "%s", pc->req.host);
    u->port = pc->req.port;
    snprintf(u->client, sizeof u->client, "%s", pc_client_text(pc));
    snprintf(u->pattern, sizeof u->pattern, "%s", pc->verdict.exception);
    px->exception_uses_next = (px->exception_uses_next + 1) % PROXY_RECENT_REFUSALS;
    if (px->n_exception_uses < PROXY_RECENT_REFUSALS)
        px->n_exception_uses++;
}

/* The status page's input, as of now. recent (PROXY_RECENT_REFUSALS entries,
 * newest first) borrows px's strings. */
void status_gather(const struct proxy *px, time_t now, struct pages_status *st,
                   struct pages_refusal_entry *recent)
{
    static char notes[4096]; /* borrowed by st until the next call (one loop thread) */
    struct resolver_stats rs;
    struct ca_stats cs;
    size_t n = 0;

    resolver_get_stats(px->resolver, &rs);
    ca_stats_get(px->ca, &cs);
    for (size_t i = 0; i < px->n_recent; i++) {
        size_t k = (px->recent_next + PROXY_RECENT_REFUSALS - 1 - i) % PROXY_RECENT_REFUSALS;
        recent[n++] = (struct pages_refusal_entry){px->recent[k].when, px->recent[k].host,
                                                   px->recent[k].port, px->recent[k].reason};
    }
    *st = (struct pages_status){
        .now = now,
        .uptime_s = (uint64_t)(now - px->started),
        .dns_queries = rs.queries,
        .cache_hits = rs.cache_hits,
        .cache_misses = rs.cache_misses,
        .cache_entries = rs.cache.entries,
        .cache_bytes = rs.cache.bytes,
        .conns_open = px->stats.conns_open,
        .conns_total = px->stats.conns_total,
        .intercepted = px->stats.intercepted,
        .tunnelled = px->stats.tunnelled,
        .refused = px->stats.refused,
        .certs_minted = cs.misses,
        .cert_cache_hits = cs.hits,
        .recent = recent,
        .n_recent = n,
        .resolver_notes = resolver_status_notes(px->resolver, notes, sizeof notes),
        .insecure_domains = resolver_insecure_domains(px->resolver),
    };
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
        size_t k = (px->exception_uses_next + PROXY_RECENT_REFUSALS - 1 - i) % PROXY_RECENT_REFUSALS;
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
        struct pages_refusal_entry recent[PROXY_RECENT_REFUSALS];
        struct pages_exception_use ex_recent[PROXY_RECENT_REFUSALS];
        const char *ex_hosts[CONFIG_MAX_EXCEPTIONS];
        struct pages_status st;
        status_gather(px, time(NULL), &st, recent);
        status_gather_exceptions(px, &st, ex_hosts, ex_recent);
        if (route == PAGES_STATUS_JSON) {
            pages_status_json(&body, &st);
            type = PAGES_JSON_TYPE;
        } else {
            pages_status_html(&body, &st);
        }
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
