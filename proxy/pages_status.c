/* proxy/pages_status.c — the status page, HTML and JSON: counters, the
 * chart of the last hour, upstreams, warnings, exceptions and the lists of
 * events. Pure string building; everything from the network is escaped. */
#include "page_writer.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- status ----------------------------------------------------------------- */
/* The page is built section by section, one function each, so a section can be
 * added (or grown) with a few lines in one place. */

static void fmt_time(char *buf, size_t n, time_t t)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(buf, n, "%lld", (long long)t);
}

static void w_row(struct page_writer *w, const char *name, uint64_t v)
{
    pw_printf(w, "<tr><th>%s</th><td class=\"n\">%llu</td></tr>\n", name, (unsigned long long)v);
}

static uint64_t count_of(const struct pages_status *s, enum pages_count c)
{
    uint64_t n = 0;
    for (int i = 0; i < PAGES_CLASSES; i++)
        if (pages_class_count((enum pages_class)i) == c)
            n += s->by_class[i];
    return n;
}

static void status_html_summary(struct page_writer *w, const struct pages_status *s)
{
    char t[64];
    fmt_time(t, sizeof t, s->now);
    unsigned long long up = (unsigned long long)s->uptime_s;
    pw_puts(w, "<h1>daneguard status</h1>\n<p>");
    if (s->version) {
        pw_puts(w, "Version <code id=\"version\">");
        pw_esc(w, s->version);
        pw_puts(w, "</code>, ");
    }
    pw_printf(w, "up <span id=\"uptime\">%llud %02llu:%02llu:%02llu</span>, at %s.</p>\n",
              up / 86400, up / 3600 % 24, up / 60 % 60, up % 60, t);
    if (s->ca_fingerprint) {
        pw_puts(w, "<p>CA certificate SHA-256 fingerprint: <code id=\"ca-fingerprint\">");
        pw_esc(w, s->ca_fingerprint);
        pw_puts(w, "</code> (<a href=\"/\">set-up page</a>)</p>\n");
    }
}

/* One SVG bar chart panel: per minute, a wide bar of one series with a
 * narrow bar of another in front of it, scaled to their maximum. */
struct chart_series {
    const char *colour;
    uint64_t v[PAGES_CHART_MINUTES];
};

static void chart_panel(struct page_writer *w, const char *label, size_t n,
                        const struct chart_series *wide, const struct chart_series *narrow)
{
    uint64_t max = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = wide->v[i] > narrow->v[i] ? wide->v[i] : narrow->v[i];
        if (v > max)
            max = v;
    }
    const int W = 10 * PAGES_CHART_MINUTES, H = 60;
    pw_printf(w, "<p class=\"muted\" style=\"margin:.6rem 0 .2rem\">%s, per minute (top: %llu)</p>",
              label, (unsigned long long)max);
    pw_printf(w,
              "<svg class=\"chart\" viewBox=\"0 0 %d %d\" preserveAspectRatio=\"none\" "
              "role=\"img\" aria-label=\"%s\" xmlns=\"http://www.w3.org/2000/svg\">",
              W, H, label);
    for (size_t i = 0; i < n; i++) {
        int x = W - 10 * (int)(n - i);
        int wh = (int)(wide->v[i] * H / max), nh = (int)(narrow->v[i] * H / max);
        if (wide->v[i] && !wh)
            wh = 1;
        if (narrow->v[i] && !nh)
            nh = 2;
        if (wh)
            pw_printf(w, "<rect x=\"%d\" y=\"%d\" width=\"9\" height=\"%d\" fill=\"%s\"/>", x,
                      H - wh, wh, wide->colour);
        if (nh)
            pw_printf(w, "<rect x=\"%d\" y=\"%d\" width=\"5\" height=\"%d\" fill=\"%s\"/>", x + 2,
                      H - nh, nh, narrow->colour);
    }
    pw_puts(w, "</svg>\n");
}

/* Queries and refusals per minute over the last hour: two inline SVG panels
 * (traffic; refusals and errors, on their own scale so a few stand out). */
static void status_html_chart(struct page_writer *w, const struct pages_status *s)
{
    if (!s->minutes || s->n_minutes == 0)
        return;
    size_t n = s->n_minutes > PAGES_CHART_MINUTES ? PAGES_CHART_MINUTES : s->n_minutes;
    const struct pages_minute *m = s->minutes + (s->n_minutes - n);
    struct chart_series q, r, f, e;
    uint64_t tq = 0, tr = 0, tf = 0, te = 0;
    q.colour = "#90a4ae";
    r.colour = "#4f83cc";
    f.colour = "#b3261e";
    e.colour = "#546e7a";
    for (size_t i = 0; i < n; i++) {
        tq += q.v[i] = m[i].queries;
        tr += r.v[i] = m[i].requests;
        tf += f.v[i] = m[i].refusals;
        te += e.v[i] = m[i].errors;
    }
    pw_puts(w, "<h2>The last hour</h2>\n<div class=\"chartbox\" id=\"chart\">");
    chart_panel(w, "DNS queries and proxy requests", n, &q, &r);
    chart_panel(w, "DANE/DNSSEC refusals and ordinary errors", n, &e, &f);
    pw_puts(w, "<div class=\"axis muted\"><span>60 minutes ago</span><span>now</span></div>"
               "</div>\n");
    pw_printf(w,
              "<p class=\"key muted\"><span style=\"background:#90a4ae\"></span>DNS queries "
              "(%llu)<span style=\"background:#4f83cc\"></span>proxy requests (%llu)"
              "<span style=\"background:#b3261e\"></span>DANE and DNSSEC refusals (%llu)"
              "<span style=\"background:#546e7a\"></span>ordinary errors (%llu)</p>\n",
              (unsigned long long)tq, (unsigned long long)tr, (unsigned long long)tf,
              (unsigned long long)te);
}

static void status_html_counts(struct page_writer *w, const struct pages_status *s)
{
    pw_puts(w, "<div><h2>Refusals and errors</h2>\n<table class=\"num\" id=\"counts\">\n");
    w_row(w, "DANE refusals", count_of(s, PAGES_COUNT_DANE));
    w_row(w, "DNSSEC failures", count_of(s, PAGES_COUNT_DNSSEC));
    w_row(w, "Ordinary errors (no such name, unreachable, port)",
          count_of(s, PAGES_COUNT_ORDINARY));
    pw_puts(w, "</table></div>\n");
}

static void status_html_resolver(struct page_writer *w, const struct pages_status *s)
{
    pw_puts(w, "<div><h2>Resolver</h2>\n<table class=\"num\">\n");
    w_row(w, "DNS queries", s->dns_queries);
    w_row(w, "Cache hits", s->cache_hits);
    w_row(w, "Cache misses", s->cache_misses);
    uint64_t lookups = s->cache_hits + s->cache_misses;
    pw_printf(w, "<tr><th>Hit ratio</th><td class=\"n\">%.1f%%</td></tr>\n",
              lookups ? 100.0 * (double)s->cache_hits / (double)lookups : 0.0);
    w_row(w, "Cache entries", s->cache_entries);
    w_row(w, "Cache bytes", s->cache_bytes);
    w_row(w, "SERVFAIL (no upstream answered)", s->servfail);
    w_row(w, "DNSSEC bogus answers", s->bogus);
    if (s->insecure_domains && s->insecure_domains[0]) { /* issue 11 */
        pw_puts(w, "<tr><th>Not validated (domain_insecure)</th><td>");
        pw_esc(w, s->insecure_domains);
        pw_puts(w, "</td></tr>\n");
    }
    pw_puts(w, "</table></div>\n");
}

static void status_html_proxy(struct page_writer *w, const struct pages_status *s)
{
    pw_puts(w, "<div><h2>Proxy</h2>\n<table class=\"num\">\n");
    w_row(w, "Connections open", s->conns_open);
    w_row(w, "Connections total", s->conns_total);
    w_row(w, "Intercepted (DANE enforced)", s->intercepted);
    w_row(w, "Tunnelled untouched", s->tunnelled);
    w_row(w, "Refused", s->refused);
    w_row(w, "Certificates minted", s->certs_minted);
    w_row(w, "Certificate cache hits", s->cert_cache_hits);
    pw_puts(w, "</table></div>\n");
}

static void status_html_upstreams(struct page_writer *w, const struct pages_status *s)
{
    pw_puts(w, "<h2>Upstream resolvers</h2>\n");
    if (!s->upstreams || s->n_upstreams == 0) {
        pw_puts(w, "<p>None known.</p>\n");
        return;
    }
    pw_puts(w, "<table class=\"ev\" id=\"upstreams\">\n<tr><th>Address</th><th>Transport</th>"
               "<th>Health</th></tr>\n");
    for (size_t i = 0; i < s->n_upstreams; i++) {
        const struct pages_upstream *u = &s->upstreams[i];
        pw_puts(w, "<tr><td class=\"host\"><code>");
        pw_esc(w, u->address ? u->address : "");
        pw_puts(w, "</code></td><td>");
        pw_esc(w, u->transport ? u->transport : "");
        pw_puts(w, "</td><td>");
        pw_esc(w, u->health ? u->health : "");
        pw_puts(w, "</td></tr>\n");
    }
    pw_puts(w, "</table>\n");
}

/* Negative trust anchors (resolver.domain_insecure): names whose DNSSEC
 * validation is switched off. */
static void status_html_ntas(struct page_writer *w, const struct pages_status *s)
{
    pw_puts(w, "<h2>Negative trust anchors</h2>\n");
    if (!s->insecure_domains || !s->insecure_domains[0]) {
        pw_puts(w, "<p id=\"ntas\">None: DNSSEC is validated for every name.</p>\n");
        return;
    }
    pw_puts(w, "<p id=\"ntas\">DNSSEC validation is switched off at and below "
               "(<code>resolver.domain_insecure</code>): <code>");
    pw_esc(w, s->insecure_domains);
    pw_puts(w, "</code></p>\n");
}

/* What the resolver wants the user to know: an unsynchronized clock, an
 * upstream that strips DNSSEC. */
static void status_html_notes(struct page_writer *w, const struct pages_status *s)
{
    if (!s->resolver_notes || !*s->resolver_notes)
        return;
    pw_puts(w, "<div class=\"box cls-clock\"><h2>Resolver warnings</h2>\n<ul>\n");
    for (const char *l = s->resolver_notes, *e; *l; l = *e ? e + 1 : e) {
        char line[512];
        e = strchr(l, '\n');
        if (!e)
            e = l + strlen(l);
        snprintf(line, sizeof line, "%.*s", (int)(e - l), l);
        pw_puts(w, "<li>");
        pw_esc(w, line);
        pw_puts(w, "</li>\n");
    }
    pw_puts(w, "</ul></div>\n");
}

/* proxy.exceptions: hosts the operator chose to reach without DANE. */
static void status_html_exceptions(struct page_writer *w, const struct pages_status *s)
{
    char t[64];
    pw_puts(w, "<h2>Exceptions (DANE not enforced)</h2>\n");
    if (!s->exceptions || s->n_exceptions == 0) {
        pw_puts(w, "<p>None (proxy.exceptions is empty).</p>\n");
        return;
    }
    pw_puts(w, "<p class=\"exceptions\">");
    for (size_t i = 0; i < s->n_exceptions; i++) {
        pw_puts(w, i ? ", <code>" : "<code>");
        pw_esc(w, s->exceptions[i]);
        pw_puts(w, "</code>");
    }
    pw_printf(w, " — used %llu time(s).</p>\n", (unsigned long long)s->exception_uses);
    if (!s->exception_recent || !s->n_exception_recent)
        return;
    pw_puts(w, "<table class=\"ev\">\n<tr><th>Time (UTC)</th><th>Host</th><th>Client</th>"
               "<th>Entry</th></tr>\n");
    for (size_t i = 0; i < s->n_exception_recent; i++) {
        const struct pages_exception_use *e = &s->exception_recent[i];
        fmt_time(t, sizeof t, e->when);
        pw_printf(w, "<tr><td class=\"t\">%s</td><td class=\"host\"><code>", t);
        pw_hostport(w, e->host ? e->host : "", e->port);
        pw_puts(w, "</code></td><td>");
        pw_esc(w, e->client ? e->client : "");
        pw_puts(w, "</td><td><code>");
        pw_esc(w, e->pattern ? e->pattern : "");
        pw_puts(w, "</code></td></tr>\n");
    }
    pw_puts(w, "</table>\n");
}

static void status_html_events(struct page_writer *w, const char *title, const char *id,
                               const struct pages_refusal_entry *e, size_t n, const char *none)
{
    char t[64];
    pw_printf(w, "<h2>%s</h2>\n", title);
    if (!e || n == 0) {
        pw_printf(w, "<p id=\"%s\">%s</p>\n", id, none);
        return;
    }
    pw_printf(w,
              "<table class=\"ev\" id=\"%s\">\n<tr><th>Time (UTC)</th><th>Host</th><th>Kind</th>"
              "<th>Reason</th></tr>\n",
              id);
    for (size_t i = 0; i < n; i++) {
        fmt_time(t, sizeof t, e[i].when);
        pw_printf(w, "<tr><td class=\"t\">%s</td><td class=\"host\"><code>", t);
        pw_hostport(w, e[i].host ? e[i].host : "", e[i].port);
        pw_printf(w, "</code></td><td><span class=\"tag cls-%s\">%s</span></td><td>",
                  pages_class_name(e[i].cls), pw_class_label(e[i].cls));
        pw_esc(w, e[i].reason ? e[i].reason : "");
        pw_puts(w, "</td></tr>\n");
    }
    pw_puts(w, "</table>\n");
}

int pages_status_html(struct http_buf *out, const struct pages_status *s)
{
    if (!out || !s)
        return PAGES_EINVAL;
    struct page_writer w;
    pw_init(&w, out);
    pw_page_begin_main(&w, "daneguard status", NULL, "wide");
    status_html_summary(&w, s);
    status_html_notes(&w, s);
    status_html_chart(&w, s);
    pw_puts(&w, "<div class=\"grid\">\n");
    status_html_counts(&w, s);
    status_html_proxy(&w, s);
    status_html_resolver(&w, s);
    pw_puts(&w, "</div>\n");
    status_html_upstreams(&w, s);
    status_html_ntas(&w, s);
    status_html_events(&w, "Recent DANE and DNSSEC refusals", "recent-refusals", s->recent,
                       s->n_recent, "None.");
    status_html_events(&w, "Recent ordinary errors", "recent-errors", s->errors, s->n_errors,
                       "None.");
    status_html_exceptions(&w, s);
    pw_puts(&w, "<p><a href=\"/status.json\">JSON</a> · <a href=\"/\">set-up</a></p>\n");
    pw_page_end(&w);
    return pw_done(&w);
}

static void json_events(struct page_writer *w, const char *key, const struct pages_refusal_entry *e,
                        size_t n)
{
    pw_printf(w, "\"%s\":[", key);
    for (size_t i = 0; e && i < n; i++) {
        pw_printf(w, "%s{\"time\":%lld,\"host\":", i ? "," : "", (long long)e[i].when);
        pw_json(w, e[i].host);
        pw_printf(w, ",\"port\":%u,\"reason\":", (unsigned)e[i].port);
        pw_json(w, e[i].reason);
        pw_printf(w, ",\"class\":\"%s\"}", pages_class_name(e[i].cls));
    }
    pw_puts(w, "]");
}

int pages_status_json(struct http_buf *out, const struct pages_status *s)
{
    if (!out || !s)
        return PAGES_EINVAL;
    struct page_writer w;
    pw_init(&w, out);
#define U(x) ((unsigned long long)(x))
    pw_printf(&w, "{\"now\":%lld,\"uptime_s\":%llu,\"version\":", (long long)s->now,
              U(s->uptime_s));
    pw_json(&w, s->version ? s->version : "");
    pw_printf(&w,
              ",\"dns\":{\"queries\":%llu,\"cache_hits\":%llu,\"cache_misses\":%llu,"
              "\"cache_entries\":%llu,\"cache_bytes\":%llu,\"servfail\":%llu,\"bogus\":%llu",
              U(s->dns_queries), U(s->cache_hits), U(s->cache_misses), U(s->cache_entries),
              U(s->cache_bytes), U(s->servfail), U(s->bogus));
    if (s->insecure_domains && s->insecure_domains[0]) { /* issue 11 */
        pw_puts(&w, ",\"insecure_domains\":");
        pw_json(&w, s->insecure_domains);
    }
    pw_puts(&w, "},");
    pw_printf(&w,
              "\"proxy\":{\"connections_open\":%llu,\"connections_total\":%llu,"
              "\"intercepted\":%llu,\"tunnelled\":%llu,\"refused\":%llu},",
              U(s->conns_open), U(s->conns_total), U(s->intercepted), U(s->tunnelled),
              U(s->refused));
    pw_printf(&w,
              "\"events\":{\"dane_refusals\":%llu,\"dnssec_failures\":%llu,"
              "\"ordinary_errors\":%llu,\"by_class\":{",
              U(count_of(s, PAGES_COUNT_DANE)), U(count_of(s, PAGES_COUNT_DNSSEC)),
              U(count_of(s, PAGES_COUNT_ORDINARY)));
    for (int i = 0; i < PAGES_CLASSES; i++)
        pw_printf(&w, "%s\"%s\":%llu", i ? "," : "", pages_class_name((enum pages_class)i),
                  U(s->by_class[i]));
    pw_puts(&w, "}},");
    pw_printf(&w, "\"certs\":{\"minted\":%llu,\"cache_hits\":%llu},", U(s->certs_minted),
              U(s->cert_cache_hits));
    pw_puts(&w, "\"upstreams\":[");
    for (size_t i = 0; s->upstreams && i < s->n_upstreams; i++) {
        pw_puts(&w, i ? ",{\"address\":" : "{\"address\":");
        pw_json(&w, s->upstreams[i].address);
        pw_puts(&w, ",\"transport\":");
        pw_json(&w, s->upstreams[i].transport);
        pw_puts(&w, ",\"health\":");
        pw_json(&w, s->upstreams[i].health);
        pw_puts(&w, "}");
    }
    pw_puts(&w, "],\"negative_trust_anchors\":[");
    for (const char *d = s->insecure_domains ? s->insecure_domains : "", *e; *d; d = e) {
        char name[256];
        e = strstr(d, ", ");
        size_t n = e ? (size_t)(e - d) : strlen(d);
        snprintf(name, sizeof name, "%.*s", (int)n, d);
        pw_puts(&w, d == s->insecure_domains ? "" : ",");
        pw_json(&w, name);
        e = e ? e + 2 : d + n;
    }
    pw_puts(&w, "],\"ca_fingerprint_sha256\":");
    pw_json(&w, s->ca_fingerprint ? s->ca_fingerprint : "");
    pw_puts(&w, ",");
    json_events(&w, "recent_refusals", s->recent, s->n_recent);
    pw_puts(&w, ",");
    json_events(&w, "recent_errors", s->errors, s->n_errors);
    pw_puts(&w, ",\"minutes\":[");
    for (size_t i = 0; s->minutes && i < s->n_minutes; i++)
        pw_printf(&w, "%s[%llu,%llu,%llu,%llu]", i ? "," : "", U(s->minutes[i].queries),
                  U(s->minutes[i].requests), U(s->minutes[i].refusals), U(s->minutes[i].errors));
#undef U
    pw_puts(&w, "],\"exceptions\":{\"hosts\":[");
    for (size_t i = 0; s->exceptions && i < s->n_exceptions; i++) {
        pw_puts(&w, i ? "," : "");
        pw_json(&w, s->exceptions[i]);
    }
    pw_printf(&w, "],\"uses\":%llu,\"recent_uses\":[", (unsigned long long)s->exception_uses);
    for (size_t i = 0; s->exception_recent && i < s->n_exception_recent; i++) {
        const struct pages_exception_use *e = &s->exception_recent[i];
        pw_printf(&w, "%s{\"time\":%lld,\"host\":", i ? "," : "", (long long)e->when);
        pw_json(&w, e->host);
        pw_printf(&w, ",\"port\":%u,\"client\":", (unsigned)e->port);
        pw_json(&w, e->client);
        pw_puts(&w, ",\"exception\":");
        pw_json(&w, e->pattern);
        pw_puts(&w, "}");
    }
    pw_puts(&w, "]}");
    if (s->resolver_notes && *s->resolver_notes) {
        pw_puts(&w, ",\"resolver_notes\":[");
        for (const char *l = s->resolver_notes, *e; *l; l = *e ? e + 1 : e) {
            char line[512];
            e = strchr(l, '\n');
            if (!e)
                e = l + strlen(l);
            snprintf(line, sizeof line, "%.*s", (int)(e - l), l);
            pw_printf(&w, "%s", l == s->resolver_notes ? "" : ",");
            pw_json(&w, line);
        }
        pw_puts(&w, "]");
    }
    pw_puts(&w, "}\n");
    return pw_done(&w);
}
