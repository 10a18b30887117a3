/* proxy/clients.c — the proxy's clients by source address, for per-client limits. */
#include "clients.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "addr.h"

#define CLIENTS_MIN_BUCKETS 64

struct client {
    struct client *next; /* in its bucket */
    uint8_t key[16];     /* IPv6, or v4-mapped IPv4 */
    unsigned refs;
    uint64_t logged; /* uv_now() of the last "limit reached" line, 0 = never */
    char text[ADDR_TEXT_MAX];
};

struct clients {
    struct client **buckets;
    size_t n_buckets; /* a power of two */
    size_t count;
    uint64_t seed;
};

struct clients *clients_new(void)
{
    struct clients *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->buckets = calloc(CLIENTS_MIN_BUCKETS, sizeof *cs->buckets);
    if (!cs->buckets) {
        free(cs);
        return NULL;
    }
    cs->n_buckets = CLIENTS_MIN_BUCKETS;
    /* a client picks its own addresses (a whole IPv6 /64): the seed keeps it
     * from choosing ones that share a bucket */
    if (uv_random(NULL, NULL, &cs->seed, sizeof cs->seed, 0, NULL) != 0)
        cs->seed = (uint64_t)(uintptr_t)cs ^ uv_hrtime();
    return cs;
}

void clients_free(struct clients *cs)
{
    if (!cs)
        return;
    for (size_t i = 0; i < cs->n_buckets; i++) {
        struct client *c = cs->buckets[i], *next;
        for (; c; c = next) {
            next = c->next;
            free(c);
        }
    }
    free(cs->buckets);
    free(cs);
}

/* A keyed 64-bit mix of the 16 bytes (splitmix64 rounds). */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static size_t bucket_of(const struct clients *cs, const uint8_t key[16], size_t n_buckets)
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    return (size_t)(mix(mix(a ^ cs->seed) ^ b) & (n_buckets - 1));
}

static int make_key(const struct sockaddr *sa, uint8_t key[16])
{
    size_t len;
    const uint8_t *b = addr_bytes(sa, &len);
    if (!b)
        return -1;
    if (len == 16) {
        memcpy(key, b, 16);
    } else {
        memset(key, 0, 10);
        key[10] = key[11] = 0xff;
        memcpy(key + 12, b, 4);
    }
    return 0;
}

/* Double the buckets when the table is full; on ENOMEM chains grow instead. */
static void maybe_grow(struct clients *cs)
{
    if (cs->count < cs->n_buckets)
        return;
    size_t n = cs->n_buckets * 2;
    struct client **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < cs->n_buckets; i++) {
        struct client *c = cs->buckets[i], *next;
        for (; c; c = next) {
            next = c->next;
            size_t k = bucket_of(cs, c->key, n);
            c->next = nb[k];
            nb[k] = c;
        }
    }
    free(cs->buckets);
    cs->buckets = nb;
    cs->n_buckets = n;
}

struct client *clients_ref(struct clients *cs, const struct sockaddr *sa)
{
    uint8_t key[16];
    if (!cs || make_key(sa, key) < 0)
        return NULL;
    size_t k = bucket_of(cs, key, cs->n_buckets);
    for (struct client *c = cs->buckets[k]; c; c = c->next)
        if (memcmp(c->key, key, 16) == 0) {
            c->refs++;
            return c;
        }
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    memcpy(c->key, key, 16);
    c->refs = 1;
    addr_format(sa, 0, c->text, sizeof c->text);
    c->next = cs->buckets[k];
    cs->buckets[k] = c;
    cs->count++;
    maybe_grow(cs);
    return c;
}

void clients_unref(struct clients *cs, struct client *c)
{
    if (!cs || !c || --c->refs > 0)
        return;
    struct client **pp = &cs->buckets[bucket_of(cs, c->key, cs->n_buckets)];
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    cs->count--;
    free(c);
}

unsigned client_refs(const struct client *c)
{
    return c ? c->refs : 0;
}

const char *client_text(const struct client *c)
{
    return c ? c->text : "?";
}

int client_log_due(struct client *c, uint64_t now_ms, uint64_t interval_ms)
{
    if (!c || (c->logged && now_ms - c->logged < interval_ms))
        return 0;
    c->logged = now_ms ? now_ms : 1;
    return 1;
}

size_t clients_count(const struct clients *cs)
{
    return cs ? cs->count : 0;
}
