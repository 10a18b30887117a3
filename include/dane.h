/* include/dane.h — the DANE engine: TLSA records against a presented certificate chain.
 *
 * Pure: no I/O, no clock reads (the time is a parameter), no logging. The
 * proxy, `daneguard verify` and `daneguard check` all call dane_verify(). The
 * rules it implements (RFC 6698, RFC 7671, names from RFC 7218) are described
 * function by function in the head comment of proxy/dane.c.
 *
 * One module in three files: proxy/dane_tlsa.c the records (dane_tlsa_*),
 * proxy/dane_cert.c what is read off one certificate (dane_cert_*), and
 * proxy/dane.c the verification (dane_verify*, dane_pkix_verify).
 */
#ifndef DANEGUARD_DANE_H
#define DANEGUARD_DANE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <mbedtls/x509_crt.h>

/* Error codes: 0 is success, each failure a distinct negative value. */
#define DANE_ERRNO_MAP(X)                                                                          \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(INVAL, -2, "invalid argument")                                                               \
    X(SYNTAX, -3, "a TLSA record is \"usage selector matching-type hex-data\"")                    \
    X(FIELD, -4,                                                                                   \
      "TLSA usage, selector or matching type is not a number 0-255 or an RFC 7218 name")           \
    X(HEX, -5, "TLSA association data must be hex digits, an even number of them")                 \
    X(RDATA, -6, "TLSA RDATA is shorter than 3 bytes")                                             \
    X(CRYPTO, -7, "a hash or key operation failed in mbedTLS")                                     \
    X(CERT, -8,                                                                                    \
      "not a DER X.509 certificate (no Certificate, TBSCertificate, SubjectPublicKeyInfo)")

enum dane_errno {
#define DANE_ERRNO_GEN(name, value, text) DANE_E##name = (value),
    DANE_ERRNO_MAP(DANE_ERRNO_GEN)
#undef DANE_ERRNO_GEN
};

/* Returns a static English description of a DANE_E* code ("unknown error"
 * for anything else, "success" for 0). */
const char *dane_strerror(int err);

/* Certificate usages (RFC 6698 §2.1.1, RFC 7218 names). */
#define DANE_USAGE_PKIX_TA 0
#define DANE_USAGE_PKIX_EE 1
#define DANE_USAGE_DANE_TA 2
#define DANE_USAGE_DANE_EE 3
/* Selectors (RFC 6698 §2.1.2). */
#define DANE_SELECTOR_CERT 0
#define DANE_SELECTOR_SPKI 1
/* Matching types (RFC 6698 §2.1.3). */
#define DANE_MTYPE_FULL 0
#define DANE_MTYPE_SHA256 1
#define DANE_MTYPE_SHA512 2

/* One TLSA record. `data` is owned by the record: the parse and make
 * functions allocate it, dane_tlsa_clear() frees it. A record holding unknown
 * values or malformed data is still a record; it is just not usable. */
struct dane_tlsa {
    uint8_t usage;
    uint8_t selector;
    uint8_t mtype;
    uint8_t *data; /* certificate association data, `len` bytes */
    size_t len;
};

/* Parses presentation text, "3 1 1 0123ab..." (RFC 6698 §2.2). The three
 * fields may also be RFC 7218 mnemonics ("DANE-EE SPKI SHA2-256"); the hex may
 * be split by white space. Any value 0-255 parses; whether the record is
 * usable is a separate question. On success *rec is overwritten (the caller
 * clears any previous content first). Returns 0 or DANE_ESYNTAX, DANE_EFIELD,
 * DANE_EHEX, DANE_ENOMEM; on failure *rec is left empty. */
int dane_tlsa_parse_text(struct dane_tlsa *rec, const char *text);

/* Parses TLSA RDATA as it appears on the wire (RFC 6698 §2.1). The bytes are
 * copied. Returns 0, DANE_ERDATA (shorter than 3 bytes) or DANE_ENOMEM. */
int dane_tlsa_parse_rdata(struct dane_tlsa *rec, const uint8_t *rdata, size_t len);

/* Makes the record (usage, selector, mtype) for `der`: a certificate's DER
 * when selector is 0, a SubjectPublicKeyInfo DER when it is 1. Returns 0,
 * DANE_EINVAL (unknown selector or matching type), DANE_ECRYPTO, DANE_ENOMEM. */
int dane_tlsa_make(struct dane_tlsa *rec, uint8_t usage, uint8_t selector, uint8_t mtype,
                   const unsigned char *der, size_t len);

/* The same for a parsed certificate (crt->raw or crt->pk_raw by selector). */
int dane_tlsa_make_cert(struct dane_tlsa *rec, uint8_t usage, uint8_t selector, uint8_t mtype,
                        const mbedtls_x509_crt *crt);

/* Frees rec->data and zeroes the record; a zeroed or NULL record is a no-op. */
void dane_tlsa_clear(struct dane_tlsa *rec);

/* Presentation text "U S M HEX" (lower-case hex, one run). Returns a string
 * the caller frees with free(), or NULL when out of memory. */
char *dane_tlsa_to_text(const struct dane_tlsa *rec);

/* 1 when the record is usable (RFC 7671 §4.1, RFC 6698 §2.1): usage 0-3,
 * selector 0-1, matching type 0-2, and data of the digest's length (32 or 64
 * bytes) or, for matching type 0, not empty. Otherwise 0. */
int dane_tlsa_usable(const struct dane_tlsa *rec);

/* How many of records[0..n) are usable; 0 means the RRset counts as no TLSA
 * at all (RFC 7671 §4.1). */
size_t dane_tlsa_count_usable(const struct dane_tlsa *records, size_t n);

/* The digest of len bytes at in by matching type mtype (DANE_MTYPE_SHA256 or
 * DANE_MTYPE_SHA512) into out, which holds 64 bytes; dane_tlsa_digest_len()
 * bytes of it are written (32 or 64; 0 for any other type). Returns 0,
 * DANE_EINVAL (another type) or DANE_ECRYPTO. */
int dane_tlsa_digest(uint8_t mtype, const unsigned char *in, size_t len, unsigned char *out);
size_t dane_tlsa_digest_len(uint8_t mtype);

/* SHA-256 of a certificate's SubjectPublicKeyInfo DER, the value of a
 * "3 1 1" record, for error pages and log lines. Returns 0 or DANE_ECRYPTO. */
int dane_cert_spki_sha256(const mbedtls_x509_crt *crt, unsigned char out[32]);

/* Finds the SubjectPublicKeyInfo in a certificate's DER without parsing the
 * certificate: a minimal, bounds-checked walk (RFC 5280 §4.1: Certificate,
 * TBSCertificate, optional version, serialNumber, signature, issuer,
 * validity, subject, subjectPublicKeyInfo; then signatureAlgorithm and
 * signatureValue, and nothing after them). Names, dates, algorithms and
 * extensions are not looked at, so it works on certificates mbedTLS refuses
 * (an empty subject or issuer, notAfter before notBefore, an Ed25519 key...).
 * On success *spki points into der (not copied) and *spki_len is its length.
 * Returns 0, DANE_EINVAL (NULL arguments) or DANE_ECERT. */
int dane_cert_der_spki(const unsigned char *der, size_t len, const unsigned char **spki,
                       size_t *spki_len);

/* 1 when an mbedTLS error code is one that parsing a certificate produces
 * (mbedtls_x509_crt_parse_der(): X.509 format codes, public key parse codes),
 * not a verification, I/O or allocation failure; else 0. A TLS client
 * handshake that fails with such a code failed because the server's
 * certificate could not be parsed: mbedTLS parses the peer's certificate
 * inside the handshake and aborts it (bad_certificate alert) when it cannot. */
int dane_cert_parse_error(int mbedtls_err);

/* The one-line reason for a handshake that failed that way, for refusal pages,
 * log lines and `daneguard check`: "the server's certificate cannot be parsed
 * by mbedTLS (<mbedTLS's words>): ...". Writes at most cap bytes into buf,
 * always NUL-terminated; returns buf. */
char *dane_cert_unparsable_reason(char *buf, size_t cap, int mbedtls_err);

enum dane_result {
    DANE_RESULT_MATCH = 0, /* a usable record matched and every check it implies passed */
    DANE_RESULT_NO_USABLE, /* no usable records: the RRset means "no DANE" */
    DANE_RESULT_FAIL,      /* usable records, and none authenticates the chain */
};

/* "match", "no usable records", "fail". */
const char *dane_result_name(enum dane_result result);

#define DANE_REASON_MAX 1024

/* The outcome of dane_verify(): a value, nothing to free. */
struct dane_verdict {
    enum dane_result result;
    int record;    /* index in records[] of the matching record; -1 when none */
    int depth;     /* chain depth of what matched: 0 the leaf, 1 its issuer, ...
                      (OpenSSL's SSL_get0_dane_authority() convention): a
                      "2 0 0" certificate the server did not send takes the
                      depth above the certificate it signed; a "2 1 0" key
                      the server did not send reports the depth of the
                      certificate it signed (0 when it signed the leaf);
                      -1 when none */
    uint8_t usage; /* the matching record's fields (0 when none) */
    uint8_t selector;
    uint8_t mtype;
    char reason[DANE_REASON_MAX]; /* one line, for operators: why it matched or failed */
};

/* Checks a presented chain against a TLSA RRset (RFC 6698 §2.1, RFC 7671).
 *
 *   records, n  the RRset; unusable records are ignored, and for each usage and
 *               selector only the strongest digest present counts (RFC 7671 §9).
 *   chain       the certificates the server sent, leaf first (an mbedTLS list,
 *               e.g. mbedtls_ssl_get_peer_cert()); not modified, not kept.
 *   host        the reference identifier for the name checks of usages 0, 1, 2
 *               (a trailing dot is ignored); may be NULL only when no such
 *               record is present, in which case those records fail.
 *   trust       the PKIX trust store for usages 0 and 1; NULL means none, and
 *               such records then fail. Not modified, not kept.
 *   now         the time certificates are checked against (usages 0, 1, 2).
 *   v           receives the verdict; always filled, even on error.
 *
 * Returns 0 when a verdict was reached (read v->result), or a negative DANE_E*
 * code (DANE_ENOMEM, DANE_EINVAL, DANE_ECRYPTO) on an internal failure; v then
 * says DANE_RESULT_FAIL with the error as its reason, so a caller that only
 * reads the verdict still fails closed. */
int dane_verify(const struct dane_tlsa *records, size_t n, const mbedtls_x509_crt *chain,
                const char *host, const mbedtls_x509_crt *trust, time_t now,
                struct dane_verdict *v);

/* One certificate as the server presented it: DER, not copied. */
struct dane_der {
    const unsigned char *p;
    size_t len;
};

/* dane_verify() for certificates given as DER, leaf first (chain[0..nchain)),
 * so that a certificate mbedTLS cannot parse can still be judged where the
 * rules need only its bytes: a DANE-EE(3) record is matched against the
 * leaf's DER (selector 0) or the SubjectPublicKeyInfo found by
 * dane_cert_der_spki() (selector 1), RFC 7671 §5.1. Usages 0-2 need a chain
 * mbedTLS parses: when any certificate does not parse, those records fail
 * and the reason names the certificate and mbedTLS's error. A certificate
 * that is not DER X.509 at all (dane_cert_der_spki() fails) fails the whole
 * chain. Nothing is kept; other arguments and results as for dane_verify(). */
int dane_verify_der(const struct dane_tlsa *records, size_t n, const struct dane_der *chain,
                    size_t nchain, const char *host, const mbedtls_x509_crt *trust, time_t now,
                    struct dane_verdict *v);

/* RFC 6125 §6.4 name check on a certificate, as dane_verify() does it: the
 * dNSName SANs when there is at least one, else the subject CNs; a wildcard
 * only as the whole left-most label ("*.example.com" matches
 * "www.example.com", not "example.com" nor "a.b.example.com"); ASCII
 * case-insensitive; a trailing dot on either side ignored. Returns 1 on a
 * match, else 0. */
int dane_cert_name_matches(const mbedtls_x509_crt *crt, const char *host);

/* PKIX alone, by the rules dane_verify() applies to PKIX-TA/PKIX-EE records
 * (RFC 6698 §2.1.1): the chain validates against `trust` at `now`, the leaf
 * passes dane_cert_name_matches() for `host` and, when it has them, its
 * extended key usage includes serverAuth and its key usage permits TLS
 * (RFC 5280 §4.2.1.3, §4.2.1.12). For `intercept: all` on hosts without DANE.
 * Arguments as for dane_verify(); host and trust NULL fail. v->result is
 * DANE_RESULT_MATCH (v->depth: the anchor's depth) or DANE_RESULT_FAIL with
 * the reason. Returns 0, or a negative DANE_E* code with v failing. */
int dane_pkix_verify(const mbedtls_x509_crt *chain, const char *host, const mbedtls_x509_crt *trust,
                     time_t now, struct dane_verdict *v);

#endif
