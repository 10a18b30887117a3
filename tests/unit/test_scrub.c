/* tests/unit/test_scrub.c — scrubbing upstream answers (resolver/scrub.c) and the
 * lookup API's chain walk (resolver/lookup.c), on hand-built messages: appended
 * unrelated CNAME+A, out-of-chain records, DNAME with synthesized CNAMEs,
 * wildcard answers with their NSEC, NXDOMAIN and NODATA proofs, the additional
 * section, case differences, compression, CNAME loops, the chain length bound,
 * unproven denials, and hostile input.
 */
#include "unit.h"
#include "addr.h"
#include "lookup.h"
#include "scrub.h"
#include "wire.h"

#include <arpa/inet.h>
#include <stdlib.h>

/* ---- building upstream answers ---- */

struct mb {
    uint8_t b[16384];
    size_t n;
    unsigned count[4];
    int section;
};

static void u8(struct mb *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)v;
}

static void u16(struct mb *m, unsigned v)
{
    u8(m, v >> 8);
    u8(m, v & 0xff);
}

static void u32(struct mb *m, uint32_t v)
{
    u16(m, v >> 16);
    u16(m, v & 0xffff);
}

static void name(struct mb *m, const char *text)
{
    uint8_t w[DNS_MAX_NAME];
    size_t l;
    if (dns_name_from_text(text, w, &l) < 0) {
        fprintf(stderr, "bad test name %s\n", text);
        abort();
    }
    memcpy(m->b + m->n, w, l);
    m->n += l;
}

static void put_counts(struct mb *m)
{
    for (int s = 1; s <= 3; s++) {
        m->b[4 + 2 * s] = (uint8_t)(m->count[s] >> 8);
        m->b[5 + 2 * s] = (uint8_t)m->count[s];
    }
}

/* A response header (QR, RD, RA, rcode) and one question. */
static void start(struct mb *m, int rcode, const char *qname, unsigned qtype)
{
    memset(m, 0, sizeof *m);
    u16(m, 0x1234);
    u8(m, 0x81);
    u8(m, 0x80 | (unsigned)rcode);
    u16(m, 1);
    u16(m, 0);
    u16(m, 0);
    u16(m, 0);
    name(m, qname);
    u16(m, qtype);
    u16(m, DNS_CLASS_IN);
    m->section = DNS_SECTION_ANSWER;
}

/* Owner, type, class, TTL; returns where rdlength goes. */
static size_t rr(struct mb *m, int section, const char *owner, unsigned type, uint32_t ttl)
{
    if (section < m->section) {
        fprintf(stderr, "records out of section order\n");
        abort();
    }
    m->section = section;
    m->count[section]++;
    name(m, owner);
    u16(m, type);
    u16(m, DNS_CLASS_IN);
    u32(m, ttl);
    size_t at = m->n;
    u16(m, 0);
    return at;
}

static void rr_end(struct mb *m, size_t at)
{
    size_t l = m->n - at - 2;
    m->b[at] = (uint8_t)(l >> 8);
    m->b[at + 1] = (uint8_t)l;
    put_counts(m);
}

static void a(struct mb *m, int sec, const char *owner, const char *addr)
{
    size_t at = rr(m, sec, owner, DNS_TYPE_A, 300);
    struct in_addr in;
    inet_pton(AF_INET, addr, &in);
    memcpy(m->b + m->n, &in, 4);
    m->n += 4;
    rr_end(m, at);
}

static void aaaa(struct mb *m, int sec, const char *owner)
{
    size_t at = rr(m, sec, owner, DNS_TYPE_AAAA, 300);
    for (int i = 0; i < 15; i++)
        u8(m, 0);
    u8(m, 1);
    rr_end(m, at);
}

/* CNAME, DNAME, NS, PTR: a single name */
static void alias(struct mb *m, int sec, const char *owner, unsigned type, const char *target,
                  uint32_t ttl)
{
    size_t at = rr(m, sec, owner, type, ttl);
    name(m, target);
    rr_end(m, at);
}

static void cname(struct mb *m, const char *owner, const char *target)
{
    alias(m, DNS_SECTION_ANSWER, owner, DNS_TYPE_CNAME, target, 300);
}

static void rrsig(struct mb *m, int sec, const char *owner, unsigned covered, unsigned labels,
                  const char *signer)
{
    size_t at = rr(m, sec, owner, DNS_TYPE_RRSIG, 300);
    u16(m, covered);
    u8(m, 13);
    u8(m, labels);
    u32(m, 300);
    u32(m, 2000000000u);
    u32(m, 1600000000u);
    u16(m, 4242);
    name(m, signer);
    for (int i = 0; i < 64; i++)
        u8(m, (unsigned)i);
    rr_end(m, at);
}

static void nsec(struct mb *m, int sec, const char *owner, const char *next)
{
    size_t at = rr(m, sec, owner, DNS_TYPE_NSEC, 300);
    name(m, next);
    u8(m, 0);
    u8(m, 6);
    u8(m, 0x40);
    u8(m, 0);
    u8(m, 0);
    u8(m, 0);
    u8(m, 0);
    u8(m, 0x03); /* A, RRSIG, NSEC-ish bits; content does not matter here */
    rr_end(m, at);
}

static void nsec3(struct mb *m, int sec, const char *owner)
{
    size_t at = rr(m, sec, owner, DNS_TYPE_NSEC3, 300);
    u8(m, 1);
    u8(m, 0);
    u16(m, 0);
    u8(m, 0);
    u8(m, 20);
    for (int i = 0; i < 20; i++)
        u8(m, (unsigned)i);
    rr_end(m, at);
}

static void soa(struct mb *m, int sec, const char *owner)
{
    size_t at = rr(m, sec, owner, DNS_TYPE_SOA, 3600);
    name(m, "ns.example");
    name(m, "hostmaster.example");
    u32(m, 1);
    u32(m, 3600);
    u32(m, 900);
    u32(m, 604800);
    u32(m, 300);
    rr_end(m, at);
}

static void mx(struct mb *m, const char *owner, const char *target)
{
    size_t at = rr(m, DNS_SECTION_ANSWER, owner, DNS_TYPE_MX, 300);
    u16(m, 10);
    name(m, target);
    rr_end(m, at);
}

static void txt(struct mb *m, int sec, const char *owner)
{
    size_t at = rr(m, sec, owner, DNS_TYPE_TXT, 300);
    u8(m, 2);
    u8(m, 'h');
    u8(m, 'i');
    rr_end(m, at);
}

static void opt(struct mb *m, unsigned ext_rcode)
{
    m->section = DNS_SECTION_ADDITIONAL;
    m->count[DNS_SECTION_ADDITIONAL]++;
    u8(m, 0);
    u16(m, DNS_TYPE_OPT);
    u16(m, 1232);
    u8(m, ext_rcode);
    u8(m, 0);
    u16(m, 0x8000);
    u16(m, 0);
    put_counts(m);
}

/* ---- reading results ---- */

static const char *type_text(uint16_t t)
{
    static char buf[16];
    switch (t) {
    case DNS_TYPE_A: return "A";
    case DNS_TYPE_AAAA: return "AAAA";
    case DNS_TYPE_NS: return "NS";
    case DNS_TYPE_CNAME: return "CNAME";
    case DNS_TYPE_DNAME: return "DNAME";
    case DNS_TYPE_SOA: return "SOA";
    case DNS_TYPE_MX: return "MX";
    case DNS_TYPE_TXT: return "TXT";
    case DNS_TYPE_RRSIG: return "RRSIG";
    case DNS_TYPE_NSEC: return "NSEC";
    case DNS_TYPE_NSEC3: return "NSEC3";
    case DNS_TYPE_OPT: return "OPT";
    case DNS_TYPE_TLSA: return "TLSA";
    }
    snprintf(buf, sizeof buf, "TYPE%u", t);
    return buf;
}

/* "an:www.example.:A ns:example.:SOA ar:.:OPT", with CNAME/DNAME targets as
 * "->target", in message order. */
static const char *summary(const uint8_t *msg, size_t len)
{
    static char out[4096];
    static const char *sec[] = {"", "an", "ns", "ar"};
    struct dns_rr_iter it;
    struct dns_rr r;
    char owner[1024], target[1024];
    size_t o = 0;
    int rc;
    out[0] = '\0';
    if (dns_rr_iter_init(&it, msg, len) < 0)
        return "(unreadable)";
    while ((rc = dns_rr_iter_next(&it, &r)) == 1) {
        if (dns_name_to_text(r.owner, r.owner_len, owner, sizeof owner) < 0)
            return "(bad owner)";
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s:%s:%s", o ? " " : "", sec[r.section],
                              owner, type_text(r.type));
        if (r.type == DNS_TYPE_CNAME || r.type == DNS_TYPE_DNAME) {
            uint8_t t[DNS_MAX_NAME];
            size_t tl, pos = r.rdata_offset;
            if (dns_name_read(msg, len, &pos, t, &tl) < 0 ||
                dns_name_to_text(t, tl, target, sizeof target) < 0)
                return "(bad target)";
            o += (size_t)snprintf(out + o, sizeof out - o, "->%s", target);
        }
        if (o >= sizeof out)
            return "(too long)";
    }
    return rc < 0 ? "(malformed)" : out;
}

/* Scrub m as the answer to qname/qtype with sec; the summary of what stays. */
static struct scrub_report rep;
static uint8_t *last;
static size_t last_len;
static int last_rc;

static const char *scrub(const struct mb *m, const char *qname, uint16_t qtype,
                         enum dns_security sec)
{
    struct dns_query q;
    free(last);
    last = NULL;
    if (dns_query_init(&q, qname, qtype) < 0)
        return "(bad qname)";
    last_rc = scrub_message(&q, sec, m->b, m->n, &last, &last_len, &rep);
    if (last_rc < 0)
        return scrub_strerror(last_rc);
    return summary(last, last_len);
}

/* ---- the cases ---- */

/* The attack: a validly signed x.attacker CNAME y.attacker and
 * y.attacker A appended to the real answer. */
static void test_appended_cname_chain(void)
{
    struct mb m;
    start(&m, 0, "www.secure.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "www.secure.example", "192.0.2.80");
    rrsig(&m, DNS_SECTION_ANSWER, "www.secure.example", DNS_TYPE_A, 3, "secure.example");
    cname(&m, "x.attacker.example", "y.attacker.example");
    rrsig(&m, DNS_SECTION_ANSWER, "x.attacker.example", DNS_TYPE_CNAME, 3, "example");
    a(&m, DNS_SECTION_ANSWER, "y.attacker.example", "192.0.2.66");
    rrsig(&m, DNS_SECTION_ANSWER, "y.attacker.example", DNS_TYPE_A, 3, "example");
    alias(&m, DNS_SECTION_AUTHORITY, "secure.example", DNS_TYPE_NS, "ns.secure.example", 300);
    a(&m, DNS_SECTION_ADDITIONAL, "ns.secure.example", "192.0.2.53");
    opt(&m, 0);
    CHECK_STR_EQ(scrub(&m, "www.secure.example", DNS_TYPE_A, DNS_SECURE),
                 "an:www.secure.example.:A an:www.secure.example.:RRSIG ar:.:OPT");
    CHECK_INT_EQ(rep.security, DNS_SECURE);
    CHECK_INT_EQ(rep.dropped_answer, 4);
    CHECK_INT_EQ(rep.dropped_other, 2);
    CHECK_INT_EQ(rep.links, 0);
    CHECK_INT_EQ(rep.answered, 1);
    /* the header is the upstream's, the question too */
    CHECK_INT_EQ(last[0], 0x12);
    CHECK_INT_EQ(last[3] & 0x0f, 0);

    /* the same attack after a real CNAME: the chain ends at the real target */
    start(&m, 0, "alias.example", DNS_TYPE_A);
    cname(&m, "alias.example", "www.example");
    rrsig(&m, DNS_SECTION_ANSWER, "alias.example", DNS_TYPE_CNAME, 2, "example");
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.80");
    rrsig(&m, DNS_SECTION_ANSWER, "www.example", DNS_TYPE_A, 2, "example");
    cname(&m, "x.attacker.example", "y.attacker.example");
    a(&m, DNS_SECTION_ANSWER, "y.attacker.example", "192.0.2.66");
    CHECK_STR_EQ(scrub(&m, "alias.example", DNS_TYPE_A, DNS_SECURE),
                 "an:alias.example.:CNAME->www.example. an:alias.example.:RRSIG "
                 "an:www.example.:A an:www.example.:RRSIG");
    CHECK_INT_EQ(rep.links, 1);
    CHECK_INT_EQ(rep.dropped_answer, 2);
}

/* Records at the query name of another type, at other names, and RRSIGs that
 * cover nothing kept all go. */
static void test_out_of_chain(void)
{
    struct mb m;
    start(&m, 0, "www.example", DNS_TYPE_A);
    txt(&m, DNS_SECTION_ANSWER, "www.example");
    a(&m, DNS_SECTION_ANSWER, "other.example", "192.0.2.1");
    rrsig(&m, DNS_SECTION_ANSWER, "www.example", DNS_TYPE_TXT, 2, "example");
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.80");
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.81");
    rrsig(&m, DNS_SECTION_ANSWER, "www.example", DNS_TYPE_A, 2, "example");
    rrsig(&m, DNS_SECTION_ANSWER, "other.example", DNS_TYPE_A, 2, "example");
    alias(&m, DNS_SECTION_AUTHORITY, "www.example", DNS_TYPE_CNAME, "evil.example", 300);
    a(&m, DNS_SECTION_AUTHORITY, "evil.example", "192.0.2.66");
    alias(&m, DNS_SECTION_AUTHORITY, "example", DNS_TYPE_NS, "ns.example", 300);
    a(&m, DNS_SECTION_ADDITIONAL, "ns.example", "192.0.2.53");
    txt(&m, DNS_SECTION_ADDITIONAL, "www.example");
    CHECK_STR_EQ(scrub(&m, "www.example", DNS_TYPE_A, DNS_INSECURE),
                 "an:www.example.:A an:www.example.:A an:www.example.:RRSIG");
    CHECK_INT_EQ(rep.dropped_answer, 4);
    CHECK_INT_EQ(rep.dropped_other, 5);
    CHECK_INT_EQ(rep.security, DNS_INSECURE);
}

/* The chain is written in chain order whatever order the upstream used, and
 * names compare case-insensitively. */
static void test_order_and_case(void)
{
    struct mb m;
    start(&m, 0, "WwW.ExAmPlE", DNS_TYPE_AAAA);
    aaaa(&m, DNS_SECTION_ANSWER, "host.OTHER.example");
    cname(&m, "mid.example", "HOST.other.EXAMPLE");
    cname(&m, "www.example", "MID.example");
    CHECK_STR_EQ(scrub(&m, "WwW.ExAmPlE", DNS_TYPE_AAAA, DNS_INSECURE),
                 "an:www.example.:CNAME->MID.example. an:mid.example.:CNAME->HOST.other.EXAMPLE. "
                 "an:host.OTHER.example.:AAAA");
    CHECK_INT_EQ(rep.links, 2);
    CHECK_INT_EQ(rep.dropped_answer, 0);
}

/* RFC 6672: the DNAME at an ancestor, with the upstream's synthesized CNAME
 * when it says the same, else one made from the DNAME. */
static void test_dname(void)
{
    struct mb m;
    start(&m, 0, "www.dn.example", DNS_TYPE_A);
    alias(&m, DNS_SECTION_ANSWER, "dn.example", DNS_TYPE_DNAME, "target.example", 600);
    rrsig(&m, DNS_SECTION_ANSWER, "dn.example", DNS_TYPE_DNAME, 2, "example");
    cname(&m, "www.dn.example", "www.target.example");
    a(&m, DNS_SECTION_ANSWER, "www.target.example", "192.0.2.82");
    rrsig(&m, DNS_SECTION_ANSWER, "www.target.example", DNS_TYPE_A, 3, "example");
    cname(&m, "x.attacker.example", "y.attacker.example");
    CHECK_STR_EQ(scrub(&m, "www.dn.example", DNS_TYPE_A, DNS_SECURE),
                 "an:dn.example.:DNAME->target.example. an:dn.example.:RRSIG "
                 "an:www.dn.example.:CNAME->www.target.example. an:www.target.example.:A "
                 "an:www.target.example.:RRSIG");
    CHECK_INT_EQ(rep.synthesized, 0);
    CHECK_INT_EQ(rep.dropped_answer, 1);

    /* a CNAME that does not follow from the DNAME is replaced by one that does */
    start(&m, 0, "www.dn.example", DNS_TYPE_A);
    alias(&m, DNS_SECTION_ANSWER, "dn.example", DNS_TYPE_DNAME, "target.example", 600);
    cname(&m, "www.dn.example", "evil.example");
    a(&m, DNS_SECTION_ANSWER, "evil.example", "192.0.2.66");
    a(&m, DNS_SECTION_ANSWER, "www.target.example", "192.0.2.82");
    CHECK_STR_EQ(scrub(&m, "www.dn.example", DNS_TYPE_A, DNS_INSECURE),
                 "an:dn.example.:DNAME->target.example. "
                 "an:www.dn.example.:CNAME->www.target.example. an:www.target.example.:A");
    CHECK_INT_EQ(rep.synthesized, 1);
    CHECK_INT_EQ(rep.dropped_answer, 2);
    /* the synthesized CNAME has the DNAME's TTL (RFC 6672 §5.3.1) */
    {
        struct dns_rr_iter it;
        struct dns_rr r;
        CHECK_INT_EQ(dns_rr_iter_init(&it, last, last_len), 0);
        CHECK_INT_EQ(dns_rr_iter_next(&it, &r), 1);
        CHECK_INT_EQ(dns_rr_iter_next(&it, &r), 1);
        CHECK_INT_EQ(r.type, DNS_TYPE_CNAME);
        CHECK_INT_EQ(r.ttl, 600);
    }

    /* no CNAME at all: made; a DNAME at the query name itself does not apply */
    start(&m, 0, "a.b.dn.example", DNS_TYPE_A);
    alias(&m, DNS_SECTION_ANSWER, "dn.example", DNS_TYPE_DNAME, "t.example", 600);
    alias(&m, DNS_SECTION_ANSWER, "a.b.dn.example", DNS_TYPE_DNAME, "elsewhere.example", 600);
    a(&m, DNS_SECTION_ANSWER, "a.b.t.example", "192.0.2.83");
    CHECK_STR_EQ(scrub(&m, "a.b.dn.example", DNS_TYPE_A, DNS_INSECURE),
                 "an:dn.example.:DNAME->t.example. an:a.b.dn.example.:CNAME->a.b.t.example. "
                 "an:a.b.t.example.:A");
    CHECK_INT_EQ(rep.synthesized, 1);
    CHECK_INT_EQ(rep.links, 1);

    /* a synthesized name past 255 bytes (YXDOMAIN's case) */
    {
        char longq[300], longt[300];
        snprintf(longq, sizeof longq, "%s.%s.%s.dn.example",
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                 "ccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
        snprintf(longt, sizeof longt, "%s.%s.example",
                 "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
                 "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
        start(&m, 0, longq, DNS_TYPE_A);
        alias(&m, DNS_SECTION_ANSWER, "dn.example", DNS_TYPE_DNAME, longt, 600);
        CHECK_STR_EQ(scrub(&m, longq, DNS_TYPE_A, DNS_INSECURE), "malformed upstream answer");
    }

    /* two different DNAME targets at one owner */
    start(&m, 0, "www.dn.example", DNS_TYPE_A);
    alias(&m, DNS_SECTION_ANSWER, "dn.example", DNS_TYPE_DNAME, "t1.example", 600);
    alias(&m, DNS_SECTION_ANSWER, "dn.example", DNS_TYPE_DNAME, "t2.example", 600);
    scrub(&m, "www.dn.example", DNS_TYPE_A, DNS_INSECURE);
    CHECK_INT_EQ(last_rc, SCRUB_ECONFLICT);
}

/* A wildcard expansion keeps the NSEC that proves no closer name exists
 * (RFC 4035 §5.3.4), signed by the expanded RRset's zone; other NSECs go. */
static void test_wildcard_nsec(void)
{
    struct mb m;
    start(&m, 0, "foo.wild.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "foo.wild.example", "192.0.2.83");
    rrsig(&m, DNS_SECTION_ANSWER, "foo.wild.example", DNS_TYPE_A, 2, "example");
    alias(&m, DNS_SECTION_AUTHORITY, "example", DNS_TYPE_NS, "ns.example", 300);
    nsec(&m, DNS_SECTION_AUTHORITY, "*.wild.example", "www.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "*.wild.example", DNS_TYPE_NSEC, 2, "example");
    nsec(&m, DNS_SECTION_AUTHORITY, "a.other.test", "b.other.test");
    rrsig(&m, DNS_SECTION_AUTHORITY, "a.other.test", DNS_TYPE_NSEC, 3, "other.test");
    nsec(&m, DNS_SECTION_AUTHORITY, "unsigned.example", "v.example");
    CHECK_STR_EQ(scrub(&m, "foo.wild.example", DNS_TYPE_A, DNS_SECURE),
                 "an:foo.wild.example.:A an:foo.wild.example.:RRSIG "
                 "ns:*.wild.example.:NSEC ns:*.wild.example.:RRSIG");
    CHECK_INT_EQ(rep.security, DNS_SECURE);

    /* no expansion (labels == owner labels): no NSEC belongs in a positive answer */
    start(&m, 0, "www.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.80");
    rrsig(&m, DNS_SECTION_ANSWER, "www.example", DNS_TYPE_A, 2, "example");
    nsec(&m, DNS_SECTION_AUTHORITY, "www.example", "x.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "www.example", DNS_TYPE_NSEC, 2, "example");
    CHECK_STR_EQ(scrub(&m, "www.example", DNS_TYPE_A, DNS_SECURE),
                 "an:www.example.:A an:www.example.:RRSIG");
}

/* Negative answers keep the SOA of the closest enclosing zone and the NSEC or
 * NSEC3 records that zone signed. */
static void test_negative(void)
{
    struct mb m;
    start(&m, DNS_RCODE_NXDOMAIN, "nx.secure.example", DNS_TYPE_A);
    cname(&m, "x.attacker.example", "y.attacker.example");
    soa(&m, DNS_SECTION_AUTHORITY, "example"); /* the parent's, signed: not ours */
    rrsig(&m, DNS_SECTION_AUTHORITY, "example", DNS_TYPE_SOA, 1, "example");
    soa(&m, DNS_SECTION_AUTHORITY, "secure.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "secure.example", DNS_TYPE_SOA, 2, "secure.example");
    nsec(&m, DNS_SECTION_AUTHORITY, "ns.secure.example", "www.secure.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "ns.secure.example", DNS_TYPE_NSEC, 3, "secure.example");
    nsec(&m, DNS_SECTION_AUTHORITY, "secure.example", "ns.secure.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "secure.example", DNS_TYPE_NSEC, 2, "secure.example");
    nsec(&m, DNS_SECTION_AUTHORITY, "a.example", "z.example"); /* the parent's */
    rrsig(&m, DNS_SECTION_AUTHORITY, "a.example", DNS_TYPE_NSEC, 2, "example");
    a(&m, DNS_SECTION_AUTHORITY, "y.attacker.example", "192.0.2.66");
    opt(&m, 0);
    CHECK_STR_EQ(scrub(&m, "nx.secure.example", DNS_TYPE_A, DNS_SECURE),
                 "ns:secure.example.:SOA ns:secure.example.:RRSIG ns:ns.secure.example.:NSEC "
                 "ns:ns.secure.example.:RRSIG ns:secure.example.:NSEC ns:secure.example.:RRSIG "
                 "ar:.:OPT");
    CHECK_INT_EQ(rep.security, DNS_SECURE);
    CHECK_INT_EQ(rep.denial_proof, 1);
    CHECK_INT_EQ(rep.answered, 0);
    CHECK_INT_EQ(last[3] & 0x0f, DNS_RCODE_NXDOMAIN);

    /* an unsigned SOA does not stay in a secure answer; in an insecure one it does */
    start(&m, 0, "onlya.example", DNS_TYPE_AAAA);
    soa(&m, DNS_SECTION_AUTHORITY, "example");
    nsec3(&m, DNS_SECTION_AUTHORITY, "abcdef.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "abcdef.example", DNS_TYPE_NSEC3, 2, "example");
    CHECK_STR_EQ(scrub(&m, "onlya.example", DNS_TYPE_AAAA, DNS_SECURE),
                 "ns:abcdef.example.:NSEC3 ns:abcdef.example.:RRSIG");
    CHECK_INT_EQ(rep.security, DNS_SECURE);
    CHECK_STR_EQ(scrub(&m, "onlya.example", DNS_TYPE_AAAA, DNS_INSECURE),
                 "ns:example.:SOA ns:abcdef.example.:NSEC3 ns:abcdef.example.:RRSIG");

    /* a chain ending in NXDOMAIN keeps its CNAMEs and the target zone's proof */
    start(&m, DNS_RCODE_NXDOMAIN, "xnx.example", DNS_TYPE_A);
    cname(&m, "xnx.example", "nx.secure.example");
    soa(&m, DNS_SECTION_AUTHORITY, "secure.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "secure.example", DNS_TYPE_SOA, 2, "secure.example");
    nsec(&m, DNS_SECTION_AUTHORITY, "ns.secure.example", "www.secure.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "ns.secure.example", DNS_TYPE_NSEC, 3, "secure.example");
    CHECK_STR_EQ(scrub(&m, "xnx.example", DNS_TYPE_A, DNS_SECURE),
                 "an:xnx.example.:CNAME->nx.secure.example. ns:secure.example.:SOA "
                 "ns:secure.example.:RRSIG ns:ns.secure.example.:NSEC ns:ns.secure.example.:RRSIG");
}

/* A secure answer that ends without the data and without a proof is bogus: a
 * stripped TLSA RRset must never become a secure NODATA (a DANE bypass). */
static void test_unproven_denial(void)
{
    struct mb m;
    start(&m, 0, "_443._tcp.www.secure.example", DNS_TYPE_TLSA);
    size_t at = rr(&m, DNS_SECTION_ANSWER, "_443._tcp.y.attacker.example", DNS_TYPE_TLSA, 300);
    u8(&m, 3);
    u8(&m, 1);
    u8(&m, 1);
    for (int i = 0; i < 32; i++)
        u8(&m, 0xab);
    rr_end(&m, at);
    rrsig(&m, DNS_SECTION_ANSWER, "_443._tcp.y.attacker.example", DNS_TYPE_TLSA, 5, "example");
    CHECK_STR_EQ(scrub(&m, "_443._tcp.www.secure.example", DNS_TYPE_TLSA, DNS_SECURE), "");
    CHECK_INT_EQ(rep.security, DNS_BOGUS);
    CHECK_INT_EQ(rep.answered, 0);
    scrub(&m, "_443._tcp.www.secure.example", DNS_TYPE_TLSA, DNS_INSECURE);
    CHECK_INT_EQ(rep.security, DNS_INSECURE);
    scrub(&m, "_443._tcp.www.secure.example", DNS_TYPE_TLSA, DNS_BOGUS);
    CHECK_INT_EQ(rep.security, DNS_BOGUS);

    /* a chain whose end was stripped: the CNAME alone proves nothing */
    start(&m, 0, "_443._tcp.alias.example", DNS_TYPE_TLSA);
    cname(&m, "_443._tcp.alias.example", "_443._tcp.www.example");
    rrsig(&m, DNS_SECTION_ANSWER, "_443._tcp.alias.example", DNS_TYPE_CNAME, 4, "example");
    scrub(&m, "_443._tcp.alias.example", DNS_TYPE_TLSA, DNS_SECURE);
    CHECK_INT_EQ(rep.security, DNS_BOGUS);

    /* a real secure NODATA has its proof */
    start(&m, 0, "_443._tcp.www.example", DNS_TYPE_TLSA);
    soa(&m, DNS_SECTION_AUTHORITY, "example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "example", DNS_TYPE_SOA, 1, "example");
    nsec(&m, DNS_SECTION_AUTHORITY, "_443._tcp.www.example", "a.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "_443._tcp.www.example", DNS_TYPE_NSEC, 4, "example");
    scrub(&m, "_443._tcp.www.example", DNS_TYPE_TLSA, DNS_SECURE);
    CHECK_INT_EQ(rep.security, DNS_SECURE);
    CHECK_INT_EQ(rep.denial_proof, 1);

    /* an NSEC signed by a zone that has nothing to do with the name is no proof */
    start(&m, 0, "_443._tcp.www.example", DNS_TYPE_TLSA);
    nsec(&m, DNS_SECTION_AUTHORITY, "a.other.test", "b.other.test");
    rrsig(&m, DNS_SECTION_AUTHORITY, "a.other.test", DNS_TYPE_NSEC, 3, "other.test");
    CHECK_STR_EQ(scrub(&m, "_443._tcp.www.example", DNS_TYPE_TLSA, DNS_SECURE), "");
    CHECK_INT_EQ(rep.security, DNS_BOGUS);
}

/* Additional: nothing but the OPT for a secure answer; for an insecure one the
 * addresses of the names that kept records point to. */
static void test_additional(void)
{
    struct mb m;
    start(&m, 0, "example", DNS_TYPE_MX);
    mx(&m, "example", "mail.example");
    a(&m, DNS_SECTION_ADDITIONAL, "mail.example", "192.0.2.25");
    aaaa(&m, DNS_SECTION_ADDITIONAL, "MAIL.example");
    rrsig(&m, DNS_SECTION_ADDITIONAL, "mail.example", DNS_TYPE_A, 2, "example");
    a(&m, DNS_SECTION_ADDITIONAL, "y.attacker.example", "192.0.2.66");
    txt(&m, DNS_SECTION_ADDITIONAL, "mail.example");
    opt(&m, 1); /* extended rcode bits: the OPT always stays */
    CHECK_STR_EQ(scrub(&m, "example", DNS_TYPE_MX, DNS_SECURE), "an:example.:MX ar:.:OPT");
    CHECK_STR_EQ(scrub(&m, "example", DNS_TYPE_MX, DNS_BOGUS), "an:example.:MX ar:.:OPT");
    CHECK_STR_EQ(scrub(&m, "example", DNS_TYPE_MX, DNS_INSECURE),
                 "an:example.:MX ar:mail.example.:A ar:MAIL.example.:AAAA "
                 "ar:mail.example.:RRSIG ar:.:OPT");
    CHECK_INT_EQ(rep.dropped_other, 2);
}

/* Whether every owner and CNAME target in msg is written without a pointer. */
static int no_pointers(const uint8_t *msg, size_t len)
{
    struct dns_rr_iter it;
    struct dns_rr r;
    size_t pos = DNS_HEADER_LEN;
    while (pos < len && msg[pos] != 0) {
        if (msg[pos] & 0xc0)
            return 0;
        pos += 1 + (size_t)msg[pos];
    }
    if (dns_rr_iter_init(&it, msg, len) < 0)
        return 0;
    pos = it.pos;
    while (dns_rr_iter_next(&it, &r) == 1) {
        size_t p = pos;
        for (int pass = 0; pass < 2; pass++) {
            while (p < len && msg[p] != 0) {
                if (msg[p] & 0xc0)
                    return 0;
                p += 1 + (size_t)msg[p];
            }
            if (pass == 0 && r.type != DNS_TYPE_CNAME)
                break;
            p = r.rdata_offset;
        }
        pos = it.pos;
    }
    return 1;
}

/* Upstream compression is undone: owners and rdata names come out whole and
 * the result renders. */
static void test_compression(void)
{
    struct mb m;
    start(&m, 0, "alias.example", DNS_TYPE_A); /* qname at offset 12 */
    /* alias.example CNAME www.<ptr example> ; www.example A */
    m.count[DNS_SECTION_ANSWER] = 2;
    u16(&m, 0xc00c);
    u16(&m, DNS_TYPE_CNAME);
    u16(&m, DNS_CLASS_IN);
    u32(&m, 300);
    u16(&m, 6);
    size_t www = m.n;
    u8(&m, 3);
    u8(&m, 'w');
    u8(&m, 'w');
    u8(&m, 'w');
    u16(&m, 0xc000 | 18); /* "example" in the question */
    u16(&m, 0xc000 | (unsigned)www);
    u16(&m, DNS_TYPE_A);
    u16(&m, DNS_CLASS_IN);
    u32(&m, 300);
    u16(&m, 4);
    u32(&m, 0xc0000250);
    put_counts(&m);
    CHECK_STR_EQ(scrub(&m, "alias.example", DNS_TYPE_A, DNS_INSECURE),
                 "an:alias.example.:CNAME->www.example. an:www.example.:A");
    CHECK(no_pointers(last, last_len));
    /* owners 2 -> 15 and 2 -> 13 bytes, the target 6 -> 13: 31 more */
    CHECK_INT_EQ(last_len, m.n + 31);
    {
        struct dns_query q;
        uint8_t out[1024];
        size_t n;
        dns_query_init(&q, "alias.example", DNS_TYPE_A);
        CHECK_INT_EQ(dns_reply_render(&q, DNS_INSECURE, last, last_len, 0, out, sizeof out, &n), 0);
    }
}

/* Loops and the chain length bound. */
static void test_loops_and_bound(void)
{
    struct mb m;
    char a_name[64], b_name[64];

    start(&m, 0, "a.example", DNS_TYPE_A);
    cname(&m, "a.example", "b.example");
    cname(&m, "B.example", "A.EXAMPLE");
    scrub(&m, "a.example", DNS_TYPE_A, DNS_SECURE);
    CHECK_INT_EQ(last_rc, SCRUB_ELOOP);
    CHECK(last == NULL);

    start(&m, 0, "self.example", DNS_TYPE_A);
    cname(&m, "self.example", "self.example");
    scrub(&m, "self.example", DNS_TYPE_A, DNS_SECURE);
    CHECK_INT_EQ(last_rc, SCRUB_ELOOP);

    /* a DNAME whose target is below itself loops by growing, until the bound
     * or 255 bytes stops it */
    start(&m, 0, "x.d.example", DNS_TYPE_A);
    alias(&m, DNS_SECTION_ANSWER, "d.example", DNS_TYPE_DNAME, "e.d.example", 300);
    scrub(&m, "x.d.example", DNS_TYPE_A, DNS_SECURE);
    CHECK(last_rc == SCRUB_ELONG || last_rc == SCRUB_EFORMERR);

    /* exactly SCRUB_MAX_LINKS links: fine; one more: too long */
    for (int links = SCRUB_MAX_LINKS; links <= SCRUB_MAX_LINKS + 1; links++) {
        start(&m, 0, "c0.example", DNS_TYPE_A);
        for (int i = 0; i < links; i++) {
            snprintf(a_name, sizeof a_name, "c%d.example", i);
            snprintf(b_name, sizeof b_name, "c%d.example", i + 1);
            cname(&m, a_name, b_name);
        }
        a(&m, DNS_SECTION_ANSWER, b_name, "192.0.2.1");
        scrub(&m, "c0.example", DNS_TYPE_A, DNS_INSECURE);
        if (links == SCRUB_MAX_LINKS) {
            CHECK_INT_EQ(last_rc, 0);
            CHECK_INT_EQ(rep.links, SCRUB_MAX_LINKS);
            CHECK_INT_EQ(rep.answered, 1);
        } else {
            CHECK_INT_EQ(last_rc, SCRUB_ELONG);
        }
    }

    /* two CNAME targets for one name */
    start(&m, 0, "a.example", DNS_TYPE_A);
    cname(&m, "a.example", "b.example");
    cname(&m, "a.example", "c.example");
    scrub(&m, "a.example", DNS_TYPE_A, DNS_SECURE);
    CHECK_INT_EQ(last_rc, SCRUB_ECONFLICT);
    /* the same CNAME twice is one */
    start(&m, 0, "a.example", DNS_TYPE_A);
    cname(&m, "a.example", "b.example");
    cname(&m, "a.example", "B.example");
    a(&m, DNS_SECTION_ANSWER, "b.example", "192.0.2.1");
    CHECK_STR_EQ(scrub(&m, "a.example", DNS_TYPE_A, DNS_SECURE),
                 "an:a.example.:CNAME->b.example. an:a.example.:CNAME->B.example. an:b.example.:A");
}

/* A CNAME query stops at the query name; ANY takes every type at the end. */
static void test_qtypes(void)
{
    struct mb m;
    start(&m, 0, "alias.example", DNS_TYPE_CNAME);
    cname(&m, "alias.example", "www.example");
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.80");
    CHECK_STR_EQ(scrub(&m, "alias.example", DNS_TYPE_CNAME, DNS_SECURE),
                 "an:alias.example.:CNAME->www.example.");
    CHECK_INT_EQ(rep.answered, 1);
    CHECK_INT_EQ(rep.security, DNS_SECURE);

    start(&m, 0, "www.example", DNS_TYPE_ANY);
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.80");
    txt(&m, DNS_SECTION_ANSWER, "www.example");
    rrsig(&m, DNS_SECTION_ANSWER, "www.example", DNS_TYPE_TXT, 2, "example");
    a(&m, DNS_SECTION_ANSWER, "other.example", "192.0.2.81");
    CHECK_STR_EQ(scrub(&m, "www.example", DNS_TYPE_ANY, DNS_SECURE),
                 "an:www.example.:A an:www.example.:TXT an:www.example.:RRSIG");

    /* an RRSIG query: the RRSIGs at the name are the data */
    start(&m, 0, "www.example", DNS_TYPE_RRSIG);
    rrsig(&m, DNS_SECTION_ANSWER, "www.example", DNS_TYPE_A, 2, "example");
    rrsig(&m, DNS_SECTION_ANSWER, "other.example", DNS_TYPE_A, 2, "example");
    CHECK_STR_EQ(scrub(&m, "www.example", DNS_TYPE_RRSIG, DNS_SECURE), "an:www.example.:RRSIG");
}

/* Not a response to our question, other rcodes, malformed input. */
static void test_question_and_errors(void)
{
    struct mb m;
    start(&m, 0, "www.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.80");
    CHECK_STR_EQ(scrub(&m, "WWW.EXAMPLE", DNS_TYPE_A, DNS_SECURE), "an:www.example.:A");
    CHECK_STR_EQ(scrub(&m, "other.example", DNS_TYPE_A, DNS_SECURE),
                 "the answer is for another question");
    CHECK_STR_EQ(scrub(&m, "www.example", DNS_TYPE_AAAA, DNS_SECURE),
                 "the answer is for another question");
    m.b[2] &= 0x7f; /* QR clear: a query, not an answer */
    scrub(&m, "www.example", DNS_TYPE_A, DNS_SECURE);
    CHECK_INT_EQ(last_rc, SCRUB_EQUESTION);

    /* SERVFAIL and friends: no records survive, the OPT does */
    start(&m, DNS_RCODE_SERVFAIL, "www.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.80");
    soa(&m, DNS_SECTION_AUTHORITY, "example");
    opt(&m, 0);
    CHECK_STR_EQ(scrub(&m, "www.example", DNS_TYPE_A, DNS_INDETERMINATE), "ar:.:OPT");
    CHECK_INT_EQ(last[3] & 0x0f, DNS_RCODE_SERVFAIL);

    /* every truncation of a message: an error or a result, never a crash */
    start(&m, 0, "alias.example", DNS_TYPE_A);
    cname(&m, "alias.example", "www.example");
    rrsig(&m, DNS_SECTION_ANSWER, "alias.example", DNS_TYPE_CNAME, 2, "example");
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.80");
    soa(&m, DNS_SECTION_AUTHORITY, "example");
    opt(&m, 0);
    size_t full = m.n;
    for (size_t cut = 0; cut <= full; cut++) {
        m.n = cut;
        scrub(&m, "alias.example", DNS_TYPE_A, DNS_SECURE);
        CHECK(last_rc == 0 || last_rc == SCRUB_EFORMERR || last_rc == SCRUB_EQUESTION);
    }
    /* counts that claim far more records than the message holds */
    start(&m, 0, "www.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "www.example", "192.0.2.80");
    m.b[6] = m.b[7] = m.b[8] = m.b[9] = m.b[10] = m.b[11] = 0xff;
    scrub(&m, "www.example", DNS_TYPE_A, DNS_SECURE);
    CHECK_INT_EQ(last_rc, SCRUB_EFORMERR);
    /* random bytes after a valid header and question */
    srand(7);
    for (int round = 0; round < 2000; round++) {
        start(&m, rand() % 6, "www.example", DNS_TYPE_A);
        int n = rand() % 200;
        for (int i = 0; i < n; i++)
            u8(&m, (unsigned)(rand() % 4 == 0 ? 0xc0 | (rand() % 4) : rand() % 256));
        for (int i = 6; i < 12; i++)
            m.b[i] = (uint8_t)(i % 2 ? rand() % 4 : 0);
        scrub(&m, "www.example", DNS_TYPE_A, (enum dns_security)(rand() % 4));
        if (last_rc == 0) /* what comes out is well-formed */
            CHECK(strcmp(summary(last, last_len), "(malformed)") != 0);
    }
}

/* ---- the lookup API: walk from the question's name, take from the end ---- */

struct seen {
    int n;
    uint8_t last;
};

static void see_rdata(void *arg, const uint8_t *rdata, size_t len)
{
    struct seen *seen = arg;
    seen->n++;
    seen->last = len ? rdata[len - 1] : 0;
}

static void test_lookup_helpers(void)
{
    struct mb m;
    struct sockaddr_storage ss[8];
    char target[300];
    struct lookup_result res = {.rcode = 0, .security = DNS_SECURE};

    /* unscrubbed on purpose: the helpers must not trust the message's order or
     * "the last CNAME" either */
    start(&m, 0, "www.secure.example", DNS_TYPE_A);
    cname(&m, "www.secure.example", "host.secure.example");
    a(&m, DNS_SECTION_ANSWER, "HOST.secure.example", "192.0.2.80");
    cname(&m, "x.attacker.example", "y.attacker.example");
    a(&m, DNS_SECTION_ANSWER, "y.attacker.example", "192.0.2.66");
    aaaa(&m, DNS_SECTION_ANSWER, "host.secure.example");
    res.msg = m.b;
    res.len = m.n;
    CHECK_INT_EQ(lookup_addresses(&res, 443, ss, 8), 1);
    CHECK_INT_EQ(ss[0].ss_family, AF_INET);
    static const uint8_t a80[4] = {192, 0, 2, 80};
    size_t alen;
    const uint8_t *abytes = addr_bytes((const struct sockaddr *)&ss[0], &alen);
    CHECK_INT_EQ(alen, 4);
    CHECK(abytes && memcmp(abytes, a80, 4) == 0);
    CHECK_INT_EQ(addr_port((const struct sockaddr *)&ss[0]), 443);
    CHECK_INT_EQ(lookup_cname_target(&res, target, sizeof target), 1);
    CHECK_STR_EQ(target, "host.secure.example.");
    CHECK_INT_EQ(lookup_addresses(&res, 443, ss, 0), 0);

    /* no CNAME: 0; the attacker's CNAME elsewhere in the answer is not ours */
    start(&m, 0, "www.secure.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "www.secure.example", "192.0.2.80");
    cname(&m, "x.attacker.example", "y.attacker.example");
    a(&m, DNS_SECTION_ANSWER, "y.attacker.example", "192.0.2.66");
    res.msg = m.b;
    res.len = m.n;
    CHECK_INT_EQ(lookup_cname_target(&res, target, sizeof target), 0);
    CHECK_INT_EQ(lookup_addresses(&res, 443, ss, 8), 1);

    /* TLSA only at the end of the chain */
    start(&m, 0, "_443._tcp.www.example", DNS_TYPE_TLSA);
    size_t at = rr(&m, DNS_SECTION_ANSWER, "_443._tcp.y.attacker.example", DNS_TYPE_TLSA, 300);
    u8(&m, 3);
    u8(&m, 1);
    u8(&m, 1);
    u8(&m, 0x66);
    rr_end(&m, at);
    at = rr(&m, DNS_SECTION_ANSWER, "_443._tcp.WWW.example", DNS_TYPE_TLSA, 300);
    u8(&m, 3);
    u8(&m, 1);
    u8(&m, 1);
    u8(&m, 0x80);
    rr_end(&m, at);
    res.msg = m.b;
    res.len = m.n;
    {
        struct seen seen = {0, 0};
        CHECK_INT_EQ(lookup_each_rdata(&res, DNS_TYPE_TLSA, see_rdata, &seen), 1);
        CHECK_INT_EQ(seen.n, 1);
        CHECK_INT_EQ(seen.last, 0x80);
    }

    /* a loop: nothing, and -1 for the target */
    start(&m, 0, "a.example", DNS_TYPE_A);
    cname(&m, "a.example", "b.example");
    cname(&m, "b.example", "a.example");
    a(&m, DNS_SECTION_ANSWER, "b.example", "192.0.2.1");
    res.msg = m.b;
    res.len = m.n;
    CHECK_INT_EQ(lookup_cname_target(&res, target, sizeof target), -1);
    CHECK_INT_EQ(lookup_addresses(&res, 443, ss, 8), 0);

    /* an empty result */
    res.msg = NULL;
    res.len = 0;
    CHECK_INT_EQ(lookup_addresses(&res, 443, ss, 8), 0);
    CHECK_INT_EQ(lookup_cname_target(&res, target, sizeof target), -1);
}

static void test_chain_end(void)
{
    struct mb m;
    uint8_t end[DNS_MAX_NAME];
    size_t end_len;
    uint16_t qtype;
    unsigned links;
    char text[300];

    start(&m, 0, "www.dn.example", DNS_TYPE_AAAA);
    alias(&m, DNS_SECTION_ANSWER, "dn.example", DNS_TYPE_DNAME, "t.example", 600);
    cname(&m, "www.t.example", "final.example");
    CHECK_INT_EQ(scrub_chain_end(m.b, m.n, end, &end_len, &qtype, &links), 0);
    dns_name_to_text(end, end_len, text, sizeof text);
    CHECK_STR_EQ(text, "final.example.");
    CHECK_INT_EQ(qtype, DNS_TYPE_AAAA);
    CHECK_INT_EQ(links, 2);
    CHECK_INT_EQ(scrub_chain_end(m.b, 5, end, &end_len, NULL, NULL), SCRUB_EFORMERR);
}

/* scrub_for_validator: what getdns would verify for nothing goes; proofs stay. */
static void test_for_validator(void)
{
    struct mb m;
    size_t len;
    /* a positive answer with the zone's NS, their signature and glue: cut */
    start(&m, 0, "u1.secure.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "u1.secure.example", "192.0.2.1");
    rrsig(&m, DNS_SECTION_ANSWER, "u1.secure.example", DNS_TYPE_A, 3, "secure.example");
    alias(&m, DNS_SECTION_AUTHORITY, "secure.example", DNS_TYPE_NS, "ns.secure.example", 300);
    rrsig(&m, DNS_SECTION_AUTHORITY, "secure.example", DNS_TYPE_NS, 2, "secure.example");
    a(&m, DNS_SECTION_ADDITIONAL, "ns.secure.example", "192.0.2.53");
    rrsig(&m, DNS_SECTION_ADDITIONAL, "ns.secure.example", DNS_TYPE_A, 3, "secure.example");
    opt(&m, 0);
    len = m.n;
    CHECK_INT_EQ(scrub_for_validator(m.b, &len), 1);
    CHECK_STR_EQ(summary(m.b, len), "an:u1.secure.example.:A an:u1.secure.example.:RRSIG ar:.:OPT");
    CHECK(len < m.n);

    /* the same without OPT: nothing in the additional section remains */
    start(&m, 0, "u1.secure.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "u1.secure.example", "192.0.2.1");
    alias(&m, DNS_SECTION_AUTHORITY, "secure.example", DNS_TYPE_NS, "ns.secure.example", 300);
    a(&m, DNS_SECTION_ADDITIONAL, "ns.secure.example", "192.0.2.53");
    len = m.n;
    CHECK_INT_EQ(scrub_for_validator(m.b, &len), 1);
    CHECK_STR_EQ(summary(m.b, len), "an:u1.secure.example.:A");

    /* a wildcard answer carries its NSEC proof: left whole */
    start(&m, 0, "x.wild.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "x.wild.example", "192.0.2.2");
    rrsig(&m, DNS_SECTION_ANSWER, "x.wild.example", DNS_TYPE_A, 2, "wild.example");
    alias(&m, DNS_SECTION_AUTHORITY, "wild.example", DNS_TYPE_NS, "ns.wild.example", 300);
    nsec(&m, DNS_SECTION_AUTHORITY, "wild.example", "z.wild.example");
    rrsig(&m, DNS_SECTION_AUTHORITY, "wild.example", DNS_TYPE_NSEC, 2, "wild.example");
    opt(&m, 0);
    len = m.n;
    CHECK_INT_EQ(scrub_for_validator(m.b, &len), 0);
    CHECK_INT_EQ(len, m.n);

    /* no data (a denial): left whole */
    start(&m, DNS_RCODE_NXDOMAIN, "nx.secure.example", DNS_TYPE_A);
    soa(&m, DNS_SECTION_AUTHORITY, "secure.example");
    a(&m, DNS_SECTION_ADDITIONAL, "ns.secure.example", "192.0.2.53");
    len = m.n;
    CHECK_INT_EQ(scrub_for_validator(m.b, &len), 0);

    /* two OPT records, or a cut-off record: malformed */
    start(&m, 0, "u1.secure.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "u1.secure.example", "192.0.2.1");
    alias(&m, DNS_SECTION_AUTHORITY, "secure.example", DNS_TYPE_NS, "ns.secure.example", 300);
    opt(&m, 0);
    opt(&m, 0);
    len = m.n;
    CHECK_INT_EQ(scrub_for_validator(m.b, &len), SCRUB_EFORMERR);
    len = m.n - 3;
    CHECK_INT_EQ(scrub_for_validator(m.b, &len), SCRUB_EFORMERR);
}

/* scrub_for_validator and an OPT whose owner is a compression pointer to a
 * root label (a lying upstream's trick; the name reads as the root): the cut
 * must not move the OPT from the wrong byte (one before its owner's last
 * byte), which handed getdns a garbled record instead of the OPT. Either the
 * message is left whole, or the OPT that remains is a well-formed one. */
static void test_for_validator_opt_owner_pointer(void)
{
    struct mb m;
    size_t len;
    uint8_t before[sizeof m.b];
    start(&m, 0, "u1.secure.example", DNS_TYPE_A);
    a(&m, DNS_SECTION_ANSWER, "u1.secure.example", "192.0.2.1");
    alias(&m, DNS_SECTION_AUTHORITY, "secure.example", DNS_TYPE_NS, "ns.secure.example", 300);
    m.section = DNS_SECTION_ADDITIONAL;
    m.count[DNS_SECTION_ADDITIONAL]++;
    u8(&m, 0xc0); /* a pointer to offset 4: QDCOUNT's high byte, 0, the root */
    u8(&m, 0x04);
    u16(&m, DNS_TYPE_OPT);
    u16(&m, 1232);
    u8(&m, 0);
    u8(&m, 0);
    u16(&m, 0x8000);
    u16(&m, 0);
    put_counts(&m);
    memcpy(before, m.b, m.n);
    len = m.n;
    int rc = scrub_for_validator(m.b, &len);
    if (rc == 0) {
        CHECK_INT_EQ(len, m.n);
        CHECK(memcmp(before, m.b, m.n) == 0);
    } else {
        CHECK_INT_EQ(rc, 1);
        CHECK_STR_EQ(summary(m.b, len), "an:u1.secure.example.:A ar:.:OPT");
        struct dns_rr_iter it;
        struct dns_rr r;
        CHECK_INT_EQ(dns_rr_iter_init(&it, m.b, len), 0);
        while (dns_rr_iter_next(&it, &r) == 1)
            if (r.type == DNS_TYPE_OPT) {
                CHECK_INT_EQ(r.rrclass, 1232);
                CHECK_INT_EQ(r.ttl, 0x8000);
            }
    }
}

int main(void)
{
    UNIT_RUN(test_appended_cname_chain);
    UNIT_RUN(test_for_validator_opt_owner_pointer);
    UNIT_RUN(test_out_of_chain);
    UNIT_RUN(test_order_and_case);
    UNIT_RUN(test_dname);
    UNIT_RUN(test_wildcard_nsec);
    UNIT_RUN(test_negative);
    UNIT_RUN(test_unproven_denial);
    UNIT_RUN(test_additional);
    UNIT_RUN(test_compression);
    UNIT_RUN(test_loops_and_bound);
    UNIT_RUN(test_qtypes);
    UNIT_RUN(test_question_and_errors);
    UNIT_RUN(test_lookup_helpers);
    UNIT_RUN(test_chain_end);
    UNIT_RUN(test_for_validator);
    free(last);
    return UNIT_END();
}
