/* include/uvloop.h — getdns's event-loop interface on daneguard's libuv loop.
 *
 * getdns 1.6.0's own libuv extension registers two uv_poll handles on one fd and
 * crashes libuv under a TCP backlog; this adapter keeps exactly one uv_poll per
 * fd and dispatches readable/writable to every getdns event registered on it.
 */
#ifndef DANEGUARD_UVLOOP_H
#define DANEGUARD_UVLOOP_H

#include <getdns/getdns_extra.h>
#include <uv.h>

struct uvloop;

/* An adapter on loop (not owned). NULL when out of memory. */
struct uvloop *uvloop_new(uv_loop_t *loop);

/* The getdns view of it, for getdns_context_set_eventloop(). Owned by the adapter. */
getdns_eventloop *uvloop_getdns(struct uvloop *ul);

/* Close every handle still registered and free the adapter once libuv has
 * released them (runs the loop briefly is the caller's business). NULL is a no-op.
 * Call after getdns_context_destroy(). */
void uvloop_free(struct uvloop *ul);

#endif
