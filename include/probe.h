/* include/probe.h — does each upstream pass DNSSEC through? (issue 11)
 *
 * Many home routers and some ISP resolvers drop RRSIGs or DS records; through
 * them every answer under a trust anchor is bogus. Each upstream is asked, at
 * start (a reload builds a new probe) and every PROBE_INTERVAL_MS after
 * (PROBE_RETRY_MS while it fails), with DO set, over the transport the
 * forwarder uses for it (UDP, TCP or DNS-over-TLS):
 *   - DNSKEY at the trust anchor: the answer must carry RRSIGs;
 *   - DS of a name under the anchor (PROBE_LABEL.<anchor>): the answer, the DS
 *     set or its signed denial, must carry RRSIGs, and must come at all.
 * An upstream that strips is marked and logged once in plain words; the
 * forwarder does not use it while another is known capable (probe_usable());
 * with none capable the resolver answers SERVFAIL with EDE 10 and a text
 * that says why (probe_blocked()).
 */
#ifndef DANEGUARD_PROBE_H
#define DANEGUARD_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

#define PROBE_INTERVAL_MS (600u * 1000)
#define PROBE_RETRY_MS (60u * 1000)
#define PROBE_TRY_MS 1500 /* per try; three tries */
#define PROBE_LABEL "daneguard-probe"

enum probe_state {
    PROBE_UNKNOWN,     /* not probed yet */
    PROBE_CAPABLE,     /* signatures and DS come through */
    PROBE_STRIPS,      /* answers without RRSIGs (or no EDNS) */
    PROBE_DROPS_DS,    /* DNSKEY answered, DS queries never */
    PROBE_UNREACHABLE, /* no usable answer to either */
};

struct probe;

struct forwarder;

/* Probe upstreams[0..n) for the trust anchor anchor (wire format) on loop;
 * the first round starts when the loop next runs its timers (nothing is sent
 * from inside this call). fw (not owned; may be NULL: UDP alone) is the
 * forwarder whose upstreams these are, in its order: each is asked over the
 * transport fw uses for it, TCP and TLS on fw's own connections
 * (forwarder_probe_query()). probe_free() must come before forwarder_free()
 * of fw. Returns 0, or -1 when out of memory. The upstreams are copied. */
int probe_new(uv_loop_t *loop, struct forwarder *fw, const struct config_upstream *upstreams,
              size_t n, const uint8_t *anchor, size_t anchor_len, struct probe **out);

/* Stops every probe; the memory goes once libuv has closed the handles.
 * NULL is a no-op. */
void probe_free(struct probe *p);

enum probe_state probe_get_state(const struct probe *p, size_t i);

/* Whether the forwarder may send client queries to upstream i: 1 unless it
 * strips DNSSEC while another upstream is known capable. NULL p: 1. */
int probe_usable(const struct probe *p, size_t i);

/* 1 when no upstream can be validated through: every one probed, none
 * capable, at least one stripping; *why (static until the next round) says
 * so in a line for an EDE text. NULL p: 0. */
int probe_blocked(const struct probe *p, const char **why);

/* One line per upstream that strips, each ending in '\n', into out (cap > 0). */
void probe_notes(const struct probe *p, char *out, size_t cap);

#endif
