/* tests/unit/test_inject.c — the daneguard-dane response header (proxy/inject.c). */
#include "inject.h"
#include "unit.h"

#include <stdlib.h>

#define VALUE "3 1 1 matched at depth 0"

/* Feed in pieces of step bytes; the whole output. */
static void feed_steps(struct inject *in, const uint8_t *p, size_t n, size_t step,
                       struct http_buf *out)
{
    for (size_t off = 0; off < n; off += step)
        CHECK_INT_EQ(inject_feed(in, p + off, n - off < step ? n - off : step, out), 0);
}

static void test_h1_first_response(void)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
                               "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for (size_t step = 1; step <= sizeof resp; step++) {
        struct inject in;
        struct http_buf out = {0};
        inject_init(&in, "http/1.1", VALUE);
        feed_steps(&in, (const uint8_t *)resp, sizeof resp - 1, step, &out);
        CHECK_STR_EQ(out.data, "HTTP/1.1 200 OK\r\ndaneguard-dane: " VALUE "\r\n"
                               "Content-Length: 2\r\n\r\nhi"
                               "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        inject_free(&in);
        http_buf_free(&out);
    }
    /* no value, or an ALPN it does not know: untouched */
    struct inject in;
    struct http_buf out = {0};
    inject_init(&in, NULL, "");
    CHECK_INT_EQ(inject_feed(&in, (const uint8_t *)resp, sizeof resp - 1, &out), 0);
    CHECK_STR_EQ(out.data, resp);
    http_buf_free(&out);
    inject_init(&in, "spdy/3", VALUE);
    CHECK_INT_EQ(inject_feed(&in, (const uint8_t *)resp, sizeof resp - 1, &out), 0);
    CHECK_STR_EQ(out.data, resp);
    http_buf_free(&out);
}

static size_t frame(uint8_t *p, uint8_t type, uint8_t flags, uint32_t stream, const uint8_t *pl,
                    size_t len)
{
    p[0] = (uint8_t)(len >> 16);
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)len;
    p[3] = type;
    p[4] = flags;
    p[5] = (uint8_t)(stream >> 24);
    p[6] = (uint8_t)(stream >> 16);
    p[7] = (uint8_t)(stream >> 8);
    p[8] = (uint8_t)stream;
    if (len)
        memcpy(p + 9, pl, len);
    return 9 + len;
}

static void test_h2_headers(void)
{
    /* :status 200 (indexed 8), then x: y as a literal without indexing */
    static const uint8_t block[] = {0x88, 0x00, 0x01, 'x', 0x01, 'y'};
    /* :status 404 as a literal with incremental indexing, name index 8 */
    static const uint8_t block404[] = {0x48, 0x03, '4', '0', '4'};
    static const uint8_t trailers[] = {0x00, 0x01, 't', 0x01, 'v'};
    static const uint8_t data[] = "hello";
    uint8_t in_bytes[512], want[1024];
    size_t n = 0, w = 0;
    uint8_t field[64];
    size_t fl = 0;
    field[fl++] = 0x00;
    field[fl++] = 14;
    memcpy(field + fl, "daneguard-dane", 14);
    fl += 14;
    field[fl++] = (uint8_t)strlen(VALUE);
    memcpy(field + fl, VALUE, strlen(VALUE));
    fl += strlen(VALUE);

    n += frame(in_bytes + n, 0x4, 0, 0, NULL, 0);                           /* SETTINGS */
    n += frame(in_bytes + n, 0x1, 0x4, 1, block, sizeof block);             /* HEADERS */
    n += frame(in_bytes + n, 0x0, 0x0, 1, data, 5);                         /* DATA */
    n += frame(in_bytes + n, 0x1, 0x4 | 0x1, 1, trailers, sizeof trailers); /* trailers */
    n += frame(in_bytes + n, 0x1, 0x4, 3, block404, sizeof block404);
    n += frame(in_bytes + n, 0x1, 0x0, 5, block, sizeof block); /* no END_HEADERS */

    uint8_t b1[64], b2[64];
    memcpy(b1, block, 1);
    memcpy(b1 + 1, field, fl);
    memcpy(b1 + 1 + fl, block + 1, sizeof block - 1);
    memcpy(b2, block404, sizeof block404);
    memcpy(b2 + sizeof block404, field, fl);
    w += frame(want + w, 0x4, 0, 0, NULL, 0);
    w += frame(want + w, 0x1, 0x4, 1, b1, sizeof block + fl);
    w += frame(want + w, 0x0, 0x0, 1, data, 5);
    w += frame(want + w, 0x1, 0x4 | 0x1, 1, trailers, sizeof trailers);
    w += frame(want + w, 0x1, 0x4, 3, b2, sizeof block404 + fl);
    w += frame(want + w, 0x1, 0x0, 5, block, sizeof block);

    for (size_t step = 1; step <= n; step++) {
        struct inject in;
        struct http_buf out = {0};
        inject_init(&in, "h2", VALUE);
        feed_steps(&in, in_bytes, n, step, &out);
        CHECK_INT_EQ(out.len, w);
        if (out.len == w)
            CHECK_MEM_EQ(out.data, want, w);
        inject_free(&in);
        http_buf_free(&out);
    }

    /* a HEADERS frame that would outgrow 16384 bytes passes as it is */
    uint8_t *big = calloc(1, 16384 + 9), *copy = malloc(16384 + 9);
    static uint8_t pl[16384];
    memset(pl, 0, sizeof pl);
    pl[0] = 0x88;
    for (size_t i = 1; i + 3 <= sizeof pl; i += 3) { /* literal x: "" repeated */
        pl[i] = 0x00;
        pl[i + 1] = 0x00;
        pl[i + 2] = 0x00;
    }
    size_t bn = frame(big, 0x1, 0x4, 1, pl, 16360);
    memcpy(copy, big, bn);
    struct inject in;
    struct http_buf out = {0};
    inject_init(&in, "h2", VALUE);
    CHECK_INT_EQ(inject_feed(&in, big, bn, &out), 0);
    CHECK_INT_EQ(out.len, bn);
    if (out.len == bn)
        CHECK_MEM_EQ(out.data, copy, bn);
    inject_free(&in);
    http_buf_free(&out);
    free(big);
    free(copy);
}

int main(void)
{
    UNIT_RUN(test_h1_first_response);
    UNIT_RUN(test_h2_headers);
    return UNIT_END();
}
