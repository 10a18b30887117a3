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

/* One style sheet for every page. Long host names wrap only where they must
 * (overflow-wrap:anywhere), never letter by letter (no break-all). */
static const char page_css[] =
    "*{box-sizing:border-box}"
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;"
    "background:#f6f6f4;color:#1d1d1b}"
    "main{max-width:52rem;margin:1.5rem auto;padding:0 1rem}"
    "main.wide{max-width:74rem}"
    "h1{font-size:1.5rem;line-height:1.3;margin:.4rem 0;overflow-wrap:anywhere}"
    "h2{font-size:1.15rem;margin:1.6rem 0 .5rem}"
    "code,pre{font:14px/1.4 ui-monospace,'DejaVu Sans Mono',monospace;overflow-wrap:anywhere}"
    "pre{background:#fff;border:1px solid #ccc;padding:.6rem;white-space:pre-wrap}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #ddd}"
    "th{font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    "td,.reason{overflow-wrap:anywhere}"
    "table.kv{table-layout:fixed}table.kv th{width:30%}"
    "table.num td.n{width:6rem}"
    "td.host,td.host code{overflow-wrap:break-word}td.host{min-width:8rem}td.t{white-space:nowrap}"
    ".box{border-left:6px solid var(--c);background:#fff;padding:.6rem 1rem}"
    ".reason{font-size:1.1rem;font-weight:600;color:var(--c)}"
    ".tag{display:inline-block;padding:0 .4rem;border-radius:.3rem;color:#fff;"
    "background:var(--c);font-size:.85rem;white-space:nowrap}"
    ".cls-dane{--c:#b3261e}.cls-dnssec{--c:#7b1fa2}.cls-clock{--c:#8a5a00}"
    ".cls-nxdomain{--c:#546e7a}.cls-unreachable{--c:#546e7a}.cls-port{--c:#1f5fa8}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:0 2rem}"
    ".chart{display:block;width:100%;height:auto;background:#fff;border:1px solid #ddd}"
    ".chartbox{max-width:46rem}.axis{display:flex;justify-content:space-between}"
    ".key span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 .8rem}"
    ".muted{color:#666;font-size:.9rem}"
    "@media (max-width:40rem){main{margin:.8rem auto}h1{font-size:1.25rem}"
    "table.kv th{width:38%}"
    "table.ev tr{display:block;border-bottom:1px solid #ccc;padding:.3rem 0}"
    "table.ev th{display:none}table.ev td{display:block;border:0;padding:.1rem .5rem}}";

static void page_begin_main(struct writer *w, const char *title_prefix, const char *title_tail,
                            const char *main_class)
{
    w_puts(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
              "<meta name=\"robots\" content=\"noindex\"><title>");
    w_esc(w, title_prefix);
    if (title_tail)
        w_esc(w, title_tail);
    w_puts(w, "</title><style>");
    w_puts(w, page_css);
    w_puts(w, "</style></head>\n<body><main");
    if (main_class) {
        w_puts(w, " class=\"");
        w_puts(w, main_class);
        w_puts(w, "\"");
    }
    w_puts(w, ">\n");
}

static void page_begin(struct writer *w, const char *title_prefix, const char *title_tail)
{
    page_begin_main(w, title_prefix, title_tail, NULL);
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

/* s as one shell word, HTML-escaped: as it is when it holds only characters
 * a shell leaves alone, else in single quotes. */
static void w_shell_word(struct writer *w, const char *s)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789/._-+:@,%=";
    if (*s && strspn(s, safe) == strlen(s)) {
        w_esc(w, s);
        return;
    }
    w_puts(w, "&#39;");
    for (const char *p = s; *p && !w->err; p++) {
        if (*p == '\'') {
            w_puts(w, "&#39;\\&#39;&#39;");
        } else {
            char one[2] = {*p, '\0'};
            w_esc(w, one);
        }
    }
    w_puts(w, "&#39;");
}

/* ---- refusal ---------------------------------------------------------------- */

const char *pages_class_name(enum pages_class c)
{
    switch (c) {
    case PAGES_CLASS_DANE:
        return "dane";
    case PAGES_CLASS_DNSSEC:
        return "dnssec";
    case PAGES_CLASS_CLOCK:
        return "clock";
    case PAGES_CLASS_NXDOMAIN:
        return "nxdomain";
    case PAGES_CLASS_UNREACHABLE:
        return "unreachable";
    case PAGES_CLASS_PORT:
        return "port";
    }
    return "unknown";
}

enum pages_count pages_class_count(enum pages_class c)
{
    switch (c) {
    case PAGES_CLASS_DANE:
        return PAGES_COUNT_DANE;
    case PAGES_CLASS_DNSSEC:
    case PAGES_CLASS_CLOCK:
        return PAGES_COUNT_DNSSEC;
    default:
        return PAGES_COUNT_ORDINARY;
    }
}

/* A short label for the status page's event lists. */
static const char *class_label(enum pages_class c)
{
    switch (c) {
    case PAGES_CLASS_DANE:
        return "DANE mismatch";
    case PAGES_CLASS_DNSSEC:
        return "DNSSEC failure";
    case PAGES_CLASS_CLOCK:
        return "clock not synchronized";
    case PAGES_CLASS_NXDOMAIN:
        return "no such name";
    case PAGES_CLASS_UNREACHABLE:
        return "unreachable";
    case PAGES_CLASS_PORT:
        return "port not allowed";
    }
    return "?";
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The headline: one sentence with the host in it. */
static void refusal_headline(struct writer *w, const struct pages_refusal *r)
{
    w_puts(w, "<h1>");
    switch (r->cls) {
    case PAGES_CLASS_DANE:
        w_puts(w, "daneguard refused <code>");
        w_esc(w, r->host);
        if (starts(r->reason, "PKIX"))
            w_puts(w, "</code>: its certificate failed validation.");
        else if (starts(r->reason, "DANE mismatch"))
            w_puts(w, "</code>: its certificate does not match the site's DANE records.");
        else
            w_puts(w, "</code>: its certificate could not be checked against the site's DANE "
                      "records.");
        break;
    case PAGES_CLASS_DNSSEC:
        w_puts(w, "daneguard refused <code>");
        w_esc(w, r->host);
        if (strstr(r->reason, "bogus"))
            w_puts(w, "</code>: its DNSSEC signatures do not validate.");
        else
            w_puts(w, "</code>: its DNSSEC-signed records could not be looked up.");
        break;
    case PAGES_CLASS_CLOCK:
        w_puts(w, "daneguard cannot check <code>");
        w_esc(w, r->host);
        w_puts(w, "</code>: this machine's clock is not synchronized.");
        break;
    case PAGES_CLASS_NXDOMAIN:
        w_puts(w, "The name <code>");
        w_esc(w, r->host);
        w_puts(w, "</code> does not exist.");
        break;
    case PAGES_CLASS_UNREACHABLE:
        w_puts(w, "daneguard cannot reach <code>");
        w_esc(w, r->host);
        w_puts(w, "</code>.");
        break;
    case PAGES_CLASS_PORT:
        w_printf(w, "Port %u is not allowed through daneguard.", (unsigned)r->port);
        break;
    }
    w_puts(w, "</h1>\n");
}

/* What happened, in words for the person at the browser. */
static void refusal_explanation(struct writer *w, const struct pages_refusal *r)
{
    switch (r->cls) {
    case PAGES_CLASS_DANE:
        w_puts(w, "<p>The site publishes DNSSEC-signed TLSA records (DANE) that say which "
                  "certificate it uses, and the certificate daneguard was shown is not one of "
                  "them. Either someone between you and the site is intercepting the "
                  "connection — the attack DANE protects you from — or the site's operator "
                  "changed the certificate without updating the records. daneguard did not "
                  "connect you, and there is no way to continue from here.</p>\n");
        break;
    case PAGES_CLASS_DNSSEC:
        if (strstr(r->reason, "bogus"))
            w_puts(w, "<p>The site's DNS zone is signed with DNSSEC, and the signatures on its "
                      "answers fail validation: the answers may be forged, or the zone's "
                      "operator broke its signatures (expired, or a key that does not match "
                      "the parent's DS record). daneguard trusts nothing in such an answer: it "
                      "did not connect to the site and fetched no certificate.</p>\n");
        else
            w_puts(w, "<p>daneguard could not get a validated answer about this site's DANE "
                      "records (the lookup failed, timed out or could not be validated). "
                      "Without it daneguard cannot tell whether the site must present a "
                      "particular certificate, so it fails closed: it did not connect to the "
                      "site and fetched no certificate. Try again in a moment.</p>\n");
        break;
    case PAGES_CLASS_CLOCK:
        w_puts(w, "<p>DNSSEC signatures and certificates are valid only between two dates, "
                  "and this machine's clock is not synchronized, so daneguard cannot tell "
                  "whether they are. It did not connect to the site. Once the clock is "
                  "synchronized (NTP) the site loads again.</p>\n");
        break;
    case PAGES_CLASS_NXDOMAIN:
        w_puts(w, "<p>DNS says there is no such name (or it has no address). Check the "
                  "spelling of the address. Nothing is wrong with daneguard or with your "
                  "connection.</p>\n");
        break;
    case PAGES_CLASS_UNREACHABLE:
        w_puts(w, "<p>daneguard looked the site up but could not get a connection to it. The "
                  "site may be down, or the network between daneguard and the site is. Try "
                  "again later.</p>\n");
        break;
    case PAGES_CLASS_PORT:
        w_puts(w, "<p>daneguard forwards requests only to the ports its operator allowed");
        if (r->allowed_ports && *r->allowed_ports) {
            w_puts(w, ": <strong>");
            w_esc(w, r->allowed_ports);
            w_puts(w, "</strong>");
        }
        w_puts(w, ". Use one of those, or ask the operator to allow this one.</p>\n");
        break;
    }
}

static int refusal_shows_tlsa(const struct pages_refusal *r)
{
    return !r->plain_http && (r->cls == PAGES_CLASS_DANE || r->cls == PAGES_CLASS_DNSSEC ||
                              r->cls == PAGES_CLASS_CLOCK);
}

static void refusal_details(struct writer *w, const struct pages_refusal *r, const char *hex)
{
    w_puts(w, "<h2>Details</h2>\n<table class=\"kv\">\n<tr><th>Host</th><td><code>");
    w_esc(w, r->host);
    w_printf(w, "</code></td></tr>\n<tr><th>Port</th><td><code>%u</code></td></tr>\n",
             (unsigned)r->port);
    w_puts(w, "<tr><th>What failed</th><td>");
    w_esc(w, r->reason);
    w_puts(w, "</td></tr>\n");
    if (refusal_shows_tlsa(r)) {
        w_printf(w, "<tr><th>TLSA records of <code>_%u._tcp.", (unsigned)r->port);
        w_esc(w, r->host);
        w_puts(w, "</code></th><td>");
        if (r->tlsa && r->n_tlsa) {
            w_puts(w, "<ul>");
            for (size_t i = 0; i < r->n_tlsa; i++) {
                w_puts(w, "<li><code>");
                w_esc(w, r->tlsa[i] ? r->tlsa[i] : "");
                w_puts(w, "</code></li>");
            }
            w_puts(w, "</ul>");
        } else {
            w_puts(w, "none obtained");
        }
        w_puts(w, "</td></tr>\n");
    }
    if (r->cls == PAGES_CLASS_DANE || r->spki_sha256) {
        w_puts(w, "<tr><th>Presented certificate: SHA-256 of its public key (SPKI)</th><td>");
        if (r->spki_sha256)
            w_printf(w, "<code>%s</code>", hex);
        else
            w_puts(w, "no certificate was presented");
        w_puts(w, "</td></tr>\n");
    } else if (r->cls == PAGES_CLASS_DNSSEC || r->cls == PAGES_CLASS_CLOCK) {
        w_puts(w, "<tr><th>Certificate</th><td>none fetched: daneguard stopped before "
                  "connecting</td></tr>\n");
    }
    w_puts(w, "</table>\n");
}

/* The command that repeats the check, as it runs on the daneguard host. */
static void refusal_check_command(struct writer *w, const struct pages_refusal *r)
{
    w_puts(w, "<p>Run this on the daneguard host to repeat the lookups and the certificate "
              "check and see each step:</p>\n<pre class=\"cmd\">");
    w_shell_word(w, r->self_path && *r->self_path ? r->self_path : "daneguard");
    w_puts(w, " check ");
    w_shell_word(w, r->host);
    w_printf(w, " %u", (unsigned)r->port);
    if (r->config_path && *r->config_path) {
        w_puts(w, " -c ");
        w_shell_word(w, r->config_path);
    }
    w_puts(w, "</pre>\n");
}

static void refusal_operator(struct writer *w, const struct pages_refusal *r, const char *hex)
{
    w_puts(w, "<h2>For the operator</h2>\n");
    switch (r->cls) {
    case PAGES_CLASS_DANE:
        refusal_check_command(w, r);
        if (r->spki_sha256) {
            w_printf(w,
                     "<p>If the presented key is the right one (the site's new certificate), "
                     "publish a DANE-EE record that matches it, signed, beside or instead of "
                     "the old ones:</p>\n<pre class=\"fix\">_%u._tcp.",
                     (unsigned)r->port);
            w_esc(w, r->host);
            w_printf(w, ". IN TLSA 3 1 1 %s</pre>\n", hex);
        }
        w_puts(w, "<p>If the TLSA records are right, the server is presenting a certificate "
                  "its owner did not publish: check the server's certificate and key, or "
                  "whether something between daneguard and the server intercepts TLS.</p>\n");
        break;
    case PAGES_CLASS_DNSSEC:
        refusal_check_command(w, r);
        w_puts(w, "<p>A bogus answer is fixed in the zone: re-sign it (signatures expire), "
                  "and check that its DS record in the parent zone matches its key. A lookup "
                  "that fails or times out points at the upstream resolvers or the zone's "
                  "name servers.</p>\n");
        break;
    case PAGES_CLASS_CLOCK:
        w_puts(w, "<p>Synchronize the clock of the daneguard host (<code>timedatectl "
                  "status</code> shows whether NTP is active).</p>\n");
        break;
    case PAGES_CLASS_NXDOMAIN:
    case PAGES_CLASS_UNREACHABLE:
        w_puts(w, "<p>Nothing to fix in daneguard. ");
        if (!r->plain_http)
            w_puts(w, "To see the lookups step by step:</p>\n");
        else
            w_puts(w, "</p>\n");
        if (!r->plain_http)
            refusal_check_command(w, r);
        break;
    case PAGES_CLASS_PORT:
        w_puts(w, r->plain_http ? "<p>Plain-HTTP ports are set by <code>proxy.http_ports</code> "
                                  "in daneguard's configuration.</p>\n"
                                : "<p>HTTPS (CONNECT) ports are set by "
                                  "<code>proxy.allowed_ports</code> in daneguard's "
                                  "configuration.</p>\n");
        break;
    }
}

int pages_refusal_html(struct http_buf *out, const struct pages_refusal *r)
{
    if (!out || !r || !r->host || !r->reason || (unsigned)r->cls >= PAGES_CLASSES)
        return PAGES_EINVAL;
    struct writer w;
    w_init(&w, out);
    char hp[HTTP_MAX_HOST + 16];
    int v6 = strchr(r->host, ':') != NULL;
    snprintf(hp, sizeof hp, "%s%.*s%s:%u", v6 ? "[" : "", HTTP_MAX_HOST, r->host, v6 ? "]" : "",
             (unsigned)r->port);
    char hex[65] = "";
    if (r->spki_sha256)
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", r->spki_sha256[i]);

    const char *cls = pages_class_name(r->cls);
    int refused = pages_class_count(r->cls) != PAGES_COUNT_ORDINARY;
    page_begin(&w, refused ? "daneguard refused " : "daneguard: cannot open ", hp);
    w_printf(&w, "<div class=\"box cls-%s\" data-class=\"%s\">", cls, cls);
    w_printf(&w, "<span class=\"tag\">%s</span>\n", class_label(r->cls));
    refusal_headline(&w, r);
    w_puts(&w, "<p class=\"reason\">");
    w_esc(&w, r->reason);
    w_puts(&w, "</p>\n");
    refusal_explanation(&w, r);
    w_puts(&w, "</div>\n");
    refusal_details(&w, r, hex);
    refusal_operator(&w, r, hex);
    page_end(&w);
    return w_done(&w);
}

/* The status of a refusal page: 502 for what daneguard refused or could not
 * reach, 403 for a port it does not forward to. */
static int refusal_status(const struct pages_refusal *r)
{
    return r->cls == PAGES_CLASS_PORT ? 403 : 502;
}

int pages_refusal_response(struct http_buf *out, const struct pages_refusal *r, int keep_alive)
{
    struct http_buf body = {0};
    int rc = pages_refusal_html(&body, r);
    if (rc == 0) {
        char extra[96];
        snprintf(extra, sizeof extra,
                 "X-Content-Type-Options: nosniff\r\ndaneguard-refusal: %s\r\n",
                 pages_class_name(r->cls));
        if (http_write_response(out, refusal_status(r), PAGES_HTML_TYPE, body.len, extra,
                                keep_alive) != 0)
            rc = PAGES_ENOMEM;
    }
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
/* The page is built section by section, one function each, so a section can be
 * added (or grown) with a few lines in one place. */

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

static uint64_t count_of(const struct pages_status *s, enum pages_count c)
{
    uint64_t n = 0;
    for (int i = 0; i < PAGES_CLASSES; i++)
        if (pages_class_count((enum pages_class)i) == c)
            n += s->by_class[i];
    return n;
}

static void status_html_summary(struct writer *w, const struct pages_status *s)
{
    char t[64];
    fmt_time(t, sizeof t, s->now);
    unsigned long long up = (unsigned long long)s->uptime_s;
    w_puts(w, "<h1>daneguard status</h1>\n<p>");
    if (s->version) {
        w_puts(w, "Version <code id=\"version\">");
        w_esc(w, s->version);
        w_puts(w, "</code>, ");
    }
    w_printf(w, "up <span id=\"uptime\">%llud %02llu:%02llu:%02llu</span>, at %s.</p>\n",
             up / 86400, up / 3600 % 24, up / 60 % 60, up % 60, t);
    if (s->ca_fingerprint) {
        w_puts(w, "<p>CA certificate SHA-256 fingerprint: <code id=\"ca-fingerprint\">");
        w_esc(w, s->ca_fingerprint);
        w_puts(w, "</code> (<a href=\"/\">set-up page</a>)</p>\n");
    }
}

/* One SVG bar chart panel: per minute, a wide bar of one series with a
 * narrow bar of another in front of it, scaled to their maximum. */
struct chart_series {
    const char *colour;
    uint64_t v[PAGES_CHART_MINUTES];
};

static void chart_panel(struct writer *w, const char *label, size_t n,
                        const struct chart_series *wide, const struct chart_series *narrow)
{
    uint64_t max = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = wide->v[i] > narrow->v[i] ? wide->v[i] : narrow->v[i];
        if (v > max)
            max = v;
    }
    const int W = 10 * PAGES_CHART_MINUTES, H = 60;
    w_printf(w, "<p class=\"muted\" style=\"margin:.6rem 0 .2rem\">%s, per minute (top: %llu)</p>",
             label, (unsigned long long)max);
    w_printf(w,
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
            w_printf(w, "<rect x=\"%d\" y=\"%d\" width=\"9\" height=\"%d\" fill=\"%s\"/>", x,
                     H - wh, wh, wide->colour);
        if (nh)
            w_printf(w, "<rect x=\"%d\" y=\"%d\" width=\"5\" height=\"%d\" fill=\"%s\"/>", x + 2,
                     H - nh, nh, narrow->colour);
    }
    w_puts(w, "</svg>\n");
}

/* Queries and refusals per minute over the last hour: two inline SVG panels
 * (traffic; refusals and errors, on their own scale so a few stand out). */
static void status_html_chart(struct writer *w, const struct pages_status *s)
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
    w_puts(w, "<h2>The last hour</h2>\n<div class=\"chartbox\" id=\"chart\">");
    chart_panel(w, "DNS queries and proxy requests", n, &q, &r);
    chart_panel(w, "DANE/DNSSEC refusals and ordinary errors", n, &e, &f);
    w_puts(w, "<div class=\"axis muted\"><span>60 minutes ago</span><span>now</span></div>"
              "</div>\n");
    w_printf(w,
             "<p class=\"key muted\"><span style=\"background:#90a4ae\"></span>DNS queries "
             "(%llu)<span style=\"background:#4f83cc\"></span>proxy requests (%llu)"
             "<span style=\"background:#b3261e\"></span>DANE and DNSSEC refusals (%llu)"
             "<span style=\"background:#546e7a\"></span>ordinary errors (%llu)</p>\n",
             (unsigned long long)tq, (unsigned long long)tr, (unsigned long long)tf,
             (unsigned long long)te);
}

static void status_html_counts(struct writer *w, const struct pages_status *s)
{
    w_puts(w, "<div><h2>Refusals and errors</h2>\n<table class=\"num\" id=\"counts\">\n");
    w_row(w, "DANE refusals", count_of(s, PAGES_COUNT_DANE));
    w_row(w, "DNSSEC failures", count_of(s, PAGES_COUNT_DNSSEC));
    w_row(w, "Ordinary errors (no such name, unreachable, port)",
          count_of(s, PAGES_COUNT_ORDINARY));
    w_puts(w, "</table></div>\n");
}

static void status_html_resolver(struct writer *w, const struct pages_status *s)
{
    w_puts(w, "<div><h2>Resolver</h2>\n<table class=\"num\">\n");
    w_row(w, "DNS queries", s->dns_queries);
    w_row(w, "Cache hits", s->cache_hits);
    w_row(w, "Cache misses", s->cache_misses);
    uint64_t lookups = s->cache_hits + s->cache_misses;
    w_printf(w, "<tr><th>Hit ratio</th><td class=\"n\">%.1f%%</td></tr>\n",
             lookups ? 100.0 * (double)s->cache_hits / (double)lookups : 0.0);
    w_row(w, "Cache entries", s->cache_entries);
    w_row(w, "Cache bytes", s->cache_bytes);
    w_row(w, "SERVFAIL (no upstream answered)", s->servfail);
    w_row(w, "DNSSEC bogus answers", s->bogus);
    if (s->insecure_domains && s->insecure_domains[0]) { /* issue 11 */
        w_puts(w, "<tr><th>Not validated (domain_insecure)</th><td>");
        w_esc(w, s->insecure_domains);
        w_puts(w, "</td></tr>\n");
    }
    w_puts(w, "</table></div>\n");
}

static void status_html_proxy(struct writer *w, const struct pages_status *s)
{
    w_puts(w, "<div><h2>Proxy</h2>\n<table class=\"num\">\n");
    w_row(w, "Connections open", s->conns_open);
    w_row(w, "Connections total", s->conns_total);
    w_row(w, "Intercepted (DANE enforced)", s->intercepted);
    w_row(w, "Tunnelled untouched", s->tunnelled);
    w_row(w, "Refused", s->refused);
    w_row(w, "Certificates minted", s->certs_minted);
    w_row(w, "Certificate cache hits", s->cert_cache_hits);
    w_puts(w, "</table></div>\n");
}

static void status_html_upstreams(struct writer *w, const struct pages_status *s)
{
    w_puts(w, "<h2>Upstream resolvers</h2>\n");
    if (!s->upstreams || s->n_upstreams == 0) {
        w_puts(w, "<p>None known.</p>\n");
        return;
    }
    w_puts(w, "<table class=\"ev\" id=\"upstreams\">\n<tr><th>Address</th><th>Transport</th>"
              "<th>Health</th></tr>\n");
    for (size_t i = 0; i < s->n_upstreams; i++) {
        const struct pages_upstream *u = &s->upstreams[i];
        w_puts(w, "<tr><td class=\"host\"><code>");
        w_esc(w, u->address ? u->address : "");
        w_puts(w, "</code></td><td>");
        w_esc(w, u->transport ? u->transport : "");
        w_puts(w, "</td><td>");
        w_esc(w, u->health ? u->health : "");
        w_puts(w, "</td></tr>\n");
    }
    w_puts(w, "</table>\n");
}

/* Negative trust anchors (resolver.domain_insecure): names whose DNSSEC
 * validation is switched off. */
static void status_html_ntas(struct writer *w, const struct pages_status *s)
{
    w_puts(w, "<h2>Negative trust anchors</h2>\n");
    if (!s->insecure_domains || !s->insecure_domains[0]) {
        w_puts(w, "<p id=\"ntas\">None: DNSSEC is validated for every name.</p>\n");
        return;
    }
    w_puts(w, "<p id=\"ntas\">DNSSEC validation is switched off at and below "
              "(<code>resolver.domain_insecure</code>): <code>");
    w_esc(w, s->insecure_domains);
    w_puts(w, "</code></p>\n");
}

/* What the resolver wants the user to know: an unsynchronized clock, an
 * upstream that strips DNSSEC. */
static void status_html_notes(struct writer *w, const struct pages_status *s)
{
    if (!s->resolver_notes || !*s->resolver_notes)
        return;
    w_puts(w, "<div class=\"box cls-clock\"><h2>Resolver warnings</h2>\n<ul>\n");
    for (const char *l = s->resolver_notes, *e; *l; l = *e ? e + 1 : e) {
        char line[512];
        e = strchr(l, '\n');
        if (!e)
            e = l + strlen(l);
        snprintf(line, sizeof line, "%.*s", (int)(e - l), l);
        w_puts(w, "<li>");
        w_esc(w, line);
        w_puts(w, "</li>\n");
    }
    w_puts(w, "</ul></div>\n");
}

/* proxy.exceptions: hosts the operator chose to reach without DANE. */
static void status_html_exceptions(struct writer *w, const struct pages_status *s)
{
    char t[64];
    w_puts(w, "<h2>Exceptions (DANE not enforced)</h2>\n");
    if (!s->exceptions || s->n_exceptions == 0) {
        w_puts(w, "<p>None (proxy.exceptions is empty).</p>\n");
        return;
    }
    w_puts(w, "<p class=\"exceptions\">");
    for (size_t i = 0; i < s->n_exceptions; i++) {
        w_puts(w, i ? ", <code>" : "<code>");
        w_esc(w, s->exceptions[i]);
        w_puts(w, "</code>");
    }
    w_printf(w, " — used %llu time(s).</p>\n", (unsigned long long)s->exception_uses);
    if (!s->exception_recent || !s->n_exception_recent)
        return;
    w_puts(w, "<table class=\"ev\">\n<tr><th>Time (UTC)</th><th>Host</th><th>Client</th>"
              "<th>Entry</th></tr>\n");
    for (size_t i = 0; i < s->n_exception_recent; i++) {
        const struct pages_exception_use *e = &s->exception_recent[i];
        fmt_time(t, sizeof t, e->when);
        w_printf(w, "<tr><td class=\"t\">%s</td><td class=\"host\"><code>", t);
        w_hostport(w, e->host ? e->host : "", e->port);
        w_puts(w, "</code></td><td>");
        w_esc(w, e->client ? e->client : "");
        w_puts(w, "</td><td><code>");
        w_esc(w, e->pattern ? e->pattern : "");
        w_puts(w, "</code></td></tr>\n");
    }
    w_puts(w, "</table>\n");
}

static void status_html_events(struct writer *w, const char *title, const char *id,
                               const struct pages_refusal_entry *e, size_t n, const char *none)
{
    char t[64];
    w_printf(w, "<h2>%s</h2>\n", title);
    if (!e || n == 0) {
        w_printf(w, "<p id=\"%s\">%s</p>\n", id, none);
        return;
    }
    w_printf(w,
             "<table class=\"ev\" id=\"%s\">\n<tr><th>Time (UTC)</th><th>Host</th><th>Kind</th>"
             "<th>Reason</th></tr>\n",
             id);
    for (size_t i = 0; i < n; i++) {
        fmt_time(t, sizeof t, e[i].when);
        w_printf(w, "<tr><td class=\"t\">%s</td><td class=\"host\"><code>", t);
        w_hostport(w, e[i].host ? e[i].host : "", e[i].port);
        w_printf(w, "</code></td><td><span class=\"tag cls-%s\">%s</span></td><td>",
                 pages_class_name(e[i].cls), class_label(e[i].cls));
        w_esc(w, e[i].reason ? e[i].reason : "");
        w_puts(w, "</td></tr>\n");
    }
    w_puts(w, "</table>\n");
}

int pages_status_html(struct http_buf *out, const struct pages_status *s)
{
    if (!out || !s)
        return PAGES_EINVAL;
    struct writer w;
    w_init(&w, out);
    page_begin_main(&w, "daneguard status", NULL, "wide");
    status_html_summary(&w, s);
    status_html_notes(&w, s);
    status_html_chart(&w, s);
    w_puts(&w, "<div class=\"grid\">\n");
    status_html_counts(&w, s);
    status_html_proxy(&w, s);
    status_html_resolver(&w, s);
    w_puts(&w, "</div>\n");
    status_html_upstreams(&w, s);
    status_html_ntas(&w, s);
    status_html_events(&w, "Recent DANE and DNSSEC refusals", "recent-refusals", s->recent,
                       s->n_recent, "None.");
    status_html_events(&w, "Recent ordinary errors", "recent-errors", s->errors, s->n_errors,
                       "None.");
    status_html_exceptions(&w, s);
    w_puts(&w, "<p><a href=\"/status.json\">JSON</a> · <a href=\"/\">set-up</a></p>\n");
    page_end(&w);
    return w_done(&w);
}

static void json_events(struct writer *w, const char *key, const struct pages_refusal_entry *e,
                        size_t n)
{
    w_printf(w, "\"%s\":[", key);
    for (size_t i = 0; e && i < n; i++) {
        w_printf(w, "%s{\"time\":%lld,\"host\":", i ? "," : "", (long long)e[i].when);
        json_escape(w, e[i].host);
        w_printf(w, ",\"port\":%u,\"reason\":", (unsigned)e[i].port);
        json_escape(w, e[i].reason);
        w_printf(w, ",\"class\":\"%s\"}", pages_class_name(e[i].cls));
    }
    w_puts(w, "]");
}

int pages_status_json(struct http_buf *out, const struct pages_status *s)
{
    if (!out || !s)
        return PAGES_EINVAL;
    struct writer w;
    w_init(&w, out);
#define U(x) ((unsigned long long)(x))
    w_printf(&w, "{\"now\":%lld,\"uptime_s\":%llu,\"version\":", (long long)s->now,
             U(s->uptime_s));
    json_escape(&w, s->version ? s->version : "");
    w_printf(&w,
             ",\"dns\":{\"queries\":%llu,\"cache_hits\":%llu,\"cache_misses\":%llu,"
             "\"cache_entries\":%llu,\"cache_bytes\":%llu,\"servfail\":%llu,\"bogus\":%llu",
             U(s->dns_queries), U(s->cache_hits), U(s->cache_misses), U(s->cache_entries),
             U(s->cache_bytes), U(s->servfail), U(s->bogus));
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
    w_printf(&w,
             "\"events\":{\"dane_refusals\":%llu,\"dnssec_failures\":%llu,"
             "\"ordinary_errors\":%llu,\"by_class\":{",
             U(count_of(s, PAGES_COUNT_DANE)), U(count_of(s, PAGES_COUNT_DNSSEC)),
             U(count_of(s, PAGES_COUNT_ORDINARY)));
    for (int i = 0; i < PAGES_CLASSES; i++)
        w_printf(&w, "%s\"%s\":%llu", i ? "," : "", pages_class_name((enum pages_class)i),
                 U(s->by_class[i]));
    w_puts(&w, "}},");
    w_printf(&w, "\"certs\":{\"minted\":%llu,\"cache_hits\":%llu},", U(s->certs_minted),
             U(s->cert_cache_hits));
    w_puts(&w, "\"upstreams\":[");
    for (size_t i = 0; s->upstreams && i < s->n_upstreams; i++) {
        w_puts(&w, i ? ",{\"address\":" : "{\"address\":");
        json_escape(&w, s->upstreams[i].address);
        w_puts(&w, ",\"transport\":");
        json_escape(&w, s->upstreams[i].transport);
        w_puts(&w, ",\"health\":");
        json_escape(&w, s->upstreams[i].health);
        w_puts(&w, "}");
    }
    w_puts(&w, "],\"negative_trust_anchors\":[");
    for (const char *d = s->insecure_domains ? s->insecure_domains : "", *e; *d; d = e) {
        char name[256];
        e = strstr(d, ", ");
        size_t n = e ? (size_t)(e - d) : strlen(d);
        snprintf(name, sizeof name, "%.*s", (int)n, d);
        w_puts(&w, d == s->insecure_domains ? "" : ",");
        json_escape(&w, name);
        e = e ? e + 2 : d + n;
    }
    w_puts(&w, "],\"ca_fingerprint_sha256\":");
    json_escape(&w, s->ca_fingerprint ? s->ca_fingerprint : "");
    w_puts(&w, ",");
    json_events(&w, "recent_refusals", s->recent, s->n_recent);
    w_puts(&w, ",");
    json_events(&w, "recent_errors", s->errors, s->n_errors);
    w_puts(&w, ",\"minutes\":[");
    for (size_t i = 0; s->minutes && i < s->n_minutes; i++)
        w_printf(&w, "%s[%llu,%llu,%llu,%llu]", i ? "," : "", U(s->minutes[i].queries),
                 U(s->minutes[i].requests), U(s->minutes[i].refusals), U(s->minutes[i].errors));
#undef U
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
