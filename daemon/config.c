/* daemon/config.c — reading daneguard.yml (libyaml) into a struct config.
 *
 * The file is loaded whole as a YAML document, walked against a fixed schema
 * (one key table per mapping), and cross-checked; only then is the result
 * copied out, so a caller reloading on SIGHUP keeps its old configuration when
 * the new file is bad. Every error is one line, "FILE:LINE: KEY: what is
 * wrong", with LINE 1-based from libyaml's marks.
 *
 * The walker never descends generically: each key knows the shape of its
 * value, so aliases (even cyclic ones) and deep nesting cannot make it loop.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "addr.h"
#include "log.h"

/* ---- defaults ---------------------------------------------------------- */

#define CONFIG_DNS_PORT 53
#define CONFIG_PROXY_PORT 8080

static void add_default_listen(struct config_sockaddr *list, size_t *n, const char *text,
                               uint16_t port)
{
    if (config_sockaddr_parse(text, port, &list[*n]) == 0)
        (*n)++;
}

static void add_default_allow(struct addr_cidr *list, size_t *n)
{
    if (addr_cidr_parse("127.0.0.0/8", &list[*n]) == 0)
        (*n)++;
    if (addr_cidr_parse("::1/128", &list[*n]) == 0)
        (*n)++;
}

void config_defaults(struct config *cfg)
{
    struct config_resolver *r = &cfg->resolver;
    struct config_proxy *px = &cfg->proxy;

    memset(cfg, 0, sizeof *cfg);

    add_default_listen(r->listen, &r->n_listen, "127.0.0.1", CONFIG_DNS_PORT);
    add_default_listen(r->listen, &r->n_listen, "::1", CONFIG_DNS_PORT);
    r->transports[0] = CONFIG_TRANSPORT_UDP;
    r->transports[1] = CONFIG_TRANSPORT_TCP;
    r->n_transports = 2;
    r->tls_authentication_required = 0;
    snprintf(r->trust_anchors[0], sizeof r->trust_anchors[0], "%s", "/usr/share/dns/root.key");
    r->n_trust_anchors = 1;
    r->timeout_ms = 5000;
    r->idle_timeout_ms = 10000;
    add_default_allow(r->allow, &r->n_allow);
    r->cache_size = (size_t)32 << 20;
    r->bogus_ttl_s = 60;
    r->cache_max_ttl_s = 86400;
    r->cache_max_negative_ttl_s = 3600;
    snprintf(r->resolv_conf, sizeof r->resolv_conf, "%s", "/etc/resolv.conf");
    r->max_tcp_clients = 1024;
    r->max_waiting_queries = 4096;
    r->max_waiting_per_client = 64;

    px->enabled = 1;
    add_default_listen(px->listen, &px->n_listen, "127.0.0.1", CONFIG_PROXY_PORT);
    add_default_allow(px->allow, &px->n_allow);
    px->intercept = CONFIG_INTERCEPT_DANE;
    snprintf(px->ca_dir, sizeof px->ca_dir, "%s", "/var/lib/daneguard");
    snprintf(px->trust_store, sizeof px->trust_store, "%s", "/etc/ssl/certs/ca-certificates.crt");
    px->allowed_ports[0] = 443;
    px->allowed_ports[1] = 8443;
    px->n_allowed_ports = 2;
    px->max_connections = 1024;
    px->buffer_size = 16 * 1024;
    px->handshake_timeout_ms = 10000;
    px->idle_timeout_ms = 300000;
    px->cert_cache_entries = 1000;
    px->http_ports[0] = (struct config_port_range){80, 80};
    px->http_ports[1] = (struct config_port_range){8080, 8080};
    px->n_http_ports = 2;
    px->max_connections_per_client = px->max_connections / 4;
    px->max_lookups_per_client = 128;
}

/* ---- addresses and networks -------------------------------------------- */

/* A numeric IPv4 or IPv6 address (v6 may carry "%scope"); port is set later. */
static const char *ip_parse(const char *host, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (strchr(host, ':')) {
        struct sockaddr_in6 sin6;
        char buf[64];
        const char *pct = strchr(host, '%');
        size_t alen = pct ? (size_t)(pct - host) : strlen(host);

        memset(&sin6, 0, sizeof sin6);
        if (alen >= sizeof buf)
            return "not an IP address";
        memcpy(buf, host, alen);
        buf[alen] = '\0';
        if (inet_pton(AF_INET6, buf, &sin6.sin6_addr) != 1)
            return "not an IP address";
        if (pct) {
            const char *scope = pct + 1;
            char *end;
            unsigned long idx;

            if (!*scope)
                return "empty scope after '%'";
            errno = 0;
            idx = strtoul(scope, &end, 10);
            if (*end != '\0' || errno || idx > UINT32_MAX)
                idx = if_nametoindex(scope);
            if (idx == 0)
                return "unknown interface after '%'";
            sin6.sin6_scope_id = (uint32_t)idx;
        }
        sin6.sin6_family = AF_INET6;
        memcpy(ss, &sin6, sizeof sin6);
        *len = sizeof sin6;
        return NULL;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        return "not an IP address";
    sin.sin_family = AF_INET;
    memcpy(ss, &sin, sizeof sin);
    *len = sizeof sin;
    return NULL;
}

/* Decimal 1..65535, digits only. */
static int port_parse(const char *s, uint16_t *port)
{
    unsigned long v = 0;

    if (!*s || strlen(s) > 5)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* Returns NULL on success or why text is not an address. */
static const char *sockaddr_parse(const char *text, uint16_t default_port,
                                  struct config_sockaddr *out)
{
    char host[64];
    const char *port_s = NULL, *why;
    size_t len = strlen(text), hlen;
    uint16_t port = default_port;

    memset(out, 0, sizeof *out);
    if (len == 0)
        return "empty address";
    if (len >= sizeof out->text)
        return "too long for an address";
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return "missing ']'";
        hlen = (size_t)(close - text - 1);
        memcpy(host, text + 1, hlen);
        host[hlen] = '\0';
        if (close[1] == ':' || close[1] == '@' || close[1] == '#')
            port_s = close + 2;
        else if (close[1] != '\0')
            return "unexpected text after ']'";
        if (!strchr(host, ':'))
            return "brackets are for IPv6 addresses";
    } else {
        const char *sep = strpbrk(text, "@#");
        const char *colon = strchr(text, ':');

        if (!sep && colon && !strchr(colon + 1, ':'))
            sep = colon; /* 192.0.2.1:53 */
        hlen = sep ? (size_t)(sep - text) : len;
        memcpy(host, text, hlen);
        host[hlen] = '\0';
        if (sep)
            port_s = sep + 1;
    }
    if (port_s && port_parse(port_s, &port) != 0)
        return "port must be a number 1..65535";
    if (port == 0)
        return "no port given";
    why = ip_parse(host, &out->ss, &out->len);
    if (why)
        return why;
    addr_set_port(&out->ss, port);
    memcpy(out->text, text, len + 1);
    return NULL;
}

int config_sockaddr_parse(const char *text, uint16_t default_port, struct config_sockaddr *out)
{
    if (!text || !out)
        return -1;
    return sockaddr_parse(text, default_port, out) ? -1 : 0;
}

/* ---- the YAML walker ----------------------------------------------------- */

struct parse {
    const char *name; /* file name for messages */
    yaml_document_t *doc;
    struct config *cfg;
    char *err;
    /* lines (1-based, 0 = default) kept for the cross-checks at the end */
    unsigned long resolver_listen_line[CONFIG_MAX_ADDRS];
    unsigned long proxy_listen_line[CONFIG_MAX_ADDRS];
    unsigned long upstream_line[CONFIG_MAX_ADDRS];
    unsigned long transports_line;
    unsigned long tls_auth_line;
    unsigned long per_client_line; /* proxy.max_connections_per_client given */
};

static unsigned long line_of(const yaml_node_t *node)
{
    return node ? (unsigned long)node->start_mark.line + 1 : 0;
}

static int fail_at(struct parse *p, unsigned long line, const char *key, const char *fmt, ...)
    LOG_PRINTF(4, 5);

static int fail_at(struct parse *p, unsigned long line, const char *key, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->err, CONFIG_ERR_LEN, "%s:%lu: %s: ", p->name, line, key);

    if (n < 0 || n >= CONFIG_ERR_LEN)
        return -1;
    va_start(ap, fmt);
    vsnprintf(p->err + n, CONFIG_ERR_LEN - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

#define fail(p, node, key, ...) fail_at((p), line_of(node), (key), __VA_ARGS__)

static int is_null(const yaml_node_t *node)
{
    const char *v;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    v = (const char *)node->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* What a node is, for "got ..." in messages. */
static const char *node_desc(const yaml_node_t *node, char *buf, size_t size)
{
    if (node->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (node->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (is_null(node))
        return "nothing";
    const char *v = (const char *)node->data.scalar.value;
    size_t len = strlen(v);
    if (len > 40)
        snprintf(buf, size, "\"%.40s...\"", v);
    else
        snprintf(buf, size, "\"%s\"", v);
    return buf;
}

/* The scalar's text, or NULL after an error "expected WHAT, got ...". */
static const char *scalar(struct parse *p, yaml_node_t *node, const char *key, const char *what)
{
    char buf[64];

    if (node->type != YAML_SCALAR_NODE || is_null(node)) {
        fail(p, node, key, "expected %s, got %s", what, node_desc(node, buf, sizeof buf));
        return NULL;
    }
    if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length) {
        fail(p, node, key, "expected %s, got a value with a NUL byte", what);
        return NULL;
    }
    return (const char *)node->data.scalar.value;
}

static int get_uint(struct parse *p, yaml_node_t *node, const char *key, const char *what,
                    unsigned long long min, unsigned long long max, unsigned long long *out)
{
    const char *v = scalar(p, node, key, what);
    char buf[64];
    unsigned long long n = 0;

    if (!v)
        return -1;
    if (!*v)
        return fail(p, node, key, "expected %s, got \"\"", what);
    for (const char *s = v; *s; s++) {
        if (*s < '0' || *s > '9' || n > (ULLONG_MAX - 9) / 10)
            return fail(p, node, key, "expected %s, got %s", what,
                        node_desc(node, buf, sizeof buf));
        n = n * 10 + (unsigned long long)(*s - '0');
    }
    if (n < min || n > max)
        return fail(p, node, key, "%llu is out of range (%llu..%llu)", n, min, max);
    *out = n;
    return 0;
}

/* Bytes: a number with an optional k/m/g suffix (powers of 1024; "32m", "512KiB"). */
static int get_size(struct parse *p, yaml_node_t *node, const char *key, unsigned long long min,
                    unsigned long long max, unsigned long long *out)
{
    static const char what[] = "a size in bytes (a number, or with a k/m/g suffix: \"32m\")";
    const char *v = scalar(p, node, key, what), *s;
    char buf[64];
    unsigned long long n = 0;
    int shift = 0;

    if (!v)
        return -1;
    for (s = v; *s >= '0' && *s <= '9'; s++) {
        if (n > (ULLONG_MAX - 9) / 10)
            goto bad;
        n = n * 10 + (unsigned long long)(*s - '0');
    }
    if (s == v)
        goto bad;
    switch (*s) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        s++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        s++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        s++;
        break;
    default:
        goto bad;
    }
    if (shift && *s && strcasecmp(s, "b") != 0 && strcasecmp(s, "ib") != 0)
        goto bad;
    if (n > (ULLONG_MAX >> shift))
        return fail(p, node, key, "%s is out of range", v);
    n <<= shift;
    if (n < min || n > max)
        return fail(p, node, key, "%s (%llu bytes) is out of range (%llu..%llu bytes)", v, n, min,
                    max);
    *out = n;
    return 0;
bad:
    return fail(p, node, key, "expected %s, got %s", what, node_desc(node, buf, sizeof buf));
}

static int bool_word(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "GETDNS_EXTENSION_TRUE"};
    static const char *const no[] = {"false", "no", "off", "0", "GETDNS_EXTENSION_FALSE"};

    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    return -1;
}

static int get_bool(struct parse *p, yaml_node_t *node, const char *key, int *out)
{
    static const char what[] = "true or false";
    const char *v = scalar(p, node, key, what);
    char buf[64];
    int b;

    if (!v)
        return -1;
    b = bool_word(v);
    if (b < 0)
        return fail(p, node, key, "expected %s, got %s", what, node_desc(node, buf, sizeof buf));
    *out = b;
    return 0;
}

static int get_path(struct parse *p, yaml_node_t *node, const char *key, char *out, size_t size)
{
    const char *v = scalar(p, node, key, "a file or directory path");

    if (!v)
        return -1;
    if (!*v)
        return fail(p, node, key, "expected a file or directory path, got \"\"");
    if (strlen(v) >= size)
        return fail(p, node, key, "path is too long (at most %zu characters)", size - 1);
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* The sequence node, or NULL after an error; checks the item count. */
static yaml_node_t *get_list(struct parse *p, yaml_node_t *node, const char *key, const char *what,
                             size_t max)
{
    char buf[64];
    size_t n;

    if (node->type != YAML_SEQUENCE_NODE) {
        fail(p, node, key, "expected a list of %s%s, got %s", what,
             is_null(node) ? " (write [] for an empty list)" : "",
             node_desc(node, buf, sizeof buf));
        return NULL;
    }
    n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n > max) {
        yaml_node_t *extra = yaml_document_get_node(p->doc, node->data.sequence.items.start[max]);
        fail(p, extra ? extra : node, key, "too many items (%zu, at most %zu)", n, max);
        return NULL;
    }
    return node;
}

#define LIST_FOREACH(p, seq, item)                                                                 \
    for (yaml_node_item_t *item##_i = (seq)->data.sequence.items.start;                            \
         item##_i < (seq)->data.sequence.items.top &&                                              \
         ((item) = yaml_document_get_node((p)->doc, *item##_i)) != NULL;                           \
         item##_i++)

/* ---- key tables ---------------------------------------------------------- */

typedef int (*key_fn)(struct parse *p, yaml_node_t *value, const char *key, void *obj);

struct key_def {
    const char *name;
    key_fn fn;
};

static int walk_mapping(struct parse *p, yaml_node_t *map, const char *prefix,
                        const struct key_def *defs, void *obj);

static int tolower_ascii(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Levenshtein distance, for "did you mean"; strings are short keys. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];

    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower_ascii(a[i - 1]) == tolower_ascii(b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* ---- resolver: keys -------------------------------------------------------- */

static int listen_list(struct parse *p, yaml_node_t *v, const char *key,
                       struct config_sockaddr *list, size_t *n, unsigned long *lines,
                       uint16_t default_port)
{
    yaml_node_t *seq = get_list(p, v, key, "addresses (\"addr@port\")", CONFIG_MAX_ADDRS), *item;
    size_t count = 0;

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        const char *s = scalar(p, item, key, "an address (\"addr@port\" or \"addr\")"), *why;
        struct config_sockaddr sa;

        if (!s)
            return -1;
        why = sockaddr_parse(s, default_port, &sa);
        if (why)
            return fail(p, item, key, "%s: \"%s\" (expected \"addr@port\" or \"addr\")", why, s);
        for (size_t i = 0; i < count; i++)
            if (list[i].len == sa.len && memcmp(&list[i].ss, &sa.ss, sa.len) == 0)
                return fail(p, item, key, "\"%s\" is listed twice", s);
        list[count] = sa;
        lines[count] = line_of(item);
        count++;
    }
    *n = count;
    return 0;
}

static int allow_list(struct parse *p, yaml_node_t *v, const char *key, struct addr_cidr *list,
                      size_t *n)
{
    yaml_node_t *seq = get_list(p, v, key, "networks (\"192.168.0.0/16\")", CONFIG_MAX_ADDRS),
                *item;
    size_t count = 0;

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        const char *s = scalar(p, item, key, "a network (\"addr/prefix\" or \"addr\")");
        int rc;

        if (!s)
            return -1;
        rc = addr_cidr_parse(s, &list[count]);
        if (rc < 0)
            return fail(p, item, key, "%s: \"%s\" (expected \"addr/prefix\" or \"addr\")",
                        addr_strerror(rc), s);
        count++;
    }
    *n = count;
    return 0;
}

static int r_listen(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    return listen_list(p, v, key, r->listen, &r->n_listen, p->resolver_listen_line,
                       CONFIG_DNS_PORT);
}

static int r_allow(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    return allow_list(p, v, key, r->allow, &r->n_allow);
}

/* An upstream mapping while it is read: keys may come in any order. */
struct upstream_parse {
    struct config_upstream *u;
    uint16_t port;
};

static int u_address(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_upstream *u = ((struct upstream_parse *)obj)->u;
    const char *s = scalar(p, v, key, "an IP address"), *why;

    if (!s)
        return -1;
    if (strlen(s) >= sizeof u->addr.text)
        return fail(p, v, key, "not an IP address: \"%s\"", s);
    why = ip_parse(s, &u->addr.ss, &u->addr.len);
    if (why)
        return fail(p, v, key,
                    "%s: \"%s\" (address_data takes a bare address; the port goes in "
                    "port:)",
                    why, s);
    memcpy(u->addr.text, s, strlen(s) + 1);
    return 0;
}

static int u_port(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    unsigned long long port;

    if (get_uint(p, v, key, "a port number", 1, 65535, &port) < 0)
        return -1;
    ((struct upstream_parse *)obj)->port = (uint16_t)port;
    return 0;
}

static int u_tls_port(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_upstream *u = ((struct upstream_parse *)obj)->u;
    unsigned long long port;

    if (get_uint(p, v, key, "a port number", 1, 65535, &port) < 0)
        return -1;
    u->tls_port = (uint16_t)port;
    return 0;
}

static int u_auth_name(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_upstream *u = ((struct upstream_parse *)obj)->u;
    const char *s = scalar(p, v, key, "a host name (the name in the upstream's certificate)");

    if (!s)
        return -1;
    if (!*s || strlen(s) >= sizeof u->tls_auth_name)
        return fail(p, v, key, "expected a host name of 1..%zu characters",
                    sizeof u->tls_auth_name - 1);
    for (const char *c = s; *c; c++)
        if (*c <= ' ' || *c == 0x7f)
            return fail(p, v, key,
                        "a host name cannot contain spaces or control characters: "
                        "\"%s\"",
                        s);
    memcpy(u->tls_auth_name, s, strlen(s) + 1);
    return 0;
}

static int ignore(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    log_debug("%s:%lu: %s: a Stubby setting daneguard does not use; ignored", p->name, line_of(v),
              key);
    return 0;
}

static int u_pinset(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    log_warnx("%s:%lu: %s: ignored; daneguard authenticates upstreams by tls_auth_name only",
              p->name, line_of(v), key);
    return 0;
}

static const struct key_def upstream_keys[] = {
    {"address_data", u_address},     {"port", u_port},
    {"tls_port", u_tls_port},        {"tls_auth_name", u_auth_name},
    {"tls_pubkey_pinset", u_pinset}, {"tls_cipher_list", ignore},
    {"tls_ciphersuites", ignore},    {"tls_min_version", ignore},
    {"tls_max_version", ignore},     {NULL, NULL},
};

static int r_upstreams(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    yaml_node_t *seq = get_list(p, v, key, "upstream servers (mappings with address_data)",
                                CONFIG_MAX_ADDRS),
                *item;
    size_t count = 0;
    char buf[64];

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        struct config_upstream *u = &r->upstreams[count];
        struct upstream_parse up = {u, CONFIG_DNS_PORT};

        if (item->type != YAML_MAPPING_NODE)
            return fail(p, item, key,
                        "expected a mapping with address_data (and port, tls_port, "
                        "tls_auth_name), got %s",
                        node_desc(item, buf, sizeof buf));
        memset(u, 0, sizeof *u);
        u->tls_port = 853;
        if (walk_mapping(p, item, key, upstream_keys, &up) < 0)
            return -1;
        if (!u->addr.len)
            return fail(p, item, key, "address_data is missing");
        addr_set_port(&u->addr.ss, up.port);
        for (size_t i = 0; i < count; i++)
            if (r->upstreams[i].addr.len == u->addr.len &&
                memcmp(&r->upstreams[i].addr.ss, &u->addr.ss, u->addr.len) == 0)
                return fail(p, item, key, "%s is listed twice", u->addr.text);
        p->upstream_line[count] = line_of(item);
        count++;
    }
    r->n_upstreams = count;
    return 0;
}

static int r_transports(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    static const struct {
        const char *name;
        enum config_transport t;
    } names[] = {
        {"UDP", CONFIG_TRANSPORT_UDP}, {"GETDNS_TRANSPORT_UDP", CONFIG_TRANSPORT_UDP},
        {"TCP", CONFIG_TRANSPORT_TCP}, {"GETDNS_TRANSPORT_TCP", CONFIG_TRANSPORT_TCP},
        {"TLS", CONFIG_TRANSPORT_TLS}, {"GETDNS_TRANSPORT_TLS", CONFIG_TRANSPORT_TLS},
    };
    struct config_resolver *r = obj;
    yaml_node_t *seq = get_list(p, v, key, "transports (UDP, TCP, TLS)", 3), *item;
    size_t count = 0;
    char buf[64];

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        const char *s = scalar(p, item, key, "UDP, TCP or TLS");
        size_t i;

        if (!s)
            return -1;
        for (i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcasecmp(s, names[i].name) == 0)
                break;
        if (i == sizeof names / sizeof names[0])
            return fail(p, item, key,
                        "expected UDP, TCP or TLS (or GETDNS_TRANSPORT_UDP/TCP/TLS), "
                        "got %s",
                        node_desc(item, buf, sizeof buf));
        for (size_t j = 0; j < count; j++)
            if (r->transports[j] == names[i].t)
                return fail(p, item, key, "%s is listed twice", s);
        r->transports[count++] = names[i].t;
    }
    if (count == 0)
        return fail(p, v, key, "at least one transport is needed (UDP, TCP or TLS)");
    r->n_transports = count;
    p->transports_line = line_of(v);
    return 0;
}

static int r_tls_auth(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    const char *s = scalar(p, v, key, "GETDNS_AUTHENTICATION_REQUIRED or _NONE");
    char buf[64];

    if (!s)
        return -1;
    if (strcasecmp(s, "GETDNS_AUTHENTICATION_REQUIRED") == 0 || strcasecmp(s, "required") == 0 ||
        strcasecmp(s, "GETDNS_AUTHENTICATION_HOSTNAME") == 0)
        r->tls_authentication_required = 1;
    else if (strcasecmp(s, "GETDNS_AUTHENTICATION_NONE") == 0 || strcasecmp(s, "none") == 0)
        r->tls_authentication_required = 0;
    else
        return fail(p, v, key,
                    "expected GETDNS_AUTHENTICATION_REQUIRED or "
                    "GETDNS_AUTHENTICATION_NONE (or required, none), got %s",
                    node_desc(v, buf, sizeof buf));
    p->tls_auth_line = line_of(v);
    return 0;
}

static int r_trust_anchors(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    yaml_node_t *seq, *item;
    size_t count = 0;

    if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
        if (get_path(p, v, key, r->trust_anchors[0], sizeof r->trust_anchors[0]) < 0)
            return -1;
        r->n_trust_anchors = 1;
        return 0;
    }
    if (is_null(v))
        return fail(p, v, key, "expected a file path or a list of file paths, got nothing");
    seq = get_list(p, v, key, "trust anchor files", CONFIG_MAX_ADDRS);
    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        if (get_path(p, item, key, r->trust_anchors[count], sizeof r->trust_anchors[count]) < 0)
            return -1;
        count++;
    }
    if (count == 0)
        return fail(p, v, key,
                    "at least one trust anchor file is needed (daneguard always "
                    "validates)");
    r->n_trust_anchors = count;
    return 0;
}

static int r_timeout(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    unsigned long long n;

    if (get_uint(p, v, key, "a positive integer (milliseconds)", 1, 3600000, &n) < 0)
        return -1;
    r->timeout_ms = (uint32_t)n;
    return 0;
}

static int r_idle_timeout(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    unsigned long long n;

    if (get_uint(p, v, key, "a non-negative integer (milliseconds)", 0, 3600000, &n) < 0)
        return -1;
    r->idle_timeout_ms = (uint32_t)n;
    return 0;
}

static int r_cache_size(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    unsigned long long n;

    if (get_size(p, v, key, 64 * 1024, SIZE_MAX / 2, &n) < 0)
        return -1;
    r->cache_size = (size_t)n;
    return 0;
}

static int r_bogus_ttl(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    unsigned long long n;

    if (get_uint(p, v, key, "a non-negative integer (seconds)", 0, 86400, &n) < 0)
        return -1;
    r->bogus_ttl_s = (uint32_t)n;
    return 0;
}

static int r_cache_max_ttl(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    unsigned long long n;

    /* RFC 2181 §8: a TTL is at most 2^31 - 1 */
    if (get_uint(p, v, key, "a non-negative integer (seconds)", 0, 2147483647, &n) < 0)
        return -1;
    r->cache_max_ttl_s = (uint32_t)n;
    return 0;
}

static int r_cache_max_negative_ttl(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    unsigned long long n;

    if (get_uint(p, v, key, "a non-negative integer (seconds)", 0, 2147483647, &n) < 0)
        return -1;
    r->cache_max_negative_ttl_s = (uint32_t)n;
    return 0;
}

static int r_resolv_conf(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    return get_path(p, v, key, r->resolv_conf, sizeof r->resolv_conf);
}

static int r_max_tcp_clients(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    unsigned long long n;

    if (get_uint(p, v, key, "a positive integer", 1, 1000000, &n) < 0)
        return -1;
    r->max_tcp_clients = (uint32_t)n;
    return 0;
}

static int r_max_waiting_queries(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    unsigned long long n;

    if (get_uint(p, v, key, "a positive integer", 1, 10000000, &n) < 0)
        return -1;
    r->max_waiting_queries = (uint32_t)n;
    return 0;
}

static int r_max_waiting_per_client(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    unsigned long long n;

    if (get_uint(p, v, key, "a positive integer", 1, 10000000, &n) < 0)
        return -1;
    r->max_waiting_per_client = (uint32_t)n;
    return 0;
}

static int r_resolution_type(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    const char *s = scalar(p, v, key, "GETDNS_RESOLUTION_STUB");

    if (!s)
        return -1;
    if (strcasecmp(s, "GETDNS_RESOLUTION_STUB") != 0 && strcasecmp(s, "stub") != 0)
        return fail(p, v, key,
                    "daneguard is a stub resolver: only GETDNS_RESOLUTION_STUB is "
                    "possible, got \"%s\"",
                    s);
    return 0;
}

static int r_dnssec(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    const char *s = scalar(p, v, key, "GETDNS_EXTENSION_TRUE");

    if (!s)
        return -1;
    if (bool_word(s) != 1)
        return fail(p, v, key,
                    "daneguard always validates DNSSEC: only GETDNS_EXTENSION_TRUE "
                    "(or true) is possible, got \"%s\"",
                    s);
    return 0;
}

static int ignore_scalar(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    char buf[64];

    if (v->type != YAML_SCALAR_NODE)
        return fail(p, v, key, "expected a single value, got %s", node_desc(v, buf, sizeof buf));
    return ignore(p, v, key, obj);
}

static const struct key_def resolver_keys[] = {
    {"listen_addresses", r_listen},
    {"upstream_recursive_servers", r_upstreams},
    {"dns_transport_list", r_transports},
    {"tls_authentication", r_tls_auth},
    {"dnssec_trust_anchors", r_trust_anchors},
    {"timeout", r_timeout},
    {"idle_timeout", r_idle_timeout},
    {"allow", r_allow},
    {"cache_size", r_cache_size},
    {"bogus_ttl", r_bogus_ttl},
    {"cache_max_ttl", r_cache_max_ttl},
    {"cache_max_negative_ttl", r_cache_max_negative_ttl},
    {"resolv_conf", r_resolv_conf},
    {"max_tcp_clients", r_max_tcp_clients},
    {"max_waiting_queries", r_max_waiting_queries},
    {"max_waiting_per_client", r_max_waiting_per_client},
    /* Stubby's keys that do not apply here: accepted so a stubby.yml carries over */
    {"resolution_type", r_resolution_type},
    {"dnssec", r_dnssec},
    {"dnssec_return_status", r_dnssec},
    {"round_robin_upstreams", ignore_scalar},
    {"tls_query_padding_blocksize", ignore_scalar},
    {"edns_client_subnet_private", ignore_scalar},
    {"appdata_dir", ignore_scalar},
    {"tls_min_version", ignore_scalar},
    {"tls_max_version", ignore_scalar},
    {"tls_cipher_list", ignore_scalar},
    {"tls_ciphersuites", ignore_scalar},
    {"tls_connection_retries", ignore_scalar},
    {"tls_backoff_time", ignore_scalar},
    {"limit_outstanding_queries", ignore_scalar},
    {"trust_anchors_backoff_time", ignore_scalar},
    {"log_level", ignore_scalar},
    {NULL, NULL},
};

/* ---- proxy: keys ----------------------------------------------------------- */

static int x_enabled(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return get_bool(p, v, key, &px->enabled);
}

static int x_listen(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return listen_list(p, v, key, px->listen, &px->n_listen, p->proxy_listen_line,
                       CONFIG_PROXY_PORT);
}

static int x_allow(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return allow_list(p, v, key, px->allow, &px->n_allow);
}

static int x_intercept(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    const char *s = scalar(p, v, key, "dane or all");
    char buf[64];

    if (!s)
        return -1;
    if (strcasecmp(s, "dane") == 0)
        px->intercept = CONFIG_INTERCEPT_DANE;
    else if (strcasecmp(s, "all") == 0)
        px->intercept = CONFIG_INTERCEPT_ALL;
    else
        return fail(p, v, key, "expected dane or all, got %s", node_desc(v, buf, sizeof buf));
    return 0;
}

static int x_ca_dir(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return get_path(p, v, key, px->ca_dir, sizeof px->ca_dir);
}

static int x_trust_store(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return get_path(p, v, key, px->trust_store, sizeof px->trust_store);
}

static int x_ports(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    yaml_node_t *seq = get_list(p, v, key, "port numbers", CONFIG_MAX_PORTS), *item;
    size_t count = 0;

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        unsigned long long port;
        if (get_uint(p, item, key, "a port number", 1, 65535, &port) < 0)
            return -1;
        px->allowed_ports[count++] = (uint16_t)port;
    }
    px->n_allowed_ports = count;
    return 0;
}

static int x_uint(struct parse *p, yaml_node_t *v, const char *key, uint32_t *out, const char *what,
                  unsigned long long min, unsigned long long max)
{
    unsigned long long n;

    if (get_uint(p, v, key, what, min, max, &n) < 0)
        return -1;
    *out = (uint32_t)n;
    return 0;
}

static int x_max_connections(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return x_uint(p, v, key, &px->max_connections, "a positive integer", 1, 1000000);
}

static int x_buffer_size(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    unsigned long long n;

    if (get_size(p, v, key, 1024, 16 << 20, &n) < 0)
        return -1;
    px->buffer_size = (uint32_t)n;
    return 0;
}

static int x_handshake_timeout(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return x_uint(p, v, key, &px->handshake_timeout_ms, "a positive integer (milliseconds)", 1,
                  3600000);
}

static int x_idle_timeout(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return x_uint(p, v, key, &px->idle_timeout_ms, "a positive integer (milliseconds)", 1,
                  86400000);
}

static int x_cert_cache(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return x_uint(p, v, key, &px->cert_cache_entries, "a positive integer", 1, 1000000);
}

static int x_allow_destinations(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return allow_list(p, v, key, px->allow_destinations, &px->n_allow_destinations);
}

/* "80" or "1024-65535" */
static int x_http_ports(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    yaml_node_t *seq = get_list(p, v, key, "port numbers or ranges (\"1024-65535\")",
                                CONFIG_MAX_PORTS),
                *item;
    size_t count = 0;

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        const char *s = scalar(p, item, key, "a port number or a range (\"1024-65535\")");
        char lo_s[8], buf[64];
        const char *dash;
        uint16_t lo, hi;

        if (!s)
            return -1;
        dash = strchr(s, '-');
        if (!dash) {
            if (port_parse(s, &lo) != 0)
                return fail(p, item, key, "expected a port number 1..65535 or a range, got %s",
                            node_desc(item, buf, sizeof buf));
            hi = lo;
        } else {
            if ((size_t)(dash - s) >= sizeof lo_s)
                return fail(p, item, key, "expected a range like \"1024-65535\", got %s",
                            node_desc(item, buf, sizeof buf));
            memcpy(lo_s, s, (size_t)(dash - s));
            lo_s[dash - s] = '\0';
            if (port_parse(lo_s, &lo) != 0 || port_parse(dash + 1, &hi) != 0)
                return fail(p, item, key, "expected a range like \"1024-65535\", got %s",
                            node_desc(item, buf, sizeof buf));
            if (lo > hi)
                return fail(p, item, key, "range %u-%u is backwards", lo, hi);
        }
        px->http_ports[count++] = (struct config_port_range){lo, hi};
    }
    px->n_http_ports = count;
    return 0;
}

static int x_per_client(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    p->per_client_line = line_of(v);
    return x_uint(p, v, key, &px->max_connections_per_client, "a positive integer", 1, 1000000);
}

static int x_lookups_per_client(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    return x_uint(p, v, key, &px->max_lookups_per_client, "a positive integer", 1, 1000000);
}

static const struct key_def proxy_keys[] = {
    {"enabled", x_enabled},
    {"listen_addresses", x_listen},
    {"allow", x_allow},
    {"intercept", x_intercept},
    {"ca_dir", x_ca_dir},
    {"trust_store", x_trust_store},
    {"allowed_ports", x_ports},
    {"max_connections", x_max_connections},
    {"buffer_size", x_buffer_size},
    {"handshake_timeout", x_handshake_timeout},
    {"idle_timeout", x_idle_timeout},
    {"cert_cache_entries", x_cert_cache},
    {"allow_destinations", x_allow_destinations},
    {"http_ports", x_http_ports},
    {"max_connections_per_client", x_per_client},
    {"max_lookups_per_client", x_lookups_per_client},
    {NULL, NULL},
};

/* ---- top level ---------------------------------------------------------------- */

static int t_user(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config *cfg = obj;
    const char *s;

    if (is_null(v)) {
        cfg->user[0] = '\0';
        return 0;
    }
    s = scalar(p, v, key, "a user name");
    if (!s)
        return -1;
    if (strlen(s) >= sizeof cfg->user)
        return fail(p, v, key, "user name is too long (at most %zu characters)",
                    sizeof cfg->user - 1);
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || (*c == '-' && c != s)))
            return fail(p, v, key, "not a user name: \"%s\"", s);
    memcpy(cfg->user, s, strlen(s) + 1);
    return 0;
}

static int section(struct parse *p, yaml_node_t *v, const char *key, const struct key_def *defs,
                   void *obj)
{
    char buf[64];

    if (is_null(v)) /* "proxy:" with every key commented out */
        return 0;
    if (v->type != YAML_MAPPING_NODE)
        return fail(p, v, key, "expected a mapping of %s settings, got %s", key,
                    node_desc(v, buf, sizeof buf));
    return walk_mapping(p, v, key, defs, obj);
}

static int t_resolver(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config *cfg = obj;
    return section(p, v, key, resolver_keys, &cfg->resolver);
}

static int t_proxy(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config *cfg = obj;
    return section(p, v, key, proxy_keys, &cfg->proxy);
}

static const struct key_def top_keys[] = {
    {"user", t_user},
    {"resolver", t_resolver},
    {"proxy", t_proxy},
    {NULL, NULL},
};

static const struct key_def *find_key(const struct key_def *defs, const char *name)
{
    for (; defs->name; defs++)
        if (strcmp(defs->name, name) == 0)
            return defs;
    return NULL;
}

static int unknown_key(struct parse *p, yaml_node_t *knode, const char *full,
                       const struct key_def *defs)
{
    const char *name = (const char *)knode->data.scalar.value, *best = NULL;
    size_t best_d = SIZE_MAX, limit = strlen(name) / 3 < 2 ? 2 : strlen(name) / 3;
    int in_resolver, in_proxy;

    for (const struct key_def *d = defs; d->name; d++) {
        size_t dist = edit_distance(name, d->name);
        if (dist < best_d) {
            best_d = dist;
            best = d->name;
        }
    }
    if (best && best_d <= limit)
        return fail(p, knode, full, "unknown key; did you mean \"%s\"?", best);
    if (defs == top_keys) {
        in_resolver = find_key(resolver_keys, name) != NULL;
        in_proxy = find_key(proxy_keys, name) != NULL;
        if (in_resolver && in_proxy)
            return fail(p, knode, full,
                        "unknown key at the top level; it belongs under "
                        "resolver: or proxy:");
        if (in_resolver || in_proxy)
            return fail(p, knode, full, "unknown key at the top level; it belongs under %s:",
                        in_resolver ? "resolver" : "proxy");
    }
    return fail(p, knode, full, "unknown key");
}

static int walk_mapping(struct parse *p, yaml_node_t *map, const char *prefix,
                        const struct key_def *defs, void *obj)
{
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
        const struct key_def *def;
        const char *name;
        char full[160];

        if (!k || !v)
            return fail(p, map, prefix[0] ? prefix : "(top level)", "malformed mapping");
        if (k->type != YAML_SCALAR_NODE ||
            strlen((const char *)k->data.scalar.value) != k->data.scalar.length)
            return fail(p, k, prefix[0] ? prefix : "(top level)",
                        "a key must be a plain name, not %s",
                        k->type == YAML_SEQUENCE_NODE  ? "a list"
                        : k->type == YAML_MAPPING_NODE ? "a mapping"
                                                       : "a value with a NUL byte");
        name = (const char *)k->data.scalar.value;
        snprintf(full, sizeof full, "%s%s%.100s", prefix, prefix[0] ? "." : "", name);
        for (yaml_node_pair_t *prev = map->data.mapping.pairs.start; prev < pair; prev++) {
            yaml_node_t *pk = yaml_document_get_node(p->doc, prev->key);
            if (pk && pk->type == YAML_SCALAR_NODE &&
                strcmp((const char *)pk->data.scalar.value, name) == 0)
                return fail(p, k, full, "duplicate key (first given on line %lu)", line_of(pk));
        }
        def = find_key(defs, name);
        if (!def)
            return unknown_key(p, k, full, defs);
        if (def->fn(p, v, full, obj) < 0)
            return -1;
    }
    return 0;
}

/* ---- cross-checks ------------------------------------------------------------ */

static int sa_is_any(const struct sockaddr_storage *ss)
{
    static const uint8_t zero[16];
    size_t len;
    const uint8_t *a = addr_bytes((const struct sockaddr *)ss, &len);
    return a && memcmp(a, zero, len) == 0;
}

static int sa_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    size_t la, lb;
    const uint8_t *aa = addr_bytes((const struct sockaddr *)a, &la),
                  *ba = addr_bytes((const struct sockaddr *)b, &lb);
    return aa && ba && la == lb && memcmp(aa, ba, la) == 0;
}

/* Loopback as the kernel routes it: 127/8, ::1 and v4-mapped 127/8 (not the
 * embedded forms addr_kind_of() also calls loopback, which no socket reaches). */
static int sa_is_loopback(const struct sockaddr_storage *ss)
{
    static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    size_t len;
    const uint8_t *a = addr_bytes((const struct sockaddr *)ss, &len);
    if (!a)
        return 0;
    if (len == 4)
        return a[0] == 127;
    return memcmp(a, v6_loopback, 16) == 0 || (memcmp(a, v4mapped_prefix, 12) == 0 && a[12] == 127);
}

/* Whether a socket bound to listen would receive what is sent to dest. */
static int sa_reaches(const struct sockaddr_storage *listen, const struct sockaddr_storage *dest)
{
    if (addr_port((const struct sockaddr *)listen) != addr_port((const struct sockaddr *)dest))
        return 0;
    if (sa_same_addr(listen, dest))
        return 1;
    if (!sa_is_any(listen))
        return 0;
    /* a wildcard listener gets what is sent to loopback, and v6 any gets v4 too */
    if (listen->ss_family == AF_INET6 || listen->ss_family == dest->ss_family)
        return sa_is_loopback(dest);
    return 0;
}

static int cross_check(struct parse *p)
{
    const struct config_resolver *r = &p->cfg->resolver;
    const struct config_proxy *px = &p->cfg->proxy;
    int tls = 0;

    for (size_t i = 0; i < r->n_upstreams; i++)
        for (size_t j = 0; j < r->n_listen; j++) {
            struct sockaddr_storage dst = r->upstreams[i].addr.ss;
            int hits = sa_reaches(&r->listen[j].ss, &dst);
            if (!hits) { /* the same server over TLS */
                addr_set_port(&dst, r->upstreams[i].tls_port);
                hits = sa_reaches(&r->listen[j].ss, &dst);
            }
            if (hits)
                return fail_at(p, p->upstream_line[i], "resolver.upstream_recursive_servers",
                               "%s is daneguard's own listener %s; it would query itself",
                               r->upstreams[i].addr.text, r->listen[j].text);
        }

    if (px->enabled)
        for (size_t i = 0; i < px->n_listen; i++)
            for (size_t j = 0; j < r->n_listen; j++)
                if (r->listen[j].len == px->listen[i].len &&
                    memcmp(&r->listen[j].ss, &px->listen[i].ss, px->listen[i].len) == 0) {
                    if (p->proxy_listen_line[i])
                        return fail_at(p, p->proxy_listen_line[i], "proxy.listen_addresses",
                                       "%s is also a resolver listen address", px->listen[i].text);
                    return fail_at(p, p->resolver_listen_line[j], "resolver.listen_addresses",
                                   "%s is also the proxy's listen address", r->listen[j].text);
                }

    for (size_t i = 0; i < r->n_transports; i++)
        tls |= r->transports[i] == CONFIG_TRANSPORT_TLS;
    if (tls && r->tls_authentication_required) {
        if (r->n_upstreams == 0)
            return fail_at(p, p->transports_line ? p->transports_line : p->tls_auth_line,
                           p->transports_line ? "resolver.dns_transport_list"
                                              : "resolver.tls_authentication",
                           "TLS with GETDNS_AUTHENTICATION_REQUIRED needs "
                           "upstream_recursive_servers with tls_auth_name (servers from "
                           "resolv_conf have no name to authenticate)");
        for (size_t i = 0; i < r->n_upstreams; i++)
            if (!r->upstreams[i].tls_auth_name[0])
                return fail_at(p, p->upstream_line[i], "resolver.upstream_recursive_servers",
                               "%s has no tls_auth_name, which TLS with "
                               "GETDNS_AUTHENTICATION_REQUIRED needs",
                               r->upstreams[i].addr.text);
    }
    return 0;
}

/* ---- loading -------------------------------------------------------------------- */

static int syntax_error(struct parse *p, const yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "malformed YAML";

    if (parser->error == YAML_READER_ERROR)
        return fail_at(p, (unsigned long)parser->problem_mark.line + 1, "syntax error",
                       "%s (at byte %zu)", problem, parser->problem_offset);
    if (strcmp(problem, "mapping values are not allowed in this context") == 0)
        return fail_at(p, (unsigned long)parser->problem_mark.line + 1, "syntax error",
                       "%s (a missing ':' after a key on the line before, or a value "
                       "containing \": \" that needs quotes?)",
                       problem);
    if (parser->context)
        return fail_at(p, (unsigned long)parser->problem_mark.line + 1, "syntax error",
                       "%s %s (started on line %lu)", problem, parser->context,
                       (unsigned long)parser->context_mark.line + 1);
    return fail_at(p, (unsigned long)parser->problem_mark.line + 1, "syntax error", "%s", problem);
}

static int load(struct parse *p, yaml_parser_t *parser)
{
    yaml_document_t doc, extra;
    yaml_node_t *root;
    char buf[64];
    int rc = -1;

    if (!yaml_parser_load(parser, &doc))
        return syntax_error(p, parser);
    p->doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root) {
        if (is_null(root)) {
            rc = 0;
        } else if (root->type != YAML_MAPPING_NODE) {
            rc = fail(p, root, "(top level)",
                      "expected a mapping of keys (user, resolver, "
                      "proxy), got %s",
                      node_desc(root, buf, sizeof buf));
            goto out;
        } else if (walk_mapping(p, root, "", top_keys, p->cfg) < 0) {
            goto out;
        }
        /* one document per file: a second one would be silently ignored */
        if (!yaml_parser_load(parser, &extra)) {
            rc = syntax_error(p, parser);
            goto out;
        }
        root = yaml_document_get_root_node(&extra);
        if (root) {
            rc = fail(p, root, "(top level)", "a second YAML document; put everything in one");
            yaml_document_delete(&extra);
            goto out;
        }
        yaml_document_delete(&extra);
    }
    /* unless given, a quarter of max_connections as it was given */
    if (!p->per_client_line) {
        struct config_proxy *px = &p->cfg->proxy;
        px->max_connections_per_client = px->max_connections / 4 ? px->max_connections / 4 : 1;
    }
    rc = cross_check(p);
out:
    yaml_document_delete(&doc);
    p->doc = NULL;
    return rc;
}

/* Parse from an initialised parser into a fresh copy, copied out only when whole. */
static int load_into(const char *name, yaml_parser_t *parser, struct config *cfg, char *err)
{
    struct parse p;
    struct config *tmp = malloc(sizeof *tmp);
    int rc;

    memset(&p, 0, sizeof p);
    p.name = name;
    p.err = err;
    if (!tmp) {
        snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", name);
        return -1;
    }
    config_defaults(tmp);
    if (strlen(name) >= sizeof tmp->path) {
        snprintf(err, CONFIG_ERR_LEN, "%s: file name is too long", name);
        free(tmp);
        return -1;
    }
    memcpy(tmp->path, name, strlen(name) + 1);
    p.cfg = tmp;
    rc = load(&p, parser);
    if (rc == 0)
        *cfg = *tmp;
    free(tmp);
    return rc;
}

int config_load(const char *path, struct config *cfg, char err[CONFIG_ERR_LEN])
{
    char scratch[CONFIG_ERR_LEN];
    yaml_parser_t parser;
    FILE *f;
    int rc;

    if (!err)
        err = scratch;
    err[0] = '\0';
    f = fopen(path, "rb");
    if (!f) {
        snprintf(err, CONFIG_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, CONFIG_ERR_LEN, "%s: not a configuration file but a %s (give -c FILE)",
                 path, S_ISDIR(st.st_mode) ? "directory" : "special file");
        fclose(f);
        return -1;
    }
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", path);
        fclose(f);
        return -1;
    }
    yaml_parser_set_input_file(&parser, f);
    rc = load_into(path, &parser, cfg, err);
    if (rc == 0 && ferror(f)) {
        snprintf(err, CONFIG_ERR_LEN, "%s: read error", path);
        rc = -1;
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

int config_load_string(const char *name, const char *yaml, struct config *cfg,
                       char err[CONFIG_ERR_LEN])
{
    char scratch[CONFIG_ERR_LEN];
    yaml_parser_t parser;
    int rc;

    if (!err)
        err = scratch;
    err[0] = '\0';
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, CONFIG_ERR_LEN, "%s: out of memory", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    rc = load_into(name, &parser, cfg, err);
    yaml_parser_delete(&parser);
    return rc;
}
