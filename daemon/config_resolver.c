/* daemon/config_resolver.c — the resolver: section of daneguard.yml: its key
 * table (one row per key, as config.c's head comment says) and the functions
 * of its keys with structure: upstream servers (with Stubby's TLS keys),
 * transports, trust anchors, forward zones, domain_insecure, local_data, and
 * Stubby's keys that do not apply. config.c holds the proxy: section and the
 * top level, the defaults, the cross-checks and the loading.
 */
#include "config_resolver.h"

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
#include "localzone.h"
#include "log.h"

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

/* RFC 7858 §4.2 SPKI pins, Stubby's form: a list of {digest: sha256, value: BASE64}. */
static int u_pinset(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_upstream *u = &((struct upstream_parse *)obj)->u;
    yaml_node_t *seq = keys_list(p, v, key, "pins ({digest: sha256, value: BASE64})",
                                 CONFIG_MAX_PINS),
                *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        const char *digest = NULL, *value = NULL;
        unsigned char bin[64];
        size_t n = 0;

        if (item->type != YAML_MAPPING_NODE)
            return keys_expected(p, item, key, "a mapping {digest: sha256, value: BASE64}");
        for (yaml_node_pair_t *pair = item->data.mapping.pairs.start;
             pair < item->data.mapping.pairs.top; pair++) {
            yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
            yaml_node_t *val = yaml_document_get_node(p->doc, pair->value);
            const char *name = k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value
                                                                : "";
            if (!val)
                return keys_fail(p, item, key, "malformed pin");
            if (strcmp(name, "digest") == 0)
                digest = keys_scalar(p, val, key, "sha256");
            else if (strcmp(name, "value") == 0)
                value = keys_scalar(p, val, key, "a base64 SHA-256 digest");
            else
                return keys_fail(p, k ? k : item, key, "unknown key in a pin (digest, value)");
            if ((strcmp(name, "digest") == 0 && !digest) || (strcmp(name, "value") == 0 && !value))
                return -1;
        }
        if (!digest || !value)
            return keys_fail(p, item, key, "a pin needs digest: sha256 and value: BASE64");
        if (strcasecmp(digest, "sha256") != 0)
            return keys_fail(p, item, key, "only sha256 pins are possible, got \"%s\"", digest);
        if (mbedtls_base64_decode(bin, sizeof bin, &n, (const unsigned char *)value,
                                  strlen(value)) != 0 ||
            n != 32)
            return keys_fail(p, item, key,
                             "value is not the base64 of a SHA-256 digest (32 bytes): \"%s\"",
                             value);
        memcpy(u->pins[count++], bin, 32);
    }
    u->n_pins = count;
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

/* Stubby's trust anchor download: daneguard never downloads trust anchors. */
static int r_not_applicable(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    if (v->type != YAML_SCALAR_NODE)
        return keys_expected(p, v, key, "a single value");
    log_info("%s:%lu: %s: does not apply to daneguard, which never downloads trust anchors "
             "(it reads dnssec_trust_anchors files); ignored",
             p->name, keys_line(v), key);
    return 0;
}

/* A domain name into out (256 bytes), written absolute: "lan" -> "lan." */
static int domain_name(struct keys_parse *p, yaml_node_t *v, const char *key, char *out)
{
    const char *s = keys_scalar(p, v, key, "a domain name");
    uint8_t wire[DNS_MAX_NAME];
    size_t wire_len;

    if (!s)
        return -1;
    if (!*s || dns_name_from_text(s, wire, &wire_len) < 0 ||
        dns_name_to_text(wire, wire_len, out, 256) < 0)
        return keys_fail(p, v, key, "not a domain name: \"%s\"", s);
    return 0;
}

static int fz_name(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    return domain_name(p, v, key, ((struct config_forward_zone *)obj)->name);
}

/* clang-format off */
#define KEYS_OF struct config_forward_zone
static const struct key_def forward_zone_keys[] = {
    K_FUNC("name", fz_name),
    K_ENDPOINTS("upstreams", upstreams, n_upstreams, CONFIG_DNS_PORT),
    K_FLAG("validated", validated, 0),
    K_END,
};
#undef KEYS_OF
/* clang-format on */

/* The root unvalidated (domain_insecure ".", a forward zone "." without
 * validated: true): DNSSEC off for every name, so the proxy would tunnel every
 * site without DANE. proxy.exceptions refuses "*" for the same reason. */
static int root_fail(struct keys_parse *p, yaml_node_t *v, const char *key)
{
    return keys_fail(p, v, key,
                     "\".\" unvalidated would switch DNSSEC, and with it DANE, off for every "
                     "name; name the zones (a forward zone \".\" needs validated: true)");
}

static int r_forward_zones(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    yaml_node_t *seq = keys_list(p, v, key, "zones ({name, upstreams, validated})",
                                 CONFIG_MAX_FORWARD_ZONES),
                *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        struct config_forward_zone *z = &r->forward_zones[count];

        if (item->type != YAML_MAPPING_NODE)
            return keys_expected(p, item, key, "a mapping with name and upstreams");
        memset(z, 0, sizeof *z);
        keys_defaults(forward_zone_keys, z);
        if (keys_walk(p, item, key, forward_zone_keys, z) < 0)
            return -1;
        if (!z->name[0])
            return keys_fail(p, item, key, "name is missing");
        if (strcmp(z->name, ".") == 0 && !z->validated)
            return root_fail(p, item, key);
        if (!z->n_upstreams)
            return keys_fail(p, item, key, "%s: upstreams is missing (the router's address)",
                             z->name);
        for (size_t i = 0; i < count; i++)
            if (strcasecmp(r->forward_zones[i].name, z->name) == 0)
                return keys_fail(p, item, key, "%s is listed twice", z->name);
        count++;
    }
    r->n_forward_zones = count;
    return 0;
}

static int r_domain_insecure(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    yaml_node_t *seq, *item;
    size_t count = 0;

    if (v->type == YAML_SCALAR_NODE && !keys_is_null(v)) {
        if (domain_name(p, v, key, r->domain_insecure[0]) < 0)
            return -1;
        if (strcmp(r->domain_insecure[0], ".") == 0)
            return root_fail(p, v, key);
        r->n_domain_insecure = 1;
        return 0;
    }
    if (!(seq = keys_list(p, v, key, "domain names", CONFIG_MAX_INSECURE)))
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        if (domain_name(p, item, key, r->domain_insecure[count]) < 0)
            return -1;
        if (strcmp(r->domain_insecure[count], ".") == 0)
            return root_fail(p, item, key);
        count++;
    }
    r->n_domain_insecure = count;
    return 0;
}

static int r_local_data(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    yaml_node_t *seq = keys_list(p, v, key, "records (\"router.lan. 3600 IN A 192.168.1.1\")",
                                 CONFIG_MAX_LOCAL_DATA),
                *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        const char *s = keys_scalar(p, item, key, "a record (\"router.lan. IN A 192.168.1.1\")");
        struct localzone_rr rr;
        char why[CONFIG_ERR_LEN / 2];

        if (!s)
            return -1;
        if (strlen(s) >= CONFIG_LOCAL_DATA_LEN)
            return keys_fail(p, item, key, "record is too long (at most %d characters)",
                             CONFIG_LOCAL_DATA_LEN - 1);
        if (localzone_rr_parse(s, &rr, why, sizeof why) < 0)
            return keys_fail(p, item, key, "%s", why);
        memcpy(r->local_data[count++], s, strlen(s) + 1);
    }
    r->n_local_data = count;
    return 0;
}


static const struct key_choices tls_authentication = {
    "GETDNS_AUTHENTICATION_REQUIRED or GETDNS_AUTHENTICATION_NONE (or required, none)",
    {{"GETDNS_AUTHENTICATION_REQUIRED", 1},
     {"required", 1},
     {"GETDNS_AUTHENTICATION_HOSTNAME", 1},
     {"GETDNS_AUTHENTICATION_NONE", 0},
     {"none", 0},
     {NULL, 0}},
};

static const struct key_choices time_check = {
    "always or after_sync",
    {{"always", CONFIG_TIME_CHECK_ALWAYS}, {"after_sync", CONFIG_TIME_CHECK_AFTER_SYNC}, {NULL, 0}},
};

/* clang-format off */
#define KEYS_OF struct config_resolver
const struct key_def config_resolver_keys[] = {
    K_ENDPOINTS("listen_addresses", listen, n_listen, CONFIG_DNS_PORT),
    K_FUNC("upstream_recursive_servers", r_upstreams),
    K_FUNC("dns_transport_list", r_transports),
    K_CHOICE("tls_authentication", tls_authentication_required, &tls_authentication, 0),
    K_FUNC("dnssec_trust_anchors", r_trust_anchors),
    K_MSECS("timeout", timeout_ms, 1, 3600000, 5000),
    K_MSECS("idle_timeout", idle_timeout_ms, 0, 3600000, 10000),
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
    K_CHOICE("dnssec_time_check", dnssec_time_check, &time_check, CONFIG_TIME_CHECK_ALWAYS),
    K_FLAG("serve_expired", serve_expired, 0),
    K_SECONDS("serve_expired_ttl", serve_expired_ttl_s, 1, 30 * 86400, 86400),
    K_FUNC("forward_zones", r_forward_zones),
    K_FUNC("domain_insecure", r_domain_insecure),
    K_FUNC("local_data", r_local_data),
    K_PATH("hosts_file", hosts_file, ""),
    K_FLAG("rebind_protection", rebind_protection, 1),
    K_PATH("tls_ca_file", tls_ca_file, ""),
    K_PATH("tls_ca_path", tls_ca_path, ""),
    K_FUNC("trust_anchors_url", r_not_applicable),
    K_FUNC("trust_anchors_verify_CA", r_not_applicable),
    K_FUNC("trust_anchors_verify_email", r_not_applicable),
    /* Stubby's keys that do not apply here: accepted so a stubby.yml carries over */
    K_FUNC("resolution_type", r_resolution_type),
    K_FUNC("dnssec", r_dnssec),
    K_FUNC("dnssec_return_status", r_dnssec),
    K_IGNORED_SCALAR("round_robin_upstreams"),
    K_IGNORED_SCALAR("tls_query_padding_blocksize"),
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
