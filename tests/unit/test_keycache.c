/* tests/unit/test_keycache.c — resolver/keycache.c: which answers may take
 * the key cache's path (keycache_answer_signer()), and the table itself:
 * expiry on a pinned clock, the bound, LRU order, purges, the "zone between
 * the signer and the name" rule, flushing. The signatures themselves are
 * getdns's job and are checked end to end in tests/e2e/resolver_keycache.sh.
 * The .c is included to reach its static functions (style.md, item 10).
 */
#include "unit.h"

#include "../../resolver/keycache.c"

#include <stdlib.h>

#include "keycache_msg.h"
}

static int shape(const struct mb *m, const char *qname, unsigned qtype, char *signer_text)
{
    uint8_t q[DNS_MAX_NAME], signer[DNS_MAX_NAME];
    size_t ql = wname(q, qname), sl = 0;
    int rc = keycache_answer_signer(m->b, m->n, q, ql, (uint16_t)qtype, signer, &sl);
    if (rc == 0 && signer_text)
        dns_name_to_text(signer, sl, signer_text, 256);
    return rc;
}

static void test_plain_answers_take_the_path(void)
{
    struct mb m;
    char signer[256];
    plain(&m, "example.test", 3);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, signer), 0);
    CHECK_STR_EQ(signer, "example.test.");
    /* the query name spelt in another case is the same name */
    CHECK_INT_EQ(shape(&m, "WWW.Example.TEST", DNS_TYPE_A, NULL), 0);
    /* signed by the name itself (a zone apex) */
    plain(&m, "www.example.test", 3);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, signer), 0);
    CHECK_STR_EQ(signer, "www.example.test.");
    /* by the root, an ancestor of everything */
    plain(&m, ".", 3);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), 0);
}

static void test_signer_must_be_an_ancestor(void)
{
    struct mb m;
    plain(&m, "other.test", 3);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_ESIGNER);
    plain(&m, "sub.www.example.test", 3); /* a descendant is not an ancestor */
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_ESIGNER);
    plain(&m, "ample.test", 3); /* a suffix of a label is not a label */
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_ESIGNER);
    /* two signers */
    start(&m, 0x81, 0, "www.example.test", DNS_TYPE_A);
    a_rr(&m, DNS_SECTION_ANSWER, "www.example.test", DNS_TYPE_A);
    rrsig(&m, "www.example.test", DNS_TYPE_A, 3, "example.test");
    rrsig(&m, "www.example.test", DNS_TYPE_A, 3, "test");
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_ESIGNER);
}

static void test_odd_answers_fall_back(void)
{
    struct mb m;
    plain(&m, "example.test", 2); /* fewer labels than the owner: wildcard */
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_EWILDCARD);
    plain(&m, "example.test", 3);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_DS, NULL), KEYCACHE_ETYPE);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_DNSKEY, NULL), KEYCACHE_ETYPE);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_CNAME, NULL), KEYCACHE_ETYPE);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_ANY, NULL), KEYCACHE_ETYPE);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_NSEC, NULL), KEYCACHE_ETYPE);
    /* the question is another one */
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_AAAA, NULL), KEYCACHE_EFORMERR);
    CHECK_INT_EQ(shape(&m, "ftp.example.test", DNS_TYPE_A, NULL), KEYCACHE_EFORMERR);

    /* an RRSIG over another type */
    start(&m, 0x81, 0, "www.example.test", DNS_TYPE_A);
    a_rr(&m, DNS_SECTION_ANSWER, "www.example.test", DNS_TYPE_A);
    rrsig(&m, "www.example.test", DNS_TYPE_AAAA, 3, "example.test");
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_EANSWER);
    /* no RRSIG */
    start(&m, 0x81, 0, "www.example.test", DNS_TYPE_A);
    a_rr(&m, DNS_SECTION_ANSWER, "www.example.test", DNS_TYPE_A);
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_ENOSIG);
    /* an RRSIG without data */
    start(&m, 0x81, 0, "www.example.test", DNS_TYPE_A);
    rrsig(&m, "www.example.test", DNS_TYPE_A, 3, "example.test");
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_EANSWER);
    /* a record of another owner (a CNAME chain, an appended RRset) */
    start(&m, 0x81, 0, "www.example.test", DNS_TYPE_A);
    a_rr(&m, DNS_SECTION_ANSWER, "www.example.test", DNS_TYPE_A);
    rrsig(&m, "www.example.test", DNS_TYPE_A, 3, "example.test");
    a_rr(&m, DNS_SECTION_ANSWER, "evil.example.test", DNS_TYPE_A);
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_EANSWER);
    /* a CNAME at the name */
    start(&m, 0x81, 0, "www.example.test", DNS_TYPE_A);
    a_rr(&m, DNS_SECTION_ANSWER, "www.example.test", DNS_TYPE_CNAME);
    rrsig(&m, "www.example.test", DNS_TYPE_CNAME, 3, "example.test");
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_EANSWER);
    /* authority records (a proof, or anything else) */
    start(&m, 0x81, 0, "www.example.test", DNS_TYPE_A);
    a_rr(&m, DNS_SECTION_ANSWER, "www.example.test", DNS_TYPE_A);
    rrsig(&m, "www.example.test", DNS_TYPE_A, 3, "example.test");
    a_rr(&m, DNS_SECTION_AUTHORITY, "example.test", DNS_TYPE_NS);
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_EEXTRA);
    /* additional records other than OPT */
    start(&m, 0x81, 0, "www.example.test", DNS_TYPE_A);
    a_rr(&m, DNS_SECTION_ANSWER, "www.example.test", DNS_TYPE_A);
    rrsig(&m, "www.example.test", DNS_TYPE_A, 3, "example.test");
    a_rr(&m, DNS_SECTION_ADDITIONAL, "ns.example.test", DNS_TYPE_A);
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_EEXTRA);
    /* rcodes and header bits */
    start(&m, 0x81, DNS_RCODE_NXDOMAIN, "www.example.test", DNS_TYPE_A);
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_ERCODE);
    start(&m, 0x81, 0, "www.example.test", DNS_TYPE_A); /* NODATA */
    finish(&m);
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_ERCODE);
    plain(&m, "example.test", 3);
    m.b[2] |= 0x02; /* TC */
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_EFORMERR);
    plain(&m, "example.test", 3);
    m.b[2] &= 0x7f; /* a query, not a response */
    CHECK_INT_EQ(shape(&m, "www.example.test", DNS_TYPE_A, NULL), KEYCACHE_EFORMERR);
    /* cut short anywhere: an error, never a read past the end */
    plain(&m, "example.test", 3);
    for (size_t n = 0; n < m.n; n++) {
        uint8_t q[DNS_MAX_NAME], s[DNS_MAX_NAME];
        size_t ql = wname(q, "www.example.test"), sl;
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, m.b, n);
        CHECK(keycache_answer_signer(copy, n, q, ql, DNS_TYPE_A, s, &sl) < 0);
        free(copy);
    }
}

/* a kept set for zone (an empty list: the table does not look inside) */
static void keep(struct keycache *kc, const char *zone, uint64_t expires_ms)
{
    uint8_t w[DNS_MAX_NAME];
    size_t l = wname(w, zone);
    getdns_list *rrs = getdns_list_create();
    CHECK_INT_EQ(entry_insert(kc, w, l, rrs, rrs, expires_ms), 0);
}

static int kept(struct keycache *kc, const char *zone, uint64_t now_ms)
{
    uint8_t w[DNS_MAX_NAME];
    size_t l = wname(w, zone);
    return lookup(kc, w, l, now_ms) != NULL;
}

static void test_expiry_on_a_pinned_clock(void)
{
    struct keycache *kc = keycache_new(0, NULL);
    struct keycache_stats st;
    keep(kc, "example.test", 5000);
    CHECK(kept(kc, "example.test", 4999));
    CHECK(kept(kc, "EXAMPLE.test", 4999));
    CHECK(!kept(kc, "example.test", 5000)); /* gone at its expiry, and dropped */
    keycache_get_stats(kc, &st);
    CHECK_INT_EQ(st.zones, 0);
    keycache_free(kc);
}

static void test_bound_and_lru(void)
{
    struct keycache *kc = keycache_new(3, NULL);
    struct keycache_stats st;
    keep(kc, "a.test", 1000000);
    keep(kc, "b.test", 1000000);
    keep(kc, "c.test", 1000000);
    /* a.test used last: b.test is the least recently used */
    struct kc_entry *e = find(kc, (const uint8_t *)"\1a\4test", 8);
    CHECK(e != NULL);
    if (e) {
        lru_unlink(e);
        lru_push(kc, e);
    }
    keep(kc, "d.test", 1000000);
    CHECK(kept(kc, "a.test", 0));
    CHECK(!kept(kc, "b.test", 0));
    CHECK(kept(kc, "c.test", 0));
    CHECK(kept(kc, "d.test", 0));
    keep(kc, "d.test", 1000000); /* replaced, not doubled */
    keycache_get_stats(kc, &st);
    CHECK_INT_EQ(st.zones, 3);
    keycache_flush(kc);
    keycache_get_stats(kc, &st);
    CHECK_INT_EQ(st.zones, 0);
    CHECK(!kept(kc, "a.test", 0));
    keycache_free(kc);
    keycache_free(NULL);
    keycache_flush(NULL);
}

static void test_zone_between_signer_and_name(void)
{
    struct keycache *kc = keycache_new(0, NULL);
    uint8_t q[DNS_MAX_NAME];
    size_t ql = wname(q, "www.sub.example.test");
    keep(kc, "example.test", 1000000);
    /* signer example.test (14 bytes in wire format), nothing kept between */
    CHECK(!closer_zone_known(kc, q, ql, 14, 0));
    keep(kc, "sub.example.test", 1000000);
    CHECK(closer_zone_known(kc, q, ql, 14, 0));
    /* the signer sub.example.test itself is not "between" */
    CHECK(!closer_zone_known(kc, q, ql, 18, 0));
    /* the name itself is a kept zone: a parent's signature over its apex */
    keep(kc, "www.sub.example.test", 1000000);
    CHECK(closer_zone_known(kc, q, ql, 18, 0));
    keycache_free(kc);
}

static void test_purge(void)
{
    struct keycache *kc = keycache_new(0, NULL);
    struct keycache_stats st;
    struct mb m;
    uint8_t q[DNS_MAX_NAME];
    size_t ql = wname(q, "www.example.test");
    keep(kc, "example.test", 1000000);
    keep(kc, "test", 1000000);
    keep(kc, "other.test", 1000000);
    keep(kc, "signer.zone", 1000000);
    keep(kc, "unrelated.zone", 1000000);
    CHECK_INT_EQ(keycache_purge(kc, q, ql, NULL, 0), 2); /* example.test and test */
    CHECK(!kept(kc, "example.test", 0));
    CHECK(!kept(kc, "test", 0));
    CHECK(kept(kc, "other.test", 0));
    /* the signers in the answer go too */
    plain(&m, "signer.zone", 3);
    CHECK_INT_EQ(keycache_purge(kc, q, ql, m.b, m.n), 1);
    CHECK(!kept(kc, "signer.zone", 0));
    CHECK(kept(kc, "unrelated.zone", 0));
    CHECK(kept(kc, "other.test", 0));
    keycache_get_stats(kc, &st);
    CHECK_INT_EQ(st.purged, 3);
    CHECK_INT_EQ(keycache_purge(NULL, q, ql, NULL, 0), 0);
    keycache_free(kc);
}

static void test_validate_without_keys_falls_back(void)
{
    struct keycache *kc = keycache_new(0, NULL);
    struct keycache_stats st;
    struct mb m;
    uint8_t q[DNS_MAX_NAME];
    size_t ql = wname(q, "www.example.test");
    plain(&m, "example.test", 3);
    CHECK_INT_EQ(keycache_validate(kc, q, ql, DNS_TYPE_A, m.b, m.n, 0, 0, 0), KEYCACHE_ENOKEY);
    keep(kc, "example.test", 1000000);
    keep(kc, "www.example.test", 1000000);
    CHECK_INT_EQ(keycache_validate(kc, q, ql, DNS_TYPE_A, m.b, m.n, 0, 0, 0), KEYCACHE_ECLOSER);
    plain(&m, "other.test", 3);
    CHECK_INT_EQ(keycache_validate(kc, q, ql, DNS_TYPE_A, m.b, m.n, 0, 0, 0), KEYCACHE_ESIGNER);
    /* nothing to learn from without a chain, or from an answer of another shape */
    plain(&m, "example.test", 3);
    CHECK_INT_EQ(keycache_learn(kc, q, ql, DNS_TYPE_A, m.b, m.n, NULL, 1, 0, 0, 0), 0);
    keycache_get_stats(kc, &st);
    CHECK_INT_EQ(st.fallbacks, 3);
    CHECK_INT_EQ(st.secure, 0);
    CHECK_INT_EQ(st.learned, 0);
    CHECK_STR_EQ(keycache_strerror(KEYCACHE_ECLOSER),
                 "a validated zone lies between the signer and the name");
    keycache_free(kc);
}

int main(void)
{
    UNIT_RUN(test_plain_answers_take_the_path);
    UNIT_RUN(test_signer_must_be_an_ancestor);
    UNIT_RUN(test_odd_answers_fall_back);
    UNIT_RUN(test_expiry_on_a_pinned_clock);
    UNIT_RUN(test_bound_and_lru);
    UNIT_RUN(test_zone_between_signer_and_name);
    UNIT_RUN(test_purge);
    UNIT_RUN(test_validate_without_keys_falls_back);
    return UNIT_END();
}
