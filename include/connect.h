/* include/connect.h — connecting to one of a host's validated addresses,
 * happy-eyeballs style (RFC 8305): IPv6 and IPv4 interleaved, IPv6 first, a new
 * attempt every HCONNECT_STAGGER_MS or as soon as one fails; the first to
 * connect wins and the others are closed.
 */
#ifndef DANEGUARD_CONNECT_H
#define DANEGUARD_CONNECT_H

#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#define HCONNECT_STAGGER_MS 250
#define HCONNECT_MAX_ADDRS 16

struct hconnect;

/* On success status is 0 and tcp is a connected handle the callee now owns
 * (close it with hconnect_tcp_close()); addr is the address it reached. On
 * failure status is a libuv error and tcp is NULL. Runs exactly once unless
 * cancelled. */
typedef void (*hconnect_cb)(void *arg, int status, uv_tcp_t *tcp, const struct sockaddr *addr);

/* Start connecting to addrs[0..n) (copied), giving up after timeout_ms.
 * Returns 0, or a libuv error (cb never runs). */
int hconnect_start(uv_loop_t *loop, const struct sockaddr_storage *addrs, size_t n,
                   unsigned timeout_ms, hconnect_cb cb, void *arg, struct hconnect **out);

/* cb will not run; attempts are closed. NULL is a no-op; only before cb ran. */
void hconnect_cancel(struct hconnect *hc);

/* Close a handle handed out by hconnect_cb and free it. */
void hconnect_tcp_close(uv_tcp_t *tcp);

#endif
