/* proxy/tls_private.h — what the TLS module's two files share (not in
 * include/): tls_config.c makes the client and server configurations (with the
 * client's session cache and the server's per-ALPN variants), tls.c runs the
 * sessions on them. Callers outside proxy/tls*.c use include/tls.h.
 */
#ifndef DANEGUARD_TLS_PRIVATE_H
#define DANEGUARD_TLS_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>

#include "tls.h"

#define TLS_HOST_MAX 255
#define TLS_ALPN_MAX 8 /* protocols offered by a client config */
#define TLS_DEFAULT_LIFETIME_S (4 * 3600)

/* A peer chain shared by a session cache entry and the connections resuming it. */
struct tls_chain {
    int refs;
    mbedtls_x509_crt crt;
};

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

/* ---- tls_config.c ---------------------------------------------------------- */

/* Drop a reference to chain; the last frees it. NULL is a no-op. */
void tls_config_chain_unref(struct tls_chain *chain);

/* A parsed copy of every certificate in src, with one reference. NULL when out
 * of memory. */
struct tls_chain *tls_config_chain_copy(const mbedtls_x509_crt *src);

/* The client session cache, most recently used first: free an entry (its
 * session, its chain reference, its key), take it off cfg's list, put it at
 * the front, find the one for key ("host:port", tls_config_session_key()). */
void tls_config_session_free(struct session_entry *e);
void tls_config_session_unlink(struct tls_client_config *cfg, struct session_entry *e);
void tls_config_session_push_front(struct tls_client_config *cfg, struct session_entry *e);
struct session_entry *tls_config_session_find(struct tls_client_config *cfg, const char *key);

/* "host:port" with host lower-cased, in a new string (the caller frees); NULL
 * on bad input or OOM. */
char *tls_config_session_key(const char *host, uint16_t port);

/* The variant of cfg accepting alpn (NULL: none), made on first use; NULL when
 * out of memory or past TLS_ALPN_MAX + 1 variants. Owned by cfg. */
struct server_variant *tls_config_server_variant(struct tls_server_config *cfg, const char *alpn);

/* ---- tls.c ------------------------------------------------------------------- */

/* The server's SNI callback (mbedtls_ssl_conf_sni()): keeps the name sent as
 * the connection's host. */
int tls_conn_server_sni(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len);

#endif
