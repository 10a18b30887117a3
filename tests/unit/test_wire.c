/* tests/unit/test_wire.c — DNS wire reading and writing: queries, error replies,
 * rendering upstream answers with compression, patching, truncation, TTLs, and
 * hostile names. Upstream messages are built by hand, compression pointers and all.
 */
#include "unit.h"
#include "wire.h"

#include <stdlib.h>

#define NOW ((time_t)1700000000)

/* ---- a tiny message builder ---- */

struct mb {
    uint8_t b[4096];
    size_t n;
};

static void mb_u8(struct mb *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)v;
}

static void mb_u16(struct mb *m, unsigned v)
{
    mb_u8(m, v >> 8);
    mb_u8(m, v & 0xff);
}

static void mb_u32(struct mb *m, uint32_t v)
{
    mb_u16(m, v >> 16);
    mb_u16(m, v & 0xffff);
}

static void mb_bytes(struct mb *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

/* Labels of a dotted name without the root ("www.example"), for use before a pointer. */
static void mb_labels(struct mb *m, const char *text)
{
    while (*text) {
        const char *dot = strchr(text, '.');
        size_t l = dot ? (size_t)(dot - text) : strlen(text);
        mb_u8(m, (unsigned)l);
        mb_bytes(m, text, l);
        text += l;
        if (*text == '.')
            text++;
    }
}

static void mb_name(struct mb *m, const char *text)
{
    mb_labels(m, text);
    mb_u8(m, 0);
}

static void mb_ptr(struct mb *m, size_t off)
{
    mb_u16(m, 0xc000 | (unsigned)off);
}

static void mb_header(struct mb *m, unsigned id, unsigned flags, unsigned qd, unsigned an,
                      unsigned ns, unsigned ar)
{
    m->n = 0;
    mb_u16(m, id);
    mb_u16(m, flags);
    mb_u16(m, qd);
    mb_u16(m, an);
    mb_u16(m, ns);
    mb_u16(m, ar);
}

/* type, class, ttl, then a placeholder rdlength; returns where it is */
static size_t mb_rr(struct mb *m, unsigned type, uint32_t ttl)
{
    mb_u16(m, type);
    mb_u16(m, DNS_CLASS_IN);
    mb_u32(m, ttl);
    size_t at = m->n;
    mb_u16(m, 0);
    return at;
}

static void mb_rr_end(struct mb *m, size_t at)
{
    size_t l = m->n - at - 2;
    m->b[at] = (uint8_t)(l >> 8);
    m->b[at + 1] = (uint8_t)l;
}

static void mb_opt(struct mb *m, unsigned size, unsigned version, int do_bit)
{
    mb_u8(m, 0);
    mb_u16(m, DNS_TYPE_OPT);
    mb_u16(m, size);
    mb_u8(m, 0);
    mb_u8(m, version);
    mb_u16(m, do_bit ? 0x8000 : 0);
    mb_u16(m, 0);
}

/* RRSIG rdata with the signer name given as a pointer (which upstreams must not
 * do, and which we must undo). */
static void mb_rrsig(struct mb *m, unsigned covered, uint32_t expiration, uint32_t inception,
                     size_t signer_ptr)
{
    mb_u16(m, covered);
    mb_u8(m, 13);
    mb_u8(m, 3);
    mb_u32(m, 300);
    mb_u32(m, expiration);
    mb_u32(m, inception);
    mb_u16(m, 12345);
    mb_ptr(m, signer_ptr);
    for (int i = 0; i < 64; i++)
        mb_u8(m, (unsigned)i);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static void query_make(struct mb *m, unsigned id, unsigned flags, const char *name, unsigned type,
                       int edns, int do_bit)
{
    mb_header(m, id, flags, 1, 0, 0, edns ? 1 : 0);
    mb_name(m, name);
    mb_u16(m, type);
    mb_u16(m, DNS_CLASS_IN);
    if (edns)
        mb_opt(m, 4096, 0, do_bit);
}

/* A realistic validated answer to www.example.com/A: a CNAME to web.example.com,
 * its A, both signed, the NS and an NSEC in authority, glue and an OPT in
 * additional; compressed throughout, the RRSIG signer names included. */
static void upstream_answer_at(struct mb *m, uint32_t sig_expiration, uint32_t sig_inception)
{
    mb_header(m, 0x4242, 0x81a0, 1, 4, 3, 2); /* QR RD RA AD */
    mb_name(m, "www.example.com");            /* 12; example.com at 16 */
    mb_u16(m, DNS_TYPE_A);
    mb_u16(m, DNS_CLASS_IN);

    mb_ptr(m, 12);
    size_t at = mb_rr(m, DNS_TYPE_CNAME, 300);
    size_t web = m->n;
    mb_labels(m, "web");
    mb_ptr(m, 16);
    mb_rr_end(m, at);

    mb_ptr(m, 12);
    at = mb_rr(m, DNS_TYPE_RRSIG, 300);
    mb_rrsig(m, DNS_TYPE_CNAME, sig_expiration, sig_inception, 16);
    mb_rr_end(m, at);

    mb_ptr(m, web);
    at = mb_rr(m, DNS_TYPE_A, 600);
    mb_u32(m, 0xc0000201);
    mb_rr_end(m, at);

    mb_ptr(m, web);
    at = mb_rr(m, DNS_TYPE_RRSIG, 600);
    mb_rrsig(m, DNS_TYPE_A, sig_expiration, sig_inception, 16);
    mb_rr_end(m, at);

    mb_ptr(m, 16);
    at = mb_rr(m, DNS_TYPE_NS, 3600);
    size_t ns1 = m->n;
    mb_labels(m, "ns1");
    mb_ptr(m, 16);
    mb_rr_end(m, at);

    mb_ptr(m, 16);
    at = mb_rr(m, DNS_TYPE_NSEC, 3600);
    mb_labels(m, "a"); /* next name, compressed: also to be undone */
    mb_ptr(m, 16);
    mb_u8(m, 0);
    mb_u8(m, 6);
    mb_bytes(m, "\x62\x01\x80\x08\x00\x03", 6);
    mb_rr_end(m, at);

    mb_ptr(m, 16);
    at = mb_rr(m, DNS_TYPE_SOA, 3600);
    mb_ptr(m, ns1);
    mb_labels(m, "hostmaster");
    mb_ptr(m, 16);
    mb_u32(m, 2024010101);
    mb_u32(m, 7200);
    mb_u32(m, 3600);
    mb_u32(m, 1209600);
    mb_u32(m, 300);
    mb_rr_end(m, at);

    mb_ptr(m, ns1);
    at = mb_rr(m, DNS_TYPE_A, 3600);
    mb_u32(m, 0xc0000235);
    mb_rr_end(m, at);

    mb_opt(m, 1232, 0, 1);
}

static void upstream_answer(struct mb *m, uint32_t sig_expiration)
{
    upstream_answer_at(m, sig_expiration, (uint32_t)NOW - 86400);
}

static void query_for(struct dns_query *q, const char *name, uint16_t type, int edns, int do_bit)
{
    struct mb m;
    query_make(&m, 0x1234, 0x0100, name, type, edns, do_bit);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, q), 0);
}

/* Count records per section and check every name in a reply reads back. */
static void counts(const uint8_t *msg, size_t len, unsigned c[4])
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    int rc;
    memset(c, 0, 4 * sizeof c[0]);
    CHECK_INT_EQ(dns_rr_iter_init(&it, msg, len), 0);
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1)
        c[rr.section]++;
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(it.pos, len);
}

/* The EDE option of a reply's OPT: code or -1, text copied into text. */
static int find_ede(const uint8_t *msg, size_t len, char *text, size_t cap)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    if (dns_rr_iter_init(&it, msg, len) < 0)
        return -2;
    while (dns_rr_iter_next(&it, &rr) == 1) {
        if (rr.type != DNS_TYPE_OPT || rr.rdlen < 6 || rd16(rr.rdata) != 15)
            continue;
        size_t tl = rd16(rr.rdata + 2) - 2u;
        if (tl >= cap)
            tl = cap - 1;
        memcpy(text, rr.rdata + 6, tl);
        text[tl] = '\0';
        return rd16(rr.rdata + 4);
    }
    return -1;
}

/* ---- names ---- */

static void test_name_text(void)
{
    uint8_t w[DNS_MAX_NAME];
    size_t n;
    char t[300];

    CHECK_INT_EQ(dns_name_from_text("www.Example.com", w, &n), 0);
    CHECK_INT_EQ(n, 17);
    CHECK_MEM_EQ(w, "\3www\7Example\3com\0", 17);
    CHECK_INT_EQ(dns_name_from_text("www.Example.com.", w, &n), 0);
    CHECK_INT_EQ(n, 17);
    CHECK_INT_EQ(dns_name_to_text(w, n, t, sizeof t), 0);
    CHECK_STR_EQ(t, "www.Example.com.");
    CHECK_INT_EQ(dns_name_from_text(".", w, &n), 0);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(dns_name_to_text(w, n, t, sizeof t), 0);
    CHECK_STR_EQ(t, ".");
    CHECK_INT_EQ(dns_name_from_text("a..b", w, &n), WIRE_EBADNAME);
    CHECK_INT_EQ(dns_name_from_text(".a", w, &n), WIRE_EBADNAME);
    CHECK_INT_EQ(dns_name_from_text("a\\.b.c", w, &n), 0);
    CHECK_MEM_EQ(w, "\3a.b\1c\0", 7);
    CHECK_INT_EQ(dns_name_to_text(w, n, t, sizeof t), 0);
    CHECK_STR_EQ(t, "a\\.b.c.");
    CHECK_INT_EQ(dns_name_to_text(w, n, t, 4), WIRE_ENOSPC);

    char longl[100];
    memset(longl, 'x', 64);
    longl[64] = '\0';
    CHECK_INT_EQ(dns_name_from_text(longl, w, &n), WIRE_EBADNAME);
    longl[63] = '\0';
    CHECK_INT_EQ(dns_name_from_text(longl, w, &n), 0);

    /* 4 labels of 63 = 256 bytes on the wire: one too many */
    char big[300];
    memset(big, 'y', sizeof big);
    big[63] = big[127] = big[191] = '.';
    big[191 + 62] = '\0'; /* a last label of 61 */
    CHECK_INT_EQ(dns_name_from_text(big, w, &n), 0);
    CHECK_INT_EQ(n, 255);
    big[191 + 62] = 'y';
    big[191 + 63] = '\0'; /* a last label of 62 */
    CHECK_INT_EQ(dns_name_from_text(big, w, &n), WIRE_EBADNAME);

    CHECK(dns_name_equal((const uint8_t *)"\3WWW\0", 5, (const uint8_t *)"\3www\0", 5));
    CHECK(!dns_name_equal((const uint8_t *)"\3wwx\0", 5, (const uint8_t *)"\3www\0", 5));
}

static void test_name_hostile(void)
{
    uint8_t out[DNS_MAX_NAME];
    size_t n, pos;
    uint8_t msg[600];

    memset(msg, 0, sizeof msg);
    /* a pointer to itself */
    msg[12] = 0xc0;
    msg[13] = 12;
    pos = 12;
    CHECK_INT_EQ(dns_name_read(msg, 14, &pos, out, &n), WIRE_EFORMERR);
    /* a forward pointer */
    msg[13] = 20;
    pos = 12;
    CHECK_INT_EQ(dns_name_read(msg, 30, &pos, out, &n), WIRE_EFORMERR);
    /* two names pointing at each other: 12 = "a" -> 16, 16 = "b" -> 12 */
    uint8_t loop[] = {1, 'a', 0xc0, 16, 1, 'b', 0xc0, 12};
    memcpy(msg + 12, loop, sizeof loop);
    pos = 16;
    CHECK_INT_EQ(dns_name_read(msg, 20, &pos, out, &n), WIRE_EFORMERR);
    pos = 12;
    CHECK_INT_EQ(dns_name_read(msg, 20, &pos, out, &n), WIRE_EFORMERR);
    /* a pointer cut short, a label past the end, reserved label types */
    msg[12] = 0xc0;
    pos = 12;
    CHECK_INT_EQ(dns_name_read(msg, 13, &pos, out, &n), WIRE_EFORMERR);
    msg[12] = 5;
    pos = 12;
    CHECK_INT_EQ(dns_name_read(msg, 15, &pos, out, &n), WIRE_EFORMERR);
    msg[12] = 0x41;
    pos = 12;
    CHECK_INT_EQ(dns_name_read(msg, 100, &pos, out, &n), WIRE_EFORMERR);
    msg[12] = 0x81;
    pos = 12;
    CHECK_INT_EQ(dns_name_read(msg, 100, &pos, out, &n), WIRE_EFORMERR);
    /* a chain of pointers, each to an earlier 63-byte label, making > 255 */
    size_t p = 12;
    size_t prev = 0;
    memset(msg, 0, sizeof msg);
    for (int i = 0; i < 5; i++) {
        size_t start = p;
        msg[p++] = 63;
        memset(msg + p, 'a' + i, 63);
        p += 63;
        if (prev) {
            msg[p++] = (uint8_t)(0xc0 | prev >> 8);
            msg[p++] = (uint8_t)prev;
        } else {
            msg[p++] = 0;
        }
        prev = start;
    }
    pos = prev;
    CHECK_INT_EQ(dns_name_read(msg, p, &pos, out, &n), WIRE_EFORMERR);
    /* three of them are fine: 3 * 64 + 1 */
    pos = 12 + 64 + 1 + 64 + 2;
    CHECK_INT_EQ(dns_name_read(msg, p, &pos, out, &n), 0);
    CHECK_INT_EQ(n, 193);
    CHECK_INT_EQ(pos, 12 + 64 + 1 + 64 + 2 + 64 + 2);

    /* a message whose answer owner loops is rejected by the iterator */
    struct mb m;
    mb_header(&m, 1, 0x8180, 1, 1, 0, 0);
    mb_name(&m, "example.com");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    size_t self = m.n;
    mb_ptr(&m, self);
    size_t at = mb_rr(&m, DNS_TYPE_A, 10);
    mb_u32(&m, 1);
    mb_rr_end(&m, at);
    struct dns_rr_iter it;
    struct dns_rr rr;
    CHECK_INT_EQ(dns_rr_iter_init(&it, m.b, m.n), 0);
    CHECK_INT_EQ(dns_rr_iter_next(&it, &rr), WIRE_EFORMERR);
    struct dns_query q;
    query_for(&q, "example.com", DNS_TYPE_A, 1, 0);
    uint8_t buf[1024];
    size_t len;
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, m.b, m.n, NOW, buf, sizeof buf, &len),
                 WIRE_EFORMERR);
    uint32_t ttl;
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), WIRE_EFORMERR);

    /* rdlength past the end */
    mb_header(&m, 1, 0x8180, 1, 1, 0, 0);
    mb_name(&m, "example.com");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    mb_ptr(&m, 12);
    mb_rr(&m, DNS_TYPE_A, 10);
    m.b[m.n - 1] = 200;
    mb_u32(&m, 1);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, m.b, m.n, NOW, buf, sizeof buf, &len),
                 WIRE_EFORMERR);

    /* a CNAME whose rdata name runs past its rdlength */
    mb_header(&m, 1, 0x8180, 1, 1, 0, 0);
    mb_name(&m, "example.com");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    mb_ptr(&m, 12);
    at = mb_rr(&m, DNS_TYPE_CNAME, 10);
    mb_name(&m, "x.example.com");
    mb_rr_end(&m, at);
    m.b[at + 1] = 3;
    mb_u32(&m, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, m.b, m.n, NOW, buf, sizeof buf, &len),
                 WIRE_EFORMERR);
}

/* ---- queries ---- */

static void test_query_parse_ok(void)
{
    struct mb m;
    struct dns_query q;

    query_make(&m, 0xbeef, 0x0100, "WwW.Example.COM", DNS_TYPE_AAAA, 1, 1);
    m.b[3] |= 0x30; /* AD and CD */
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), 0);
    CHECK_INT_EQ(q.id, 0xbeef);
    CHECK_INT_EQ(q.opcode, 0);
    CHECK_INT_EQ(q.rd, 1);
    CHECK_INT_EQ(q.ad, 1);
    CHECK_INT_EQ(q.cd, 1);
    CHECK_INT_EQ(q.qname_len, 17);
    CHECK_MEM_EQ(q.qname, "\3WwW\7Example\3COM\0", 17);
    CHECK_INT_EQ(q.qtype, DNS_TYPE_AAAA);
    CHECK_INT_EQ(q.qclass, DNS_CLASS_IN);
    CHECK_INT_EQ(q.has_edns, 1);
    CHECK_INT_EQ(q.do_bit, 1);
    CHECK_INT_EQ(q.udp_size, 4096);

    /* without EDNS */
    query_make(&m, 7, 0x0000, "example.com", DNS_TYPE_TLSA, 0, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), 0);
    CHECK_INT_EQ(q.has_edns, 0);
    CHECK_INT_EQ(q.do_bit, 0);
    CHECK_INT_EQ(q.rd, 0);
    CHECK_INT_EQ(q.udp_size, 512);
    CHECK_INT_EQ(q.qtype, DNS_TYPE_TLSA);

    /* a tiny advertised payload counts as 512; a cookie option is fine */
    mb_header(&m, 7, 0x0100, 1, 0, 0, 1);
    mb_u8(&m, 0); /* the root */
    mb_u16(&m, DNS_TYPE_NS);
    mb_u16(&m, 1);
    mb_u8(&m, 0);
    mb_u16(&m, DNS_TYPE_OPT);
    mb_u16(&m, 100);
    mb_u32(&m, 0);
    mb_u16(&m, 12);
    mb_u16(&m, 10);
    mb_u16(&m, 8);
    mb_bytes(&m, "cookie!!", 8);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), 0);
    CHECK_INT_EQ(q.udp_size, 512);
    CHECK_INT_EQ(q.qname_len, 1);

    struct dns_query qi;
    CHECK_INT_EQ(dns_query_init(&qi, "_443._tcp.example.com", DNS_TYPE_TLSA), 0);
    CHECK_INT_EQ(qi.qname_len, 23);
    CHECK_INT_EQ(qi.do_bit, 1);
    CHECK_INT_EQ(qi.cd, 1);
    CHECK_INT_EQ(qi.has_edns, 1);
    CHECK_INT_EQ(qi.qclass, DNS_CLASS_IN);
    CHECK_INT_EQ(dns_query_init(&qi, "a..b", DNS_TYPE_A), WIRE_EBADNAME);
}

static void test_query_parse_errors(void)
{
    struct mb m;
    struct dns_query q;

    /* truncated header */
    query_make(&m, 0x1111, 0x0100, "example.com", DNS_TYPE_A, 0, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, 11, &q), WIRE_EFORMERR);
    CHECK_INT_EQ(q.qname_len, 0);
    /* header only: the id is known, the question is not */
    CHECK_INT_EQ(dns_query_parse(m.b, 12, &q), WIRE_EFORMERR);
    CHECK_INT_EQ(q.id, 0x1111);
    CHECK_INT_EQ(q.qname_len, 0);
    /* qdcount 0 and 2 */
    m.b[5] = 0;
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);
    m.b[5] = 2;
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);
    m.b[5] = 1;
    /* name cut short; type/class missing */
    CHECK_INT_EQ(dns_query_parse(m.b, 20, &q), WIRE_EFORMERR);
    CHECK_INT_EQ(q.qname_len, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n - 2, &q), WIRE_EFORMERR);
    CHECK_INT_EQ(q.qname_len, 0);
    /* trailing garbage */
    m.b[m.n] = 0;
    CHECK_INT_EQ(dns_query_parse(m.b, m.n + 1, &q), WIRE_EFORMERR);
    CHECK_INT_EQ(q.qname_len, 13); /* the question was read: echo it */
    /* a bad label type in the question */
    m.b[12] = 0x47;
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);
    m.b[12] = 7;
    /* two OPTs */
    query_make(&m, 1, 0x0100, "example.com", DNS_TYPE_A, 1, 0);
    m.b[11] = 2;
    mb_opt(&m, 1232, 0, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);
    /* OPT with a non-root owner; OPT in the answer section */
    query_make(&m, 1, 0x0100, "example.com", DNS_TYPE_A, 0, 0);
    m.b[11] = 1;
    mb_ptr(&m, 12);
    mb_u16(&m, DNS_TYPE_OPT);
    mb_u16(&m, 1232);
    mb_u32(&m, 0);
    mb_u16(&m, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);
    query_make(&m, 1, 0x0100, "example.com", DNS_TYPE_A, 1, 0);
    m.b[7] = 1;
    m.b[11] = 0;
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);
    /* OPT whose option overruns its rdata */
    query_make(&m, 1, 0x0100, "example.com", DNS_TYPE_A, 1, 0);
    m.b[m.n - 1] = 4;
    mb_u16(&m, 10);
    mb_u16(&m, 8);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);
    /* an additional record that claims more rdata than there is */
    query_make(&m, 1, 0x0100, "example.com", DNS_TYPE_A, 1, 0);
    m.b[m.n - 1] = 1;
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);

    /* QR set: a response, to be dropped */
    query_make(&m, 1, 0x8100, "example.com", DNS_TYPE_A, 0, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_ENOTQUERY);
    /* NOTIFY (opcode 4) and an odd opcode with no question */
    query_make(&m, 1, 4 << 11, "example.com", DNS_TYPE_SOA, 1, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_ENOTIMP);
    CHECK_INT_EQ(q.opcode, 4);
    CHECK_INT_EQ(q.qname_len, 13);
    CHECK_INT_EQ(q.has_edns, 1);
    mb_header(&m, 1, 2 << 11, 0, 0, 0, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_ENOTIMP);
    /* EDNS version 1 */
    query_make(&m, 1, 0x0100, "example.com", DNS_TYPE_A, 0, 0);
    m.b[11] = 1;
    mb_opt(&m, 1232, 1, 1);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EBADVERS);
    CHECK_INT_EQ(q.has_edns, 1);
    CHECK_INT_EQ(q.edns_version, 1);

    CHECK_STR_EQ(wire_strerror(WIRE_EBADVERS), "unsupported EDNS version");
    CHECK_STR_EQ(wire_strerror(0), "success");
}

/* ---- error replies ---- */

static void test_reply_error(void)
{
    struct mb m;
    struct dns_query q;
    uint8_t out[512];
    size_t len;

    /* no EDNS: header and question only, the EDE has nowhere to go */
    query_make(&m, 0xabcd, 0x0100, "example.com", DNS_TYPE_A, 0, 0);
    m.b[3] = 0x10; /* CD */
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), 0);
    CHECK_INT_EQ(
        dns_reply_error(&q, DNS_RCODE_REFUSED, DNS_EDE_PROHIBITED, "no", out, sizeof out, &len), 0);
    static const uint8_t refused[] = {0xab, 0xcd, 0x81, 0x95, 0,   1,   0,   0,   0,   0,
                                      0,    0,    7,    'e',  'x', 'a', 'm', 'p', 'l', 'e',
                                      3,    'c',  'o',  'm',  0,   0,   1,   0,   1};
    CHECK_INT_EQ(len, sizeof refused);
    CHECK_MEM_EQ(out, refused, sizeof refused);

    /* EDNS with DO and an EDE: the exact OPT bytes */
    query_make(&m, 0xabcd, 0x0100, "example.com", DNS_TYPE_A, 1, 1);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), 0);
    CHECK_INT_EQ(dns_reply_error(&q, DNS_RCODE_SERVFAIL, DNS_EDE_SIGNATURE_EXPIRED, "sig expired",
                                 out, sizeof out, &len),
                 0);
    static const uint8_t opt[] = {0,   0,   41,  0x04, 0xd0, 0,   0,   0x80, 0,   0,
                                  17,  0,   15,  0,    13,   0,   7,   's',  'i', 'g',
                                  ' ', 'e', 'x', 'p',  'i',  'r', 'e', 'd'};
    CHECK_INT_EQ(len, 12 + 17 + sizeof opt);
    CHECK_INT_EQ(out[3], 0x82);
    CHECK_INT_EQ(rd16(out + 10), 1);
    CHECK_MEM_EQ(out + 29, opt, sizeof opt);

    /* EDNS, no EDE: an empty OPT; EDE with a NULL text: just the INFO-CODE */
    CHECK_INT_EQ(dns_reply_error(&q, DNS_RCODE_SERVFAIL, DNS_EDE_NONE, NULL, out, sizeof out, &len),
                 0);
    CHECK_INT_EQ(len, 12 + 17 + 11);
    CHECK_INT_EQ(rd16(out + 29 + 9), 0);
    CHECK_INT_EQ(
        dns_reply_error(&q, DNS_RCODE_SERVFAIL, DNS_EDE_DNSSEC_BOGUS, NULL, out, sizeof out, &len),
        0);
    static const uint8_t opt6[] = {0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 6, 0, 15, 0, 2, 0, 6};
    CHECK_INT_EQ(len, 12 + 17 + sizeof opt6);
    CHECK_MEM_EQ(out + 29, opt6, sizeof opt6);

    /* BADVERS: 16 = low 0 in the header, 1 in the OPT's extended rcode */
    query_make(&m, 2, 0x0100, "example.com", DNS_TYPE_A, 0, 0);
    m.b[11] = 1;
    mb_opt(&m, 1232, 1, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EBADVERS);
    CHECK_INT_EQ(dns_reply_error(&q, DNS_RCODE_BADVERS, DNS_EDE_NONE, NULL, out, sizeof out, &len),
                 0);
    CHECK_INT_EQ(out[3] & 0x0f, 0);
    CHECK_INT_EQ(out[29 + 5], 1); /* extended rcode */
    CHECK_INT_EQ(out[29 + 6], 0); /* our version */

    /* FORMERR without a question; NOTIMP echoes the opcode */
    CHECK_INT_EQ(dns_query_parse(m.b, 12, &q), WIRE_EFORMERR);
    CHECK_INT_EQ(dns_reply_error(&q, DNS_RCODE_FORMERR, DNS_EDE_NONE, NULL, out, sizeof out, &len),
                 0);
    CHECK_INT_EQ(len, 12);
    CHECK_INT_EQ(out[3] & 0x0f, 1);
    CHECK_INT_EQ(rd16(out + 4), 0);
    query_make(&m, 3, 4 << 11, "example.com", DNS_TYPE_SOA, 0, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_ENOTIMP);
    CHECK_INT_EQ(dns_reply_error(&q, DNS_RCODE_NOTIMP, DNS_EDE_NONE, NULL, out, sizeof out, &len),
                 0);
    CHECK_INT_EQ(out[2], 0x80 | 4 << 3);
    CHECK_INT_EQ(out[3], 0x84);

    /* too small a buffer */
    query_make(&m, 2, 0x0100, "example.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), 0);
    CHECK_INT_EQ(dns_reply_error(&q, 2, 7, "x", out, 35, &len), WIRE_ENOSPC);
    CHECK_INT_EQ(dns_reply_error(&q, 2, 7, "x", out, 20, &len), WIRE_ENOSPC);
}

/* ---- rendering ---- */

/* Bytes the reply would take with no compression at all. */
static size_t uncompressed_size(const uint8_t *msg, size_t len)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    size_t total = len - (len - DNS_HEADER_LEN); /* header */
    uint8_t name[DNS_MAX_NAME];
    size_t nl, pos = DNS_HEADER_LEN;

    dns_name_read(msg, len, &pos, name, &nl);
    total += nl + 4;
    dns_rr_iter_init(&it, msg, len);
    while (dns_rr_iter_next(&it, &rr) == 1) {
        size_t extra = 0, p = rr.rdata_offset;
        total += rr.owner_len + 10;
        switch (rr.type) {
        case DNS_TYPE_NS:
        case DNS_TYPE_CNAME:
            dns_name_read(msg, len, &p, name, &nl);
            extra = nl;
            break;
        case DNS_TYPE_SOA:
            dns_name_read(msg, len, &p, name, &nl);
            extra = nl;
            dns_name_read(msg, len, &p, name, &nl);
            extra += nl + 20;
            break;
        default:
            extra = rr.rdlen;
        }
        total += extra;
    }
    return total;
}

static void test_render_do(void)
{
    struct mb up;
    struct dns_query q;
    uint8_t out[2048];
    size_t len;
    unsigned c[4];

    upstream_answer(&up, (uint32_t)NOW + 86400);
    query_for(&q, "wWw.example.COM", DNS_TYPE_A, 1, 1);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(rd16(out), 0x1234);
    CHECK_INT_EQ(out[2], 0x81); /* QR RD, not AA, not TC */
    CHECK_INT_EQ(out[3], 0xa0); /* RA AD, NOERROR */
    CHECK_INT_EQ(rd16(out + 4), 1);
    CHECK_MEM_EQ(out + 12, "\3wWw\7example\3COM\0", 17);
    counts(out, len, c);
    CHECK_INT_EQ(c[1], 4);
    CHECK_INT_EQ(c[2], 3);
    CHECK_INT_EQ(c[3], 2); /* glue and our OPT */

    /* compression made it smaller, and every name reads back */
    CHECK(len < uncompressed_size(out, len));
    CHECK(len < up.n + 40);
    CHECK_INT_EQ(rd16(out + 33), 0xc00c); /* first answer owner points at the question */

    struct dns_rr_iter it;
    struct dns_rr rr;
    uint8_t name[DNS_MAX_NAME];
    size_t nl, p;
    char text[300];
    int i = 0, saw_sig = 0, saw_nsec = 0, saw_soa = 0;
    CHECK_INT_EQ(dns_rr_iter_init(&it, out, len), 0);
    while (dns_rr_iter_next(&it, &rr) == 1) {
        dns_name_to_text(rr.owner, rr.owner_len, text, sizeof text);
        switch (i++) {
        case 0:
            CHECK_STR_EQ(text, "wWw.example.COM.");
            CHECK_INT_EQ(rr.type, DNS_TYPE_CNAME);
            CHECK_INT_EQ(rr.ttl, 300);
            p = rr.rdata_offset;
            CHECK_INT_EQ(dns_name_read(out, len, &p, name, &nl), 0);
            dns_name_to_text(name, nl, text, sizeof text);
            CHECK_STR_EQ(text, "web.example.COM.");
            CHECK_INT_EQ(p, rr.rdata_offset + rr.rdlen);
            CHECK(rr.rdlen < nl); /* compressed */
            break;
        case 2:
            CHECK_STR_EQ(text, "web.example.COM.");
            CHECK_INT_EQ(rr.type, DNS_TYPE_A);
            CHECK_INT_EQ(rd32(rr.rdata), 0xc0000201);
            break;
        case 4:
            CHECK_INT_EQ(rr.type, DNS_TYPE_NS);
            break;
        case 8:
            CHECK_INT_EQ(rr.type, DNS_TYPE_OPT);
            CHECK_INT_EQ(rr.rrclass, 1232);
            CHECK_INT_EQ(rr.ttl, 0x8000); /* DO echoed, rcode 0, version 0 */
            CHECK_INT_EQ(rr.rdlen, 0);
            break;
        }
        if (rr.type == DNS_TYPE_RRSIG) {
            /* signer name written out whole, never compressed */
            saw_sig++;
            CHECK_INT_EQ(rr.rdlen, 18 + 13 + 64);
            CHECK_MEM_EQ(rr.rdata + 18, "\7example\3com\0", 13);
            CHECK_INT_EQ(rr.rdata[18 + 13 + 63], 63);
        }
        if (rr.type == DNS_TYPE_NSEC) {
            saw_nsec++;
            CHECK_INT_EQ(rr.rdlen, 15 + 8);
            CHECK_MEM_EQ(rr.rdata, "\1a\7example\3com\0\0\6\x62\x01\x80\x08\x00\x03", 23);
        }
        if (rr.type == DNS_TYPE_SOA) {
            saw_soa++;
            p = rr.rdata_offset;
            CHECK_INT_EQ(dns_name_read(out, len, &p, name, &nl), 0);
            dns_name_to_text(name, nl, text, sizeof text);
            CHECK_STR_EQ(text, "ns1.example.COM.");
            CHECK_INT_EQ(dns_name_read(out, len, &p, name, &nl), 0);
            dns_name_to_text(name, nl, text, sizeof text);
            CHECK_STR_EQ(text, "hostmaster.example.COM.");
            CHECK_INT_EQ(p + 20, rr.rdata_offset + rr.rdlen);
            CHECK_INT_EQ(rd32(rr.rdata + rr.rdlen - 4), 300);
            CHECK(rr.rdlen < 22 + 16 + 23); /* both names compressed */
        }
    }
    CHECK_INT_EQ(i, 9);
    CHECK_INT_EQ(saw_sig, 2);
    CHECK_INT_EQ(saw_nsec, 1);
    CHECK_INT_EQ(saw_soa, 1);

    /* too small a buffer is ENOSPC, never a truncated message */
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n, NOW, out, 100, &len), WIRE_ENOSPC);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n, NOW, out, 20, &len), WIRE_ENOSPC);
    /* unreadable upstream */
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, 11, NOW, out, sizeof out, &len),
                 WIRE_EFORMERR);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n - 5, NOW, out, sizeof out, &len),
                 WIRE_EFORMERR);
}

static void test_render_no_do(void)
{
    struct mb up;
    struct dns_query q;
    uint8_t out[2048];
    size_t len;
    unsigned c[4];

    upstream_answer(&up, (uint32_t)NOW + 86400);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(out[3] & 0x20, 0); /* secure, but neither DO nor AD asked */
    counts(out, len, c);
    CHECK_INT_EQ(c[1], 2); /* CNAME, A: no RRSIGs */
    CHECK_INT_EQ(c[2], 2); /* NS, SOA: no NSEC */
    CHECK_INT_EQ(c[3], 2);

    struct dns_rr_iter it;
    struct dns_rr rr;
    dns_rr_iter_init(&it, out, len);
    while (dns_rr_iter_next(&it, &rr) == 1) {
        CHECK(rr.type != DNS_TYPE_RRSIG && rr.type != DNS_TYPE_NSEC);
        if (rr.type == DNS_TYPE_OPT)
            CHECK_INT_EQ(rr.ttl, 0);
    }

    /* no EDNS at all: no OPT */
    query_for(&q, "www.example.com", DNS_TYPE_A, 0, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    counts(out, len, c);
    CHECK_INT_EQ(c[3], 1);

    /* asking for RRSIGs themselves keeps them without DO */
    query_for(&q, "www.example.com", DNS_TYPE_RRSIG, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    counts(out, len, c);
    CHECK_INT_EQ(c[1], 4);
    CHECK_INT_EQ(c[2], 2);
    /* so does ANY (every type), as Unbound answers it */
    query_for(&q, "www.example.com", DNS_TYPE_ANY, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    counts(out, len, c);
    CHECK_INT_EQ(c[1], 4);
    CHECK_INT_EQ(c[2], 3);
}

static void test_render_ad(void)
{
    struct mb up;
    struct dns_query q;
    uint8_t out[2048];
    size_t len;

    upstream_answer(&up, (uint32_t)NOW + 86400);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 0);
    q.ad = 1;
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(out[3] & 0x20, 0x20);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(out[3] & 0x20, 0); /* upstream's AD is not copied */
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INDETERMINATE, up.b, up.n, NOW, out, sizeof out, &len),
                 0);
    CHECK_INT_EQ(out[3] & 0x20, 0);
    q.ad = 0;
    q.do_bit = 1;
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(out[3] & 0x20, 0x20);
    /* CD copied, RD copied */
    q.cd = 1;
    q.rd = 0;
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(out[3] & 0x10, 0x10);
    CHECK_INT_EQ(out[2] & 0x01, 0);
}

static void test_render_bogus(void)
{
    struct mb up;
    struct dns_query q;
    uint8_t out[2048];
    size_t len;
    char text[64];

    /* expired signatures: SERVFAIL + EDE 7, the question and nothing else */
    upstream_answer(&up, (uint32_t)NOW - 3600);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 1);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_BOGUS, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(out[3], 0x82);
    CHECK_INT_EQ(rd16(out + 6), 0);
    CHECK_INT_EQ(rd16(out + 8), 0);
    CHECK_INT_EQ(rd16(out + 10), 1);
    CHECK_INT_EQ(find_ede(out, len, text, sizeof text), DNS_EDE_SIGNATURE_EXPIRED);
    CHECK_STR_EQ(text, "signature expired");

    /* CD: the data comes back unvalidated, no AD */
    q.cd = 1;
    CHECK_INT_EQ(dns_reply_render(&q, DNS_BOGUS, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(out[3], 0x90);
    CHECK_INT_EQ(rd16(out + 6), 4);

    /* not yet valid; fine times but bogus; wrap-around near 2^32 */
    const char *t;
    upstream_answer(&up, (uint32_t)NOW + 86400);
    CHECK_INT_EQ(dns_bogus_ede(up.b, up.n, NOW, &t), DNS_EDE_DNSSEC_BOGUS);
    CHECK_INT_EQ(dns_bogus_ede(up.b, up.n, NOW - 2 * 86400, &t), DNS_EDE_SIGNATURE_NOT_YET_VALID);
    upstream_answer_at(&up, 100, 0xfffff000u); /* valid across the 2106 wrap */
    CHECK_INT_EQ(dns_bogus_ede(up.b, up.n, (time_t)0xffffff00u, &t), DNS_EDE_DNSSEC_BOGUS);
    CHECK_INT_EQ(dns_bogus_ede(up.b, up.n, (time_t)0x100000200, &t), DNS_EDE_SIGNATURE_EXPIRED);

    /* data without signatures */
    struct mb m;
    mb_header(&m, 1, 0x8180, 1, 1, 0, 0);
    mb_name(&m, "example.com");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    mb_ptr(&m, 12);
    size_t at = mb_rr(&m, DNS_TYPE_A, 10);
    mb_u32(&m, 1);
    mb_rr_end(&m, at);
    CHECK_INT_EQ(dns_bogus_ede(m.b, m.n, NOW, &t), DNS_EDE_RRSIGS_MISSING);
    CHECK_STR_EQ(t, "RRSIGs missing");
    CHECK_INT_EQ(dns_bogus_ede(m.b, 5, NOW, &t), DNS_EDE_DNSSEC_BOGUS);

    /* bogus to a client without EDNS: plain SERVFAIL */
    query_for(&q, "www.example.com", DNS_TYPE_A, 0, 0);
    upstream_answer(&up, (uint32_t)NOW - 3600);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_BOGUS, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(len, 12 + 21);
    CHECK_INT_EQ(out[3] & 0x0f, 2);
}

/* ---- patching cached replies ---- */

static void test_patch(void)
{
    struct mb up;
    struct dns_query q, q2;
    uint8_t out[2048], copy[2048];
    size_t len, len2;

    upstream_answer(&up, (uint32_t)NOW + 86400);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 1);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    memcpy(copy, out, len);

    /* another client, another case, 100 s later, no DO and no AD */
    struct mb m;
    query_make(&m, 0x7777, 0x0000, "WWW.EXAMPLE.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q2), 0);
    len2 = len;
    CHECK_INT_EQ(dns_reply_patch(out, &len2, &q2, DNS_SECURE, 100), 0);
    CHECK_INT_EQ(len2, len);
    CHECK_INT_EQ(rd16(out), 0x7777);
    CHECK_INT_EQ(out[2] & 0x01, 0);
    CHECK_INT_EQ(out[3] & 0x20, 0);
    CHECK_MEM_EQ(out + 12, "\3WWW\7EXAMPLE\3com\0", 17);

    struct dns_rr_iter it, it0;
    struct dns_rr rr, rr0;
    char text[300];
    dns_rr_iter_init(&it, out, len);
    dns_rr_iter_init(&it0, copy, len);
    int first = 1;
    while (dns_rr_iter_next(&it, &rr) == 1 && dns_rr_iter_next(&it0, &rr0) == 1) {
        if (first) {
            /* the answer owner follows the question's new case */
            dns_name_to_text(rr.owner, rr.owner_len, text, sizeof text);
            CHECK_STR_EQ(text, "WWW.EXAMPLE.com.");
            first = 0;
        }
        if (rr.type == DNS_TYPE_OPT)
            CHECK_INT_EQ(rr.ttl, 0); /* DO cleared, nothing aged */
        else
            CHECK_INT_EQ(rr.ttl, rr0.ttl - 100);
        CHECK_INT_EQ(rr.rdlen, rr0.rdlen);
    }

    /* aging past the TTL floors at 0; DO and AD back on */
    q2.do_bit = 1;
    CHECK_INT_EQ(dns_reply_patch(out, &len2, &q2, DNS_SECURE, 400), 0);
    CHECK_INT_EQ(out[3] & 0x20, 0x20);
    dns_rr_iter_init(&it, out, len);
    dns_rr_iter_init(&it0, copy, len);
    while (dns_rr_iter_next(&it, &rr) == 1 && dns_rr_iter_next(&it0, &rr0) == 1) {
        if (rr.type == DNS_TYPE_OPT)
            CHECK_INT_EQ(rr.ttl, 0x8000);
        else
            CHECK_INT_EQ(rr.ttl, rr0.ttl > 500 ? rr0.ttl - 500 : 0);
    }

    /* a client without EDNS: the OPT goes */
    memcpy(out, copy, len);
    query_make(&m, 0x0102, 0x0100, "www.example.com", DNS_TYPE_A, 0, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q2), 0);
    len2 = len;
    CHECK_INT_EQ(dns_reply_patch(out, &len2, &q2, DNS_SECURE, 0), 0);
    CHECK_INT_EQ(len2, len - 11);
    unsigned c[4];
    counts(out, len2, c);
    CHECK_INT_EQ(c[3], 1);

    /* a different name or type is refused */
    memcpy(out, copy, len);
    query_for(&q2, "wwx.example.com", DNS_TYPE_A, 1, 0);
    len2 = len;
    CHECK_INT_EQ(dns_reply_patch(out, &len2, &q2, DNS_SECURE, 0), WIRE_EFORMERR);
    query_for(&q2, "www.example.com", DNS_TYPE_AAAA, 1, 0);
    CHECK_INT_EQ(dns_reply_patch(out, &len2, &q2, DNS_SECURE, 0), WIRE_EFORMERR);
    query_for(&q2, "www.example.com", DNS_TYPE_A, 1, 0);
    len2 = len - 3;
    CHECK_INT_EQ(dns_reply_patch(out, &len2, &q2, DNS_SECURE, 0), WIRE_EFORMERR);
    len2 = 11;
    CHECK_INT_EQ(dns_reply_patch(out, &len2, &q2, DNS_SECURE, 0), WIRE_EFORMERR);
}

/* ---- large answers: linear-time compression ---- */

/* A growable message builder for answers larger than struct mb holds. */
struct bigmsg {
    uint8_t *b;
    size_t n;
};

static void bm_u8(struct bigmsg *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)v;
}

static void bm_u16(struct bigmsg *m, unsigned v)
{
    bm_u8(m, v >> 8);
    bm_u8(m, v & 0xff);
}

static void bm_name(struct bigmsg *m, const char *text)
{
    uint8_t w[DNS_MAX_NAME];
    size_t l;
    CHECK_INT_EQ(dns_name_from_text(text, w, &l), 0);
    memcpy(m->b + m->n, w, l);
    m->n += l;
}

/* A record with an uncompressed owner; rdata is a name when rd_name, else 4 bytes. */
static void bm_rr(struct bigmsg *m, const char *owner, unsigned type, const char *rd_name)
{
    bm_name(m, owner);
    bm_u16(m, type);
    bm_u16(m, DNS_CLASS_IN);
    bm_u16(m, 0);
    bm_u16(m, 3600);
    size_t at = m->n;
    bm_u16(m, 0);
    if (rd_name)
        bm_name(m, rd_name);
    else
        bm_u16(m, 0x7f00), bm_u16(m, 1);
    size_t l = m->n - at - 2;
    m->b[at] = (uint8_t)(l >> 8);
    m->b[at + 1] = (uint8_t)l;
}

/* Every record of out equals the one of up at the same place (names compared
 * decompressed, rdata names too), up's OPT aside. */
static void same_records(const uint8_t *up, size_t up_len, const uint8_t *out, size_t out_len)
{
    struct dns_rr_iter a, b;
    struct dns_rr ra, rb;
    int rc;
    CHECK_INT_EQ(dns_rr_iter_init(&a, up, up_len), 0);
    CHECK_INT_EQ(dns_rr_iter_init(&b, out, out_len), 0);
    while ((rc = dns_rr_iter_next(&b, &rb)) == 1) {
        if (rb.type == DNS_TYPE_OPT)
            continue;
        CHECK_INT_EQ(dns_rr_iter_next(&a, &ra), 1);
        CHECK(dns_name_equal(ra.owner, ra.owner_len, rb.owner, rb.owner_len));
        CHECK_INT_EQ(ra.type, rb.type);
        CHECK_INT_EQ(ra.ttl, rb.ttl);
        if (ra.type == DNS_TYPE_PTR) {
            uint8_t na[DNS_MAX_NAME], nb[DNS_MAX_NAME];
            size_t la, lb, pa = ra.rdata_offset, pb = rb.rdata_offset;
            CHECK_INT_EQ(dns_name_read(up, up_len, &pa, na, &la), 0);
            CHECK_INT_EQ(dns_name_read(out, out_len, &pb, nb, &lb), 0);
            CHECK(dns_name_equal(na, la, nb, lb));
            CHECK_INT_EQ(pb, rb.rdata_offset + rb.rdlen);
        } else {
            CHECK_INT_EQ(ra.rdlen, rb.rdlen);
            CHECK_MEM_EQ(ra.rdata, rb.rdata, ra.rdlen);
        }
    }
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(b.pos, out_len);
}

static void test_render_large(void)
{
    struct bigmsg m = {.b = malloc(70000)};
    uint8_t *out = malloc(65535);
    struct dns_query q;
    size_t len;
    char name[300];

    /* 400 PTR targets, then an address for each in additional: every target
     * must stay a pointer target, however many there are (the old table held
     * 256), so each additional owner is a 2-byte pointer. */
    m.n = 0;
    bm_u16(&m, 1);
    bm_u16(&m, 0x8180);
    bm_u16(&m, 1);
    bm_u16(&m, 400);
    bm_u16(&m, 0);
    bm_u16(&m, 400);
    bm_name(&m, "ptr.example");
    bm_u16(&m, DNS_TYPE_PTR);
    bm_u16(&m, DNS_CLASS_IN);
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof name, "h%03d.example", i);
        bm_rr(&m, "ptr.example", DNS_TYPE_PTR, name);
    }
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof name, "h%03d.example", i);
        bm_rr(&m, name, DNS_TYPE_A, NULL);
    }
    query_for(&q, "ptr.example", DNS_TYPE_PTR, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, m.b, m.n, NOW, out, 65535, &len), 0);
    same_records(m.b, m.n, out, len);
    /* header, question, 400 x (pointer, fixed part, "h000" + pointer),
     * 400 x (pointer, fixed part, address), our OPT */
    CHECK_INT_EQ(len, 12 + 17 + 400 * (2 + 10 + 7) + 400 * (2 + 10 + 4) + 11);

    /* About 64 KB of long names of many one-letter labels that differ near
     * the root: what made label-by-label matching slow. Past offset 0x4000
     * nothing can be pointed at; everything must still read back. */
    m.n = 0;
    bm_u16(&m, 1);
    bm_u16(&m, 0x8180);
    bm_u16(&m, 1);
    bm_u16(&m, 0);
    bm_u16(&m, 0);
    bm_u16(&m, 0);
    bm_name(&m, "big.example");
    bm_u16(&m, DNS_TYPE_PTR);
    bm_u16(&m, DNS_CLASS_IN);
    unsigned count = 0;
    while (m.n < 64000) {
        char *p = name;
        for (int k = 0; k < 100; k++)
            p += sprintf(p, "%c.", 'a' + (k * 7 + (int)count) % 3);
        snprintf(p, 32, "h%u.example", count);
        bm_rr(&m, "big.example", DNS_TYPE_PTR, name);
        count++;
    }
    m.b[6] = (uint8_t)(count >> 8);
    m.b[7] = (uint8_t)count;
    query_for(&q, "big.example", DNS_TYPE_PTR, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, m.b, m.n, NOW, out, 65535, &len), 0);
    CHECK(len > 0x4000);
    same_records(m.b, m.n, out, len);
    /* owners are pointers (2 bytes instead of 13), targets share "example." */
    CHECK(len + count * 11 <= m.n + 11);
    free(out);
    free(m.b);
}

/* ---- item 7: protocol details ---- */

static void negative(struct mb *m, int rcode, uint32_t soa_ttl, uint32_t minimum, int with_soa,
                     int cname);

/* The names inside the rdata of rr (decompressed), by type; returns how many,
 * or -1 when they do not read back or do not end where the rdata does. */
static int rdata_names(const uint8_t *msg, size_t len, const struct dns_rr *rr,
                       uint8_t names[2][DNS_MAX_NAME], size_t nl[2])
{
    size_t pos = rr->rdata_offset, end = rr->rdata_offset + rr->rdlen;
    int count = 1;
    switch (rr->type) {
    case DNS_TYPE_MINFO:
    case DNS_TYPE_RP:
        count = 2;
        break;
    case DNS_TYPE_AFSDB:
    case DNS_TYPE_RT:
        pos += 2;
        break;
    case DNS_TYPE_PX:
        pos += 2;
        count = 2;
        break;
    case DNS_TYPE_NAPTR:
        pos += 4;
        for (int k = 0; k < 3; k++)
            pos += 1u + msg[pos];
        break;
    }
    for (int k = 0; k < count; k++)
        if (dns_name_read(msg, len, &pos, names[k], &nl[k]) < 0)
            return -1;
    return pos == end ? count : -1;
}

/* An upstream answer whose owners are written whole and whose rdata names
 * point into earlier rdata: a copy of the raw rdata would point at whatever
 * sits at those offsets in our (differently laid out) reply. */
static void obsolete_upstream(struct mb *m, unsigned qtype)
{
    static const unsigned types[] = {DNS_TYPE_MB,    DNS_TYPE_MB, DNS_TYPE_MG,    DNS_TYPE_MR,
                                     DNS_TYPE_MD,    DNS_TYPE_MF, DNS_TYPE_MINFO, DNS_TYPE_RP,
                                     DNS_TYPE_AFSDB, DNS_TYPE_RT, DNS_TYPE_PX,    DNS_TYPE_NAPTR};
    size_t mail = 0;
    mb_header(m, 1, 0x8180, 1, sizeof types / sizeof types[0], 0, 0);
    mb_name(m, "mbox.example.com"); /* example.com at 17 */
    mb_u16(m, qtype);
    mb_u16(m, DNS_CLASS_IN);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        mb_name(m, "mbox.example.com");
        size_t at = mb_rr(m, types[i], 300);
        if (types[i] == DNS_TYPE_AFSDB || types[i] == DNS_TYPE_RT || types[i] == DNS_TYPE_PX)
            mb_u16(m, 10);
        if (types[i] == DNS_TYPE_NAPTR) {
            mb_u16(m, 10);
            mb_u16(m, 20);
            mb_bytes(m, "\1S\7SIP+D2U\0", 11);
        }
        if (mail == 0) {
            mb_labels(m, "a");
            mail = m->n;
            mb_labels(m, "mail");
            mb_ptr(m, 17);
        } else {
            mb_u8(m, 1);
            mb_u8(m, (unsigned)('a' + i));
            mb_ptr(m, mail);
        }
        if (types[i] == DNS_TYPE_MINFO || types[i] == DNS_TYPE_RP || types[i] == DNS_TYPE_PX)
            mb_ptr(m, mail);
        mb_rr_end(m, at);
    }
}

static void test_render_obsolete_types(void)
{
    struct mb up;
    struct dns_query q;
    uint8_t out[4096];
    size_t len;

    obsolete_upstream(&up, DNS_TYPE_MB);
    query_for(&q, "mbox.example.com", DNS_TYPE_MB, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);

    struct dns_rr_iter a, b;
    struct dns_rr ra, rb;
    int records = 0;
    CHECK_INT_EQ(dns_rr_iter_init(&a, up.b, up.n), 0);
    CHECK_INT_EQ(dns_rr_iter_init(&b, out, len), 0);
    while (dns_rr_iter_next(&b, &rb) == 1) {
        if (rb.type == DNS_TYPE_OPT)
            continue;
        uint8_t na[2][DNS_MAX_NAME], nb[2][DNS_MAX_NAME];
        size_t la[2], lb[2];
        CHECK_INT_EQ(dns_rr_iter_next(&a, &ra), 1);
        CHECK_INT_EQ(ra.type, rb.type);
        int ca = rdata_names(up.b, up.n, &ra, na, la);
        int cb = rdata_names(out, len, &rb, nb, lb);
        CHECK(ca > 0);
        CHECK_INT_EQ(cb, ca);
        for (int k = 0; k < ca && k < cb; k++)
            if (!dns_name_equal(na[k], la[k], nb[k], lb[k])) {
                char ta[300], tb[300];
                dns_name_to_text(na[k], la[k], ta, sizeof ta);
                dns_name_to_text(nb[k], lb[k], tb, sizeof tb);
                fprintf(stderr, "  type %u name %d: %s became %s\n", rb.type, k, ta, tb);
                CHECK(0);
            }
        /* types after RFC 1035 are written whole: no pointer in their rdata */
        if (rb.type == DNS_TYPE_RP || rb.type == DNS_TYPE_AFSDB || rb.type == DNS_TYPE_RT ||
            rb.type == DNS_TYPE_PX || rb.type == DNS_TYPE_NAPTR) {
            size_t whole = 0;
            for (int k = 0; k < cb; k++)
                whole += lb[k];
            CHECK_INT_EQ(rb.rdlen, (rb.type == DNS_TYPE_RP      ? 0
                                    : rb.type == DNS_TYPE_NAPTR ? 15
                                                                : 2) +
                                       whole);
        }
        records++;
    }
    CHECK_INT_EQ(records, 12);
}

static void test_render_indeterminate(void)
{
    struct mb up;
    struct dns_query q;
    uint8_t out[2048];
    size_t len;
    char text[64];

    /* under a trust anchor and not validated: SERVFAIL with EDE 5, never the
     * data as if it were insecure */
    upstream_answer(&up, (uint32_t)NOW + 86400);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 1);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INDETERMINATE, up.b, up.n, NOW, out, sizeof out, &len),
                 0);
    CHECK_INT_EQ(out[3] & 0x0f, DNS_RCODE_SERVFAIL);
    CHECK_INT_EQ(rd16(out + 6), 0);
    CHECK_INT_EQ(find_ede(out, len, text, sizeof text), DNS_EDE_DNSSEC_INDETERMINATE);
    /* CD: the data, without AD */
    q.cd = 1;
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INDETERMINATE, up.b, up.n, NOW, out, sizeof out, &len),
                 0);
    CHECK_INT_EQ(out[3] & 0x0f, DNS_RCODE_NOERROR);
    CHECK_INT_EQ(out[3] & 0x20, 0);
    CHECK_INT_EQ(rd16(out + 6), 4);
}

static void test_extended_rcode(void)
{
    struct mb up;
    struct dns_query q, plain;
    uint8_t out[2048];
    size_t len;
    char text[64];

    /* an upstream BADCOOKIE (23: 7 in the header, 1 in its OPT) is about the
     * upstream's exchange: SERVFAIL to our client, never YXDOMAIN */
    mb_header(&up, 1, 0x8187, 1, 0, 0, 1);
    mb_name(&up, "www.example.com");
    mb_u16(&up, DNS_TYPE_A);
    mb_u16(&up, DNS_CLASS_IN);
    mb_u8(&up, 0);
    mb_u16(&up, DNS_TYPE_OPT);
    mb_u16(&up, 1232);
    mb_u8(&up, 1); /* extended rcode: 1 << 4 | 7 = 23 */
    mb_u8(&up, 0);
    mb_u16(&up, 0);
    mb_u16(&up, 0);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(out[3] & 0x0f, DNS_RCODE_SERVFAIL);
    CHECK_INT_EQ(find_ede(out, len, text, sizeof text), DNS_EDE_OTHER);
    struct dns_rr_iter it;
    struct dns_rr rr;
    dns_rr_iter_init(&it, out, len);
    while (dns_rr_iter_next(&it, &rr) == 1)
        if (rr.type == DNS_TYPE_OPT)
            CHECK_INT_EQ(rr.ttl >> 24, 0);

    /* a stored reply with an extended rcode, patched for a client without
     * EDNS: the OPT goes, and the rcode cannot stay 7 (YXDOMAIN) */
    CHECK_INT_EQ(dns_reply_error(&q, 23, DNS_EDE_NONE, NULL, out, sizeof out, &len), 0);
    CHECK_INT_EQ(out[3] & 0x0f, 7);
    query_for(&plain, "www.example.com", DNS_TYPE_A, 0, 0);
    CHECK_INT_EQ(dns_reply_patch(out, &len, &plain, DNS_INSECURE, 0), 0);
    CHECK_INT_EQ(rd16(out + 10), 0);
    CHECK_INT_EQ(out[3] & 0x0f, DNS_RCODE_SERVFAIL);
    /* no extended bits: the rcode stays */
    CHECK_INT_EQ(dns_reply_error(&q, DNS_RCODE_NXDOMAIN, DNS_EDE_NONE, NULL, out, sizeof out, &len),
                 0);
    CHECK_INT_EQ(dns_reply_patch(out, &len, &plain, DNS_INSECURE, 0), 0);
    CHECK_INT_EQ(out[3] & 0x0f, DNS_RCODE_NXDOMAIN);
}

/* The TTL of every record of msg, in order (OPT aside). */
static int ttls_of(const uint8_t *msg, size_t len, uint32_t *ttl, int max)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    int n = 0;
    dns_rr_iter_init(&it, msg, len);
    while (n < max && dns_rr_iter_next(&it, &rr) == 1)
        if (rr.type != DNS_TYPE_OPT)
            ttl[n++] = rr.ttl;
    return n;
}

static void test_cap_ttls(void)
{
    struct mb up;
    struct dns_query q;
    uint8_t out[2048];
    size_t len;
    uint32_t t[16];

    /* positive: 300, 300, 600, 600 (answer), 3600 x3 (authority), 3600 (glue) */
    upstream_answer(&up, (uint32_t)NOW + 86400);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 1);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_SECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_cap_ttls(out, len, 500, 100), 0);
    CHECK_INT_EQ(ttls_of(out, len, t, 16), 8);
    CHECK_INT_EQ(t[0], 300);
    CHECK_INT_EQ(t[2], 500);
    CHECK_INT_EQ(t[4], 500); /* authority of a positive answer: max_ttl only */
    CHECK_INT_EQ(t[7], 500);

    /* RFC 2181 §8: the top bit set means 0, not 2^31 or more */
    mb_header(&up, 1, 0x8180, 1, 2, 0, 0);
    mb_name(&up, "example.com");
    mb_u16(&up, DNS_TYPE_A);
    mb_u16(&up, DNS_CLASS_IN);
    for (int i = 0; i < 2; i++) {
        mb_ptr(&up, 12);
        size_t at = mb_rr(&up, DNS_TYPE_A, i ? 0xfffffff0u : 0x80000000u);
        mb_u32(&up, 1);
        mb_rr_end(&up, at);
    }
    query_for(&q, "example.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_cap_ttls(out, len, 86400, 3600), 0);
    CHECK_INT_EQ(ttls_of(out, len, t, 16), 2);
    CHECK_INT_EQ(t[0], 0);
    CHECK_INT_EQ(t[1], 0);

    /* negative: the SOA is served at most min(SOA TTL, MINIMUM, max_neg) */
    negative(&up, DNS_RCODE_NXDOMAIN, 86400, 7200, 1, 0);
    query_for(&q, "nx.example.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_cap_ttls(out, len, 86400, 3600), 0);
    CHECK_INT_EQ(ttls_of(out, len, t, 16), 1);
    CHECK_INT_EQ(t[0], 3600);
    uint32_t cache_ttl = 0;
    CHECK_INT_EQ(dns_answer_ttl(out, len, &cache_ttl), 0);
    CHECK_INT_EQ(cache_ttl, 3600);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_cap_ttls(out, len, 86400, 99999), 0);
    ttls_of(out, len, t, 16);
    CHECK_INT_EQ(t[0], 7200); /* the SOA MINIMUM */
    /* NODATA behind a CNAME: the CNAME is positive data, the SOA negative */
    negative(&up, DNS_RCODE_NOERROR, 86400, 7200, 1, 1);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_cap_ttls(out, len, 100, 60), 0);
    CHECK_INT_EQ(ttls_of(out, len, t, 16), 2);
    CHECK_INT_EQ(t[0], 100);
    CHECK_INT_EQ(t[1], 60);
    CHECK_INT_EQ(dns_reply_cap_ttls(out, 7, 100, 60), WIRE_EFORMERR);
}

/* A query (qd questions: 0 or 1) whose OPT holds the given COOKIE options. */
static void cookie_query(struct mb *m, unsigned qd, const unsigned *lens, int n)
{
    mb_header(m, 0x4444, 0x0100, qd, 0, 0, 1);
    if (qd) {
        mb_name(m, "www.example.com");
        mb_u16(m, DNS_TYPE_A);
        mb_u16(m, DNS_CLASS_IN);
    }
    mb_u8(m, 0);
    mb_u16(m, DNS_TYPE_OPT);
    mb_u16(m, 1232);
    mb_u32(m, 0);
    size_t at = m->n;
    mb_u16(m, 0);
    for (int k = 0; k < n; k++) {
        mb_u16(m, 10);
        mb_u16(m, lens[k]);
        for (unsigned i = 0; i < lens[k]; i++)
            mb_u8(m, 0xa0 + i);
    }
    mb_rr_end(m, at);
}

static void test_query_cookie(void)
{
    struct mb m;
    struct dns_query q;
    uint8_t out[512];
    size_t len;

    unsigned ok[] = {8, 16, 24, 40};
    for (int i = 0; i < 4; i++) {
        cookie_query(&m, 1, &ok[i], 1);
        CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), 0);
        CHECK_INT_EQ(q.cookie_len, ok[i]);
        CHECK_INT_EQ(q.cookie[0], 0xa0);
        CHECK_INT_EQ(q.cookie[ok[i] - 1], 0xa0 + ok[i] - 1);
    }
    /* RFC 7873 §5.2.2: FORMERR, with the OPT read so the reply has one */
    unsigned bad[] = {0, 7, 9, 15, 41};
    for (int i = 0; i < 5; i++) {
        cookie_query(&m, 1, &bad[i], 1);
        CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);
        CHECK_INT_EQ(q.has_edns, 1);
    }
    unsigned two[] = {8, 8};
    cookie_query(&m, 1, two, 2);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);

    /* RFC 7873 §5.4: no question, a cookie: a query for a server cookie */
    cookie_query(&m, 0, &ok[0], 1);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_ENOQUESTION);
    CHECK_INT_EQ(q.qname_len, 0);
    CHECK_INT_EQ(q.has_edns, 1);
    CHECK_INT_EQ(q.cookie_len, 8);
    /* no question and no cookie stays FORMERR, now with the OPT read */
    cookie_query(&m, 0, NULL, 0);
    CHECK_INT_EQ(dns_query_parse(m.b, m.n, &q), WIRE_EFORMERR);
    CHECK_INT_EQ(q.has_edns, 1);

    /* the reply: NOERROR, no question, an OPT holding the cookie */
    cookie_query(&m, 0, &ok[0], 1);
    dns_query_parse(m.b, m.n, &q);
    CHECK_INT_EQ(dns_reply_error(&q, DNS_RCODE_NOERROR, DNS_EDE_NONE, NULL, out, sizeof out, &len),
                 0);
    uint8_t cookie[24];
    for (int i = 0; i < 24; i++)
        cookie[i] = (uint8_t)(0x10 + i);
    CHECK_INT_EQ(dns_reply_add_cookie(out, &len, sizeof out, cookie, 24), 0);
    CHECK_INT_EQ(len, 12 + 11 + 4 + 24);
    CHECK_INT_EQ(rd16(out + 4), 0);
    CHECK_INT_EQ(rd16(out + 10), 1);
    struct dns_rr_iter it;
    struct dns_rr rr;
    CHECK_INT_EQ(dns_rr_iter_init(&it, out, len), 0);
    CHECK_INT_EQ(dns_rr_iter_next(&it, &rr), 1);
    CHECK_INT_EQ(rr.type, DNS_TYPE_OPT);
    CHECK_INT_EQ(rr.rdlen, 28);
    CHECK_INT_EQ(rd16(rr.rdata), 10);
    CHECK_INT_EQ(rd16(rr.rdata + 2), 24);
    CHECK_MEM_EQ(rr.rdata + 4, cookie, 24);
    /* after an EDE option too; the TC path keeps it */
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_reply_error(&q, 2, DNS_EDE_OTHER, "x", out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_add_cookie(out, &len, sizeof out, cookie, 16), 0);
    CHECK_INT_EQ(dns_rr_iter_init(&it, out, len), 0);
    CHECK_INT_EQ(dns_rr_iter_next(&it, &rr), 1);
    CHECK_INT_EQ(rr.rdlen, 7 + 20);
    CHECK_INT_EQ(find_ede(out, len, (char *)cookie + 20, 4), DNS_EDE_OTHER);
    /* no OPT at the end, or no room */
    query_for(&q, "www.example.com", DNS_TYPE_A, 0, 0);
    CHECK_INT_EQ(dns_reply_error(&q, 2, DNS_EDE_NONE, NULL, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_add_cookie(out, &len, sizeof out, cookie, 16), WIRE_EFORMERR);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_reply_error(&q, 2, DNS_EDE_NONE, NULL, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_add_cookie(out, &len, len + 10, cookie, 16), WIRE_ENOSPC);
}

/* dns_reply_add_ede(): an EDE option appended to the OPT that ends a reply. */
static void test_add_ede(void)
{
    struct dns_query q;
    uint8_t out[512];
    size_t len;
    char text[200];

    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_reply_error(&q, DNS_RCODE_NOERROR, DNS_EDE_NONE, NULL, out, sizeof out, &len),
                 0);
    size_t before = len;
    CHECK_INT_EQ(dns_reply_add_ede(out, &len, sizeof out, DNS_EDE_STALE_ANSWER, "stale"), 0);
    CHECK_INT_EQ(len, before + 4 + 2 + 5);
    CHECK_INT_EQ(find_ede(out, len, text, sizeof text), DNS_EDE_STALE_ANSWER);
    CHECK_STR_EQ(text, "stale");
    /* no text */
    CHECK_INT_EQ(dns_reply_error(&q, DNS_RCODE_NOERROR, DNS_EDE_NONE, NULL, out, sizeof out, &len),
                 0);
    CHECK_INT_EQ(dns_reply_add_ede(out, &len, sizeof out, 10, NULL), 0);
    CHECK_INT_EQ(find_ede(out, len, text, sizeof text), 10);
    CHECK_STR_EQ(text, "");
    /* no OPT at the end, no room, a bad code */
    query_for(&q, "www.example.com", DNS_TYPE_A, 0, 0);
    CHECK_INT_EQ(dns_reply_error(&q, 2, DNS_EDE_NONE, NULL, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_add_ede(out, &len, sizeof out, 3, "x"), WIRE_EFORMERR);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 0);
    CHECK_INT_EQ(dns_reply_error(&q, 2, DNS_EDE_NONE, NULL, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_add_ede(out, &len, len + 3, 3, "x"), WIRE_ENOSPC);
    CHECK_INT_EQ(dns_reply_add_ede(out, &len, sizeof out, -1, "x"), WIRE_EFORMERR);
}

/* ---- truncation ---- */

/* An answer with a big additional section: 20 A records for ns*.example.com. */
static void big_upstream(struct mb *m, int answers)
{
    mb_header(m, 1, 0x8180, 1, (unsigned)answers, 1, 20);
    mb_name(m, "example.com");
    mb_u16(m, DNS_TYPE_NS);
    mb_u16(m, 1);
    for (int i = 0; i < answers; i++) {
        mb_ptr(m, 12);
        size_t at = mb_rr(m, DNS_TYPE_TXT, 60);
        mb_u8(m, 40);
        for (int k = 0; k < 40; k++)
            mb_u8(m, 'a' + (unsigned)(k + i) % 26);
        mb_rr_end(m, at);
    }
    mb_ptr(m, 12);
    size_t at = mb_rr(m, DNS_TYPE_NS, 60);
    mb_labels(m, "ns");
    mb_ptr(m, 12);
    mb_rr_end(m, at);
    for (int i = 0; i < 20; i++) {
        char label[16];
        snprintf(label, sizeof label, "host%02d", i);
        mb_labels(m, label);
        mb_ptr(m, 12);
        at = mb_rr(m, DNS_TYPE_AAAA, 60);
        for (int k = 0; k < 16; k++)
            mb_u8(m, (unsigned)k);
        mb_rr_end(m, at);
    }
}

static void test_truncate(void)
{
    struct mb up;
    struct dns_query q;
    uint8_t out[4096];
    size_t len, tlen;
    unsigned c[4];

    /* fits: untouched */
    big_upstream(&up, 2);
    query_for(&q, "example.com", DNS_TYPE_NS, 1, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK(len > 512);
    CHECK_INT_EQ(dns_reply_truncate(out, len, 4096, &tlen), 0);
    CHECK_INT_EQ(tlen, len);

    /* additional dropped, OPT kept, no TC */
    CHECK_INT_EQ(dns_reply_truncate(out, len, 512, &tlen), 0);
    CHECK(tlen <= 512);
    CHECK_INT_EQ(out[2] & 0x02, 0);
    counts(out, tlen, c);
    CHECK_INT_EQ(c[1], 2);
    CHECK_INT_EQ(c[2], 1);
    CHECK_INT_EQ(c[3], 1);
    struct dns_rr_iter it;
    struct dns_rr rr;
    dns_rr_iter_init(&it, out, tlen);
    while (dns_rr_iter_next(&it, &rr) == 1)
        if (rr.section == DNS_SECTION_ADDITIONAL)
            CHECK_INT_EQ(rr.type, DNS_TYPE_OPT);

    /* the answer itself too big: TC, question and OPT only */
    big_upstream(&up, 30);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK(len > 1232);
    CHECK_INT_EQ(dns_reply_truncate(out, len, 1232, &tlen), 0);
    CHECK_INT_EQ(out[2] & 0x02, 0x02);
    CHECK_INT_EQ(tlen, 12 + 13 + 4 + 11);
    counts(out, tlen, c);
    CHECK_INT_EQ(c[1], 0);
    CHECK_INT_EQ(c[2], 0);
    CHECK_INT_EQ(c[3], 1);

    /* without EDNS: TC, no OPT */
    query_for(&q, "example.com", DNS_TYPE_NS, 0, 0);
    CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, up.b, up.n, NOW, out, sizeof out, &len), 0);
    CHECK_INT_EQ(dns_reply_truncate(out, len, 512, &tlen), 0);
    CHECK_INT_EQ(tlen, 12 + 13 + 4);
    CHECK_INT_EQ(out[2] & 0x02, 0x02);
    CHECK_INT_EQ(rd16(out + 10), 0);

    /* garbage */
    CHECK_INT_EQ(dns_reply_truncate(out, 5, 512, &tlen), WIRE_EFORMERR);
}

/* ---- TTLs ---- */

static void negative(struct mb *m, int rcode, uint32_t soa_ttl, uint32_t minimum, int with_soa,
                     int cname)
{
    mb_header(m, 1, 0x8180 | (unsigned)rcode, 1, cname ? 1 : 0, with_soa ? 1 : 0, 0);
    mb_name(m, "nx.example.com");
    mb_u16(m, DNS_TYPE_A);
    mb_u16(m, 1);
    if (cname) {
        mb_ptr(m, 12);
        size_t at = mb_rr(m, DNS_TYPE_CNAME, 120);
        mb_labels(m, "other");
        mb_ptr(m, 15);
        mb_rr_end(m, at);
    }
    if (with_soa) {
        mb_ptr(m, 15);
        size_t at = mb_rr(m, DNS_TYPE_SOA, soa_ttl);
        mb_labels(m, "ns");
        mb_ptr(m, 15);
        mb_labels(m, "hostmaster");
        mb_ptr(m, 15);
        mb_u32(m, 1);
        mb_u32(m, 2);
        mb_u32(m, 3);
        mb_u32(m, 4);
        mb_u32(m, minimum);
        mb_rr_end(m, at);
    }
}

static void test_answer_ttl(void)
{
    struct mb m;
    uint32_t ttl = 99;

    upstream_answer(&m, (uint32_t)NOW + 86400);
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 300); /* smallest of answer and authority; glue ignored */

    negative(&m, DNS_RCODE_NXDOMAIN, 3600, 300, 1, 0);
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 300);
    negative(&m, DNS_RCODE_NXDOMAIN, 60, 300, 1, 0);
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 60);
    negative(&m, DNS_RCODE_NOERROR, 3600, 900, 1, 0); /* NODATA */
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 900);
    negative(&m, DNS_RCODE_NOERROR, 3600, 900, 1, 1); /* CNAME to NODATA */
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 120);
    negative(&m, DNS_RCODE_NXDOMAIN, 3600, 300, 0, 0); /* no SOA, no records */
    ttl = 99;
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 0);
    negative(&m, DNS_RCODE_NXDOMAIN, 3600, 300, 0, 1); /* CNAME, then NXDOMAIN without SOA */
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 0);
    negative(&m, DNS_RCODE_SERVFAIL, 3600, 300, 1, 0);
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 0);
    CHECK_INT_EQ(dns_answer_ttl(m.b, 7, &ttl), WIRE_EFORMERR);
    CHECK_INT_EQ(dns_msg_rcode(m.b, m.n), 2);
    CHECK_INT_EQ(dns_msg_rcode(m.b, 3), -1);

    /* RFC 2181 §8: a TTL above 2^31 - 1 counts as 0 */
    mb_header(&m, 1, 0x8180, 1, 1, 0, 0);
    mb_name(&m, "example.com");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    mb_ptr(&m, 12);
    size_t at = mb_rr(&m, DNS_TYPE_A, 0x80000000u);
    mb_u32(&m, 1);
    mb_rr_end(&m, at);
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 0);
    m.b[m.n - 10] = 0x7f;
    CHECK_INT_EQ(dns_answer_ttl(m.b, m.n, &ttl), 0);
    CHECK_INT_EQ(ttl, 0x7f000000);
}

/* Random mutations of a real answer must never crash or read out of bounds
 * (run under ASan to mean something). */
static void test_fuzz_smoke(void)
{
    struct mb up;
    struct dns_query q;
    uint8_t msg[4096], out[8192];
    size_t len;
    uint32_t ttl;
    const char *t;
    unsigned seed = 12345;

    upstream_answer(&up, (uint32_t)NOW + 86400);
    query_for(&q, "www.example.com", DNS_TYPE_A, 1, 1);
    for (int round = 0; round < 20000; round++) {
        memcpy(msg, up.b, up.n);
        size_t n = up.n;
        int flips = 1 + round % 4;
        for (int k = 0; k < flips; k++) {
            seed = seed * 1103515245u + 12345u;
            msg[(seed >> 8) % n] = (uint8_t)(seed >> 20);
        }
        if (round % 7 == 0)
            n = (seed >> 4) % n;
        struct dns_query pq;
        (void)dns_query_parse(msg, n, &pq);
        (void)dns_answer_ttl(msg, n, &ttl);
        (void)dns_bogus_ede(msg, n, NOW, &t);
        if (dns_reply_render(&q, DNS_SECURE, msg, n, NOW, out, sizeof out, &len) == 0) {
            size_t l2 = len;
            CHECK_INT_EQ(dns_reply_patch(out, &l2, &q, DNS_SECURE, 5), 0);
            CHECK_INT_EQ(dns_reply_truncate(out, l2, 512, &l2), 0);
        }
        size_t l3 = n;
        (void)dns_reply_patch(msg, &l3, &q, DNS_SECURE, 5);
        (void)dns_reply_truncate(msg, n, 100, &l3);
    }
}

int main(void)
{
    UNIT_RUN(test_name_text);
    UNIT_RUN(test_name_hostile);
    UNIT_RUN(test_query_parse_ok);
    UNIT_RUN(test_query_parse_errors);
    UNIT_RUN(test_reply_error);
    UNIT_RUN(test_render_do);
    UNIT_RUN(test_render_no_do);
    UNIT_RUN(test_render_ad);
    UNIT_RUN(test_render_bogus);
    UNIT_RUN(test_patch);
    UNIT_RUN(test_render_large);
    UNIT_RUN(test_render_obsolete_types);
    UNIT_RUN(test_render_indeterminate);
    UNIT_RUN(test_extended_rcode);
    UNIT_RUN(test_cap_ttls);
    UNIT_RUN(test_query_cookie);
    UNIT_RUN(test_add_ede);
    UNIT_RUN(test_truncate);
    UNIT_RUN(test_answer_ttl);
    UNIT_RUN(test_fuzz_smoke);
    return UNIT_END();
}
