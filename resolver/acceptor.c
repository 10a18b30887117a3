/* resolver/acceptor.c — a TCP listener that accepts by itself (acceptor.h).
 *
 * libuv's own listener accepts inside its I/O callback: its owner cannot leave
 * connections in the backlog while it is full, and an accept() error other than
 * EMFILE is handed to the callback and retried at once, in a loop. Here a
 * uv_poll watches the listening socket; each wake-up accepts a bounded batch,
 * a paused acceptor does not watch at all, and EMFILE, ENFILE, ENOBUFS, ENOMEM
 * (or any error but the transient ones) stop watching for 100 ms, doubling up
 * to a second while they last, logged once per episode.
 */
#include "acceptor.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define ACCEPTOR_BATCH 32
#define ACCEPTOR_BACKOFF_MIN_MS 100
#define ACCEPTOR_BACKOFF_MAX_MS 1000

struct acceptor {
    uv_poll_t poll;
    uv_timer_t backoff;
    int fd;
    int paused, backing_off, polling, closing;
    unsigned backoff_ms; /* 0: the last accept() worked */
    unsigned handles;    /* libuv handles not yet closed */
    acceptor_cb cb;
    void *data;
    void (*closed)(void *data);
    char name[32];
};

static void on_readable(uv_poll_t *p, int status, int events);

static void update(struct acceptor *a)
{
    int want = !a->paused && !a->backing_off && !a->closing;
    if (want && !a->polling) {
        if (uv_poll_start(&a->poll, UV_READABLE, on_readable) == 0)
            a->polling = 1;
    } else if (!want && a->polling) {
        uv_poll_stop(&a->poll);
        a->polling = 0;
    }
}

static void backoff_done(uv_timer_t *t)
{
    struct acceptor *a = t->data;
    a->backing_off = 0;
    update(a);
}

static void back_off(struct acceptor *a, int err)
{
    unsigned ms = a->backoff_ms ? a->backoff_ms * 2 : ACCEPTOR_BACKOFF_MIN_MS;
    if (ms > ACCEPTOR_BACKOFF_MAX_MS)
        ms = ACCEPTOR_BACKOFF_MAX_MS;
    if (!a->backoff_ms)
        log_warnx("%s: accept: %s: not accepting for a moment", a->name, strerror(err));
    a->backoff_ms = ms;
    a->backing_off = 1;
    uv_timer_start(&a->backoff, backoff_done, ms, 0);
    update(a);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    struct acceptor *a = p->data;
    (void)status;
    (void)events;
    for (int i = 0; i < ACCEPTOR_BATCH && !a->paused && !a->closing; i++) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(a->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                back_off(a, errno);
            return;
        }
        if (a->backoff_ms)
            log_info("%s: accepting again", a->name);
        a->backoff_ms = 0;
        a->cb(a->data, fd, (struct sockaddr *)&peer, len);
    }
}

static void handle_closed(uv_handle_t *h)
{
    struct acceptor *a = h->data;
    if (--a->handles)
        return;
    if (a->fd >= 0)
        close(a->fd);
    if (a->closed)
        a->closed(a->data);
    free(a);
}

int acceptor_open(uv_loop_t *loop, int fd, int backlog, acceptor_cb cb, void *data,
                  const char *name, struct acceptor **out)
{
    struct acceptor *a = calloc(1, sizeof *a);
    int rc;
    if (!a) {
        close(fd);
        return UV_ENOMEM;
    }
    if (listen(fd, backlog) < 0) {
        rc = uv_translate_sys_error(errno);
        close(fd);
        free(a);
        return rc;
    }
    if ((rc = uv_poll_init(loop, &a->poll, fd)) < 0) {
        close(fd);
        free(a);
        return rc;
    }
    a->fd = fd;
    a->cb = cb;
    a->data = data;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->poll.data = a;
    uv_timer_init(loop, &a->backoff);
    a->backoff.data = a;
    a->handles = 2;
    update(a);
    *out = a;
    return 0;
}

int acceptor_listen(uv_loop_t *loop, const struct sockaddr *sa, int backlog, acceptor_cb cb,
                    void *data, const char *name, struct acceptor **out)
{
    int on = 1;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                               : sizeof(struct sockaddr_in);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
        (sa->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0) ||
        bind(fd, sa, len) < 0) {
        int rc = uv_translate_sys_error(errno);
        close(fd);
        return rc;
    }
    return acceptor_open(loop, fd, backlog, cb, data, name, out);
}

void acceptor_pause(struct acceptor *a)
{
    a->paused = 1;
    update(a);
}

void acceptor_resume(struct acceptor *a)
{
    a->paused = 0;
    update(a);
}

void acceptor_close(struct acceptor *a, void (*closed)(void *data))
{
    if (!a || a->closing)
        return;
    a->closing = 1;
    a->closed = closed;
    update(a);
    uv_close((uv_handle_t *)&a->poll, handle_closed);
    uv_close((uv_handle_t *)&a->backoff, handle_closed);
}
