/* tests/unit/test_dane.c — unit tests of the DANE engine (proxy/dane.c).
 *
 * The certificates are made at test time by tests/unit/dane_certs.sh (the
 * openssl CLI) in a fresh mkdtemp directory, removed at the end. They are all
 * valid 2020-2040 except expired-leaf (2020 only); tests pass the time, so the
 * real clock never matters. proxy/dane_cert.c is included to reach
 * name_matches().
 */
#include "../../proxy/dane_cert.c"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

#define T_2019 ((time_t)1546300800) /* 2019-01-01: before everything */
#define T_2020 ((time_t)1590969600) /* 2020-06-01: the expired leaf is still valid */
#define T_2030 ((time_t)1893456000) /* 2030-01-01: everything but the expired leaf */
#define T_2050 ((time_t)2524608000) /* 2050-01-01: after everything */

static char dir[PATH_MAX];
static mbedtls_x509_crt trust; /* ec-root and rsa-root */

static char *path_of(const char *name, const char *ext)
{
    static char buf[PATH_MAX + 64];
    snprintf(buf, sizeof(buf), "%s/%s.%s", dir, name, ext);
    return buf;
}

/* A chain from a space-separated list of names; caller frees with free_chain. */
static mbedtls_x509_crt *chain_of(const char *names)
{
    mbedtls_x509_crt *c = malloc(sizeof(*c));
    char copy[256];
    mbedtls_x509_crt_init(c);
    snprintf(copy, sizeof(copy), "%s", names);
    for (char *n = strtok(copy, " "); n != NULL; n = strtok(NULL, " ")) {
        int ret = mbedtls_x509_crt_parse_file(c, path_of(n, "pem"));
        if (ret != 0)
            fprintf(stderr, "  cannot load %s: -0x%04x\n", n, (unsigned)-ret);
    }
    return c;
}

static void free_chain(mbedtls_x509_crt *c)
{
    mbedtls_x509_crt_free(c);
    free(c);
}

static char *read_text(const char *name, const char *ext)
{
    static char buf[4][256];
    static int k;
    char *b = buf[k++ % 4];
    FILE *f = fopen(path_of(name, ext), "r");
    b[0] = '\0';
    if (f != NULL) {
        if (fgets(b, 256, f) == NULL)
            b[0] = '\0';
        fclose(f);
    }
    b[strcspn(b, "\r\n")] = '\0';
    return b;
}

/* "U S M " + the openssl-computed digest of a certificate. */
static struct dane_tlsa rec_hash(const char *ums, const char *name, const char *ext)
{
    char text[512];
    struct dane_tlsa r;
    snprintf(text, sizeof(text), "%s %s", ums, read_text(name, ext));
    if (dane_tlsa_parse_text(&r, text) != 0)
        fprintf(stderr, "  cannot parse %s\n", text);
    return r;
}

/* A record made from a certificate by the engine itself. */
static struct dane_tlsa rec_cert(int u, int s, int m, const char *name)
{
    struct dane_tlsa r = {0};
    mbedtls_x509_crt *c = chain_of(name);
    if (dane_tlsa_make_cert(&r, (uint8_t)u, (uint8_t)s, (uint8_t)m, c) != 0)
        fprintf(stderr, "  cannot make a record from %s\n", name);
    free_chain(c);
    return r;
}

static struct dane_tlsa rec_text(const char *text)
{
    struct dane_tlsa r;
    if (dane_tlsa_parse_text(&r, text) != 0)
        fprintf(stderr, "  cannot parse %s\n", text);
    return r;
}

static void clear_all(struct dane_tlsa *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dane_tlsa_clear(&r[i]);
}

/* Runs dane_verify on a chain given by names; returns the result. */
static struct dane_verdict run(struct dane_tlsa *r, size_t n, const char *chain, const char *host,
                               const mbedtls_x509_crt *ts, time_t now)
{
    struct dane_verdict v;
    mbedtls_x509_crt *c = chain_of(chain);
    int rc = dane_verify(r, n, c, host, ts, now, &v);
    if (rc != 0)
        fprintf(stderr, "  dane_verify: %s\n", dane_strerror(rc));
    if (getenv("DANE_TEST_VERBOSE"))
        fprintf(stderr, "  [%s] %s\n", dane_result_name(v.result), v.reason);
    free_chain(c);
    return v;
}

#define A_ZERO "0000000000000000000000000000000000000000000000000000000000000000"

static void test_parse_text(void)
{
    struct dane_tlsa r;
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "3 1 1 0A0b"
                                          "ff 00"),
                 0);
    CHECK_INT_EQ(r.usage, 3);
    CHECK_INT_EQ(r.selector, 1);
    CHECK_INT_EQ(r.mtype, 1);
    CHECK_INT_EQ(r.len, 4);
    CHECK_MEM_EQ(r.data, "\x0a\x0b\xff\x00", 4);
    char *t = dane_tlsa_to_text(&r);
    CHECK_STR_EQ(t, "3 1 1 0a0bff00");
    free(t);
    dane_tlsa_clear(&r);
    CHECK(r.data == NULL && r.len == 0);
    dane_tlsa_clear(&r); /* twice is fine */
    dane_tlsa_clear(NULL);

    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "  DANE-EE spki sha2-512 ab\n"), 0);
    CHECK(r.usage == 3 && r.selector == 1 && r.mtype == 2 && r.len == 1);
    dane_tlsa_clear(&r);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "PKIX-TA Cert Full 30"), 0);
    CHECK(r.usage == 0 && r.selector == 0 && r.mtype == 0);
    dane_tlsa_clear(&r);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "255 255 255 00"), 0); /* parses, unusable */
    CHECK_INT_EQ(dane_tlsa_usable(&r), 0);
    dane_tlsa_clear(&r);

    CHECK_INT_EQ(dane_tlsa_parse_text(&r, ""), DANE_ESYNTAX);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "3 1"), DANE_ESYNTAX);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "3 1 1"), DANE_ESYNTAX);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "3 1 1 abc"), DANE_EHEX);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "3 1 1 zz"), DANE_EHEX);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "256 1 1 aa"), DANE_EFIELD);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "1000 1 1 aa"), DANE_EFIELD);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "DANE-XX 1 1 aa"), DANE_EFIELD);
    CHECK_INT_EQ(dane_tlsa_parse_text(&r, "-1 1 1 aa"), DANE_EFIELD);
    CHECK(r.data == NULL);
    CHECK_INT_EQ(dane_tlsa_parse_text(NULL, "3 1 1 aa"), DANE_EINVAL);
    CHECK_STR_EQ(dane_strerror(DANE_EHEX),
                 "TLSA association data must be hex digits, an even number of them");
    CHECK_STR_EQ(dane_strerror(0), "success");
    CHECK_STR_EQ(dane_strerror(-999), "unknown error");
}

static void test_parse_rdata(void)
{
    struct dane_tlsa r;
    const uint8_t wire[] = {2, 0, 1, 0xde, 0xad};
    CHECK_INT_EQ(dane_tlsa_parse_rdata(&r, wire, sizeof(wire)), 0);
    CHECK(r.usage == 2 && r.selector == 0 && r.mtype == 1 && r.len == 2);
    CHECK_MEM_EQ(r.data, "\xde\xad", 2);
    CHECK_INT_EQ(dane_tlsa_usable(&r), 0); /* a SHA-256 of 2 bytes */
    dane_tlsa_clear(&r);
    CHECK_INT_EQ(dane_tlsa_parse_rdata(&r, wire, 3), 0);
    CHECK(r.len == 0 && r.data == NULL);
    CHECK_INT_EQ(dane_tlsa_usable(&r), 0);
    CHECK_INT_EQ(dane_tlsa_parse_rdata(&r, wire, 2), DANE_ERDATA);
    CHECK_INT_EQ(dane_tlsa_parse_rdata(&r, NULL, 0), DANE_ERDATA);
}

static void test_usable(void)
{
    struct dane_tlsa r[8];
    r[0] = rec_text("3 1 1 " A_ZERO);        /* usable */
    r[1] = rec_text("3 1 2 " A_ZERO A_ZERO); /* usable */
    r[2] = rec_text("3 1 2 " A_ZERO);        /* SHA-512 of 32 bytes: malformed */
    r[3] = rec_text("4 1 1 " A_ZERO);        /* unknown usage */
    r[4] = rec_text("3 2 1 " A_ZERO);        /* unknown selector */
    r[5] = rec_text("3 1 3 " A_ZERO);        /* unknown matching type */
    r[6] = rec_text("3 1 1 " A_ZERO "00");   /* 33 bytes */
    r[7] = rec_text("2 0 0 00");             /* exact data: any length counts */
    const int want[8] = {1, 1, 0, 0, 0, 0, 0, 1};
    for (int i = 0; i < 8; i++)
        CHECK_INT_EQ(dane_tlsa_usable(&r[i]), want[i]);
    CHECK_INT_EQ(dane_tlsa_count_usable(r, 8), 3);
    CHECK_INT_EQ(dane_tlsa_count_usable(r + 2, 5), 0);
    CHECK_INT_EQ(dane_tlsa_count_usable(NULL, 0), 0);
    clear_all(r, 8);
}

/* The engine's records equal the openssl pipeline's, and a fixed vector. */
static void test_make_matches_openssl(void)
{
    const char *names[] = {"ec-leaf", "rsa-leaf", "self"};
    for (int i = 0; i < 3; i++) {
        struct dane_tlsa mine = rec_cert(3, 1, 1, names[i]);
        struct dane_tlsa theirs = rec_hash("3 1 1", names[i], "spki-sha256");
        CHECK(mine.len == 32 && theirs.len == 32 && memcmp(mine.data, theirs.data, 32) == 0);
        mbedtls_x509_crt *c = chain_of(names[i]);
        unsigned char spki[32];
        CHECK_INT_EQ(dane_cert_spki_sha256(c, spki), 0);
        CHECK_MEM_EQ(spki, theirs.data, 32);
        free_chain(c);
        dane_tlsa_clear(&mine);
        dane_tlsa_clear(&theirs);

        mine = rec_cert(3, 0, 1, names[i]);
        theirs = rec_hash("3 0 1", names[i], "cert-sha256");
        CHECK(mine.len == 32 && theirs.len == 32 && memcmp(mine.data, theirs.data, 32) == 0);
        dane_tlsa_clear(&mine);
        dane_tlsa_clear(&theirs);

        mine = rec_cert(3, 1, 2, names[i]);
        theirs = rec_hash("3 1 2", names[i], "spki-sha512");
        CHECK(mine.len == 64 && theirs.len == 64 && memcmp(mine.data, theirs.data, 64) == 0);
        dane_tlsa_clear(&mine);
        dane_tlsa_clear(&theirs);
    }
    /* FIPS 180-2 vectors for "abc" */
    struct dane_tlsa r;
    CHECK_INT_EQ(dane_tlsa_make(&r, 3, 1, 1, (const unsigned char *)"abc", 3), 0);
    char *t = dane_tlsa_to_text(&r);
    CHECK_STR_EQ(t, "3 1 1 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    free(t);
    dane_tlsa_clear(&r);
    CHECK_INT_EQ(dane_tlsa_make(&r, 3, 1, 2, (const unsigned char *)"abc", 3), 0);
    t = dane_tlsa_to_text(&r);
    CHECK_STR_EQ(t, "3 1 2 ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    free(t);
    dane_tlsa_clear(&r);
    CHECK_INT_EQ(dane_tlsa_make(&r, 3, 1, 0, (const unsigned char *)"abc", 3), 0);
    t = dane_tlsa_to_text(&r);
    CHECK_STR_EQ(t, "3 1 0 616263");
    free(t);
    dane_tlsa_clear(&r);
    CHECK_INT_EQ(dane_tlsa_make(&r, 3, 2, 1, (const unsigned char *)"abc", 3), DANE_EINVAL);
    CHECK_INT_EQ(dane_tlsa_make(&r, 3, 1, 3, (const unsigned char *)"abc", 3), DANE_EINVAL);
}

static void test_dane_ee(void)
{
    const char *sels[][2] = {
        {"3 1 1", "spki-sha256"}, {"3 0 1", "cert-sha256"}, {"3 1 2", "spki-sha512"}};
    for (int i = 0; i < 3; i++) {
        struct dane_tlsa r = rec_hash(sels[i][0], "ec-leaf", sels[i][1]);
        struct dane_verdict v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
        CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
        CHECK_INT_EQ(v.record, 0);
        CHECK_INT_EQ(v.depth, 0);
        CHECK_INT_EQ(v.usage, 3);
        CHECK(strstr(v.reason, "the leaf (DANE-EE") != NULL);
        dane_tlsa_clear(&r);
    }
    struct dane_tlsa full[2] = {rec_cert(3, 0, 0, "rsa-leaf"), rec_cert(3, 1, 0, "rsa-leaf")};
    for (int i = 0; i < 2; i++) {
        struct dane_verdict v =
            run(&full[i], 1, "rsa-leaf rsa-int", "rsa.example.test", NULL, T_2030);
        CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
        CHECK_INT_EQ(v.mtype, 0);
    }
    clear_all(full, 2);

    /* the issuer's key under usage 3: DANE-EE looks at the leaf only */
    struct dane_tlsa r = rec_hash("3 1 1", "ec-int", "spki-sha256");
    struct dane_verdict v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK_INT_EQ(v.record, -1);
    CHECK_INT_EQ(v.depth, -1);
    CHECK(strstr(v.reason, "no TLSA record matches") != NULL);
    CHECK(strstr(v.reason, read_text("ec-leaf", "spki-sha256")) != NULL); /* the leaf's key */
    CHECK(strstr(v.reason, "3 1 1 ") != NULL);
    dane_tlsa_clear(&r);
}

/* RFC 7671 §5.1: no name, date or issuer checks under DANE-EE. */
static void test_dane_ee_ignores_name_dates_issuer(void)
{
    struct dane_tlsa r = rec_hash("3 1 1", "expired-leaf", "spki-sha256");
    struct dane_verdict v = run(&r, 1, "expired-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    dane_tlsa_clear(&r);

    r = rec_hash("3 1 1", "wrong-name", "spki-sha256");
    v = run(&r, 1, "wrong-name ec-int", "www.example.test", NULL, T_2050);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    dane_tlsa_clear(&r);

    r = rec_hash("3 0 1", "self", "cert-sha256");
    v = run(&r, 1, "self", NULL, NULL, T_2019);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    dane_tlsa_clear(&r);

    r = rec_hash("3 1 1", "rogue-leaf", "spki-sha256"); /* chain nonsense after the leaf */
    v = run(&r, 1, "rogue-leaf ec-int rsa-root", "x.invalid", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    dane_tlsa_clear(&r);
}

static void test_dane_ta(void)
{
    struct dane_tlsa r = rec_hash("2 1 1", "ec-int", "spki-sha256");
    struct dane_verdict v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 1);
    CHECK_INT_EQ(v.usage, 2);
    v = run(&r, 1, "ec-leaf ec-int", "ALT.example.test.", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    /* the name must match */
    v = run(&r, 1, "ec-leaf ec-int", "mail.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "not for mail.example.test") != NULL);
    CHECK(strstr(v.reason, "www.example.test, alt.example.test") != NULL);
    v = run(&r, 1, "ec-leaf ec-int", NULL, NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    /* no CN fallback when a dNSName is present (the CN is www.example.test) */
    v = run(&r, 1, "wrong-name ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    v = run(&r, 1, "wrong-name ec-int", "other.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    /* CN when there is no SAN */
    v = run(&r, 1, "cn-only ec-int", "cn.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    /* wildcard */
    v = run(&r, 1, "wild ec-int", "a.wild.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    v = run(&r, 1, "wild ec-int", "a.b.wild.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    v = run(&r, 1, "wild ec-int", "wild.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    /* a leaf the matched certificate did not sign */
    v = run(&r, 1, "rogue-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "does not chain to it") != NULL);
    /* dates of the leaf count under DANE-TA */
    v = run(&r, 1, "expired-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "expired") != NULL);
    v = run(&r, 1, "expired-leaf ec-int", "www.example.test", NULL, T_2020);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    /* a PKIX trust store changes nothing, the issuer's key absent fails */
    v = run(&r, 1, "ec-leaf", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    dane_tlsa_clear(&r);

    /* the root, presented, at depth 2; and SHA-512 of the certificate */
    r = rec_cert(2, 0, 2, "ec-root");
    v = run(&r, 1, "ec-leaf ec-int ec-root", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 2);
    /* a same-named root of another PKI does not pass */
    v = run(&r, 1, "rogue-leaf ec-int ec-root", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    /* the anchor's own dates do not count (DNS vouches for it): all but it valid in 2020 */
    v = run(&r, 1, "ec-leaf ec-int ec-root", "www.example.test", NULL, T_2020);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    dane_tlsa_clear(&r);

    /* usage 2 never matches the leaf itself */
    r = rec_hash("2 1 1", "ec-leaf", "spki-sha256");
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "matches the public key of the leaf itself, but a DANE-TA") != NULL);
    CHECK(strstr(v.reason, "self-signed") == NULL);
    dane_tlsa_clear(&r);

    /* RSA */
    r = rec_hash("2 1 2", "rsa-int", "spki-sha512");
    v = run(&r, 1, "rsa-leaf rsa-int rsa-root", "rsa.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 1);
    v = run(&r, 1, "ec-leaf rsa-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    dane_tlsa_clear(&r);
    r = rec_hash("2 0 1", "rsa-root", "cert-sha256");
    v = run(&r, 1, "rsa-leaf rsa-int rsa-root", "rsa.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 2);
    dane_tlsa_clear(&r);
}

/* RFC 7671 §5.2.2-5.2.3: "2 0 0" and "2 1 0" bring the anchor themselves. */
static void test_dane_ta_supplied_anchor(void)
{
    struct dane_tlsa r = rec_cert(2, 0, 0, "ec-root");
    struct dane_verdict v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 2);
    CHECK(strstr(v.reason, "did not send") != NULL);
    v = run(&r, 1, "ec-direct", "direct.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 1);
    v = run(&r, 1, "ec-direct", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2050);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    v = run(&r, 1, "rogue-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    v = run(&r, 1, "ec-leaf", "www.example.test", NULL, T_2030); /* intermediate missing */
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    dane_tlsa_clear(&r);

    /* a bare key reports the depth of the certificate it signed, as OpenSSL's
     * SSL_get0_dane_authority() does (a "2 0 0" certificate above: depth 2) */
    r = rec_cert(2, 1, 0, "ec-root");
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 1);
    CHECK(strstr(v.reason, "signed the certificate at depth 1") != NULL);
    dane_tlsa_clear(&r);

    r = rec_cert(2, 1, 0, "ec-int"); /* the leaf alone, signed by the record's key */
    v = run(&r, 1, "ec-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 0);
    CHECK(strstr(v.reason, "it signed the leaf") != NULL);
    v = run(&r, 1, "expired-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "expired") != NULL);
    v = run(&r, 1, "wrong-name", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    dane_tlsa_clear(&r);

    r = rec_cert(2, 0, 0, "rsa-root");
    v = run(&r, 1, "rsa-leaf rsa-int", "rsa.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 2);
    dane_tlsa_clear(&r);
    r = rec_cert(2, 1, 0, "rsa-root");
    v = run(&r, 1, "rsa-leaf rsa-int", "rsa.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 1);
    dane_tlsa_clear(&r);
    r = rec_cert(2, 0, 0, "rsa-root");
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    dane_tlsa_clear(&r);

    r = rec_text("2 1 0 3059301306072a8648ce3d020106082a8648ce3d030107034200"); /* a broken key */
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "not a public key") != NULL);
    dane_tlsa_clear(&r);
}

static void test_pkix_ee(void)
{
    struct dane_tlsa r = rec_hash("1 1 1", "ec-leaf", "spki-sha256");
    struct dane_verdict v = run(&r, 1, "ec-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 0);
    CHECK_INT_EQ(v.usage, 1);
    CHECK(strstr(v.reason, "PKIX trust store") != NULL);
    /* no trust store */
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "need a PKIX trust store") != NULL);
    /* a trust store without our root */
    mbedtls_x509_crt *other = chain_of("rsa-root");
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", other, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "PKIX validation failed") != NULL);
    free_chain(other);
    /* the intermediate missing */
    v = run(&r, 1, "ec-leaf", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    /* the name */
    v = run(&r, 1, "ec-leaf ec-int", "mail.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "not for mail.example.test") != NULL);
    dane_tlsa_clear(&r);
    /* serverAuth */
    r = rec_hash("1 1 1", "client-leaf", "spki-sha256");
    v = run(&r, 1, "client-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "key usage") != NULL);
    dane_tlsa_clear(&r);
    /* a certificate other than the leaf does not satisfy usage 1 */
    r = rec_hash("1 1 1", "ec-int", "spki-sha256");
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    dane_tlsa_clear(&r);
    /* RSA, SHA-512 */
    r = rec_hash("1 1 2", "rsa-leaf", "spki-sha512");
    v = run(&r, 1, "rsa-leaf rsa-int", "rsa.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    dane_tlsa_clear(&r);
    /* a self-signed leaf the trust store holds */
    mbedtls_x509_crt *self = chain_of("self");
    r = rec_hash("1 0 1", "self", "cert-sha256");
    v = run(&r, 1, "self", "self.example.test", self, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    v = run(&r, 1, "self", "self.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    free_chain(self);
    dane_tlsa_clear(&r);
}

static void test_pkix_ta(void)
{
    /* the root from the trust store, not presented */
    struct dane_tlsa r = rec_hash("0 1 1", "ec-root", "spki-sha256");
    struct dane_verdict v = run(&r, 1, "ec-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 2);
    CHECK_INT_EQ(v.usage, 0);
    /* another root's PKI validates but the record names ours */
    v = run(&r, 1, "rsa-leaf rsa-int", "rsa.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    /* the wildcard, under PKIX */
    v = run(&r, 1, "wild ec-int", "x.wild.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    dane_tlsa_clear(&r);
    r = rec_hash("0 0 1", "ec-int", "cert-sha256");
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 1);
    dane_tlsa_clear(&r);
    /* usage 0 does not match the leaf */
    r = rec_hash("0 1 1", "ec-leaf", "spki-sha256");
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    dane_tlsa_clear(&r);
}

/* RFC 7671 §5.4: a "0 0 0" record may supply a missing intermediate. */
static void test_pkix_000_supplies_intermediate(void)
{
    struct dane_tlsa r[2] = {rec_cert(0, 0, 0, "ec-int"),
                             rec_hash("1 1 1", "ec-leaf", "spki-sha256")};
    struct dane_verdict v = run(r, 2, "ec-leaf", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    v = run(r, 1, "ec-leaf", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.record, 0);
    CHECK_INT_EQ(v.depth, 1);
    v = run(r + 1, 1, "ec-leaf", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    clear_all(r, 2);
}

/* The time is a parameter; mbedTLS's real-clock verdicts are overridden. */
static void test_time_injection(void)
{
    struct dane_tlsa ee = rec_hash("3 1 1", "expired-leaf", "spki-sha256");
    struct dane_tlsa pkix = rec_hash("1 1 1", "expired-leaf", "spki-sha256");
    struct dane_verdict v = run(&ee, 1, "expired-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    v = run(&pkix, 1, "expired-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "expired at 2021-01-01") != NULL);
    CHECK(strstr(v.reason, "checked at 2030-01-01") != NULL);
    /* expired by the real clock, valid at the time given */
    v = run(&pkix, 1, "expired-leaf ec-int", "www.example.test", &trust, T_2020);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    dane_tlsa_clear(&ee);
    dane_tlsa_clear(&pkix);
    /* valid by the real clock, not at the time given */
    pkix = rec_hash("1 1 1", "ec-leaf", "spki-sha256");
    v = run(&pkix, 1, "ec-leaf ec-int", "www.example.test", &trust, T_2050);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    v = run(&pkix, 1, "ec-leaf ec-int", "www.example.test", &trust, T_2019);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "not valid before") != NULL);
    dane_tlsa_clear(&pkix);
}

/* RFC 7671 §9: per usage and selector only the strongest digest counts. */
static void test_digest_agility(void)
{
    struct dane_tlsa good256 = rec_hash("3 1 1", "ec-leaf", "spki-sha256");
    struct dane_tlsa good512 = rec_hash("3 1 2", "ec-leaf", "spki-sha512");
    struct dane_tlsa bad256 = rec_hash("3 1 1", "rsa-leaf", "spki-sha256");
    struct dane_tlsa bad512 = rec_hash("3 1 2", "rsa-leaf", "spki-sha512");
    struct dane_tlsa bad512c = rec_text("3 0 2 " A_ZERO A_ZERO);
    struct dane_tlsa bad512ta = rec_text("2 1 2 " A_ZERO A_ZERO);
    struct dane_tlsa short512 = rec_text("3 1 2 " A_ZERO); /* malformed, unusable */
    struct dane_tlsa full = rec_cert(3, 1, 0, "ec-leaf");
    struct dane_verdict v;

    struct dane_tlsa set1[2] = {good256, bad512}; /* SHA-256 ignored: a SHA-512 exists */
    v = run(set1, 2, "ec-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "ignored: a stronger digest") != NULL);
    struct dane_tlsa set2[2] = {bad256, good512};
    v = run(set2, 2, "ec-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.record, 1);
    struct dane_tlsa set3[2] = {bad512c, good256}; /* other selector: no effect */
    v = run(set3, 2, "ec-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    struct dane_tlsa set4[2] = {bad512ta, good256}; /* other usage: no effect */
    v = run(set4, 2, "ec-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    struct dane_tlsa set5[2] = {bad512, full}; /* matching type 0 always counts */
    v = run(set5, 2, "ec-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.record, 1);
    struct dane_tlsa set6[2] = {short512, good256}; /* an unusable SHA-512 supersedes nothing */
    v = run(set6, 2, "ec-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    struct dane_tlsa set7[3] = {good256, bad512, good512};
    v = run(set7, 3, "ec-leaf", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.record, 2);

    dane_tlsa_clear(&good256);
    dane_tlsa_clear(&good512);
    dane_tlsa_clear(&bad256);
    dane_tlsa_clear(&bad512);
    dane_tlsa_clear(&bad512c);
    dane_tlsa_clear(&bad512ta);
    dane_tlsa_clear(&short512);
    dane_tlsa_clear(&full);
}

/* RFC 7671 §8.1: old and new published side by side; either is enough. */
static void test_rollover(void)
{
    struct dane_tlsa r[3] = {rec_hash("3 1 1", "rsa-leaf", "spki-sha256"),
                             rec_hash("3 1 1", "ec-leaf", "spki-sha256"),
                             rec_hash("2 1 1", "ec-int", "spki-sha256")};
    struct dane_verdict v = run(r, 2, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.record, 1);
    v = run(r, 2, "rsa-leaf rsa-int", "rsa.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.record, 0);
    v = run(r, 2, "self", "self.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    /* a new leaf under the same issuer: the 3 1 1 records miss, the 2 1 1 holds */
    v = run(r, 3, "wild ec-int", "new.wild.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.record, 2);
    clear_all(r, 3);
}

/* RFC 7671 §4.1: unusable records are ignored; none usable is "no DANE". */
static void test_unusable_only(void)
{
    char text[256];
    struct dane_tlsa r[5];
    snprintf(text, sizeof(text), "4 1 1 %s", read_text("ec-leaf", "spki-sha256"));
    r[0] = rec_text(text); /* would match, but usage 4 is unknown */
    r[1] = rec_text("3 2 1 " A_ZERO);
    r[2] = rec_text("3 1 3 " A_ZERO);
    r[3] = rec_text("3 1 1 " A_ZERO "00");
    r[4] = rec_hash("3 1 1", "ec-leaf", "spki-sha256");
    struct dane_verdict v = run(r, 4, "ec-leaf", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_NO_USABLE);
    CHECK(strstr(v.reason, "no usable TLSA records") != NULL);
    CHECK(strstr(v.reason, "3 1 3 ") != NULL);
    v = run(r, 0, "ec-leaf", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_NO_USABLE);
    v = run(r, 5, "ec-leaf", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.record, 4);
    v = run(r + 1, 4, "rsa-leaf", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "(unusable)") != NULL);
    clear_all(r, 5);
}

static void test_bad_arguments(void)
{
    struct dane_tlsa r = rec_hash("3 1 1", "ec-leaf", "spki-sha256");
    struct dane_verdict v;
    CHECK_INT_EQ(dane_verify(&r, 1, NULL, "www.example.test", NULL, T_2030, NULL), DANE_EINVAL);
    CHECK_INT_EQ(dane_verify(NULL, 1, NULL, "www.example.test", NULL, T_2030, &v), DANE_EINVAL);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL); /* fails closed */
    CHECK(strstr(v.reason, "internal error") != NULL);
    CHECK_INT_EQ(dane_verify(&r, 1, NULL, "www.example.test", NULL, T_2030, &v), 0);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "no certificate") != NULL);
    mbedtls_x509_crt empty;
    mbedtls_x509_crt_init(&empty);
    CHECK_INT_EQ(dane_verify(&r, 1, &empty, "www.example.test", NULL, T_2030, &v), 0);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK_STR_EQ(dane_result_name(DANE_RESULT_NO_USABLE), "no usable records");
    dane_tlsa_clear(&r);
}

static void test_name_rules(void)
{
#define NM(p, h) name_matches(p, strlen(p), h, strlen(h))
    CHECK_INT_EQ(NM("www.example.com", "www.example.com"), 1);
    CHECK_INT_EQ(NM("WWW.Example.COM", "www.example.com."), 1);
    CHECK_INT_EQ(NM("www.example.com.", "www.example.com"), 1);
    CHECK_INT_EQ(NM("www.example.com", "example.com"), 0);
    CHECK_INT_EQ(NM("*.example.com", "a.example.com"), 1);
    CHECK_INT_EQ(NM("*.example.com", "example.com"), 0);
    CHECK_INT_EQ(NM("*.example.com", "a.b.example.com"), 0);
    CHECK_INT_EQ(NM("*.example.com", ".example.com"), 0);
    CHECK_INT_EQ(NM("*.com", "example.com"), 0);
    CHECK_INT_EQ(NM("f*.example.com", "foo.example.com"), 0);
    CHECK_INT_EQ(NM("*oo.example.com", "foo.example.com"), 0);
    CHECK_INT_EQ(NM("www.*.example.com", "www.a.example.com"), 0);
    CHECK_INT_EQ(NM("*.*.example.com", "a.b.example.com"), 0);
    CHECK_INT_EQ(NM("*.example.com", "*.example.com"), 0);
    CHECK_INT_EQ(NM("", "example.com"), 0);
    CHECK_INT_EQ(name_matches("www.example.com\0x", 17, "www.example.com", 15), 0);
#undef NM
    mbedtls_x509_crt *c = chain_of("wild");
    CHECK_INT_EQ(dane_cert_name_matches(c, "A.Wild.Example.Test."), 1);
    CHECK_INT_EQ(dane_cert_name_matches(c, "wild.example.test"), 0);
    CHECK_INT_EQ(dane_cert_name_matches(c, NULL), 0);
    free_chain(c);
    c = chain_of("cn-only");
    CHECK_INT_EQ(dane_cert_name_matches(c, "cn.example.test"), 1);
    CHECK_INT_EQ(dane_cert_name_matches(c, "www.example.test"), 0);
    free_chain(c);
}

/* dane_pkix_verify(): intercept: all's check for hosts without DANE. */
static struct dane_verdict run_pkix(const char *chain, const char *host, const mbedtls_x509_crt *ts,
                                    time_t now)
{
    struct dane_verdict v;
    mbedtls_x509_crt *c = chain_of(chain);
    int rc = dane_pkix_verify(c, host, ts, now, &v);
    if (rc != 0)
        fprintf(stderr, "  dane_pkix_verify: %s\n", dane_strerror(rc));
    if (getenv("DANE_TEST_VERBOSE"))
        fprintf(stderr, "  [%s] %s\n", dane_result_name(v.result), v.reason);
    free_chain(c);
    return v;
}

static void test_pkix_alone(void)
{
    struct dane_verdict v = run_pkix("ec-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK(strstr(v.reason, "PKIX trust store") != NULL);
    CHECK_INT_EQ(run_pkix("ec-leaf ec-int", "ALT.example.test.", &trust, T_2030).result,
                 DANE_RESULT_MATCH);
    CHECK_INT_EQ(run_pkix("rsa-leaf rsa-int", "rsa.example.test", &trust, T_2030).result,
                 DANE_RESULT_MATCH);
    /* serverAuth: mbedtls_x509_crt_verify() alone does not look at it */
    v = run_pkix("client-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "key usage") != NULL);
    /* a wildcard over a TLD: mbedTLS's own name check takes it, RFC 6125 does not */
    mbedtls_x509_crt *c = chain_of("tld-wild ec-int");
    uint32_t flags = 0;
    CHECK_INT_EQ(mbedtls_x509_crt_verify(c, &trust, NULL, "example.test", &flags, NULL, NULL), 0);
    free_chain(c);
    v = run_pkix("tld-wild ec-int", "example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "not for example.test") != NULL);
    CHECK_INT_EQ(run_pkix("wild ec-int", "a.wild.example.test", &trust, T_2030).result,
                 DANE_RESULT_MATCH);
    CHECK_INT_EQ(run_pkix("wild ec-int", "a.b.wild.example.test", &trust, T_2030).result,
                 DANE_RESULT_FAIL);
    CHECK_INT_EQ(run_pkix("wrong-name ec-int", "www.example.test", &trust, T_2030).result,
                 DANE_RESULT_FAIL);
    /* the path: another root, an expired leaf, the intermediate missing */
    CHECK_INT_EQ(run_pkix("rogue-leaf", "www.example.test", &trust, T_2030).result,
                 DANE_RESULT_FAIL);
    v = run_pkix("expired-leaf ec-int", "www.example.test", &trust, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "expired") != NULL);
    CHECK_INT_EQ(run_pkix("ec-leaf", "www.example.test", &trust, T_2030).result, DANE_RESULT_FAIL);
    /* what is missing fails */
    CHECK_INT_EQ(run_pkix("ec-leaf ec-int", "www.example.test", NULL, T_2030).result,
                 DANE_RESULT_FAIL);
    CHECK_INT_EQ(run_pkix("ec-leaf ec-int", NULL, &trust, T_2030).result, DANE_RESULT_FAIL);
    CHECK_INT_EQ(dane_pkix_verify(NULL, "www.example.test", &trust, T_2030, &v), 0);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK_INT_EQ(dane_pkix_verify(NULL, "www.example.test", &trust, T_2030, NULL), DANE_EINVAL);
}

/* RFC 7671 §5.2, OpenSSL, Postfix: a DANE-TA record names an issuer of the
 * leaf, never the leaf itself, self-signed or not; a "2 1 0" key that
 * verifies a self-signed leaf's signature is the one way in (depth 0). */
static void test_dane_ta_self_signed_leaf(void)
{
    const char *forms[][2] = {{"2 1 1", "spki-sha256"}, {"2 0 1", "cert-sha256"},
                              {"2 1 2", "spki-sha512"}};
    for (int k = 0; k < 3; k++) {
        struct dane_tlsa r = rec_hash(forms[k][0], "self", forms[k][1]);
        struct dane_verdict v = run(&r, 1, "self", "self.example.test", NULL, T_2030);
        CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
        CHECK_INT_EQ(v.depth, -1);
        CHECK(strstr(v.reason, "the leaf itself (a self-signed certificate), but a DANE-TA record "
                               "must match a certificate above the leaf") != NULL);
        CHECK(strstr(v.reason, "DANE-EE (3 ") != NULL);
        CHECK(strstr(v.reason, "no TLSA record matches") == NULL);
        /* the leaf sent twice is still only the leaf */
        v = run(&r, 1, "self self", "self.example.test", NULL, T_2030);
        CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
        CHECK(strstr(v.reason, "the leaf itself") != NULL);
        dane_tlsa_clear(&r);
    }
    /* "2 0 0" holding the leaf itself: no anchor of it (OpenSSL: no match) */
    struct dane_tlsa r = rec_cert(2, 0, 0, "self");
    struct dane_verdict v = run(&r, 1, "self", "self.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "matches the leaf itself (a self-signed certificate)") != NULL);
    dane_tlsa_clear(&r);

    /* "2 1 0" with the leaf's own key: the anchor signed it, depth 0, and the
     * DANE-TA checks (name, dates) apply */
    r = rec_cert(2, 1, 0, "self");
    v = run(&r, 1, "self", "self.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 0);
    CHECK_INT_EQ(v.usage, 2);
    CHECK(strstr(v.reason, "it signed the leaf (a self-signed leaf: its own key)") != NULL);
    v = run(&r, 1, "self", "other.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "not for other.example.test") != NULL);
    v = run(&r, 1, "self", "self.example.test", NULL, T_2050);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "expired at 2040-01-01") != NULL);
    /* the same key does not cover a leaf it did not sign */
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    dane_tlsa_clear(&r);

    /* a "2 1 0" of a leaf that is not self-signed: the leaf itself, no match */
    r = rec_cert(2, 1, 0, "ec-leaf");
    v = run(&r, 1, "ec-leaf ec-int", "www.example.test", NULL, T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "the leaf itself, but") != NULL);
    dane_tlsa_clear(&r);
}

static struct dane_der read_der(const char *name, const char *ext)
{
    struct dane_der d = {NULL, 0};
    FILE *f = fopen(path_of(name, ext), "rb");
    unsigned char *buf = malloc(1 << 16);
    if (f != NULL && buf != NULL) {
        d.len = fread(buf, 1, 1 << 16, f);
        d.p = buf;
        buf = NULL;
    }
    if (f != NULL)
        fclose(f);
    free(buf);
    if (d.p == NULL)
        fprintf(stderr, "  cannot read %s.%s\n", name, ext);
    return d;
}

static void free_der(struct dane_der *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((void *)d[i].p);
}

/* dane_verify_der() on a chain given by names (DER files). */
static struct dane_verdict run_der(struct dane_tlsa *r, size_t n, const char *chain,
                                   const char *host, time_t now)
{
    struct dane_der d[20];
    size_t nd = 0;
    char copy[256];
    struct dane_verdict v;
    snprintf(copy, sizeof(copy), "%s", chain);
    for (char *c = strtok(copy, " "); c != NULL && nd < 20; c = strtok(NULL, " "))
        d[nd++] = read_der(c, "der");
    int rc = dane_verify_der(r, n, d, nd, host, NULL, now, &v);
    if (rc != 0)
        fprintf(stderr, "  dane_verify_der: %s\n", dane_strerror(rc));
    if (getenv("DANE_TEST_VERBOSE"))
        fprintf(stderr, "  [%s] %s\n", dane_result_name(v.result), v.reason);
    free_der(d, nd);
    return v;
}

/* The SPKI walk finds what openssl finds, on certificates mbedTLS parses and
 * on those it refuses, and refuses anything that is not a whole certificate. */
static void test_der_spki_walk(void)
{
    const char *names[] = {"ec-root", "ec-int",  "ec-leaf",    "rsa-root",   "rsa-leaf",
                           "self",    "wild",    "anon-never", "anon-leaf", "anon-ca", "ed25519"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        struct dane_der der = read_der(names[k], "der"), want = read_der(names[k], "spki.der");
        const unsigned char *spki = NULL;
        size_t len = 0;
        CHECK_INT_EQ(dane_cert_der_spki(der.p, der.len, &spki, &len), 0);
        CHECK_INT_EQ(len, want.len);
        if (spki != NULL && len == want.len)
            CHECK_MEM_EQ(spki, want.p, len);
        free_der(&der, 1);
        free_der(&want, 1);
    }
    struct dane_der der = read_der("anon-never", "der");
    const unsigned char *spki;
    size_t len;
    /* every strict prefix, each copied to its own allocation so that ASan
     * sees any read past its end */
    for (size_t cut = 0; cut < der.len; cut++) {
        unsigned char *part = malloc(cut ? cut : 1);
        memcpy(part, der.p, cut);
        CHECK_INT_EQ(dane_cert_der_spki(part, cut, &spki, &len), DANE_ECERT);
        free(part);
    }
    unsigned char *more = malloc(der.len + 1);
    memcpy(more, der.p, der.len);
    more[der.len] = 0;
    CHECK_INT_EQ(dane_cert_der_spki(more, der.len + 1, &spki, &len), DANE_ECERT); /* trailing */
    more[0] = 0x31; /* a SET, not a SEQUENCE */
    CHECK_INT_EQ(dane_cert_der_spki(more, der.len, &spki, &len), DANE_ECERT);
    free(more);
    /* a serial number tagged [2], which mbedTLS also reads */
    struct dane_der leaf = read_der("ec-leaf", "der"), leaf_key = read_der("ec-leaf", "spki.der");
    unsigned char *tagged = malloc(leaf.len);
    memcpy(tagged, leaf.p, leaf.len);
    CHECK_INT_EQ(tagged[13],
                 MBEDTLS_ASN1_INTEGER); /* after 30 82 LL LL 30 82 LL LL a0 03 02 01 02 */
    tagged[13] = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2;
    CHECK_INT_EQ(dane_cert_der_spki(tagged, leaf.len, &spki, &len), 0);
    CHECK_INT_EQ(len, leaf_key.len);
    free(tagged);
    free_der(&leaf, 1);
    free_der(&leaf_key, 1);
    CHECK_INT_EQ(dane_cert_der_spki(NULL, 3, &spki, &len), DANE_EINVAL);
    CHECK_INT_EQ(dane_cert_der_spki(der.p, der.len, NULL, &len), DANE_EINVAL);
    struct dane_der key = read_der("anon-never", "spki.der"); /* a key is no certificate */
    CHECK_INT_EQ(dane_cert_der_spki(key.p, key.len, &spki, &len), DANE_ECERT);
    free_der(&key, 1);
    free_der(&der, 1);
}

/* Certificates mbedTLS 2.28 cannot parse: DANE-EE needs only their bytes
 * (RFC 7671 §5.1); every other usage fails, saying why. */
static void test_unparsable_dane_ee(void)
{
    const char *names[] = {"anon-never", "anon-leaf", "anon-ca", "ed25519"};
    for (size_t k = 0; k < 4; k++) {
        /* the premise: mbedTLS refuses it, with a certificate parse error */
        struct dane_der der = read_der(names[k], "der");
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        int ret = mbedtls_x509_crt_parse_der(&crt, der.p, der.len);
        CHECK(ret != 0);
        CHECK_INT_EQ(dane_cert_parse_error(ret), 1);
        mbedtls_x509_crt_free(&crt);
        free_der(&der, 1);

        const char *forms[][2] = {{"3 1 1", "spki-sha256"}, {"3 0 1", "cert-sha256"},
                                  {"3 1 2", "spki-sha512"}};
        for (int f = 0; f < 3; f++) {
            struct dane_tlsa r = rec_hash(forms[f][0], names[k], forms[f][1]);
            struct dane_verdict v = run_der(&r, 1, names[k], "www.example.test", T_2030);
            CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
            CHECK_INT_EQ(v.depth, 0);
            CHECK_INT_EQ(v.usage, 3);
            CHECK(strstr(v.reason, "mbedTLS cannot parse the leaf") != NULL);
            dane_tlsa_clear(&r);
        }
        /* matching types 0: the whole DER and the whole SPKI */
        struct dane_der full = read_der(names[k], "der"), key = read_der(names[k], "spki.der");
        struct dane_tlsa r[2] = {{0}, {0}};
        CHECK_INT_EQ(dane_tlsa_make(&r[0], 3, 0, 0, full.p, full.len), 0);
        CHECK_INT_EQ(dane_tlsa_make(&r[1], 3, 1, 0, key.p, key.len), 0);
        for (int f = 0; f < 2; f++) {
            struct dane_verdict v = run_der(&r[f], 1, names[k], NULL, T_2019);
            CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
        }
        clear_all(r, 2);
        free_der(&full, 1);
        free_der(&key, 1);

        /* a record for another key fails, with the leaf's key and why */
        struct dane_tlsa other = rec_hash("3 1 1", "ec-leaf", "spki-sha256");
        struct dane_verdict v = run_der(&other, 1, names[k], "www.example.test", T_2030);
        CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
        CHECK_INT_EQ(v.record, -1);
        CHECK(strstr(v.reason, "no TLSA record matches the chain") != NULL);
        CHECK(strstr(v.reason, "mbedTLS cannot parse the certificate at depth 0") != NULL);
        CHECK(strstr(v.reason, read_text(names[k], "spki-sha256")) != NULL);
        dane_tlsa_clear(&other);
    }
    /* "anonymous, never valid" at any time */
    struct dane_tlsa r = rec_hash("3 1 1", "anon-never", "spki-sha256");
    time_t times[] = {T_2019, T_2020, T_2030, T_2050};
    for (int t = 0; t < 4; t++)
        CHECK_INT_EQ(run_der(&r, 1, "anon-never", "x.test", times[t]).result, DANE_RESULT_MATCH);
    dane_tlsa_clear(&r);

    /* DANE-TA over a chain mbedTLS cannot parse: refused, saying so, even
     * where the record matches a certificate's bytes */
    r = rec_hash("2 1 1", "anon-ca", "spki-sha256");
    struct dane_verdict v = run_der(&r, 1, "anon-leaf anon-ca", "www.example.test", T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "DANE-TA and PKIX records need a certificate chain mbedTLS can parse") !=
          NULL);
    CHECK(strstr(v.reason, "(X509 - ") != NULL);
    dane_tlsa_clear(&r);
    /* ... and an unparsable certificate above a good leaf blocks DANE-TA too,
     * but not DANE-EE */
    struct dane_tlsa two[2] = {rec_hash("2 1 1", "ec-int", "spki-sha256"),
                               rec_hash("3 1 1", "ec-leaf", "spki-sha256")};
    v = run_der(two, 1, "ec-leaf ec-int anon-never", "www.example.test", T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "cannot parse the certificate at depth 2") != NULL);
    v = run_der(two, 2, "ec-leaf ec-int anon-never", "www.example.test", T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.usage, 3);
    clear_all(two, 2);
    /* PKIX: the same */
    r = rec_hash("1 1 1", "anon-never", "spki-sha256");
    v = run_der(&r, 1, "anon-never", "www.example.test", T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "need a certificate chain mbedTLS can parse") != NULL);
    dane_tlsa_clear(&r);
}

/* dane_verify_der() on chains mbedTLS parses: the same verdicts as
 * dane_verify(); and bad input. */
static void test_verify_der(void)
{
    struct dane_tlsa r = rec_hash("2 1 1", "ec-int", "spki-sha256");
    struct dane_verdict v = run_der(&r, 1, "ec-leaf ec-int", "www.example.test", T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 1);
    v = run_der(&r, 1, "ec-leaf ec-int", "mail.example.test", T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "not for mail.example.test") != NULL);
    v = run_der(&r, 1, "expired-leaf ec-int", "www.example.test", T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    dane_tlsa_clear(&r);
    r = rec_cert(2, 0, 0, "ec-root");
    v = run_der(&r, 1, "ec-leaf ec-int", "www.example.test", T_2030);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    CHECK_INT_EQ(v.depth, 2);
    dane_tlsa_clear(&r);

    r = rec_hash("3 1 1", "ec-leaf", "spki-sha256");
    /* not a certificate at all */
    const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    struct dane_der d[17];
    d[0] = (struct dane_der){junk, sizeof(junk)};
    CHECK_INT_EQ(dane_verify_der(&r, 1, d, 1, "x.test", NULL, T_2030, &v), 0);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    CHECK(strstr(v.reason, "depth 0 is not a DER X.509 certificate") != NULL);
    CHECK_INT_EQ(dane_verify_der(&r, 1, d, 0, "x.test", NULL, T_2030, &v), 0);
    CHECK(strstr(v.reason, "no certificate") != NULL);
    CHECK_INT_EQ(dane_verify_der(&r, 1, NULL, 2, "x.test", NULL, T_2030, &v), DANE_EINVAL);
    CHECK_INT_EQ(v.result, DANE_RESULT_FAIL);
    struct dane_der leaf = read_der("ec-leaf", "der");
    for (int k = 0; k < 17; k++)
        d[k] = leaf;
    CHECK_INT_EQ(dane_verify_der(&r, 1, d, 17, "x.test", NULL, T_2030, &v), 0);
    CHECK(strstr(v.reason, "more than 16") != NULL);
    CHECK_INT_EQ(dane_verify_der(&r, 1, d, 16, "x.test", NULL, T_2030, &v), 0);
    CHECK_INT_EQ(v.result, DANE_RESULT_MATCH);
    free_der(&leaf, 1);
    dane_tlsa_clear(&r);
}

/* The handshake side: which mbedTLS codes mean "the peer's certificate does
 * not parse", and the words for it. */
static void test_parse_error_codes(void)
{
    CHECK_INT_EQ(
        dane_cert_parse_error(MBEDTLS_ERR_X509_INVALID_NAME + MBEDTLS_ERR_ASN1_OUT_OF_DATA), 1);
    CHECK_INT_EQ(dane_cert_parse_error(MBEDTLS_ERR_X509_INVALID_DATE), 1);
    CHECK_INT_EQ(
        dane_cert_parse_error(MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG + MBEDTLS_ERR_OID_NOT_FOUND), 1);
    CHECK_INT_EQ(dane_cert_parse_error(MBEDTLS_ERR_PK_UNKNOWN_PK_ALG), 1);
    CHECK_INT_EQ(dane_cert_parse_error(MBEDTLS_ERR_X509_CERT_VERIFY_FAILED), 0);
    CHECK_INT_EQ(dane_cert_parse_error(MBEDTLS_ERR_X509_ALLOC_FAILED), 0);
    CHECK_INT_EQ(dane_cert_parse_error(-0x7280), 0); /* MBEDTLS_ERR_SSL_CONN_EOF */
    CHECK_INT_EQ(dane_cert_parse_error(-0x0060), 0); /* a bare ASN.1 code */
    CHECK_INT_EQ(dane_cert_parse_error(0), 0);
    CHECK_INT_EQ(dane_cert_parse_error(1), 0);
    char buf[512];
    dane_cert_unparsable_reason(buf, sizeof(buf),
                                MBEDTLS_ERR_X509_INVALID_NAME + MBEDTLS_ERR_ASN1_OUT_OF_DATA);
    CHECK(strstr(buf, "the server's certificate cannot be parsed by mbedTLS (X509 - ") != NULL);
    CHECK(strstr(buf, "-0x23e0") != NULL);
    volatile size_t small = 20; /* truncation on purpose: keep the compiler's warning out */
    dane_cert_unparsable_reason(buf, small, MBEDTLS_ERR_X509_INVALID_NAME);
    CHECK_INT_EQ(strlen(buf), 19);
}

int main(void)
{
    char cmd[2 * PATH_MAX + 64], script[PATH_MAX];
    const char *src = __FILE__; /* tests/unit/test_dane.c, relative to where make ran */
    const char *slash = strrchr(src, '/');

    snprintf(script, sizeof(script), "%.*sdane_certs.sh", slash ? (int)(slash - src + 1) : 0, src);
    snprintf(dir, sizeof(dir), "/tmp/dane-unit.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", script, dir);
    if (system(cmd) != 0) {
        printf("FAIL dane_certs: %s did not make the certificates\n", script);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void)system(cmd);
        return 1;
    }
    mbedtls_x509_crt_init(&trust);
    if (mbedtls_x509_crt_parse_file(&trust, path_of("ec-root", "pem")) != 0 ||
        mbedtls_x509_crt_parse_file(&trust, path_of("rsa-root", "pem")) != 0)
        printf("FAIL trust_store: cannot load the test roots\n");

    UNIT_RUN(test_parse_text);
    UNIT_RUN(test_parse_rdata);
    UNIT_RUN(test_usable);
    UNIT_RUN(test_make_matches_openssl);
    UNIT_RUN(test_dane_ee);
    UNIT_RUN(test_dane_ee_ignores_name_dates_issuer);
    UNIT_RUN(test_dane_ta);
    UNIT_RUN(test_dane_ta_supplied_anchor);
    UNIT_RUN(test_pkix_ee);
    UNIT_RUN(test_pkix_ta);
    UNIT_RUN(test_pkix_000_supplies_intermediate);
    UNIT_RUN(test_time_injection);
    UNIT_RUN(test_digest_agility);
    UNIT_RUN(test_rollover);
    UNIT_RUN(test_unusable_only);
    UNIT_RUN(test_bad_arguments);
    UNIT_RUN(test_name_rules);
    UNIT_RUN(test_pkix_alone);
    UNIT_RUN(test_dane_ta_self_signed_leaf);
    UNIT_RUN(test_der_spki_walk);
    UNIT_RUN(test_unparsable_dane_ee);
    UNIT_RUN(test_verify_der);
    UNIT_RUN(test_parse_error_codes);

    mbedtls_x509_crt_free(&trust);
    if (!getenv("DANE_TEST_KEEP")) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    } else {
        fprintf(stderr, "certificates kept in %s\n", dir);
    }
    return UNIT_END();
}
