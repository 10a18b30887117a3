/* daemon/keys.c — reading a YAML document against tables of keys (keys.h):
 * one reader per kind, every message, unknown-key suggestions, and finding
 * what the document gave for cross-checks.
 *
 * The walker never descends generically: each key knows the shape of its
 * value, so aliases (even cyclic ones) and deep nesting cannot make it loop.
 */
#include "keys.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "log.h"

/* ---- addresses ("addr@port": daemon/addr.c) --------------------------------- */

/* 0, or the ADDR_E* code that says why text is not an address. */
int keys_endpoint_parse(const char *text, uint16_t default_port, struct config_sockaddr *out)
{
    int rc;

    memset(out, 0, sizeof *out);
    rc = addr_parse_endpoint(text, default_port, &out->ss, &out->len);
    if (rc == 0)
        memcpy(out->text, text, strlen(text) + 1); /* fits: ADDR_ENDPOINT_MAX */
    return rc;
}

/* ---- messages ------------------------------------------------------------ */

unsigned long keys_line(const yaml_node_t *node)
{
    return node ? (unsigned long)node->start_mark.line + 1 : 0;
}

int keys_fail_at(struct keys_parse *p, unsigned long line, const char *key, const char *fmt, ...)
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

int keys_is_null(const yaml_node_t *node)
{
    const char *v;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    v = (const char *)node->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* What a node is, for "got ..." in messages. */
const char *keys_node_desc(const yaml_node_t *node, char *buf, size_t size)
{
    if (node->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (node->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (keys_is_null(node))
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
int keys_expected(struct keys_parse *p, yaml_node_t *node, const char *key, const char *what)
{
    char buf[64];
    return keys_fail(p, node, key, "expected %s, got %s", what,
                     keys_node_desc(node, buf, sizeof buf));
}

/* The scalar's text, or NULL after an error "expected WHAT, got ...". */
const char *keys_scalar(struct keys_parse *p, yaml_node_t *node, const char *key, const char *what)
{
    if (node->type != YAML_SCALAR_NODE || keys_is_null(node)) {
        keys_expected(p, node, key, what);
        return NULL;
    }
    if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length) {
        keys_fail(p, node, key, "expected %s, got a value with a NUL byte", what);
        return NULL;
    }
    return (const char *)node->data.scalar.value;
}

/* ---- values ------------------------------------------------------------------- */

static const char *number_unit(const struct key_def *d)
{
    return d->kind == KIND_MSECS ? "milliseconds" : d->kind == KIND_SECONDS ? "seconds" : NULL;
}

/* A decimal number of a KIND_COUNT/MSECS/SECONDS/PORT key, in its range. */
int keys_number(struct keys_parse *p, yaml_node_t *node, const char *key, const struct key_def *d,
                unsigned long long *out)
{
    const char *unit = number_unit(d), *v;
    char what[64];
    unsigned long long n = 0;

    if (d->kind == KIND_PORT)
        snprintf(what, sizeof what, "a port number");
    else
        snprintf(what, sizeof what, "a %s integer%s%s%s", d->min ? "positive" : "non-negative",
                 unit ? " (" : "", unit ? unit : "", unit ? ")" : "");
    if (!(v = keys_scalar(p, node, key, what)))
        return -1;
    if (!*v)
        return keys_fail(p, node, key, "expected %s, got \"\"", what);
    for (const char *s = v; *s; s++) {
        if (*s < '0' || *s > '9' || n > (ULLONG_MAX - 9) / 10)
            return keys_expected(p, node, key, what);
        n = n * 10 + (unsigned long long)(*s - '0');
    }
    if (n < d->min || n > d->max)
        return keys_fail(p, node, key, "%llu is out of range (%llu..%llu%s%s)", n, d->min, d->max,
                         unit ? " " : "", unit ? unit : "");
    *out = n;
    return 0;
}

/* Bytes: a number with an optional k/m/g suffix (powers of 1024; "32m", "512KiB"). */
static int get_size(struct keys_parse *p, yaml_node_t *node, const char *key,
                    const struct key_def *d, unsigned long long *out)
{
    static const char what[] = "a size in bytes (a number, or with a k/m/g suffix: \"32m\")";
    const char *v = keys_scalar(p, node, key, what), *s;
    unsigned long long n = 0;
    int shift = 0;

    if (!v)
        return -1;
    for (s = v; *s >= '0' && *s <= '9'; s++) {
        if (n > (ULLONG_MAX - 9) / 10)
            return keys_expected(p, node, key, what);
        n = n * 10 + (unsigned long long)(*s - '0');
    }
    if (s == v)
        return keys_expected(p, node, key, what);
    if (*s == 'k' || *s == 'K')
        shift = 10;
    else if (*s == 'm' || *s == 'M')
        shift = 20;
    else if (*s == 'g' || *s == 'G')
        shift = 30;
    else if (*s)
        return keys_expected(p, node, key, what);
    if (shift && *++s && strcasecmp(s, "b") != 0 && strcasecmp(s, "ib") != 0)
        return keys_expected(p, node, key, what);
    if (n > (ULLONG_MAX >> shift))
        return keys_fail(p, node, key, "%s is out of range", v);
    n <<= shift;
    if (n < d->min || n > d->max)
        return keys_fail(p, node, key, "%s (%llu bytes) is out of range (%llu..%llu bytes)", v, n,
                         d->min, d->max);
    *out = n;
    return 0;
}

int keys_bool_word(const char *v)
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

static int get_flag(struct keys_parse *p, yaml_node_t *node, const char *key,
                    unsigned long long *out)
{
    const char *v = keys_scalar(p, node, key, "true or false");
    int b;

    if (!v)
        return -1;
    if ((b = keys_bool_word(v)) < 0)
        return keys_expected(p, node, key, "true or false");
    *out = (unsigned long long)b;
    return 0;
}

static int get_choice(struct keys_parse *p, yaml_node_t *node, const char *key,
                      const struct key_choices *c, unsigned long long *out)
{
    const char *v = keys_scalar(p, node, key, c->what);

    if (!v)
        return -1;
    for (size_t i = 0; c->words[i].word; i++)
        if (strcasecmp(v, c->words[i].word) == 0) {
            *out = (unsigned long long)c->words[i].value;
            return 0;
        }
    return keys_expected(p, node, key, c->what);
}

int keys_path(struct keys_parse *p, yaml_node_t *node, const char *key, char *out, size_t size)
{
    const char *v = keys_scalar(p, node, key, "a file or directory path");

    if (!v)
        return -1;
    if (!*v)
        return keys_fail(p, node, key, "expected a file or directory path, got \"\"");
    if (strlen(v) >= size)
        return keys_fail(p, node, key, "path is too long (at most %zu characters)", size - 1);
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* The sequence node, or NULL after an error; checks the item count. */
yaml_node_t *keys_list(struct keys_parse *p, yaml_node_t *node, const char *key, const char *what,
                       size_t max)
{
    char buf[64];
    size_t n;

    if (node->type != YAML_SEQUENCE_NODE) {
        keys_fail(p, node, key, "expected a list of %s%s, got %s", what,
                  keys_is_null(node) ? " (write [] for an empty list)" : "",
                  keys_node_desc(node, buf, sizeof buf));
        return NULL;
    }
    n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n > max) {
        yaml_node_t *extra = yaml_document_get_node(p->doc, node->data.sequence.items.start[max]);
        keys_fail(p, extra ? extra : node, key, "too many items (%zu, at most %zu)", n, max);
        return NULL;
    }
    return node;
}

static int get_endpoints(struct keys_parse *p, yaml_node_t *v, const char *key,
                         struct config_sockaddr *list, size_t max, uint16_t default_port, size_t *n)
{
    yaml_node_t *seq = keys_list(p, v, key, "addresses (\"addr@port\")", max), *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        const char *s = keys_scalar(p, item, key, "an address (\"addr@port\" or \"addr\")");
        struct config_sockaddr sa;
        int rc;

        if (!s)
            return -1;
        if ((rc = keys_endpoint_parse(s, default_port, &sa)) < 0)
            return keys_fail(p, item, key, "%s: \"%s\" (expected \"addr@port\" or \"addr\")",
                             addr_strerror(rc), s);
        for (size_t i = 0; i < count; i++)
            if (list[i].len == sa.len && memcmp(&list[i].ss, &sa.ss, sa.len) == 0)
                return keys_fail(p, item, key, "\"%s\" is listed twice", s);
        list[count++] = sa;
    }
    *n = count;
    return 0;
}

static int get_networks(struct keys_parse *p, yaml_node_t *v, const char *key,
                        struct addr_cidr *list, size_t max, size_t *n)
{
    yaml_node_t *seq = keys_list(p, v, key, "networks (\"192.168.0.0/16\")", max), *item;
    size_t count = 0;

    if (!seq)
        return -1;
    KEYS_FOREACH(p, seq, item)
    {
        const char *s = keys_scalar(p, item, key, "a network (\"addr/prefix\" or \"addr\")");
        int rc;

        if (!s)
            return -1;
        if ((rc = addr_cidr_parse(s, &list[count])) < 0)
            return keys_fail(p, item, key, "%s: \"%s\" (expected \"addr/prefix\" or \"addr\")",
                             addr_strerror(rc), s);
        count++;
    }
    *n = count;
    return 0;
}

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

static int section(struct keys_parse *p, yaml_node_t *v, const char *key,
                   const struct key_def *defs, void *obj)
{
    char buf[64];

    if (keys_is_null(v)) /* "proxy:" with every key commented out */
        return 0;
    if (v->type != YAML_MAPPING_NODE)
        return keys_fail(p, v, key, "expected a mapping of %s settings, got %s", key,
                         keys_node_desc(v, buf, sizeof buf));
    return keys_walk(p, v, key, defs, obj);
}

/* The value v of key d (full name key) into obj, the struct of d's table. */
static int read_key(struct keys_parse *p, yaml_node_t *v, const char *key, const struct key_def *d,
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
        rc = keys_number(p, v, key, d, &n);
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
        return keys_path(p, v, key, field, d->size);
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
            return keys_expected(p, v, key, "a single value");
        /* fall through */
    case KIND_IGNORED:
    default:
        log_info("%s:%lu: %s: a Stubby setting that does not apply to daneguard; ignored",
                 p->name, keys_line(v), key);
        return 0;
    }
    if (rc == 0)
        store_number(field, d->size, n);
    return rc;
}

/* Every default the table carries (lists and structure: config_defaults()). */
void keys_defaults(const struct key_def *defs, void *obj)
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
            keys_defaults(d->keys, field);
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
static int unknown_key(struct keys_parse *p, yaml_node_t *knode, const char *full,
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
        return keys_fail(p, knode, full, "unknown key; did you mean \"%s\"?", best);
    for (const struct key_def *d = defs; d->name; d++)
        if (d->kind == KIND_SECTION && find_key(d->keys, name) && n_in < 2)
            in[n_in++] = d->name;
    if (n_in == 2)
        return keys_fail(p, knode, full,
                         "unknown key at the top level; it belongs under %s: or %s:", in[0], in[1]);
    if (n_in == 1)
        return keys_fail(p, knode, full,
                         "unknown key at the top level; it belongs under %s:", in[0]);
    return keys_fail(p, knode, full, "unknown key");
}

int keys_walk(struct keys_parse *p, yaml_node_t *map, const char *prefix,
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
            return keys_fail(p, map, prefix[0] ? prefix : "(top level)", "malformed mapping");
        if (k->type != YAML_SCALAR_NODE ||
            strlen((const char *)k->data.scalar.value) != k->data.scalar.length)
            return keys_fail(p, k, prefix[0] ? prefix : "(top level)",
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
                return keys_fail(p, k, full, "duplicate key (first given on line %lu)",
                                 keys_line(pk));
        }
        def = find_key(defs, name);
        if (!def)
            return unknown_key(p, k, full, defs);
        if (read_key(p, v, full, def, obj) < 0)
            return -1;
    }
    return 0;
}

/* The value of section.key as written, or NULL when the file does not give it. */
yaml_node_t *keys_given(struct keys_parse *p, const char *section, const char *key)
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
unsigned long keys_item_line(struct keys_parse *p, const char *section, const char *key, size_t i)
{
    yaml_node_t *v = keys_given(p, section, key);

    if (!v || v->type != YAML_SEQUENCE_NODE ||
        i >= (size_t)(v->data.sequence.items.top - v->data.sequence.items.start))
        return 0;
    return keys_line(yaml_document_get_node(p->doc, v->data.sequence.items.start[i]));
}

int keys_syntax_error(struct keys_parse *p, const yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "malformed YAML";

    if (parser->error == YAML_READER_ERROR)
        return keys_fail_at(p, (unsigned long)parser->problem_mark.line + 1, "syntax error",
                            "%s (at byte %zu)", problem, parser->problem_offset);
    if (strcmp(problem, "mapping values are not allowed in this context") == 0)
        return keys_fail_at(p, (unsigned long)parser->problem_mark.line + 1, "syntax error",
                            "%s (a missing ':' after a key on the line before, or a value "
                            "containing \": \" that needs quotes?)",
                            problem);
    if (parser->context)
        return keys_fail_at(p, (unsigned long)parser->problem_mark.line + 1, "syntax error",
                            "%s %s (started on line %lu)", problem, parser->context,
                            (unsigned long)parser->context_mark.line + 1);
    return keys_fail_at(p, (unsigned long)parser->problem_mark.line + 1, "syntax error", "%s",
                        problem);
}
