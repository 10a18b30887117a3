/* resolver/uvloop.c — getdns's event-loop interface on libuv, one poll per fd.
 *
 * getdns hands us getdns_eventloop_events: an fd with read and/or write
 * callbacks, and/or a timeout callback. Several events may share an fd (a TCP
 * upstream's reader and a pending writer). libuv allows one uv_poll_t per fd, so
 * events are grouped per fd and the poll's interest is the union of theirs.
 *
 * getdns may clear any event (even the one whose callback is running, or others
 * on the same fd) from inside a callback, so dispatch never holds a pointer
 * across a callback: after each one it rescans the fd's list from the head,
 * firing each event at most once per poll wake-up (a round number marks them).
 *
 * getdns may also close an fd while events are still registered on it, and the
 * kernel may hand the same number to its next socket. A poll left on the old
 * file would then make libuv modify an epoll registration the kernel already
 * dropped (libuv aborts on that ENOENT). So each fd's poll remembers which file
 * it watches (device and inode), and a schedule on a number that now names
 * another file retires the stale poll first. Worse, getdns may close an fd right
 * after scheduling on it, before the loop polls: libuv would then abort on the
 * EBADF of its deferred epoll_ctl. A prepare handle, which runs just before
 * libuv polls, checks every poll started or changed since (the "dirty" ones)
 * and retires those whose fd no longer names their file.
 *
 * The checks above come too late in one case: a poll left on a closed fd keeps
 * its slot in libuv's watcher table, so the next handle that gets the same fd
 * number (a proxy connection, a new getdns socket) is never watched, and closing
 * the stale poll later removes the new socket from epoll. So the process's
 * close() comes here (uvloop_close_from(), called by resolver/fdwrap.c, which
 * defines close() and socket() for the programs that run getdns): getdns's
 * calls to it (and everyone else's) stop our poll on that fd first, while the
 * fd still names its file, and then close it.
 *
 * And getdns 1.6.0 closes some fds twice (seen when a context with failed
 * upstreams is destroyed on reload): the second close lands on whatever got
 * the number in between (the new forwarder's socket, a client's connection),
 * and libuv aborts on the EBADF of its next epoll_ctl. So socket() and close()
 * called from inside libgetdns are tracked (uvloop_socket_from(),
 * uvloop_close_from()): a close from getdns of a number it
 * already closed, and has not had from socket() since, is dropped (and logged).
 *
 * getdns 1.6.0 cannot be cancelled safely once a socket() of its has failed
 * with EMFILE or ENFILE: it parks the request on its context's pending list
 * ("try again later"), getdns_cancel_callback() frees the request without
 * taking it off that list, and the next request to finish resubmits the freed
 * one (a heap-use-after-free, seen as a crash under fd exhaustion). So socket()
 * called from libgetdns never reports EMFILE or ENFILE: it says ENOBUFS, which
 * getdns treats as a plain failure of that request (upstream.c tries again).
 * It also refuses (ENOBUFS) once getdns holds uvloop_set_socket_limit() sockets,
 * so the lookups' fan-out cannot take the fds the other services were given.
 *
 * Costs: whether a caller is libgetdns is a range check against libgetdns's
 * code segments (found once with dl_iterate_phdr); fstat() runs once per new
 * poll (to know its file) and once more before the loop first polls it, since
 * close() keeps the table honest for every close on the loop's thread.
 */
#include "uvloop.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

struct uvloop_fd;

struct uvloop_event {
    getdns_eventloop_event *gev;
    struct uvloop_fd *fdp; /* NULL for a pure timer */
    struct uvloop_event *next_on_fd;
    uv_timer_t *timer; /* NULL when no timeout */
    unsigned round;    /* last dispatch round it fired in */
    struct uvloop_event *all_next, *all_prev; /* on the adapter's list of every event */
};

struct uvloop_fd {
    uv_poll_t poll;
    int fd;
    int events; /* UV_READABLE | UV_WRITABLE now requested */
    struct uvloop_event *list;
    struct uvloop_fd *next; /* in the adapter's hash bucket */
    struct uvloop *ul;
    int dispatching; /* do not free while inside poll_cb */
    int dead;        /* list emptied during dispatch: close after */
    int unlinked;    /* no longer in the adapter's table */
    int dirty;       /* poll (re)started since the last prepare */
    dev_t dev;       /* the file this poll watches */
    ino_t ino;
};

#define UVLOOP_BUCKETS 256

struct uvloop {
    getdns_eventloop base; /* first: getdns passes &base back to us */
    uv_loop_t *loop;
    struct uvloop_fd *buckets[UVLOOP_BUCKETS];
    unsigned round;
    unsigned n_dirty;
    uv_prepare_t prepare;
    struct uvloop_event events;  /* list head: every event scheduled and not cleared */
    struct uvloop *next_adapter; /* on uvloop_adapters */
};

static struct uvloop_fd **fd_slot(struct uvloop *ul, int fd)
{
    struct uvloop_fd **pp = &ul->buckets[(unsigned)fd % UVLOOP_BUCKETS];
    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->next;
    return pp;
}

static void fd_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void fd_unlink(struct uvloop_fd *fdp)
{
    if (fdp->dirty) {
        fdp->dirty = 0;
        fdp->ul->n_dirty--;
    }
    if (fdp->unlinked)
        return;
    struct uvloop_fd **pp = fd_slot(fdp->ul, fdp->fd);
    if (*pp == fdp)
        *pp = fdp->next;
    fdp->unlinked = 1;
}

static void fd_release(struct uvloop_fd *fdp)
{
    fd_unlink(fdp);
    uv_close((uv_handle_t *)&fdp->poll, fd_close_cb);
}

/* The fd number was closed and reused behind our back: the events still on the
 * old poll lose their fd registration (getdns will clear them), and the poll goes. */
static void fd_retire_stale(struct uvloop_fd *fdp)
{
    for (struct uvloop_event *e = fdp->list; e; e = e->next_on_fd)
        e->fdp = NULL;
    fdp->list = NULL;
    fd_unlink(fdp);
    if (fdp->dispatching)
        fdp->dead = 1;
    else
        fd_release(fdp);
}

static void poll_cb(uv_poll_t *handle, int status, int revents);

/* Recompute the fd's poll interest from its events; release it when none left. */
static void fd_update(struct uvloop_fd *fdp)
{
    int want = 0;
    for (struct uvloop_event *e = fdp->list; e; e = e->next_on_fd) {
        if (e->gev->read_cb)
            want |= UV_READABLE;
        if (e->gev->write_cb)
            want |= UV_WRITABLE;
    }
    if (!fdp->list) {
        if (fdp->dispatching) {
            /* Stop now: getdns has usually closed the fd already, and a callback
             * still running may open a new socket on the same number. */
            uv_poll_stop(&fdp->poll);
            fdp->events = 0;
            fdp->dead = 1;
        } else
            fd_release(fdp);
        return;
    }
    if (want == fdp->events)
        return;
    fdp->events = want;
    if (want) {
        uv_poll_start(&fdp->poll, want, poll_cb);
    } else {
        uv_poll_stop(&fdp->poll);
    }
}

/* Whether fd still names the file fdp was set up for. */
static int fd_same_file(const struct uvloop_fd *fdp)
{
    struct stat st;
    return fstat(fdp->fd, &st) == 0 && st.st_dev == fdp->dev && st.st_ino == fdp->ino;
}

static void fd_retire_stale(struct uvloop_fd *fdp);

static void prepare_cb(uv_prepare_t *h)
{
    struct uvloop *ul = h->data;
    if (ul->n_dirty == 0)
        return;
    for (int i = 0; i < UVLOOP_BUCKETS; i++) {
        struct uvloop_fd *fdp = ul->buckets[i];
        while (fdp) {
            struct uvloop_fd *next = fdp->next;
            if (fdp->dirty) {
                fdp->dirty = 0;
                if (!fd_same_file(fdp)) {
                    log_debug("uvloop: fd %d was closed under its events; dropping its poll",
                              fdp->fd);
                    fd_retire_stale(fdp);
                }
            }
            fdp = next;
        }
    }
    ul->n_dirty = 0;
}

static void poll_cb(uv_poll_t *handle, int status, int revents)
{
    struct uvloop_fd *fdp = handle->data;
    struct uvloop *ul = fdp->ul;
    unsigned round = ++ul->round;

    if (status < 0) /* an error on the fd: let both sides find out by trying */
        revents = UV_READABLE | UV_WRITABLE;
    fdp->dispatching = 1;
    for (;;) {
        struct uvloop_event *e;
        getdns_eventloop_callback cb = NULL;
        for (e = fdp->list; e; e = e->next_on_fd) {
            if (e->round == round)
                continue;
            if ((revents & UV_READABLE) && e->gev->read_cb)
                cb = e->gev->read_cb;
            else if ((revents & UV_WRITABLE) && e->gev->write_cb)
                cb = e->gev->write_cb;
            else
                continue;
            break;
        }
        if (!e)
            break;
        e->round = round;
        cb(e->gev->userarg);
        if (!fdp->list)
            break;
    }
    fdp->dispatching = 0;
    if (fdp->dead && !fdp->list)
        fd_release(fdp);
}

static void timer_close_cb(uv_handle_t *h)
{
    free(h);
}

static void timer_cb(uv_timer_t *t)
{
    struct uvloop_event *e = t->data;
    if (e->gev->timeout_cb)
        e->gev->timeout_cb(e->gev->userarg);
}

static getdns_return_t uvloop_schedule(getdns_eventloop *loop, int fd, uint64_t timeout,
                                       getdns_eventloop_event *gev)
{
    struct uvloop *ul = (struct uvloop *)loop;
    struct uvloop_event *e = calloc(1, sizeof *e);
    if (!e)
        return GETDNS_RETURN_MEMORY_ERROR;
    e->gev = gev;
    e->round = ul->round;

    if (fd >= 0 && (gev->read_cb || gev->write_cb)) {
        struct uvloop_fd **pp = fd_slot(ul, fd);
        struct uvloop_fd *fdp = *pp;
        if (!fdp) {
            /* A poll already in the table names its file: close() retires it
             * before the number can be reused. Only a new one needs fstat(),
             * to know its file, and a second look before the loop polls it. */
            struct stat st;
            fdp = calloc(1, sizeof *fdp);
            if (!fdp || fstat(fd, &st) != 0 || uv_poll_init(ul->loop, &fdp->poll, fd) != 0) {
                free(fdp);
                free(e);
                return GETDNS_RETURN_GENERIC_ERROR;
            }
            fdp->fd = fd;
            fdp->dev = st.st_dev;
            fdp->ino = st.st_ino;
            fdp->ul = ul;
            fdp->poll.data = fdp;
            fdp->dirty = 1;
            ul->n_dirty++;
            *pp = fdp;
        }
        e->fdp = fdp;
        fdp->dead = 0; /* emptied and refilled inside one dispatch: keep it */
        e->next_on_fd = fdp->list;
        fdp->list = e;
        fd_update(fdp);
    }
    e->all_next = ul->events.all_next;
    e->all_prev = &ul->events;
    ul->events.all_next->all_prev = e;
    ul->events.all_next = e;
    if (gev->timeout_cb && timeout != UINT64_MAX) {
        e->timer = malloc(sizeof *e->timer);
        if (!e->timer) {
            gev->ev = e;
            loop->vmt->clear(loop, gev);
            return GETDNS_RETURN_MEMORY_ERROR;
        }
        uv_timer_init(ul->loop, e->timer);
        e->timer->data = e;
        uv_timer_start(e->timer, timer_cb, timeout, 0);
    }
    gev->ev = e;
    return GETDNS_RETURN_GOOD;
}

static getdns_return_t uvloop_clear(getdns_eventloop *loop, getdns_eventloop_event *gev)
{
    struct uvloop_event *e = gev->ev;
    (void)loop;
    if (!e)
        return GETDNS_RETURN_GOOD;
    if (e->fdp) {
        struct uvloop_event **pp = &e->fdp->list;
        while (*pp && *pp != e)
            pp = &(*pp)->next_on_fd;
        if (*pp)
            *pp = e->next_on_fd;
        fd_update(e->fdp);
    }
    e->all_prev->all_next = e->all_next;
    e->all_next->all_prev = e->all_prev;
    if (e->timer) {
        uv_timer_stop(e->timer);
        uv_close((uv_handle_t *)e->timer, timer_close_cb);
    }
    free(e);
    gev->ev = NULL;
    return GETDNS_RETURN_GOOD;
}

/* getdns calls these only in its synchronous API, which daneguard never uses. */
static void uvloop_run(getdns_eventloop *loop)
{
    uv_run(((struct uvloop *)loop)->loop, UV_RUN_DEFAULT);
}

static void uvloop_run_once(getdns_eventloop *loop, int blocking)
{
    uv_run(((struct uvloop *)loop)->loop, blocking ? UV_RUN_ONCE : UV_RUN_NOWAIT);
}

static void uvloop_cleanup(getdns_eventloop *loop)
{
    (void)loop; /* the adapter is freed by uvloop_free(), not by getdns */
}

static getdns_eventloop_vmt uvloop_vmt = {
    uvloop_cleanup, uvloop_schedule, uvloop_clear, uvloop_run, uvloop_run_once,
};

/* Every live adapter, for close() (two exist for a moment during a reload;
 * the list has no bound). */
static struct uvloop *uvloop_adapters;
static pthread_t uvloop_thread; /* the loop's thread: the only one that touches them */
static int uvloop_thread_known;

/* fds getdns closed and has not had from socket() since, and fds getdns has
 * open: one bit each, grown with the fd numbers. Only libgetdns's calls and the
 * loop's thread (the one getdns runs on) touch them. */
static uint8_t *fd_closed_bits, *fd_open_bits;
static size_t fd_bits_bytes;
static size_t getdns_sockets_open, getdns_socket_limit = SIZE_MAX;
static uint64_t getdns_socket_refusals;
static int fd_max_open = -1; /* highest fd getdns ever opened, for uvloop_getdns_socket_at() */

static int fd_bit(const uint8_t *bits, int fd)
{
    return (size_t)fd / 8 < fd_bits_bytes && (bits[fd / 8] & (1u << (fd % 8)));
}

/* Set or clear fd's bit in *bits (one of the two maps). 0, or -1 when the maps
 * cannot grow: the fd is then not tracked, and that is logged. */
static int fd_bit_set(uint8_t **bits, int fd, int on)
{
    if ((size_t)fd / 8 >= fd_bits_bytes) {
        if (!on)
            return 0;
        size_t n = fd_bits_bytes ? fd_bits_bytes : 1024;
        while (n <= (size_t)fd / 8)
            n *= 2;
        uint8_t *a = realloc(fd_closed_bits, n);
        if (!a)
            goto oom;
        fd_closed_bits = a;
        uint8_t *b = realloc(fd_open_bits, n);
        if (!b)
            goto oom;
        fd_open_bits = b;
        memset(a + fd_bits_bytes, 0, n - fd_bits_bytes);
        memset(b + fd_bits_bytes, 0, n - fd_bits_bytes);
        fd_bits_bytes = n;
    }
    if (on)
        (*bits)[fd / 8] |= (uint8_t)(1u << (fd % 8));
    else
        (*bits)[fd / 8] &= (uint8_t) ~(1u << (fd % 8));
    return 0;
oom:
    log_warnx("uvloop: out of memory tracking fd %d: it loses its double-close protection", fd);
    return -1;
}

/* libgetdns's executable segments, found once. */
#define UVLOOP_MAX_SEGMENTS 8
static struct {
    uintptr_t lo, hi;
} getdns_text[UVLOOP_MAX_SEGMENTS];
static int getdns_n_text;
static pthread_once_t getdns_text_once = PTHREAD_ONCE_INIT;

static int find_getdns_text(struct dl_phdr_info *info, size_t size, void *target)
{
    int mine = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (uintptr_t)target >= lo && (uintptr_t)target < lo + ph->p_memsz)
            mine = 1;
    }
    if (!mine)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && getdns_n_text < UVLOOP_MAX_SEGMENTS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            getdns_text[getdns_n_text].lo = info->dlpi_addr + ph->p_vaddr;
            getdns_text[getdns_n_text].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            getdns_n_text++;
        }
    }
    return 1;
}

static void getdns_text_init(void)
{
    dl_iterate_phdr(find_getdns_text, (void *)(uintptr_t)getdns_context_create);
}

int uvloop_called_from_getdns(const void *addr)
{
    pthread_once(&getdns_text_once, getdns_text_init);
    for (int i = 0; i < getdns_n_text; i++)
        if ((uintptr_t)addr >= getdns_text[i].lo && (uintptr_t)addr < getdns_text[i].hi)
            return 1;
    return 0;
}

static int on_loop_thread(void)
{
    return uvloop_thread_known && pthread_equal(pthread_self(), uvloop_thread);
}

int uvloop_socket_from(const void *caller, int domain, int type, int protocol)
{
    if (!uvloop_called_from_getdns(caller))
        return (int)syscall(SYS_socket, domain, type, protocol);
    if (getdns_sockets_open >= getdns_socket_limit) {
        getdns_socket_refusals++;
        errno = ENOBUFS; /* never EMFILE for getdns: see the head comment */
        return -1;
    }
    int fd = (int)syscall(SYS_socket, domain, type, protocol);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
            getdns_socket_refusals++;
            errno = ENOBUFS;
        }
        return -1;
    }
    fd_bit_set(&fd_closed_bits, fd, 0);
    if (fd_bit_set(&fd_open_bits, fd, 1) == 0) {
        getdns_sockets_open++;
        if (fd > fd_max_open)
            fd_max_open = fd;
    }
    return fd;
}

int uvloop_close_from(const void *caller, int fd)
{
    int from_getdns = fd >= 0 && uvloop_called_from_getdns(caller);
    int on_loop = fd >= 0 && on_loop_thread();
    if (from_getdns) {
        if (fd_bit(fd_closed_bits, fd)) {
            log_debug("uvloop: getdns closed fd %d a second time: ignored", fd);
            return 0;
        }
        fd_bit_set(&fd_closed_bits, fd, 1);
    }
    if ((from_getdns || on_loop) && fd_bit(fd_open_bits, fd)) {
        fd_bit_set(&fd_open_bits, fd, 0);
        getdns_sockets_open--;
    }
    if (on_loop) {
        for (struct uvloop *ul = uvloop_adapters; ul; ul = ul->next_adapter) {
            struct uvloop_fd *fdp = *fd_slot(ul, fd);
            if (fdp) {
                /* Stopped and closed now, while fd is still the file it watches
                 * (inside a dispatch the close follows right after it). */
                uv_poll_stop(&fdp->poll);
                fdp->events = 0;
                fd_retire_stale(fdp);
            }
        }
    }
    return (int)syscall(SYS_close, fd);
}

void uvloop_set_socket_limit(size_t max)
{
    getdns_socket_limit = max ? max : SIZE_MAX;
}

void uvloop_get_stats(struct uvloop_stats *st)
{
    st->getdns_sockets = getdns_sockets_open;
    st->getdns_socket_refusals = getdns_socket_refusals;
}

static int same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    return addr_equal((const struct sockaddr *)a, b);
}

int uvloop_getdns_socket_at(const struct sockaddr *local)
{
    for (int fd = 0; fd <= fd_max_open; fd++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (fd_bit(fd_open_bits, fd) && getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
            same_sockaddr(&ss, local))
            return 1;
    }
    return 0;
}

static void adapter_closed(uv_handle_t *h)
{
    free(h->data);
}

struct uvloop *uvloop_new(uv_loop_t *loop)
{
    struct uvloop *ul = calloc(1, sizeof *ul);
    if (!ul)
        return NULL;
    ul->base.vmt = &uvloop_vmt;
    ul->loop = loop;
    ul->events.all_next = ul->events.all_prev = &ul->events;
    uv_prepare_init(loop, &ul->prepare);
    ul->prepare.data = ul;
    uv_prepare_start(&ul->prepare, prepare_cb);
    uv_unref((uv_handle_t *)&ul->prepare);
    uvloop_thread = pthread_self();
    uvloop_thread_known = 1;
    ul->next_adapter = uvloop_adapters;
    uvloop_adapters = ul;
    return ul;
}

getdns_eventloop *uvloop_getdns(struct uvloop *ul)
{
    return &ul->base;
}

void uvloop_free(struct uvloop *ul)
{
    if (!ul)
        return;
    for (struct uvloop **pp = &uvloop_adapters; *pp; pp = &(*pp)->next_adapter) {
        if (*pp == ul) {
            *pp = ul->next_adapter;
            break;
        }
    }
    /* getdns_context_destroy() has run: the getdns events these point to may be
     * freed already, so nothing of theirs is read or written here. */
    while (ul->events.all_next != &ul->events) {
        struct uvloop_event *e = ul->events.all_next;
        e->all_next->all_prev = e->all_prev;
        e->all_prev->all_next = e->all_next;
        log_debug("uvloop: an event (fd %d) still registered at shutdown",
                  e->fdp ? e->fdp->fd : -1);
        if (e->timer) {
            uv_timer_stop(e->timer);
            uv_close((uv_handle_t *)e->timer, timer_close_cb);
        }
        free(e);
    }
    for (int i = 0; i < UVLOOP_BUCKETS; i++) {
        while (ul->buckets[i]) {
            struct uvloop_fd *fdp = ul->buckets[i];
            fdp->list = NULL;
            fd_release(fdp);
        }
    }
    uv_close((uv_handle_t *)&ul->prepare, adapter_closed);
}
