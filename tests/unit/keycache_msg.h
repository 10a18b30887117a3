/* tests/unit/keycache_msg.h — building upstream answers for the key cache's
 * unit tests (test_keycache.c, test_keycache_hostile.c). Include it after
 * resolver/keycache.c, whose wire helpers it uses. */
#ifndef DANEGUARD_TEST_KEYCACHE_MSG_H
#define DANEGUARD_TEST_KEYCACHE_MSG_H

/* ---- building upstream answers ---- */

struct mb {
    uint8_t b[4096];
    size_t n;
    unsigned count[4];
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

static size_t wname(uint8_t out[DNS_MAX_NAME], const char *text)
{
    size_t l;
    if (dns_name_from_text(text, out, &l) < 0)
        abort();
    return l;
}

static void name(struct mb *m, const char *text)
{
    uint8_t w[DNS_MAX_NAME];
    size_t l = wname(w, text);
    memcpy(m->b + m->n, w, l);
    m->n += l;
}

static void finish(struct mb *m)
{
    for (int s = 1; s <= 3; s++) {
        m->b[4 + 2 * s] = (uint8_t)(m->count[s] >> 8);
        m->b[5 + 2 * s] = (uint8_t)m->count[s];
    }
}

/* header (QR, RD, RA, flags2 low bits = rcode) and one question */
static void start(struct mb *m, unsigned flags1, unsigned rcode, const char *qname,
                  unsigned qtype)
{
    memset(m, 0, sizeof *m);
    u16(m, 0x1234);
    u8(m, flags1);
    u8(m, 0x80 | rcode);
    u16(m, 1);
    u16(m, 0);
    u16(m, 0);
    u16(m, 0);
    name(m, qname);
    u16(m, qtype);
    u16(m, DNS_CLASS_IN);
}

static void a_rr(struct mb *m, int section, const char *owner, unsigned type)
{
    name(m, owner);
    u16(m, type);
    u16(m, DNS_CLASS_IN);
    u32(m, 300);
    u16(m, 4);
    u32(m, 0x7f000001);
    m->count[section]++;
}

static void rrsig(struct mb *m, const char *owner, unsigned covered, unsigned labels,
                  const char *signer)
{
    uint8_t w[DNS_MAX_NAME];
    size_t l = wname(w, signer);
    name(m, owner);
    u16(m, DNS_TYPE_RRSIG);
    u16(m, DNS_CLASS_IN);
    u32(m, 300);
    u16(m, (unsigned)(18 + l + 4));
    u16(m, covered);
    u8(m, 13);
    u8(m, labels);
    u32(m, 300);
    u32(m, 0x7fffffff);
    u32(m, 0);
    u16(m, 4242);
    memcpy(m->b + m->n, w, l);
    m->n += l;
    u32(m, 0xdeadbeef); /* not a real signature: getdns never sees these */
    m->count[DNS_SECTION_ANSWER]++;
}

static void opt(struct mb *m)
{
    u8(m, 0);
    u16(m, DNS_TYPE_OPT);
    u16(m, 1232);
    u32(m, 0x8000);
    u16(m, 0);
    m->count[DNS_SECTION_ADDITIONAL]++;
}

/* the plain answer: www.example.test A and its RRSIG by signer */
static void plain(struct mb *m, const char *signer, unsigned labels)
{
    start(m, 0x81, 0, "www.example.test", DNS_TYPE_A);
    a_rr(m, DNS_SECTION_ANSWER, "www.example.test", DNS_TYPE_A);
    rrsig(m, "www.example.test", DNS_TYPE_A, labels, signer);
    opt(m);
    finish(m);

#endif
