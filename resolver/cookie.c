/* resolver/cookie.c — DNS server cookies, RFC 7873 and RFC 9018 §4.
 *
 * The hash input and output follow RFC 9018 §4.4 byte for byte (its Appendix A
 * vectors are in tests/unit/test_cookie.c), so a client sees the cookies any
 * other RFC 9018 server would make; the secret lives only in this process and
 * changes with each start. Timestamps compare in serial-number arithmetic
 * (RFC 1982), so they keep working across the 2106 wrap.
 */
#include "cookie.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>

#include "addr.h"
#include "siphash.h"

int dns_cookie_secret_init(struct dns_cookie_secret *s)
{
    return getrandom(s->key, sizeof s->key, 0) == (ssize_t)sizeof s->key ? 0 : -1;
}

/* The hash of RFC 9018 §4.4 over cc and the first 8 bytes of sc (version,
 * reserved, timestamp as they stand), written into sc + 8, little-endian as
 * SipHash's reference code outputs it. */
static void cookie_hash(const struct dns_cookie_secret *s, const uint8_t cc[DNS_COOKIE_CLIENT_LEN],
                        const struct sockaddr *peer, uint8_t sc[DNS_COOKIE_SERVER_LEN])
{
    uint8_t in[DNS_COOKIE_CLIENT_LEN + 8 + 16];
    size_t n = 0;
    memcpy(in, cc, DNS_COOKIE_CLIENT_LEN);
    n += DNS_COOKIE_CLIENT_LEN;
    memcpy(in + n, sc, 8);
    n += 8;
    size_t alen;
    const uint8_t *a = addr_bytes(peer, &alen); /* 16, 4, or none */
    if (a) {
        memcpy(in + n, a, alen);
        n += alen;
    }
    uint64_t h = siphash24(s->key, in, n);
    for (int i = 0; i < 8; i++)
        sc[8 + i] = (uint8_t)(h >> (8 * i));
}

void dns_cookie_server_make(const struct dns_cookie_secret *s,
                            const uint8_t cc[DNS_COOKIE_CLIENT_LEN], const struct sockaddr *peer,
                            uint32_t now, uint8_t out[DNS_COOKIE_SERVER_LEN])
{
    out[0] = 1; /* version */
    out[1] = out[2] = out[3] = 0;
    out[4] = (uint8_t)(now >> 24);
    out[5] = (uint8_t)(now >> 16);
    out[6] = (uint8_t)(now >> 8);
    out[7] = (uint8_t)now;
    cookie_hash(s, cc, peer, out);
}

enum dns_cookie_verdict dns_cookie_server_check(const struct dns_cookie_secret *s,
                                                const uint8_t cc[DNS_COOKIE_CLIENT_LEN],
                                                const uint8_t *sc, size_t sc_len,
                                                const struct sockaddr *peer, uint32_t now)
{
    uint8_t mine[DNS_COOKIE_SERVER_LEN];
    uint8_t diff = 0;

    if (sc_len != DNS_COOKIE_SERVER_LEN || sc[0] != 1)
        return DNS_COOKIE_INVALID;
    memcpy(mine, sc, 8);
    cookie_hash(s, cc, peer, mine);
    for (int i = 8; i < DNS_COOKIE_SERVER_LEN; i++) /* no early exit on the hash */
        diff |= (uint8_t)(mine[i] ^ sc[i]);
    if (diff)
        return DNS_COOKIE_INVALID;
    uint32_t stamp = (uint32_t)sc[4] << 24 | (uint32_t)sc[5] << 16 | (uint32_t)sc[6] << 8 | sc[7];
    int32_t age = (int32_t)(now - stamp);
    if (age < -DNS_COOKIE_SKEW_S || age > DNS_COOKIE_LIFETIME_S)
        return DNS_COOKIE_INVALID;
    return age < DNS_COOKIE_RENEW_S ? DNS_COOKIE_FRESH : DNS_COOKIE_WORN;
}

size_t dns_cookie_reply(const struct dns_cookie_secret *s, const uint8_t *cookie, size_t cookie_len,
                        const struct sockaddr *peer, uint32_t now, uint8_t out[40])
{
    if (cookie_len > DNS_COOKIE_CLIENT_LEN &&
        dns_cookie_server_check(s, cookie, cookie + DNS_COOKIE_CLIENT_LEN,
                                cookie_len - DNS_COOKIE_CLIENT_LEN, peer,
                                now) == DNS_COOKIE_FRESH) {
        memcpy(out, cookie, cookie_len);
        return cookie_len;
    }
    memcpy(out, cookie, DNS_COOKIE_CLIENT_LEN);
    dns_cookie_server_make(s, cookie, peer, now, out + DNS_COOKIE_CLIENT_LEN);
    return DNS_COOKIE_CLIENT_LEN + DNS_COOKIE_SERVER_LEN;
}
