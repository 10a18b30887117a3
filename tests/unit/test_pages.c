/* tests/unit/test_pages.c — the pages daneguard serves itself (proxy/pages.c). */
#include "pages.h"
#include "unit.h"

#include <stdlib.h>
#include <strings.h>

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static int contains_nocase(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

/* Every tag in a page is one this module writes: nothing from the network
 * turned into markup. */
static int only_known_tags(const char *html)
{
    static const char *const known[] = {
        "!DOCTYPE", "html", "head", "meta",  "title", "style", "body", "main", "h1", "h2", "p",
        "div",      "code", "pre",  "table", "tr",    "th",    "td",   "ul",   "li", "a",  "em",
        "span",     "strong", "svg", "rect",
    };
    for (const char *p = strchr(html, '<'); p; p = strchr(p + 1, '<')) {
        const char *name = p + 1 + (p[1] == '/');
        size_t n = strcspn(name, " >");
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= strlen(known[i]) == n && strncmp(name, known[i], n) == 0;
        if (!ok) {
            fprintf(stderr, "  unexpected tag: %.20s\n", p);
            return 0;
        }
    }
    return 1;
}

/* Nothing a page shows may pull from elsewhere. */
static void check_self_contained(const char *html)
{
    CHECK(only_known_tags(html));
    CHECK(!contains_nocase(html, "<script"));
    CHECK(!contains_nocase(html, "<link"));
    CHECK(!contains_nocase(html, "<img"));
    CHECK(!contains_nocase(html, "src=\""));
    CHECK(!contains_nocase(html, "@import"));
    CHECK(!contains_nocase(html, "url("));
    CHECK(!contains_nocase(html, "href=\"http"));
    CHECK(!contains_nocase(html, "href=\"//"));
}

static const uint8_t spki[32] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
                                 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0xff, 0xfe,
                                 0xfd, 0xfc, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
static const char spki_hex[] = "0001abcdef102030405060708090a0b0c0d0e0f0fffefdfc0102030405060708";

static void test_refusal_page(void)
{
    const char *tlsa[] = {"3 1 1 8bd1da95272f7fa4ffb24137fc0ed03aae67e5c4d8b3c50734e1050a7920b922",
                          "2 0 1 aaaa"};
    struct pages_refusal r = {
        .host = "www.example.com",
        .port = 443,
        .reason = "DANE mismatch: no TLSA record matches the presented chain",
        .tlsa = tlsa,
        .n_tlsa = 2,
        .spki_sha256 = spki,
    };
    struct http_buf b = {0};
    CHECK_INT_EQ(pages_refusal_html(&b, &r), 0);
    CHECK(contains(b.data, "<title>daneguard refused www.example.com:443</title>"));
    CHECK(contains(b.data, "DANE mismatch: no TLSA record matches the presented chain"));
    CHECK(contains(b.data, tlsa[0]));
    CHECK(contains(b.data, tlsa[1]));
    CHECK(contains(b.data, spki_hex));
    CHECK(contains(b.data, "_443._tcp.www.example.com"));
    CHECK(contains(b.data, "daneguard check www.example.com 443"));
    CHECK(contains(b.data, "IN TLSA 3 1 1 "));
    CHECK(contains(b.data, "<style>"));
    check_self_contained(b.data);
    http_buf_free(&b);

    /* other reasons, no certificate, no TLSA, an IPv6 literal */
    struct pages_refusal r2 = {
        .host = "2001:db8::1", .port = 8443, .reason = "TLSA lookup timed out"};
    CHECK_INT_EQ(pages_refusal_html(&b, &r2), 0);
    CHECK(contains(b.data, "<title>daneguard refused [2001:db8::1]:8443</title>"));
    CHECK(contains(b.data, "TLSA lookup timed out"));
    CHECK(contains(b.data, "none obtained"));
    CHECK(contains(b.data, "no certificate was presented"));
    CHECK(!contains(b.data, "IN TLSA 3 1 1"));
    http_buf_free(&b);

    struct pages_refusal bad = {.host = NULL, .reason = "x"};
    CHECK_INT_EQ(pages_refusal_html(&b, &bad), PAGES_EINVAL);
    CHECK_INT_EQ(b.len, 0);
}

static void test_refusal_escapes_hostile_strings(void)
{
    const char *tlsa[] = {"3 1 1 <img src=x onerror=alert(1)>", "\"'><script>x</script>"};
    struct pages_refusal r = {
        .host = "<script>alert('host')</script>",
        .port = 443,
        .reason = "DNSSEC bogus for _443._tcp.host: <script>alert(\"reason\")</script> & \x01\x1b",
        .tlsa = tlsa,
        .n_tlsa = 2,
        .spki_sha256 = NULL,
    };
    struct http_buf b = {0};
    CHECK_INT_EQ(pages_refusal_html(&b, &r), 0);
    check_self_contained(b.data);
    CHECK(!contains(b.data, "<script>"));
    CHECK(!contains(b.data, "</script>"));
    CHECK(!contains(b.data, "\"'>"));
    CHECK(!contains(b.data, "\x01"));
    CHECK(!contains(b.data, "\x1b"));
    CHECK(contains(b.data, "&lt;script&gt;alert(&#39;host&#39;)&lt;/script&gt;"));
    CHECK(contains(b.data, "&lt;script&gt;alert(&quot;reason&quot;)&lt;/script&gt; &amp; "));
    CHECK(contains(b.data, "&lt;img src=x onerror=alert(1)&gt;"));
    http_buf_free(&b);

    /* the full 502 response */
    CHECK_INT_EQ(pages_refusal_response(&b, &r, 1), 0);
    CHECK(strncmp(b.data, "HTTP/1.1 502 Bad Gateway\r\n", 26) == 0);
    CHECK(contains(b.data, "Content-Type: text/html; charset=utf-8\r\n"));
    CHECK(contains(b.data, "Connection: keep-alive\r\n"));
    const char *body = strstr(b.data, "\r\n\r\n");
    CHECK(body != NULL);
    if (body) {
        body += 4;
        char cl[64];
        snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
        CHECK(contains(b.data, cl));
        CHECK(strncmp(body, "<!DOCTYPE html>", 15) == 0);
    }
    CHECK(!contains(b.data, "<script>"));
    http_buf_free(&b);
}

static void test_html_escape(void)
{
    struct http_buf b = {0};
    CHECK_INT_EQ(pages_html_escape(&b, "a<b>&\"c'\td\ne\x7f"), 0);
    CHECK_STR_EQ(b.data, "a&lt;b&gt;&amp;&quot;c&#39;\td\ne\xef\xbf\xbd");
    http_buf_reset(&b);
    CHECK_INT_EQ(pages_html_escape(&b, NULL), 0);
    CHECK_INT_EQ(b.len, 0);
    CHECK_INT_EQ(pages_html_escape(&b, "caf\xc3\xa9"), 0); /* UTF-8 passes */
    CHECK_STR_EQ(b.data, "caf\xc3\xa9");
    http_buf_free(&b);
}

static void test_pac(void)
{
    struct http_buf b = {0};
    CHECK_INT_EQ(pages_pac(&b, "127.0.0.1:8080"), 0);
    CHECK(contains(b.data, "function FindProxyForURL(url, host) {"));
    CHECK(contains(b.data, "return \"PROXY 127.0.0.1:8080\";"));
    CHECK(contains(b.data, "isPlainHostName(host)"));
    CHECK(contains(b.data, "host == \"localhost\""));
    CHECK(contains(b.data, "shExpMatch(host, \"127.*\")"));
    CHECK(contains(b.data, "host == \"::1\""));
    CHECK(contains(b.data, "return \"DIRECT\";"));
    /* the ranges the proxy refuses (issue 8) go DIRECT; e2e proxy_destinations
     * evaluates the PAC with node */
    CHECK(contains(b.data, "isInNet(h, \"192.168.0.0\", \"255.255.0.0\")"));
    CHECK(contains(b.data, "isInNet(h, \"10.0.0.0\", \"255.0.0.0\")"));
    CHECK(contains(b.data, "/^f[cd][0-9a-f]{2}:/.test(h)"));
    CHECK(contains(b.data, "dnsDomainIs(host, \".home.arpa\")"));
    CHECK(!contains(b.data, "; DIRECT")); /* no fallback that would skip DANE */
    /* braces balance */
    int depth = 0;
    for (const char *p = b.data; *p; p++)
        depth += (*p == '{') - (*p == '}');
    CHECK_INT_EQ(depth, 0);
    http_buf_free(&b);

    CHECK_INT_EQ(pages_pac(&b, "[::1]:3128"), 0);
    CHECK(contains(b.data, "return \"PROXY [::1]:3128\";"));
    http_buf_free(&b);

    CHECK_INT_EQ(pages_pac(&b, "1.2.3.4:80\"; alert(1); \""), PAGES_EINVAL);
    CHECK_INT_EQ(pages_pac(&b, ""), PAGES_EINVAL);
    CHECK_INT_EQ(pages_pac(&b, NULL), PAGES_EINVAL);
    CHECK_INT_EQ(b.len, 0);
}

static void test_onboarding(void)
{
    struct http_buf b = {0};
    const char *fpr = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
                      "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    CHECK_INT_EQ(pages_onboarding_html(&b, "192.168.1.2:8080", fpr), 0);
    CHECK(contains(b.data, fpr));
    CHECK(contains(b.data, "openssl x509 -noout -fingerprint -sha256 -in"));
    CHECK(contains(b.data, "plain HTTP"));
    check_self_contained(b.data);
    CHECK(contains(b.data, "href=\"/ca.crt\""));
    CHECK(contains(b.data, "href=\"/ca.der\""));
    CHECK(contains(b.data, "href=\"/proxy.pac\""));
    CHECK(contains(b.data, "href=\"/status\""));
    CHECK(contains(b.data, "Privacy &amp; Security"));
    CHECK(contains(b.data, "chrome://settings/certificates"));
    CHECK(
        contains(b.data, "certutil -d sql:$HOME/.pki/nssdb -A -t \"C,,\" -n daneguard -i ca.crt"));
    CHECK(contains(b.data, "/usr/local/share/ca-certificates/daneguard.crt"));
    CHECK(contains(b.data, "update-ca-certificates"));
    CHECK(contains(b.data, "security add-trusted-cert -d -r trustRoot -k "
                           "/Library/Keychains/System.keychain ca.crt"));
    CHECK(contains(b.data, "certutil -addstore -f ROOT ca.der"));
    CHECK(contains(b.data, "--proxy-server=192.168.1.2:8080"));
    CHECK(contains(b.data, "http://192.168.1.2:8080/proxy.pac"));
    http_buf_free(&b);
    CHECK_INT_EQ(pages_onboarding_html(&b, "<x>:1", NULL), PAGES_EINVAL);
    CHECK_INT_EQ(pages_onboarding_html(&b, "127.0.0.1:8080", "<script>"), PAGES_EINVAL);
    CHECK_INT_EQ(pages_onboarding_html(&b, "127.0.0.1:8080", NULL), 0);
    CHECK(!contains(b.data, "fingerprint"));
    http_buf_free(&b);
}

static void test_status(void)
{
    struct pages_refusal_entry recent[] = {
        {.when = 1700000000,
         .host = "bad.example",
         .port = 443,
         .reason = "DANE mismatch: no TLSA record matches the presented chain"},
        {.when = 1699999000,
         .host = "<script>x</script>",
         .port = 8443,
         .reason = "quote \" backslash \\ newline\n<b>"},
    };
    struct pages_status s = {
        .now = 1700000100,
        .uptime_s = 93784, /* 1d 02:03:04 */
        .dns_queries = 1000,
        .cache_hits = 750,
        .cache_misses = 250,
        .cache_entries = 321,
        .cache_bytes = 65536,
        .conns_open = 3,
        .conns_total = 99,
        .intercepted = 40,
        .tunnelled = 50,
        .refused = 9,
        .certs_minted = 12,
        .cert_cache_hits = 28,
        .recent = recent,
        .n_recent = 2,
    };
    struct http_buf b = {0};
    CHECK_INT_EQ(pages_status_html(&b, &s), 0);
    check_self_contained(b.data);
    CHECK(contains(b.data, "2023-11-14 22:15:00Z"));
    CHECK(contains(b.data, "up <span id=\"uptime\">1d 02:03:04</span>"));
    CHECK(contains(b.data, "<th>Cache hits</th><td class=\"n\">750</td>"));
    CHECK(contains(b.data, "<th>Hit ratio</th><td class=\"n\">75.0%</td>"));
    CHECK(contains(b.data, "<th>Refused</th><td class=\"n\">9</td>"));
    CHECK(contains(b.data, "<th>Certificate cache hits</th><td class=\"n\">28</td>"));
    CHECK(contains(b.data, "2023-11-14 22:13:20Z"));
    CHECK(contains(b.data, "bad.example:443"));
    CHECK(contains(b.data, "&lt;script&gt;x&lt;/script&gt;:8443"));
    CHECK(!contains(b.data, "<script>"));
    CHECK(!contains(b.data, "<b>"));
    http_buf_free(&b);

    CHECK_INT_EQ(pages_status_json(&b, &s), 0);
    CHECK_STR_EQ(b.data,
                 "{\"now\":1700000100,\"uptime_s\":93784,\"version\":\"\","
                 "\"dns\":{\"queries\":1000,\"cache_hits\":750,\"cache_misses\":250,"
                 "\"cache_entries\":321,\"cache_bytes\":65536,\"servfail\":0,\"bogus\":0},"
                 "\"proxy\":{\"connections_open\":3,\"connections_total\":99,"
                 "\"intercepted\":40,\"tunnelled\":50,\"refused\":9},"
                 "\"events\":{\"dane_refusals\":0,\"dnssec_failures\":0,\"ordinary_errors\":0,"
                 "\"by_class\":{\"dane\":0,\"dnssec\":0,\"clock\":0,\"nxdomain\":0,"
                 "\"unreachable\":0,\"port\":0}},"
                 "\"certs\":{\"minted\":12,\"cache_hits\":28},\"upstreams\":[],"
                 "\"negative_trust_anchors\":[],\"ca_fingerprint_sha256\":\"\","
                 "\"recent_refusals\":[{\"time\":1700000000,\"host\":\"bad.example\",\"port\":443,"
                 "\"reason\":\"DANE mismatch: no TLSA record matches the presented chain\","
                 "\"class\":\"dane\"},"
                 "{\"time\":1699999000,\"host\":\"<script>x</script>\",\"port\":8443,"
                 "\"reason\":\"quote \\\" backslash \\\\ newline\\u000a<b>\",\"class\":\"dane\"}],"
                 "\"recent_errors\":[],\"minutes\":[],"
                 "\"exceptions\":{\"hosts\":[],\"uses\":0,\"recent_uses\":[]}}\n");
    http_buf_free(&b);

    /* proxy.exceptions: listed with their uses, escaped */
    const char *ex_hosts[] = {"www.example.org", "*.lab.<i>.example"};
    struct pages_exception_use ex_use = {1700000000, "nas.lab.<i>.example", 443, "192.0.2.7",
                                         "*.lab.<i>.example"};
    struct pages_status with_ex = s;
    with_ex.exceptions = ex_hosts;
    with_ex.n_exceptions = 2;
    with_ex.exception_uses = 7;
    with_ex.exception_recent = &ex_use;
    with_ex.n_exception_recent = 1;
    CHECK_INT_EQ(pages_status_html(&b, &with_ex), 0);
    CHECK(contains(b.data, "Exceptions (DANE not enforced)"));
    CHECK(contains(b.data, "<code>www.example.org</code>"));
    CHECK(contains(b.data, "*.lab.&lt;i&gt;.example"));
    CHECK(contains(b.data, "used 7 time(s)"));
    CHECK(contains(b.data, "192.0.2.7"));
    CHECK(!contains(b.data, "<i>"));
    http_buf_free(&b);
    CHECK_INT_EQ(pages_status_json(&b, &with_ex), 0);
    CHECK(contains(b.data, "\"exceptions\":{\"hosts\":[\"www.example.org\",\"*.lab.<i>.example\"],"
                           "\"uses\":7,\"recent_uses\":[{\"time\":1700000000,\"host\":"
                           "\"nas.lab.<i>.example\",\"port\":443,\"client\":\"192.0.2.7\","
                           "\"exception\":\"*.lab.<i>.example\"}]}}"));
    http_buf_free(&b);

    struct pages_status empty = {.now = 0};
    CHECK_INT_EQ(pages_status_html(&b, &empty), 0);
    CHECK(contains(b.data, "<p id=\"recent-refusals\">None.</p>"));
    CHECK(contains(b.data, "<p id=\"recent-errors\">None.</p>"));
    CHECK(contains(b.data, "<p>None (proxy.exceptions is empty).</p>"));
    CHECK(!contains(b.data, "<svg"));
    CHECK(contains(b.data, "<th>Hit ratio</th><td class=\"n\">0.0%</td>"));
    http_buf_free(&b);
    CHECK_INT_EQ(pages_status_json(&b, &empty), 0);
    CHECK(contains(b.data, "\"recent_refusals\":[],\"recent_errors\":[],\"minutes\":[],"));
    http_buf_free(&b);
    CHECK_INT_EQ(pages_status_json(&b, NULL), PAGES_EINVAL);

    /* the resolver's warnings: one item each, escaped */
    struct pages_status warn = {.resolver_notes = "The clock <is> off.\n10.0.0.1 \"strips\"\n"};
    CHECK_INT_EQ(pages_status_html(&b, &warn), 0);
    CHECK(contains(b.data, "<li>The clock &lt;is&gt; off.</li>"));
    CHECK(contains(b.data, "<li>10.0.0.1 &quot;strips&quot;</li>") ||
          contains(b.data, "<li>10.0.0.1 &#34;strips&#34;</li>"));
    http_buf_free(&b);
    CHECK_INT_EQ(pages_status_json(&b, &warn), 0);
    CHECK(contains(b.data, "\"resolver_notes\":[\"The clock <is> off.\",\"10.0.0.1 \\\"strips\\\"\"]}"));
    http_buf_free(&b);

    /* issue 11: the negative trust anchors are listed */
    struct pages_status nta = {.insecure_domains = "broken.example., <x>.example."};
    CHECK_INT_EQ(pages_status_html(&b, &nta), 0);
    CHECK(contains(b.data, "<th>Not validated (domain_insecure)</th><td>broken.example., "
                           "&lt;x&gt;.example.</td>"));
    http_buf_free(&b);
    CHECK_INT_EQ(pages_status_json(&b, &nta), 0);
    CHECK(contains(b.data, "\"insecure_domains\":\"broken.example., <x>.example.\"}"));
    http_buf_free(&b);
}


/* Each class has its own words, colour class and headline sentence; only the
 * classes about DANE list TLSA records, and never for plain HTTP. */
static void test_refusal_classes(void)
{
    static const struct {
        enum pages_class cls;
        const char *reason, *cls_attr, *headline, *words;
        int status;
    } cases[] = {
        {PAGES_CLASS_DANE, "DANE mismatch: no TLSA record matches", "cls-dane",
         "its certificate does not match the site's DANE records.", "the attack DANE protects",
         502},
        {PAGES_CLASS_DNSSEC, "DNSSEC bogus: the TLSA records fail validation", "cls-dnssec",
         "its DNSSEC signatures do not validate.", "fetched no certificate", 502},
        {PAGES_CLASS_DNSSEC, "TLSA lookup timed out", "cls-dnssec",
         "its DNSSEC-signed records could not be looked up.", "fails closed", 502},
        {PAGES_CLASS_CLOCK, "the clock is not synchronized", "cls-clock",
         "this machine's clock is not synchronized.", "NTP", 502},
        {PAGES_CLASS_NXDOMAIN, "no such host (NXDOMAIN): the name does not exist",
         "cls-nxdomain", "</code> does not exist.", "Check the spelling", 502},
        {PAGES_CLASS_UNREACHABLE, "no usable address: cannot connect to the site",
         "cls-unreachable", "daneguard cannot reach <code>", "Try again later", 502},
        {PAGES_CLASS_PORT, "plain HTTP to port 81 is not allowed", "cls-port",
         "Port 81 is not allowed through daneguard.", "<strong>80, 8080-8089</strong>", 403},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int plain = 0; plain <= 1; plain++) {
            struct pages_refusal r = {
                .host = "typo.example",
                .port = 81,
                .reason = cases[i].reason,
                .cls = cases[i].cls,
                .plain_http = plain,
                .allowed_ports = "80, 8080-8089",
            };
            struct http_buf b = {0};
            CHECK_INT_EQ(pages_refusal_html(&b, &r), 0);
            check_self_contained(b.data);
            CHECK(contains(b.data, cases[i].cls_attr));
            CHECK(contains(b.data, cases[i].headline));
            CHECK(contains(b.data, cases[i].words));
            CHECK(contains(b.data, cases[i].reason));
            int tlsa_row = contains(b.data, "TLSA records of <code>_81._tcp.typo.example");
            int dane_class = cases[i].cls <= PAGES_CLASS_CLOCK;
            CHECK_INT_EQ(tlsa_row, dane_class && !plain);
            /* the attack words only on the DANE page */
            CHECK_INT_EQ(contains(b.data, "attack"), cases[i].cls == PAGES_CLASS_DANE);
            http_buf_free(&b);
            CHECK_INT_EQ(pages_refusal_response(&b, &r, 0), 0);
            char line[64];
            snprintf(line, sizeof line, "HTTP/1.1 %d ", cases[i].status);
            CHECK(strncmp(b.data, line, strlen(line)) == 0);
            CHECK(contains(b.data, "daneguard-refusal: "));
            CHECK(contains(b.data, pages_class_name(cases[i].cls)));
            http_buf_free(&b);
        }
    }
    struct pages_refusal bad = {.host = "h", .reason = "r", .cls = (enum pages_class)99};
    struct http_buf b = {0};
    CHECK_INT_EQ(pages_refusal_html(&b, &bad), PAGES_EINVAL);
    CHECK_INT_EQ(pages_class_count(PAGES_CLASS_DANE), PAGES_COUNT_DANE);
    CHECK_INT_EQ(pages_class_count(PAGES_CLASS_DNSSEC), PAGES_COUNT_DNSSEC);
    CHECK_INT_EQ(pages_class_count(PAGES_CLASS_CLOCK), PAGES_COUNT_DNSSEC);
    CHECK_INT_EQ(pages_class_count(PAGES_CLASS_NXDOMAIN), PAGES_COUNT_ORDINARY);
    CHECK_INT_EQ(pages_class_count(PAGES_CLASS_UNREACHABLE), PAGES_COUNT_ORDINARY);
    CHECK_INT_EQ(pages_class_count(PAGES_CLASS_PORT), PAGES_COUNT_ORDINARY);
}

/* The operator's command names the running binary and configuration, quoted
 * for a shell when they need it. */
static void test_refusal_operator_command(void)
{
    struct pages_refusal r = {
        .host = "mism.example",
        .port = 8443,
        .reason = "DANE mismatch: no TLSA record matches",
        .spki_sha256 = spki,
        .self_path = "/opt/dg/sbin/daneguard",
        .config_path = "/etc/dg/dane guard's.yml",
    };
    struct http_buf b = {0};
    CHECK_INT_EQ(pages_refusal_html(&b, &r), 0);
    CHECK(contains(b.data, "<pre class=\"cmd\">/opt/dg/sbin/daneguard check mism.example 8443 -c "
                           "&#39;/etc/dg/dane guard&#39;\\&#39;&#39;s.yml&#39;</pre>"));
    CHECK(contains(b.data, "<pre class=\"fix\">_8443._tcp.mism.example. IN TLSA 3 1 1 "));
    http_buf_free(&b);
    r.self_path = NULL;
    r.config_path = "";
    CHECK_INT_EQ(pages_refusal_html(&b, &r), 0);
    CHECK(contains(b.data, "<pre class=\"cmd\">daneguard check mism.example 8443</pre>"));
    http_buf_free(&b);
}

/* The sections added for people: version, upstreams, NTAs, CA fingerprint,
 * counts apart, two event lists, the chart. */
static void test_status_sections(void)
{
    struct pages_refusal_entry recent[] = {
        {1700000000, "mism.example", 443, "DANE mismatch: x", PAGES_CLASS_DANE},
    };
    struct pages_refusal_entry errors[] = {
        {1700000050, "update.googleapis.example", 443, "no such host", PAGES_CLASS_NXDOMAIN},
    };
    struct pages_upstream ups[] = {{"127.0.0.53@5353", "UDP, TCP", "answering: srtt 3 ms"}};
    struct pages_minute minutes[PAGES_CHART_MINUTES] = {0};
    minutes[PAGES_CHART_MINUTES - 1] = (struct pages_minute){40, 10, 1, 2};
    minutes[0] = (struct pages_minute){5, 0, 0, 0};
    struct pages_status s = {
        .now = 1700000100,
        .version = "9.9.9",
        .servfail = 4,
        .bogus = 5,
        .by_class = {[PAGES_CLASS_DANE] = 1, [PAGES_CLASS_DNSSEC] = 2, [PAGES_CLASS_CLOCK] = 1,
                     [PAGES_CLASS_NXDOMAIN] = 16, [PAGES_CLASS_PORT] = 3},
        .recent = recent,
        .n_recent = 1,
        .errors = errors,
        .n_errors = 1,
        .upstreams = ups,
        .n_upstreams = 1,
        .insecure_domains = "broken.example, lab.example",
        .ca_fingerprint = "AB:CD",
        .minutes = minutes,
        .n_minutes = PAGES_CHART_MINUTES,
    };
    struct http_buf b = {0};
    CHECK_INT_EQ(pages_status_html(&b, &s), 0);
    check_self_contained(b.data);
    CHECK(contains(b.data, "<code id=\"version\">9.9.9</code>"));
    CHECK(contains(b.data, "<code id=\"ca-fingerprint\">AB:CD</code>"));
    CHECK(contains(b.data, "<th>DANE refusals</th><td class=\"n\">1</td>"));
    CHECK(contains(b.data, "<th>DNSSEC failures</th><td class=\"n\">3</td>"));
    CHECK(contains(b.data, "<td class=\"n\">19</td>"));
    CHECK(contains(b.data, "<th>SERVFAIL (no upstream answered)</th><td class=\"n\">4</td>"));
    CHECK(contains(b.data, "<th>DNSSEC bogus answers</th><td class=\"n\">5</td>"));
    CHECK(contains(b.data, "127.0.0.53@5353"));
    CHECK(contains(b.data, "answering: srtt 3 ms"));
    CHECK(contains(b.data, "<p id=\"ntas\">DNSSEC validation is switched off at and below "
                           "(<code>resolver.domain_insecure</code>): <code>broken.example, "
                           "lab.example</code></p>"));
    CHECK(contains(b.data, "<svg class=\"chart\""));
    CHECK(contains(b.data, "DNS queries (45)"));
    CHECK(contains(b.data, "proxy requests (10)"));
    CHECK(contains(b.data, "DANE and DNSSEC refusals (1)"));
    CHECK(contains(b.data, "ordinary errors (2)"));
    CHECK(contains(b.data, "per minute (top: 40)"));
    CHECK(contains(b.data, "per minute (top: 2)"));
    CHECK(!contains(b.data, "break-all"));
    CHECK(!contains(b.data, "th{width:16rem"));
    /* the DANE refusal and the ordinary error are in different lists */
    const char *rl = strstr(b.data, "id=\"recent-refusals\""), *el = strstr(b.data, "id=\"recent-errors\"");
    CHECK(rl && el && rl < el);
    if (rl && el) {
        const char *m = strstr(rl, "mism.example"), *u = strstr(rl, "update.googleapis");
        CHECK(m && m < el);
        CHECK(u && u > el);
    }
    http_buf_free(&b);
    CHECK_INT_EQ(pages_status_json(&b, &s), 0);
    CHECK(contains(b.data, "\"version\":\"9.9.9\""));
    CHECK(contains(b.data, "\"events\":{\"dane_refusals\":1,\"dnssec_failures\":3,"
                           "\"ordinary_errors\":19,"));
    CHECK(contains(b.data, "\"upstreams\":[{\"address\":\"127.0.0.53@5353\",\"transport\":"
                           "\"UDP, TCP\",\"health\":\"answering: srtt 3 ms\"}]"));
    CHECK(contains(b.data, "\"negative_trust_anchors\":[\"broken.example\",\"lab.example\"]"));
    CHECK(contains(b.data, "\"recent_errors\":[{\"time\":1700000050,\"host\":"
                           "\"update.googleapis.example\",\"port\":443,\"reason\":\"no such "
                           "host\",\"class\":\"nxdomain\"}]"));
    CHECK(contains(b.data, "\"minutes\":[[5,0,0,0],[0,0,0,0]"));
    CHECK(contains(b.data, "[40,10,1,2]],\"exceptions\":"));
    http_buf_free(&b);
}

static void test_route(void)
{
    CHECK_INT_EQ(pages_route("/"), PAGES_ONBOARDING);
    CHECK_INT_EQ(pages_route("/?x=1"), PAGES_ONBOARDING);
    CHECK_INT_EQ(pages_route("/ca.crt"), PAGES_CA_PEM);
    CHECK_INT_EQ(pages_route("/ca.der"), PAGES_CA_DER);
    CHECK_INT_EQ(pages_route("/metrics"), PAGES_METRICS);
    CHECK_INT_EQ(pages_route("/metrics?x=1"), PAGES_METRICS);
    CHECK_INT_EQ(pages_route("/proxy.pac"), PAGES_PAC);
    CHECK_INT_EQ(pages_route("/status"), PAGES_STATUS);
    CHECK_INT_EQ(pages_route("/status?format=json"), PAGES_STATUS_JSON);
    CHECK_INT_EQ(pages_route("/status?a=b&format=json"), PAGES_STATUS_JSON);
    CHECK_INT_EQ(pages_route("/status?format=jsonp"), PAGES_STATUS);
    CHECK_INT_EQ(pages_route("/status.json"), PAGES_STATUS_JSON);
    CHECK_INT_EQ(pages_route("/ca.crtx"), PAGES_NOT_FOUND);
    CHECK_INT_EQ(pages_route("/../etc/passwd"), PAGES_NOT_FOUND);
    CHECK_INT_EQ(pages_route(""), PAGES_NOT_FOUND);
    CHECK_INT_EQ(pages_route(NULL), PAGES_NOT_FOUND);
    CHECK_STR_EQ(pages_strerror(PAGES_ENOMEM), "out of memory");
    CHECK_STR_EQ(pages_strerror(0), "success");
}

int main(void)
{
    UNIT_RUN(test_refusal_page);
    UNIT_RUN(test_refusal_escapes_hostile_strings);
    UNIT_RUN(test_html_escape);
    UNIT_RUN(test_pac);
    UNIT_RUN(test_onboarding);
    UNIT_RUN(test_status);
    UNIT_RUN(test_refusal_classes);
    UNIT_RUN(test_refusal_operator_command);
    UNIT_RUN(test_status_sections);
    UNIT_RUN(test_route);
    return UNIT_END();
}
