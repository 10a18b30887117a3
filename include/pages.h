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

/* What kind of refusal a page is about: each has its own words and colour,
 * and the status page counts them apart (pages_class_count()). */
enum pages_class {
    PAGES_CLASS_DANE,        /* the certificate does not match the TLSA records (or the
                                PKIX check of intercept: all failed): an attack or a
                                misconfigured site */
    PAGES_CLASS_DNSSEC,      /* DNSSEC bogus or indeterminate, or the TLSA lookup failed:
                                no certificate was fetched */
    PAGES_CLASS_CLOCK,       /* this machine's clock is not synchronized */
    PAGES_CLASS_NXDOMAIN,    /* the name does not exist, or has no address */
    PAGES_CLASS_UNREACHABLE, /* the site cannot be reached (connect, timeout, TLS) */
    PAGES_CLASS_PORT,        /* the port is not allowed */
};
#define PAGES_CLASSES 6

/* How the status page counts a class. */
enum pages_count {
    PAGES_COUNT_DANE,     /* DANE refusals (PAGES_CLASS_DANE) */
    PAGES_COUNT_DNSSEC,   /* DNSSEC failures (PAGES_CLASS_DNSSEC, PAGES_CLASS_CLOCK) */
    PAGES_COUNT_ORDINARY, /* ordinary errors: NXDOMAIN, unreachable, forbidden port */
};

/* "dane", "dnssec", "clock", "nxdomain", "unreachable", "port". */
const char *pages_class_name(enum pages_class c);
enum pages_count pages_class_count(enum pages_class c);

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
    enum pages_class cls;       /* 0 is PAGES_CLASS_DANE */
    int plain_http;             /* a plain-HTTP request: no TLSA lookup was made */
    const char *allowed_ports;  /* PAGES_CLASS_PORT: "80, 8080-8089" (may be NULL) */
    const char *self_path;      /* the running binary, for the operator's command
                                   (NULL: "daneguard") */
    const char *config_path;    /* the running configuration (NULL or "": no -c) */
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
    enum pages_class cls;
};

/* One upstream resolver as the status page shows it. */
struct pages_upstream {
    const char *address;   /* "192.0.2.1:53" (borrowed) */
    const char *transport; /* "UDP, TCP", "TLS" (borrowed) */
    const char *health;    /* "answering (srtt 12 ms)", "not answering", ... (borrowed) */
};

/* One minute of the chart. */
struct pages_minute {
    uint64_t queries;  /* DNS queries answered by the resolver */
    uint64_t requests; /* proxy requests */
    uint64_t refusals; /* DANE refusals and DNSSEC failures */
    uint64_t errors;   /* ordinary errors */
};
#define PAGES_CHART_MINUTES 60

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
    const char *version; /* NULL: not shown */
    uint64_t dns_queries, cache_hits, cache_misses, cache_entries, cache_bytes;
    uint64_t servfail, bogus; /* SERVFAIL for timeouts, bogus answers */
    uint64_t conns_open, conns_total;
    uint64_t intercepted, tunnelled, refused;
    uint64_t certs_minted, cert_cache_hits;
    uint64_t by_class[PAGES_CLASSES]; /* events of each enum pages_class */
    const struct pages_refusal_entry *recent; /* DANE and DNSSEC events, newest first */
    size_t n_recent;
    const struct pages_refusal_entry *errors; /* ordinary errors, newest first */
    size_t n_errors;
    const struct pages_upstream *upstreams;
    size_t n_upstreams;
    const char *ca_fingerprint;           /* "AB:CD:..."; NULL: not shown */
    const struct pages_minute *minutes;   /* oldest first, the last is this minute */
    size_t n_minutes;                     /* up to PAGES_CHART_MINUTES; 0: no chart */
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

/* The same as one JSON object: {"now":…, "uptime_s":…, "version":…, "dns":{…},
 * "proxy":{…}, "events":{"dane_refusals":…, "dnssec_failures":…,
 * "ordinary_errors":…, "by_class":{…}}, "certs":{…}, "upstreams":[…],
 * "negative_trust_anchors":[…] (the
 * insecure_domains), "ca_fingerprint_sha256":…,
 * "recent_refusals":[{"time":…,"host":…,"port":…,"reason":…,"class":…}]
 * (DANE and DNSSEC), "recent_errors":[…] (ordinary), "minutes":[…],
 * "resolver_notes":["…"] (only when there are some), "exceptions":{"hosts":[…],
 * "uses":…,"recent_uses":[{"time":…,"host":…,"port":…,"client":…,"exception":…}]}}.
 * Strings are JSON-escaped. 0, PAGES_EINVAL or PAGES_ENOMEM. */
int pages_status_json(struct http_buf *out, const struct pages_status *s);

#endif
