/* tests/fuzz/fuzz_config.c — libFuzzer harness for the YAML configuration
 * reader (daemon/config.c on libyaml).
 *
 * Input: a configuration file's text. Oracles: the load either succeeds with
 * every count within its array and every string terminated inside its field,
 * or fails with an error that names the file; loading is deterministic.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define FUZZ_NAME "fuzz.yml"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_config: check failed at line %d: %s\n", __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define TERMINATED(field) CHECK(memchr((field), '\0', sizeof(field)) != NULL)

static void check_sockaddr(const struct config_sockaddr *a)
{
    TERMINATED(a->text);
    CHECK(a->ss.ss_family == AF_INET || a->ss.ss_family == AF_INET6);
    CHECK(a->len > 0 && a->len <= sizeof a->ss);
}

static void check_cidr(const struct addr_cidr *c)
{
    CHECK((c->family == AF_INET && c->prefix >= 0 && c->prefix <= 32) ||
          (c->family == AF_INET6 && c->prefix >= 0 && c->prefix <= 128));
}

static void check_config(const struct config *cfg)
{
    const struct config_resolver *r = &cfg->resolver;
    const struct config_proxy *p = &cfg->proxy;

    TERMINATED(cfg->path);
    CHECK(strcmp(cfg->path, FUZZ_NAME) == 0);
    TERMINATED(cfg->user);
    CHECK(r->n_listen <= CONFIG_MAX_ADDRS && r->n_upstreams <= CONFIG_MAX_ADDRS);
    CHECK(r->n_transports >= 1 && r->n_transports <= 3);
    CHECK(r->n_trust_anchors <= CONFIG_MAX_ADDRS && r->n_allow <= CONFIG_MAX_ADDRS);
    for (size_t i = 0; i < r->n_listen; i++)
        check_sockaddr(&r->listen[i]);
    for (size_t i = 0; i < r->n_upstreams; i++) {
        check_sockaddr(&r->upstreams[i].addr);
        TERMINATED(r->upstreams[i].tls_auth_name);
    }
    for (size_t i = 0; i < r->n_transports; i++)
        CHECK(r->transports[i] >= CONFIG_TRANSPORT_UDP && r->transports[i] <= CONFIG_TRANSPORT_TLS);
    for (size_t i = 0; i < r->n_trust_anchors; i++)
        TERMINATED(r->trust_anchors[i]);
    for (size_t i = 0; i < r->n_allow; i++)
        check_cidr(&r->allow[i]);
    TERMINATED(r->resolv_conf);

    CHECK(p->n_listen <= CONFIG_MAX_ADDRS && p->n_allow <= CONFIG_MAX_ADDRS);
    CHECK(p->n_allowed_ports <= CONFIG_MAX_PORTS);
    for (size_t i = 0; i < p->n_listen; i++)
        check_sockaddr(&p->listen[i]);
    for (size_t i = 0; i < p->n_allow; i++)
        check_cidr(&p->allow[i]);
    CHECK(p->intercept == CONFIG_INTERCEPT_DANE || p->intercept == CONFIG_INTERCEPT_ALL);
    TERMINATED(p->ca_dir);
    TERMINATED(p->trust_store);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz_config", 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config cfg, again;
    char err[CONFIG_ERR_LEN], err2[CONFIG_ERR_LEN];

    if (size > 1 << 16)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    memset(err, 0x55, sizeof err);
    int rc = config_load_string(FUZZ_NAME, text, &cfg, err);
    CHECK(rc == 0 || rc == -1);
    TERMINATED(err);
    if (rc == 0) {
        check_config(&cfg);
    } else {
        CHECK(strncmp(err, FUZZ_NAME ":", strlen(FUZZ_NAME) + 1) == 0);
    }

    /* the same text gives the same answer */
    int rc2 = config_load_string(FUZZ_NAME, text, &again, err2);
    CHECK(rc2 == rc);
    if (rc != 0)
        CHECK(strcmp(err, err2) == 0);

    /* the small parsers the loader uses, on the raw text */
    struct config_sockaddr sa;
    struct addr_cidr cidr;
    if (config_sockaddr_parse(text, 53, &sa) == 0)
        check_sockaddr(&sa);
    if (addr_cidr_parse(text, &cidr) == 0) {
        check_cidr(&cidr);
        struct sockaddr_in6 six;
        memset(&six, 0, sizeof six);
        six.sin6_family = AF_INET6;
        memcpy(&six.sin6_addr, cidr.addr, 16);
        (void)addr_cidr_match(&cidr, 1, (const struct sockaddr *)&six);
    }
    free(text);
    return 0;
}
