/* daemon/tls_fetch.c — drives the sans-I/O TLS engine (proxy/tls.c) over a
 * socket with poll(), for the CLI: one engine for the daemon and its tools, as
 * libtls serves blocking and non-blocking callers. */
#include "tls_fetch.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dane.h"
#include "tls.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline. 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Write all pending ciphertext. 0, or -1 with err set. */
static int flush_output(struct tls_conn *conn, int fd, int64_t deadline, char *err, size_t errlen)
{
    const uint8_t *p;
    size_t len;
    while (tls_conn_output(conn, &p, &len)) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            tls_conn_output_done(conn, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_fd(fd, POLLOUT, deadline);
            if (r > 0)
                continue;
            snprintf(err, errlen, r == 0 ? "timed out sending" : "send: %s", strerror(errno));
            return -1;
        }
        snprintf(err, errlen, "send: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Read what the socket has into the engine. 0, or -1 with err set. */
static int fill_input(struct tls_conn *conn, int fd, int64_t deadline, char *err, size_t errlen)
{
    int r = wait_fd(fd, POLLIN, deadline);
    if (r <= 0) {
        snprintf(err, errlen, r == 0 ? "timed out waiting for the server" : "poll: %s",
                 strerror(errno));
        return -1;
    }
    uint8_t *buf;
    size_t cap;
    if (tls_conn_input_buffer(conn, &buf, &cap) != 0 || cap == 0) {
        snprintf(err, errlen, "TLS input buffer full");
        return -1;
    }
    ssize_t n;
    do
        n = recv(fd, buf, cap, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n < 0) {
        snprintf(err, errlen, "recv: %s", strerror(errno));
        return -1;
    }
    if (n == 0)
        return tls_conn_feed(conn, NULL, 0) == 0 ? 0 : -1;
    return tls_conn_input_commit(conn, (size_t)n) == 0 ? 0 : -1;
}

int tls_fetch_chain(int fd, const char *host, uint16_t port, int timeout_ms,
                    mbedtls_x509_crt *out, char *err, size_t errlen)
{
    static const char *const alpn[] = {"h2", "http/1.1", NULL};
    struct tls_client_options opt = {.alpn = alpn, .session_cache_entries = 0};
    struct tls_client_config *cfg = NULL;
    struct tls_conn *conn = NULL;
    int64_t deadline = now_ms() + timeout_ms;
    int rc = TLS_ENOMEM;

    err[0] = '\0';
    if ((cfg = tls_client_config_new(&opt)) == NULL ||
        (conn = tls_conn_new_client(cfg, host, port)) == NULL) {
        snprintf(err, errlen, "cannot set up TLS for %s", host);
        goto out;
    }
    for (;;) {
        rc = tls_conn_handshake(conn);
        if (flush_output(conn, fd, deadline, err, errlen) != 0) {
            rc = TLS_ETRUNCATED;
            goto out;
        }
        if (rc == 0)
            break;
        if (rc != TLS_WANT_IO) {
            /* tls.c ends its text with mbedTLS's code, "(-0x23e0; ...)": a
             * certificate mbedTLS cannot parse is said in words (dane.h) */
            const char *code = strstr(tls_conn_error(conn), "(-0x");
            unsigned mbed = 0;
            if (code && sscanf(code, "(-0x%x", &mbed) == 1 && mbed <= 0xFFFF &&
                dane_cert_parse_error(-(int)mbed))
                dane_cert_unparsable_reason(err, errlen, -(int)mbed);
            else
                snprintf(err, errlen, "TLS handshake failed: %s",
                         tls_conn_error(conn)[0] ? tls_conn_error(conn) : tls_strerror(rc));
            goto out;
        }
        if (fill_input(conn, fd, deadline, err, errlen) != 0) {
            rc = TLS_ETRUNCATED;
            goto out;
        }
    }
    const mbedtls_x509_crt *chain = tls_conn_peer_chain(conn);
    if (chain == NULL || chain->raw.p == NULL) {
        snprintf(err, errlen, "the server presented no certificate");
        rc = TLS_EHANDSHAKE;
        goto out;
    }
    for (const mbedtls_x509_crt *c = chain; c != NULL && c->raw.p != NULL; c = c->next)
        if (mbedtls_x509_crt_parse_der(out, c->raw.p, c->raw.len) != 0) {
            snprintf(err, errlen, "a presented certificate does not parse");
            rc = TLS_EHANDSHAKE;
            goto out;
        }
    if (tls_conn_close_notify(conn) == 0)
        (void)flush_output(conn, fd, deadline, err, errlen);
    err[0] = '\0';
    rc = 0;
out:
    tls_conn_free(conn);
    tls_client_config_free(cfg);
    return rc;
}
