/* daemon/cli_resolve.c — the configuration, a host's validated addresses
 * through daneguard's own resolver, and a bounded connection, for `daneguard
 * tlsa --connect` and `daneguard check` (include/cli_resolve.h).
 */
#include "cli_resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "addr.h"
#include "lookup.h"
#include "resolver.h"
#include "upstream.h"
#include "wire.h"

int cli_config_load(const char *who, const char *path, struct config *cfg)
{
    char err[CONFIG_ERR_LEN];
    if (config_load(path, cfg, err) < 0) {
        fprintf(stderr, "%s: %s\n", who, err);
        return -1;
    }
    if (cfg->resolver.n_upstreams == 0 &&
        upstream_from_resolv_conf(&cfg->resolver, err, sizeof err) <= 0) {
        fprintf(stderr, "%s: %s: resolver: %s\n", who, path,
                err[0] ? err : "no upstream servers");
        return -1;
    }
    return 0;
}

/* ---- addresses ------------------------------------------------------------- */

struct addr_lookup {
    struct lookup *l; /* NULL once answered (or never started) */
    int done, timed_out, rcode;
    enum dns_security security;
    char bogus_why[160];
    struct sockaddr_storage addrs[16];
    size_t n;
    uint16_t port;
    int *pending;
};

static void on_answer(void *arg, const struct lookup_result *res)
{
    struct addr_lookup *a = arg;
    const char *text = NULL;

    a->l = NULL;
    a->done = 1;
    a->timed_out = res->timed_out;
    a->rcode = res->rcode;
    a->security = res->security;
    if (res->security == DNS_BOGUS) {
        (void)dns_bogus_ede(res->msg, res->len, time(NULL), &text);
        snprintf(a->bogus_why, sizeof a->bogus_why, "%s", text ? text : "");
    } else if (!res->timed_out && res->rcode == DNS_RCODE_NOERROR) {
        /* only what validates: secure, or insecure (no chain of trust) */
        a->n = lookup_addresses(res, a->port, a->addrs, sizeof a->addrs / sizeof a->addrs[0]);
    }
    (*a->pending)--;
}

static void on_watchdog(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int cli_resolve_addresses(const struct config *cfg, const char *host, uint16_t port,
                          struct sockaddr_storage *out, size_t max, char *err, size_t errlen)
{
    uv_loop_t loop;
    uv_timer_t watchdog;
    struct resolver *r = NULL;
    struct addr_lookup a4 = {.port = port}, a6 = {.port = port};
    int pending = 0, expired = 0, n = -1;
    char rerr[256];

    if (uv_loop_init(&loop) != 0) {
        snprintf(err, errlen, "cannot make an event loop");
        return -1;
    }
    uv_timer_init(&loop, &watchdog);
    watchdog.data = &expired;
    a4.pending = a6.pending = &pending;
    if (resolver_new(&loop, &cfg->resolver, &r, rerr, sizeof rerr) < 0) {
        snprintf(err, errlen, "%s: resolver: %s", cfg->path, rerr);
        goto out;
    }
    if (lookup_start(r, host, DNS_TYPE_A, on_answer, &a4, &a4.l) < 0 ||
        (pending++, lookup_start(r, host, DNS_TYPE_AAAA, on_answer, &a6, &a6.l)) < 0) {
        snprintf(err, errlen, "cannot look up %s (not a host name?)", host);
        goto out;
    }
    pending++;
    /* the resolver's own deadline ends each lookup; this is a margin over it */
    uv_timer_start(&watchdog, on_watchdog, (uint64_t)cfg->resolver.timeout_ms * 2 + 5000, 0);
    while (pending > 0 && !expired)
        uv_run(&loop, UV_RUN_ONCE);

    if (a4.security == DNS_BOGUS || a6.security == DNS_BOGUS) {
        const struct addr_lookup *b = a4.security == DNS_BOGUS ? &a4 : &a6;
        snprintf(err, errlen, "DNSSEC validation failed for the address of %s (bogus)%s%s", host,
                 b->bogus_why[0] ? ": " : "", b->bogus_why);
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < a4.n && k < max; i++)
        out[k++] = a4.addrs[i];
    for (size_t i = 0; i < a6.n && k < max; i++)
        out[k++] = a6.addrs[i];
    if (k > 0) {
        n = (int)k;
        goto out;
    }
    if (!a4.done || !a6.done || a4.timed_out || a6.timed_out)
        snprintf(err, errlen, "looking up the address of %s timed out (no upstream answered)",
                 host);
    else if (a4.security == DNS_INDETERMINATE || a6.security == DNS_INDETERMINATE)
        snprintf(err, errlen, "the address of %s could not be validated (DNSSEC indeterminate)",
                 host);
    else if (a4.rcode == DNS_RCODE_NXDOMAIN || a6.rcode == DNS_RCODE_NXDOMAIN)
        snprintf(err, errlen, "%s does not exist (NXDOMAIN)", host);
    else if (a4.rcode != DNS_RCODE_NOERROR || a6.rcode != DNS_RCODE_NOERROR)
        snprintf(err, errlen, "looking up the address of %s failed (rcode %d)", host,
                 a4.rcode != DNS_RCODE_NOERROR ? a4.rcode : a6.rcode);
    else
        snprintf(err, errlen, "%s has no address (no A or AAAA records)", host);
out:
    lookup_cancel(a4.l);
    lookup_cancel(a6.l);
    uv_timer_stop(&watchdog);
    uv_run(&loop, UV_RUN_NOWAIT);
    resolver_unref(r);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    return n;
}

/* ---- connecting ------------------------------------------------------------------ */

int cli_connect_bounded(const struct sockaddr_storage *ss, int timeout_ms, char *err,
                        size_t errlen)
{
    socklen_t len = addr_len((const struct sockaddr *)ss);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto fail;
    if (connect(fd, (const struct sockaddr *)ss, len) != 0) {
        if (errno != EINPROGRESS)
            goto fail;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r;
        do
            r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            errno = ETIMEDOUT;
        if (r <= 0)
            goto fail;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            goto fail;
        if (soerr != 0) {
            errno = soerr;
            goto fail;
        }
    }
    int flags = fcntl(fd, F_GETFL);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        goto fail;
    return fd;
fail:
    snprintf(err, errlen, "cannot connect: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}
