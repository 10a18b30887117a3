/* tests/bench/renderbench.c — how long dns_reply_render() takes on large
 * answers (issue 9, item 5). A timing harness, not a test: it prints figures.
 *
 *   cc -O2 -D_GNU_SOURCE -Iinclude -o build/renderbench tests/bench/renderbench.c resolver/wire.c
 *   build/renderbench [REPS]
 *
 * Two upstream answers of about 64 KB, written without compression:
 *   many-labels  PTR targets of 100 one-letter labels that differ near the root
 *                (the worst case for comparing label by label; 278 records)
 *   long-labels  PTR targets of four long labels, the first distinct (316 records)
 * Each is rendered REPS times (default 20) for a DO=0 query; the mean is printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire.h"

static uint8_t up[65535];
static size_t n;

static void u8(unsigned v)
{
    up[n++] = (uint8_t)v;
}

static void u16(unsigned v)
{
    u8(v >> 8);
    u8(v & 0xff);
}

static void name(const char *text)
{
    uint8_t w[DNS_MAX_NAME];
    size_t l;
    if (dns_name_from_text(text, w, &l) < 0) {
        fprintf(stderr, "bad name %s\n", text);
        exit(1);
    }
    memcpy(up + n, w, l);
    n += l;
}

/* An uncompressed answer to big.world.test/PTR, as large as fits in 65000 bytes. */
static unsigned build(int many_labels)
{
    unsigned count = 0;
    n = 0;
    u16(1), u16(0x8180), u16(1), u16(0), u16(0), u16(0);
    name("big.world.test");
    u16(DNS_TYPE_PTR), u16(DNS_CLASS_IN);
    for (;;) {
        char target[300], *p = target;
        if (many_labels) {
            for (int k = 0; k < 100; k++)
                p += sprintf(p, "%c.", 'a' + (k * 7 + (int)count) % 3);
            sprintf(p, "h%u.x", count);
        } else {
            sprintf(target, "host-%04u-%s.%s%03u.%s.world.test", count,
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", count % 7,
                    "cccccccccccccccccccccccccccccccccccccccccccccccccc");
        }
        size_t start = n;
        name("big.world.test");
        u16(DNS_TYPE_PTR), u16(DNS_CLASS_IN), u16(0), u16(3600);
        size_t at = n;
        u16(0);
        name(target);
        up[at] = (uint8_t)((n - at - 2) >> 8);
        up[at + 1] = (uint8_t)(n - at - 2);
        if (n > 65000) {
            n = start;
            break;
        }
        count++;
    }
    up[6] = (uint8_t)(count >> 8);
    up[7] = (uint8_t)count;
    return count;
}

int main(int argc, char **argv)
{
    static uint8_t out[65535];
    struct dns_query q;
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    const char *kinds[] = {"many-labels", "long-labels"};

    if (reps < 1)
        reps = 1;
    dns_query_init(&q, "big.world.test", DNS_TYPE_PTR);
    q.do_bit = 0;
    q.cd = 0;
    for (int k = 0; k < 2; k++) {
        unsigned count = build(k == 0);
        size_t len = 0;
        int rc = 0;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int r = 0; r < reps; r++)
            rc = dns_reply_render(&q, DNS_SECURE, up, n, time(NULL), out, sizeof out, &len);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms =
            ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / reps;
        printf("%-12s %u records, %zu bytes in, %s, %zu bytes out: %.3f ms per render (%d runs)\n",
               kinds[k], count, n, rc == 0 ? "rendered" : wire_strerror(rc), len, ms, reps);
    }
    return 0;
}
