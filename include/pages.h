/* include/pages.h — what daneguard serves itself: the refusal page, the
 * onboarding page, the PAC file and the status page (HTML and JSON).
 *
 * Every function appends to a caller's struct http_buf (see http.h; the caller
 * owns it and frees it with http_buf_free()) and copies what it is given; no
 * pointer is kept. Text from the network (hosts, reasons, TLSA strings) is
 * HTML-escaped; pages load nothing from elsewhere (inline CSS only).
 */
#ifndef DANEGUARD_PAGES_H
#define DANEGUARD_PAGES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http.h"

#define PAGES_ERRORS(X)                                                                            \
    X(PAGES_ENOMEM, -1, "out of memory")                                                           \
    X(PAGES_EINVAL, -2, "invalid argument")

enum pages_error {
#define PAGES_ENUM(name, value, text) name = value,
    PAGES_ERRORS(PAGES_ENUM)
#undef PAGES_ENUM
};

/* A static string for err (0 is "success"); never NULL. */
const char *pages_strerror(int err);

#define PAGES_HTML_TYPE "text/html; charset=utf-8"
#define PAGES_JSON_TYPE "application/json"
#define PAGES_PAC_TYPE "application/x-ns-proxy-autoconfig"
#define PAGES_PEM_TYPE "application/x-pem-file"
#define PAGES_DER_TYPE "application/x-x509-ca-cert"
#define PAGES_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What an origin-form request to daneguard asks for. */
enum pages_route {
    PAGES_NOT_FOUND,   /* 404 */
    PAGES_ONBOARDING,  /* / */
    PAGES_CA_PEM,      /* /ca.crt, /ca.pem */
    PAGES_CA_DER,      /* /ca.der, /ca.cer */
    PAGES_PAC,         /* /proxy.pac, /wpad.dat */
    PAGES_STATUS,      /* /status */
    PAGES_STATUS_JSON, /* /status.json, /status?format=json */
    PAGES_METRICS,     /* /metrics: Prometheus text (proxy/metrics.c) */
};

/* Map an origin-form path ("/status?format=json") to a page. path NULL is
 * PAGES_NOT_FOUND. */
enum pages_route pages_route(const char *path);

/* Append s HTML-escaped (& < > " ' become entities; control characters other
 * than tab and newline become U+FFFD). s NULL appends nothing. 0 or PAGES_ENOMEM. */
int pages_html_escape(struct http_buf *out, const char *s);

/* ---- refusal page ----------------------------------------------------------- */

/* Why a connection was refused; every pointer is borrowed for the call only. */
struct pages_refusal {
    const char *host; /* as the client asked (required) */
    uint16_t port;
    const char *reason;      /* "DANE mismatch: no TLSA record matches the presented
                                chain" (required) */
    const char *const *tlsa; /* n_tlsa presentation strings "3 1 1 ab12…", may be NULL */
    size_t n_tlsa;
    const uint8_t *spki_sha256; /* 32 bytes: the presented leaf's SPKI SHA-256; NULL when
                                   no certificate was seen */
};

/* The refusal page's HTML body. 0, PAGES_EINVAL (host or reason NULL) or
 * PAGES_ENOMEM. */
int pages_refusal_html(struct http_buf *out, const struct pages_refusal *r);

/* A complete HTTP 502 response carrying the refusal page (head and body), to
 * answer a request inside an intercepted TLS session or a plain request.
 * 0, PAGES_EINVAL or PAGES_ENOMEM. */
int pages_refusal_response(struct http_buf *out, const struct pages_refusal *r, int keep_alive);

/* ---- onboarding and PAC ----------------------------------------------------- */

/* proxy_addr is "host:port" as browsers should be configured ("127.0.0.1:8080",
 * "[::1]:8080"): letters, digits, '.', ':', '-', '[' and ']' only. */

/* The onboarding page for http://<proxy address>/. ca_fingerprint is the CA
 * certificate's SHA-256 fingerprint ("AB:CD:..." hex pairs, ca_fingerprint_sha256()),
 * shown with how to check it out of band; NULL leaves that section out.
 * 0, PAGES_EINVAL or PAGES_ENOMEM. */
int pages_onboarding_html(struct http_buf *out, const char *proxy_addr, const char *ca_fingerprint);

/* The PAC file: everything through "PROXY proxy_addr" except plain host names,
 * localhost and loopback, which go DIRECT. No DIRECT fallback for the rest: a
 * proxy that is down must not silently lose DANE protection. 0, PAGES_EINVAL or
 * PAGES_ENOMEM. */
int pages_pac(struct http_buf *out, const char *proxy_addr);

/* ---- status page ------------------------------------------------------------ */

struct pages_refusal_entry {
    time_t when;
    const char *host; /* borrowed for the call */
    uint16_t port;
    const char *reason; /* borrowed for the call */
};

/* A CONNECT that proxy.exceptions let through without DANE. */
struct pages_exception_use {
    time_t when;
    const char *host; /* borrowed for the call */
    uint16_t port;
    const char *client;  /* the client's address */
    const char *pattern; /* the proxy.exceptions entry it matched */
};

/* Counters the caller fills in; the page shows them as given. */
struct pages_status {
    time_t now; /* shown as UTC; injected so tests pin the clock */
    uint64_t uptime_s;
    uint64_t dns_queries, cache_hits, cache_misses, cache_entries, cache_bytes;
    uint64_t conns_open, conns_total;
    uint64_t intercepted, tunnelled, refused;
    uint64_t certs_minted, cert_cache_hits;
    const struct pages_refusal_entry *recent; /* newest first; n_recent entries */
    size_t n_recent;
    /* what the resolver wants the user to know (an unsynchronized clock, an
     * upstream that strips DNSSEC): lines, each ending in '\n'; NULL or "" none */
    const char *resolver_notes;
    /* proxy.exceptions: the entries as configured, the uses since start and
     * the last ones (newest first); all borrowed for the call */
    const char *const *exceptions;
    size_t n_exceptions;
    uint64_t exception_uses;
    const struct pages_exception_use *exception_recent;
    size_t n_exception_recent;
    const char *insecure_domains; /* domain_insecure names, ", " between; NULL or "": none */
};

/* The status page as HTML. 0, PAGES_EINVAL (s NULL) or PAGES_ENOMEM. */
int pages_status_html(struct http_buf *out, const struct pages_status *s);

/* The same as one JSON object: {"uptime_s":…, "dns":{…}, "proxy":{…},
 * "certs":{…}, "recent_refusals":[{"time":…,"host":…,"port":…,"reason":…}],
 * "resolver_notes":["…"] (only when there are some)}.
 * "exceptions":{"hosts":[…],"uses":…,"recent_uses":[{"time":…,"host":…,
 * "port":…,"client":…,"exception":…}]}}.
 * Strings are JSON-escaped. 0, PAGES_EINVAL or PAGES_ENOMEM. */
int pages_status_json(struct http_buf *out, const struct pages_status *s);

#endif
