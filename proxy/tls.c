/* proxy/tls.c — mbedTLS 2.28 TLS sessions as a sans-I/O engine (see include/tls.h).
 *
 * The BIO callbacks never touch a socket: bio_recv() takes ciphertext from
 * conn->in (filled by the caller), bio_send() appends ciphertext to conn->out
 * (drained by the caller). Both buffers are allocated when first needed and freed
 * when drained, so an idle connection costs mbedTLS's own state only (this build
 * has neither MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH nor MBEDTLS_PLATFORM_MEMORY, so
 * mbedTLS's two ~16.7 KiB record buffers per context are fixed; max_frag_len
 * would shrink records on the wire but not those buffers, so it is not used).
 *
 * mbedTLS 2.28 specifics used here (each one a place to revisit for 3.6):
 *   ssl_internal.h: mbedtls_ssl_flush_output() and handshake->resume;
 *   public-in-2.x fields: ssl.state, ssl.out_left, ssl.in_msg, ssl.session,
 *   ssl.p_bio; ssl_session_copy() keeps only the leaf of a peer chain, so the
 *   client session cache keeps its own copy of the chain for DANE-TA.
 */
#include "tls.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/ssl_ticket.h>

#include "addr.h"
#include "log.h"

#define TLS_HOST_MAX 255
#define TLS_ALPN_MAX 8 /* protocols offered by a client config */
#define TLS_DEFAULT_LIFETIME_S (4 * 3600)

/* ---- error table ------------------------------------------------------- */

const char *tls_strerror(int code)
{
    switch (code) {
    case TLS_OK:
        return "success";
#define TLS_STR_(name, value, text)                                                                \
    case value:                                                                                    \
        return text;
        TLS_ERRNO_MAP(TLS_STR_)
#undef TLS_STR_
    }
    return "unknown TLS error";
}

const char *tls_errname(int code)
{
    switch (code) {
    case TLS_OK:
        return "OK";
#define TLS_NAME_(name, value, text)                                                               \
    case value:                                                                                    \
        return #name;
        TLS_ERRNO_MAP(TLS_NAME_)
#undef TLS_NAME_
    }
    return "UNKNOWN";
}

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

/* A peer chain shared by a session cache entry and the connections resuming it. */
struct tls_chain {
    int refs;
    mbedtls_x509_crt crt;
};

static void chain_unref(struct tls_chain *chain)
{
    if (chain && --chain->refs == 0) {
        mbedtls_x509_crt_free(&chain->crt);
        free(chain);
    }
}

/* A parsed copy of every certificate in src. NULL when out of memory. */
static struct tls_chain *chain_copy(const mbedtls_x509_crt *src)
{
    struct tls_chain *chain = calloc(1, sizeof *chain);
    if (!chain)
        return NULL;
    chain->refs = 1;
    mbedtls_x509_crt_init(&chain->crt);
    for (; src && src->raw.p; src = src->next) {
        if (mbedtls_x509_crt_parse_der(&chain->crt, src->raw.p, src->raw.len) != 0) {
            chain_unref(chain);
            return NULL;
        }
    }
    return chain;
}

struct session_entry {
    struct session_entry *prev, *next; /* LRU list, most recent first */
    char *key;                         /* "host:port", host lower-cased */
    mbedtls_ssl_session session;
    struct tls_chain *chain;
};

struct tls_client_config {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    char *alpn_names[TLS_ALPN_MAX];
    const char *alpn_list[TLS_ALPN_MAX + 1];
    size_t cache_max, cache_len;
    struct session_entry *head, *tail;
};

/* The server's mbedtls_ssl_config holds the ALPN list, so one variant per
 * protocol accepted ("h2", "http/1.1", none), made on first use. */
struct server_variant {
    struct server_variant *next;
    char *alpn; /* NULL: negotiate none */
    const char *alpn_list[2];
    mbedtls_ssl_config conf;
};

struct tls_server_config {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    int tickets, cache_on, lifetime_s;
    mbedtls_ssl_ticket_context ticket;
    mbedtls_ssl_cache_context cache;
    struct server_variant *variants;
};

struct tls_conn {
    mbedtls_ssl_context ssl;
    struct tls_client_config *ccfg; /* NULL on the server side */
    int is_server;
    int err;  /* sticky failure, 0 when none */
    int done; /* handshake complete */
    int resumed;
    int transport_eof;
    int peer_closed; /* close_notify received */
    int alert_sent;  /* description of the last plaintext alert we sent, -1 none */
    int session_saved;
    int chain_released;
    char *key;               /* client: session cache key */
    char *host;              /* client: host given; server: SNI received */
    struct tls_chain *chain; /* the saved chain of a session offered for resumption */
    uint8_t *in;             /* ciphertext waiting for mbedTLS: in[in_off, in_len) */
    size_t in_off, in_len, in_cap;
    uint8_t *out; /* ciphertext waiting for the caller: out[out_off, out_len) */
    size_t out_off, out_len;
    char errbuf[192];
};

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

static void entry_free(struct session_entry *e)
{
    mbedtls_ssl_session_free(&e->session);
    chain_unref(e->chain);
    free(e->key);
    free(e);
}

static void entry_unlink(struct tls_client_config *cfg, struct session_entry *e)
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

static void entry_push_front(struct tls_client_config *cfg, struct session_entry *e)
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

static struct session_entry *entry_find(struct tls_client_config *cfg, const char *key)
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
        entry_unlink(cfg, e);
        entry_free(e);
    }
    for (size_t i = 0; i < TLS_ALPN_MAX; i++)
        free(cfg->alpn_names[i]);
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    free(cfg);
}

/* "host:port" with host lower-cased, in a new string; NULL on bad input or OOM. */
static char *session_key(const char *host, uint16_t port)
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
    char *key = session_key(host, port);
    if (!cfg || !key) {
        free(key);
        return;
    }
    struct session_entry *e = entry_find(cfg, key);
    if (e) {
        entry_unlink(cfg, e);
        entry_free(e);
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

static int server_sni(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len);

/* The variant of cfg accepting alpn (NULL: none), made on first use. */
static struct server_variant *server_variant_get(struct tls_server_config *cfg, const char *alpn)
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
    mbedtls_ssl_conf_sni(&v->conf, server_sni, NULL);
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

/* ---- BIO: the two buffers ---------------------------------------------- */

static int bio_send(void *arg, const unsigned char *buf, size_t len)
{
    struct tls_conn *conn = arg;
    if (!conn->out) {
        if (!(conn->out = malloc(TLS_OUTPUT_CAP)))
            return MBEDTLS_ERR_SSL_ALLOC_FAILED;
        conn->out_off = conn->out_len = 0;
    }
    /* Remember alerts sent in the clear (handshake), to tell why it failed. */
    if (!conn->done && len >= 7 && buf[0] == MBEDTLS_SSL_MSG_ALERT && buf[3] == 0 && buf[4] == 2)
        conn->alert_sent = buf[6];
    size_t room = TLS_OUTPUT_CAP - conn->out_len;
    if (room == 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    size_t n = len < room ? len : room;
    memcpy(conn->out + conn->out_len, buf, n);
    conn->out_len += n;
    return (int)n;
}

static int bio_recv(void *arg, unsigned char *buf, size_t len)
{
    struct tls_conn *conn = arg;
    size_t avail = conn->in_len - conn->in_off;
    if (avail == 0)
        return conn->transport_eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = len < avail ? len : avail;
    memcpy(buf, conn->in + conn->in_off, n);
    conn->in_off += n;
    if (conn->in_off == conn->in_len) {
        /* drained: give the memory back (an idle connection holds none) */
        free(conn->in);
        conn->in = NULL;
        conn->in_off = conn->in_len = conn->in_cap = 0;
    }
    return (int)n;
}

int tls_conn_input_buffer(struct tls_conn *conn, uint8_t **buf, size_t *cap)
{
    if (!conn || !buf || !cap)
        return TLS_EINVAL;
    size_t pending = conn->in_len - conn->in_off;
    *buf = NULL;
    *cap = 0;
    if (pending >= TLS_INPUT_MAX)
        return 0;
    if (conn->in_off > 0) { /* compact; nobody holds a pointer into it now */
        memmove(conn->in, conn->in + conn->in_off, pending);
        conn->in_off = 0;
        conn->in_len = pending;
    }
    /* room for what may arrive, up to the bound; one record plus a header at
     * first, so a small read does not make a large buffer */
    size_t want = pending + TLS_RECORD_MAX + 512;
    if (want > TLS_INPUT_MAX)
        want = TLS_INPUT_MAX;
    if (conn->in_cap < want) {
        uint8_t *p = realloc(conn->in, want);
        if (!p)
            return TLS_ENOMEM;
        conn->in = p;
        conn->in_cap = want;
    }
    *buf = conn->in + conn->in_len;
    *cap = conn->in_cap - conn->in_len;
    return 0;
}

int tls_conn_input_commit(struct tls_conn *conn, size_t n)
{
    if (!conn || n > conn->in_cap - conn->in_len)
        return TLS_EINVAL;
    conn->in_len += n;
    if (conn->in_len == conn->in_off && conn->in) {
        free(conn->in);
        conn->in = NULL;
        conn->in_off = conn->in_len = conn->in_cap = 0;
    }
    return 0;
}

int tls_conn_feed(struct tls_conn *conn, const void *cipher, size_t len)
{
    if (!conn || (len > 0 && !cipher))
        return TLS_EINVAL;
    if (len == 0) {
        conn->transport_eof = 1;
        return 0;
    }
    if (len > TLS_INPUT_MAX - (conn->in_len - conn->in_off))
        return TLS_EINPUT_FULL;
    if (conn->in_cap - conn->in_len < len) {
        size_t pending = conn->in_len - conn->in_off;
        if (conn->in_off > 0) {
            memmove(conn->in, conn->in + conn->in_off, pending);
            conn->in_off = 0;
            conn->in_len = pending;
        }
        if (conn->in_cap - conn->in_len < len) {
            uint8_t *p = realloc(conn->in, pending + len);
            if (!p)
                return TLS_ENOMEM;
            conn->in = p;
            conn->in_cap = pending + len;
        }
    }
    memcpy(conn->in + conn->in_len, cipher, len);
    conn->in_len += len;
    return 0;
}

/* Move what mbedTLS still holds (a partly accepted record) into conn->out. */
static int flush_pending(struct tls_conn *conn)
{
    if (conn->ssl.out_left == 0)
        return 0;
    int r = mbedtls_ssl_flush_output(&conn->ssl);
    return r == 0 ? 0 : r == MBEDTLS_ERR_SSL_WANT_WRITE ? TLS_WANT_IO : TLS_EINTERNAL;
}

int tls_conn_output(struct tls_conn *conn, const uint8_t **p, size_t *len)
{
    if (!conn || !p || !len)
        return 0;
    flush_pending(conn);
    *len = conn->out ? conn->out_len - conn->out_off : 0;
    *p = *len ? conn->out + conn->out_off : NULL;
    return *len > 0;
}

void tls_conn_output_done(struct tls_conn *conn, size_t n)
{
    if (!conn || !conn->out)
        return;
    size_t pending = conn->out_len - conn->out_off;
    conn->out_off += n < pending ? n : pending;
    if (conn->out_off == conn->out_len) {
        free(conn->out);
        conn->out = NULL;
        conn->out_off = conn->out_len = 0;
    }
}

/* ---- connections ------------------------------------------------------- */

static int server_sni(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    struct tls_conn *conn = ssl->p_bio;
    (void)arg;
    if (!conn || conn->host || len == 0 || len > TLS_HOST_MAX)
        return 0;
    if ((conn->host = malloc(len + 1))) {
        memcpy(conn->host, name, len);
        conn->host[len] = '\0';
    }
    return 0; /* the certificate was chosen before the handshake */
}

static struct tls_conn *conn_alloc(void)
{
    struct tls_conn *conn = calloc(1, sizeof *conn);
    if (!conn)
        return NULL;
    mbedtls_ssl_init(&conn->ssl);
    conn->alert_sent = -1;
    return conn;
}

struct tls_conn *tls_conn_new_client(struct tls_client_config *cfg, const char *host, uint16_t port)
{
    if (!cfg || !host)
        return NULL;
    struct tls_conn *conn = conn_alloc();
    if (!conn)
        return NULL;
    conn->ccfg = cfg;
    if (!(conn->key = session_key(host, port)) || !(conn->host = strdup(host)))
        goto fail;
    if (mbedtls_ssl_setup(&conn->ssl, &cfg->conf) != 0)
        goto fail;
    /* RFC 6066 §3: no SNI for address literals */
    if (!addr_is_literal(host) && mbedtls_ssl_set_hostname(&conn->ssl, host) != 0)
        goto fail;
    mbedtls_ssl_set_bio(&conn->ssl, conn, bio_send, bio_recv, NULL);
    struct session_entry *e = cfg->cache_max ? entry_find(cfg, conn->key) : NULL;
    if (e && mbedtls_ssl_set_session(&conn->ssl, &e->session) == 0) {
        entry_unlink(cfg, e);
        entry_push_front(cfg, e);
        if ((conn->chain = e->chain))
            conn->chain->refs++;
    }
    return conn;
fail:
    tls_conn_free(conn);
    return NULL;
}

struct tls_conn *tls_conn_new_server(struct tls_server_config *cfg, mbedtls_x509_crt *chain,
                                     mbedtls_pk_context *key, const char *alpn)
{
    if (!cfg || !chain || !key || (alpn && (!*alpn || strlen(alpn) > 255)))
        return NULL;
    struct server_variant *v = server_variant_get(cfg, alpn);
    if (!v)
        return NULL;
    struct tls_conn *conn = conn_alloc();
    if (!conn)
        return NULL;
    conn->is_server = 1;
    if (mbedtls_ssl_setup(&conn->ssl, &v->conf) != 0)
        goto fail;
    mbedtls_ssl_set_bio(&conn->ssl, conn, bio_send, bio_recv, NULL);
    /* Documented for the SNI callback, but the handshake state exists from
     * mbedtls_ssl_setup() on, and this way clients without SNI work too. */
    if (mbedtls_ssl_set_hs_own_cert(&conn->ssl, chain, key) != 0)
        goto fail;
    return conn;
fail:
    tls_conn_free(conn);
    return NULL;
}

void tls_conn_free(struct tls_conn *conn)
{
    if (!conn)
        return;
    mbedtls_ssl_free(&conn->ssl);
    chain_unref(conn->chain);
    free(conn->in);
    free(conn->out);
    free(conn->key);
    free(conn->host);
    free(conn);
}

static const char *alert_name(int d)
{
    switch (d) {
    case 0:
        return "close_notify";
    case 10:
        return "unexpected_message";
    case 20:
        return "bad_record_mac";
    case 22:
        return "record_overflow";
    case 40:
        return "handshake_failure";
    case 42:
        return "bad_certificate";
    case 43:
        return "unsupported_certificate";
    case 46:
        return "certificate_unknown";
    case 47:
        return "illegal_parameter";
    case 48:
        return "unknown_ca";
    case 50:
        return "decode_error";
    case 51:
        return "decrypt_error";
    case 70:
        return "protocol_version";
    case 71:
        return "insufficient_security";
    case 80:
        return "internal_error";
    case 86:
        return "inappropriate_fallback";
    case 90:
        return "user_canceled";
    case 100:
        return "no_renegotiation";
    case 110:
        return "unsupported_extension";
    case 112:
        return "unrecognized_name";
    case 120:
        return "no_application_protocol";
    }
    return "unknown";
}

/* Turn an mbedTLS result into ours; failures become sticky with a text. */
static int fail_from_mbedtls(struct tls_conn *conn, int r)
{
    const char *who = conn->is_server ? "client" : "server";
    char msg[128];
    int code;
    switch (r) {
    case MBEDTLS_ERR_SSL_WANT_READ:
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        return TLS_WANT_IO;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        conn->peer_closed = 1;
        return TLS_EOF;
    case MBEDTLS_ERR_SSL_CONN_EOF:
        code = TLS_ETRUNCATED;
        snprintf(conn->errbuf, sizeof conn->errbuf, "%s closed the connection %s", who,
                 conn->done ? "without close_notify" : "during the handshake");
        break;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
        int d = conn->ssl.in_msg ? conn->ssl.in_msg[1] : -1;
        if (!conn->is_server && !conn->done && d == MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION)
            code = TLS_EPEER_REQUIRES_TLS13;
        else if (!conn->is_server && conn->ssl.state == MBEDTLS_SSL_SERVER_HELLO &&
                 d == MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE)
            code = TLS_EPEER_HANDSHAKE_FAILURE;
        else if (d == MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL)
            code = TLS_EALPN;
        else
            code = TLS_EALERT;
        snprintf(conn->errbuf, sizeof conn->errbuf, "%s: %s sent fatal alert %s (%d)",
                 tls_strerror(code), who, alert_name(d), d);
        break;
    }
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        code = TLS_ENOMEM;
        snprintf(conn->errbuf, sizeof conn->errbuf, "%s", tls_strerror(code));
        break;
    default:
        mbedtls_strerror(r, msg, sizeof msg);
        if (conn->alert_sent == MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL)
            code = TLS_EALPN;
        else if (r == MBEDTLS_ERR_SSL_INTERNAL_ERROR) /* BAD_INPUT_DATA can be the peer's */
            code = TLS_EINTERNAL;
        else
            code = conn->done ? TLS_EPROTOCOL : TLS_EHANDSHAKE;
        if (conn->alert_sent >= 0)
            snprintf(conn->errbuf, sizeof conn->errbuf, "%s: %s (-0x%04x; we sent alert %s)",
                     tls_strerror(code), msg, (unsigned)-r, alert_name(conn->alert_sent));
        else
            snprintf(conn->errbuf, sizeof conn->errbuf, "%s: %s (-0x%04x)", tls_strerror(code), msg,
                     (unsigned)-r);
        break;
    }
    conn->err = code;
    return code;
}

int tls_conn_handshake(struct tls_conn *conn)
{
    if (!conn)
        return TLS_EINVAL;
    if (conn->err)
        return conn->err;
    if (conn->done)
        return 0;
    while (conn->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
        int r = mbedtls_ssl_handshake_step(&conn->ssl);
        /* handshake->resume is set once the hellos are exchanged; the struct is
         * freed by the last step, so sample it while it exists */
        if (conn->ssl.handshake)
            conn->resumed = conn->ssl.handshake->resume;
        if (r != 0)
            return fail_from_mbedtls(conn, r);
    }
    conn->done = 1;
    if (!conn->resumed) { /* the offered session was declined: its chain is stale */
        chain_unref(conn->chain);
        conn->chain = NULL;
    }
    return 0;
}

int tls_conn_read(struct tls_conn *conn, void *buf, size_t cap)
{
    if (!conn || (!buf && cap))
        return TLS_EINVAL;
    int r = tls_conn_handshake(conn);
    if (r != 0)
        return r;
    if (conn->peer_closed)
        return TLS_EOF;
    if (cap == 0)
        return TLS_EINVAL;
    if (cap > TLS_RECORD_MAX)
        cap = TLS_RECORD_MAX;
    r = mbedtls_ssl_read(&conn->ssl, buf, cap);
    if (r > 0)
        return r;
    if (r == 0) /* transport EOF seen by mbedTLS */
        return fail_from_mbedtls(conn, MBEDTLS_ERR_SSL_CONN_EOF);
    return fail_from_mbedtls(conn, r);
}

int tls_conn_write(struct tls_conn *conn, const void *buf, size_t len)
{
    if (!conn || !buf || len == 0)
        return TLS_EINVAL;
    int r = tls_conn_handshake(conn);
    if (r != 0)
        return r;
    /* mbedtls_ssl_write() with a record still pending would flush it and report
     * this call's data as written: never let it see one */
    if ((r = flush_pending(conn)) != 0)
        return r;
    int max = mbedtls_ssl_get_max_out_record_payload(&conn->ssl);
    int exp = mbedtls_ssl_get_record_expansion(&conn->ssl);
    if (max <= 0 || exp < 0)
        return fail_from_mbedtls(conn, max <= 0 ? max : exp);
    size_t want = len < (size_t)max ? len : (size_t)max;
    size_t room = conn->out ? TLS_OUTPUT_CAP - conn->out_len : TLS_OUTPUT_CAP;
    if (room < want + (size_t)exp)
        return TLS_WANT_IO; /* whole records only: wait for the output to drain */
    r = mbedtls_ssl_write(&conn->ssl, buf, want);
    if (r > 0)
        return r;
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) { /* cannot happen with room checked above */
        snprintf(conn->errbuf, sizeof conn->errbuf, "output accounting error");
        return conn->err = TLS_EINTERNAL;
    }
    return fail_from_mbedtls(conn, r);
}

int tls_conn_close_notify(struct tls_conn *conn)
{
    if (!conn)
        return TLS_EINVAL;
    if (conn->err && conn->err != TLS_ETRUNCATED)
        return conn->err;
    int r = mbedtls_ssl_close_notify(&conn->ssl);
    if (r == 0)
        r = flush_pending(conn);
    return r == 0 ? 0 : r == TLS_WANT_IO ? r : fail_from_mbedtls(conn, r);
}

int tls_conn_save_session(struct tls_conn *conn)
{
    if (!conn || conn->is_server || !conn->done || conn->err || !conn->ccfg->cache_max ||
        conn->session_saved)
        return TLS_ESTATE;
    struct tls_client_config *cfg = conn->ccfg;
    const mbedtls_x509_crt *peer = tls_conn_peer_chain(conn);
    if (!peer)
        return TLS_ESTATE;
    struct session_entry *e = calloc(1, sizeof *e);
    if (!e)
        return TLS_ENOMEM;
    mbedtls_ssl_session_init(&e->session);
    if (!(e->key = strdup(conn->key)))
        goto oom;
    if (conn->chain) {
        e->chain = conn->chain;
        e->chain->refs++;
    } else if (!(e->chain = chain_copy(peer))) {
        goto oom;
    }
    if (mbedtls_ssl_get_session(&conn->ssl, &e->session) != 0)
        goto oom;
    conn->session_saved = 1;
    struct session_entry *old = entry_find(cfg, e->key);
    if (old) {
        entry_unlink(cfg, old);
        entry_free(old);
    }
    while (cfg->cache_len >= cfg->cache_max) {
        struct session_entry *lru = cfg->tail;
        entry_unlink(cfg, lru);
        entry_free(lru);
    }
    entry_push_front(cfg, e);
    return 0;
oom:
    entry_free(e);
    return TLS_ENOMEM;
}

/* ---- accessors ---------------------------------------------------------- */

int tls_conn_handshake_done(const struct tls_conn *conn)
{
    return conn && conn->done;
}

const char *tls_conn_alpn(const struct tls_conn *conn)
{
    return conn && conn->done ? mbedtls_ssl_get_alpn_protocol(&conn->ssl) : NULL;
}

const char *tls_conn_ciphersuite(const struct tls_conn *conn)
{
    return conn && conn->done ? mbedtls_ssl_get_ciphersuite(&conn->ssl) : NULL;
}

const char *tls_conn_version(const struct tls_conn *conn)
{
    return conn && conn->done ? mbedtls_ssl_get_version(&conn->ssl) : NULL;
}

int tls_conn_resumed(const struct tls_conn *conn)
{
    return conn && conn->done && conn->resumed;
}

const char *tls_conn_host(const struct tls_conn *conn)
{
    return conn ? conn->host : NULL;
}

const mbedtls_x509_crt *tls_conn_peer_chain(const struct tls_conn *conn)
{
    if (!conn || conn->is_server || !conn->done || conn->chain_released)
        return NULL;
    if (conn->chain)
        return &conn->chain->crt;
    return mbedtls_ssl_get_peer_cert(&conn->ssl);
}

void tls_conn_release_peer_chain(struct tls_conn *conn)
{
    if (!conn || !conn->done)
        return;
    chain_unref(conn->chain);
    conn->chain = NULL;
    if (conn->ssl.session && conn->ssl.session->peer_cert) {
        mbedtls_x509_crt_free(conn->ssl.session->peer_cert);
        free(conn->ssl.session->peer_cert);
        conn->ssl.session->peer_cert = NULL;
    }
    conn->chain_released = 1;
}

const char *tls_conn_error(const struct tls_conn *conn)
{
    return conn ? conn->errbuf : "";
}

/* ---- a ClientHello, before any session ------------------------------------ */

#define TLS_CONTENT_HANDSHAKE 22 /* RFC 5246 §6.2.1 ContentType handshake */
#define TLS_HS_CLIENT_HELLO 1    /* RFC 5246 §7.4 HandshakeType client_hello */
#define TLS_EXT_ALPN 16          /* RFC 7301 §3.1 application_layer_protocol_negotiation */
#define TLS_RECORD_HEADER 5      /* type, version (2), length (2) */
#define TLS_HS_HEADER 4          /* msg_type, length (3) */
#define TLS_HELLO_FIXED (2 + 32) /* client_version, random */

static size_t get16(const uint8_t *p)
{
    return (size_t)p[0] << 8 | p[1];
}

int tls_hello_offers_alpn(const uint8_t *d, size_t n, const char *proto)
{
    size_t plen = proto ? strlen(proto) : 0;
    if (n < TLS_RECORD_HEADER || d[0] != TLS_CONTENT_HANDSHAKE)
        return -1;
    size_t rec = get16(d + 3) + TLS_RECORD_HEADER;
    if (n < rec)
        return -1;
    size_t p = TLS_RECORD_HEADER + TLS_HS_HEADER + TLS_HELLO_FIXED;
    if (rec < p + 1 || d[TLS_RECORD_HEADER] != TLS_HS_CLIENT_HELLO)
        return -1;
    p += 1 + d[p]; /* session id */
    if (p + 2 > rec)
        return -1;
    p += 2 + get16(d + p); /* cipher suites */
    if (p + 1 > rec)
        return -1;
    p += 1 + d[p]; /* compression methods */
    if (p + 2 > rec)
        return p == rec ? 0 : -1; /* no extensions at all */
    size_t end = p + 2 + get16(d + p);
    if (end > rec)
        return -1;
    for (p += 2; p + 4 <= end;) {
        unsigned type = (unsigned)get16(d + p);
        size_t len = get16(d + p + 2);
        p += 4;
        if (p + len > end)
            return -1;
        if (type == TLS_EXT_ALPN && len >= 2) { /* a 2-byte list length, then the names */
            for (size_t q = p + 2; q < p + len;) {
                size_t l = d[q];
                if (q + 1 + l > p + len)
                    return -1;
                if (l == plen && memcmp(d + q + 1, proto, plen) == 0)
                    return 1;
                q += 1 + l;
            }
            return 0;
        }
        p += len;
    }
    return 0;
}
