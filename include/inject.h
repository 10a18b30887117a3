/* include/inject.h — the `daneguard-dane` response header: what daneguard
 * checked, added to the responses of a site it intercepted, so a curious
 * person finds it in the browser's developer tools or with `curl -v`.
 *
 * The proxy relays an intercepted site's plaintext without parsing HTTP; this
 * filter sits on the site-to-browser direction and changes only response
 * heads:
 *   - HTTP/1.1: the connection's first response gets the header line after
 *     its status line (later responses on a kept-alive connection pass
 *     untouched: finding their heads would mean parsing every body's framing);
 *   - HTTP/2: every HEADERS frame that carries END_HEADERS and starts with
 *     :status gets one more field, a literal without indexing (RFC 7541
 *     §6.2.2) right after :status, so the HPACK dynamic table is untouched;
 *     frames that would outgrow 16384 bytes (the smallest
 *     SETTINGS_MAX_FRAME_SIZE), CONTINUATION sequences and trailers pass as
 *     they are.
 * Pure: bytes in, bytes out; no I/O.
 */
#ifndef DANEGUARD_INJECT_H
#define DANEGUARD_INJECT_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define INJECT_NAME "daneguard-dane"
#define INJECT_VALUE_MAX 96

enum inject_mode {
    INJECT_OFF, /* pass everything */
    INJECT_H1,  /* HTTP/1.1: the first status line is yet to come */
    INJECT_H2,  /* HTTP/2 frames */
};

struct inject {
    enum inject_mode mode;
    char value[INJECT_VALUE_MAX]; /* "3 1 1 matched at depth 0" */
    size_t value_len;
    uint8_t fh[9]; /* HTTP/2: a frame header being read */
    size_t fh_len;
    uint32_t remaining;    /* payload bytes of the current frame still to come */
    int holding;           /* the current frame (a HEADERS) is kept whole in frame */
    struct http_buf frame; /* its header and payload so far */
};

/* Start filtering for a session whose ALPN is alpn (NULL or "http/1.1":
 * HTTP/1.1; "h2": HTTP/2; anything else: off) with the header value. */
void inject_init(struct inject *in, const char *alpn, const char *value);

/* The site's plaintext in (n bytes) → what the browser gets, appended to out
 * (held bytes of an unfinished HEADERS frame come out with a later call).
 * 0, or -1 when out of memory (then the connection cannot go on). */
int inject_feed(struct inject *in, const uint8_t *data, size_t n, struct http_buf *out);

/* Free what in holds. */
void inject_free(struct inject *in);

#endif
