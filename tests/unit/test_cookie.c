/* tests/unit/test_cookie.c — DNS server cookies: RFC 9018 Appendix A's vectors
 * byte for byte, and the verdicts on cookies that come back (age, address,
 * client cookie, version). The clock is pinned. */
#include "cookie.h"
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static void unhex(const char *h, uint8_t *out)
{
    for (size_t i = 0; h[2 * i]; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss = {0};
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, text, &s6->sin6_addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, text, &s4->sin_addr);
    }
    return ss;
}

/* RFC 9018 A.1 to A.4: the reply's COOKIE option for a query's. */
static void vector(const char *secret, const char *ip, const char *query, uint32_t now,
                   const char *want)
{
    struct dns_cookie_secret s;
    struct sockaddr_storage peer = addr(ip);
    uint8_t q[40], w[40], out[40];
    size_t qlen = strlen(query) / 2, wlen = strlen(want) / 2;

    unhex(secret, s.key);
    unhex(query, q);
    unhex(want, w);
    size_t n = dns_cookie_reply(&s, q, qlen, (struct sockaddr *)&peer, now, out);
    CHECK_INT_EQ(n, wlen);
    CHECK_MEM_EQ(out, w, wlen);
}

static void test_rfc9018_vectors(void)
{
    /* A.1: a client cookie only; a new server cookie */
    vector("e5e973e5a6b2a43f48e7dc849e37bfcf", "198.51.100.100", "2464c4abcf10c957", 1559731985,
           "2464c4abcf10c957010000005cf79f111f8130c3eee29480");
    /* A.2: that cookie back 40 minutes later: valid but worn, so renewed */
    vector("e5e973e5a6b2a43f48e7dc849e37bfcf", "198.51.100.100",
           "2464c4abcf10c957010000005cf79f111f8130c3eee29480", 1559734385,
           "2464c4abcf10c957010000005cf7a871d4a564a1442aca77");
    /* A.3: another server's cookie (reserved bytes set), renewed */
    vector("e5e973e5a6b2a43f48e7dc849e37bfcf", "203.0.113.203",
           "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", 1559734700,
           "fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e");
    /* A.4: IPv6, after the secret rolled over */
    vector("445536bcd2513298075a5d379663c962", "2001:db8:220:1:59de:d0f4:8769:82b8",
           "22681ab97d52c298010000005cf7c57926556bd0934c72f8", 1559741961,
           "22681ab97d52c298010000005cf7c609a6bb79d16625507a");
}

static void test_verdicts(void)
{
    struct dns_cookie_secret s;
    struct sockaddr_storage peer = addr("127.0.0.1"), other = addr("127.0.0.2");
    struct sockaddr_storage v6 = addr("::1");
    uint8_t cc[8] = {1, 2, 3, 4, 5, 6, 7, 8}, cc2[8] = {1, 2, 3, 4, 5, 6, 7, 9};
    uint8_t sc[16], out[40], q[24];
    const uint32_t now = 1700000000;
    const struct sockaddr *p = (struct sockaddr *)&peer;

    CHECK_INT_EQ(dns_cookie_secret_init(&s), 0);
    dns_cookie_server_make(&s, cc, p, now, sc);
    CHECK_INT_EQ(sc[0], 1);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, now), DNS_COOKIE_FRESH);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, now + 1799), DNS_COOKIE_FRESH);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, now + 1800), DNS_COOKIE_WORN);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, now + 3600), DNS_COOKIE_WORN);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, now + 3601), DNS_COOKIE_INVALID);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, now - 300), DNS_COOKIE_FRESH);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, now - 301), DNS_COOKIE_INVALID);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, (struct sockaddr *)&other, now),
                 DNS_COOKIE_INVALID);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, (struct sockaddr *)&v6, now),
                 DNS_COOKIE_INVALID);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc2, sc, 16, p, now), DNS_COOKIE_INVALID);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 15, p, now), DNS_COOKIE_INVALID);
    sc[15] ^= 1;
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, now), DNS_COOKIE_INVALID);
    sc[15] ^= 1;
    sc[0] = 2;
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, now), DNS_COOKIE_INVALID);
    sc[0] = 1;
    /* across the 2106 wrap */
    dns_cookie_server_make(&s, cc, p, 0xfffffff0u, sc);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, sc, 16, p, 100), DNS_COOKIE_FRESH);

    /* a fresh cookie is sent back as it is; an unknown one replaced */
    dns_cookie_server_make(&s, cc, p, now, sc);
    memcpy(q, cc, 8);
    memcpy(q + 8, sc, 16);
    CHECK_INT_EQ(dns_cookie_reply(&s, q, 24, p, now + 10, out), 24);
    CHECK_MEM_EQ(out, q, 24);
    q[20] ^= 0xff;
    CHECK_INT_EQ(dns_cookie_reply(&s, q, 24, p, now + 10, out), 24);
    CHECK_MEM_EQ(out, cc, 8);
    CHECK(memcmp(out + 8, q + 8, 16) != 0);
    CHECK_INT_EQ(dns_cookie_server_check(&s, cc, out + 8, 16, p, now + 10), DNS_COOKIE_FRESH);
}

int main(void)
{
    UNIT_RUN(test_rfc9018_vectors);
    UNIT_RUN(test_verdicts);
    return UNIT_END();
}
