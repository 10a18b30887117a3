/* include/uvloop.h — getdns's event-loop interface on daneguard's libuv loop.
 *
 * getdns 1.6.0's own libuv extension registers two uv_poll handles on one fd and
 * crashes libuv under a TCP backlog; this adapter keeps exactly one uv_poll per
 * fd and dispatches readable/writable to every getdns event registered on it.
 */
#ifndef DANEGUARD_UVLOOP_H
#define DANEGUARD_UVLOOP_H

#include <getdns/getdns_extra.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct uvloop;

/* An adapter on loop (not owned). NULL when out of memory. */
struct uvloop *uvloop_new(uv_loop_t *loop);

/* The getdns view of it, for getdns_context_set_eventloop(). Owned by the adapter. */
getdns_eventloop *uvloop_getdns(struct uvloop *ul);

/* Close every handle still registered and free the adapter once libuv has
 * released them (runs the loop briefly is the caller's business). NULL is a no-op.
 * Call after getdns_context_destroy(): nothing getdns owns is touched. */
void uvloop_free(struct uvloop *ul);

/* The most sockets libgetdns may hold open at once, process-wide (0: no bound).
 * Past it, and whenever the kernel says EMFILE or ENFILE, getdns's socket()
 * fails with ENOBUFS: getdns 1.6.0 mishandles the first two (uvloop.c says how). */
void uvloop_set_socket_limit(size_t max);

struct uvloop_stats {
    size_t getdns_sockets;           /* open now */
    uint64_t getdns_socket_refusals; /* socket() calls of getdns refused or failed for fds */
};
void uvloop_get_stats(struct uvloop_stats *st);

/* The bodies of the process's socket() and close(), for resolver/fdwrap.c
 * alone (it defines both, outside libdaneguard.a, for the programs that run
 * getdns): caller is the call's return address, which tells libgetdns's calls
 * from everyone else's. Same results and errno as the system calls, except
 * as uvloop.c's head comment says (ENOBUFS for getdns instead of EMFILE and
 * past the limit; a second close of one fd by getdns is dropped). Without
 * fdwrap.o in a program, nothing is tracked: the limit does not apply and
 * uvloop_getdns_socket_at() is always 0. */
int uvloop_socket_from(const void *caller, int domain, int type, int protocol);
/* Whether the code at addr (a return address) is libgetdns's. */
int uvloop_called_from_getdns(const void *addr);
int uvloop_close_from(const void *caller, int fd);

/* Whether a socket libgetdns opened in this process is bound to local (address
 * and port): how the forwarder tells getdns's connections from anyone else's. */
int uvloop_getdns_socket_at(const struct sockaddr *local);

#endif
