/* proxy/ca_signer.c — the local CA's signer: the only code that holds the CA
 * private key. It creates or loads the CA (key and self-signed certificate),
 * checks them, stores the key, and after start-up does one thing:
 * ca_signer_issue(), "a leaf for this host, this public key, this validity",
 * DER out. Everything else (files, caching, parsing chains for mbedTLS, in
 * ca.c) works on DER and public keys only, so the signer can move to its own
 * process by turning ca_signer_issue() into a message.
 *
 * Certificates are written with mbedTLS's asn1write primitives rather than its
 * x509write module, whose ecdsa-with-SHA256 AlgorithmIdentifier carries a NULL
 * parameter that Chromium refuses (see signer_sign()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "ca_private.h"

/* ---- time ---------------------------------------------------------------- */

time_t ca_signer_x509_time(const mbedtls_x509_time *x)
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

void ca_signer_init(struct ca_signer *s, int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
    memset(s, 0, sizeof *s);
    mbedtls_pk_init(&s->key);
    mbedtls_x509_crt_init(&s->cert);
    s->f_rng = f_rng;
    s->p_rng = p_rng;
}

void ca_signer_free(struct ca_signer *s)
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

int ca_signer_gen_p256(mbedtls_pk_context *pk, int (*f_rng)(void *, unsigned char *, size_t),
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
int ca_signer_check(struct ca_signer *s, time_t now, char *err, size_t errlen)
{
    char buf[128];
    int ret;

    if (!mbedtls_pk_can_do(&s->key, MBEDTLS_PK_ECDSA) &&
        !mbedtls_pk_can_do(&s->key, MBEDTLS_PK_RSA)) {
        ca_errf(err, errlen, "CA key is neither EC nor RSA");
        return CA_EPARSE;
    }
    if ((ret = mbedtls_pk_check_pair(&s->cert.pk, &s->key)) != 0) {
        ca_errf(err, errlen, "CA key does not match the CA certificate: %s",
                ca_tls_errstr(ret, buf, sizeof buf));
        return CA_EMISMATCH;
    }
    if (!s->cert.ca_istrue ||
        mbedtls_x509_crt_check_key_usage(&s->cert, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0) {
        ca_errf(err, errlen,
                "CA certificate lacks basicConstraints CA:TRUE or keyUsage keyCertSign");
        return CA_ENOTCA;
    }
    if (now < ca_signer_x509_time(&s->cert.valid_from) ||
        now >= ca_signer_x509_time(&s->cert.valid_to)) {
        ca_errf(err, errlen, "CA certificate is valid %04d-%02d-%02d to %04d-%02d-%02d, not now",
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
int ca_signer_generate(struct ca_signer *s, const char *cn, time_t now, char *err, size_t errlen)
{
    static const unsigned char bc[] = {0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00};
    static const unsigned char ku[] = {0x03, 0x02, 0x01, 0x06}; /* keyCertSign, cRLSign */
    unsigned char spki[256], name[256], exts[256], ski[2 + 20], pub[160], cert[CA_DER_MAX];
    unsigned char *p, *der;
    struct tbs t = {0};
    size_t der_len, pub_len;
    char msg[128];
    int ret;

    if ((ret = ca_signer_gen_p256(&s->key, s->f_rng, s->p_rng)) != 0 ||
        (ret = random_serial(s, t.serial)))
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
    return ca_signer_check(s, now, err, errlen);
crypto:
    ca_errf(err, errlen, "creating the CA failed: %s", ca_tls_errstr(ret, msg, sizeof msg));
    return CA_ECRYPTO;
}

/* Load the key from path (refusing one readable by group or others) and the CA
 * certificate from cert_pem, then check them at now. */
int ca_signer_load(struct ca_signer *s, const char *key_path, const unsigned char *cert_pem,
                   size_t cert_len, time_t now, char *err, size_t errlen)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    struct stat st;
    char msg[128];
    int fd, ret;

    fd = open(key_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        ca_errf(err, errlen, "%s: %s", key_path, strerror(errno));
        return CA_EIO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ca_errf(err, errlen, "%s: not a regular file", key_path);
        close(fd);
        return CA_EIO;
    }
    if (st.st_mode & 077) {
        ca_errf(err, errlen, "%s: mode %04o lets group or others read the CA key; chmod 600 it",
                key_path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return CA_EKEYPERM;
    }
    ret = ca_file_read_fd(fd, &buf, &len);
    close(fd);
    if (ret != 0) {
        ca_errf(err, errlen, "%s: %s", key_path,
                ret == CA_ENOMEM ? "out of memory" : "read failed");
        return ret;
    }
    ret = mbedtls_pk_parse_key(&s->key, buf, len + 1, NULL, 0);
    mbedtls_platform_zeroize(buf, len);
    free(buf);
    if (ret != 0) {
        ca_errf(err, errlen, "%s: %s", key_path, ca_tls_errstr(ret, msg, sizeof msg));
        return CA_EPARSE;
    }
    if ((ret = mbedtls_x509_crt_parse(&s->cert, cert_pem, cert_len + 1)) != 0) {
        ca_errf(err, errlen, CA_CERT_FILE ": %s", ca_tls_errstr(ret, msg, sizeof msg));
        return CA_EPARSE;
    }
    return ca_signer_check(s, now, err, errlen);
}

/* Write the CA key into dir as ca.key, mode 0600, atomically. */
int ca_signer_store_key(struct ca_signer *s, const char *dir, char *err, size_t errlen)
{
    unsigned char pem[1024];
    char msg[128];
    int ret = mbedtls_pk_write_key_pem(&s->key, pem, sizeof pem);
    if (ret != 0) {
        ca_errf(err, errlen, "writing the CA key: %s", ca_tls_errstr(ret, msg, sizeof msg));
        return CA_ECRYPTO;
    }
    ret = ca_file_write_atomic(dir, CA_KEY_FILE, pem, strlen((char *)pem), 0600, err, errlen);
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
int ca_signer_issue(struct ca_signer *s, const struct leaf_request *req, unsigned char *buf,
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
