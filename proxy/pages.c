/* proxy/pages.c — the pages daneguard serves itself: refusal (502), onboarding,
 * PAC file, status (HTML and JSON). Pure string building; no I/O.
 *
 * Hosts and reasons reach these pages from the network, so everything that is
 * not a literal of this file goes through pages_html_escape() or json_escape().
 */
#include "pages.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *pages_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define PAGES_CASE(name, value, text)                                                              \
    case name:                                                                                     \
        return text;
        PAGES_ERRORS(PAGES_CASE)
#undef PAGES_CASE
    }
    return "unknown pages error";
}

/* A writer with a sticky error: build a page with a run of calls, check once.
 * On failure the buffer is cut back to where the page began. */
struct writer {
    struct http_buf *b;
    size_t start;
    int err;
};

static void w_init(struct writer *w, struct http_buf *b)
{
    w->b = b;
    w->start = b->len;
    w->err = 0;
}

static int w_done(struct writer *w)
{
    if (w->err) {
        w->b->len = w->start;
        if (w->b->data)
            w->b->data[w->start] = '\0';
    }
    return w->err;
}

static void w_puts(struct writer *w, const char *s)
{
    if (!w->err && http_buf_puts(w->b, s) != 0)
        w->err = PAGES_ENOMEM;
}

static void w_printf(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_printf(struct writer *w, const char *fmt, ...)
{
    if (w->err)
        return;
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* only short formatted pieces go through here; long text uses w_puts/w_esc */
    if (n < 0 || (size_t)n >= sizeof tmp)
        w->err = PAGES_EINVAL;
    else if (http_buf_append(w->b, tmp, (size_t)n) != 0)
        w->err = PAGES_ENOMEM;
}

static void w_esc(struct writer *w, const char *s)
{
    if (!w->err && pages_html_escape(w->b, s) != 0)
        w->err = PAGES_ENOMEM;
}

int pages_html_escape(struct http_buf *out, const char *s)
{
    if (!s)
        return 0;
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        const char *rep = NULL;
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\0') || c == 0x7f)
                rep = "\xef\xbf\xbd";
        }
        if (rep || c == '\0') {
            if (http_buf_append(out, run, (size_t)(p - run)) != 0)
                return PAGES_ENOMEM;
            if (c == '\0')
                return 0;
            if (http_buf_puts(out, rep) != 0)
                return PAGES_ENOMEM;
            run = p + 1;
        }
    }
}

static void json_escape(struct writer *w, const char *s)
{
    w_puts(w, "\"");
    for (const char *p = s ? s : ""; *p && !w->err; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            w_printf(w, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            w_printf(w, "\\u%04x", c);
        else if (http_buf_append(w->b, p, 1) != 0)
            w->err = PAGES_ENOMEM;
    }
    w_puts(w, "\"");
}

enum pages_route pages_route(const char *path)
{
    if (!path)
        return PAGES_NOT_FOUND;
    size_t n = strcspn(path, "?");
    const char *query = path[n] == '?' ? path + n + 1 : "";
    static const struct {
        const char *path;
        enum pages_route route;
    } table[] = {
        {"/", PAGES_ONBOARDING},   {"/index.html", PAGES_ONBOARDING},
        {"/ca.crt", PAGES_CA_PEM}, {"/ca.pem", PAGES_CA_PEM},
        {"/ca.der", PAGES_CA_DER}, {"/ca.cer", PAGES_CA_DER},
        {"/proxy.pac", PAGES_PAC}, {"/wpad.dat", PAGES_PAC},
        {"/status", PAGES_STATUS}, {"/status.json", PAGES_STATUS_JSON},
        {"/metrics", PAGES_METRICS},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strlen(table[i].path) != n || strncmp(path, table[i].path, n) != 0)
            continue;
        if (table[i].route == PAGES_STATUS) {
            for (const char *q = query; *q;) {
                size_t l = strcspn(q, "&");
                if (l == 11 && strncmp(q, "format=json", 11) == 0)
                    return PAGES_STATUS_JSON;
                q += l + (q[l] == '&');
            }
        }
        return table[i].route;
    }
    return PAGES_NOT_FOUND;
}

/* ---- shared page frame ------------------------------------------------------ */

static const char page_css[] =
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;"
    "background:#f6f6f4;color:#1d1d1b}"
    "main{max-width:50rem;margin:2rem auto;padding:0 1rem}"
    "h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.2rem;margin-top:2rem}"
    "code,pre{font:14px/1.4 ui-monospace,'DejaVu Sans Mono',monospace;word-break:break-all}"
    "pre{background:#fff;border:1px solid #ccc;padding:.6rem;white-space:pre-wrap}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #ddd}"
    "th{width:16rem;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".bad{border-left:6px solid #b3261e;background:#fff;padding:.6rem 1rem}"
    ".reason{font-size:1.15rem;font-weight:600;color:#b3261e}"
    ".muted{color:#666;font-size:.9rem}";

static void page_begin(struct writer *w, const char *title_prefix, const char *title_tail)
{
    w_puts(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
              "<meta name=\"robots\" content=\"noindex\"><title>");
    w_esc(w, title_prefix);
    if (title_tail)
        w_esc(w, title_tail);
    w_puts(w, "</title><style>");
    w_puts(w, page_css);
    w_puts(w, "</style></head>\n<body><main>\n");
}

static void page_end(struct writer *w)
{
    w_puts(w, "<p class=\"muted\">daneguard — DNSSEC-validating resolver and DANE-enforcing "
              "proxy</p>\n</main></body></html>\n");
}

/* "host:port", with brackets around an IPv6 literal; escaped. */
static void w_hostport(struct writer *w, const char *host, uint16_t port)
{
    int v6 = strchr(host, ':') != NULL;
    if (v6)
        w_puts(w, "[");
    w_esc(w, host);
    w_printf(w, "%s:%u", v6 ? "]" : "", (unsigned)port);
}

/* ---- refusal ---------------------------------------------------------------- */

int pages_refusal_html(struct http_buf *out, const struct pages_refusal *r)
{
    if (!out || !r || !r->host || !r->reason)
        return PAGES_EINVAL;
    struct writer w;
    w_init(&w, out);
    char hp[HTTP_MAX_HOST + 16];
    int v6 = strchr(r->host, ':') != NULL;
    snprintf(hp, sizeof hp, "%s%.*s%s:%u", v6 ? "[" : "", HTTP_MAX_HOST, r->host, v6 ? "]" : "",
             (unsigned)r->port);
    page_begin(&w, "daneguard refused ", hp);

    w_puts(&w, "<div class=\"bad\"><h1>daneguard refused <code>");
    w_hostport(&w, r->host, r->port);
    w_puts(&w, "</code></h1>\n<p class=\"reason\">");
    w_esc(&w, r->reason);
    w_puts(&w, "</p>\n<p>daneguard, the DANE-enforcing proxy you are using, did not connect you "
               "to this site: the check above failed. The site's certificate could not be "
               "verified against its DNSSEC-signed TLSA records, so the connection may not be "
               "the real site. There is no way to continue from here; this is the attack DANE "
               "protects you from, or a misconfigured site.</p></div>\n");

    w_puts(&w, "<h2>Details</h2>\n<table>\n<tr><th>Host</th><td><code>");
    w_esc(&w, r->host);
    w_printf(&w, "</code></td></tr>\n<tr><th>Port</th><td><code>%u</code></td></tr>\n",
             (unsigned)r->port);
    w_puts(&w, "<tr><th>Check that failed</th><td>");
    w_esc(&w, r->reason);
    w_printf(&w, "</td></tr>\n<tr><th>TLSA records of <code>_%u._tcp.", (unsigned)r->port);
    w_esc(&w, r->host);
    w_puts(&w, "</code></th><td>");
    if (r->tlsa && r->n_tlsa) {
        w_puts(&w, "<ul>");
        for (size_t i = 0; i < r->n_tlsa; i++) {
            w_puts(&w, "<li><code>");
            w_esc(&w, r->tlsa[i] ? r->tlsa[i] : "");
            w_puts(&w, "</code></li>");
        }
        w_puts(&w, "</ul>");
    } else {
        w_puts(&w, "none obtained");
    }
    w_puts(&w, "</td></tr>\n<tr><th>Presented certificate: SHA-256 of its public key "
               "(SPKI)</th><td>");
    char hex[65] = "";
    if (r->spki_sha256) {
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", r->spki_sha256[i]);
        w_printf(&w, "<code>%s</code>", hex);
    } else {
        w_puts(&w, "no certificate was presented");
    }
    w_puts(&w, "</td></tr>\n</table>\n");

    w_puts(&w, "<h2>For the operator</h2>\n<p>Run this on the daneguard host to repeat the "
               "lookups and the certificate check and see each step:</p>\n<pre>daneguard check ");
    w_esc(&w, r->host);
    w_printf(&w, " %u</pre>\n", (unsigned)r->port);
    if (r->spki_sha256)
        w_printf(&w,
                 "<p>If the presented key is the right one, a DANE-EE record that matches it "
                 "is:</p>\n<pre>_%u._tcp.",
                 (unsigned)r->port);
    if (r->spki_sha256) {
        w_esc(&w, r->host);
        w_printf(&w, ". IN TLSA 3 1 1 %s</pre>\n", hex);
    }
    w_puts(&w, "<p>If the TLSA records are right, the server is presenting a certificate its "
               "owner did not publish: check the server's certificate and key, or whether "
               "something between daneguard and the server intercepts TLS. DNSSEC failures "
               "(bogus, expired signatures) are fixed in the zone: re-sign it and check its DS "
               "in the parent.</p>\n");
    page_end(&w);
    return w_done(&w);
}

int pages_refusal_response(struct http_buf *out, const struct pages_refusal *r, int keep_alive)
{
    struct http_buf body = {0};
    int rc = pages_refusal_html(&body, r);
    if (rc == 0 && http_write_response(out, 502, PAGES_HTML_TYPE, body.len,
                                       "X-Content-Type-Options: nosniff\r\n", keep_alive) != 0)
        rc = PAGES_ENOMEM;
    if (rc == 0 && http_buf_append(out, body.data, body.len) != 0)
        rc = PAGES_ENOMEM;
    http_buf_free(&body);
    return rc;
}

/* ---- onboarding and PAC ----------------------------------------------------- */

static int proxy_addr_ok(const char *a)
{
    if (!a || !*a || strlen(a) > 64)
        return 0;
    return strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-[]") ==
           strlen(a);
}

static int fingerprint_ok(const char *f)
{
    return f && *f && strlen(f) <= 200 && strspn(f, "0123456789ABCDEFabcdef:") == strlen(f);
}

int pages_onboarding_html(struct http_buf *out, const char *proxy_addr, const char *ca_fingerprint)
{
    if (!out || !proxy_addr_ok(proxy_addr) || (ca_fingerprint && !fingerprint_ok(ca_fingerprint)))
        return PAGES_EINVAL;
    struct writer w;
    w_init(&w, out);
    page_begin(&w, "daneguard — set up this browser", NULL);
    w_puts(&w, "<h1>daneguard</h1>\n<p>daneguard is the DNSSEC-validating resolver and "
               "DANE-enforcing web proxy on this network. When your browser uses it as its proxy, "
               "daneguard checks every HTTPS site that publishes DNSSEC-signed TLSA records "
               "(DANE, RFC 6698) and refuses a connection whose certificate does not match "
               "them, with a page that says why. Sites without TLSA records pass through "
               "untouched.</p>\n<p>To do that for sites with DANE it terminates TLS itself, so "
               "your browser must trust daneguard's own certificate authority (CA). It was "
               "created on this machine; its private key never leaves it.</p>\n");

    w_puts(&w, "<h2>1. Get the CA certificate</h2>\n<ul>\n"
               "<li><a href=\"/ca.crt\">ca.crt</a> (PEM) — Firefox, Chromium, Linux, macOS</li>\n"
               "<li><a href=\"/ca.der\">ca.der</a> (DER) — Windows</li>\n</ul>\n");
    if (ca_fingerprint) {
        w_puts(&w, "<p><em>Check its fingerprint before you trust it.</em> This page and the "
                   "certificate came over plain HTTP: anyone on the way could have swapped both. "
                   "The certificate daneguard serves has the SHA-256 fingerprint</p>\n"
                   "<pre id=\"ca-fingerprint\">");
        w_esc(&w, ca_fingerprint);
        w_puts(&w, "</pre>\n<p>Compare it, and the fingerprint your browser shows for the "
                   "file you downloaded (in its certificate viewer, \"SHA-256 Fingerprint\"), "
                   "with what the daneguard machine says itself: the line <code>proxy: CA "
                   "certificate ... SHA-256 fingerprint ...</code> in daneguard's log at start, or "
                   "on that machine<pre>openssl x509 -noout -fingerprint -sha256 -in "
                   "/var/lib/daneguard/ca.crt</pre>(the file is <code>ca.crt</code> in daneguard's "
                   "<code>ca_dir</code>). Trust the certificate only if they are the same.</p>\n");
    }

    w_puts(&w, "<h2>2. Trust it</h2>\n<table>\n"
               "<tr><th>Firefox (any OS)</th><td>Settings → Privacy &amp; Security → "
               "Certificates → View Certificates → Authorities → Import, choose "
               "<code>ca.crt</code>, tick <em>Trust this CA to identify websites</em>.</td></tr>\n"
               "<tr><th>Chromium / Chrome on Linux</th><td>Open "
               "<code>chrome://settings/certificates</code> → Authorities → Import, choose "
               "<code>ca.crt</code>, trust it for identifying websites. Or from a shell:"
               "<pre>certutil -d sql:$HOME/.pki/nssdb -A -t \"C,,\" -n daneguard -i ca.crt</pre>"
               "</td></tr>\n"
               "<tr><th>Debian / Ubuntu system store</th><td><pre>sudo cp ca.crt "
               "/usr/local/share/ca-certificates/daneguard.crt\nsudo update-ca-certificates</pre>"
               "(curl, wget and most command-line tools use it.)</td></tr>\n"
               "<tr><th>macOS</th><td><pre>sudo security add-trusted-cert -d -r trustRoot -k "
               "/Library/Keychains/System.keychain ca.crt</pre>(Safari and Chrome use the "
               "keychain.)</td></tr>\n"
               "<tr><th>Windows</th><td>In an administrator prompt:<pre>certutil -addstore -f "
               "ROOT ca.der</pre>(Edge and Chrome use the Windows store.)</td></tr>\n"
               "</table>\n");

    w_puts(&w, "<h2>3. Use daneguard as the proxy</h2>\n<p>Proxy address: <code>");
    w_esc(&w, proxy_addr);
    w_puts(&w, "</code> (HTTP proxy, also used for HTTPS).</p>\n<ul>\n"
               "<li>Automatic: set the proxy configuration URL to <code>http://");
    w_esc(&w, proxy_addr);
    w_puts(&w, "/proxy.pac</code> (<a href=\"/proxy.pac\">view the PAC file</a>).</li>\n"
               "<li>Firefox: Settings → General → Network Settings → Manual proxy configuration: "
               "HTTP Proxy <code>");
    w_esc(&w, proxy_addr);
    w_puts(&w, "</code>, tick <em>Also use this proxy for HTTPS</em>; or choose "
               "<em>Automatic proxy configuration URL</em> with the PAC address.</li>\n"
               "<li>Chromium / Chrome on Linux: start it with <code>--proxy-server=");
    w_esc(&w, proxy_addr);
    w_puts(&w, "</code> or <code>--proxy-pac-url=http://");
    w_esc(&w, proxy_addr);
    w_puts(&w, "/proxy.pac</code>, or set the desktop's system proxy.</li>\n"
               "<li>macOS: System Settings → Network → your network → Details → Proxies; "
               "Windows: Settings → Network &amp; Internet → Proxy.</li>\n"
               "<li>Command line: <code>export https_proxy=http://");
    w_esc(&w, proxy_addr);
    w_puts(&w, " http_proxy=http://");
    w_esc(&w, proxy_addr);
    w_puts(&w, "</code></li>\n</ul>\n");

    w_puts(&w, "<h2>4. Check it</h2>\n<p>The <a href=\"/status\">status page</a> shows the "
               "resolver's cache, the proxy's connections and the most recent refusals "
               "(<a href=\"/status.json\">as JSON</a>).</p>\n");
    page_end(&w);
    return w_done(&w);
}

int pages_pac(struct http_buf *out, const char *proxy_addr)
{
    if (!out || !proxy_addr_ok(proxy_addr))
        return PAGES_EINVAL;
    struct writer w;
    w_init(&w, out);
    w_puts(&w, "// daneguard proxy auto-configuration.\n"
               "// Everything goes through daneguard, with no DIRECT fallback: if the proxy\n"
               "// is down, pages fail rather than silently losing DANE protection.\n"
               "// Plain host names, localhost, .local and .home.arpa names, and loopback,\n"
               "// private, link-local, CGNAT and unique-local addresses go DIRECT: the\n"
               "// proxy refuses to connect to those (proxy.allow_destinations).\n"
               "function FindProxyForURL(url, host) {\n"
               "    if (isPlainHostName(host) ||\n"
               "        host == \"localhost\" || dnsDomainIs(host, \".localhost\") ||\n"
               "        shExpMatch(host, \"127.*\") ||\n"
               "        host == \"::1\" || host == \"[::1]\" ||\n"
               "        dnsDomainIs(host, \".local\") || dnsDomainIs(host, \".home.arpa\"))\n"
               "        return \"DIRECT\";\n"
               "    // address literals only: resolving a name here would bypass daneguard\n"
               "    var h = host.toLowerCase().replace(/^\\[(.*)\\]$/, \"$1\");\n"
               "    h = h.replace(/^::ffff:(\\d+\\.\\d+\\.\\d+\\.\\d+)$/, \"$1\");\n"
               "    if (/^\\d+\\.\\d+\\.\\d+\\.\\d+$/.test(h)) {\n"
               "        if (isInNet(h, \"10.0.0.0\", \"255.0.0.0\") ||\n"
               "            isInNet(h, \"172.16.0.0\", \"255.240.0.0\") ||\n"
               "            isInNet(h, \"192.168.0.0\", \"255.255.0.0\") ||\n"
               "            isInNet(h, \"169.254.0.0\", \"255.255.0.0\") ||\n"
               "            isInNet(h, \"100.64.0.0\", \"255.192.0.0\") ||\n"
               "            isInNet(h, \"127.0.0.0\", \"255.0.0.0\") ||\n"
               "            isInNet(h, \"0.0.0.0\", \"255.0.0.0\"))\n"
               "            return \"DIRECT\";\n"
               "    } else if (h == \"::\" || /^f[cd][0-9a-f]{2}:/.test(h) ||\n"
               "               /^fe[89ab][0-9a-f]:/.test(h)) {\n"
               "        return \"DIRECT\";\n"
               "    }\n"
               "    return \"PROXY ");
    w_puts(&w, proxy_addr);
    w_puts(&w, "\";\n}\n");
    return w_done(&w);
}

/* ---- status ----------------------------------------------------------------- */

static void fmt_time(char *buf, size_t n, time_t t)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(buf, n, "%lld", (long long)t);
}

static void w_row(struct writer *w, const char *name, uint64_t v)
{
    w_printf(w, "<tr><th>%s</th><td class=\"n\">%llu</td></tr>\n", name, (unsigned long long)v);
}

int pages_status_html(struct http_buf *out, const struct pages_status *s)
{
    if (!out || !s)
        return PAGES_EINVAL;
    struct writer w;
    w_init(&w, out);
    char t[64];
    page_begin(&w, "daneguard status", NULL);
    fmt_time(t, sizeof t, s->now);
    unsigned long long up = (unsigned long long)s->uptime_s;
    w_printf(&w, "<h1>daneguard status</h1>\n<p>At %s, up %llud %02llu:%02llu:%02llu.</p>\n", t,
             up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);

    w_puts(&w, "<h2>Resolver</h2>\n<table>\n");
    w_row(&w, "DNS queries", s->dns_queries);
    w_row(&w, "Cache hits", s->cache_hits);
    w_row(&w, "Cache misses", s->cache_misses);
    uint64_t lookups = s->cache_hits + s->cache_misses;
    w_printf(&w, "<tr><th>Hit ratio</th><td class=\"n\">%.1f%%</td></tr>\n",
             lookups ? 100.0 * (double)s->cache_hits / (double)lookups : 0.0);
    w_row(&w, "Cache entries", s->cache_entries);
    w_row(&w, "Cache bytes", s->cache_bytes);
    if (s->insecure_domains && s->insecure_domains[0]) { /* issue 11 */
        w_puts(&w, "<tr><th>Not validated (domain_insecure)</th><td>");
        w_esc(&w, s->insecure_domains);
        w_puts(&w, "</td></tr>\n");
    }
    w_puts(&w, "</table>\n");
    if (s->resolver_notes && *s->resolver_notes) {
        w_puts(&w, "<h2>Resolver warnings</h2>\n<ul>\n");
        for (const char *l = s->resolver_notes, *e; *l; l = *e ? e + 1 : e) {
            char line[512];
            e = strchr(l, '\n');
            if (!e)
                e = l + strlen(l);
            snprintf(line, sizeof line, "%.*s", (int)(e - l), l);
            w_puts(&w, "<li>");
            w_esc(&w, line);
            w_puts(&w, "</li>\n");
        }
        w_puts(&w, "</ul>\n");
    }
    w_puts(&w, "<h2>Proxy</h2>\n<table>\n");
    w_row(&w, "Connections open", s->conns_open);
    w_row(&w, "Connections total", s->conns_total);
    w_row(&w, "Intercepted (DANE enforced)", s->intercepted);
    w_row(&w, "Tunnelled untouched", s->tunnelled);
    w_row(&w, "Refused", s->refused);
    w_row(&w, "Certificates minted", s->certs_minted);
    w_row(&w, "Certificate cache hits", s->cert_cache_hits);
    w_puts(&w, "</table>\n<h2>Recent refusals</h2>\n");
    if (!s->recent || s->n_recent == 0) {
        w_puts(&w, "<p>None.</p>\n");
    } else {
        w_puts(&w, "<table>\n<tr><th>Time</th><th>Host</th><th>Reason</th></tr>\n");
        for (size_t i = 0; i < s->n_recent; i++) {
            const struct pages_refusal_entry *e = &s->recent[i];
            fmt_time(t, sizeof t, e->when);
            w_printf(&w, "<tr><td>%s</td><td><code>", t);
            w_hostport(&w, e->host ? e->host : "", e->port);
            w_puts(&w, "</code></td><td>");
            w_esc(&w, e->reason ? e->reason : "");
            w_puts(&w, "</td></tr>\n");
        }
        w_puts(&w, "</table>\n");
    }
    /* proxy.exceptions: hosts the operator chose to reach without DANE */
    w_puts(&w, "<h2>Exceptions (DANE not enforced)</h2>\n");
    if (!s->exceptions || s->n_exceptions == 0) {
        w_puts(&w, "<p>None (proxy.exceptions is empty).</p>\n");
    } else {
        w_puts(&w, "<p class=\"exceptions\">");
        for (size_t i = 0; i < s->n_exceptions; i++) {
            w_puts(&w, i ? ", <code>" : "<code>");
            w_esc(&w, s->exceptions[i]);
            w_puts(&w, "</code>");
        }
        w_printf(&w, " — used %llu time(s).</p>\n", (unsigned long long)s->exception_uses);
        if (s->exception_recent && s->n_exception_recent) {
            w_puts(&w, "<table>\n<tr><th>Time</th><th>Host</th><th>Client</th><th>Entry</th></tr>\n");
            for (size_t i = 0; i < s->n_exception_recent; i++) {
                const struct pages_exception_use *e = &s->exception_recent[i];
                fmt_time(t, sizeof t, e->when);
                w_printf(&w, "<tr><td>%s</td><td><code>", t);
                w_hostport(&w, e->host ? e->host : "", e->port);
                w_puts(&w, "</code></td><td>");
                w_esc(&w, e->client ? e->client : "");
                w_puts(&w, "</td><td><code>");
                w_esc(&w, e->pattern ? e->pattern : "");
                w_puts(&w, "</code></td></tr>\n");
            }
            w_puts(&w, "</table>\n");
        }
    }
    w_puts(&w, "<p><a href=\"/status.json\">JSON</a> · <a href=\"/\">set-up</a></p>\n");
    page_end(&w);
    return w_done(&w);
}

int pages_status_json(struct http_buf *out, const struct pages_status *s)
{
    if (!out || !s)
        return PAGES_EINVAL;
    struct writer w;
    w_init(&w, out);
#define U(x) ((unsigned long long)(x))
    w_printf(&w, "{\"now\":%lld,\"uptime_s\":%llu,", (long long)s->now, U(s->uptime_s));
    w_printf(&w,
             "\"dns\":{\"queries\":%llu,\"cache_hits\":%llu,\"cache_misses\":%llu,"
             "\"cache_entries\":%llu,\"cache_bytes\":%llu",
             U(s->dns_queries), U(s->cache_hits), U(s->cache_misses), U(s->cache_entries),
             U(s->cache_bytes));
    if (s->insecure_domains && s->insecure_domains[0]) { /* issue 11 */
        w_puts(&w, ",\"insecure_domains\":");
        json_escape(&w, s->insecure_domains);
    }
    w_puts(&w, "},");
    w_printf(&w,
             "\"proxy\":{\"connections_open\":%llu,\"connections_total\":%llu,"
             "\"intercepted\":%llu,\"tunnelled\":%llu,\"refused\":%llu},",
             U(s->conns_open), U(s->conns_total), U(s->intercepted), U(s->tunnelled),
             U(s->refused));
    w_printf(&w, "\"certs\":{\"minted\":%llu,\"cache_hits\":%llu},", U(s->certs_minted),
             U(s->cert_cache_hits));
#undef U
    w_puts(&w, "\"recent_refusals\":[");
    for (size_t i = 0; s->recent && i < s->n_recent; i++) {
        const struct pages_refusal_entry *e = &s->recent[i];
        w_printf(&w, "%s{\"time\":%lld,\"host\":", i ? "," : "", (long long)e->when);
        json_escape(&w, e->host);
        w_printf(&w, ",\"port\":%u,\"reason\":", (unsigned)e->port);
        json_escape(&w, e->reason);
        w_puts(&w, "}");
    }
    w_puts(&w, "],\"exceptions\":{\"hosts\":[");
    for (size_t i = 0; s->exceptions && i < s->n_exceptions; i++) {
        w_puts(&w, i ? "," : "");
        json_escape(&w, s->exceptions[i]);
    }
    w_printf(&w, "],\"uses\":%llu,\"recent_uses\":[", (unsigned long long)s->exception_uses);
    for (size_t i = 0; s->exception_recent && i < s->n_exception_recent; i++) {
        const struct pages_exception_use *e = &s->exception_recent[i];
        w_printf(&w, "%s{\"time\":%lld,\"host\":", i ? "," : "", (long long)e->when);
        json_escape(&w, e->host);
        w_printf(&w, ",\"port\":%u,\"client\":", (unsigned)e->port);
        json_escape(&w, e->client);
        w_puts(&w, ",\"exception\":");
        json_escape(&w, e->pattern);
        w_puts(&w, "}");
    }
    w_puts(&w, "]}");
    if (s->resolver_notes && *s->resolver_notes) {
        w_puts(&w, ",\"resolver_notes\":[");
        for (const char *l = s->resolver_notes, *e; *l; l = *e ? e + 1 : e) {
            char line[512];
            e = strchr(l, '\n');
            if (!e)
                e = l + strlen(l);
            snprintf(line, sizeof line, "%.*s", (int)(e - l), l);
            w_printf(&w, "%s", l == s->resolver_notes ? "" : ",");
            json_escape(&w, line);
        }
        w_puts(&w, "]");
    }
    w_puts(&w, "}\n");
    return w_done(&w);
}
