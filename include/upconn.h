/* include/upconn.h — one kept-open DNS connection to one upstream, over TCP or
 * DNS-over-TLS, for the forwarder.
 *
 * Queries are pipelined and answered out of order (RFC 7766 §6.2.1.1): each
 * gets an ID unique on the connection, and a response goes to the query with
 * its ID. The connection opens on the first query, stays open while queries
 * wait and for the idle timeout after the last answer (shortened by the
 * server's edns-tcp-keepalive, RFC 7828), and opens again, resuming the TLS
 * session, on the next query after it closed. Over TLS (RFC 7858, RFC 8310)
 * the server is authenticated after the handshake: tls_auth_name against the
 * trust store (PKIX and the name, dane_pkix_verify()) and the SPKI pins; with
 * authentication required a server that fails is not used (every query on it
 * fails with UPCONN_EAUTH, and one log line says why), else it is used all the
 * same (opportunistic, RFC 8310 §5) and the log says that. Queries over TLS
 * are padded with EDNS(0) padding to a multiple of the block size (RFC 7830,
 * RFC 8467 §4.1).
 */
#ifndef DANEGUARD_UPCONN_H
#define DANEGUARD_UPCONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include <mbedtls/x509_crt.h>

#include "tls.h"

#define UPCONN_ERRNO_MAP(XX)                                                                       \
    XX(ECONNECT, -1, "cannot connect")                                                             \
    XX(ECLOSED, -2, "connection closed")                                                           \
    XX(ETLS, -3, "TLS handshake failed")                                                           \
    XX(EAUTH, -4, "upstream not authenticated")                                                    \
    XX(EPROTO, -5, "malformed DNS stream")                                                         \
    XX(ENOMEM, -6, "out of memory")                                                                \
    XX(ETIMEDOUT, -7, "connect or handshake timed out")

enum upconn_status {
    UPCONN_OK = 0,
#define UPCONN_ENUM_(name, value, text) UPCONN_##name = value,
    UPCONN_ERRNO_MAP(UPCONN_ENUM_)
#undef UPCONN_ENUM_
};

const char *upconn_strerror(int code);

struct upconn;
struct upconn_query;

/* A response to q (msg[0..len), the ID q was sent with; not kept past the
 * call), or why none will come. Either is called once, and never from inside
 * upconn_send(); q is detached from the connection first, so the callback may
 * free it or send again. */
typedef void (*upconn_reply_fn)(struct upconn_query *q, const uint8_t *msg, size_t len);
typedef void (*upconn_fail_fn)(struct upconn_query *q, int err);

/* Embedded in the caller's object; the caller sets on_reply and on_fail, the
 * rest is the connection's. */
struct upconn_query {
    upconn_reply_fn on_reply;
    upconn_fail_fn on_fail;
    struct upconn_query *next, *prev; /* on the connection's list while attached */
    uint16_t id;                      /* the ID it went out with */
};

struct upconn_params {
    struct sockaddr_storage addr; /* the server's address and port */
    const char *label;            /* for logs ("127.0.0.1@853"); copied */
    int tls;                      /* DNS-over-TLS, else plain TCP */
    const char *auth_name;        /* tls_auth_name, "" or NULL for none; copied */
    const uint8_t (*pins)[32];    /* SPKI SHA-256 pins, n_pins of them; copied */
    size_t n_pins;
    int auth_required;                 /* GETDNS_AUTHENTICATION_REQUIRED */
    struct tls_client_config *tls_cfg; /* shared, outlives the connection */
    const mbedtls_x509_crt *trust;     /* roots for auth_name, shared; NULL: none */
    uint32_t idle_timeout_ms;          /* kept open after the last answer */
    uint32_t connect_timeout_ms;       /* connect and handshake, 0: 3000 */
    uint16_t padding_block;            /* over TLS; 0: no padding */
    /* Called once the connection and its sockets are all gone after
     * upconn_free() (the TLS configuration may go then); may be NULL. */
    void (*released)(void *arg);
    void *arg;
};

struct upconn_stats {
    uint64_t connections; /* opened (connect + handshake + authentication done) */
    uint64_t resumed;     /* of those, TLS sessions resumed */
    uint64_t queries;     /* sent */
    uint64_t replies;     /* answered */
    uint64_t failures;    /* connections that failed or closed with queries waiting */
    uint64_t auth_failures;
    int open;          /* a connection is up now */
    int authenticated; /* the last TLS connection passed authentication */
    int last_error;    /* UPCONN_E*, 0 when none yet */
};

/* A connection object; nothing is opened until the first upconn_send().
 * Returns NULL when out of memory. */
struct upconn *upconn_new(uv_loop_t *loop, const struct upconn_params *p);

/* Close it (queries still attached are dropped without callbacks). The memory
 * goes once libuv has released its handles. NULL is a no-op. */
void upconn_free(struct upconn *c);

/* Send msg (len bytes, a DNS query) on c: a fresh ID unique on c is written to
 * msg[0..1] and q->id, options are added to a copy (keepalive; padding over
 * TLS). Returns 0 (a callback follows), or a negative UPCONN_E* code (none). */
int upconn_send(struct upconn *c, struct upconn_query *q, uint8_t *msg, size_t len);

/* Detach q: no callback for it follows. A detached q is a no-op. */
void upconn_cancel(struct upconn_query *q);

void upconn_get_stats(const struct upconn *c, struct upconn_stats *st);

/* Add an edns-tcp-keepalive option (keepalive != 0) and EDNS(0) padding to a
 * multiple of block bytes (block != 0) to the query msg[0..*len) in a buffer
 * of cap bytes, adding an OPT record when there is none. Returns 0, or -1
 * (msg unchanged) when the message is malformed, its OPT record is not the
 * last record, or the options do not fit. */
int upconn_add_query_options(uint8_t *msg, size_t *len, size_t cap, int keepalive, uint16_t block);

#endif
