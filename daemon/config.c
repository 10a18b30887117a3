/* daemon/config.c — reading daneguard.yml (libyaml) into a struct config.
 *
 * The file is loaded whole as a YAML document, walked against a fixed schema
 * (one key table per mapping), and cross-checked; only then is the result
 * copied out, so a caller reloading on SIGHUP keeps its old configuration when
 * the new file is bad. Every error is one line, "FILE:LINE: KEY: what is
 * wrong", with LINE 1-based from libyaml's marks.
 *
 * Keys are data, as in Unbound's util/config_file.c: each table row below
 * names a key once, with its kind (milliseconds, a size, a flag, a path, one
 * of some words, a list of addresses...), the field it fills (offsetof into
 * the section's struct), its range and its default. The kind decides how the
 * value is read and what an error says (daemon/keys.c); only keys with
 * structure of their own (upstream servers, transports, trust anchors, port
 * lists, the user) have a function here. config_defaults() applies the
 * table's defaults, then the default lists.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include <mbedtls/base64.h>

#include "addr.h"
#include "keys.h"
#include "log.h"

#define CONFIG_DNS_PORT 53
#define CONFIG_PROXY_PORT 8080

int config_sockaddr_parse(const char *text, uint16_t default_port, struct config_sockaddr *out)
{
    if (!text || !out)
        return -1;
    return keys_endpoint_parse(text, default_port, out) < 0 ? -1 : 0;
}

/* ---- keys with structure ------------------------------------------------------ */

/* An upstream mapping while it is read: keys may come in any order. */
struct upstream_parse {
    struct config_upstream u;
    uint16_t port;
};

static int u_address(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_upstream *u = &((struct upstream_parse *)obj)->u;
    const char *s = keys_scalar(p, v, key, "an IP address");
    int rc;

    if (!s)
        return -1;
    if (strlen(s) >= sizeof u->addr.text)
        return keys_fail(p, v, key, "not an IP address: \"%s\"", s);
    rc = addr_parse_scoped(s, 0, &u->addr.ss, &u->addr.len);
    if (rc < 0)
        return keys_fail(p, v, key,
                         "%s: \"%s\" (address_data takes a bare address; the port goes in "
                         "port:)",
                         addr_strerror(rc), s);
    memcpy(u->addr.text, s, strlen(s) + 1);
    return 0;
}

static int u_auth_name(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_upstream *u = &((struct upstream_parse *)obj)->u;
    const char *s = keys_scalar(p, v, key, "a host name (the name in the upstream's certificate)");

    if (!s)
        return -1;
    if (!*s || strlen(s) >= sizeof u->tls_auth_name)
        return keys_fail(p, v, key, "expected a host name of 1..%zu characters",
                         sizeof u->tls_auth_name - 1);
    for (const char *c = s; *c; c++)
        if (*c <= ' ' || *c == 0x7f)
            return keys_fail(p, v, key,
                             "a host name cannot contain spaces or control characters: "
                             "\"%s\"",
                             s);
    memcpy(u->tls_auth_name, s, strlen(s) + 1);
    return 0;
}

/* One tls_pubkey_pinset item while it is read: {digest: sha256, value: BASE64}. */
struct pin_parse {
    int digest_ok;
    int has_value;
    uint8_t pin[32];
};

static int pin_digest(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    const char *s = keys_scalar(p, v, key, "sha256");
    if (!s)
        return -1;
    if (strcasecmp(s, "sha256") != 0)
        return keys_fail(p, v, key, "only sha256 pins are supported, not \"%s\"", s);
    ((struct pin_parse *)obj)->digest_ok = 1;
    return 0;
}

static int pin_value(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct pin_parse *pp = obj;
    const char *s = keys_scalar(p, v, key, "a base64 SHA-256 of a SubjectPublicKeyInfo");
    size_t n = 0;
    uint8_t buf[64];

    if (!s)
        return -1;
    if (mbedtls_base64_decode(buf, sizeof buf, &n, (const unsigned char *)s, strlen(s)) != 0 ||
        n != sizeof pp->pin)
        return keys_fail(p, v, key,
                         "expected the base64 of a 32-byte SHA-256 (44 characters), got \"%s\"",
                         s);
    memcpy(pp->pin, buf, sizeof pp->pin);
    pp->has_value = 1;
    return 0;
}

/* clang-format off */
static const struct key_def pin_keys[] = {
    K_FUNC("digest", pin_digest),
    K_FUNC("value", pin_value),
    K_END,
};
/* clang-format on */

static int u_pinset(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_upstream *u = &((struct upstream_parse *)obj)->u;
    yaml_node_t *seq = keys_list(p, v, key, "pins (mappings with digest and value)",
                                 CONFIG_MAX_PINS),
                *item;

    if (!seq)
        return -1;
    u->n_pins = 0;
    KEYS_FOREACH(p, seq, item)
    {
        struct pin_parse pp = {0};
        if (item->type != YAML_MAPPING_NODE)
            return keys_expected(p, item, key, "a mapping with digest: sha256 and value");
        if (keys_walk(p, item, key, pin_keys, &pp) < 0)
            return -1;
        if (!pp.has_value)
            return keys_fail(p, item, key, "value is missing");
        if (!pp.digest_ok)
            return keys_fail(p, item, key, "digest is missing (sha256)");
        memcpy(u->pins[u->n_pins++], pp.pin, sizeof pp.pin);
    }
    return 0;
}

/* clang-format off */
#define KEYS_OF struct upstream_parse
static const struct key_def upstream_keys[] = {
    K_FUNC("address_data", u_address),
    K_PORT("port", port, CONFIG_DNS_PORT),
    K_PORT("tls_port", u.tls_port, 853),
    K_FUNC("tls_auth_name", u_auth_name),
    K_FUNC("tls_pubkey_pinset", u_pinset),
    K_IGNORED("tls_cipher_list"),
    K_IGNORED("tls_ciphersuites"),
    K_IGNORED("tls_min_version"),
    K_IGNORED("tls_max_version"),
    K_END,
};
#undef KEYS_OF
/* clang-format on */

static int r_upstreams(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    yaml_node_t *seq = keys_list(p, v, key, "upstream servers (mappings with address_data)",
                                 CONFIG_MAX_ADDRS),
                *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        struct upstream_parse up;

        if (item->type != YAML_MAPPING_NODE)
            return keys_expected(p, item, key,
                                 "a mapping with address_data (and port, tls_port, "
                                 "tls_auth_name)");
        memset(&up, 0, sizeof up);
        keys_defaults(upstream_keys, &up);
        if (keys_walk(p, item, key, upstream_keys, &up) < 0)
            return -1;
        if (!up.u.addr.len)
            return keys_fail(p, item, key, "address_data is missing");
        addr_set_port(&up.u.addr.ss, up.port);
        for (size_t i = 0; i < count; i++)
            if (r->upstreams[i].addr.len == up.u.addr.len &&
                memcmp(&r->upstreams[i].addr.ss, &up.u.addr.ss, up.u.addr.len) == 0)
                return keys_fail(p, item, key, "%s is listed twice", up.u.addr.text);
        r->upstreams[count++] = up.u;
    }
    r->n_upstreams = count;
    return 0;
}

static int r_transports(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
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
    yaml_node_t *seq = keys_list(p, v, key, "transports (UDP, TCP, TLS)", 3), *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        const char *s = keys_scalar(p, item, key, "UDP, TCP or TLS");
        size_t i;

        if (!s)
            return -1;
        for (i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcasecmp(s, names[i].name) == 0)
                break;
        if (i == sizeof names / sizeof names[0])
            return keys_expected(p, item, key, "UDP, TCP or TLS (or GETDNS_TRANSPORT_UDP/TCP/TLS)");
        for (size_t j = 0; j < count; j++)
            if (r->transports[j] == names[i].t)
                return keys_fail(p, item, key, "%s is listed twice", s);
        r->transports[count++] = names[i].t;
    }
    if (count == 0)
        return keys_fail(p, v, key, "at least one transport is needed (UDP, TCP or TLS)");
    r->n_transports = count;
    return 0;
}

static int r_trust_anchors(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    yaml_node_t *seq, *item;
    size_t count = 0;

    if (v->type == YAML_SCALAR_NODE && !keys_is_null(v)) {
        if (keys_path(p, v, key, r->trust_anchors[0], sizeof r->trust_anchors[0]) < 0)
            return -1;
        r->n_trust_anchors = 1;
        return 0;
    }
    if (keys_is_null(v))
        return keys_fail(p, v, key, "expected a file path or a list of file paths, got nothing");
    seq = keys_list(p, v, key, "trust anchor files", CONFIG_MAX_ADDRS);
    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        if (keys_path(p, item, key, r->trust_anchors[count], sizeof r->trust_anchors[count]) < 0)
            return -1;
        count++;
    }
    if (count == 0)
        return keys_fail(p, v, key,
                         "at least one trust anchor file is needed (daneguard always "
                         "validates)");
    r->n_trust_anchors = count;
    return 0;
}

/* Stubby's resolution_type: daneguard is a stub, nothing else can be chosen. */
static int r_resolution_type(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    const char *s = keys_scalar(p, v, key, "GETDNS_RESOLUTION_STUB");

    if (!s)
        return -1;
    if (strcasecmp(s, "GETDNS_RESOLUTION_STUB") != 0 && strcasecmp(s, "stub") != 0)
        return keys_fail(p, v, key,
                         "daneguard is a stub resolver: only GETDNS_RESOLUTION_STUB is "
                         "possible, got \"%s\"",
                         s);
    return 0;
}

/* Stubby's dnssec and dnssec_return_status: validation cannot be turned off. */
static int r_dnssec(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    const char *s = keys_scalar(p, v, key, "GETDNS_EXTENSION_TRUE");

    if (!s)
        return -1;
    if (keys_bool_word(s) != 1)
        return keys_fail(p, v, key,
                         "daneguard always validates DNSSEC: only GETDNS_EXTENSION_TRUE "
                         "(or true) is possible, got \"%s\"",
                         s);
    return 0;
}

static int x_allowed_ports(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    static const struct key_def port = {.kind = KIND_PORT, .min = 1, .max = 65535};
    struct config_proxy *px = obj;
    yaml_node_t *seq = keys_list(p, v, key, "port numbers", CONFIG_MAX_PORTS), *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        unsigned long long n;
        if (keys_number(p, item, key, &port, &n) < 0)
            return -1;
        px->allowed_ports[count++] = (uint16_t)n;
    }
    px->n_allowed_ports = count;
    return 0;
}

/* "80" or "1024-65535" */
static int x_http_ports(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    yaml_node_t *seq = keys_list(p, v, key, "port numbers or ranges (\"1024-65535\")",
                                 CONFIG_MAX_PORTS),
                *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        const char *s = keys_scalar(p, item, key, "a port number or a range (\"1024-65535\")");
        const char *dash;
        char lo_s[8];
        uint16_t lo, hi;

        if (!s)
            return -1;
        dash = strchr(s, '-');
        if (!dash) {
            if (addr_port_parse(s, &lo) != 0)
                return keys_expected(p, item, key, "a port number 1..65535 or a range");
            hi = lo;
        } else {
            if ((size_t)(dash - s) >= sizeof lo_s)
                return keys_expected(p, item, key, "a range like \"1024-65535\"");
            memcpy(lo_s, s, (size_t)(dash - s));
            lo_s[dash - s] = '\0';
            if (addr_port_parse(lo_s, &lo) != 0 || addr_port_parse(dash + 1, &hi) != 0)
                return keys_expected(p, item, key, "a range like \"1024-65535\"");
            if (lo > hi)
                return keys_fail(p, item, key, "range %u-%u is backwards", lo, hi);
        }
        px->http_ports[count++] = (struct config_port_range){lo, hi};
    }
    px->n_http_ports = count;
    return 0;
}

static int t_user(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config *cfg = obj;
    const char *s;

    if (keys_is_null(v)) {
        cfg->user[0] = '\0';
        return 0;
    }
    if (!(s = keys_scalar(p, v, key, "a user name")))
        return -1;
    if (strlen(s) >= sizeof cfg->user)
        return keys_fail(p, v, key, "user name is too long (at most %zu characters)",
                         sizeof cfg->user - 1);
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || (*c == '-' && c != s)))
            return keys_fail(p, v, key, "not a user name: \"%s\"", s);
    memcpy(cfg->user, s, strlen(s) + 1);
    return 0;
}

/* ---- the keys ------------------------------------------------------------------- */

static const struct key_choices tls_authentication = {
    "GETDNS_AUTHENTICATION_REQUIRED or GETDNS_AUTHENTICATION_NONE (or required, none)",
    {{"GETDNS_AUTHENTICATION_REQUIRED", 1},
     {"required", 1},
     {"GETDNS_AUTHENTICATION_HOSTNAME", 1},
     {"GETDNS_AUTHENTICATION_NONE", 0},
     {"none", 0},
     {NULL, 0}},
};

static const struct key_choices intercept = {
    "dane or all",
    {{"dane", CONFIG_INTERCEPT_DANE}, {"all", CONFIG_INTERCEPT_ALL}, {NULL, 0}},
};

/* clang-format off */
#define KEYS_OF struct config_resolver
static const struct key_def resolver_keys[] = {
    K_ENDPOINTS("listen_addresses", listen, n_listen, CONFIG_DNS_PORT),
    K_FUNC("upstream_recursive_servers", r_upstreams),
    K_FUNC("dns_transport_list", r_transports),
    K_CHOICE("tls_authentication", tls_authentication_required, &tls_authentication, 0),
    K_FUNC("dnssec_trust_anchors", r_trust_anchors),
    K_MSECS("timeout", timeout_ms, 1, 3600000, 5000),
    K_MSECS("idle_timeout", idle_timeout_ms, 0, 3600000, 10000),
    K_FLAG("round_robin_upstreams", round_robin_upstreams, 0),
    /* 0 turns padding off; RFC 8467 §4.1 recommends 128 for queries */
    K_COUNT("tls_query_padding_blocksize", tls_query_padding_blocksize, 0, 4096, 128),
    K_PATH("tls_ca_file", tls_ca_file, "/etc/ssl/certs/ca-certificates.crt"),
    K_NETWORKS("allow", allow, n_allow),
    K_BYTES("cache_size", cache_size, 64 * 1024, SIZE_MAX / 2, 32ULL << 20),
    K_SECONDS("bogus_ttl", bogus_ttl_s, 0, 86400, 60),
    /* RFC 2181 §8: a TTL is at most 2^31 - 1 */
    K_SECONDS("cache_max_ttl", cache_max_ttl_s, 0, 2147483647, 86400),
    K_SECONDS("cache_max_negative_ttl", cache_max_negative_ttl_s, 0, 2147483647, 3600),
    K_PATH("resolv_conf", resolv_conf, "/etc/resolv.conf"),
    K_COUNT("max_tcp_clients", max_tcp_clients, 1, 1000000, 1024),
    K_COUNT("max_waiting_queries", max_waiting_queries, 1, 10000000, 4096),
    K_COUNT("max_waiting_per_client", max_waiting_per_client, 1, 10000000, 64),
    /* Stubby's keys that do not apply here: accepted so a stubby.yml carries over */
    K_FUNC("resolution_type", r_resolution_type),
    K_FUNC("dnssec", r_dnssec),
    K_FUNC("dnssec_return_status", r_dnssec),
    K_IGNORED_SCALAR("edns_client_subnet_private"),
    K_IGNORED_SCALAR("appdata_dir"),
    K_IGNORED_SCALAR("tls_min_version"),
    K_IGNORED_SCALAR("tls_max_version"),
    K_IGNORED_SCALAR("tls_cipher_list"),
    K_IGNORED_SCALAR("tls_ciphersuites"),
    K_IGNORED_SCALAR("tls_connection_retries"),
    K_IGNORED_SCALAR("tls_backoff_time"),
    K_IGNORED_SCALAR("limit_outstanding_queries"),
    K_IGNORED_SCALAR("trust_anchors_backoff_time"),
    K_IGNORED_SCALAR("log_level"),
    K_END,
};
#undef KEYS_OF
/* clang-format on */

/* clang-format off */
#define KEYS_OF struct config_proxy
static const struct key_def proxy_keys[] = {
    K_FLAG("enabled", enabled, 1),
    K_ENDPOINTS("listen_addresses", listen, n_listen, CONFIG_PROXY_PORT),
    K_NETWORKS("allow", allow, n_allow),
    K_CHOICE("intercept", intercept, &intercept, CONFIG_INTERCEPT_DANE),
    K_PATH("ca_dir", ca_dir, "/var/lib/daneguard"),
    K_PATH("trust_store", trust_store, "/etc/ssl/certs/ca-certificates.crt"),
    K_FUNC("allowed_ports", x_allowed_ports),
    K_COUNT("max_connections", max_connections, 1, 1000000, 1024),
    K_BYTES("buffer_size", buffer_size, 1024, 16 << 20, 16 * 1024),
    K_MSECS("handshake_timeout", handshake_timeout_ms, 1, 3600000, 10000),
    K_MSECS("idle_timeout", idle_timeout_ms, 1, 86400000, 300000),
    K_COUNT("cert_cache_entries", cert_cache_entries, 1, 1000000, 1000),
    K_NETWORKS("allow_destinations", allow_destinations, n_allow_destinations),
    K_FUNC("http_ports", x_http_ports),
    /* unless given, a quarter of max_connections as given: load() */
    K_COUNT("max_connections_per_client", max_connections_per_client, 1, 1000000, 1024 / 4),
    K_COUNT("max_lookups_per_client", max_lookups_per_client, 1, 1000000, 128),
    K_END,
};
#undef KEYS_OF
/* clang-format on */

/* clang-format off */
#define KEYS_OF struct config
static const struct key_def top_keys[] = {
    K_FUNC("user", t_user),
    K_SECTION("resolver", resolver, resolver_keys),
    K_SECTION("proxy", proxy, proxy_keys),
    K_END,
};
#undef KEYS_OF
/* clang-format on */

/* ---- defaults -------------------------------------------------------------------- */

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
    keys_defaults(top_keys, cfg);

    add_default_listen(r->listen, &r->n_listen, "127.0.0.1", CONFIG_DNS_PORT);
    add_default_listen(r->listen, &r->n_listen, "::1", CONFIG_DNS_PORT);
    r->transports[0] = CONFIG_TRANSPORT_UDP;
    r->transports[1] = CONFIG_TRANSPORT_TCP;
    r->n_transports = 2;
    snprintf(r->trust_anchors[0], sizeof r->trust_anchors[0], "%s", "/usr/share/dns/root.key");
    r->n_trust_anchors = 1;
    add_default_allow(r->allow, &r->n_allow);

    add_default_listen(px->listen, &px->n_listen, "127.0.0.1", CONFIG_PROXY_PORT);
    add_default_allow(px->allow, &px->n_allow);
    px->allowed_ports[0] = 443;
    px->allowed_ports[1] = 8443;
    px->n_allowed_ports = 2;
    px->http_ports[0] = (struct config_port_range){80, 80};
    px->http_ports[1] = (struct config_port_range){8080, 8080};
    px->n_http_ports = 2;
}

/* ---- cross-checks ------------------------------------------------------------ */
static int cross_check(struct keys_parse *p, const struct config *cfg)
{
    const struct config_resolver *r = &cfg->resolver;
    const struct config_proxy *px = &cfg->proxy;
    int tls = 0;

    for (size_t i = 0; i < r->n_upstreams; i++)
        for (size_t j = 0; j < r->n_listen; j++) {
            const struct sockaddr *l = (const struct sockaddr *)&r->listen[j].ss;
            struct sockaddr_storage dst = r->upstreams[i].addr.ss;
            int hits = addr_reaches(l, (const struct sockaddr *)&dst);
            if (!hits) { /* the same server over TLS */
                addr_set_port(&dst, r->upstreams[i].tls_port);
                hits = addr_reaches(l, (const struct sockaddr *)&dst);
            }
            if (hits)
                return keys_fail_at(p,
                                    keys_item_line(p, "resolver", "upstream_recursive_servers", i),
                                    "resolver.upstream_recursive_servers",
                                    "%s is daneguard's own listener %s; it would query itself",
                                    r->upstreams[i].addr.text, r->listen[j].text);
        }

    if (px->enabled)
        for (size_t i = 0; i < px->n_listen; i++)
            for (size_t j = 0; j < r->n_listen; j++)
                if (r->listen[j].len == px->listen[i].len &&
                    memcmp(&r->listen[j].ss, &px->listen[i].ss, px->listen[i].len) == 0) {
                    unsigned long line = keys_item_line(p, "proxy", "listen_addresses", i);
                    if (line)
                        return keys_fail_at(p, line, "proxy.listen_addresses",
                                            "%s is also a resolver listen address",
                                            px->listen[i].text);
                    return keys_fail_at(p, keys_item_line(p, "resolver", "listen_addresses", j),
                                        "resolver.listen_addresses",
                                        "%s is also the proxy's listen address", r->listen[j].text);
                }

    for (size_t i = 0; i < r->n_transports; i++)
        tls |= r->transports[i] == CONFIG_TRANSPORT_TLS;
    if (tls && r->tls_authentication_required) {
        unsigned long transports_line = keys_line(keys_given(p, "resolver", "dns_transport_list"));
        if (r->n_upstreams == 0)
            return keys_fail_at(
                p,
                transports_line ? transports_line
                                : keys_line(keys_given(p, "resolver", "tls_authentication")),
                transports_line ? "resolver.dns_transport_list" : "resolver.tls_authentication",
                "TLS with GETDNS_AUTHENTICATION_REQUIRED needs "
                "upstream_recursive_servers with tls_auth_name (servers from "
                "resolv_conf have no name to authenticate)");
        for (size_t i = 0; i < r->n_upstreams; i++)
            if (!r->upstreams[i].tls_auth_name[0])
                return keys_fail_at(p,
                                    keys_item_line(p, "resolver", "upstream_recursive_servers", i),
                                    "resolver.upstream_recursive_servers",
                                    "%s has no tls_auth_name, which TLS with "
                                    "GETDNS_AUTHENTICATION_REQUIRED needs",
                                    r->upstreams[i].addr.text);
    }
    return 0;
}

/* ---- loading -------------------------------------------------------------------- */

static int load(struct keys_parse *p, yaml_parser_t *parser, struct config *cfg)
{
    yaml_document_t doc, extra;
    yaml_node_t *root;
    char buf[64];
    int rc = -1;

    if (!yaml_parser_load(parser, &doc))
        return keys_syntax_error(p, parser);
    p->doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root) {
        if (keys_is_null(root)) {
            rc = 0;
        } else if (root->type != YAML_MAPPING_NODE) {
            rc = keys_fail(p, root, "(top level)",
                           "expected a mapping of keys (user, resolver, "
                           "proxy), got %s",
                           keys_node_desc(root, buf, sizeof buf));
            goto out;
        } else if (keys_walk(p, root, "", top_keys, cfg) < 0) {
            goto out;
        }
        /* one document per file: a second one would be silently ignored */
        if (!yaml_parser_load(parser, &extra)) {
            rc = keys_syntax_error(p, parser);
            goto out;
        }
        root = yaml_document_get_root_node(&extra);
        if (root) {
            rc = keys_fail(p, root, "(top level)", "a second YAML document; put everything in one");
            yaml_document_delete(&extra);
            goto out;
        }
        yaml_document_delete(&extra);
    }
    /* unless given, a quarter of max_connections as it was given */
    if (!keys_given(p, "proxy", "max_connections_per_client")) {
        struct config_proxy *px = &cfg->proxy;
        px->max_connections_per_client = px->max_connections / 4 ? px->max_connections / 4 : 1;
    }
    rc = cross_check(p, cfg);
out:
    yaml_document_delete(&doc);
    p->doc = NULL;
    return rc;
}

/* Parse from an initialised parser into a fresh copy, copied out only when whole. */
static int load_into(const char *name, yaml_parser_t *parser, struct config *cfg, char *err)
{
    struct keys_parse p;
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
    rc = load(&p, parser, tmp);
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
        snprintf(err, CONFIG_ERR_LEN, "%s: not a configuration file but a %s (give -c FILE)", path,
                 S_ISDIR(st.st_mode) ? "directory" : "special file");
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
