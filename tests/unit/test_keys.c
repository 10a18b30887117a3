/* tests/unit/test_keys.c — daemon/keys.c, the engine that reads a YAML document
 * against key tables: each kind on a table of its own (not daneguard's keys,
 * test_config.c has those), field widths, defaults, range and type errors with
 * their exact text, unknown keys, and the document lookups for cross-checks. */
#include "../../daemon/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

struct inner {
    uint32_t depth;
    char name[8];
    struct addr_cidr nets[3];
    size_t n_nets;
};

/* one field of every kind, in every width a number comes in */
struct demo {
    uint16_t port;
    uint32_t ms;
    uint32_t secs;
    size_t count;
    size_t bytes;
    uint32_t small_bytes;
    int flag;
    enum demo_colour { RED = 1, GREEN = 2 } colour;
    char path[8];
    struct config_sockaddr eps[2];
    size_t n_eps;
    struct addr_cidr nets[2];
    size_t n_nets;
    struct inner inner;
    int func_calls;
};

static int demo_func(struct keys_parse *p, yaml_node_t *v, const char *key, void *obj)
{
    struct demo *d = obj;
    if (!keys_scalar(p, v, key, "anything"))
        return -1;
    d->func_calls++;
    return 0;
}

static const struct key_choices colours = {
    "red or green",
    {{"red", RED}, {"green", GREEN}, {"verde", GREEN}, {NULL, 0}},
};

/* clang-format off */
#define KEYS_OF struct inner
static const struct key_def inner_keys[] = {
    K_COUNT("depth", depth, 0, 9, 3),
    K_PATH("name", name, "in"),
    K_NETWORKS("nets", nets, n_nets),
    K_END,
};
#undef KEYS_OF

#define KEYS_OF struct demo
static const struct key_def demo_keys[] = {
    K_PORT("port", port, 53),
    K_MSECS("wait", ms, 1, 60000, 2500),
    K_SECONDS("ttl", secs, 0, 86400, 60),
    K_COUNT("count", count, 1, 5000000000ULL, 7),
    K_BYTES("bytes", bytes, 1024, 8ULL << 30, 1 << 20),
    K_BYTES("small_bytes", small_bytes, 1, 16 << 20, 4096),
    K_FLAG("flag", flag, 1),
    K_CHOICE("colour", colour, &colours, GREEN),
    K_PATH("path", path, "/d"),
    K_ENDPOINTS("listen", eps, n_eps, 5300),
    K_NETWORKS("nets", nets, n_nets),
    K_SECTION("inner", inner, inner_keys),
    K_FUNC("func", demo_func),
    K_IGNORED("any_old_thing"),
    K_IGNORED_SCALAR("one_old_thing"),
    K_END,
};
#undef KEYS_OF
/* clang-format on */

static struct demo demo;
static char err[CONFIG_ERR_LEN];
static yaml_document_t doc;
static int loaded; /* doc holds a document */
static struct keys_parse parse;

/* Load yaml into doc (kept until the next call) and walk it into demo,
 * defaults first. */
static int walk(const char *yaml)
{
    yaml_parser_t parser;
    yaml_node_t *root;

    if (loaded)
        yaml_document_delete(&doc);
    loaded = 0;
    memset(&demo, 0x5a, sizeof demo);
    memset(&demo.eps, 0, sizeof demo.eps);
    demo.n_eps = demo.n_nets = 0;
    demo.func_calls = 0;
    keys_defaults(demo_keys, &demo);
    err[0] = '\0';
    parse = (struct keys_parse){.name = "k.yml", .doc = &doc, .err = err};
    if (!yaml_parser_initialize(&parser))
        return -2;
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = keys_syntax_error(&parse, &parser);
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_parser_delete(&parser);
    loaded = 1;
    root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return 0;
    return keys_walk(&parse, root, "", demo_keys, &demo);
}

#define CHECK_WALK_ERR(yaml, message)                                                              \
    do {                                                                                           \
        CHECK_INT_EQ(walk(yaml), -1);                                                              \
        CHECK_STR_EQ(err, message);                                                                \
    } while (0)

static void test_defaults(void)
{
    CHECK_INT_EQ(walk(""), 0);
    CHECK_INT_EQ(demo.port, 53);
    CHECK_INT_EQ(demo.ms, 2500);
    CHECK_INT_EQ(demo.secs, 60);
    CHECK_INT_EQ(demo.count, 7);
    CHECK_INT_EQ(demo.bytes, 1 << 20);
    CHECK_INT_EQ(demo.small_bytes, 4096);
    CHECK_INT_EQ(demo.flag, 1);
    CHECK_INT_EQ(demo.colour, GREEN);
    CHECK_STR_EQ(demo.path, "/d");
    CHECK_INT_EQ(demo.inner.depth, 3); /* into sections too */
    CHECK_STR_EQ(demo.inner.name, "in");
    CHECK_INT_EQ(demo.n_eps, 0); /* lists: the caller's */
    CHECK_INT_EQ(demo.func_calls, 0);
}

static void test_each_kind(void)
{
    char text[ADDR_TEXT_MAX];

    CHECK_INT_EQ(walk("port: 65535\n"
                      "wait: 60000\n"
                      "ttl: 0\n"
                      "count: 5000000000\n"
                      "bytes: 8g\n"
                      "small_bytes: 16m\n"
                      "flag: off\n"
                      "colour: RED\n"
                      "path: /a/b\n"
                      "listen: [127.0.0.1, \"[::1]:53\"]\n"
                      "nets: [10.0.0.0/8]\n"
                      "inner: {depth: 9, name: x}\n"
                      "func: f\n"
                      "any_old_thing: [1, {a: b}]\n"
                      "one_old_thing: 1\n"),
                 0);
    if (err[0])
        fprintf(stderr, "  %s\n", err);
    /* each field, and nothing next to it (the widths are right) */
    CHECK_INT_EQ(demo.port, 65535);
    CHECK_INT_EQ(demo.ms, 60000);
    CHECK_INT_EQ(demo.secs, 0);
    CHECK_INT_EQ(demo.count, 5000000000ULL);
    CHECK_INT_EQ(demo.bytes, 8ULL << 30);
    CHECK_INT_EQ(demo.small_bytes, 16 << 20);
    CHECK_INT_EQ(demo.flag, 0);
    CHECK_INT_EQ(demo.colour, RED);
    CHECK_STR_EQ(demo.path, "/a/b");
    CHECK_INT_EQ(demo.n_eps, 2);
    CHECK_STR_EQ(demo.eps[0].text, "127.0.0.1");
    CHECK_INT_EQ(addr_port((struct sockaddr *)&demo.eps[0].ss), 5300); /* the row's port */
    CHECK_STR_EQ(
        addr_format((struct sockaddr *)&demo.eps[1].ss, ADDR_FORMAT_PORT, text, sizeof text),
        "[::1]:53");
    CHECK_INT_EQ(demo.n_nets, 1);
    CHECK_INT_EQ(demo.nets[0].prefix, 8);
    CHECK_INT_EQ(demo.inner.depth, 9);
    CHECK_STR_EQ(demo.inner.name, "x");
    CHECK_INT_EQ(demo.func_calls, 1);

    CHECK_INT_EQ(walk("flag: YES\ncolour: verde\nsmall_bytes: 2KiB\n"), 0);
    CHECK_INT_EQ(demo.flag, 1);
    CHECK_INT_EQ(demo.colour, GREEN);
    CHECK_INT_EQ(demo.small_bytes, 2048);
    CHECK_INT_EQ(walk("inner:\n"), 0); /* an empty section keeps its defaults */
    CHECK_INT_EQ(demo.inner.depth, 3);
}

/* What each kind says about a bad value: the exact text. */
static void test_errors(void)
{
    CHECK_WALK_ERR("port: 0\n", "k.yml:1: port: 0 is out of range (1..65535)");
    CHECK_WALK_ERR("port: http\n", "k.yml:1: port: expected a port number, got \"http\"");
    CHECK_WALK_ERR("wait: 0\n", "k.yml:1: wait: 0 is out of range (1..60000 milliseconds)");
    CHECK_WALK_ERR("wait: soon\n",
                   "k.yml:1: wait: expected a positive integer (milliseconds), got \"soon\"");
    CHECK_WALK_ERR("ttl: 86401\n", "k.yml:1: ttl: 86401 is out of range (0..86400 seconds)");
    CHECK_WALK_ERR("ttl: -1\n",
                   "k.yml:1: ttl: expected a non-negative integer (seconds), got \"-1\"");
    CHECK_WALK_ERR("count: 5000000001\n",
                   "k.yml:1: count: 5000000001 is out of range (1..5000000000)");
    CHECK_WALK_ERR("count: 99999999999999999999999\n",
                   "k.yml:1: count: expected a positive integer, got \"99999999999999999999999\"");
    CHECK_WALK_ERR("count: \"\"\n", "k.yml:1: count: expected a positive integer, got \"\"");
    CHECK_WALK_ERR("count:\n", "k.yml:1: count: expected a positive integer, got nothing");
    CHECK_WALK_ERR("count: [1]\n", "k.yml:1: count: expected a positive integer, got a list");
    CHECK_WALK_ERR("bytes: 1023\n",
                   "k.yml:1: bytes: 1023 (1023 bytes) is out of range (1024..8589934592 bytes)");
    CHECK_WALK_ERR("small_bytes: 17m\n", "k.yml:1: small_bytes: 17m (17825792 bytes) is out of "
                                         "range (1..16777216 bytes)");
    CHECK_WALK_ERR("bytes: 2x\n", "k.yml:1: bytes: expected a size in bytes (a number, or with a "
                                  "k/m/g suffix: \"32m\"), got \"2x\"");
    CHECK_WALK_ERR("bytes: 99999999999999999g\n",
                   "k.yml:1: bytes: 99999999999999999g is out of range");
    CHECK_WALK_ERR("flag: maybe\n", "k.yml:1: flag: expected true or false, got \"maybe\"");
    CHECK_WALK_ERR("colour: blue\n", "k.yml:1: colour: expected red or green, got \"blue\"");
    CHECK_WALK_ERR("path: \"\"\n", "k.yml:1: path: expected a file or directory path, got \"\"");
    CHECK_WALK_ERR("path: /12345678\n", "k.yml:1: path: path is too long (at most 7 characters)");
    CHECK_WALK_ERR("listen: [a, b, c]\n", "k.yml:1: listen: too many items (3, at most 2)");
    CHECK_WALK_ERR("listen: [1.2.3.4, 1.2.3.4@5300]\n",
                   "k.yml:1: listen: \"1.2.3.4@5300\" is listed twice");
    CHECK_WALK_ERR("listen: [\"1.2.3.4@0\"]\n",
                   "k.yml:1: listen: port must be a number 1..65535: "
                   "\"1.2.3.4@0\" (expected \"addr@port\" or \"addr\")");
    CHECK_WALK_ERR("listen:\n", "k.yml:1: listen: expected a list of addresses (\"addr@port\") "
                                "(write [] for an empty list), got nothing");
    CHECK_WALK_ERR("nets: [10/8]\n", "k.yml:1: nets: not an IP address: \"10/8\" (expected "
                                     "\"addr/prefix\" or \"addr\")");
    CHECK_WALK_ERR("inner: 5\n", "k.yml:1: inner: expected a mapping of inner settings, got \"5\"");
    CHECK_WALK_ERR("inner:\n  depth: 10\n", "k.yml:2: inner.depth: 10 is out of range (0..9)");
    CHECK_WALK_ERR("one_old_thing: [1]\n",
                   "k.yml:1: one_old_thing: expected a single value, got a list");
    CHECK_WALK_ERR("func: [1]\n", "k.yml:1: func: expected anything, got a list");
    CHECK_WALK_ERR("wait: \"1\\0\"\n", "k.yml:1: wait: expected a positive integer "
                                       "(milliseconds), got a value with a NUL byte");
    /* a value that fails leaves a number field as it was */
    CHECK_INT_EQ(demo.ms, 2500);
}

static void test_unknown_keys(void)
{
    CHECK_WALK_ERR("prot: 1\n", "k.yml:1: prot: unknown key; did you mean \"port\"?");
    CHECK_WALK_ERR("\ncolor: red\n", "k.yml:2: color: unknown key; did you mean \"colour\"?");
    CHECK_WALK_ERR("zebra: 1\n", "k.yml:1: zebra: unknown key");
    /* a key of a section, written outside it */
    CHECK_WALK_ERR("depth: 1\n", "k.yml:1: depth: unknown key at the top level; it belongs "
                                 "under inner:");
    CHECK_WALK_ERR("inner:\n  depht: 1\n", "k.yml:2: inner.depht: unknown key; did you mean "
                                          "\"depth\"?");
    CHECK_WALK_ERR("port: 1\nflag: on\nport: 2\n",
                   "k.yml:3: port: duplicate key (first given on line 1)");
    CHECK_WALK_ERR("[a]: 1\n", "k.yml:1: (top level): a key must be a plain name, not a list");
}

/* What cross-checks ask of the document: a key's value and a list item's line. */
static void test_document_lookups(void)
{
    CHECK_INT_EQ(walk("port: 1\ninner:\n  depth: 2\nlisten:\n  - 127.0.0.1\n\n  - ::1\n"), 0);
    CHECK_INT_EQ(keys_line(keys_given(&parse, "inner", "depth")), 3);
    CHECK(keys_given(&parse, "inner", "name") == NULL); /* a default, not given */
    CHECK(keys_given(&parse, "port", "x") == NULL);     /* not a mapping */
    CHECK(keys_given(&parse, "nosuch", "depth") == NULL);
    CHECK_INT_EQ(keys_line(NULL), 0);

    CHECK_INT_EQ(walk("inner:\n  name: x\n  nets:\n    - 10.0.0.0/8\n\n    - 10.1.0.0/16\n"), 0);
    CHECK_INT_EQ(demo.inner.n_nets, 2);
    CHECK_INT_EQ(keys_item_line(&parse, "inner", "nets", 0), 4);
    CHECK_INT_EQ(keys_item_line(&parse, "inner", "nets", 1), 6);
    CHECK_INT_EQ(keys_item_line(&parse, "inner", "nets", 2), 0);  /* no such item */
    CHECK_INT_EQ(keys_item_line(&parse, "inner", "name", 0), 0);  /* not a list */
    CHECK_INT_EQ(keys_item_line(&parse, "inner", "depth", 0), 0); /* not given */
}

static void test_syntax_errors(void)
{
    CHECK_INT_EQ(walk("a: [1\n"), -1);
    CHECK(strncmp(err, "k.yml:", 6) == 0 && strstr(err, "syntax error") != NULL);
    CHECK_INT_EQ(walk("a: b: c\n"), -1);
    CHECK(strstr(err, "a missing ':'") != NULL);
}

static void test_endpoint_parse(void)
{
    struct config_sockaddr sa;

    CHECK_INT_EQ(keys_endpoint_parse("192.0.2.1#853", 53, &sa), 0);
    CHECK_STR_EQ(sa.text, "192.0.2.1#853");
    CHECK_INT_EQ(addr_port((struct sockaddr *)&sa.ss), 853);
    CHECK_INT_EQ(keys_endpoint_parse("[192.0.2.1]", 53, &sa), ADDR_EBRACKETV4);
    CHECK_STR_EQ(sa.text, ""); /* nothing kept from a failure */
    CHECK_INT_EQ(sa.len, 0);
}

int main(void)
{
    UNIT_RUN(test_defaults);
    UNIT_RUN(test_each_kind);
    UNIT_RUN(test_errors);
    UNIT_RUN(test_unknown_keys);
    UNIT_RUN(test_document_lookups);
    UNIT_RUN(test_syntax_errors);
    UNIT_RUN(test_endpoint_parse);
    if (loaded)
        yaml_document_delete(&doc);
    return UNIT_END();
}
