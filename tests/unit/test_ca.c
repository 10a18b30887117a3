/* tests/unit/test_ca.c — the local CA: creation, file modes, reloading and its
 * refusals, minted leaves checked by mbedTLS and by the openssl CLI, the LRU
 * cache (hits, eviction, renewal), and ownership of minted chains.
 *
 * With arguments it is also the e2e tests' minting tool:
 *   test_ca --mint CADIR HOST OUTDIR
 * opens (or creates) the CA in CADIR, mints a leaf for HOST and writes
 * OUTDIR/leaf.pem, OUTDIR/chain.pem (leaf + CA) and OUTDIR/key.pem (leaf key,
 * mode 0600); prints the CA's SPKI SHA-256 (base64) on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "ca.h"
#include "unit.h"

static char base_dir[64];
static int dir_seq;

/* A fresh directory name (not created) under base_dir. */
static const char *new_dir(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/ca%d/sub", base_dir, ++dir_seq);
    return buf;
}

static mode_t file_mode(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    if (name)
        snprintf(path, sizeof path, "%s/%s", dir, name);
    else
        snprintf(path, sizeof path, "%s", dir);
    if (stat(path, &st) != 0)
        return (mode_t)-1;
    return st.st_mode & 07777;
}

static int write_text(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    ssize_t n;
    if (fd < 0)
        return -1;
    n = write(fd, data, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

static int write_leaf_pem(const struct ca_cert *cert, const char *path)
{
    unsigned char pem[4096];
    size_t der_len, olen;
    const unsigned char *der = ca_cert_der(cert, &der_len);
    if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                 der, der_len, pem, sizeof pem, &olen) != 0)
        return -1;
    return write_text(path, pem, strlen((char *)pem), 0644);
}

/* Run a shell command; its output (stdout and stderr) into out. Returns the exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    char full[2048];
    size_t len = 0, n;
    FILE *f;
    int status;

    snprintf(full, sizeof full, "%s 2>&1", cmd);
    if (!(f = popen(full, "r")))
        return -1;
    while (len + 1 < cap && (n = fread(out + len, 1, cap - 1 - len, f)) > 0)
        len += n;
    out[len] = '\0';
    while (fgetc(f) != EOF)
        ;
    status = pclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static struct ca *open_ok(const char *dir, const struct ca_config *cfg, time_t now)
{
    char err[512];
    struct ca *ca = NULL;
    int ret = ca_open(dir, cfg, now, &ca, err, sizeof err);
    if (ret != 0)
        fprintf(stderr, "  ca_open(%s): %s: %s\n", dir, ca_strerror(ret), err);
    CHECK_INT_EQ(ret, 0);
    return ca;
}

static int parse_ca(const struct ca *ca, mbedtls_x509_crt *crt)
{
    size_t len;
    const unsigned char *der = ca_der(ca, &len);
    mbedtls_x509_crt_init(crt);
    return mbedtls_x509_crt_parse_der(crt, der, len);
}

static time_t x509_time(const mbedtls_x509_time *x)
{
    struct tm tm = {0};
    tm.tm_year = x->year - 1900;
    tm.tm_mon = x->mon - 1;
    tm.tm_mday = x->day;
    tm.tm_hour = x->hour;
    tm.tm_min = x->min;
    tm.tm_sec = x->sec;
    return timegm(&tm);
}

/* RFC 5758 3.2: ecdsa-with-SHA256 with no parameters, in both places. mbedTLS
 * 2.28's x509write adds a NULL there, which Chromium refuses. */
static int ecdsa_alg_ok(const unsigned char *der, size_t len)
{
    static const unsigned char good[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                         0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
    static const unsigned char bad[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                        0x3d, 0x04, 0x03, 0x02, 0x05, 0x00};
    size_t i, n = 0;
    for (i = 0; i + sizeof good <= len; i++) {
        n += memcmp(der + i, good, sizeof good) == 0;
        if (i + sizeof bad <= len && memcmp(der + i, bad, sizeof bad) == 0)
            return 0;
    }
    return n == 2;
}

/* Does crt's subjectAltName hold exactly one entry with this tag and value? */
static int san_is(const mbedtls_x509_crt *crt, int tag, const void *val, size_t len)
{
    const mbedtls_x509_sequence *s = &crt->subject_alt_names;
    return s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | tag) && s->buf.len == len &&
           memcmp(s->buf.p, val, len) == 0 && s->next == NULL;
}

static void test_ca_strerror(void)
{
    CHECK_STR_EQ(ca_strerror(0), "success");
#define CHECK_TEXT(name, value, text) CHECK_STR_EQ(ca_strerror(name), text);
    CA_ERRORS(CHECK_TEXT)
#undef CHECK_TEXT
    CHECK_STR_EQ(ca_strerror(-999), "unknown CA error");
}

static void test_ca_create(void)
{
    char dir[128], parent[160];
    time_t now = time(NULL);
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, now);
    mbedtls_x509_crt crt;
    struct ca_stats st;
    char subject[256];
    size_t pem_len, der_len;

    if (!ca)
        return;
    CHECK_INT_EQ(ca_created(ca), 1);
    CHECK_INT_EQ(file_mode(dir, NULL), 0700);
    snprintf(parent, sizeof parent, "%s/..", dir);
    CHECK_INT_EQ(file_mode(parent, NULL), 0700); /* every directory it made */
    CHECK_INT_EQ(file_mode(dir, "ca.key"), 0600);
    CHECK_INT_EQ(file_mode(dir, "ca.crt"), 0644);
    CHECK(strncmp(ca_pem(ca, &pem_len), "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    CHECK_INT_EQ(pem_len, strlen(ca_pem(ca, NULL)));
    CHECK(ca_der(ca, &der_len)[0] == 0x30 && der_len > 300);
    CHECK(strstr(ca_cert_path(ca), "/sub/ca.crt") != NULL);
    CHECK_INT_EQ(strlen(ca_spki_sha256_b64(ca)), 44);
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.signatures, 1);
    CHECK_INT_EQ(st.capacity, CA_CACHE_ENTRIES_DEFAULT);

    CHECK_INT_EQ(parse_ca(ca, &crt), 0);
    CHECK_INT_EQ(crt.ca_istrue, 1);
    CHECK_INT_EQ(crt.max_pathlen, 1); /* mbedTLS stores pathlen + 1 */
    CHECK_INT_EQ(crt.key_usage, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN);
    CHECK(mbedtls_pk_get_type(&crt.pk) == MBEDTLS_PK_ECKEY);
    CHECK_INT_EQ(mbedtls_pk_get_bitlen(&crt.pk), 256);
    CHECK(crt.sig_md == MBEDTLS_MD_SHA256);
    CHECK(ecdsa_alg_ok(crt.raw.p, crt.raw.len));
    CHECK(crt.serial.len == 16);
    mbedtls_x509_dn_gets(subject, sizeof subject, &crt.subject);
    CHECK(strncmp(subject, "CN=daneguard local CA (", 23) == 0);
    CHECK(strstr(subject, "O=daneguard") != NULL);
    CHECK(crt.subject_raw.len == crt.issuer_raw.len &&
          memcmp(crt.subject_raw.p, crt.issuer_raw.p, crt.subject_raw.len) == 0);
    CHECK(x509_time(&crt.valid_from) <= now);
    CHECK(x509_time(&crt.valid_to) >= now + 3650L * 86400);
    CHECK(x509_time(&crt.valid_to) <= now + 3654L * 86400);
    mbedtls_x509_crt_free(&crt);
    ca_close(ca);
    ca_close(NULL);
}

static void test_ca_reopen_same(void)
{
    char dir[128];
    time_t now = time(NULL);
    struct ca *a = open_ok(new_dir(dir, sizeof dir), NULL, now), *b;
    size_t alen, blen;
    const unsigned char *ader, *bder;

    if (!a)
        return;
    b = open_ok(dir, NULL, now + 86400);
    if (b) {
        CHECK_INT_EQ(ca_created(b), 0);
        ader = ca_der(a, &alen);
        bder = ca_der(b, &blen);
        CHECK_INT_EQ(alen, blen);
        if (alen == blen)
            CHECK_MEM_EQ(ader, bder, alen);
        CHECK_STR_EQ(ca_spki_sha256_b64(a), ca_spki_sha256_b64(b));
        CHECK_STR_EQ(ca_pem(a, NULL), ca_pem(b, NULL));
    }
    ca_close(b);
    ca_close(a);
}

static void test_ca_refuse_open_key(void)
{
    char dir[128], path[256], err[512];
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, time(NULL)), *b = NULL;
    ca_close(ca);
    snprintf(path, sizeof path, "%s/ca.key", dir);
    CHECK_INT_EQ(chmod(path, 0644), 0);
    CHECK_INT_EQ(ca_open(dir, NULL, time(NULL), &b, err, sizeof err), CA_EKEYPERM);
    CHECK(b == NULL);
    CHECK(strstr(err, "ca.key") && strstr(err, "0644") && strstr(err, "chmod 600"));
    CHECK_INT_EQ(chmod(path, 0640), 0);
    CHECK_INT_EQ(ca_open(dir, NULL, time(NULL), &b, err, sizeof err), CA_EKEYPERM);
    CHECK_INT_EQ(chmod(path, 0600), 0);
    CHECK_INT_EQ(ca_open(dir, NULL, time(NULL), &b, err, sizeof err), 0);
    ca_close(b);
}

static void test_ca_refuse_partial_mismatch_expired(void)
{
    char dir[128], dir2[128], path[256], path2[256], err[512];
    time_t now = time(NULL);
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, now), *b = NULL;
    ca_close(ca);
    ca = open_ok(new_dir(dir2, sizeof dir2), NULL, now);
    ca_close(ca);

    /* Valid only from a day before creation to ten years after. */
    CHECK_INT_EQ(ca_open(dir, NULL, now + 11L * 366 * 86400, &b, err, sizeof err), CA_EEXPIRED);
    CHECK(strstr(err, "not now") != NULL);
    CHECK_INT_EQ(ca_open(dir, NULL, now - 3 * 86400, &b, err, sizeof err), CA_EEXPIRED);

    /* Another CA's key next to this certificate. */
    snprintf(path, sizeof path, "%s/ca.key", dir);
    snprintf(path2, sizeof path2, "%s/ca.key", dir2);
    CHECK_INT_EQ(rename(path2, path), 0);
    CHECK_INT_EQ(ca_open(dir, NULL, now, &b, err, sizeof err), CA_EMISMATCH);

    /* A certificate without its key; a garbage certificate. */
    snprintf(path2, sizeof path2, "%s/ca.crt", dir2);
    CHECK_INT_EQ(ca_open(dir2, NULL, now, &b, err, sizeof err), CA_EPARTIAL);
    CHECK(strstr(err, "ca.crt") && strstr(err, "ca.key"));
    CHECK_INT_EQ(unlink(path2), 0);
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    CHECK_INT_EQ(write_text(path, "junk\n", 5, 0644), 0);
    CHECK_INT_EQ(ca_open(dir, NULL, now, &b, err, sizeof err), CA_EPARSE);
    CHECK(b == NULL);

    /* A file where the directory should be. */
    CHECK_INT_EQ(ca_open(path, NULL, now, &b, err, sizeof err), CA_EIO);
    CHECK_INT_EQ(ca_open("", NULL, now, &b, err, sizeof err), CA_EINVAL);
}

/* A leaf for a DNS name: the mbedTLS view of every field the brief asks for. */
static void test_ca_mint_verifies(void)
{
    char dir[128];
    time_t now = time(NULL);
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, now);
    struct ca_cert *cert = NULL;
    mbedtls_x509_crt trust, *leaf;
    uint32_t flags = 0;
    char cn[128];

    if (!ca)
        return;
    CHECK_INT_EQ(ca_mint(ca, "www.example.test", now, &cert), 0);
    CHECK_INT_EQ(parse_ca(ca, &trust), 0);
    if (cert) {
        leaf = ca_cert_chain(cert);
        CHECK(leaf->next != NULL && leaf->next->next == NULL);
        CHECK_INT_EQ(
            mbedtls_x509_crt_verify(leaf, &trust, NULL, "www.example.test", &flags, NULL, NULL), 0);
        CHECK_INT_EQ(flags, 0);
        CHECK(mbedtls_x509_crt_verify(leaf, &trust, NULL, "other.example.test", &flags, NULL,
                                      NULL) != 0);
        CHECK(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH);
        CHECK_INT_EQ(leaf->ca_istrue, 0);
        CHECK_INT_EQ(leaf->key_usage, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
        CHECK_INT_EQ(mbedtls_x509_crt_check_extended_key_usage(
                         leaf, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
                     0);
        CHECK(mbedtls_x509_crt_check_extended_key_usage(
                  leaf, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0);
        CHECK(san_is(leaf, 2, "www.example.test", 16));
        mbedtls_x509_dn_gets(cn, sizeof cn, &leaf->subject);
        CHECK_STR_EQ(cn, "CN=www.example.test");
        CHECK(leaf->issuer_raw.len == trust.subject_raw.len &&
              memcmp(leaf->issuer_raw.p, trust.subject_raw.p, trust.subject_raw.len) == 0);
        CHECK_INT_EQ(leaf->serial.len, 16);
        CHECK(leaf->sig_md == MBEDTLS_MD_SHA256 && leaf->sig_pk == MBEDTLS_PK_ECDSA);
        CHECK(ecdsa_alg_ok(leaf->raw.p, leaf->raw.len));
        CHECK_INT_EQ(x509_time(&leaf->valid_from), now - 3600);
        CHECK_INT_EQ(x509_time(&leaf->valid_to), now + CA_LEAF_DAYS_DEFAULT * 86400L);
        CHECK_INT_EQ(ca_cert_not_after(cert), now + CA_LEAF_DAYS_DEFAULT * 86400L);
        CHECK_INT_EQ(mbedtls_pk_check_pair(&leaf->pk, ca_cert_key(cert)), 0);
        CHECK(mbedtls_pk_get_type(ca_cert_key(cert)) == MBEDTLS_PK_ECKEY);
    }
    mbedtls_x509_crt_free(&trust);
    ca_cert_release(cert);
    ca_cert_release(NULL);
    ca_close(ca);
}

static void test_ca_mint_ip_literals(void)
{
    static const unsigned char v4[4] = {192, 0, 2, 7};
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                         0,    0,    0,    0,    0, 0, 0, 1};
    char dir[128], cn[128];
    time_t now = time(NULL);
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, now);
    struct ca_cert *a = NULL, *b = NULL, *c = NULL;
    mbedtls_x509_crt trust;
    uint32_t flags;
    struct ca_stats st;

    if (!ca)
        return;
    CHECK_INT_EQ(parse_ca(ca, &trust), 0);
    CHECK_INT_EQ(ca_mint(ca, "192.0.2.7", now, &a), 0);
    CHECK_INT_EQ(ca_mint(ca, "[2001:DB8::0:1]", now, &b), 0);
    CHECK_INT_EQ(ca_mint(ca, "2001:db8::1", now, &c), 0); /* same address, same entry */
    if (a && b && c) {
        CHECK(san_is(ca_cert_chain(a), 7, v4, 4));
        CHECK(san_is(ca_cert_chain(b), 7, v6, 16));
        CHECK(b == c);
        mbedtls_x509_dn_gets(cn, sizeof cn, &ca_cert_chain(b)->subject);
        CHECK_STR_EQ(cn, "CN=2001:db8::1");
        /* mbedTLS 2.28 matches only dNSName, so check the chain without a name. */
        CHECK_INT_EQ(
            mbedtls_x509_crt_verify(ca_cert_chain(a), &trust, NULL, NULL, &flags, NULL, NULL), 0);
        CHECK_INT_EQ(
            mbedtls_x509_crt_verify(ca_cert_chain(b), &trust, NULL, NULL, &flags, NULL, NULL), 0);
    }
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.hits, 1);
    CHECK_INT_EQ(st.misses, 2);
    mbedtls_x509_crt_free(&trust);
    ca_cert_release(a);
    ca_cert_release(b);
    ca_cert_release(c);
    ca_close(ca);
}

static void test_ca_host_names(void)
{
    static const char *bad[] = {
        "",        ".",           "a..b", "bad host",     "*.example.test",   "a,CN=evil",
        "x=y",     "[192.0.2.1]", "[::1", "fe80::1%eth0", "caf\xc3\xa9.test", "a/b",
        ".leading"};
    char dir[128], cn[128], longname[300], label64[70];
    time_t now = time(NULL);
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, now);
    struct ca_cert *a = NULL, *b = NULL, *c = NULL;
    struct ca_stats st;
    size_t i;

    if (!ca)
        return;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ca_cert *x = (struct ca_cert *)&i;
        int ret = ca_mint(ca, bad[i], now, &x);
        if (ret != CA_EHOST)
            fprintf(stderr, "  host \"%s\" gave %d\n", bad[i], ret);
        CHECK_INT_EQ(ret, CA_EHOST);
        CHECK(x == NULL);
    }
    memset(label64, 'a', 64);
    label64[64] = '\0';
    CHECK_INT_EQ(ca_mint(ca, label64, now, &a), CA_EHOST);
    /* 4 labels of 63 + dots = 255 > 253 */
    snprintf(longname, sizeof longname, "%.63s.%.63s.%.63s.%.63s", label64, label64, label64,
             label64);
    CHECK_INT_EQ(ca_mint(ca, longname, now, &a), CA_EHOST);

    CHECK_INT_EQ(ca_mint(ca, "WWW.Example.TEST.", now, &a), 0);
    CHECK_INT_EQ(ca_mint(ca, "www.example.test", now, &b), 0);
    CHECK(a && a == b);
    if (a)
        CHECK(san_is(ca_cert_chain(a), 2, "www.example.test", 16));

    /* A 100-character name: CN holds its first 64, SAN all of it. */
    snprintf(longname, sizeof longname, "%.40s.%.40s.under_score-x.test", label64, label64);
    CHECK_INT_EQ(ca_mint(ca, longname, now, &c), 0);
    if (c) {
        mbedtls_x509_dn_gets(cn, sizeof cn, &ca_cert_chain(c)->subject);
        CHECK_INT_EQ(strlen(cn), 3 + 64);
        CHECK(strncmp(cn + 3, longname, 64) == 0);
        CHECK(san_is(ca_cert_chain(c), 2, longname, strlen(longname)));
    }
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.misses, 2);
    CHECK_INT_EQ(st.hits, 1);
    ca_cert_release(a);
    ca_cert_release(b);
    ca_cert_release(c);
    ca_close(ca);
}

static void test_ca_cache_hit(void)
{
    char dir[128];
    time_t now = time(NULL);
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, now);
    struct ca_cert *a = NULL, *b = NULL;
    struct ca_stats st;
    int i;

    if (!ca)
        return;
    CHECK_INT_EQ(ca_mint(ca, "a.test", now, &a), 0);
    for (i = 0; i < 100; i++) {
        CHECK_INT_EQ(ca_mint(ca, "a.test", now + i * 60, &b), 0);
        CHECK(a == b);
        CHECK(ca_cert_chain(a) == ca_cert_chain(b));
        ca_cert_release(b);
    }
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.signatures, 2); /* the CA's own + one leaf */
    CHECK_INT_EQ(st.hits, 100);
    CHECK_INT_EQ(st.misses, 1);
    CHECK_INT_EQ(st.entries, 1);
    ca_cert_release(a);
    ca_close(ca);
}

static void test_ca_cache_eviction(void)
{
    char dir[128];
    time_t now = time(NULL);
    struct ca_config cfg = {.cache_entries = 3};
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), &cfg, now);
    struct ca_cert *a, *b, *held, *x;
    mbedtls_x509_crt trust;
    uint32_t flags;
    struct ca_stats st;

    if (!ca)
        return;
    CHECK_INT_EQ(parse_ca(ca, &trust), 0);
    CHECK_INT_EQ(ca_mint(ca, "a.test", now, &a), 0);
    CHECK_INT_EQ(ca_mint(ca, "b.test", now, &held), 0); /* kept across its eviction */
    CHECK_INT_EQ(ca_mint(ca, "c.test", now, &x), 0);
    ca_cert_release(x);
    CHECK_INT_EQ(ca_mint(ca, "a.test", now, &x), 0); /* a becomes most recent; b is LRU */
    ca_cert_release(x);
    CHECK_INT_EQ(ca_mint(ca, "d.test", now, &x), 0);
    ca_cert_release(x);
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.entries, 3);
    CHECK_INT_EQ(st.evictions, 1);
    CHECK_INT_EQ(st.signatures, 1 + 4);

    CHECK_INT_EQ(ca_mint(ca, "a.test", now, &x), 0); /* still there */
    CHECK(x == a);
    ca_cert_release(x);
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.signatures, 5);

    /* The evicted chain is still whole for whoever holds it. */
    CHECK_INT_EQ(
        mbedtls_x509_crt_verify(ca_cert_chain(held), &trust, NULL, "b.test", &flags, NULL, NULL),
        0);
    CHECK_INT_EQ(ca_mint(ca, "b.test", now, &b), 0); /* gone: signed again */
    CHECK(b != held);
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.signatures, 6);
    CHECK_INT_EQ(st.evictions, 2); /* c.test went */
    CHECK_INT_EQ(st.entries, 3);
    CHECK_INT_EQ(st.hits, 2);
    CHECK_INT_EQ(st.misses, 5);
    ca_cert_release(b);
    ca_cert_release(held);
    ca_cert_release(a);
    mbedtls_x509_crt_free(&trust);
    ca_close(ca);
}

/* A reload's cert_cache_entries: down evicts the least recently used, up keeps all. */
static void test_ca_cache_resize(void)
{
    char dir[128], name[32];
    time_t now = time(NULL);
    struct ca_config cfg = {.cache_entries = 8};
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), &cfg, now);
    struct ca_cert *x, *first;
    struct ca_stats st;

    if (!ca)
        return;
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "h%d.test", i);
        CHECK_INT_EQ(ca_mint(ca, name, now, &x), 0);
        ca_cert_release(x);
    }
    CHECK_INT_EQ(ca_mint(ca, "h7.test", now, &first), 0); /* a hit, kept below */
    CHECK_INT_EQ(ca_cache_resize(ca, 2), 0);
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.entries, 2);
    CHECK_INT_EQ(st.capacity, 2);
    CHECK_INT_EQ(st.evictions, 6);
    CHECK_INT_EQ(ca_mint(ca, "h7.test", now, &x), 0); /* most recent: still cached */
    CHECK(x == first);
    ca_cert_release(x);
    CHECK_INT_EQ(ca_mint(ca, "h6.test", now, &x), 0); /* second most recent: cached */
    ca_cert_release(x);
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.misses, 8);
    CHECK_INT_EQ(ca_mint(ca, "h0.test", now, &x), 0); /* evicted: signed again */
    ca_cert_release(x);
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.misses, 9);
    CHECK_INT_EQ(st.entries, 2);
    CHECK_INT_EQ(ca_cache_resize(ca, 1000), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "n%d.test", i);
        CHECK_INT_EQ(ca_mint(ca, name, now, &x), 0);
        ca_cert_release(x);
    }
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.entries, 22);
    CHECK_INT_EQ(st.capacity, 1000);
    CHECK_INT_EQ(ca_mint(ca, "h0.test", now, &x), 0); /* found after the rehash */
    ca_cert_release(x);
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.misses, 29);
    CHECK_INT_EQ(ca_cache_resize(NULL, 1), CA_EINVAL);
    ca_cert_release(first);
    ca_close(ca);
}

/* The fingerprint is what openssl prints for ca.crt. */
static void test_ca_fingerprint(void)
{
    char dir[128], cmd[512], out[256];
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, time(NULL));
    if (!ca)
        return;
    const char *f = ca_fingerprint_sha256(ca);
    CHECK_INT_EQ(strlen(f), 95);
    snprintf(cmd, sizeof cmd, "openssl x509 -noout -fingerprint -sha256 -in '%s'",
             ca_cert_path(ca));
    CHECK_INT_EQ(run(cmd, out, sizeof out), 0);
    out[strcspn(out, "\n")] = '\0';
    const char *eq = strchr(out, '=');
    CHECK(eq && strcmp(eq + 1, f) == 0);
    if (!eq || strcmp(eq + 1, f) != 0)
        fprintf(stderr, "  openssl: %s\n  ca.c:    %s\n", out, f);
    ca_close(ca);
}

static void test_ca_renewal_and_lifetime(void)
{
    char dir[128];
    time_t now = time(NULL);
    struct ca_config cfg = {.leaf_days = 1000};
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), &cfg, now);
    struct ca_cert *a = NULL, *b = NULL, *c = NULL;
    struct ca_stats st;
    time_t later;

    if (!ca)
        return;
    CHECK_INT_EQ(ca_mint(ca, "renew.test", now, &a), 0);
    if (!a) {
        ca_close(ca);
        return;
    }
    CHECK_INT_EQ(ca_cert_not_after(a), now + CA_LEAF_DAYS_MAX * 86400L); /* clamped */
    later = ca_cert_not_after(a) - 3 * 86400;
    CHECK_INT_EQ(ca_mint(ca, "renew.test", later, &b), 0); /* three days left: still good */
    CHECK(a == b);
    later = ca_cert_not_after(a) - 86400;
    CHECK_INT_EQ(ca_mint(ca, "renew.test", later, &c), 0); /* one day left: renewed */
    CHECK(c != a);
    if (c)
        CHECK_INT_EQ(ca_cert_not_after(c), later + CA_LEAF_DAYS_MAX * 86400L);
    ca_stats_get(ca, &st);
    CHECK_INT_EQ(st.renewals, 1);
    CHECK_INT_EQ(st.entries, 1);
    ca_cert_release(a);
    ca_cert_release(b);
    ca_cert_release(c);

    /* Near the CA's own end, leaves stop with it; past it, nothing is minted. */
    later = now + 3650L * 86400;
    CHECK_INT_EQ(ca_mint(ca, "late.test", later, &a), 0);
    if (a)
        CHECK(ca_cert_not_after(a) < later + 10L * 86400);
    ca_cert_release(a);
    CHECK_INT_EQ(ca_mint(ca, "later.test", now + 3660L * 86400, &b), CA_EEXPIRED);
    ca_close(ca);
}

/* A caller's reference keeps chain and leaf key alive past ca_close(). */
static void test_ca_cert_outlives_ca(void)
{
    char dir[128];
    time_t now = time(NULL);
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, now);
    struct ca_cert *a = NULL, *b;

    if (!ca)
        return;
    CHECK_INT_EQ(ca_mint(ca, "keep.test", now, &a), 0);
    b = ca_cert_ref(a);
    ca_close(ca);
    if (a) {
        CHECK(b == a);
        CHECK_INT_EQ(mbedtls_pk_check_pair(&ca_cert_chain(a)->pk, ca_cert_key(a)), 0);
        CHECK(ca_cert_chain(a)->next && ca_cert_chain(a)->next->ca_istrue);
    }
    ca_cert_release(a);
    ca_cert_release(b);
}

/* The openssl CLI agrees: chain, host and IP checks, and the extensions' text. */
static void test_ca_openssl(void)
{
    char dir[128], other[128], cmd[1024], out[16384], leaf[256], leaf_ip[256], leaf_ip6[256];
    time_t now = time(NULL);
    struct ca *ca = open_ok(new_dir(dir, sizeof dir), NULL, now), *ca2;
    struct ca_cert *a = NULL, *b = NULL, *c = NULL;

    if (!ca)
        return;
    ca2 = open_ok(new_dir(other, sizeof other), NULL, now);
    snprintf(leaf, sizeof leaf, "%s/leaf.pem", dir);
    snprintf(leaf_ip, sizeof leaf_ip, "%s/leaf-ip.pem", dir);
    snprintf(leaf_ip6, sizeof leaf_ip6, "%s/leaf-ip6.pem", dir);
    CHECK_INT_EQ(ca_mint(ca, "www.example.test", now, &a), 0);
    CHECK_INT_EQ(ca_mint(ca, "192.0.2.7", now, &b), 0);
    CHECK_INT_EQ(ca_mint(ca, "2001:db8::1", now, &c), 0);
    if (!a || !b || !c || !ca2)
        goto out;
    CHECK_INT_EQ(write_leaf_pem(a, leaf), 0);
    CHECK_INT_EQ(write_leaf_pem(b, leaf_ip), 0);
    CHECK_INT_EQ(write_leaf_pem(c, leaf_ip6), 0);

    snprintf(cmd, sizeof cmd,
             "openssl verify -x509_strict -purpose sslserver -CAfile %s -verify_hostname "
             "www.example.test %s",
             ca_cert_path(ca), leaf);
    CHECK_INT_EQ(run(cmd, out, sizeof out), 0);
    CHECK(strstr(out, ": OK") != NULL);
    if (!strstr(out, ": OK"))
        fprintf(stderr, "  %s\n  %s", cmd, out);
    snprintf(cmd, sizeof cmd, "openssl verify -CAfile %s -verify_hostname other.test %s",
             ca_cert_path(ca), leaf);
    CHECK(run(cmd, out, sizeof out) != 0);
    snprintf(cmd, sizeof cmd, "openssl verify -CAfile %s %s", ca_cert_path(ca2), leaf);
    CHECK(run(cmd, out, sizeof out) != 0);
    snprintf(cmd, sizeof cmd,
             "openssl verify -x509_strict -CAfile %s -verify_ip 192.0.2.7 %s && "
             "openssl verify -x509_strict -CAfile %s -verify_ip 2001:db8::1 %s",
             ca_cert_path(ca), leaf_ip, ca_cert_path(ca), leaf_ip6);
    CHECK_INT_EQ(run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "openssl verify -CAfile %s -verify_ip 192.0.2.8 %s", ca_cert_path(ca),
             leaf_ip);
    CHECK(run(cmd, out, sizeof out) != 0);

    snprintf(cmd, sizeof cmd, "openssl x509 -noout -text -in %s", leaf);
    CHECK_INT_EQ(run(cmd, out, sizeof out), 0);
    CHECK(strstr(out, "DNS:www.example.test") != NULL);
    CHECK(strstr(out, "TLS Web Server Authentication") != NULL);
    CHECK(strstr(out, "CA:FALSE") != NULL);
    CHECK(strstr(out, "X509v3 Key Usage: critical\n                Digital Signature\n") != NULL);
    CHECK(strstr(out, "X509v3 Authority Key Identifier") != NULL);
    CHECK(strstr(out, "Signature Algorithm: ecdsa-with-SHA256") != NULL);
    CHECK(strstr(out, "Subject: CN = www.example.test") != NULL);
    CHECK(strstr(out, "Public-Key: (256 bit)") != NULL);
    if (!strstr(out, "DNS:www.example.test"))
        fprintf(stderr, "%s", out);
    snprintf(cmd, sizeof cmd,
             "openssl x509 -noout -text -in %s -in %s; openssl x509 -noout -ext "
             "subjectAltName -in %s",
             leaf_ip, leaf_ip, leaf_ip6);
    CHECK_INT_EQ(run(cmd, out, sizeof out), 0);
    CHECK(strstr(out, "IP Address:192.0.2.7") != NULL);
    CHECK(strstr(out, "IP Address:2001:DB8:0:0:0:0:0:1") != NULL);

    snprintf(cmd, sizeof cmd, "openssl x509 -noout -text -in %s", ca_cert_path(ca));
    CHECK_INT_EQ(run(cmd, out, sizeof out), 0);
    CHECK(strstr(out, "X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0") !=
          NULL);
    CHECK(strstr(out, "X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign") !=
          NULL);
    CHECK(strstr(out, "X509v3 Subject Key Identifier") != NULL);
    CHECK(strstr(out, "O = daneguard") != NULL);
    if (!strstr(out, "CA:TRUE, pathlen:0"))
        fprintf(stderr, "%s", out);
    /* The SPKI pin as Chromium computes it. */
    snprintf(cmd, sizeof cmd,
             "openssl x509 -in %s -noout -pubkey | openssl pkey -pubin -outform der | "
             "openssl dgst -sha256 -binary | openssl base64 -A",
             ca_cert_path(ca));
    CHECK_INT_EQ(run(cmd, out, sizeof out), 0);
    CHECK_STR_EQ(out, ca_spki_sha256_b64(ca));
    /* ca.crt on disk is the PEM we export. */
    snprintf(cmd, sizeof cmd, "cat %s", ca_cert_path(ca));
    CHECK_INT_EQ(run(cmd, out, sizeof out), 0);
    CHECK_STR_EQ(out, ca_pem(ca, NULL));
out:
    ca_cert_release(a);
    ca_cert_release(b);
    ca_cert_release(c);
    ca_close(ca2);
    ca_close(ca);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Not a benchmark: a sanity bound (a P-256 signature and two parses) and a number to report. */
static void test_ca_mint_timing(void)
{
    char dir[128], host[64];
    time_t now = time(NULL);
    struct ca_config cfg = {.cache_entries = 100};
    struct timespec t0;
    struct ca *ca;
    struct ca_cert *c;
    double open_ms, mint_ms, hit_ms;
    int i, n = 300;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ca = open_ok(new_dir(dir, sizeof dir), &cfg, now);
    open_ms = ms_since(&t0);
    if (!ca)
        return;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++) {
        snprintf(host, sizeof host, "host%d.example.test", i);
        CHECK_INT_EQ(ca_mint(ca, host, now, &c), 0);
        ca_cert_release(c);
    }
    mint_ms = ms_since(&t0) / n;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < 100000; i++) {
        CHECK_INT_EQ(ca_mint(ca, "host299.example.test", now, &c), 0);
        ca_cert_release(c);
    }
    hit_ms = ms_since(&t0) / 100000;
    fprintf(stderr, "  # ca_open (create) %.2f ms, mint %.3f ms, cache hit %.5f ms\n", open_ms,
            mint_ms, hit_ms);
    printf("# mint %.3f ms/cert, hit %.2f us\n", mint_ms, hit_ms * 1000);
    CHECK(mint_ms < 50);
    ca_close(ca);
}

/* test_ca --mint CADIR HOST OUTDIR */
static int mint_tool(const char *cadir, const char *host, const char *outdir)
{
    char err[512], path[1024];
    unsigned char key[1024];
    struct ca *ca = NULL;
    struct ca_cert *cert = NULL;
    FILE *f;
    int ret;

    if ((ret = ca_open(cadir, NULL, time(NULL), &ca, err, sizeof err)) != 0) {
        fprintf(stderr, "ca_open: %s\n", err);
        return 1;
    }
    if ((ret = ca_mint(ca, host, time(NULL), &cert)) != 0) {
        fprintf(stderr, "ca_mint %s: %s\n", host, ca_strerror(ret));
        ca_close(ca);
        return 1;
    }
    snprintf(path, sizeof path, "%s/leaf.pem", outdir);
    ret = write_leaf_pem(cert, path);
    snprintf(path, sizeof path, "%s/chain.pem", outdir);
    if (ret == 0 && (ret = write_leaf_pem(cert, path)) == 0 && (f = fopen(path, "a")) != NULL) {
        fputs(ca_pem(ca, NULL), f);
        ret = fclose(f);
    }
    if (ret == 0 && mbedtls_pk_write_key_pem(ca_cert_key(cert), key, sizeof key) == 0) {
        snprintf(path, sizeof path, "%s/key.pem", outdir);
        ret = write_text(path, key, strlen((char *)key), 0600);
    } else {
        ret = -1;
    }
    if (ret == 0)
        printf("%s\n", ca_spki_sha256_b64(ca));
    else
        fprintf(stderr, "writing into %s failed\n", outdir);
    ca_cert_release(cert);
    ca_close(ca);
    return ret == 0 ? 0 : 1;
}

static void remove_tree(const char *dir)
{
    char cmd[256], out[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    run(cmd, out, sizeof out);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--mint") == 0)
        return mint_tool(argv[2], argv[3], argv[4]);
    umask(022);
    snprintf(base_dir, sizeof base_dir, "/tmp/test_ca.XXXXXX");
    if (!mkdtemp(base_dir)) {
        perror("mkdtemp");
        return 1;
    }
    UNIT_RUN(test_ca_strerror);
    UNIT_RUN(test_ca_create);
    UNIT_RUN(test_ca_reopen_same);
    UNIT_RUN(test_ca_refuse_open_key);
    UNIT_RUN(test_ca_refuse_partial_mismatch_expired);
    UNIT_RUN(test_ca_mint_verifies);
    UNIT_RUN(test_ca_mint_ip_literals);
    UNIT_RUN(test_ca_host_names);
    UNIT_RUN(test_ca_cache_hit);
    UNIT_RUN(test_ca_cache_eviction);
    UNIT_RUN(test_ca_cache_resize);
    UNIT_RUN(test_ca_fingerprint);
    UNIT_RUN(test_ca_renewal_and_lifetime);
    UNIT_RUN(test_ca_cert_outlives_ca);
    UNIT_RUN(test_ca_openssl);
    UNIT_RUN(test_ca_mint_timing);
    remove_tree(base_dir);
    return UNIT_END();
}
