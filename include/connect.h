/* include/connect.h — connecting to one of a host's validated addresses,
 * happy-eyeballs style (RFC 8305): IPv6 and IPv4 interleaved, IPv6 first, a new
 * attempt every HCONNECT_STAGGER_MS or as soon as one fails; the first to
 * connect wins and the others are closed.
 *
 * Only to addresses a destination policy allows (design.md, invariant 3): the
 * decision is made here, on the address connected to, whatever name led to
 * it, so a name that resolves to 127.0.0.1 (DNS rebinding) or a URL with an
 * address literal cannot reach this machine's or the LAN's services.
 */
#ifndef DANEGUARD_CONNECT_H
#define DANEGUARD_CONNECT_H

#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "addr.h"

#define HCONNECT_STAGGER_MS 250
#define HCONNECT_MAX_ADDRS 16

struct hconnect;

/* ---- where connections may go ---------------------------------------------- */

/* Every address whose addr_kind_of() is not ADDR_GLOBAL (loopback, private,
 * link-local, ..., embedded IPv4 forms included) and every address this
 * machine has is refused, unless it is inside one of the allowed networks
 * (proxy.allow_destinations). */
struct hconnect_policy;

/* Why an address is refused. */
struct hconnect_refusal {
    struct sockaddr_storage addr; /* the address, as it would have been connected to */
    enum addr_kind kind;          /* what it is (ADDR_GLOBAL for an own public address) */
    int own;                      /* one of this machine's own addresses */
};

/* A policy allowing allow[0..n_allow) (copied) besides global addresses. This
 * machine's addresses are read now (uv_interface_addresses); build a new policy
 * to read them again (on reload). NULL when out of memory. Free it with
 * hconnect_policy_free(); hconnects do not keep a pointer to it. */
struct hconnect_policy *hconnect_policy_new(const struct addr_cidr *allow, size_t n_allow);

/* NULL is a no-op. */
void hconnect_policy_free(struct hconnect_policy *p);

/* How many own addresses p knows (for a log line). */
size_t hconnect_policy_own_count(const struct hconnect_policy *p);

/* 1 when sa may be connected to; else 0, with *why filled when why is not
 * NULL. A NULL policy allows nothing. */
int hconnect_policy_allows(const struct hconnect_policy *p, const struct sockaddr *sa,
                           struct hconnect_refusal *why);

/* Keep in addrs[0..n) only the addresses p allows, in their order; returns how
 * many are left. When any was refused and first is not NULL, *first says why
 * the first of them was. */
size_t hconnect_policy_filter(const struct hconnect_policy *p, struct sockaddr_storage *addrs,
                              size_t n, struct hconnect_refusal *first);

/* ---- connecting ------------------------------------------------------------- */

/* On success status is 0 and tcp is a connected handle the callee now owns:
 * its data is the callee's, and hconnect_tcp_close() is the one way to close
 * it; addr is the address it reached. On failure status is a libuv error and
 * tcp is NULL. Runs exactly once unless cancelled. */
typedef void (*hconnect_cb)(void *arg, int status, uv_tcp_t *tcp, const struct sockaddr *addr);

/* Start connecting to those of addrs[0..n) (copied) that policy allows, giving
 * up after timeout_ms. Returns 0, or a libuv error (cb never runs): UV_EACCES
 * when policy allows none of them (callers that want to say why filter first
 * with hconnect_policy_filter()). */
int hconnect_start(uv_loop_t *loop, const struct hconnect_policy *policy,
                   const struct sockaddr_storage *addrs, size_t n, unsigned timeout_ms,
                   hconnect_cb cb, void *arg, struct hconnect **out);

/* cb will not run; attempts are closed. NULL is a no-op; only before cb ran. */
void hconnect_cancel(struct hconnect *hc);

/* Close a handle handed out by hconnect_cb: closed (may be NULL) runs from
 * libuv's close callback with the handle as it was (its data included), then
 * the handle's memory (hconnect's) is freed. NULL is a no-op. */
void hconnect_tcp_close(uv_tcp_t *tcp, uv_close_cb closed);

#endif
