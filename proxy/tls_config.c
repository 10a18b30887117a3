/* proxy/tls_config.c — the TLS module's configurations (see include/tls.h):
 * cipher suites and curves, a client configuration with its session cache
 * (each entry keeps its own copy of the peer chain, for DANE-TA on resumed
 * sessions: mbedTLS 2.28's ssl_session_copy() keeps only the leaf), and a
 * server configuration with one mbedtls_ssl_config per ALPN protocol offered,
 * made on first use. The sessions that run on them are tls.c's.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>

#include "log.h"
#include "tls_private.h"

/* ---- cipher suites and curves ------------------------------------------ */

/* ChaCha20 first: mbedTLS runs it ~1.5x faster than AES-GCM on one core. */
static const int client_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    /* forward-secret CBC for servers without AEAD suites */
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    0,
};

/* The minted leaf key is EC P-256, so only ECDSA suites can be served. */
static const int server_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    0,
};

/* x25519 and P-256 are the cheap ECDHE groups; P-384 for servers without them. */
static const mbedtls_ecp_group_id tls_curves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};

/* ---- shared pieces ----------------------------------------------------- */

void tls_config_chain_unref(struct tls_chain *chain)
{
    if (chain && --chain->refs == 0) {
        mbedtls_x509_crt_free(&chain->crt);
        free(chain);
    }
}

/* A parsed copy of every certificate in src. NULL when out of memory. */
struct tls_chain *tls_config_chain_copy(const mbedtls_x509_crt *src)
{
    struct tls_chain *chain = calloc(1, sizeof *chain);
    if (!chain)
        return NULL;
    chain->refs = 1;
    mbedtls_x509_crt_init(&chain->crt);
    for (; src && src->raw.p; src = src->next) {
        if (mbedtls_x509_crt_parse_der(&chain->crt, src->raw.p, src->raw.len) != 0) {
            tls_config_chain_unref(chain);
            return NULL;
        }
    }
    return chain;
}

static int seed_drbg(mbedtls_entropy_context *entropy, mbedtls_ctr_drbg_context *drbg,
                     const char *who)
{
    static const unsigned char pers[] = "daneguard tls";
    mbedtls_entropy_init(entropy);
    mbedtls_ctr_drbg_init(drbg);
    int r = mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, entropy, pers, sizeof pers - 1);
    if (r != 0) {
        char msg[128];
        mbedtls_strerror(r, msg, sizeof msg);
        log_warnx("tls: %s: seeding the random generator: %s", who, msg);
        return -1;
    }
    return 0;
}

static void conf_common(mbedtls_ssl_config *conf, mbedtls_ctr_drbg_context *drbg)
{
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, drbg);
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_curves(conf, tls_curves);
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
}

/* ---- client config and its session cache ------------------------------ */

struct tls_client_config *tls_client_config_new(const struct tls_client_options *opt)
{
    struct tls_client_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        log_warnx("tls: client config: out of memory");
        return NULL;
    }
    mbedtls_ssl_config_init(&cfg->conf);
    if (seed_drbg(&cfg->entropy, &cfg->drbg, "client config") != 0)
        goto fail;
    if (mbedtls_ssl_config_defaults(&cfg->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        goto fail;
    conf_common(&cfg->conf, &cfg->drbg);
    mbedtls_ssl_conf_ciphersuites(&cfg->conf, client_suites);
    /* The DANE engine judges the chain; mbedTLS still checks the ServerKeyExchange
     * signature with the leaf's key, which proves possession. */
    mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_session_tickets(&cfg->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    size_t n = 0;
    if (opt && opt->alpn) {
        for (; opt->alpn[n]; n++) {
            size_t len = strlen(opt->alpn[n]);
            if (n == TLS_ALPN_MAX || len == 0 || len > 255) {
                log_warnx("tls: client config: bad ALPN list");
                goto fail;
            }
            if (!(cfg->alpn_names[n] = strdup(opt->alpn[n])))
                goto fail;
            cfg->alpn_list[n] = cfg->alpn_names[n];
        }
    }
    if (n > 0 && mbedtls_ssl_conf_alpn_protocols(&cfg->conf, cfg->alpn_list) != 0)
        goto fail;
    cfg->cache_max = opt ? opt->session_cache_entries : 0;
    return cfg;
fail:
    tls_client_config_free(cfg);
    return NULL;
}

void tls_config_session_free(struct session_entry *e)
{
    mbedtls_ssl_session_free(&e->session);
    tls_config_chain_unref(e->chain);
    free(e->key);
    free(e);
}

void tls_config_session_unlink(struct tls_client_config *cfg, struct session_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        cfg->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        cfg->tail = e->prev;
    e->prev = e->next = NULL;
    cfg->cache_len--;
}

void tls_config_session_push_front(struct tls_client_config *cfg, struct session_entry *e)
{
    e->prev = NULL;
    e->next = cfg->head;
    if (cfg->head)
        cfg->head->prev = e;
    cfg->head = e;
    if (!cfg->tail)
        cfg->tail = e;
    cfg->cache_len++;
}

struct session_entry *tls_config_session_find(struct tls_client_config *cfg, const char *key)
{
    for (struct session_entry *e = cfg->head; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

void tls_client_config_free(struct tls_client_config *cfg)
{
    if (!cfg)
        return;
    while (cfg->head) {
        struct session_entry *e = cfg->head;
        tls_config_session_unlink(cfg, e);
        tls_config_session_free(e);
    }
    for (size_t i = 0; i < TLS_ALPN_MAX; i++)
        free(cfg->alpn_names[i]);
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    free(cfg);
}

/* "host:port" with host lower-cased, in a new string; NULL on bad input or OOM. */
char *tls_config_session_key(const char *host, uint16_t port)
{
    size_t len = host ? strlen(host) : 0;
    if (len == 0 || len > TLS_HOST_MAX)
        return NULL;
    char *key = malloc(len + 7);
    if (!key)
        return NULL;
    for (size_t i = 0; i < len; i++)
        key[i] = (char)tolower((unsigned char)host[i]);
    snprintf(key + len, 7, ":%u", (unsigned)port);
    return key;
}

void tls_client_config_forget(struct tls_client_config *cfg, const char *host, uint16_t port)
{
    char *key = tls_config_session_key(host, port);
    if (!cfg || !key) {
        free(key);
        return;
    }
    struct session_entry *e = tls_config_session_find(cfg, key);
    if (e) {
        tls_config_session_unlink(cfg, e);
        tls_config_session_free(e);
    }
    free(key);
}

/* ---- server config ----------------------------------------------------- */

struct tls_server_config *tls_server_config_new(const struct tls_server_options *opt)
{
    struct tls_server_options def = {1, 1000, 0};
    if (!opt)
        opt = &def;
    struct tls_server_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        log_warnx("tls: server config: out of memory");
        return NULL;
    }
    mbedtls_ssl_ticket_init(&cfg->ticket);
    mbedtls_ssl_cache_init(&cfg->cache);
    if (seed_drbg(&cfg->entropy, &cfg->drbg, "server config") != 0)
        goto fail;
    cfg->lifetime_s =
        opt->session_lifetime_s > 0 ? opt->session_lifetime_s : TLS_DEFAULT_LIFETIME_S;
    if (opt->session_tickets) {
        int r = mbedtls_ssl_ticket_setup(&cfg->ticket, mbedtls_ctr_drbg_random, &cfg->drbg,
                                         MBEDTLS_CIPHER_AES_256_GCM, (uint32_t)cfg->lifetime_s);
        if (r != 0) {
            char msg[128];
            mbedtls_strerror(r, msg, sizeof msg);
            log_warnx("tls: server config: session tickets: %s", msg);
            goto fail;
        }
        cfg->tickets = 1;
    }
    if (opt->session_cache_entries > 0) {
        mbedtls_ssl_cache_set_max_entries(&cfg->cache, opt->session_cache_entries);
        mbedtls_ssl_cache_set_timeout(&cfg->cache, cfg->lifetime_s);
        cfg->cache_on = 1;
    }
    return cfg;
fail:
    tls_server_config_free(cfg);
    return NULL;
}

void tls_server_config_free(struct tls_server_config *cfg)
{
    if (!cfg)
        return;
    while (cfg->variants) {
        struct server_variant *v = cfg->variants;
        cfg->variants = v->next;
        mbedtls_ssl_config_free(&v->conf);
        free(v->alpn);
        free(v);
    }
    mbedtls_ssl_cache_free(&cfg->cache);
    mbedtls_ssl_ticket_free(&cfg->ticket);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    free(cfg);
}

/* The variant of cfg accepting alpn (NULL: none), made on first use. */
struct server_variant *tls_config_server_variant(struct tls_server_config *cfg, const char *alpn)
{
    for (struct server_variant *v = cfg->variants; v; v = v->next)
        if ((!alpn && !v->alpn) || (alpn && v->alpn && strcmp(alpn, v->alpn) == 0))
            return v;
    size_t count = 0;
    for (struct server_variant *v = cfg->variants; v; v = v->next)
        count++;
    if (count >= TLS_ALPN_MAX + 1) /* each upstream offer, plus none */
        return NULL;
    struct server_variant *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    mbedtls_ssl_config_init(&v->conf);
    if (alpn && !(v->alpn = strdup(alpn)))
        goto fail;
    if (mbedtls_ssl_config_defaults(&v->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        goto fail;
    conf_common(&v->conf, &cfg->drbg);
    /* mbedTLS serves in its own order (no SRV_RESPECT_CLIENT_PREFERENCE), so
     * ChaCha20 wins whenever the browser offers it. */
    mbedtls_ssl_conf_ciphersuites(&v->conf, server_suites);
    mbedtls_ssl_conf_authmode(&v->conf, MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_sni(&v->conf, tls_conn_server_sni, NULL);
    if (cfg->tickets)
        mbedtls_ssl_conf_session_tickets_cb(&v->conf, mbedtls_ssl_ticket_write,
                                            mbedtls_ssl_ticket_parse, &cfg->ticket);
    if (cfg->cache_on)
        mbedtls_ssl_conf_session_cache(&v->conf, &cfg->cache, mbedtls_ssl_cache_get,
                                       mbedtls_ssl_cache_set);
    if (alpn) {
        v->alpn_list[0] = v->alpn;
        if (mbedtls_ssl_conf_alpn_protocols(&v->conf, v->alpn_list) != 0)
            goto fail;
    }
    v->next = cfg->variants;
    cfg->variants = v;
    return v;
fail:
    mbedtls_ssl_config_free(&v->conf);
    free(v->alpn);
    free(v);
    return NULL;
}
