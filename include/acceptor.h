/* include/acceptor.h — a TCP listener that accepts by itself, so its owner
 * decides when: it pauses while the owner is at its connection cap (new
 * connections wait in the kernel's backlog), and backs off for a moment when
 * accept() finds the process (or the system) out of file descriptors, instead
 * of spinning on the error or dropping what waits.
 */
#ifndef DANEGUARD_ACCEPTOR_H
#define DANEGUARD_ACCEPTOR_H

#include <sys/socket.h>
#include <uv.h>

struct acceptor;

/* One accepted connection: fd is non-blocking and close-on-exec, and the
 * callee's from here on (to close, or to hand to uv_tcp_open()). */
typedef void (*acceptor_cb)(void *data, int fd, const struct sockaddr *peer, socklen_t peer_len);

/* Bind a TCP socket to sa (SO_REUSEADDR; IPv6-only for an IPv6 address), listen
 * and accept on loop, calling cb(data, ...) per connection. name prefixes the
 * log lines ("dns", "forwarder"). Returns 0, or a negative libuv error code. */
int acceptor_listen(uv_loop_t *loop, const struct sockaddr *sa, int backlog, acceptor_cb cb,
                    void *data, const char *name, struct acceptor **out);

/* The same on fd, a TCP socket already bound; fd is the acceptor's from here
 * on, closed by it on failure too. */
int acceptor_open(uv_loop_t *loop, int fd, int backlog, acceptor_cb cb, void *data,
                  const char *name, struct acceptor **out);

/* Stop taking connections (they wait in the backlog) / take them again. */
void acceptor_pause(struct acceptor *a);
void acceptor_resume(struct acceptor *a);

/* Close the listener; closed(data) runs once libuv has released its handles,
 * and the acceptor is freed then. NULL is a no-op. */
void acceptor_close(struct acceptor *a, void (*closed)(void *data));

#endif
