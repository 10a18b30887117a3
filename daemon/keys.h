/* daemon/keys.h — reading a YAML document (libyaml) against tables of keys: the
 * engine behind daemon/config.c, private to it (not in include/).
 *
 * A table names each key once, with its kind, the field it fills (offsetof
 * into the struct of the mapping it is in), its range and its default, in the
 * manner of Unbound's util/config_file.c; keys.c reads each kind and writes
 * every message. A key with structure of its own is a KIND_FUNC row whose
 * function uses the readers below.
 *
 * Every error is one line, "FILE:LINE: KEY: what is wrong" (LINE 1-based from
 * libyaml's marks), written into p->err (CONFIG_ERR_LEN bytes); every function
 * that can fail returns -1 (or NULL) after writing it. Nothing here allocates
 * or keeps a pointer into the document past the call.
 */
#ifndef DANEGUARD_KEYS_H
#define DANEGUARD_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "config.h"
#include "log.h"

/* One walk of one document. */
struct keys_parse {
    const char *name;     /* file name for messages */
    yaml_document_t *doc; /* the document walked */
    char *err;            /* CONFIG_ERR_LEN bytes for the message */
};

/* ---- tables ------------------------------------------------------------------ */

enum key_kind {
    KIND_COUNT,          /* a whole number, min..max */
    KIND_MSECS,          /* the same, in milliseconds */
    KIND_SECONDS,        /* the same, in seconds */
    KIND_PORT,           /* a port number, 1..65535 */
    KIND_BYTES,          /* a size: a number with an optional k/m/g suffix, min..max bytes */
    KIND_FLAG,           /* true or false (an int) */
    KIND_PATH,           /* a file or directory path (a char array) */
    KIND_CHOICE,         /* one of some words (an int or an enum) */
    KIND_ENDPOINTS,      /* a list of "addr@port" (struct config_sockaddr[], a size_t count) */
    KIND_NETWORKS,       /* a list of "net/prefix" (struct addr_cidr[], a size_t count) */
    KIND_SECTION,        /* a mapping with keys of its own */
    KIND_FUNC,           /* a value with structure: a function reads it */
    KIND_IGNORED,        /* a Stubby setting daneguard does not use: any value */
    KIND_IGNORED_SCALAR, /* the same, but a single value */
};

struct key_def;

/* A key with structure: reads value (its full name is key) into obj, the
 * struct of its table. 0, or -1 with the message in p->err. */
typedef int (*key_fn)(struct keys_parse *p, yaml_node_t *value, const char *key, void *obj);

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
    size_t offset, size;               /* the field: offsetof and sizeof in the section's struct */
    size_t count_offset;               /* KIND_ENDPOINTS, KIND_NETWORKS: the size_t item count */
    unsigned long long min, max;       /* numbers and sizes */
    unsigned long long dflt;           /* the default of a number, flag or choice; a list's port */
    const char *dflt_text;             /* the default of a path */
    const struct key_choices *choices; /* KIND_CHOICE */
    const struct key_def *keys;        /* KIND_SECTION: its table */
    key_fn fn;                         /* KIND_FUNC */
};

/* One row per key; before a table, #define KEYS_OF as the struct its fields
 * are in (and #undef it after):
 *   K_COUNT(name, field, min, max, default)   a number of things
 *   K_MSECS, K_SECONDS (the same arguments)   a duration
 *   K_PORT(name, field, default)              1..65535
 *   K_BYTES(name, field, min, max, default)   a size, "64k", "32m"
 *   K_FLAG(name, field, default)              true or false, into an int
 *   K_CHOICE(name, field, &choices, default)  one of the words, into an int or enum
 *   K_PATH(name, field, "default")            into a char array
 *   K_ENDPOINTS(name, array, count, port)     "addr@port" list; port when none is written
 *   K_NETWORKS(name, array, count)            "net/prefix" list
 *   K_SECTION(name, field, table)             a mapping with a table of its own
 *   K_FUNC(name, fn)                          a key with structure
 *   K_IGNORED(name), K_IGNORED_SCALAR(name)   accepted, logged, not used
 * A number field is 2, 4 or 8 bytes wide and max must fit it (test_config
 * checks every table). */
/* clang-format off */
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
/* clang-format on */

/* Walk mapping map (its full name prefix, "" at the top) against defs into
 * obj: unknown keys (with a "did you mean"), duplicates and every value are
 * errors. Returns 0 or -1. */
int keys_walk(struct keys_parse *p, yaml_node_t *map, const char *prefix,
              const struct key_def *defs, void *obj);

/* Write every default defs carries into obj (into sections too); lists and
 * KIND_FUNC keys are left to the caller. */
void keys_defaults(const struct key_def *defs, void *obj);

/* ---- messages ----------------------------------------------------------------- */

/* node's 1-based line; 0 for NULL. */
unsigned long keys_line(const yaml_node_t *node);

/* Write "FILE:LINE: KEY: " and the message. Returns -1. */
int keys_fail_at(struct keys_parse *p, unsigned long line, const char *key, const char *fmt, ...)
    LOG_PRINTF(4, 5);

#define keys_fail(p, node, key, ...) keys_fail_at((p), keys_line(node), (key), __VA_ARGS__)

/* "expected WHAT, got ..." with what node is. Returns -1. */
int keys_expected(struct keys_parse *p, yaml_node_t *node, const char *key, const char *what);

/* What a node is, for "got ...": "a list", "nothing", "\"text\"" (into buf). */
const char *keys_node_desc(const yaml_node_t *node, char *buf, size_t size);

/* Whether node is YAML's null (a plain "", "~", "null"). */
int keys_is_null(const yaml_node_t *node);

/* "LINE: syntax error: ..." for where parser stopped, with a hint for common slips. Returns -1. */
int keys_syntax_error(struct keys_parse *p, const yaml_parser_t *parser);

/* ---- values, for keys with structure ------------------------------------------- */

/* The scalar's text (in the document), or NULL after "expected WHAT, got ...". */
const char *keys_scalar(struct keys_parse *p, yaml_node_t *node, const char *key, const char *what);

/* The sequence node, or NULL after an error; at most max items. */
yaml_node_t *keys_list(struct keys_parse *p, yaml_node_t *node, const char *key, const char *what,
                       size_t max);

#define KEYS_FOREACH(p, seq, item)                                                                 \
    for (yaml_node_item_t *item##_i = (seq)->data.sequence.items.start;                            \
         item##_i < (seq)->data.sequence.items.top &&                                              \
         ((item) = yaml_document_get_node((p)->doc, *item##_i)) != NULL;                           \
         item##_i++)

/* A number of kind d->kind (KIND_COUNT, MSECS, SECONDS, PORT) in d's range. */
int keys_number(struct keys_parse *p, yaml_node_t *node, const char *key, const struct key_def *d,
                unsigned long long *out);

/* A non-empty path that fits out[size]. */
int keys_path(struct keys_parse *p, yaml_node_t *node, const char *key, char *out, size_t size);

/* 1 for true/yes/on/1/GETDNS_EXTENSION_TRUE, 0 for their opposites, else -1. */
int keys_bool_word(const char *v);

/* "addr@port" into *out (text kept for logs): 0 or an ADDR_E* code. */
int keys_endpoint_parse(const char *text, uint16_t default_port, struct config_sockaddr *out);

/* ---- the document, for cross-checks -------------------------------------------- */

/* The value of section.key as written, or NULL when the document does not give it. */
yaml_node_t *keys_given(struct keys_parse *p, const char *section, const char *key);

/* The line of item i of the list section.key; 0 when not given. */
unsigned long keys_item_line(struct keys_parse *p, const char *section, const char *key, size_t i);

#endif
