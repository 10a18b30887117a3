/* tests/unit/test_keycache_hostile.c — resolver/keycache.c on hostile bytes:
 * plain answers mutated at random (bytes flipped, lengths inflated, cut
 * short, compression pointers aimed anywhere) through every function that
 * reads an upstream answer: keycache_answer_signer(), keycache_validate()
 * with a kept set (so getdns parses and validates the bytes in-process too)
 * and keycache_purge(). Nothing may crash or read out of bounds (run it
 * under SANITIZE=1), and nothing mutated may be called secure. Seeded: the
 * same inputs every run.
 * The .c is included to reach its static functions (style.md, item 10).
 */
#include "unit.h"

#include "../../resolver/keycache.c"

#include <stdlib.h>

#include "keycache_msg.h"
}

static uint32_t rng_state = 0x2545F491u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void mutate(uint8_t *b, size_t *n, size_t cap)
{
    unsigned k = 1 + rng() % 4;
    for (unsigned i = 0; i < k && *n > 0; i++) {
        size_t at = rng() % *n;
        switch (rng() % 6) {
        case 0:
            b[at] ^= (uint8_t)(1u << (rng() % 8));
            break;
        case 1:
            b[at] = (uint8_t)rng();
            break;
        case 2: /* a compression pointer aimed anywhere */
            if (at + 1 < *n) {
                b[at] = (uint8_t)(0xc0 | (rng() & 0x3f));
                b[at + 1] = (uint8_t)rng();
            }
            break;
        case 3: /* cut short */
            *n = at;
            break;
        case 4: /* a length byte or field at its largest */
            b[at] = 0xff;
            break;
        default: /* bytes appended */
            while (*n < cap && rng() % 8)
                b[(*n)++] = (uint8_t)rng();
        }
    }
}

static void keep_fake_set(struct keycache *kc, const char *zone)
{
    uint8_t w[DNS_MAX_NAME], rd[4 + 64];
    size_t l = wname(w, zone), have = 0;
    getdns_list *rrs = getdns_list_create();
    rd[0] = 1;
    rd[1] = 1;
    rd[2] = 3;
    rd[3] = 13;
    for (size_t i = 4; i < sizeof rd; i++)
        rd[i] = (uint8_t)i;
    CHECK(rrs != NULL);
    CHECK_INT_EQ(list_add_rr(rrs, &have, w, l, DNS_TYPE_DNSKEY, 300, rd, sizeof rd), 0);
    CHECK_INT_EQ(entry_insert(kc, w, l, rrs, rrs, UINT64_MAX), 0);
}

static void test_mutated_answers(void)
{
    struct keycache *kc = keycache_new(0, NULL);
    uint8_t q[DNS_MAX_NAME], signer[DNS_MAX_NAME];
    size_t ql = wname(q, "www.example.test"), sl;
    unsigned secure = 0, shaped = 0;
    struct mb m;
    CHECK(kc != NULL);
    keep_fake_set(kc, "example.test");
    for (unsigned i = 0; i < 100000; i++) {
        plain(&m, i % 3 ? "example.test" : "www.example.test", 3);
        uint8_t *b = malloc(sizeof m.b); /* exact-size copy: ASan sees overreads */
        size_t n = m.n;
        memcpy(b, m.b, n);
        mutate(b, &n, sizeof m.b);
        uint8_t *exact = malloc(n ? n : 1);
        memcpy(exact, b, n);
        free(b);
        if (keycache_answer_signer(exact, n, q, ql, DNS_TYPE_A, signer, &sl) == 0)
            shaped++;
        if (i % 4 == 0 &&
            keycache_validate(kc, q, ql, DNS_TYPE_A, exact, n, 1000, time(NULL), 0) == 1)
            secure++;
        if (i % 97 == 0) {
            keycache_purge(kc, q, ql, exact, n);
            keep_fake_set(kc, "example.test");
        }
        free(exact);
    }
    printf("# %u mutated answers of the plain shape, %u called secure\n", shaped, secure);
    CHECK_INT_EQ(secure, 0);
    keycache_free(kc);
}

int main(void)
{
    UNIT_RUN(test_mutated_answers);
    return UNIT_END();
}
