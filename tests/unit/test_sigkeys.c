/* tests/unit/test_sigkeys.c — resolver/sigkeys.c: OpenSSL key objects kept
 * for getdns's signature checks. Linked with sigkeys.o (the Makefile), so
 * every OpenSSL call below, and getdns's own, goes through it.
 *
 * What must hold: a signature verifies with a kept key exactly when it
 * verifies with its own (same key, same data); a key that differs never
 * stands in for another, however many keys come and go; and getdns, given a
 * signed zone, says SECURE for the right data and BOGUS for altered data.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#define OPENSSL_SUPPRESS_DEPRECATED /* getdns's legacy key calls, as it makes them */

#include "unit.h"

#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <dlfcn.h>
#include <pthread.h>

#include "sigkeys.h"

/* ---- keys and signatures, natively (these pass through sigkeys untouched) ---- */

static EVP_PKEY *ec_key(const char *curve)
{
    return EVP_EC_gen(curve);
}

static EVP_PKEY *rsa_key(unsigned bits)
{
    return EVP_RSA_gen(bits);
}

/* DER signature of data with key over SHA-256 (SHA-384 for P-384). */
static size_t sign(EVP_PKEY *key, const EVP_MD *md, const uint8_t *data, size_t n, uint8_t *sig,
                   size_t cap)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t len = cap;
    if (!c || EVP_DigestSignInit(c, NULL, md, NULL, key) != 1 ||
        EVP_DigestSign(c, sig, &len, data, n) != 1)
        len = 0;
    EVP_MD_CTX_free(c);
    return len;
}

/* The public point (uncompressed, 0x04 first) of a native EC key. */
static size_t ec_point(EVP_PKEY *key, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, cap, &n) != 1)
        return 0;
    return n;
}

/* ---- verifying as getdns 1.6.0 does: a new legacy key each time ---- */

static EVP_PKEY *legacy_ec(int nid, const uint8_t *point, size_t n)
{
    EC_KEY *ec = EC_KEY_new_by_curve_name(nid);
    const unsigned char *p = point;
    EVP_PKEY *pk = NULL;
    if (!ec || !o2i_ECPublicKey(&ec, &p, (long)n) || !(pk = EVP_PKEY_new()) ||
        EVP_PKEY_assign(pk, EVP_PKEY_EC, ec) != 1) {
        EC_KEY_free(ec);
        EVP_PKEY_free(pk);
        return NULL;
    }
    return pk;
}

static EVP_PKEY *legacy_rsa(EVP_PKEY *native)
{
    BIGNUM *n = NULL, *e = NULL;
    RSA *rsa = RSA_new();
    EVP_PKEY *pk = NULL;
    if (!rsa || EVP_PKEY_get_bn_param(native, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(native, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
        RSA_set0_key(rsa, n, e, NULL) != 1) {
        BN_free(n);
        BN_free(e);
        RSA_free(rsa);
        return NULL;
    }
    if (!(pk = EVP_PKEY_new()) || EVP_PKEY_assign(pk, EVP_PKEY_RSA, rsa) != 1) {
        RSA_free(rsa);
        EVP_PKEY_free(pk);
        return NULL;
    }
    return pk;
}

/* 1 when sig verifies over data with the legacy key pk (freed here). */
static int legacy_verify(EVP_PKEY *pk, const EVP_MD *md, const uint8_t *data, size_t n,
                         const uint8_t *sig, size_t siglen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && pk && EVP_DigestVerifyInit(c, NULL, md, NULL, pk) == 1 &&
             EVP_DigestVerify(c, sig, siglen, data, n) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pk);
    return ok;
}

/* These tests call OpenSSL themselves: sigkeys acts only for getdns's calls
 * unless told that every caller is getdns. */
static int every_caller(const void *caller)
{
    (void)caller;
    return 1;
}

static struct sigkeys_stats stats_now(void)
{
    struct sigkeys_stats st;
    sigkeys_get_stats(&st);
    return st;
}

static const uint8_t data[] = "an RRSIG's signed data, as getdns hands it to OpenSSL";

static void test_a_kept_key_verifies_what_its_own_does(void)
{
    sigkeys_set_caller_filter(every_caller);
    EVP_PKEY *a = ec_key("P-256");
    uint8_t pt[200], sig[200], bad[sizeof data];
    size_t pl = ec_point(a, pt, sizeof pt), sl = sign(a, EVP_sha256(), data, sizeof data, sig, sizeof sig);
    struct sigkeys_stats s0 = stats_now();

    CHECK(pl == 65 && sl > 0);
    CHECK(legacy_verify(legacy_ec(NID_X9_62_prime256v1, pt, pl), EVP_sha256(), data, sizeof data,
                        sig, sl));
    CHECK_INT_EQ(stats_now().made, s0.made + 1);
    for (int i = 0; i < 5; i++)
        CHECK(legacy_verify(legacy_ec(NID_X9_62_prime256v1, pt, pl), EVP_sha256(), data,
                            sizeof data, sig, sl));
    CHECK_INT_EQ(stats_now().reused, s0.reused + 5);
    CHECK_INT_EQ(stats_now().made, s0.made + 1);

    /* the kept key is warm: altered data and an altered signature still fail */
    memcpy(bad, data, sizeof data);
    bad[3] ^= 1;
    CHECK(!legacy_verify(legacy_ec(NID_X9_62_prime256v1, pt, pl), EVP_sha256(), bad, sizeof bad,
                         sig, sl));
    sig[sl - 1] ^= 1;
    CHECK(!legacy_verify(legacy_ec(NID_X9_62_prime256v1, pt, pl), EVP_sha256(), data, sizeof data,
                         sig, sl));
    EVP_PKEY_free(a);
}

static void test_one_key_never_stands_in_for_another(void)
{
    sigkeys_set_caller_filter(every_caller);
    enum { N = 3 * SIGKEYS_MAX + 5 }; /* more keys than are kept: eviction on the way */
    static EVP_PKEY *keys[N];
    static uint8_t pts[N][65], sigs[N][80];
    static size_t sls[N];
    int wrong = 0, right = 0;

    for (int i = 0; i < N; i++) {
        keys[i] = ec_key("P-256");
        CHECK_INT_EQ(ec_point(keys[i], pts[i], sizeof pts[i]), 65);
        sls[i] = sign(keys[i], EVP_sha256(), data, sizeof data, sigs[i], sizeof sigs[i]);
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) {
            int j = (i + 1 + round) % N; /* a neighbour's signature */
            right += legacy_verify(legacy_ec(NID_X9_62_prime256v1, pts[i], 65), EVP_sha256(), data,
                                   sizeof data, sigs[i], sls[i]);
            wrong += legacy_verify(legacy_ec(NID_X9_62_prime256v1, pts[i], 65), EVP_sha256(), data,
                                   sizeof data, sigs[j], sls[j]);
        }
    CHECK_INT_EQ(right, 3 * N);
    CHECK_INT_EQ(wrong, 0);
    for (int i = 0; i < N; i++)
        EVP_PKEY_free(keys[i]);
}

static void test_p384_and_rsa(void)
{
    sigkeys_set_caller_filter(every_caller);
    EVP_PKEY *p384 = ec_key("P-384"), *r1 = rsa_key(1024), *r2 = rsa_key(2048);
    uint8_t pt[200], sig[600], sig2[600];
    size_t pl = ec_point(p384, pt, sizeof pt);
    size_t sl = sign(p384, EVP_sha384(), data, sizeof data, sig, sizeof sig);
    struct sigkeys_stats s0 = stats_now();

    CHECK_INT_EQ(pl, 97);
    for (int i = 0; i < 3; i++)
        CHECK(legacy_verify(legacy_ec(NID_secp384r1, pt, pl), EVP_sha384(), data, sizeof data, sig,
                            sl));
    sl = sign(r1, EVP_sha256(), data, sizeof data, sig, sizeof sig);
    size_t sl2 = sign(r2, EVP_sha256(), data, sizeof data, sig2, sizeof sig2);
    for (int i = 0; i < 3; i++) {
        CHECK(legacy_verify(legacy_rsa(r1), EVP_sha256(), data, sizeof data, sig, sl));
        CHECK(legacy_verify(legacy_rsa(r2), EVP_sha256(), data, sizeof data, sig2, sl2));
        CHECK(!legacy_verify(legacy_rsa(r2), EVP_sha256(), data, sizeof data, sig, sl));
    }
    CHECK_INT_EQ(stats_now().made, s0.made + 3);
    CHECK_INT_EQ(stats_now().reused, s0.reused + 2 + 2 + 5); /* P-384, r1, r2 (right and wrong) */
    EVP_PKEY_free(p384);
    EVP_PKEY_free(r1);
    EVP_PKEY_free(r2);
}

static void test_other_keys_pass_through(void)
{
    EVP_PKEY *native = ec_key("P-256");
    uint8_t sig[100];
    size_t sl = sign(native, EVP_sha256(), data, sizeof data, sig, sizeof sig);
    struct sigkeys_stats s0 = stats_now();
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    /* a provider key goes to OpenSSL as it is */
    CHECK(EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, native) == 1 &&
          EVP_DigestVerify(c, sig, sl, data, sizeof data) == 1);
    CHECK_INT_EQ(stats_now().passed, s0.passed + 1);
    CHECK_INT_EQ(stats_now().made, s0.made);
    EVP_MD_CTX_free(c);

    /* EC_KEY_new_by_curve_name(): the curve asked for, copied or not */
    int nids[] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp256k1};
    for (size_t i = 0; i < sizeof nids / sizeof nids[0]; i++) {
        EC_KEY *k = EC_KEY_new_by_curve_name(nids[i]);
        CHECK(k && EC_GROUP_get_curve_name(EC_KEY_get0_group(k)) == nids[i]);
        EC_KEY_free(k);
    }
    CHECK(EC_KEY_new_by_curve_name(NID_undef) == NULL);
    EVP_PKEY_free(native);
}

static void test_known_signatures_skip_openssl(void)
{
    sigkeys_set_caller_filter(every_caller);
    EVP_PKEY *a = ec_key("P-256"), *b = ec_key("P-256");
    uint8_t pa[80], pb[80], sig[100], bad[sizeof data];
    size_t la = ec_point(a, pa, sizeof pa), lb = ec_point(b, pb, sizeof pb);
    size_t sl = sign(a, EVP_sha256(), data, sizeof data, sig, sizeof sig);
    struct sigkeys_stats s0 = stats_now();

    CHECK(legacy_verify(legacy_ec(NID_X9_62_prime256v1, pa, la), EVP_sha256(), data, sizeof data,
                        sig, sl));
    CHECK_INT_EQ(stats_now().known, s0.known);
    for (int i = 0; i < 4; i++)
        CHECK(legacy_verify(legacy_ec(NID_X9_62_prime256v1, pa, la), EVP_sha256(), data,
                            sizeof data, sig, sl));
    CHECK_INT_EQ(stats_now().known, s0.known + 4);

    /* what differs in any of the four is not known, and fails */
    memcpy(bad, data, sizeof data);
    bad[sizeof bad - 2] ^= 0x20;
    CHECK(!legacy_verify(legacy_ec(NID_X9_62_prime256v1, pa, la), EVP_sha256(), bad, sizeof bad,
                         sig, sl));
    CHECK(!legacy_verify(legacy_ec(NID_X9_62_prime256v1, pa, la), EVP_sha256(), data,
                         sizeof data - 1, sig, sl));
    CHECK(!legacy_verify(legacy_ec(NID_X9_62_prime256v1, pb, lb), EVP_sha256(), data, sizeof data,
                         sig, sl));
    CHECK(!legacy_verify(legacy_ec(NID_X9_62_prime256v1, pa, la), EVP_sha384(), data, sizeof data,
                         sig, sl));
    sig[sl - 2] ^= 1;
    CHECK(!legacy_verify(legacy_ec(NID_X9_62_prime256v1, pa, la), EVP_sha256(), data, sizeof data,
                         sig, sl));
    CHECK_INT_EQ(stats_now().known, s0.known + 4);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

/* OpenSSL's own functions, beside the ones sigkeys defines in this program */
typedef int (*init_fn)(EVP_MD_CTX *, EVP_PKEY_CTX **, const EVP_MD *, ENGINE *, EVP_PKEY *);
typedef int (*verify_fn)(EVP_MD_CTX *, const unsigned char *, size_t, const unsigned char *,
                         size_t);
static init_fn real_init;
static verify_fn real_verify;

struct scene {
    EVP_PKEY *ka, *kb;             /* legacy keys, as getdns makes them */
    uint8_t sa[100], sb[100];      /* signatures over data by a and by b */
    size_t sla, slb;
    EVP_PKEY *pss;                 /* legacy RSA key, and its PSS signature */
    uint8_t spss[300];
    size_t slpss;
};

/* The same calls with either pair of functions: what each case returns. */
static void scenes(const struct scene *z, init_fn init, verify_fn verify, int out[6])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new(), *c2 = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    /* 0: initialised twice, a then b; b's signature */
    init(c, NULL, EVP_sha256(), NULL, z->ka);
    init(c, NULL, EVP_sha256(), NULL, z->kb);
    out[0] = verify(c, z->sb, z->slb, data, sizeof data);
    EVP_MD_CTX_reset(c);
    /* 1: the same, a's signature */
    init(c, NULL, EVP_sha256(), NULL, z->ka);
    init(c, NULL, EVP_sha256(), NULL, z->kb);
    out[1] = verify(c, z->sa, z->sla, data, sizeof data);
    EVP_MD_CTX_reset(c);
    /* 2: initialised, then made a signing context for b, a's signature */
    init(c, NULL, EVP_sha256(), NULL, z->ka);
    EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, z->kb);
    out[2] = verify(c, z->sa, z->sla, data, sizeof data);
    EVP_MD_CTX_reset(c);
    /* 3: PSS set through the key context, a PSS signature */
    init(c, NULL, EVP_sha256(), NULL, z->pss);
    pc = EVP_MD_CTX_get_pkey_ctx(c);
    if (pc)
        EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
    out[3] = verify(c, z->spss, z->slpss, data, sizeof data);
    EVP_MD_CTX_reset(c);
    /* 4, 5: two contexts initialised, verified in the other order */
    init(c, NULL, EVP_sha256(), NULL, z->ka);
    init(c2, NULL, EVP_sha256(), NULL, z->kb);
    out[4] = verify(c2, z->sb, z->slb, data, sizeof data);
    out[5] = verify(c, z->sa, z->sla, data, sizeof data);
    EVP_MD_CTX_free(c);
    EVP_MD_CTX_free(c2);
}

static int wrapped_init(EVP_MD_CTX *c, EVP_PKEY_CTX **p, const EVP_MD *m, ENGINE *e, EVP_PKEY *k)
{
    return EVP_DigestVerifyInit(c, p, m, e, k);
}

static int wrapped_verify(EVP_MD_CTX *c, const unsigned char *s, size_t sl,
                          const unsigned char *t, size_t tl)
{
    return EVP_DigestVerify(c, s, sl, t, tl);
}

/* Contexts put to other uses than getdns's Init-then-Verify: another caller
 * gets exactly OpenSSL's answers; a context sigkeys took for getdns's never
 * succeeds where OpenSSL would not. */
static void test_other_uses_of_a_context(void)
{
    struct scene z;
    EVP_PKEY *a = ec_key("P-256"), *b = ec_key("P-256"), *r = rsa_key(1024);
    uint8_t pa[80], pb[80];
    size_t la = ec_point(a, pa, sizeof pa), lb = ec_point(b, pb, sizeof pb);
    int want[6], got[6];
    EVP_MD_CTX *c;
    EVP_PKEY_CTX *pc;

    *(void **)&real_init = dlsym(RTLD_NEXT, "EVP_DigestVerifyInit");
    *(void **)&real_verify = dlsym(RTLD_NEXT, "EVP_DigestVerify");
    CHECK(real_init && real_verify);
    z.ka = legacy_ec(NID_X9_62_prime256v1, pa, la);
    z.kb = legacy_ec(NID_X9_62_prime256v1, pb, lb);
    z.pss = legacy_rsa(r);
    z.sla = sign(a, EVP_sha256(), data, sizeof data, z.sa, sizeof z.sa);
    z.slb = sign(b, EVP_sha256(), data, sizeof data, z.sb, sizeof z.sb);
    c = EVP_MD_CTX_new();
    z.slpss = sizeof z.spss;
    CHECK(EVP_DigestSignInit(c, &pc, EVP_sha256(), NULL, r) == 1 &&
          EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
          EVP_DigestSign(c, z.spss, &z.slpss, data, sizeof data) == 1);
    EVP_MD_CTX_free(c);

    scenes(&z, real_init, real_verify, want);
    CHECK_INT_EQ(want[3], 1);
    CHECK_INT_EQ(want[4], 1);
    CHECK_INT_EQ(want[5], 1);
    /* another caller: the same answers, and nothing kept or remembered */
    sigkeys_set_caller_filter(NULL);
    struct sigkeys_stats s0 = stats_now();
    for (int round = 0; round < 2; round++) {
        scenes(&z, wrapped_init, wrapped_verify, got);
        for (int i = 0; i < 6; i++)
            CHECK_INT_EQ(got[i], want[i]);
    }
    CHECK_INT_EQ(stats_now().made, s0.made);
    CHECK_INT_EQ(stats_now().known, s0.known);
    /* every caller taken for getdns: never 1 where OpenSSL says otherwise,
     * twice, so that the second round meets remembered signatures */
    sigkeys_set_caller_filter(every_caller);
    for (int round = 0; round < 2; round++) {
        scenes(&z, wrapped_init, wrapped_verify, got);
        for (int i = 0; i < 6; i++)
            if (got[i] == 1)
                CHECK_INT_EQ(want[i], 1);
        CHECK_INT_EQ(got[4], 1);
        CHECK_INT_EQ(got[5], 1);
    }
    EVP_PKEY_free(z.ka);
    EVP_PKEY_free(z.kb);
    EVP_PKEY_free(z.pss);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(r);
}

struct freer {
    EVP_MD_CTX *ctx;
};

static void *free_it(void *arg)
{
    EVP_MD_CTX_free(((struct freer *)arg)->ctx);
    return NULL;
}

/* A context initialised on one thread and freed on another leaves nothing
 * behind: a later context at whatever address verifies as OpenSSL does. */
static void test_freed_on_another_thread(void)
{
    EVP_PKEY *a = ec_key("P-256"), *b = ec_key("P-256");
    uint8_t pa[80], pb[80], sa[100];
    size_t la = ec_point(a, pa, sizeof pa), lb = ec_point(b, pb, sizeof pb);
    size_t sla = sign(a, EVP_sha256(), data, sizeof data, sa, sizeof sa);
    EVP_PKEY *ka = legacy_ec(NID_X9_62_prime256v1, pa, la);
    EVP_PKEY *kb = legacy_ec(NID_X9_62_prime256v1, pb, lb);
    int wrong = 0;

    sigkeys_set_caller_filter(every_caller);
    for (int i = 0; i < 50; i++) {
        struct freer f = {EVP_MD_CTX_new()};
        pthread_t t;
        CHECK(EVP_DigestVerifyInit(f.ctx, NULL, EVP_sha256(), NULL, ka) == 1);
        CHECK(pthread_create(&t, NULL, free_it, &f) == 0);
        pthread_join(t, NULL);
        EVP_MD_CTX *c2 = EVP_MD_CTX_new(); /* often at the freed address */
        CHECK(EVP_DigestVerifyInit_ex(c2, NULL, "SHA256", NULL, NULL, kb, NULL) == 1);
        wrong += EVP_DigestVerify(c2, sa, sla, data, sizeof data) == 1;
        EVP_MD_CTX_free(c2);
    }
    CHECK_INT_EQ(wrong, 0);
    sigkeys_set_caller_filter(NULL);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

/* ---- getdns itself, over a zone signed here ---- */

struct wire {
    uint8_t b[2048];
    size_t n;
};

static void put(struct wire *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put16(struct wire *w, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 2);
}

static void put32(struct wire *w, uint32_t v)
{
    put16(w, v >> 16);
    put16(w, v & 0xffff);
}

static const uint8_t zone[] = "\4zone\4test";          /* zone.test. */
static const uint8_t host[] = "\3www\4zone\4test";      /* www.zone.test. */

/* One RR in wire format: owner, type, IN, TTL 3600, rdata. */
static getdns_dict *rr(const uint8_t *owner, size_t olen, unsigned type, const uint8_t *rd,
                       size_t rdlen)
{
    struct wire w = {.n = 0};
    getdns_dict *d = NULL;
    put(&w, owner, olen);
    put16(&w, type);
    put16(&w, 1);
    put32(&w, 3600);
    put16(&w, (unsigned)rdlen);
    put(&w, rd, rdlen);
    return getdns_wire2rr_dict(w.b, w.n, &d) == GETDNS_RETURN_GOOD ? d : NULL;
}

/* RFC 4034 Appendix B */
static unsigned key_tag(const uint8_t *rd, size_t n)
{
    uint32_t ac = 0;
    for (size_t i = 0; i < n; i++)
        ac += (i & 1) ? rd[i] : (uint32_t)rd[i] << 8;
    return (ac + (ac >> 16)) & 0xffff;
}

/* The RRSIG rdata over one record (owner, type, rdata) by key, alg 13. */
static size_t rrsig(EVP_PKEY *key, unsigned tag, const uint8_t *owner, size_t olen, unsigned type,
                    unsigned labels, const uint8_t *rd, size_t rdlen, uint8_t *out)
{
    struct wire s = {.n = 0};
    time_t now = time(NULL);
    put16(&s, type);
    put(&s, "\15", 1); /* algorithm 13 */
    uint8_t l = (uint8_t)labels;
    put(&s, &l, 1);
    put32(&s, 3600);
    put32(&s, (uint32_t)(now + 3600));
    put32(&s, (uint32_t)(now - 3600));
    put16(&s, tag);
    put(&s, zone, sizeof zone);
    size_t head = s.n;
    put(&s, owner, olen); /* the RRset, canonical: one record, names lowercase already */
    put16(&s, type);
    put16(&s, 1);
    put32(&s, 3600);
    put16(&s, (unsigned)rdlen);
    put(&s, rd, rdlen);

    uint8_t der[100];
    size_t dl = sign(key, EVP_sha256(), s.b, s.n, der, sizeof der);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    const BIGNUM *r, *sv;
    if (!es)
        return 0;
    ECDSA_SIG_get0(es, &r, &sv);
    memcpy(out, s.b, head);
    BN_bn2binpad(r, out + head, 32);
    BN_bn2binpad(sv, out + head + 32, 32);
    ECDSA_SIG_free(es);
    return head + 64;
}

static int validate(getdns_dict *a, getdns_dict *a_sig, getdns_list *support, getdns_list *ta)
{
    getdns_list *l = getdns_list_create();
    int r = -1;
    if (l && getdns_list_set_dict(l, 0, a) == GETDNS_RETURN_GOOD &&
        getdns_list_set_dict(l, 1, a_sig) == GETDNS_RETURN_GOOD)
        r = (int)getdns_validate_dnssec2(l, support, ta, time(NULL), 0);
    getdns_list_destroy(l);
    return r;
}

static void test_getdns_validates_through_it(void)
{
    sigkeys_set_caller_filter(NULL); /* getdns's calls: its own code */
    EVP_PKEY *key = ec_key("P-256"), *other = ec_key("P-256");
    uint8_t pt[80], dnskey[4 + 64], sig[200];
    CHECK_INT_EQ(ec_point(key, pt, sizeof pt), 65);
    dnskey[0] = 1; /* flags 257 */
    dnskey[1] = 1;
    dnskey[2] = 3;
    dnskey[3] = 13;
    memcpy(dnskey + 4, pt + 1, 64);
    unsigned tag = key_tag(dnskey, sizeof dnskey);

    const uint8_t addr[4] = {192, 0, 2, 1}, addr2[4] = {192, 0, 2, 2};
    size_t kl = rrsig(key, tag, zone, sizeof zone, 48, 2, dnskey, sizeof dnskey, sig);
    getdns_dict *dk = rr(zone, sizeof zone, 48, dnskey, sizeof dnskey);
    getdns_dict *dk_sig = rr(zone, sizeof zone, 46, sig, kl);
    size_t al = rrsig(key, tag, host, sizeof host, 1, 3, addr, 4, sig);
    getdns_dict *a = rr(host, sizeof host, 1, addr, 4);
    getdns_dict *a_sig = rr(host, sizeof host, 46, sig, al);
    getdns_dict *a_forged = rr(host, sizeof host, 1, addr2, 4);
    /* the same record signed by a key not in the zone, under the zone key's tag */
    size_t ol = rrsig(other, tag, host, sizeof host, 1, 3, addr, 4, sig);
    getdns_dict *a_other_sig = rr(host, sizeof host, 46, sig, ol);
    getdns_list *support = getdns_list_create(), *ta = getdns_list_create();
    CHECK(kl && al && ol && dk && dk_sig && a && a_sig && a_forged && a_other_sig && support && ta);
    getdns_list_set_dict(support, 0, dk);
    getdns_list_set_dict(support, 1, dk_sig);
    getdns_list_set_dict(ta, 0, dk);

    struct sigkeys_stats s0 = stats_now();
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(validate(a, a_sig, support, ta), GETDNS_DNSSEC_SECURE);
        CHECK_INT_EQ(validate(a_forged, a_sig, support, ta), GETDNS_DNSSEC_BOGUS);
        CHECK_INT_EQ(validate(a, a_other_sig, support, ta), GETDNS_DNSSEC_BOGUS);
    }
    /* getdns's keys went through sigkeys, and were reused; the zone's
     * key set and the record were verified by OpenSSL once */
    CHECK(stats_now().reused > s0.reused);
    CHECK(stats_now().known >= s0.known + 2 * 2 + 2);

    getdns_dict_destroy(dk);
    getdns_dict_destroy(dk_sig);
    getdns_dict_destroy(a);
    getdns_dict_destroy(a_sig);
    getdns_dict_destroy(a_forged);
    getdns_dict_destroy(a_other_sig);
    getdns_list_destroy(support);
    getdns_list_destroy(ta);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

int main(void)
{
    UNIT_RUN(test_a_kept_key_verifies_what_its_own_does);
    UNIT_RUN(test_one_key_never_stands_in_for_another);
    UNIT_RUN(test_p384_and_rsa);
    UNIT_RUN(test_other_keys_pass_through);
    UNIT_RUN(test_known_signatures_skip_openssl);
    UNIT_RUN(test_other_uses_of_a_context);
    UNIT_RUN(test_freed_on_another_thread);
    UNIT_RUN(test_getdns_validates_through_it);
    return UNIT_END();
}
