/* proxy/ca.c — the local CA: creating or loading it, minting leaf certificates
 * for intercepted hosts, and the LRU cache that makes a host cost one signature.
 *
 * The file has two halves. The signer (struct ca_signer, signer_*) is the only
 * code that sees the CA private key; its one operation after start-up is
 * signer_issue(): "a leaf for this host, this public key, this validity", DER
 * out. Everything else (files, caching, parsing chains for mbedTLS) works on
 * DER and public keys only, so the signer can move to its own process by
 * turning signer_issue() into a message.
 *
 * Certificates are written with mbedTLS's asn1write primitives rather than its
 * x509write module, whose ecdsa-with-SHA256 AlgorithmIdentifier carries a NULL
 * parameter that Chromium refuses (see signer_sign()).
 *
 * Name constraints: not written. mbedTLS 2.28's certificate parser refuses a
 * critical extension it does not know, name constraints included, so
 * daneguard could no longer load its own CA (and RFC 5280 requires them to be
 * critical). More to the point, a forward proxy mints for any host that
 * publishes TLSA, so there is no permitted subtree to constrain it to.
 */
#include "ca.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "addr.h"
#include "log.h"

#define CA_KEY_FILE "ca.key"
#define CA_CERT_FILE "ca.crt"
#define CA_FILE_MAX (64 * 1024)
#define CA_DER_MAX 2048          /* a leaf is ~450 bytes, our CA ~500 */
#define CA_LEAF_BACKDATE_S 3600  /* notBefore = now - 1h: clients with a slow clock */
#define CA_ROOT_BACKDATE_S 86400 /* the CA itself is backdated a day */
#define CA_RENEW_MARGIN_S (2 * 86400)
#define CA_HOST_MAX 253
#define CA_CN_MAX 64 /* RFC 5280 ub-common-name */

const char *ca_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define CA_ERROR_CASE(name, value, text)                                                           \
    case value:                                                                                    \
        return text;
        CA_ERRORS(CA_ERROR_CASE)
#undef CA_ERROR_CASE
    }
    return "unknown CA error";
}

static void errf(char *err, size_t errlen, const char *fmt, ...) LOG_PRINTF(3, 4);
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *tls_errstr(int ret, char *buf, size_t len)
{
    mbedtls_strerror(ret, buf, len);
    return buf;
}

/* ---- time ---------------------------------------------------------------- */

static time_t time_from_x509(const mbedtls_x509_time *x)
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

static time_t time_add_years(time_t t, int years)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_year += years;
    return timegm(&tm); /* 29 February becomes 1 March */
}

/* ---- certificate DER, written by hand --------------------------------- */

/* mbedTLS 2.28's x509write encodes ecdsa-with-SHA256 with a NULL parameter,
 * which RFC 5758 3.2 forbids and Chromium refuses ("Unacceptable signature
 * algorithm"). So certificates are written here with the asn1write primitives,
 * backwards from the end of a buffer as those primitives work. Each writer
 * returns the bytes it added or a negative mbedTLS error. */

#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

/* SEQUENCE/SET/[n] header over the len bytes already written. */
static int wrap(unsigned char **p, unsigned char *start, size_t len, unsigned char tag)
{
    size_t n = 0;
    int ret;
    MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_len(p, start, len));
    MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_tag(p, start, tag));
    return (int)n;
}

/* Bytes with a primitive tag: an OCTET STRING, an [n] IMPLICIT name, ... */
static int write_tagged(unsigned char **p, unsigned char *start, unsigned char tag,
                        const unsigned char *data, size_t data_len)
{
    size_t n = 0;
    int ret;
    MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_raw_buffer(p, start, data, data_len));
    MBEDTLS_ASN1_CHK_ADD(n, wrap(p, start, n, tag));
    return (int)n;
}

/* Name with one CN and, when o is not NULL, one O (RFC 5280 4.1.2.4). */
static int write_name(unsigned char **p, unsigned char *start, const char *cn, size_t cn_len,
                      const char *o)
{
    const char *vals[2] = {o, cn};
    size_t lens[2] = {o ? strlen(o) : 0, cn_len}, n = 0;
    const char *oids[2] = {MBEDTLS_OID_AT_ORGANIZATION, MBEDTLS_OID_AT_CN};
    const size_t oid_lens[2] = {MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORGANIZATION),
                                MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN)};
    int i, ret;

    for (i = 0; i < 2; i++) { /* backwards: O, then CN in front of it */
        size_t rdn = 0;
        if (!vals[i])
            continue;
        MBEDTLS_ASN1_CHK_ADD(rdn, mbedtls_asn1_write_utf8_string(p, start, vals[i], lens[i]));
        MBEDTLS_ASN1_CHK_ADD(rdn, mbedtls_asn1_write_oid(p, start, oids[i], oid_lens[i]));
        MBEDTLS_ASN1_CHK_ADD(rdn, wrap(p, start, rdn, SEQ));
        MBEDTLS_ASN1_CHK_ADD(rdn, wrap(p, start, rdn, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET));
        n += rdn;
    }
    MBEDTLS_ASN1_CHK_ADD(n, wrap(p, start, n, SEQ));
    return (int)n;
}

/* UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
static int write_time(unsigned char **p, unsigned char *start, time_t t)
{
    char s[20];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(s, sizeof s, "%Y%m%d%H%M%SZ", &tm);
    if (tm.tm_year + 1900 < 2050)
        return write_tagged(p, start, MBEDTLS_ASN1_UTC_TIME, (unsigned char *)s + 2, 13);
    return write_tagged(p, start, MBEDTLS_ASN1_GENERALIZED_TIME, (unsigned char *)s, 15);
}

/* One Extension: SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }. */
static int write_ext(unsigned char **p, unsigned char *start, const char *oid, size_t oid_len,
                     int critical, const unsigned char *val, size_t val_len)
{
    size_t n = 0;
    int ret;
    MBEDTLS_ASN1_CHK_ADD(n, write_tagged(p, start, MBEDTLS_ASN1_OCTET_STRING, val, val_len));
    if (critical)
        MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_bool(p, start, 1));
    MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_oid(p, start, oid, oid_len));
    MBEDTLS_ASN1_CHK_ADD(n, wrap(p, start, n, SEQ));
    return (int)n;
}

#define WRITE_EXT(p, start, oid, crit, val, len)                                                   \
    write_ext(p, start, oid, MBEDTLS_OID_SIZE(oid), crit, val, len)

/* AlgorithmIdentifier for a SHA-256 signature by key: ECDSA without
 * parameters (RFC 5758 3.2), RSA with NULL (RFC 4055 5). */
static int write_sig_alg(unsigned char **p, unsigned char *start, const mbedtls_pk_context *key)
{
    size_t n = 0;
    int ret;
    if (mbedtls_pk_can_do(key, MBEDTLS_PK_ECDSA)) {
        MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_ECDSA_SHA256,
                                                       MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
        MBEDTLS_ASN1_CHK_ADD(n, wrap(p, start, n, SEQ));
        return (int)n;
    }
    return mbedtls_asn1_write_algorithm_identifier(p, start, MBEDTLS_OID_PKCS1_SHA256,
                                                   MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS1_SHA256), 0);
}

/* What goes into a TBSCertificate; every DER piece prebuilt by the caller. */
struct tbs {
    unsigned char serial[16];
    const unsigned char *issuer, *subject, *spki, *exts; /* Name, Name, SPKI, Extension... */
    size_t issuer_len, subject_len, spki_len, exts_len;
    time_t not_before, not_after;
};

/* ---- the signer: the only holder of the CA key --------------------------- */

struct ca_signer {
    mbedtls_pk_context key;
    mbedtls_x509_crt cert;   /* the CA certificate, parsed */
    unsigned char keyid[64]; /* cert's subjectKeyIdentifier, for AKI */
    size_t keyid_len;        /* 0: the CA has none, leaves carry no AKI */
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;
    uint64_t signatures;
};

/* What a leaf says; everything the signer needs and nothing secret. */
struct leaf_request {
    const char *host;          /* normalized: lower case, no trailing dot; or an IP literal */
    const unsigned char *ip;   /* the address for an IP literal, else NULL */
    size_t ip_len;             /* 4 or 16 */
    const unsigned char *spki; /* the leaf's SubjectPublicKeyInfo, DER */
    size_t spki_len;
    time_t not_before, not_after;
};

static void signer_init(struct ca_signer *s, int (*f_rng)(void *, unsigned char *, size_t),
                        void *p_rng)
{
    memset(s, 0, sizeof *s);
    mbedtls_pk_init(&s->key);
    mbedtls_x509_crt_init(&s->cert);
    s->f_rng = f_rng;
    s->p_rng = p_rng;
}

static void signer_free(struct ca_signer *s)
{
    mbedtls_x509_crt_free(&s->cert);
    mbedtls_pk_free(&s->key);
}

/* 16 random bytes, positive and exactly 16 bytes long in DER. */
static int random_serial(struct ca_signer *s, unsigned char serial[16])
{
    int ret = s->f_rng(s->p_rng, serial, 16);
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
    return ret;
}

static int gen_p256(mbedtls_pk_context *pk, int (*f_rng)(void *, unsigned char *, size_t),
                    void *p_rng)
{
    int ret = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret != 0)
        return ret;
    return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), f_rng, p_rng);
}

/* Sign t with the CA key into buf: returns 0 with the certificate's DER at
 * *der (inside buf), or an mbedTLS error. The one place the key signs. */
static int signer_sign(struct ca_signer *s, const struct tbs *t, unsigned char *buf, size_t cap,
                       unsigned char **der, size_t *der_len)
{
    unsigned char tbs_buf[CA_DER_MAX], hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    unsigned char *p = tbs_buf + sizeof tbs_buf, *start = tbs_buf, *tbs;
    size_t len = 0, sig_len = 0, sub = 0;
    int ret;

    /* TBSCertificate (RFC 5280 4.1), back to front. */
    MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_raw_buffer(&p, start, t->exts, t->exts_len));
    MBEDTLS_ASN1_CHK_ADD(sub, wrap(&p, start, sub, SEQ));
    MBEDTLS_ASN1_CHK_ADD(
        sub, wrap(&p, start, sub, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3));
    len += sub;
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, start, t->spki, t->spki_len));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, start, t->subject, t->subject_len));
    sub = 0;
    MBEDTLS_ASN1_CHK_ADD(sub, write_time(&p, start, t->not_after));
    MBEDTLS_ASN1_CHK_ADD(sub, write_time(&p, start, t->not_before));
    MBEDTLS_ASN1_CHK_ADD(sub, wrap(&p, start, sub, SEQ));
    len += sub;
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, start, t->issuer, t->issuer_len));
    MBEDTLS_ASN1_CHK_ADD(len, write_sig_alg(&p, start, &s->key));
    MBEDTLS_ASN1_CHK_ADD(
        len, write_tagged(&p, start, MBEDTLS_ASN1_INTEGER, t->serial, sizeof t->serial));
    sub = 0;
    MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_int(&p, start, 2)); /* v3 */
    MBEDTLS_ASN1_CHK_ADD(
        sub, wrap(&p, start, sub, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0));
    len += sub;
    MBEDTLS_ASN1_CHK_ADD(len, wrap(&p, start, len, SEQ));
    tbs = p;

    if ((ret = mbedtls_sha256_ret(tbs, len, hash, 0)) != 0 ||
        (ret = mbedtls_pk_sign(&s->key, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, &sig_len,
                               s->f_rng, s->p_rng)) != 0)
        return ret;
    s->signatures++;

    /* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
    p = buf + cap;
    start = buf;
    sub = 0;
    MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_bitstring(&p, start, sig, sig_len * 8));
    MBEDTLS_ASN1_CHK_ADD(sub, write_sig_alg(&p, start, &s->key));
    MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_raw_buffer(&p, start, tbs, len));
    MBEDTLS_ASN1_CHK_ADD(sub, wrap(&p, start, sub, SEQ));
    *der = p;
    *der_len = sub;
    return 0;
}

/* The subjectKeyIdentifier extension's key id, from the parsed extensions. */
static int find_ski(const mbedtls_x509_crt *crt, unsigned char *out, size_t cap, size_t *out_len)
{
    unsigned char *p = crt->v3_ext.p, *end, *ext_end, *oid;
    size_t len, oid_len;
    int critical;

    *out_len = 0;
    if (!p || crt->v3_ext.len == 0)
        return -1;
    end = p + crt->v3_ext.len;
    if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3)) {
        if (mbedtls_asn1_get_tag(&p, end, &len,
                                 MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3))
            return -1;
        end = p + len;
    }
    if (mbedtls_asn1_get_tag(&p, end, &len, SEQ))
        return -1;
    end = p + len;
    while (p < end) {
        if (mbedtls_asn1_get_tag(&p, end, &len, SEQ))
            return -1;
        ext_end = p + len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &oid_len, MBEDTLS_ASN1_OID))
            return -1;
        oid = p;
        p += oid_len;
        (void)mbedtls_asn1_get_bool(&p, ext_end, &critical); /* optional */
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING))
            return -1;
        if (oid_len == MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER) &&
            memcmp(oid, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER, oid_len) == 0) {
            if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) || len == 0 ||
                len > cap)
                return -1;
            memcpy(out, p, len);
            *out_len = len;
            return 0;
        }
        p = ext_end;
    }
    return -1;
}

/* Check that key and certificate make a usable CA at now, then keep what
 * issuing needs. On failure err says why. */
static int signer_check(struct ca_signer *s, time_t now, char *err, size_t errlen)
{
    char buf[128];
    int ret;

    if (!mbedtls_pk_can_do(&s->key, MBEDTLS_PK_ECDSA) &&
        !mbedtls_pk_can_do(&s->key, MBEDTLS_PK_RSA)) {
        errf(err, errlen, "CA key is neither EC nor RSA");
        return CA_EPARSE;
    }
    if ((ret = mbedtls_pk_check_pair(&s->cert.pk, &s->key)) != 0) {
        errf(err, errlen, "CA key does not match the CA certificate: %s",
             tls_errstr(ret, buf, sizeof buf));
        return CA_EMISMATCH;
    }
    if (!s->cert.ca_istrue ||
        mbedtls_x509_crt_check_key_usage(&s->cert, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0) {
        errf(err, errlen, "CA certificate lacks basicConstraints CA:TRUE or keyUsage keyCertSign");
        return CA_ENOTCA;
    }
    if (now < time_from_x509(&s->cert.valid_from) || now >= time_from_x509(&s->cert.valid_to)) {
        errf(err, errlen, "CA certificate is valid %04d-%02d-%02d to %04d-%02d-%02d, not now",
             s->cert.valid_from.year, s->cert.valid_from.mon, s->cert.valid_from.day,
             s->cert.valid_to.year, s->cert.valid_to.mon, s->cert.valid_to.day);
        return CA_EEXPIRED;
    }
    if (find_ski(&s->cert, s->keyid, sizeof s->keyid, &s->keyid_len) != 0)
        s->keyid_len = 0;
    return 0;
}

/* A new key and self-signed CA certificate named cn, O=daneguard, valid from a
 * day before now for CA_CERT_VALIDITY_YEARS: CA:TRUE pathlen 0 and keyUsage
 * keyCertSign+cRLSign, both critical; subjectKeyIdentifier (RFC 5280 4.2.1.2
 * method 1: SHA-1 of the public key bits). */
static int signer_generate(struct ca_signer *s, const char *cn, time_t now, char *err,
                           size_t errlen)
{
    static const unsigned char bc[] = {0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00};
    static const unsigned char ku[] = {0x03, 0x02, 0x01, 0x06}; /* keyCertSign, cRLSign */
    unsigned char spki[256], name[256], exts[256], ski[2 + 20], pub[160], cert[CA_DER_MAX];
    unsigned char *p, *der;
    struct tbs t = {0};
    size_t der_len, pub_len;
    char msg[128];
    int ret;

    if ((ret = gen_p256(&s->key, s->f_rng, s->p_rng)) != 0 || (ret = random_serial(s, t.serial)))
        goto crypto;
    p = pub + sizeof pub;
    if ((ret = mbedtls_pk_write_pubkey(&p, pub, &s->key)) < 0)
        goto crypto;
    pub_len = (size_t)ret;
    ski[0] = MBEDTLS_ASN1_OCTET_STRING;
    ski[1] = 20;
    if ((ret = mbedtls_sha1_ret(p, pub_len, ski + 2)) != 0)
        goto crypto;
    if ((ret = mbedtls_pk_write_pubkey_der(&s->key, spki, sizeof spki)) < 0)
        goto crypto;
    t.spki_len = (size_t)ret;
    t.spki = spki + sizeof spki - t.spki_len;
    p = name + sizeof name;
    if ((ret = write_name(&p, name, cn, strlen(cn), "daneguard")) < 0)
        goto crypto;
    t.issuer = t.subject = p;
    t.issuer_len = t.subject_len = (size_t)ret;
    p = exts + sizeof exts;
    if ((ret = WRITE_EXT(&p, exts, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER, 0, ski, sizeof ski)) < 0)
        goto crypto;
    t.exts_len += (size_t)ret;
    if ((ret = WRITE_EXT(&p, exts, MBEDTLS_OID_KEY_USAGE, 1, ku, sizeof ku)) < 0)
        goto crypto;
    t.exts_len += (size_t)ret;
    if ((ret = WRITE_EXT(&p, exts, MBEDTLS_OID_BASIC_CONSTRAINTS, 1, bc, sizeof bc)) < 0)
        goto crypto;
    t.exts_len += (size_t)ret;
    t.exts = p;
    t.not_before = now - CA_ROOT_BACKDATE_S;
    t.not_after = time_add_years(now, CA_CERT_VALIDITY_YEARS);
    if ((ret = signer_sign(s, &t, cert, sizeof cert, &der, &der_len)) != 0 ||
        (ret = mbedtls_x509_crt_parse_der(&s->cert, der, der_len)) != 0)
        goto crypto;
    return signer_check(s, now, err, errlen);
crypto:
    errf(err, errlen, "creating the CA failed: %s", tls_errstr(ret, msg, sizeof msg));
    return CA_ECRYPTO;
}

static int read_fd_all(int fd, unsigned char **out, size_t *out_len);
static int write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                             mode_t mode, char *err, size_t errlen);

/* Load the key from path (refusing one readable by group or others) and the CA
 * certificate from cert_pem, then check them at now. */
static int signer_load(struct ca_signer *s, const char *key_path, const unsigned char *cert_pem,
                       size_t cert_len, time_t now, char *err, size_t errlen)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    struct stat st;
    char msg[128];
    int fd, ret;

    fd = open(key_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        errf(err, errlen, "%s: %s", key_path, strerror(errno));
        return CA_EIO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        errf(err, errlen, "%s: not a regular file", key_path);
        close(fd);
        return CA_EIO;
    }
    if (st.st_mode & 077) {
        errf(err, errlen, "%s: mode %04o lets group or others read the CA key; chmod 600 it",
             key_path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return CA_EKEYPERM;
    }
    ret = read_fd_all(fd, &buf, &len);
    close(fd);
    if (ret != 0) {
        errf(err, errlen, "%s: %s", key_path, ret == CA_ENOMEM ? "out of memory" : "read failed");
        return ret;
    }
    ret = mbedtls_pk_parse_key(&s->key, buf, len + 1, NULL, 0);
    mbedtls_platform_zeroize(buf, len);
    free(buf);
    if (ret != 0) {
        errf(err, errlen, "%s: %s", key_path, tls_errstr(ret, msg, sizeof msg));
        return CA_EPARSE;
    }
    if ((ret = mbedtls_x509_crt_parse(&s->cert, cert_pem, cert_len + 1)) != 0) {
        errf(err, errlen, CA_CERT_FILE ": %s", tls_errstr(ret, msg, sizeof msg));
        return CA_EPARSE;
    }
    return signer_check(s, now, err, errlen);
}

/* Write the CA key into dir as ca.key, mode 0600, atomically. */
static int signer_store_key(struct ca_signer *s, const char *dir, char *err, size_t errlen)
{
    unsigned char pem[1024];
    char msg[128];
    int ret = mbedtls_pk_write_key_pem(&s->key, pem, sizeof pem);
    if (ret != 0) {
        errf(err, errlen, "writing the CA key: %s", tls_errstr(ret, msg, sizeof msg));
        return CA_ECRYPTO;
    }
    ret = write_file_atomic(dir, CA_KEY_FILE, pem, strlen((char *)pem), 0600, err, errlen);
    mbedtls_platform_zeroize(pem, sizeof pem);
    return ret;
}

/* subjectAltName: one dNSName or one iPAddress (RFC 5280 4.2.1.6). */
static int write_san(unsigned char **p, unsigned char *start, const struct leaf_request *req)
{
    size_t n = 0;
    int ret;
    if (req->ip)
        MBEDTLS_ASN1_CHK_ADD(
            n, write_tagged(p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7, req->ip, req->ip_len));
    else
        MBEDTLS_ASN1_CHK_ADD(n, write_tagged(p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2,
                                             (const unsigned char *)req->host, strlen(req->host)));
    MBEDTLS_ASN1_CHK_ADD(n, wrap(p, start, n, SEQ));
    return (int)n;
}

/* Sign a leaf for req: CN=host (first CA_CN_MAX characters), SAN, CA:FALSE,
 * keyUsage digitalSignature (critical), extKeyUsage serverAuth, AKI = the CA's
 * SKI; the issuer is the CA certificate's subject, byte for byte. Returns 0
 * with the DER at *der (inside buf, *der_len bytes), or an mbedTLS error. */
static int signer_issue(struct ca_signer *s, const struct leaf_request *req, unsigned char *buf,
                        size_t cap, unsigned char **der, size_t *der_len)
{
    static const unsigned char bc[] = {0x30, 0x00};
    static const unsigned char ku[] = {0x03, 0x02, 0x07, 0x80}; /* digitalSignature */
    static const unsigned char eku[] = {0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06,
                                        0x01, 0x05, 0x05, 0x07, 0x03, 0x01}; /* serverAuth */
    unsigned char name[CA_CN_MAX + 32], exts[CA_HOST_MAX + 256], val[CA_HOST_MAX + 16];
    unsigned char *p, *v, *start;
    size_t host_len = strlen(req->host);
    struct tbs t = {0};
    int ret;

    if ((ret = random_serial(s, t.serial)) != 0)
        return ret;
    t.issuer = s->cert.subject_raw.p;
    t.issuer_len = s->cert.subject_raw.len;
    t.spki = req->spki;
    t.spki_len = req->spki_len;
    t.not_before = req->not_before;
    t.not_after = req->not_after;
    p = name + sizeof name;
    if ((ret = write_name(&p, name, req->host, host_len < CA_CN_MAX ? host_len : CA_CN_MAX, NULL)) <
        0)
        return ret;
    t.subject = p;
    t.subject_len = (size_t)ret;

    p = exts + sizeof exts;
    start = exts;
    if (s->keyid_len) {
        v = val + sizeof val;
        if ((ret = write_tagged(&v, val, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0, s->keyid,
                                s->keyid_len)) < 0 ||
            (ret = wrap(&v, val, (size_t)ret, SEQ)) < 0)
            return ret;
        if ((ret = WRITE_EXT(&p, start, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER, 0, v,
                             (size_t)(val + sizeof val - v))) < 0)
            return ret;
    }
    v = val + sizeof val;
    if ((ret = write_san(&v, val, req)) < 0 ||
        (ret = WRITE_EXT(&p, start, MBEDTLS_OID_SUBJECT_ALT_NAME, 0, v, (size_t)ret)) < 0 ||
        (ret = WRITE_EXT(&p, start, MBEDTLS_OID_EXTENDED_KEY_USAGE, 0, eku, sizeof eku)) < 0 ||
        (ret = WRITE_EXT(&p, start, MBEDTLS_OID_KEY_USAGE, 1, ku, sizeof ku)) < 0 ||
        (ret = WRITE_EXT(&p, start, MBEDTLS_OID_BASIC_CONSTRAINTS, 0, bc, sizeof bc)) < 0)
        return ret;
    t.exts = p;
    t.exts_len = (size_t)(exts + sizeof exts - p);
    return signer_sign(s, &t, buf, cap, der, der_len);
}

/* ---- files --------------------------------------------------------------- */

static int read_fd_all(int fd, unsigned char **out, size_t *out_len)
{
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap + 1), *nbuf;
    ssize_t n;

    if (!buf)
        return CA_ENOMEM;
    for (;;) {
        if (len == cap) {
            if (cap >= CA_FILE_MAX) {
                free(buf);
                return CA_EIO;
            }
            cap *= 2;
            if (!(nbuf = malloc(cap + 1))) {
                mbedtls_platform_zeroize(buf, len);
                free(buf);
                return CA_ENOMEM;
            }
            memcpy(nbuf, buf, len);
            mbedtls_platform_zeroize(buf, len);
            free(buf);
            buf = nbuf;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return CA_EIO;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0; /* mbedTLS's PEM parsers want the NUL counted */
    *out = buf;
    *out_len = len;
    return 0;
}

static int read_file(const char *path, unsigned char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), ret;
    if (fd < 0)
        return CA_EIO;
    ret = read_fd_all(fd, out, out_len);
    close(fd);
    return ret;
}

/* dir/name gets data with mode: written to a temporary file in dir, flushed,
 * renamed over, and the directory flushed, so a crash leaves old or new. */
static int write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                             mode_t mode, char *err, size_t errlen)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    const unsigned char *p = data;
    int fd, dfd;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name) >= sizeof tmp ||
        (size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        errf(err, errlen, "%s: path too long", dir);
        return CA_EINVAL;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) { /* created 0600 */
        errf(err, errlen, "%s: %s", tmp, strerror(errno));
        return CA_EIO;
    }
    if (fchmod(fd, mode) != 0)
        goto fail;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
fail:
    errf(err, errlen, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return CA_EIO;
}

/* 1 when path exists (as anything: lstat), 0 when it does not (ENOENT), or
 * -1 with "PATH: cannot tell whether it exists: <strerror>" in err. */
static int file_present(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    errf(err, errlen,
         "%s: %s (as uid %u): cannot tell whether a CA is there, so no new one is made; make "
         "the directory readable by daneguard's user",
         path, strerror(errno), (unsigned)geteuid());
    return -1;
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t i, n = strlen(dir);
    struct stat st;

    if (n == 0 || n >= sizeof path) {
        errf(err, errlen, "CA directory name is empty or too long");
        return CA_EINVAL;
    }
    memcpy(path, dir, n + 1);
    for (i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            errf(err, errlen, "%s: %s", path, strerror(errno));
            return CA_EIO;
        }
        path[i] = i < n ? '/' : '\0';
    }
    if (stat(dir, &st) != 0) {
        errf(err, errlen, "%s: %s", dir, strerror(errno));
        return CA_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        errf(err, errlen, "%s: not a directory", dir);
        return CA_EIO;
    }
    return 0;
}

/* ---- minted certificates and their cache --------------------------------- */

struct leaf_key {
    unsigned refs;
    mbedtls_pk_context pk;
};

struct ca_cert {
    unsigned refs;
    struct leaf_key *key;
    mbedtls_x509_crt chain; /* leaf, then a copy of the CA certificate */
    time_t not_before, not_after;
    struct ca_cert *hnext;               /* hash bucket chain */
    struct ca_cert *lru_prev, *lru_next; /* prev = more recently used */
    char host[];
};

struct ca {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    struct ca_signer signer;
    struct leaf_key *leaf;
    unsigned char leaf_spki[160]; /* the leaf key's SubjectPublicKeyInfo */
    size_t leaf_spki_len;
    unsigned char *der;
    size_t der_len;
    char *pem;
    size_t pem_len;
    char spki_b64[48];
    char fingerprint[32 * 3]; /* SHA-256 of the DER, "AB:CD:...", as openssl prints it */
    char *cert_path;
    int created;
    unsigned leaf_days;
    struct ca_cert **buckets;
    size_t nbuckets; /* a power of two */
    struct ca_cert *lru_head, *lru_tail;
    struct ca_stats stats;
};

static void leaf_key_release(struct leaf_key *k)
{
    if (k && --k->refs == 0) {
        mbedtls_pk_free(&k->pk);
        free(k);
    }
}

struct ca_cert *ca_cert_ref(struct ca_cert *cert)
{
    if (cert)
        cert->refs++;
    return cert;
}

void ca_cert_release(struct ca_cert *cert)
{
    if (!cert || --cert->refs > 0)
        return;
    mbedtls_x509_crt_free(&cert->chain);
    leaf_key_release(cert->key);
    free(cert);
}

mbedtls_x509_crt *ca_cert_chain(struct ca_cert *cert)
{
    return &cert->chain;
}

mbedtls_pk_context *ca_cert_key(struct ca_cert *cert)
{
    return &cert->key->pk;
}

const unsigned char *ca_cert_der(const struct ca_cert *cert, size_t *len)
{
    *len = cert->chain.raw.len;
    return cert->chain.raw.p;
}

time_t ca_cert_not_after(const struct ca_cert *cert)
{
    return cert->not_after;
}

static size_t host_hash(const char *host)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (; *host; host++)
        h = (h ^ (unsigned char)*host) * 0x100000001b3ULL;
    return (size_t)h;
}

static struct ca_cert **cache_slot(struct ca *ca, const char *host)
{
    struct ca_cert **pp = &ca->buckets[host_hash(host) & (ca->nbuckets - 1)];
    while (*pp && strcmp((*pp)->host, host) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

static void lru_unlink(struct ca *ca, struct ca_cert *c)
{
    if (c->lru_prev)
        c->lru_prev->lru_next = c->lru_next;
    else
        ca->lru_head = c->lru_next;
    if (c->lru_next)
        c->lru_next->lru_prev = c->lru_prev;
    else
        ca->lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
}

static void lru_push_front(struct ca *ca, struct ca_cert *c)
{
    c->lru_prev = NULL;
    c->lru_next = ca->lru_head;
    if (ca->lru_head)
        ca->lru_head->lru_prev = c;
    else
        ca->lru_tail = c;
    ca->lru_head = c;
}

/* Drop the cache's reference to c. */
static void cache_remove(struct ca *ca, struct ca_cert *c)
{
    struct ca_cert **pp = cache_slot(ca, c->host);
    if (*pp == c)
        *pp = c->hnext;
    c->hnext = NULL;
    lru_unlink(ca, c);
    ca->stats.entries--;
    ca_cert_release(c);
}

/* Lower-case host without its trailing dot or IPv6 brackets into out; an IP
 * literal also gives its bytes. Returns 0, or CA_EHOST. */
static int host_normalize(const char *host, char *out, size_t cap, unsigned char ip[16],
                          size_t *ip_len)
{
    size_t n = strlen(host), i, label = 0;
    char tmp[CA_HOST_MAX + 3];
    struct sockaddr_storage ss;
    const struct sockaddr *sa = (const struct sockaddr *)&ss;
    int bracketed = n >= 2 && host[0] == '[' && host[n - 1] == ']';

    *ip_len = 0;
    if (bracketed) {
        if (n - 2 >= sizeof tmp)
            return CA_EHOST;
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        if (addr_parse(tmp, 0, &ss) != 0 || ss.ss_family != AF_INET6)
            return CA_EHOST;
    }
    if (bracketed || (n < sizeof tmp && addr_parse(host, 0, &ss) == 0)) {
        char text[ADDR_TEXT_MAX];
        const uint8_t *b = addr_bytes(sa, ip_len);
        memcpy(ip, b, *ip_len);
        addr_format(sa, 0, text, sizeof text);
        if (strlen(text) >= cap)
            return CA_EHOST;
        memcpy(out, text, strlen(text) + 1);
        return 0;
    }
    if (n > 0 && host[n - 1] == '.')
        n--;
    if (n == 0 || n > CA_HOST_MAX || n >= cap)
        return CA_EHOST;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c == '.') {
            if (label == 0)
                return CA_EHOST;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            label++;
        } else if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c - 'A' + 'a');
            label++;
        } else {
            return CA_EHOST;
        }
        if (label > 63)
            return CA_EHOST;
        out[i] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

static int mint_new(struct ca *ca, const char *host, const unsigned char *ip, size_t ip_len,
                    time_t now, struct ca_cert **out)
{
    struct leaf_request req;
    unsigned char buf[CA_DER_MAX], *der;
    size_t der_len, host_len = strlen(host);
    time_t ca_end = time_from_x509(&ca->signer.cert.valid_to);
    struct ca_cert *c;
    char msg[128];
    int ret;

    req.host = host;
    req.ip = ip_len ? ip : NULL;
    req.ip_len = ip_len;
    req.spki = ca->leaf_spki;
    req.spki_len = ca->leaf_spki_len;
    req.not_before = now - CA_LEAF_BACKDATE_S;
    req.not_after = now + (time_t)ca->leaf_days * 86400;
    if (req.not_after > ca_end)
        req.not_after = ca_end;
    if (req.not_after <= now)
        return CA_EEXPIRED;
    if ((ret = signer_issue(&ca->signer, &req, buf, sizeof buf, &der, &der_len)) != 0) {
        log_warnx("ca: signing a certificate for %s failed: %s", host,
                  tls_errstr(ret, msg, sizeof msg));
        return CA_ECRYPTO;
    }
    if (!(c = calloc(1, sizeof *c + host_len + 1)))
        return CA_ENOMEM;
    memcpy(c->host, host, host_len + 1);
    c->refs = 1;
    mbedtls_x509_crt_init(&c->chain);
    if ((ret = mbedtls_x509_crt_parse_der(&c->chain, der, der_len)) != 0 ||
        (ret = mbedtls_x509_crt_parse_der(&c->chain, ca->der, ca->der_len)) != 0) {
        log_warnx("ca: parsing the certificate minted for %s failed: %s", host,
                  tls_errstr(ret, msg, sizeof msg));
        mbedtls_x509_crt_free(&c->chain);
        free(c);
        return ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? CA_ENOMEM : CA_ECRYPTO;
    }
    c->key = ca->leaf;
    c->key->refs++;
    c->not_before = time_from_x509(&c->chain.valid_from);
    c->not_after = time_from_x509(&c->chain.valid_to);
    *out = c;
    return 0;
}

int ca_mint(struct ca *ca, const char *host, time_t now, struct ca_cert **out)
{
    char norm[CA_HOST_MAX + 3];
    unsigned char ip[16];
    size_t ip_len;
    struct ca_cert **slot, *c;
    int ret;

    *out = NULL;
    if (!ca || !host)
        return CA_EINVAL;
    if ((ret = host_normalize(host, norm, sizeof norm, ip, &ip_len)) != 0)
        return ret;
    slot = cache_slot(ca, norm);
    if ((c = *slot) != NULL) {
        if (now >= c->not_before && now + CA_RENEW_MARGIN_S < c->not_after) {
            ca->stats.hits++;
            lru_unlink(ca, c);
            lru_push_front(ca, c);
            *out = ca_cert_ref(c);
            return 0;
        }
        ca->stats.renewals++;
        cache_remove(ca, c);
    }
    ca->stats.misses++;
    if ((ret = mint_new(ca, norm, ip, ip_len, now, &c)) != 0)
        return ret;
    if (ca->stats.entries >= ca->stats.capacity && ca->lru_tail) {
        cache_remove(ca, ca->lru_tail);
        ca->stats.evictions++;
    }
    slot = cache_slot(ca, norm); /* the removals above may have moved it */
    c->hnext = *slot;
    *slot = c;
    lru_push_front(ca, c);
    ca->stats.entries++;
    *out = ca_cert_ref(c);
    return 0;
}

/* ---- the CA as a whole --------------------------------------------------- */

static void ca_subject(char *out, size_t cap)
{
    char host[256] = "", clean[33];
    size_t i, n = 0;

    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    for (i = 0; host[i] && n < sizeof clean - 1; i++) {
        char c = host[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_')
            clean[n++] = c;
    }
    clean[n] = '\0';
    snprintf(out, cap, "daneguard local CA (%s)", n ? clean : "unknown host");
}

/* The exported forms of the CA certificate: DER, PEM, SPKI pin. */
static int ca_export(struct ca *ca)
{
    const mbedtls_x509_crt *crt = &ca->signer.cert;
    unsigned char hash[32];
    size_t olen, cap = crt->raw.len * 2 + 128;

    if (!(ca->der = malloc(crt->raw.len)) || !(ca->pem = malloc(cap)))
        return CA_ENOMEM;
    memcpy(ca->der, crt->raw.p, crt->raw.len);
    ca->der_len = crt->raw.len;
    if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                 ca->der, ca->der_len, (unsigned char *)ca->pem, cap, &olen) != 0)
        return CA_ECRYPTO;
    ca->pem_len = strlen(ca->pem);
    if (mbedtls_sha256_ret(crt->pk_raw.p, crt->pk_raw.len, hash, 0) != 0 ||
        mbedtls_base64_encode((unsigned char *)ca->spki_b64, sizeof ca->spki_b64, &olen, hash,
                              sizeof hash) != 0)
        return CA_ECRYPTO;
    if (mbedtls_sha256_ret(ca->der, ca->der_len, hash, 0) != 0)
        return CA_ECRYPTO;
    static const char hex[] = "0123456789ABCDEF";
    char *f = ca->fingerprint;
    for (size_t i = 0; i < sizeof hash; i++) {
        if (i)
            *f++ = ':';
        *f++ = hex[hash[i] >> 4];
        *f++ = hex[hash[i] & 15];
    }
    *f = '\0';
    return 0;
}

static int cache_init(struct ca *ca, size_t entries)
{
    size_t n = 16;
    while (n < entries * 2 && n < ((size_t)1 << 30))
        n *= 2;
    if (!(ca->buckets = calloc(n, sizeof *ca->buckets)))
        return CA_ENOMEM;
    ca->nbuckets = n;
    ca->stats.capacity = entries;
    return 0;
}

int ca_open(const char *dir, const struct ca_config *cfg, time_t now, struct ca **out, char *err,
            size_t errlen)
{
    static const char pers[] = "daneguard ca";
    char key_path[PATH_MAX], subject[128], msg[128];
    unsigned char *pem = NULL;
    size_t pem_len = 0, entries;
    int have_key, have_cert, ret;
    struct ca *ca;

    *out = NULL;
    errf(err, errlen, "no error");
    if (!dir || !*dir) {
        errf(err, errlen, "no CA directory given");
        return CA_EINVAL;
    }
    if (!(ca = calloc(1, sizeof *ca))) {
        errf(err, errlen, "out of memory");
        return CA_ENOMEM;
    }
    mbedtls_entropy_init(&ca->entropy);
    mbedtls_ctr_drbg_init(&ca->drbg);
    signer_init(&ca->signer, mbedtls_ctr_drbg_random, &ca->drbg);
    ca->leaf_days = cfg && cfg->leaf_days ? cfg->leaf_days : CA_LEAF_DAYS_DEFAULT;
    if (ca->leaf_days > CA_LEAF_DAYS_MAX)
        ca->leaf_days = CA_LEAF_DAYS_MAX;
    entries = cfg && cfg->cache_entries ? cfg->cache_entries : CA_CACHE_ENTRIES_DEFAULT;

    if ((ret = mbedtls_ctr_drbg_seed(&ca->drbg, mbedtls_entropy_func, &ca->entropy,
                                     (const unsigned char *)pers, sizeof pers - 1)) != 0) {
        errf(err, errlen, "seeding the random generator: %s", tls_errstr(ret, msg, sizeof msg));
        ret = CA_ECRYPTO;
        goto fail;
    }
    if ((ret = cache_init(ca, entries)) != 0) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    if ((ret = make_dirs(dir, err, errlen)) != 0)
        goto fail;
    if ((size_t)snprintf(key_path, sizeof key_path, "%s/" CA_KEY_FILE, dir) >= sizeof key_path ||
        asprintf(&ca->cert_path, "%s/" CA_CERT_FILE, dir) < 0) {
        ca->cert_path = NULL;
        errf(err, errlen, "%s: path too long or out of memory", dir);
        ret = CA_EINVAL;
        goto fail;
    }
    /* Only "no such file" means no CA: anything else (a directory daneguard
     * may not search, an I/O error) must not lead to a new CA beside, or
     * over, the one browsers trust. */
    if ((have_key = file_present(key_path, err, errlen)) < 0 ||
        (have_cert = file_present(ca->cert_path, err, errlen)) < 0) {
        ret = CA_EIO;
        goto fail;
    }
    if (have_key != have_cert) {
        errf(err, errlen, "%s holds %s but not %s; restore it, or remove it to make a new CA", dir,
             have_key ? CA_KEY_FILE : CA_CERT_FILE, have_key ? CA_CERT_FILE : CA_KEY_FILE);
        ret = CA_EPARTIAL;
        goto fail;
    }
    if (have_key) {
        if ((ret = read_file(ca->cert_path, &pem, &pem_len)) != 0) {
            errf(err, errlen, "%s: %s", ca->cert_path, strerror(errno));
            goto fail;
        }
        ret = signer_load(&ca->signer, key_path, pem, pem_len, now, err, errlen);
        free(pem);
        if (ret != 0)
            goto fail;
    } else {
        ca_subject(subject, sizeof subject);
        if ((ret = signer_generate(&ca->signer, subject, now, err, errlen)) != 0 ||
            (ret = signer_store_key(&ca->signer, dir, err, errlen)) != 0)
            goto fail;
        ca->created = 1;
    }
    if ((ret = ca_export(ca)) != 0) {
        errf(err, errlen, "exporting the CA certificate: %s", ca_strerror(ret));
        goto fail;
    }
    if (ca->created &&
        (ret = write_file_atomic(dir, CA_CERT_FILE, ca->pem, ca->pem_len, 0644, err, errlen)) != 0)
        goto fail;
    if (!(ca->leaf = calloc(1, sizeof *ca->leaf))) {
        errf(err, errlen, "out of memory");
        ret = CA_ENOMEM;
        goto fail;
    }
    ca->leaf->refs = 1;
    mbedtls_pk_init(&ca->leaf->pk);
    if ((ret = gen_p256(&ca->leaf->pk, mbedtls_ctr_drbg_random, &ca->drbg)) != 0) {
        errf(err, errlen, "generating the leaf key: %s", tls_errstr(ret, msg, sizeof msg));
        ret = CA_ECRYPTO;
        goto fail;
    }
    if ((ret = mbedtls_pk_write_pubkey_der(&ca->leaf->pk, ca->leaf_spki, sizeof ca->leaf_spki)) <
        0) {
        errf(err, errlen, "writing the leaf key: %s", tls_errstr(ret, msg, sizeof msg));
        ret = CA_ECRYPTO;
        goto fail;
    }
    ca->leaf_spki_len = (size_t)ret;
    memmove(ca->leaf_spki, ca->leaf_spki + sizeof ca->leaf_spki - ret, (size_t)ret);
    if (ca->created)
        log_debug("ca: created a new CA in %s (SPKI sha256 %s)", dir, ca->spki_b64);
    errf(err, errlen, "no error");
    *out = ca;
    return 0;
fail:
    ca_close(ca);
    return ret;
}

void ca_close(struct ca *ca)
{
    if (!ca)
        return;
    while (ca->lru_head)
        cache_remove(ca, ca->lru_head);
    free(ca->buckets);
    leaf_key_release(ca->leaf);
    signer_free(&ca->signer);
    mbedtls_ctr_drbg_free(&ca->drbg);
    mbedtls_entropy_free(&ca->entropy);
    free(ca->der);
    free(ca->pem);
    free(ca->cert_path);
    free(ca);
}

const char *ca_pem(const struct ca *ca, size_t *len)
{
    if (len)
        *len = ca->pem_len;
    return ca->pem;
}

const unsigned char *ca_der(const struct ca *ca, size_t *len)
{
    *len = ca->der_len;
    return ca->der;
}

const char *ca_spki_sha256_b64(const struct ca *ca)
{
    return ca->spki_b64;
}

const char *ca_fingerprint_sha256(const struct ca *ca)
{
    return ca->fingerprint;
}

int ca_cache_resize(struct ca *ca, size_t entries)
{
    if (!ca)
        return CA_EINVAL;
    if (!entries)
        entries = CA_CACHE_ENTRIES_DEFAULT;
    while (ca->stats.entries > entries && ca->lru_tail) {
        cache_remove(ca, ca->lru_tail);
        ca->stats.evictions++;
    }
    struct ca_cert **old = ca->buckets;
    size_t n_old = ca->nbuckets;
    if (cache_init(ca, entries) != 0) { /* keeps the old table, the old bound */
        ca->buckets = old;
        ca->nbuckets = n_old;
        return CA_ENOMEM;
    }
    /* rehash, oldest first, so each bucket keeps the most recent in front */
    for (struct ca_cert *c = ca->lru_tail; c; c = c->lru_prev) {
        struct ca_cert **slot = &ca->buckets[host_hash(c->host) & (ca->nbuckets - 1)];
        c->hnext = *slot;
        *slot = c;
    }
    free(old);
    return 0;
}

const char *ca_cert_path(const struct ca *ca)
{
    return ca->cert_path;
}

int ca_created(const struct ca *ca)
{
    return ca->created;
}

void ca_stats_get(const struct ca *ca, struct ca_stats *stats)
{
    *stats = ca->stats;
    stats->signatures = ca->signer.signatures;
}
