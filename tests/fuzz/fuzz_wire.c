/* tests/fuzz/fuzz_wire.c — libFuzzer harness for the DNS message reader and
 * writer (resolver/wire.c).
 *
 * Input: one control byte, then a DNS message. The message is read as a
 * client's query, and also as an upstream answer that is rendered into a reply
 * to a query built from the control byte and the message's own question. The
 * rendered reply must read back record for record (compression round-trips:
 * same owners, types, classes, TTLs, and rdata with its names decompressed),
 * and patching and truncating it must keep it readable.
 *
 * An upstream OPT with extended rcode bits, or a bogus or indeterminate status
 * without CD, must give a readable SERVFAIL instead.
 *
 * Control byte: bits 0-1 the DNSSEC status, bit 2 DO, bit 3 EDNS, bit 4 CD,
 * bit 5 AD, bit 6 RD, bit 7 "use example.com/A as the question".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define FUZZ_NOW ((time_t)1700000000)
#define OUT_CAP 65536

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_wire: check failed at line %d: %s\n", __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint8_t out[OUT_CAP];
static uint8_t copy[OUT_CAP];

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t lc(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* rdata of rr with every name it holds decompressed and lower-cased, so that a
 * record and its re-compressed copy compare equal. Types listed are the ones
 * wire.c rewrites; anything else must come out byte for byte. Returns the
 * length, or -1 when the rdata does not read (only allowed upstream). */
static int rdata_canon(const uint8_t *msg, size_t len, const struct dns_rr *rr, uint8_t *buf,
                       size_t cap)
{
    size_t pos = rr->rdata_offset, end = rr->rdata_offset + rr->rdlen, n = 0;
    /* fixed bytes before the name, names, then "the rest" (-1) or fixed bytes after */
    int pre = 0, names = 0, post = 0;
    switch (rr->type) {
    case DNS_TYPE_NS: case DNS_TYPE_CNAME: case DNS_TYPE_PTR: case DNS_TYPE_DNAME:
    case DNS_TYPE_MD: case DNS_TYPE_MF: case DNS_TYPE_MB: case DNS_TYPE_MG: case DNS_TYPE_MR:
        names = 1; break;
    case DNS_TYPE_MINFO: case DNS_TYPE_RP: names = 2; break;
    case DNS_TYPE_AFSDB: case DNS_TYPE_RT: pre = 2; names = 1; break;
    case DNS_TYPE_PX: pre = 2; names = 2; break;
    case DNS_TYPE_NXT: names = 1; post = -1; break;
    case DNS_TYPE_SIG: pre = 18; names = 1; post = -1; break;
    case DNS_TYPE_NAPTR:
        /* order, preference and three character-strings before the name */
        pre = 4;
        for (int k = 0; k < 3; k++) {
            if (rr->rdata_offset + (size_t)pre >= end)
                return -1;
            pre += 1 + msg[rr->rdata_offset + (size_t)pre];
        }
        names = 1;
        break;
    case DNS_TYPE_SOA: names = 2; post = 20; break;
    case DNS_TYPE_MX: pre = 2; names = 1; break;
    case DNS_TYPE_SRV: pre = 6; names = 1; break;
    case DNS_TYPE_NSEC: names = 1; post = -1; break;
    case DNS_TYPE_RRSIG: pre = 18; names = 1; post = -1; break;
    default:
        if (rr->rdlen > cap)
            return -1;
        memcpy(buf, rr->rdata, rr->rdlen);
        return rr->rdlen;
    }
    if (end - pos < (size_t)pre || n + pre > cap)
        return -1;
    memcpy(buf + n, msg + pos, (size_t)pre);
    n += (size_t)pre;
    pos += (size_t)pre;
    for (int i = 0; i < names; i++) {
        uint8_t name[DNS_MAX_NAME];
        size_t nl;
        if (dns_name_read(msg, len, &pos, name, &nl) < 0 || pos > end || n + nl > cap)
            return -1;
        for (size_t k = 0; k < nl; k++)
            buf[n++] = lc(name[k]);
    }
    size_t rest = post < 0 ? end - pos : (size_t)post;
    if (end - pos != rest || n + rest > cap)
        return -1;
    memcpy(buf + n, msg + pos, rest);
    n += rest;
    return (int)n;
}

/* Every record of msg reads; returns how many, or aborts. */
static unsigned must_walk(const uint8_t *msg, size_t len)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    unsigned n = 0;
    int rc;
    CHECK(dns_rr_iter_init(&it, msg, len) == 0);
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        CHECK(rr.owner_len >= 1 && rr.owner_len <= DNS_MAX_NAME);
        CHECK(rr.rdata_offset + rr.rdlen <= len);
        n++;
    }
    CHECK(rc == 0);
    CHECK(n == (unsigned)rd16(msg + 6) + rd16(msg + 8) + rd16(msg + 10));
    return n;
}

/* The rendered reply holds the upstream's records, in order, minus the
 * filtered ones, plus our OPT. */
static void check_round_trip(const struct dns_query *q, const uint8_t *up, size_t up_len,
                             const uint8_t *rep, size_t rep_len)
{
    static uint8_t a[OUT_CAP], b[OUT_CAP];
    struct dns_rr_iter iu, ir;
    struct dns_rr ru, rr;
    int rc;

    must_walk(rep, rep_len);
    CHECK(rd16(rep + 4) == (q->qname_len ? 1 : 0));
    CHECK(dns_rr_iter_init(&iu, up, up_len) == 0);
    CHECK(dns_rr_iter_init(&ir, rep, rep_len) == 0);
    while ((rc = dns_rr_iter_next(&iu, &ru)) == 1) {
        if (ru.type == DNS_TYPE_OPT)
            continue;
        if (!q->do_bit && ru.type != q->qtype && q->qtype != DNS_TYPE_ANY &&
            (ru.type == DNS_TYPE_RRSIG || ru.type == DNS_TYPE_NSEC || ru.type == DNS_TYPE_NSEC3))
            continue;
        CHECK(dns_rr_iter_next(&ir, &rr) == 1);
        CHECK(rr.section == ru.section);
        CHECK(dns_name_equal(rr.owner, rr.owner_len, ru.owner, ru.owner_len));
        CHECK(rr.type == ru.type && rr.rrclass == ru.rrclass && rr.ttl == ru.ttl);
        int la = rdata_canon(up, up_len, &ru, a, sizeof a);
        int lb = rdata_canon(rep, rep_len, &rr, b, sizeof b);
        CHECK(la >= 0 && lb >= 0);
        CHECK(la == lb && memcmp(a, b, (size_t)la) == 0);
    }
    CHECK(rc == 0); /* render succeeded, so the upstream walked to its end */
    rc = dns_rr_iter_next(&ir, &rr);
    if (q->has_edns) {
        CHECK(rc == 1 && rr.type == DNS_TYPE_OPT && rr.section == DNS_SECTION_ADDITIONAL);
        rc = dns_rr_iter_next(&ir, &rr);
    }
    CHECK(rc == 0);
}

/* Build the query we answer: the message's own question when it has one. */
static void make_query(uint8_t ctl, const uint8_t *msg, size_t len, struct dns_query *q)
{
    size_t pos = DNS_HEADER_LEN;
    uint8_t name[DNS_MAX_NAME];
    size_t name_len;

    CHECK(dns_query_init(q, "example.com", DNS_TYPE_A) == 0);
    if (!(ctl & 0x80) && len >= DNS_HEADER_LEN && rd16(msg + 4) >= 1 &&
        dns_name_read(msg, len, &pos, name, &name_len) == 0 && len - pos >= 4) {
        memcpy(q->qname, name, name_len);
        q->qname_len = name_len;
        q->qtype = rd16(msg + pos);
        q->qclass = rd16(msg + pos + 2);
    }
    q->id = len >= 2 ? rd16(msg) : 0;
    q->do_bit = (ctl >> 2) & 1;
    q->has_edns = (ctl >> 3) & 1;
    q->cd = (ctl >> 4) & 1;
    q->ad = (ctl >> 5) & 1;
    q->rd = (ctl >> 6) & 1;
    if (!q->has_edns)
        q->do_bit = 0;
}

static void fuzz_query(const uint8_t *msg, size_t len)
{
    struct dns_query q;
    size_t n;
    char text[4 * DNS_MAX_NAME + 2];

    int rc = dns_query_parse(msg, len, &q);
    CHECK(rc <= 0);
    CHECK(q.qname_len <= DNS_MAX_NAME);
    /* RFC 7873 §5.2.2: only cookies of 8, or 16 to 40 bytes, get through */
    CHECK(q.cookie_len == 0 || q.cookie_len == 8 || (q.cookie_len >= 16 && q.cookie_len <= 40));
    CHECK(rc != WIRE_ENOQUESTION || (q.cookie_len && q.qname_len == 0));
    if (rc == WIRE_ENOTQUERY)
        return;
    if (q.qname_len) {
        /* names as text and back: the same name */
        if (dns_name_to_text(q.qname, q.qname_len, text, sizeof text) == 0) {
            uint8_t back[DNS_MAX_NAME];
            size_t back_len;
            CHECK(dns_name_from_text(text, back, &back_len) == 0);
            CHECK(dns_name_equal(back, back_len, q.qname, q.qname_len));
        }
    }
    int rcode = rc == 0 ? DNS_RCODE_REFUSED
              : rc == WIRE_ENOQUESTION ? DNS_RCODE_NOERROR
              : rc == WIRE_ENOTIMP ? DNS_RCODE_NOTIMP
              : rc == WIRE_EBADVERS ? DNS_RCODE_BADVERS : DNS_RCODE_FORMERR;
    if (dns_reply_error(&q, rcode, DNS_EDE_PROHIBITED, "fuzz", out, sizeof out, &n) == 0) {
        CHECK(n <= sizeof out);
        must_walk(out, n);
        /* the server's cookie goes into every reply to an EDNS query */
        if (q.has_edns && q.cookie_len) {
            CHECK(dns_reply_add_cookie(out, &n, sizeof out, q.cookie, q.cookie_len) == 0);
            must_walk(out, n);
        }
    }
    /* a small buffer must fail cleanly, never overrun */
    if (dns_reply_error(&q, rcode, DNS_EDE_OTHER, NULL, out, 20, &n) == 0)
        CHECK(n <= 20);
}

static void fuzz_upstream(uint8_t ctl, const uint8_t *msg, size_t len)
{
    struct dns_query q;
    enum dns_security sec = (enum dns_security)(ctl & 3);
    size_t n = 0, m;
    uint32_t ttl;
    const char *text = NULL;
    struct dns_rr_iter it;
    struct dns_rr rr;

    (void)dns_msg_rcode(msg, len);
    if (dns_answer_ttl(msg, len, &ttl) == 0)
        CHECK(ttl <= 0x7fffffff); /* RFC 2181 §8: the top bit set means 0 */
    int ede = dns_bogus_ede(msg, len, FUZZ_NOW, &text);
    CHECK(text != NULL && ede >= 0);
    if (dns_rr_iter_init(&it, msg, len) == 0)
        while (dns_rr_iter_next(&it, &rr) == 1)
            CHECK(rr.rdata_offset + rr.rdlen <= len);

    make_query(ctl, msg, len, &q);
    int rc = dns_reply_render(&q, sec, msg, len, FUZZ_NOW, out, sizeof out, &n);
    CHECK(rc == 0 || rc == WIRE_EFORMERR || rc == WIRE_ENOSPC);
    if (rc == 0) {
        CHECK(n >= DNS_HEADER_LEN && n <= sizeof out);
        /* an upstream OPT with extended rcode bits is answered SERVFAIL */
        int ext = 0;
        if (dns_rr_iter_init(&it, msg, len) == 0)
            while (dns_rr_iter_next(&it, &rr) == 1)
                if (rr.type == DNS_TYPE_OPT && rr.section == DNS_SECTION_ADDITIONAL && rr.ttl >> 24)
                    ext = 1;
        if (((sec == DNS_BOGUS || sec == DNS_INDETERMINATE) && !q.cd) || ext) {
            must_walk(out, n);
            CHECK((out[3] & 0x0f) == DNS_RCODE_SERVFAIL);
        } else {
            check_round_trip(&q, msg, len, out, n);
        }
        /* capping TTLs keeps it readable, and caps them */
        memcpy(copy, out, n);
        CHECK(dns_reply_cap_ttls(copy, n, 86400, 3600) == 0);
        if (dns_rr_iter_init(&it, copy, n) == 0)
            while (dns_rr_iter_next(&it, &rr) == 1)
                CHECK(rr.type == DNS_TYPE_OPT || rr.ttl <= 86400);

        /* as the cache does it: patch a copy for another client */
        if (q.qname_len) {
            struct dns_query q2 = q;
            q2.id ^= 0x5a5a;
            q2.has_edns = !q.has_edns;
            q2.do_bit = q2.has_edns && q.do_bit;
            m = n;
            memcpy(copy, out, n);
            CHECK(dns_reply_patch(copy, &m, &q2, sec, ctl) == 0);
            CHECK(m <= n);
            must_walk(copy, m);
        }
        /* UDP truncation of what we rendered stays readable */
        size_t limits[] = {512, DNS_MAX_UDP_REPLY, 64};
        for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
            memcpy(copy, out, n);
            rc = dns_reply_truncate(copy, n, limits[i], &m);
            CHECK(rc == 0 || rc == WIRE_ENOSPC);
            if (rc == 0) {
                CHECK(m <= n);
                CHECK(m <= limits[i] || m == n);
                if (m <= limits[i])
                    must_walk(copy, m);
            }
        }
    }
    /* a cap that is too small never overruns */
    if (len > 0) {
        size_t cap = msg[len - 1] % 128;
        if (dns_reply_render(&q, sec, msg, len, FUZZ_NOW, out, cap, &n) == 0)
            CHECK(n <= cap);
    }
    /* hostile bytes handed straight to patch, truncate, the TTL caps and the cookie */
    if (len <= sizeof copy) {
        memcpy(copy, msg, len);
        (void)dns_reply_cap_ttls(copy, len, 100, 10);
        memcpy(copy, msg, len);
        m = len;
        if (dns_reply_add_cookie(copy, &m, sizeof copy, (const uint8_t *)"0123456789abcdef01234567",
                                 24) == 0)
            CHECK(m == len + 28);
        memcpy(copy, msg, len);
        m = len;
        (void)dns_reply_patch(copy, &m, &q, sec, 3600);
        CHECK(m <= len);
        memcpy(copy, msg, len);
        if (dns_reply_truncate(copy, len, 512, &m) == 0)
            CHECK(m <= len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > OUT_CAP)
        return 0;
    uint8_t ctl = data[0];
    /* a private copy, so that reads past the end are caught exactly */
    uint8_t *msg = malloc(size - 1 ? size - 1 : 1);
    if (!msg)
        return 0;
    memcpy(msg, data + 1, size - 1);
    fuzz_query(msg, size - 1);
    fuzz_upstream(ctl, msg, size - 1);
    free(msg);
    return 0;
}
