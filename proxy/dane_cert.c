/* proxy/dane_cert.c — what DANE needs to know about one certificate: its
 * SubjectPublicKeyInfo (digest, and found in DER mbedTLS cannot parse),
 * whether an mbedTLS error means it could not be parsed and how to say so,
 * and the RFC 6125 §6.4 name check. Declared in include/dane.h.
 */
#include <stdio.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509.h>

#include "dane.h"

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int mem_case_eq(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return 0;
    return 1;
}

int dane_cert_spki_sha256(const mbedtls_x509_crt *crt, unsigned char out[32])
{
    if (crt == NULL || out == NULL)
        return DANE_EINVAL;
    return mbedtls_sha256_ret(crt->pk_raw.p, crt->pk_raw.len, out, 0) == 0 ? 0 : DANE_ECRYPTO;
}

/* Reads one TLV of `tag` at *p (not past end) and steps over it. Returns 0,
 * or -1 when it is missing or overruns. */
static int asn1_skip(unsigned char **p, const unsigned char *end, int tag)
{
    size_t len;
    if (mbedtls_asn1_get_tag(p, end, &len, tag) != 0)
        return -1;
    *p += len; /* mbedtls_asn1_get_tag() checked that len bytes remain */
    return 0;
}

int dane_cert_der_spki(const unsigned char *der, size_t len, const unsigned char **spki,
                       size_t *spki_len)
{
    const int seq = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    /* mbedTLS's ASN.1 readers take a non-const cursor; they never write */
    unsigned char *p = (unsigned char *)der;
    const unsigned char *end = der + len, *cert_end, *tbs_end, *key, *key_end;
    size_t n;

    if (der == NULL || spki == NULL || spki_len == NULL)
        return DANE_EINVAL;
    /* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
    if (len == 0 || mbedtls_asn1_get_tag(&p, end, &n, seq) != 0 || p + n != end)
        return DANE_ECERT;
    cert_end = p + n;
    if (mbedtls_asn1_get_tag(&p, cert_end, &n, seq) != 0)
        return DANE_ECERT;
    tbs_end = p + n;
    /* [0] EXPLICIT Version DEFAULT v1 */
    if (p < tbs_end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0) &&
        asn1_skip(&p, tbs_end, *p) != 0)
        return DANE_ECERT;
    /* serialNumber (an INTEGER; mbedTLS also takes a [2] tag), signature,
     * issuer, validity, subject: stepped over unread */
    if (asn1_skip(&p, tbs_end, MBEDTLS_ASN1_INTEGER) != 0 &&
        asn1_skip(&p, tbs_end, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_PRIMITIVE | 2) != 0)
        return DANE_ECERT;
    for (int k = 0; k < 4; k++)
        if (asn1_skip(&p, tbs_end, seq) != 0)
            return DANE_ECERT;
    /* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
     * subjectPublicKey BIT STRING }, nothing else inside */
    key = p;
    if (mbedtls_asn1_get_tag(&p, tbs_end, &n, seq) != 0)
        return DANE_ECERT;
    key_end = p + n;
    if (asn1_skip(&p, key_end, seq) != 0 || asn1_skip(&p, key_end, MBEDTLS_ASN1_BIT_STRING) != 0 ||
        p != key_end)
        return DANE_ECERT;
    /* issuerUniqueID, subjectUniqueID, extensions: not read */
    p = (unsigned char *)tbs_end;
    if (asn1_skip(&p, cert_end, seq) != 0 ||
        asn1_skip(&p, cert_end, MBEDTLS_ASN1_BIT_STRING) != 0 || p != cert_end)
        return DANE_ECERT;
    *spki = key;
    *spki_len = (size_t)(key_end - key);
    return 0;
}

int dane_cert_parse_error(int err)
{
    if (err >= 0 || err < -0xFFFF)
        return 0;
    /* a high-level code, possibly plus a low-level (ASN.1, OID) one */
    switch (-((-err) & 0xFF80)) {
    case MBEDTLS_ERR_X509_FEATURE_UNAVAILABLE:
    case MBEDTLS_ERR_X509_UNKNOWN_OID:
    case MBEDTLS_ERR_X509_INVALID_FORMAT:
    case MBEDTLS_ERR_X509_INVALID_VERSION:
    case MBEDTLS_ERR_X509_INVALID_SERIAL:
    case MBEDTLS_ERR_X509_INVALID_ALG:
    case MBEDTLS_ERR_X509_INVALID_NAME:
    case MBEDTLS_ERR_X509_INVALID_DATE:
    case MBEDTLS_ERR_X509_INVALID_SIGNATURE:
    case MBEDTLS_ERR_X509_INVALID_EXTENSIONS:
    case MBEDTLS_ERR_X509_UNKNOWN_VERSION:
    case MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG:
    case MBEDTLS_ERR_X509_SIG_MISMATCH:
    case MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT:
    case MBEDTLS_ERR_PK_KEY_INVALID_FORMAT:
    case MBEDTLS_ERR_PK_UNKNOWN_PK_ALG:
    case MBEDTLS_ERR_PK_INVALID_PUBKEY:
    case MBEDTLS_ERR_PK_INVALID_ALG:
    case MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE:
    case MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE:
        return 1;
    }
    return 0;
}

char *dane_cert_unparsable_reason(char *buf, size_t cap, int err)
{
    char msg[200];
    if (buf == NULL || cap == 0)
        return buf;
    mbedtls_strerror(err, msg, sizeof(msg));
    snprintf(buf, cap,
             "the server's certificate cannot be parsed by mbedTLS (%s, -0x%04x): mbedTLS "
             "parses it inside the TLS handshake and aborts, so daneguard cannot connect to "
             "this server whatever its TLSA records say (`daneguard verify` still matches "
             "DANE-EE records against such a certificate offline)",
             msg, (unsigned)-err);
    return buf;
}

/* ---- names (RFC 6125 §6.4) -------------------------------------------- */

static size_t strip_dot(const char *s, size_t len)
{
    return len > 0 && s[len - 1] == '.' ? len - 1 : len;
}

static int name_matches(const char *pat, size_t plen, const char *host, size_t hlen)
{
    plen = strip_dot(pat, plen);
    hlen = strip_dot(host, hlen);
    if (plen == 0 || hlen == 0 || memchr(host, '*', hlen) != NULL || memchr(pat, '\0', plen))
        return 0;
    if (plen > 2 && pat[0] == '*' && pat[1] == '.') {
        const char *rest = pat + 1; /* ".example.com" */
        size_t rlen = plen - 1;
        /* "*.com" would cover a whole TLD; mbedTLS and browsers refuse it too */
        if (memchr(rest + 1, '.', rlen - 1) == NULL || memchr(rest, '*', rlen) != NULL)
            return 0;
        const char *dot = memchr(host, '.', hlen);
        if (dot == NULL || dot == host)
            return 0;
        size_t tail = hlen - (size_t)(dot - host);
        return tail == rlen && mem_case_eq(dot, rest, rlen);
    }
    if (memchr(pat, '*', plen) != NULL) /* partial-label or inner wildcards: never */
        return 0;
    return plen == hlen && mem_case_eq(pat, host, hlen);
}

static int is_dns_san(const mbedtls_x509_sequence *s)
{
    return s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME);
}

static int has_dns_san(const mbedtls_x509_crt *crt)
{
    for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s != NULL; s = s->next)
        if (s->buf.p != NULL && is_dns_san(s))
            return 1;
    return 0;
}

int dane_cert_name_matches(const mbedtls_x509_crt *crt, const char *host)
{
    if (crt == NULL || host == NULL)
        return 0;
    size_t hlen = strlen(host);
    if (has_dns_san(crt)) {
        for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s != NULL; s = s->next)
            if (s->buf.p != NULL && is_dns_san(s) &&
                name_matches((const char *)s->buf.p, s->buf.len, host, hlen))
                return 1;
        return 0;
    }
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next)
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
            name_matches((const char *)n->val.p, n->val.len, host, hlen))
            return 1;
    return 0;
}
