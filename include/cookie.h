/* include/cookie.h — DNS Cookies (RFC 7873) for the DNS server, with
 * interoperable server cookies (RFC 9018): version 1, three reserved bytes, a
 * 32-bit timestamp, then SipHash-2-4 of (client cookie | version | reserved |
 * timestamp | client address) under a server secret.
 *
 * daneguard answers cookies but does not require them (its clients are the
 * `allow` networks): a query without a valid server cookie is answered
 * normally, with a fresh one (RFC 7873 §5.2.3 and §5.2.4). Nothing here
 * allocates; the clock is the caller's.
 */
#ifndef DANEGUARD_COOKIE_H
#define DANEGUARD_COOKIE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_COOKIE_CLIENT_LEN 8
#define DNS_COOKIE_SERVER_LEN 16   /* what we make; clients may send 8 to 32 */
#define DNS_COOKIE_LIFETIME_S 3600 /* RFC 9018 §4.3: accepted for an hour */
#define DNS_COOKIE_RENEW_S 1800    /* and renewed once half an hour old */
#define DNS_COOKIE_SKEW_S 300      /* a timestamp up to 5 minutes ahead is accepted */

struct dns_cookie_secret {
    uint8_t key[16];
};

/* Fill s from the kernel's random source. 0, or -1 (errno set). */
int dns_cookie_secret_init(struct dns_cookie_secret *s);

/* Write the server cookie for client cookie cc from peer (AF_INET or AF_INET6;
 * v4-mapped v6 is hashed as written) at time now into out. */
void dns_cookie_server_make(const struct dns_cookie_secret *s,
                            const uint8_t cc[DNS_COOKIE_CLIENT_LEN], const struct sockaddr *peer,
                            uint32_t now, uint8_t out[DNS_COOKIE_SERVER_LEN]);

/* The server cookie a client sent back (sc, sc_len bytes, with its client
 * cookie cc), judged at now: DNS_COOKIE_FRESH (ours, for this client cookie and
 * address, and less than half an hour old: it may be sent back as it is),
 * DNS_COOKIE_WORN (ours and valid, but due for renewal), DNS_COOKIE_INVALID
 * (not ours, another address, older than an hour, too far ahead, not version 1). */
enum dns_cookie_verdict { DNS_COOKIE_INVALID, DNS_COOKIE_WORN, DNS_COOKIE_FRESH };
enum dns_cookie_verdict dns_cookie_server_check(const struct dns_cookie_secret *s,
                                                const uint8_t cc[DNS_COOKIE_CLIENT_LEN],
                                                const uint8_t *sc, size_t sc_len,
                                                const struct sockaddr *peer, uint32_t now);

/* The COOKIE option (client cookie and a server cookie) to put in the reply to
 * a query that carried cookie (cookie_len bytes: 8, or 16 to 40), from peer at
 * now: the client's server cookie when it is fresh, else a new one. Writes
 * DNS_COOKIE_CLIENT_LEN + DNS_COOKIE_SERVER_LEN bytes, or the client's whole
 * option when it is kept; returns the length written. */
size_t dns_cookie_reply(const struct dns_cookie_secret *s, const uint8_t *cookie, size_t cookie_len,
                        const struct sockaddr *peer, uint32_t now, uint8_t out[40]);

#endif
