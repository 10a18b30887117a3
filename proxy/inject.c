/* proxy/inject.c — the daneguard-dane response header (include/inject.h). */
#include "inject.h"

#include <stdio.h>
#include <string.h>

#define H2_FRAME_HEADERS 0x1
#define H2_FLAG_END_HEADERS 0x4
#define H2_FLAG_PADDED 0x8
#define H2_FLAG_PRIORITY 0x20
#define H2_MAX_FRAME 16384

void inject_init(struct inject *in, const char *alpn, const char *value)
{
    memset(in, 0, sizeof *in);
    if (!alpn || strcmp(alpn, "http/1.1") == 0)
        in->mode = INJECT_H1;
    else if (strcmp(alpn, "h2") == 0)
        in->mode = INJECT_H2;
    else
        in->mode = INJECT_OFF;
    snprintf(in->value, sizeof in->value, "%s", value ? value : "");
    in->value_len = strlen(in->value);
    if (in->value_len == 0)
        in->mode = INJECT_OFF;
}

void inject_free(struct inject *in)
{
    if (in)
        http_buf_free(&in->frame);
}

/* --- HTTP/1.1 -------------------------------------------------------------------------- */

static int h1_feed(struct inject *in, const uint8_t *p, size_t n, struct http_buf *out)
{
    const uint8_t *nl = memchr(p, '\n', n);
    if (!nl)
        return http_buf_append(out, p, n);
    size_t head = (size_t)(nl - p) + 1;
    in->mode = INJECT_OFF; /* the first response only */
    if (http_buf_append(out, p, head) != 0 ||
        http_buf_printf(out, INJECT_NAME ": %s\r\n", in->value) != 0 ||
        http_buf_append(out, p + head, n - head) != 0)
        return -1;
    return 0;
}

/* --- HTTP/2 ---------------------------------------------------------------------------- */

/* An HPACK integer with an N-bit prefix at *p (RFC 7541 §5.1). 0 or -1. */
static int hpack_int(const uint8_t **p, const uint8_t *end, int bits, uint32_t *v)
{
    if (*p >= end)
        return -1;
    uint32_t max = (1u << bits) - 1;
    uint32_t x = **p & max;
    (*p)++;
    if (x < max) {
        *v = x;
        return 0;
    }
    for (int shift = 0; shift <= 21; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = **p;
        (*p)++;
        x += (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Skip an HPACK string literal (RFC 7541 §5.2). 0 or -1. */
static int hpack_skip_string(const uint8_t **p, const uint8_t *end)
{
    uint32_t len;
    if (hpack_int(p, end, 7, &len) < 0 || len > (size_t)(end - *p))
        return -1;
    *p += len;
    return 0;
}

/* Where the :status field of a header block ends, or NULL when the block
 * does not start with :status (static table entries 8-14) as one field
 * this code can read. */
static const uint8_t *status_field_end(const uint8_t *p, const uint8_t *end)
{
    uint32_t idx;
    while (p < end && (*p & 0xe0) == 0x20) /* dynamic table size updates */
        if (hpack_int(&p, end, 5, &idx) < 0)
            return NULL;
    if (p >= end)
        return NULL;
    if (*p & 0x80) { /* indexed */
        if (hpack_int(&p, end, 7, &idx) < 0)
            return NULL;
        return idx >= 8 && idx <= 14 ? p : NULL;
    }
    int bits = (*p & 0x40) ? 6 : 4; /* incremental indexing, or without / never */
    if (hpack_int(&p, end, bits, &idx) < 0 || idx < 8 || idx > 14)
        return NULL;
    return hpack_skip_string(&p, end) < 0 ? NULL : p;
}

/* The held HEADERS frame (whole), with the field added when it fits. */
static int h2_emit_headers(struct inject *in, struct http_buf *out)
{
    const uint8_t *f = (const uint8_t *)in->frame.data;
    size_t len = in->frame.len - 9;
    uint8_t flags = f[4];
    const uint8_t *pl = f + 9, *end = pl + len, *block = pl;
    size_t pad = 0;
    if (flags & H2_FLAG_PADDED) {
        if (len < 1)
            goto as_is;
        pad = pl[0];
        block++;
    }
    if (flags & H2_FLAG_PRIORITY)
        block += 5;
    if (block > end || pad > (size_t)(end - block))
        goto as_is;
    const uint8_t *at = status_field_end(block, end - pad);
    if (!at)
        goto as_is;
    uint8_t field[4 + sizeof INJECT_NAME + INJECT_VALUE_MAX];
    size_t fl = 0;
    field[fl++] = 0x00; /* literal without indexing, new name */
    field[fl++] = (uint8_t)(sizeof INJECT_NAME - 1);
    memcpy(field + fl, INJECT_NAME, sizeof INJECT_NAME - 1);
    fl += sizeof INJECT_NAME - 1;
    field[fl++] = (uint8_t)in->value_len; /* < 127: one byte, no Huffman */
    memcpy(field + fl, in->value, in->value_len);
    fl += in->value_len;
    if (len + fl > H2_MAX_FRAME)
        goto as_is;
    size_t nlen = len + fl;
    uint8_t hdr[9];
    memcpy(hdr, f, 9);
    hdr[0] = (uint8_t)(nlen >> 16);
    hdr[1] = (uint8_t)(nlen >> 8);
    hdr[2] = (uint8_t)nlen;
    if (http_buf_append(out, hdr, 9) != 0 || http_buf_append(out, pl, (size_t)(at - pl)) != 0 ||
        http_buf_append(out, field, fl) != 0 || http_buf_append(out, at, (size_t)(end - at)) != 0)
        return -1;
    http_buf_reset(&in->frame);
    return 0;
as_is:
    if (http_buf_append(out, in->frame.data, in->frame.len) != 0)
        return -1;
    http_buf_reset(&in->frame);
    return 0;
}

static int h2_feed(struct inject *in, const uint8_t *p, size_t n, struct http_buf *out)
{
    while (n > 0) {
        if (in->remaining > 0) { /* payload of the current frame */
            size_t take = n < in->remaining ? n : in->remaining;
            if (http_buf_append(in->holding ? &in->frame : out, p, take) != 0)
                return -1;
            p += take;
            n -= take;
            in->remaining -= (uint32_t)take;
            if (in->remaining == 0 && in->holding) {
                in->holding = 0;
                if (h2_emit_headers(in, out) < 0)
                    return -1;
            }
            continue;
        }
        size_t take = 9 - in->fh_len < n ? 9 - in->fh_len : n;
        memcpy(in->fh + in->fh_len, p, take);
        in->fh_len += take;
        p += take;
        n -= take;
        if (in->fh_len < 9)
            break;
        in->fh_len = 0;
        uint32_t len = (uint32_t)in->fh[0] << 16 | (uint32_t)in->fh[1] << 8 | in->fh[2];
        in->holding = in->fh[3] == H2_FRAME_HEADERS && (in->fh[4] & H2_FLAG_END_HEADERS) &&
                      len + 4 + sizeof INJECT_NAME + in->value_len <= H2_MAX_FRAME;
        if (http_buf_append(in->holding ? &in->frame : out, in->fh, 9) != 0)
            return -1;
        in->remaining = len;
        if (len == 0 && in->holding) {
            in->holding = 0;
            if (h2_emit_headers(in, out) < 0)
                return -1;
        }
    }
    return 0;
}

int inject_feed(struct inject *in, const uint8_t *data, size_t n, struct http_buf *out)
{
    switch (in->mode) {
    case INJECT_H1:
        return h1_feed(in, data, n, out);
    case INJECT_H2:
        return h2_feed(in, data, n, out);
    case INJECT_OFF:
    default:
        return http_buf_append(out, data, n);
    }
}
