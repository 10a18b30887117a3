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
 * table's defaults, then the default lists. The resolver: section's table and
 * functions are in config_resolver.c.
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
#include "config_resolver.h"
#include "keys.h"
#include "localzone.h"
#include "log.h"

#define CONFIG_PROXY_PORT 8080

int config_sockaddr_parse(const char *text, uint16_t default_port, struct config_sockaddr *out)
{
    if (!text || !out)
        return -1;
    return keys_endpoint_parse(text, default_port, out) < 0 ? -1 : 0;
}

/* ---- keys with structure: the proxy's and the top level's ------------------------ */

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

/* "host.example" or "*.example": letters, digits, '-' and '_' in labels of
 * 1..63, at least two labels (a bare "*" or "*.com" would switch DANE off for
 * a whole top-level domain: rejected), no IP address (an address is never
 * DANE-checked: nothing to except). Kept in lower case without a trailing dot. */
static int x_exceptions(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_proxy *px = obj;
    yaml_node_t *seq = keys_list(p, v, key, "host names (\"www.example.org\", \"*.example.org\")",
                                 CONFIG_MAX_EXCEPTIONS),
                *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        const char *s = keys_scalar(p, item, key, "a host name or \"*.domain\"");
        char name[CONFIG_HOST_MAX];
        size_t len, labels = 1, label = 0;
        int wild;

        if (!s)
            return -1;
        len = strlen(s);
        if (len > 0 && s[len - 1] == '.')
            len--;
        wild = len >= 2 && s[0] == '*' && s[1] == '.';
        if (len == 1 && s[0] == '*')
            return keys_fail(p, item, key,
                             "\"*\" would switch DANE off everywhere; name the hosts or "
                             "domains to except");
        if (len == 0 || len >= sizeof name)
            return keys_fail(p, item, key, "\"%s\" is not a host name (1..253 characters)", s);
        if (wild)
            memcpy(name, "*.", 2);
        for (size_t i = wild ? 2 : 0; i < len; i++) {
            char c = s[i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            name[i] = c;
            if (c == '.') {
                if (label == 0)
                    return keys_fail(p, item, key, "\"%s\": empty label", s);
                labels++;
                label = 0;
            } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
                if (++label > 63)
                    return keys_fail(p, item, key, "\"%s\": a label is longer than 63", s);
            } else if (c == '*') {
                return keys_fail(p, item, key,
                                 "\"%s\": '*' only as the whole first label (\"*.example.org\")",
                                 s);
            } else {
                return keys_fail(p, item, key, "\"%s\" is not a host name", s);
            }
        }
        name[len] = '\0';
        if (label == 0)
            return keys_fail(p, item, key, "\"%s\": empty label", s);
        if (addr_is_literal(name))
            return keys_fail(p, item, key,
                             "\"%s\" is an IP address: addresses are never DANE-checked, so "
                             "there is nothing to except",
                             s);
        if (labels < 2)
            return keys_fail(p, item, key,
                             "\"%s\" would switch DANE off for a whole top-level domain; name "
                             "the hosts or domains to except",
                             s);
        memcpy(px->exceptions[count++], name, len + 1);
    }
    px->n_exceptions = count;
    return 0;
}

int config_exception_match(const struct config_proxy *px, const char *host)
{
    size_t hlen = strlen(host);

    if (hlen > 0 && host[hlen - 1] == '.')
        hlen--;
    for (size_t i = 0; i < px->n_exceptions; i++) {
        const char *e = px->exceptions[i];
        size_t elen = strlen(e);
        if (e[0] == '*') {
            /* "*.example": a name that ends in ".example" with a label before it */
            elen -= 1; /* ".example" */
            if (hlen > elen && strncasecmp(host + hlen - elen, e + 1, elen) == 0)
                return (int)i;
        } else if (hlen == elen && strncasecmp(host, e, elen) == 0) {
            return (int)i;
        }
    }
    return -1;
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


static const struct key_choices intercept = {
    "dane or all",
    {{"dane", CONFIG_INTERCEPT_DANE}, {"all", CONFIG_INTERCEPT_ALL}, {NULL, 0}},
};

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
    K_FUNC("exceptions", x_exceptions),
    K_END,
};
#undef KEYS_OF
/* clang-format on */

/* clang-format off */
#define KEYS_OF struct config
static const struct key_def top_keys[] = {
    K_FUNC("user", t_user),
    K_SECTION("resolver", resolver, config_resolver_keys),
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

    for (size_t z = 0; z < r->n_forward_zones; z++)
        for (size_t i = 0; i < r->forward_zones[z].n_upstreams; i++)
            for (size_t j = 0; j < r->n_listen; j++)
                if (addr_reaches((const struct sockaddr *)&r->listen[j].ss,
                                 (const struct sockaddr *)&r->forward_zones[z].upstreams[i].ss))
                    return keys_fail_at(p, keys_item_line(p, "resolver", "forward_zones", z),
                                        "resolver.forward_zones",
                                        "%s: %s is daneguard's own listener %s; it would query "
                                        "itself",
                                        r->forward_zones[z].name,
                                        r->forward_zones[z].upstreams[i].text, r->listen[j].text);

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

/* A Stubby configuration: a top-level mapping without daneguard's sections
 * whose keys include upstream_recursive_servers or resolution_type. */
static int is_stubby_file(struct keys_parse *p, yaml_node_t *root)
{
    int stubby = 0;

    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
        const char *name;
        if (!k || k->type != YAML_SCALAR_NODE)
            return 0;
        name = (const char *)k->data.scalar.value;
        for (const struct key_def *d = top_keys; d->name; d++)
            if (strcmp(d->name, name) == 0)
                return 0;
        stubby |= strcmp(name, "upstream_recursive_servers") == 0 ||
                  strcmp(name, "resolution_type") == 0;
    }
    return stubby;
}

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
        } else if (is_stubby_file(p, root)) {
            /* a stubby.yml as it is: its keys are the resolver section's */
            log_info("%s: no resolver: section but Stubby's keys: read as a stubby.yml (the "
                     "resolver section; the proxy keeps its defaults)",
                     p->name);
            if (keys_walk(p, root, "", config_resolver_keys, &cfg->resolver) < 0)
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
