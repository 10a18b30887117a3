/* daemon/config.c — reading daneguard.yml (libyaml) into a struct config.
 *
 * The file is loaded whole as a YAML document, walked against a fixed schema
 * (one key table per mapping), and cross-checked; only then is the result
 * copied out, so a caller reloading on SIGHUP keeps its old configuration when
 * the new file is bad. Every error is one line, "FILE:LINE: KEY: what is
 * wrong", with LINE 1-based from libyaml's marks.
 *
 * Keys are data, as in Unbound's util/config_file.c: each table row names a
 * key once, with its kind (milliseconds, a size, a flag, a path, one of some
 * words, a list of addresses...), the field it fills (offsetof into the
 * section's struct), its range and its default. The kind decides how the
 * value is read and what an error says; only keys with structure of their own
 * (upstream servers, transports, trust anchors, port lists, the user) have a
 * function. config_defaults() applies the table's defaults.
 *
 * The walker never descends generically: each key knows the shape of its
 * value, so aliases (even cyclic ones) and deep nesting cannot make it loop.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "addr.h"
#include "log.h"

#define CONFIG_DNS_PORT 53
#define CONFIG_PROXY_PORT 8080

/* ---- addresses ("addr@port": daemon/addr.c) ------------------------------- */

/* 0, or the ADDR_E* code that says why text is not an address. */
static int sockaddr_parse(const char *text, uint16_t default_port, struct config_sockaddr *out)
{
    int rc;

    memset(out, 0, sizeof *out);
    rc = addr_parse_endpoint(text, default_port, &out->ss, &out->len);
    if (rc == 0)
        memcpy(out->text, text, strlen(text) + 1); /* fits: ADDR_ENDPOINT_MAX */
    return rc;
}

int config_sockaddr_parse(const char *text, uint16_t default_port, struct config_sockaddr *out)
{
    if (!text || !out)
        return -1;
    return sockaddr_parse(text, default_port, out) < 0 ? -1 : 0;
}

/* ---- messages ------------------------------------------------------------ */

struct parse {
    const char *name; /* file name for messages */
    yaml_document_t *doc;
    struct config *cfg;
    char *err;
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

/* "expected WHAT, got ..." */
static int fail_expected(struct parse *p, yaml_node_t *node, const char *key, const char *what)
{
    char buf[64];
    return fail(p, node, key, "expected %s, got %s", what, node_desc(node, buf, sizeof buf));
}

/* The scalar's text, or NULL after an error "expected WHAT, got ...". */
static const char *scalar(struct parse *p, yaml_node_t *node, const char *key, const char *what)
{
    if (node->type != YAML_SCALAR_NODE || is_null(node)) {
        fail_expected(p, node, key, what);
        return NULL;
    }
    if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length) {
        fail(p, node, key, "expected %s, got a value with a NUL byte", what);
        return NULL;
    }
    return (const char *)node->data.scalar.value;
}

/* ---- key tables ------------------------------------------------------------ */

enum key_kind {
    KIND_COUNT,     /* a whole number, min..max */
    KIND_MSECS,     /* the same, in milliseconds */
    KIND_SECONDS,   /* the same, in seconds */
    KIND_PORT,      /* a port number, 1..65535 */
    KIND_BYTES,     /* a size: a number with an optional k/m/g suffix, min..max bytes */
    KIND_FLAG,      /* true or false (an int) */
    KIND_PATH,      /* a file or directory path (a char array) */
    KIND_CHOICE,    /* one of some words (an int or an enum) */
    KIND_ENDPOINTS, /* a list of "addr@port" (struct config_sockaddr[], a size_t count) */
    KIND_NETWORKS,  /* a list of "net/prefix" (struct addr_cidr[], a size_t count) */
    KIND_SECTION,   /* a mapping with keys of its own */
    KIND_FUNC,      /* a value with structure: a function reads it */
    KIND_IGNORED,   /* a Stubby setting daneguard does not use: any value */
    KIND_IGNORED_SCALAR, /* the same, but a single value */
};

struct key_def;
typedef int (*key_fn)(struct parse *p, yaml_node_t *value, const char *key, void *obj);

struct key_choices {
    const char *what; /* the words for messages: "dane or all" */
    struct {
        const char *word; /* matched without regard to case */
        int value;
    } words[6]; /* ends at a NULL word */
};

struct key_def {
    const char *name;
    enum key_kind kind;
    size_t offset, size;           /* the field: offsetof and sizeof in the section's struct */
    size_t count_offset;           /* KIND_ENDPOINTS, KIND_NETWORKS: the size_t item count */
    unsigned long long min, max;   /* numbers and sizes */
    unsigned long long dflt;       /* the default of a number, flag or choice; a list's port */
    const char *dflt_text;         /* the default of a path */
    const struct key_choices *choices; /* KIND_CHOICE */
    const struct key_def *keys;    /* KIND_SECTION: its table */
    key_fn fn;                     /* KIND_FUNC */
};

/* One row per key. Before a table, KEYS_OF names the struct its fields are in. */
#define K_FIELD(f) .offset = offsetof(KEYS_OF, f), .size = sizeof(((KEYS_OF *)0)->f)
#define K_NUMBER(n, k, f, lo, hi, d) {.name = n, .kind = k, K_FIELD(f), .min = lo, .max = hi, .dflt = d}
#define K_COUNT(n, f, lo, hi, d) K_NUMBER(n, KIND_COUNT, f, lo, hi, d)
#define K_MSECS(n, f, lo, hi, d) K_NUMBER(n, KIND_MSECS, f, lo, hi, d)
#define K_SECONDS(n, f, lo, hi, d) K_NUMBER(n, KIND_SECONDS, f, lo, hi, d)
#define K_PORT(n, f, d) K_NUMBER(n, KIND_PORT, f, 1, 65535, d)
#define K_BYTES(n, f, lo, hi, d) K_NUMBER(n, KIND_BYTES, f, lo, hi, d)
#define K_FLAG(n, f, d) K_NUMBER(n, KIND_FLAG, f, 0, 1, d)
#define K_CHOICE(n, f, c, d) {.name = n, .kind = KIND_CHOICE, K_FIELD(f), .choices = c, .dflt = d}
#define K_PATH(n, f, d) {.name = n, .kind = KIND_PATH, K_FIELD(f), .dflt_text = d}
#define K_LIST(n, k, f, cnt, port)                                                                 \
    {.name = n, .kind = k, K_FIELD(f), .count_offset = offsetof(KEYS_OF, cnt), .dflt = port}
#define K_ENDPOINTS(n, f, cnt, port) K_LIST(n, KIND_ENDPOINTS, f, cnt, port)
#define K_NETWORKS(n, f, cnt) K_LIST(n, KIND_NETWORKS, f, cnt, 0)
#define K_SECTION(n, f, t) {.name = n, .kind = KIND_SECTION, K_FIELD(f), .keys = t}
#define K_FUNC(n, f) {.name = n, .kind = KIND_FUNC, .fn = f}
#define K_IGNORED(n) {.name = n, .kind = KIND_IGNORED}
#define K_IGNORED_SCALAR(n) {.name = n, .kind = KIND_IGNORED_SCALAR}
#define K_END {.name = NULL}

static int walk_mapping(struct parse *p, yaml_node_t *map, const char *prefix,
                        const struct key_def *defs, void *obj);

/* ---- values ------------------------------------------------------------------- */

static const char *number_unit(const struct key_def *d)
{
    return d->kind == KIND_MSECS ? "milliseconds" : d->kind == KIND_SECONDS ? "seconds" : NULL;
}

/* A decimal number of a KIND_COUNT/MSECS/SECONDS/PORT key, in its range. */
static int get_number(struct parse *p, yaml_node_t *node, const char *key,
                      const struct key_def *d, unsigned long long *out)
{
    const char *unit = number_unit(d), *v;
    char what[64];
    unsigned long long n = 0;

    if (d->kind == KIND_PORT)
        snprintf(what, sizeof what, "a port number");
    else
        snprintf(what, sizeof what, "a %s integer%s%s%s", d->min ? "positive" : "non-negative",
                 unit ? " (" : "", unit ? unit : "", unit ? ")" : "");
    if (!(v = scalar(p, node, key, what)))
        return -1;
    if (!*v)
        return fail(p, node, key, "expected %s, got \"\"", what);
    for (const char *s = v; *s; s++) {
        if (*s < '0' || *s > '9' || n > (ULLONG_MAX - 9) / 10)
            return fail_expected(p, node, key, what);
        n = n * 10 + (unsigned long long)(*s - '0');
    }
    if (n < d->min || n > d->max)
        return fail(p, node, key, "%llu is out of range (%llu..%llu%s%s)", n, d->min, d->max,
                    unit ? " " : "", unit ? unit : "");
    *out = n;
    return 0;
}

/* Bytes: a number with an optional k/m/g suffix (powers of 1024; "32m", "512KiB"). */
static int get_size(struct parse *p, yaml_node_t *node, const char *key, const struct key_def *d,
                    unsigned long long *out)
{
    static const char what[] = "a size in bytes (a number, or with a k/m/g suffix: \"32m\")";
    const char *v = scalar(p, node, key, what), *s;
    unsigned long long n = 0;
    int shift = 0;

    if (!v)
        return -1;
    for (s = v; *s >= '0' && *s <= '9'; s++) {
        if (n > (ULLONG_MAX - 9) / 10)
            return fail_expected(p, node, key, what);
        n = n * 10 + (unsigned long long)(*s - '0');
    }
    if (s == v)
        return fail_expected(p, node, key, what);
    if (*s == 'k' || *s == 'K')
        shift = 10;
    else if (*s == 'm' || *s == 'M')
        shift = 20;
    else if (*s == 'g' || *s == 'G')
        shift = 30;
    else if (*s)
        return fail_expected(p, node, key, what);
    if (shift && *++s && strcasecmp(s, "b") != 0 && strcasecmp(s, "ib") != 0)
        return fail_expected(p, node, key, what);
    if (n > (ULLONG_MAX >> shift))
        return fail(p, node, key, "%s is out of range", v);
    n <<= shift;
    if (n < d->min || n > d->max)
        return fail(p, node, key, "%s (%llu bytes) is out of range (%llu..%llu bytes)", v, n,
                    d->min, d->max);
    *out = n;
    return 0;
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

static int get_flag(struct parse *p, yaml_node_t *node, const char *key, unsigned long long *out)
{
    const char *v = scalar(p, node, key, "true or false");
    int b;

    if (!v)
        return -1;
    if ((b = bool_word(v)) < 0)
        return fail_expected(p, node, key, "true or false");
    *out = (unsigned long long)b;
    return 0;
}

static int get_choice(struct parse *p, yaml_node_t *node, const char *key,
                      const struct key_choices *c, unsigned long long *out)
{
    const char *v = scalar(p, node, key, c->what);

    if (!v)
        return -1;
    for (size_t i = 0; c->words[i].word; i++)
        if (strcasecmp(v, c->words[i].word) == 0) {
            *out = (unsigned long long)c->words[i].value;
            return 0;
        }
    return fail_expected(p, node, key, c->what);
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

static int get_endpoints(struct parse *p, yaml_node_t *v, const char *key,
                         struct config_sockaddr *list, size_t max, uint16_t default_port,
                         size_t *n)
{
    yaml_node_t *seq = get_list(p, v, key, "addresses (\"addr@port\")", max), *item;
    size_t count = 0;

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        const char *s = scalar(p, item, key, "an address (\"addr@port\" or \"addr\")");
        struct config_sockaddr sa;
        int rc;

        if (!s)
            return -1;
        if ((rc = sockaddr_parse(s, default_port, &sa)) < 0)
            return fail(p, item, key, "%s: \"%s\" (expected \"addr@port\" or \"addr\")",
                        addr_strerror(rc), s);
        for (size_t i = 0; i < count; i++)
            if (list[i].len == sa.len && memcmp(&list[i].ss, &sa.ss, sa.len) == 0)
                return fail(p, item, key, "\"%s\" is listed twice", s);
        list[count++] = sa;
    }
    *n = count;
    return 0;
}

static int get_networks(struct parse *p, yaml_node_t *v, const char *key, struct addr_cidr *list,
                        size_t max, size_t *n)
{
    yaml_node_t *seq = get_list(p, v, key, "networks (\"192.168.0.0/16\")", max), *item;
    size_t count = 0;

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        const char *s = scalar(p, item, key, "a network (\"addr/prefix\" or \"addr\")");
        int rc;

        if (!s)
            return -1;
        if ((rc = addr_cidr_parse(s, &list[count])) < 0)
            return fail(p, item, key, "%s: \"%s\" (expected \"addr/prefix\" or \"addr\")",
                        addr_strerror(rc), s);
        count++;
    }
    *n = count;
    return 0;
}

/* ---- keys with structure ------------------------------------------------------ */

/* An upstream mapping while it is read: keys may come in any order. */
struct upstream_parse {
    struct config_upstream u;
    uint16_t port;
};

static int u_address(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_upstream *u = &((struct upstream_parse *)obj)->u;
    const char *s = scalar(p, v, key, "an IP address");
    int rc;

    if (!s)
        return -1;
    if (strlen(s) >= sizeof u->addr.text)
        return fail(p, v, key, "not an IP address: \"%s\"", s);
    rc = addr_parse_scoped(s, 0, &u->addr.ss, &u->addr.len);
    if (rc < 0)
        return fail(p, v, key,
                    "%s: \"%s\" (address_data takes a bare address; the port goes in "
                    "port:)",
                    addr_strerror(rc), s);
    memcpy(u->addr.text, s, strlen(s) + 1);
    return 0;
}

static int u_auth_name(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_upstream *u = &((struct upstream_parse *)obj)->u;
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

static int u_pinset(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    log_warnx("%s:%lu: %s: ignored; daneguard authenticates upstreams by tls_auth_name only",
              p->name, line_of(v), key);
    return 0;
}

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

static void apply_defaults(const struct key_def *defs, void *obj);

static int r_upstreams(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config_resolver *r = obj;
    yaml_node_t *seq = get_list(p, v, key, "upstream servers (mappings with address_data)",
                                CONFIG_MAX_ADDRS),
                *item;
    size_t count = 0;

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        struct upstream_parse up;

        if (item->type != YAML_MAPPING_NODE)
            return fail_expected(p, item, key,
                                 "a mapping with address_data (and port, tls_port, "
                                 "tls_auth_name)");
        memset(&up, 0, sizeof up);
        apply_defaults(upstream_keys, &up);
        if (walk_mapping(p, item, key, upstream_keys, &up) < 0)
            return -1;
        if (!up.u.addr.len)
            return fail(p, item, key, "address_data is missing");
        addr_set_port(&up.u.addr.ss, up.port);
        for (size_t i = 0; i < count; i++)
            if (r->upstreams[i].addr.len == up.u.addr.len &&
                memcmp(&r->upstreams[i].addr.ss, &up.u.addr.ss, up.u.addr.len) == 0)
                return fail(p, item, key, "%s is listed twice", up.u.addr.text);
        r->upstreams[count++] = up.u;
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
            return fail_expected(p, item, key,
                                 "UDP, TCP or TLS (or GETDNS_TRANSPORT_UDP/TCP/TLS)");
        for (size_t j = 0; j < count; j++)
            if (r->transports[j] == names[i].t)
                return fail(p, item, key, "%s is listed twice", s);
        r->transports[count++] = names[i].t;
    }
    if (count == 0)
        return fail(p, v, key, "at least one transport is needed (UDP, TCP or TLS)");
    r->n_transports = count;
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

/* Stubby's resolution_type: daneguard is a stub, nothing else can be chosen. */
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

/* Stubby's dnssec and dnssec_return_status: validation cannot be turned off. */
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

static int x_allowed_ports(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    static const struct key_def port = {.kind = KIND_PORT, .min = 1, .max = 65535};
    struct config_proxy *px = obj;
    yaml_node_t *seq = get_list(p, v, key, "port numbers", CONFIG_MAX_PORTS), *item;
    size_t count = 0;

    if (!seq)
        return -1;
    LIST_FOREACH(p, seq, item)
    {
        unsigned long long n;
        if (get_number(p, item, key, &port, &n) < 0)
            return -1;
        px->allowed_ports[count++] = (uint16_t)n;
    }
    px->n_allowed_ports = count;
    return 0;
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
        const char *dash;
        char lo_s[8];
        uint16_t lo, hi;

        if (!s)
            return -1;
        dash = strchr(s, '-');
        if (!dash) {
            if (addr_port_parse(s, &lo) != 0)
                return fail_expected(p, item, key, "a port number 1..65535 or a range");
            hi = lo;
        } else {
            if ((size_t)(dash - s) >= sizeof lo_s)
                return fail_expected(p, item, key, "a range like \"1024-65535\"");
            memcpy(lo_s, s, (size_t)(dash - s));
            lo_s[dash - s] = '\0';
            if (addr_port_parse(lo_s, &lo) != 0 || addr_port_parse(dash + 1, &hi) != 0)
                return fail_expected(p, item, key, "a range like \"1024-65535\"");
            if (lo > hi)
                return fail(p, item, key, "range %u-%u is backwards", lo, hi);
        }
        px->http_ports[count++] = (struct config_port_range){lo, hi};
    }
    px->n_http_ports = count;
    return 0;
}

static int t_user(struct parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct config *cfg = obj;
    const char *s;

    if (is_null(v)) {
        cfg->user[0] = '\0';
        return 0;
    }
    if (!(s = scalar(p, v, key, "a user name")))
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

#define KEYS_OF struct config_resolver
static const struct key_def resolver_keys[] = {
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
    K_PATH("resolv_conf", resolv_conf, "/etc/resolv.conf"),
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

#define KEYS_OF struct config
static const struct key_def top_keys[] = {
    K_FUNC("user", t_user),
    K_SECTION("resolver", resolver, resolver_keys),
    K_SECTION("proxy", proxy, proxy_keys),
    K_END,
};
#undef KEYS_OF

/* ---- walking a mapping against a table ------------------------------------------ */

/* A number, flag or choice into its field, whatever the field's width. Flag
 * and choice fields are ints or enums: for the small non-negative values they
 * take, the same bytes as an unsigned integer of their size. */
static void store_number(void *field, size_t size, unsigned long long v)
{
    uint16_t v16 = (uint16_t)v;
    uint32_t v32 = (uint32_t)v;
    uint64_t v64 = v;

    if (size == sizeof v16)
        memcpy(field, &v16, size);
    else if (size == sizeof v32)
        memcpy(field, &v32, size);
    else if (size == sizeof v64)
        memcpy(field, &v64, size);
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

/* The value v of key d (full name key) into obj, the struct of d's table. */
static int read_key(struct parse *p, yaml_node_t *v, const char *key, const struct key_def *d,
                    void *obj)
{
    char *field = (char *)obj + d->offset;
    unsigned long long n = 0;
    size_t count = 0;
    int rc;

    switch (d->kind) {
    case KIND_COUNT:
    case KIND_MSECS:
    case KIND_SECONDS:
    case KIND_PORT:
        rc = get_number(p, v, key, d, &n);
        break;
    case KIND_BYTES:
        rc = get_size(p, v, key, d, &n);
        break;
    case KIND_FLAG:
        rc = get_flag(p, v, key, &n);
        break;
    case KIND_CHOICE:
        rc = get_choice(p, v, key, d->choices, &n);
        break;
    case KIND_PATH:
        return get_path(p, v, key, field, d->size);
    case KIND_ENDPOINTS:
        if (get_endpoints(p, v, key, (struct config_sockaddr *)(void *)field,
                          d->size / sizeof(struct config_sockaddr), (uint16_t)d->dflt, &count) < 0)
            return -1;
        memcpy((char *)obj + d->count_offset, &count, sizeof count);
        return 0;
    case KIND_NETWORKS:
        if (get_networks(p, v, key, (struct addr_cidr *)(void *)field,
                         d->size / sizeof(struct addr_cidr), &count) < 0)
            return -1;
        memcpy((char *)obj + d->count_offset, &count, sizeof count);
        return 0;
    case KIND_SECTION:
        return section(p, v, key, d->keys, field);
    case KIND_FUNC:
        return d->fn(p, v, key, obj);
    case KIND_IGNORED_SCALAR:
        if (v->type != YAML_SCALAR_NODE)
            return fail_expected(p, v, key, "a single value");
        /* fall through */
    case KIND_IGNORED:
    default:
        log_debug("%s:%lu: %s: a Stubby setting daneguard does not use; ignored", p->name,
                  line_of(v), key);
        return 0;
    }
    if (rc == 0)
        store_number(field, d->size, n);
    return rc;
}

/* Every default the table carries (lists and structure: config_defaults()). */
static void apply_defaults(const struct key_def *defs, void *obj)
{
    for (const struct key_def *d = defs; d->name; d++) {
        char *field = (char *)obj + d->offset;

        switch (d->kind) {
        case KIND_COUNT:
        case KIND_MSECS:
        case KIND_SECONDS:
        case KIND_PORT:
        case KIND_BYTES:
        case KIND_FLAG:
        case KIND_CHOICE:
            store_number(field, d->size, d->dflt);
            break;
        case KIND_PATH:
            snprintf(field, d->size, "%s", d->dflt_text);
            break;
        case KIND_SECTION:
            apply_defaults(d->keys, field);
            break;
        default:
            break;
        }
    }
}

static const struct key_def *find_key(const struct key_def *defs, const char *name)
{
    for (; defs->name; defs++)
        if (strcmp(defs->name, name) == 0)
            return defs;
    return NULL;
}

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

/* "unknown key", with a near name of this mapping, or the sections a key
 * misplaced at the top level belongs in. */
static int unknown_key(struct parse *p, yaml_node_t *knode, const char *full,
                       const struct key_def *defs)
{
    const char *name = (const char *)knode->data.scalar.value, *best = NULL, *in[2] = {NULL};
    size_t best_d = SIZE_MAX, limit = strlen(name) / 3 < 2 ? 2 : strlen(name) / 3, n_in = 0;

    for (const struct key_def *d = defs; d->name; d++) {
        size_t dist = edit_distance(name, d->name);
        if (dist < best_d) {
            best_d = dist;
            best = d->name;
        }
    }
    if (best && best_d <= limit)
        return fail(p, knode, full, "unknown key; did you mean \"%s\"?", best);
    for (const struct key_def *d = defs; d->name; d++)
        if (d->kind == KIND_SECTION && find_key(d->keys, name) && n_in < 2)
            in[n_in++] = d->name;
    if (n_in == 2)
        return fail(p, knode, full, "unknown key at the top level; it belongs under %s: or %s:",
                    in[0], in[1]);
    if (n_in == 1)
        return fail(p, knode, full, "unknown key at the top level; it belongs under %s:", in[0]);
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
        if (read_key(p, v, full, def, obj) < 0)
            return -1;
    }
    return 0;
}

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
    apply_defaults(top_keys, cfg);

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

/* The value of section.key as written, or NULL when the file does not give it. */
static yaml_node_t *given(struct parse *p, const char *section, const char *key)
{
    const char *path[2] = {section, key};
    yaml_node_t *node = yaml_document_get_root_node(p->doc);

    for (int i = 0; i < 2 && node; i++) {
        yaml_node_t *found = NULL;
        if (node->type != YAML_MAPPING_NODE)
            return NULL;
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top && !found; pair++) {
            yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
            if (k && k->type == YAML_SCALAR_NODE &&
                strcmp((const char *)k->data.scalar.value, path[i]) == 0)
                found = yaml_document_get_node(p->doc, pair->value);
        }
        node = found;
    }
    return node;
}

/* The line of item i of the list section.key; 0 when the file does not give it. */
static unsigned long item_line(struct parse *p, const char *section, const char *key, size_t i)
{
    yaml_node_t *v = given(p, section, key);

    if (!v || v->type != YAML_SEQUENCE_NODE ||
        i >= (size_t)(v->data.sequence.items.top - v->data.sequence.items.start))
        return 0;
    return line_of(yaml_document_get_node(p->doc, v->data.sequence.items.start[i]));
}

static int cross_check(struct parse *p)
{
    const struct config_resolver *r = &p->cfg->resolver;
    const struct config_proxy *px = &p->cfg->proxy;
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
                return fail_at(p, item_line(p, "resolver", "upstream_recursive_servers", i),
                               "resolver.upstream_recursive_servers",
                               "%s is daneguard's own listener %s; it would query itself",
                               r->upstreams[i].addr.text, r->listen[j].text);
        }

    if (px->enabled)
        for (size_t i = 0; i < px->n_listen; i++)
            for (size_t j = 0; j < r->n_listen; j++)
                if (r->listen[j].len == px->listen[i].len &&
                    memcmp(&r->listen[j].ss, &px->listen[i].ss, px->listen[i].len) == 0) {
                    unsigned long line = item_line(p, "proxy", "listen_addresses", i);
                    if (line)
                        return fail_at(p, line, "proxy.listen_addresses",
                                       "%s is also a resolver listen address", px->listen[i].text);
                    return fail_at(p, item_line(p, "resolver", "listen_addresses", j),
                                   "resolver.listen_addresses",
                                   "%s is also the proxy's listen address", r->listen[j].text);
                }

    for (size_t i = 0; i < r->n_transports; i++)
        tls |= r->transports[i] == CONFIG_TRANSPORT_TLS;
    if (tls && r->tls_authentication_required) {
        unsigned long transports_line = line_of(given(p, "resolver", "dns_transport_list"));
        if (r->n_upstreams == 0)
            return fail_at(p,
                           transports_line ? transports_line
                                           : line_of(given(p, "resolver", "tls_authentication")),
                           transports_line ? "resolver.dns_transport_list"
                                           : "resolver.tls_authentication",
                           "TLS with GETDNS_AUTHENTICATION_REQUIRED needs "
                           "upstream_recursive_servers with tls_auth_name (servers from "
                           "resolv_conf have no name to authenticate)");
        for (size_t i = 0; i < r->n_upstreams; i++)
            if (!r->upstreams[i].tls_auth_name[0])
                return fail_at(p, item_line(p, "resolver", "upstream_recursive_servers", i),
                               "resolver.upstream_recursive_servers",
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
    if (!given(p, "proxy", "max_connections_per_client")) {
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
