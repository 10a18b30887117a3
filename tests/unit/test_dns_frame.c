/* tests/unit/test_dns_frame.c — DNS over TCP's length framing: messages fed
 * in reads of every size come out whole and once, however the reads cut them. */
#include "dns_frame.h"
#include "unit.h"

#include <stdlib.h>

/* The messages found in buf, in order: their lengths and first bytes. */
struct seen {
    size_t n, lens[8];
    uint8_t first[8];
    size_t left; /* bytes still held after the last whole message */
};

/* What a reader does after each read: take every whole message, keep the rest. */
static void drain(uint8_t *buf, size_t *len, struct seen *s)
{
    size_t off = 0, mlen;
    const uint8_t *m;
    while (dns_frame_next(buf + off, *len - off, &m, &mlen)) {
        CHECK(m == buf + off + DNS_FRAME_PREFIX);
        if (s->n < 8) {
            s->lens[s->n] = mlen;
            s->first[s->n] = mlen ? m[0] : 0;
        }
        s->n++;
        off += DNS_FRAME_PREFIX + mlen;
    }
    *len = dns_frame_consume(buf, *len, off);
    s->left = *len;
}

static void test_dns_frame_encode(void)
{
    uint8_t msg[300], out[302];
    memset(msg, 0xab, sizeof msg);
    CHECK_INT_EQ(dns_frame_encode(out, sizeof out, msg, sizeof msg), 302);
    CHECK_INT_EQ(out[0], 1); /* 300 = 0x012c, big-endian */
    CHECK_INT_EQ(out[1], 0x2c);
    CHECK_MEM_EQ(out + 2, msg, sizeof msg);
    CHECK_INT_EQ(dns_frame_encode(out, sizeof out - 1, msg, sizeof msg), 0); /* no room */
    CHECK_INT_EQ(dns_frame_encode(out, 1, msg, 0), 0);
}

static void test_dns_frame_zero_length(void)
{
    uint8_t out[2] = {0xff, 0xff};
    CHECK_INT_EQ(dns_frame_encode(out, sizeof out, NULL, 0), 2);
    CHECK_INT_EQ(out[0], 0);
    CHECK_INT_EQ(out[1], 0);
    const uint8_t *m = NULL;
    size_t mlen = 99;
    CHECK_INT_EQ(dns_frame_next(out, 2, &m, &mlen), 1); /* whole and empty */
    CHECK_INT_EQ(mlen, 0);
    CHECK(m == out + 2);
    uint8_t two[4] = {0, 0, 0, 0}; /* two empty messages back to back */
    size_t len = sizeof two;
    struct seen s = {0};
    drain(two, &len, &s);
    CHECK_INT_EQ(s.n, 2);
    CHECK_INT_EQ(s.left, 0);
}

static void test_dns_frame_max_length(void)
{
    size_t cap = DNS_FRAME_PREFIX + DNS_FRAME_MAX;
    uint8_t *msg = malloc(DNS_FRAME_MAX + 1), *buf = malloc(cap + 1);
    for (size_t i = 0; i <= DNS_FRAME_MAX; i++)
        msg[i] = (uint8_t)i;
    CHECK_INT_EQ(dns_frame_encode(buf, cap + 1, msg, DNS_FRAME_MAX + 1), 0); /* 65536: too long */
    CHECK_INT_EQ(dns_frame_encode(buf, cap, msg, DNS_FRAME_MAX), cap);
    CHECK_INT_EQ(buf[0], 0xff);
    CHECK_INT_EQ(buf[1], 0xff);
    const uint8_t *m;
    size_t mlen;
    CHECK_INT_EQ(dns_frame_next(buf, cap - 1, &m, &mlen), 0); /* one byte short */
    CHECK_INT_EQ(dns_frame_next(buf, cap, &m, &mlen), 1);
    CHECK_INT_EQ(mlen, DNS_FRAME_MAX);
    CHECK_MEM_EQ(m, msg, DNS_FRAME_MAX);
    free(msg);
    free(buf);
}

/* The stream 3 messages long, fed one byte per read: each message comes out
 * once, at its last byte, and never before. */
static void test_dns_frame_partial_reads(void)
{
    uint8_t stream[64], buf[64];
    size_t slen = 0, len = 0;
    uint8_t a[5] = {1, 2, 3, 4, 5}, b[1] = {7}, c[20];
    memset(c, 9, sizeof c);
    slen += dns_frame_encode(stream + slen, sizeof stream - slen, a, sizeof a);
    slen += dns_frame_encode(stream + slen, sizeof stream - slen, b, sizeof b);
    slen += dns_frame_encode(stream + slen, sizeof stream - slen, c, sizeof c);
    CHECK_INT_EQ(slen, 2 + 5 + 2 + 1 + 2 + 20);
    struct seen s = {0};
    size_t ends[3] = {7, 10, 32}, next = 0;
    for (size_t i = 0; i < slen; i++) {
        buf[len++] = stream[i];
        size_t before = s.n;
        drain(buf, &len, &s);
        if (next < 3 && i + 1 == ends[next]) {
            CHECK_INT_EQ(s.n, before + 1);
            next++;
        } else {
            CHECK_INT_EQ(s.n, before);
        }
    }
    CHECK_INT_EQ(s.n, 3);
    CHECK_INT_EQ(s.lens[0], 5);
    CHECK_INT_EQ(s.first[0], 1);
    CHECK_INT_EQ(s.lens[1], 1);
    CHECK_INT_EQ(s.first[1], 7);
    CHECK_INT_EQ(s.lens[2], 20);
    CHECK_INT_EQ(s.first[2], 9);
    CHECK_INT_EQ(s.left, 0);
}

/* A read ends between the prefix's two bytes: a length of 0x0102 must not be
 * read as 0x01 (or as 0x02 after the next read). */
static void test_dns_frame_prefix_split(void)
{
    uint8_t msg[258], stream[260], buf[260];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i + 1);
    CHECK_INT_EQ(dns_frame_encode(stream, sizeof stream, msg, sizeof msg), 260);
    struct seen s = {0};
    size_t len = 0;
    buf[len++] = stream[0]; /* 0x01 */
    drain(buf, &len, &s);
    CHECK_INT_EQ(s.n, 0);
    CHECK_INT_EQ(s.left, 1);
    memcpy(buf + len, stream + 1, 2); /* 0x02 and the first byte */
    len += 2;
    drain(buf, &len, &s);
    CHECK_INT_EQ(s.n, 0);
    CHECK_INT_EQ(s.left, 3);
    memcpy(buf + len, stream + 3, sizeof stream - 3);
    len += sizeof stream - 3;
    drain(buf, &len, &s);
    CHECK_INT_EQ(s.n, 1);
    CHECK_INT_EQ(s.lens[0], 258);
    CHECK_INT_EQ(s.first[0], 1);
    CHECK_INT_EQ(s.left, 0);
}

/* Several messages in one read, and the start of the next: the whole ones come
 * out in order, the part stays at the front of the buffer. */
static void test_dns_frame_several_in_one_read(void)
{
    uint8_t stream[64], buf[64];
    size_t slen = 0;
    for (uint8_t k = 1; k <= 4; k++) {
        uint8_t m[4] = {k, k, k, k};
        slen += dns_frame_encode(stream + slen, sizeof stream - slen, m, k);
    }
    uint8_t part[3] = {0, 9, 42}; /* 9 bytes announced, 1 there */
    memcpy(stream + slen, part, sizeof part);
    slen += sizeof part;
    memcpy(buf, stream, slen);
    size_t len = slen;
    struct seen s = {0};
    drain(buf, &len, &s);
    CHECK_INT_EQ(s.n, 4);
    for (size_t k = 0; k < 4; k++) {
        CHECK_INT_EQ(s.lens[k], k + 1);
        CHECK_INT_EQ(s.first[k], k + 1);
    }
    CHECK_INT_EQ(s.left, 3);
    CHECK_MEM_EQ(buf, part, 3);
}

static void test_dns_frame_consume(void)
{
    uint8_t buf[6] = {1, 2, 3, 4, 5, 6};
    CHECK_INT_EQ(dns_frame_consume(buf, 6, 0), 6);
    CHECK_INT_EQ(dns_frame_consume(buf, 6, 4), 2);
    CHECK_INT_EQ(buf[0], 5);
    CHECK_INT_EQ(buf[1], 6);
    CHECK_INT_EQ(dns_frame_consume(buf, 2, 2), 0);
    CHECK_INT_EQ(dns_frame_consume(buf, 2, 9), 0); /* never past what is held */
}

int main(void)
{
    UNIT_RUN(test_dns_frame_encode);
    UNIT_RUN(test_dns_frame_zero_length);
    UNIT_RUN(test_dns_frame_max_length);
    UNIT_RUN(test_dns_frame_partial_reads);
    UNIT_RUN(test_dns_frame_prefix_split);
    UNIT_RUN(test_dns_frame_several_in_one_read);
    UNIT_RUN(test_dns_frame_consume);
    return UNIT_END();
}
