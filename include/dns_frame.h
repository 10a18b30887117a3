/* include/dns_frame.h — DNS over TCP's message framing (RFC 1035 §4.2.2,
 * RFC 7766 §8): every message goes with a two-byte, big-endian length first.
 *
 * One writer and one reader, for every TCP side of the resolver (the server's
 * clients, the forwarder's getdns connections and its upstream tries). The
 * reader works on a caller's buffer, filled by reads of any size: a message
 * counts only once all of it is there, and several may be there at once.
 */
#ifndef DANEGUARD_DNS_FRAME_H
#define DANEGUARD_DNS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define DNS_FRAME_PREFIX 2   /* the length's bytes */
#define DNS_FRAME_MAX 65535  /* the longest message a length can say */

/* Write the length prefix and len bytes of msg into out (cap bytes; msg and out
 * must not overlap). Returns DNS_FRAME_PREFIX + len, or 0 (nothing written)
 * when len > DNS_FRAME_MAX or the frame does not fit in cap. */
size_t dns_frame_encode(uint8_t *out, size_t cap, const uint8_t *msg, size_t len);

/* The first whole message in buf (len bytes read so far): returns 1 with
 * *msg (inside buf) and *msg_len set, the frame taking DNS_FRAME_PREFIX +
 * *msg_len bytes of buf; 0 when buf does not hold a whole one yet (a part of
 * the prefix or of the message). A length of 0 is a whole, empty message. */
int dns_frame_next(const uint8_t *buf, size_t len, const uint8_t **msg, size_t *msg_len);

/* Drop the first used bytes of buf (len of them held; used <= len), moving the
 * rest to the front. Returns how many are left. */
size_t dns_frame_consume(uint8_t *buf, size_t len, size_t used);

#endif
