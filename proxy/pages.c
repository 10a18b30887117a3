/* proxy/pages.c — the pages daneguard serves itself: refusal (502), onboarding,
 * PAC file (the status page is in pages_status.c). Pure string building; no I/O.
 *
 * Hosts and reasons reach these pages from the network, so everything that is
 * not a literal of this file goes through pages_html_escape() or pw_json().
 */
#include "pages.h"
#include "page_writer.h"

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
        {"/", PAGES_ONBOARDING},     {"/index.html", PAGES_ONBOARDING},
        {"/ca.crt", PAGES_CA_PEM},   {"/ca.pem", PAGES_CA_PEM},
        {"/ca.der", PAGES_CA_DER},   {"/ca.cer", PAGES_CA_DER},
        {"/proxy.pac", PAGES_PAC},   {"/wpad.dat", PAGES_PAC},
        {"/status", PAGES_STATUS},   {"/status.json", PAGES_STATUS_JSON},
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

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The headline: one sentence with the host in it. */
static void refusal_headline(struct page_writer *w, const struct pages_refusal *r)
{
    pw_puts(w, "<h1>");
    switch (r->cls) {
    case PAGES_CLASS_DANE:
        pw_puts(w, "daneguard refused <code>");
        pw_esc(w, r->host);
        if (starts(r->reason, "PKIX"))
            pw_puts(w, "</code>: its certificate failed validation.");
        else if (starts(r->reason, "DANE mismatch"))
            pw_puts(w, "</code>: its certificate does not match the site's DANE records.");
        else
            pw_puts(w, "</code>: its certificate could not be checked against the site's DANE "
                       "records.");
        break;
    case PAGES_CLASS_DNSSEC:
        pw_puts(w, "daneguard refused <code>");
        pw_esc(w, r->host);
        if (strstr(r->reason, "bogus"))
            pw_puts(w, "</code>: its DNSSEC signatures do not validate.");
        else
            pw_puts(w, "</code>: its DNSSEC-signed records could not be looked up.");
        break;
    case PAGES_CLASS_CLOCK:
        pw_puts(w, "daneguard cannot check <code>");
        pw_esc(w, r->host);
        pw_puts(w, "</code>: this machine's clock is not synchronized.");
        break;
    case PAGES_CLASS_NXDOMAIN:
        pw_puts(w, "The name <code>");
        pw_esc(w, r->host);
        pw_puts(w, "</code> does not exist.");
        break;
    case PAGES_CLASS_UNREACHABLE:
        pw_puts(w, "daneguard cannot reach <code>");
        pw_esc(w, r->host);
        pw_puts(w, "</code>.");
        break;
    case PAGES_CLASS_PORT:
        pw_printf(w, "Port %u is not allowed through daneguard.", (unsigned)r->port);
        break;
    }
    pw_puts(w, "</h1>\n");
}

/* What happened, in words for the person at the browser. */
static void refusal_explanation(struct page_writer *w, const struct pages_refusal *r)
{
    switch (r->cls) {
    case PAGES_CLASS_DANE:
        pw_puts(w, "<p>The site publishes DNSSEC-signed TLSA records (DANE) that say which "
                   "certificate it uses, and the certificate daneguard was shown is not one of "
                   "them. Either someone between you and the site is intercepting the "
                   "connection — the attack DANE protects you from — or the site's operator "
                   "changed the certificate without updating the records. daneguard did not "
                   "connect you, and there is no way to continue from here.</p>\n");
        break;
    case PAGES_CLASS_DNSSEC:
        if (strstr(r->reason, "bogus"))
            pw_puts(w, "<p>The site's DNS zone is signed with DNSSEC, and the signatures on its "
                       "answers fail validation: the answers may be forged, or the zone's "
                       "operator broke its signatures (expired, or a key that does not match "
                       "the parent's DS record). daneguard trusts nothing in such an answer: it "
                       "did not connect to the site and fetched no certificate.</p>\n");
        else
            pw_puts(w, "<p>daneguard could not get a validated answer about this site's DANE "
                       "records (the lookup failed, timed out or could not be validated). "
                       "Without it daneguard cannot tell whether the site must present a "
                       "particular certificate, so it fails closed: it did not connect to the "
                       "site and fetched no certificate. Try again in a moment.</p>\n");
        break;
    case PAGES_CLASS_CLOCK:
        pw_puts(w, "<p>DNSSEC signatures and certificates are valid only between two dates, "
                   "and this machine's clock is not synchronized, so daneguard cannot tell "
                   "whether they are. It did not connect to the site. Once the clock is "
                   "synchronized (NTP) the site loads again.</p>\n");
        break;
    case PAGES_CLASS_NXDOMAIN:
        pw_puts(w, "<p>DNS says there is no such name (or it has no address). Check the "
                   "spelling of the address. Nothing is wrong with daneguard or with your "
                   "connection.</p>\n");
        break;
    case PAGES_CLASS_UNREACHABLE:
        pw_puts(w, "<p>daneguard looked the site up but could not get a connection to it. The "
                   "site may be down, or the network between daneguard and the site is. Try "
                   "again later.</p>\n");
        break;
    case PAGES_CLASS_PORT:
        pw_puts(w, "<p>daneguard forwards requests only to the ports its operator allowed");
        if (r->allowed_ports && *r->allowed_ports) {
            pw_puts(w, ": <strong>");
            pw_esc(w, r->allowed_ports);
            pw_puts(w, "</strong>");
        }
        pw_puts(w, ". Use one of those, or ask the operator to allow this one.</p>\n");
        break;
    }
}

static int refusal_shows_tlsa(const struct pages_refusal *r)
{
    return !r->plain_http && (r->cls == PAGES_CLASS_DANE || r->cls == PAGES_CLASS_DNSSEC ||
                              r->cls == PAGES_CLASS_CLOCK);
}

static void refusal_details(struct page_writer *w, const struct pages_refusal *r, const char *hex)
{
    pw_puts(w, "<h2>Details</h2>\n<table class=\"kv\">\n<tr><th>Host</th><td><code>");
    pw_esc(w, r->host);
    pw_printf(w, "</code></td></tr>\n<tr><th>Port</th><td><code>%u</code></td></tr>\n",
              (unsigned)r->port);
    pw_puts(w, "<tr><th>What failed</th><td>");
    pw_esc(w, r->reason);
    pw_puts(w, "</td></tr>\n");
    if (refusal_shows_tlsa(r)) {
        pw_printf(w, "<tr><th>TLSA records of <code>_%u._tcp.", (unsigned)r->port);
        pw_esc(w, r->host);
        pw_puts(w, "</code></th><td>");
        if (r->tlsa && r->n_tlsa) {
            pw_puts(w, "<ul>");
            for (size_t i = 0; i < r->n_tlsa; i++) {
                pw_puts(w, "<li><code>");
                pw_esc(w, r->tlsa[i] ? r->tlsa[i] : "");
                pw_puts(w, "</code></li>");
            }
            pw_puts(w, "</ul>");
        } else {
            pw_puts(w, "none obtained");
        }
        pw_puts(w, "</td></tr>\n");
    }
    if (r->cls == PAGES_CLASS_DANE || r->spki_sha256) {
        pw_puts(w, "<tr><th>Presented certificate: SHA-256 of its public key (SPKI)</th><td>");
        if (r->spki_sha256)
            pw_printf(w, "<code>%s</code>", hex);
        else
            pw_puts(w, "no certificate was presented");
        pw_puts(w, "</td></tr>\n");
    } else if (r->cls == PAGES_CLASS_DNSSEC || r->cls == PAGES_CLASS_CLOCK) {
        pw_puts(w, "<tr><th>Certificate</th><td>none fetched: daneguard stopped before "
                   "connecting</td></tr>\n");
    }
    pw_puts(w, "</table>\n");
}

/* The command that repeats the check, as it runs on the daneguard host. */
static void refusal_check_command(struct page_writer *w, const struct pages_refusal *r)
{
    pw_puts(w, "<p>Run this on the daneguard host to repeat the lookups and the certificate "
               "check and see each step:</p>\n<pre class=\"cmd\">");
    pw_shell_word(w, r->self_path && *r->self_path ? r->self_path : "daneguard");
    pw_puts(w, " check ");
    pw_shell_word(w, r->host);
    pw_printf(w, " %u", (unsigned)r->port);
    if (r->config_path && *r->config_path) {
        pw_puts(w, " -c ");
        pw_shell_word(w, r->config_path);
    }
    pw_puts(w, "</pre>\n");
}

static void refusal_operator(struct page_writer *w, const struct pages_refusal *r, const char *hex)
{
    pw_puts(w, "<h2>For the operator</h2>\n");
    switch (r->cls) {
    case PAGES_CLASS_DANE:
        refusal_check_command(w, r);
        if (r->spki_sha256) {
            pw_printf(w,
                      "<p>If the presented key is the right one (the site's new certificate), "
                      "publish a DANE-EE record that matches it, signed, beside or instead of "
                      "the old ones:</p>\n<pre class=\"fix\">_%u._tcp.",
                      (unsigned)r->port);
            pw_esc(w, r->host);
            pw_printf(w, ". IN TLSA 3 1 1 %s</pre>\n", hex);
        }
        pw_puts(w, "<p>If the TLSA records are right, the server is presenting a certificate "
                   "its owner did not publish: check the server's certificate and key, or "
                   "whether something between daneguard and the server intercepts TLS.</p>\n");
        break;
    case PAGES_CLASS_DNSSEC:
        refusal_check_command(w, r);
        pw_puts(w, "<p>A bogus answer is fixed in the zone: re-sign it (signatures expire), "
                   "and check that its DS record in the parent zone matches its key. A lookup "
                   "that fails or times out points at the upstream resolvers or the zone's "
                   "name servers.</p>\n");
        break;
    case PAGES_CLASS_CLOCK:
        pw_puts(w, "<p>Synchronize the clock of the daneguard host (<code>timedatectl "
                   "status</code> shows whether NTP is active).</p>\n");
        break;
    case PAGES_CLASS_NXDOMAIN:
    case PAGES_CLASS_UNREACHABLE:
        pw_puts(w, "<p>Nothing to fix in daneguard. ");
        if (!r->plain_http)
            pw_puts(w, "To see the lookups step by step:</p>\n");
        else
            pw_puts(w, "</p>\n");
        if (!r->plain_http)
            refusal_check_command(w, r);
        break;
    case PAGES_CLASS_PORT:
        pw_puts(w, r->plain_http ? "<p>Plain-HTTP ports are set by <code>proxy.http_ports</code> "
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
    struct page_writer w;
    pw_init(&w, out);
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
    pw_page_begin(&w, refused ? "daneguard refused " : "daneguard: cannot open ", hp);
    pw_printf(&w, "<div class=\"box cls-%s\" data-class=\"%s\">", cls, cls);
    pw_printf(&w, "<span class=\"tag\">%s</span>\n", pw_class_label(r->cls));
    refusal_headline(&w, r);
    pw_puts(&w, "<p class=\"reason\">");
    pw_esc(&w, r->reason);
    pw_puts(&w, "</p>\n");
    refusal_explanation(&w, r);
    pw_puts(&w, "</div>\n");
    refusal_details(&w, r, hex);
    refusal_operator(&w, r, hex);
    pw_page_end(&w);
    return pw_done(&w);
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
    struct page_writer w;
    pw_init(&w, out);
    pw_page_begin(&w, "daneguard — set up this browser", NULL);
    pw_puts(&w, "<h1>daneguard</h1>\n<p>daneguard is the DNSSEC-validating resolver and "
                "DANE-enforcing web proxy on this network. When your browser uses it as its proxy, "
                "daneguard checks every HTTPS site that publishes DNSSEC-signed TLSA records "
                "(DANE, RFC 6698) and refuses a connection whose certificate does not match "
                "them, with a page that says why. Sites without TLSA records pass through "
                "untouched.</p>\n<p>To do that for sites with DANE it terminates TLS itself, so "
                "your browser must trust daneguard's own certificate authority (CA). It was "
                "created on this machine; its private key never leaves it.</p>\n");

    pw_puts(&w, "<h2>1. Get the CA certificate</h2>\n<ul>\n"
                "<li><a href=\"/ca.crt\">ca.crt</a> (PEM) — Firefox, Chromium, Linux, macOS</li>\n"
                "<li><a href=\"/ca.der\">ca.der</a> (DER) — Windows</li>\n</ul>\n");
    if (ca_fingerprint) {
        pw_puts(&w, "<p><em>Check its fingerprint before you trust it.</em> This page and the "
                    "certificate came over plain HTTP: anyone on the way could have swapped both. "
                    "The certificate daneguard serves has the SHA-256 fingerprint</p>\n"
                    "<pre id=\"ca-fingerprint\">");
        pw_esc(&w, ca_fingerprint);
        pw_puts(&w,
                "</pre>\n<p>Compare it, and the fingerprint your browser shows for the "
                "file you downloaded (in its certificate viewer, \"SHA-256 Fingerprint\"), "
                "with what the daneguard machine says itself: the line <code>proxy: CA "
                "certificate ... SHA-256 fingerprint ...</code> in daneguard's log at start, or "
                "on that machine<pre>openssl x509 -noout -fingerprint -sha256 -in "
                "/var/lib/daneguard/ca.crt</pre>(the file is <code>ca.crt</code> in daneguard's "
                "<code>ca_dir</code>). Trust the certificate only if they are the same.</p>\n");
    }

    pw_puts(&w, "<h2>2. Trust it</h2>\n<table>\n"
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

    pw_puts(&w, "<h2>3. Use daneguard as the proxy</h2>\n<p>Proxy address: <code>");
    pw_esc(&w, proxy_addr);
    pw_puts(&w, "</code> (HTTP proxy, also used for HTTPS).</p>\n<ul>\n"
                "<li>Automatic: set the proxy configuration URL to <code>http://");
    pw_esc(&w, proxy_addr);
    pw_puts(&w, "/proxy.pac</code> (<a href=\"/proxy.pac\">view the PAC file</a>).</li>\n"
                "<li>Firefox: Settings → General → Network Settings → Manual proxy configuration: "
                "HTTP Proxy <code>");
    pw_esc(&w, proxy_addr);
    pw_puts(&w, "</code>, tick <em>Also use this proxy for HTTPS</em>; or choose "
                "<em>Automatic proxy configuration URL</em> with the PAC address.</li>\n"
                "<li>Chromium / Chrome on Linux: start it with <code>--proxy-server=");
    pw_esc(&w, proxy_addr);
    pw_puts(&w, "</code> or <code>--proxy-pac-url=http://");
    pw_esc(&w, proxy_addr);
    pw_puts(&w, "/proxy.pac</code>, or set the desktop's system proxy.</li>\n"
                "<li>macOS: System Settings → Network → your network → Details → Proxies; "
                "Windows: Settings → Network &amp; Internet → Proxy.</li>\n"
                "<li>Command line: <code>export https_proxy=http://");
    pw_esc(&w, proxy_addr);
    pw_puts(&w, " http_proxy=http://");
    pw_esc(&w, proxy_addr);
    pw_puts(&w, "</code></li>\n</ul>\n");

    pw_puts(&w, "<h2>4. Check it</h2>\n<p>The <a href=\"/status\">status page</a> shows the "
                "resolver's cache, the proxy's connections and the most recent refusals "
                "(<a href=\"/status.json\">as JSON</a>).</p>\n");
    pw_page_end(&w);
    return pw_done(&w);
}

int pages_pac(struct http_buf *out, const char *proxy_addr)
{
    if (!out || !proxy_addr_ok(proxy_addr))
        return PAGES_EINVAL;
    struct page_writer w;
    pw_init(&w, out);
    pw_puts(&w, "// daneguard proxy auto-configuration.\n"
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
    pw_puts(&w, proxy_addr);
    pw_puts(&w, "\";\n}\n");
    return pw_done(&w);
}
