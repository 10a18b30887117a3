/* proxy/metrics.c — /metrics: the proxy's, the resolver's and the CA's
 * counters in the Prometheus text exposition format (version 0.0.4), for
 * home-lab graphs the way unbound_exporter or Pi-hole's exporters give them.
 *
 * Served on the proxy listener like /status, so proxy.allow decides who may
 * read it (others get 403 at accept). Every name is daneguard_..., every
 * family has its HELP and TYPE lines, counters end in _total and only go up
 * (they start again with the process, which Prometheus handles).
 */
#include "pconn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "version.h"

/* A family's HELP and TYPE lines. */
static void family(struct http_buf *b, const char *name, const char *type, const char *help)
{
    http_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct http_buf *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            http_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            http_buf_puts(b, "\\n");
        else
            http_buf_append(b, p, 1);
    }
}

/* One family with one unlabelled sample. */
static void single(struct http_buf *b, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    family(b, name, type, help);
    http_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* name{upstream="...",transport="..."} value */
static void upstream_sample(struct http_buf *b, const char *name,
                            const struct upstream_server_info *u, const char *fmt, ...)
    LOG_PRINTF(4, 5);
static void upstream_sample(struct http_buf *b, const char *name,
                            const struct upstream_server_info *u, const char *fmt, ...)
{
    char v[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    http_buf_printf(b, "%s{upstream=\"", name);
    label_value(b, u->address);
    http_buf_puts(b, "\",transport=\"");
    label_value(b, u->transport);
    http_buf_printf(b, "\"} %s\n", v);
}

/* A resolver has at most CONFIG_MAX_ADDRS upstreams. */
static size_t upstreams(const struct proxy *px, struct upstream_server_info *u)
{
    size_t n = 0;
    while (n < CONFIG_MAX_ADDRS && resolver_upstream_info(px->resolver, n, &u[n]) == 0)
        n++;
    return n;
}

void metrics_write(const struct proxy *px, time_t now, struct http_buf *b)
{
    struct resolver_stats rs;
    struct ca_stats cs;
    struct upstream_server_info up[CONFIG_MAX_ADDRS];
    size_t n_up = upstreams(px, up);
    uint64_t lookups;

    resolver_get_stats(px->resolver, &rs);
    ca_stats_get(px->ca, &cs);

    family(b, "daneguard_build_info", "gauge", "daneguard's version (always 1).");
    http_buf_printf(b, "daneguard_build_info{version=\"%s\"} 1\n", DANEGUARD_VERSION);
    single(b, "daneguard_start_time_seconds", "gauge", "When the process started (Unix time).",
           (uint64_t)px->started);
    single(b, "daneguard_uptime_seconds", "gauge", "Seconds since the process started.",
           (uint64_t)(now - px->started));

    /* --- the resolver --- */
    single(b, "daneguard_dns_queries_total", "counter",
           "DNS queries answered (stub clients and the proxy's own lookups).", rs.queries);
    single(b, "daneguard_dns_cache_hits_total", "counter", "Queries answered from the cache.",
           rs.cache_hits);
    single(b, "daneguard_dns_cache_misses_total", "counter", "Queries that went upstream.",
           rs.cache_misses);
    lookups = rs.cache_hits + rs.cache_misses;
    family(b, "daneguard_dns_cache_hit_ratio", "gauge",
           "Cache hits over hits and misses since start (0 before the first query).");
    http_buf_printf(b, "daneguard_dns_cache_hit_ratio %.6f\n",
                    lookups ? (double)rs.cache_hits / (double)lookups : 0.0);
    single(b, "daneguard_dns_cache_entries", "gauge", "Answers in the cache.", rs.cache.entries);
    single(b, "daneguard_dns_cache_bytes", "gauge",
           "Memory the cache holds (bounded by resolver.cache_size).", rs.cache.bytes);
    single(b, "daneguard_dns_servfail_timeouts_total", "counter",
           "Queries answered SERVFAIL because no upstream answered in time.",
           rs.servfail_timeouts);
    single(b, "daneguard_dns_bogus_total", "counter",
           "Answers that failed DNSSEC validation (bogus).", rs.bogus);
    single(b, "daneguard_dns_stale_answers_total", "counter",
           "Expired answers served because no upstream answered (resolver.serve_expired, RFC "
           "8767).",
           rs.stale);
    single(b, "daneguard_dns_upstream_fetches_total", "counter",
           "Distinct upstream lookups started (shared by every query waiting for them).",
           rs.upstream.fetches);
    single(b, "daneguard_dns_upstream_fetch_timeouts_total", "counter",
           "Upstream lookups that reached resolver.timeout.", rs.upstream.timeouts);
    single(b, "daneguard_dns_upstream_fetches_in_flight", "gauge",
           "Upstream lookups running now.", rs.upstream.in_flight);

    /* --- each upstream --- */
    family(b, "daneguard_upstream_info", "gauge",
           "A configured upstream and its transports (always 1).");
    for (size_t i = 0; i < n_up; i++)
        upstream_sample(b, "daneguard_upstream_info", &up[i], "1");
    family(b, "daneguard_upstream_up", "gauge",
           "1 unless the upstream's last 3 or more tries went unanswered.");
    for (size_t i = 0; i < n_up; i++)
        if (up[i].known)
            upstream_sample(b, "daneguard_upstream_up", &up[i], "%d",
                            up[i].fw.lost_in_a_row < 3);
    family(b, "daneguard_upstream_rtt_seconds", "gauge",
           "Smoothed round-trip time to the upstream (once it has answered).");
    for (size_t i = 0; i < n_up; i++)
        if (up[i].known && up[i].fw.measured)
            upstream_sample(b, "daneguard_upstream_rtt_seconds", &up[i], "%.3f",
                            up[i].fw.srtt_ms / 1000.0);
    family(b, "daneguard_upstream_timeout_seconds", "gauge",
           "The timeout a query to the upstream gets now (srtt + 4 rttvar, backed off on loss).");
    for (size_t i = 0; i < n_up; i++)
        if (up[i].known)
            upstream_sample(b, "daneguard_upstream_timeout_seconds", &up[i], "%.3f",
                            up[i].fw.rto_ms / 1000.0);
    family(b, "daneguard_upstream_queries_total", "counter",
           "Queries sent to the upstream, retries included.");
    for (size_t i = 0; i < n_up; i++)
        if (up[i].known)
            upstream_sample(b, "daneguard_upstream_queries_total", &up[i], "%llu",
                            (unsigned long long)up[i].fw.sent);
    family(b, "daneguard_upstream_answers_total", "counter", "Answers taken from the upstream.");
    for (size_t i = 0; i < n_up; i++)
        if (up[i].known)
            upstream_sample(b, "daneguard_upstream_answers_total", &up[i], "%llu",
                            (unsigned long long)up[i].fw.answered);
    family(b, "daneguard_upstream_lost_total", "counter",
           "Tries to the upstream that went unanswered past their timeout.");
    for (size_t i = 0; i < n_up; i++)
        if (up[i].known)
            upstream_sample(b, "daneguard_upstream_lost_total", &up[i], "%llu",
                            (unsigned long long)up[i].fw.lost);
    family(b, "daneguard_upstream_connections_total", "counter",
           "TCP and DNS-over-TLS connections opened to the upstream (kept open, pipelined).");
    for (size_t i = 0; i < n_up; i++)
        if (up[i].known)
            upstream_sample(b, "daneguard_upstream_connections_total", &up[i], "%llu",
                            (unsigned long long)(up[i].fw.conn[1].connections +
                                                 up[i].fw.conn[2].connections));
    family(b, "daneguard_upstream_tls_auth_failures_total", "counter",
           "DNS-over-TLS connections to the upstream that failed authentication "
           "(tls_auth_name, tls_pubkey_pinset).");
    for (size_t i = 0; i < n_up; i++)
        if (up[i].known)
            upstream_sample(b, "daneguard_upstream_tls_auth_failures_total", &up[i], "%llu",
                            (unsigned long long)up[i].fw.conn[2].auth_failures);
    family(b, "daneguard_upstream_backoff_seconds", "gauge",
           "How long yet the upstream's most backed-off transport is not asked (0: none is).");
    for (size_t i = 0; i < n_up; i++)
        if (up[i].known) {
            uint64_t ms = 0;
            for (int t = 0; t < 3; t++)
                if (up[i].fw.down_ms[t] > ms)
                    ms = up[i].fw.down_ms[t];
            upstream_sample(b, "daneguard_upstream_backoff_seconds", &up[i], "%.3f", ms / 1000.0);
        }

    /* --- the proxy --- */
    single(b, "daneguard_proxy_connections_open", "gauge", "Browser connections open now.",
           px->stats.conns_open);
    single(b, "daneguard_proxy_connections_accepted_total", "counter",
           "Browser connections accepted.", px->stats.conns_total);
    family(b, "daneguard_proxy_requests_total", "counter",
           "Proxy requests by outcome: intercepted (DANE or PKIX enforced), tunnelled "
           "(untouched, no DANE), refused (the refusal page), failed (a plain CONNECT error: "
           "no such name, no address, unreachable), forbidden (403: allow, port, "
           "destination), http (plain HTTP forwarded), page (daneguard's own pages).");
    const struct {
        const char *outcome;
        uint64_t v;
    } out[] = {
        {"intercepted", px->stats.intercepted}, {"tunnelled", px->stats.tunnelled},
        {"refused", px->stats.refused},         {"failed", px->stats.failed},
        {"forbidden", px->stats.forbidden},     {"http", px->stats.http_requests},
        {"page", px->stats.pages_served},
    };
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        http_buf_printf(b, "daneguard_proxy_requests_total{outcome=\"%s\"} %llu\n",
                        out[i].outcome, (unsigned long long)out[i].v);
    single(b, "daneguard_proxy_exception_uses_total", "counter",
           "CONNECTs tunnelled without DANE because proxy.exceptions lists the host.",
           px->stats.exception_uses);
    single(b, "daneguard_proxy_exceptions", "gauge", "Entries in proxy.exceptions.",
           px->cfg.n_exceptions);

    /* --- the local CA --- */
    single(b, "daneguard_ca_certificates_minted_total", "counter",
           "Host certificates signed (renewals included).", cs.misses);
    single(b, "daneguard_ca_cache_hits_total", "counter",
           "Host certificates served from the cache.", cs.hits);
    single(b, "daneguard_ca_cache_entries", "gauge", "Host certificates in the cache.",
           cs.entries);
}
