/* proxy/dane.c — the DANE engine: TLSA records against a presented certificate chain.
 *
 * NAME
 *      dane 3
 * SUMMARY
 *      DANE (RFC 6698, RFC 7671) certificate verification, pure
 * SYNOPSIS
 *      #include "dane.h"
 *
 *      int     dane_tlsa_parse_text(rec, text)
 *      int     dane_tlsa_parse_rdata(rec, rdata, len)
 *      int     dane_tlsa_make(rec, usage, selector, mtype, der, len)
 *      int     dane_tlsa_make_cert(rec, usage, selector, mtype, crt)
 *      void    dane_tlsa_clear(rec)
 *      char   *dane_tlsa_to_text(rec)
 *      int     dane_tlsa_usable(rec)
 *      size_t  dane_tlsa_count_usable(records, n)
 *      int     dane_cert_spki_sha256(crt, out)
 *      int     dane_cert_name_matches(crt, host)
 *      int     dane_cert_der_spki(der, len, spki, spki_len)
 *      int     dane_cert_parse_error(mbedtls_err)
 *      char   *dane_cert_unparsable_reason(buf, cap, mbedtls_err)
 *      int     dane_verify(records, n, chain, host, trust, now, verdict)
 *      int     dane_pkix_verify(chain, host, trust, now, verdict)
 *      int     dane_verify_der(records, n, ders, nders, host, trust, now, verdict)
 *      const char *dane_strerror(err)
 *      const char *dane_result_name(result)
 * FILES
 *      dane_tlsa.c holds the dane_tlsa_* functions, dane_cert.c the dane_cert_*
 *      ones; this file the verdicts (dane_verify*, dane_pkix_verify) and the
 *      error and result names. The description below covers all three.
 * DESCRIPTION
 *      This module decides whether the certificate chain a TLS server
 *      presented is what its DNSSEC-validated TLSA RRset says it must be. It
 *      does no I/O and reads no clock: the proxy, `daneguard verify` and
 *      `daneguard check` hand it the records, the chain, the name, the PKIX
 *      trust store and the time, and get a verdict value with a reason.
 *
 *      dane_tlsa_parse_text() reads the presentation form of RFC 6698 §2.2,
 *      "U S M hex", where the three numbers may be RFC 7218 mnemonics
 *      (PKIX-TA PKIX-EE DANE-TA DANE-EE PrivCert; Cert SPKI PrivSel; Full
 *      SHA2-256 SHA2-512 PrivMatch). dane_tlsa_parse_rdata() reads the wire
 *      form of RFC 6698 §2.1. Neither judges usability: a record with an
 *      unknown field value parses, as RFC 7671 §4.1 wants clients to keep
 *      going past records they cannot use.
 *
 *      dane_tlsa_make() and dane_tlsa_make_cert() compute the association data
 *      for a certificate (selector 0, its DER) or a SubjectPublicKeyInfo
 *      (selector 1), with matching type 0 (the bytes), 1 (SHA-256) or 2
 *      (SHA-512), RFC 6698 §2.1.2-2.1.3. `daneguard tlsa` prints them.
 *
 *      dane_tlsa_usable() says whether a record can be used: usage 0-3,
 *      selector 0-1, matching type 0-2, and association data of the right
 *      length (32 bytes for SHA-256, 64 for SHA-512, not empty for 0).
 *      Unusable records are ignored (RFC 7671 §4.1, RFC 6698 §4.1), and
 *      dane_tlsa_count_usable() == 0 means the RRset counts as no TLSA.
 *
 *      dane_cert_spki_sha256() gives a certificate's "3 1 1" digest, which the
 *      proxy's refusal page and log lines show.
 *
 *      dane_cert_name_matches() is the RFC 6125 §6.4 check used for usages 0,
 *      1 and 2: dNSName subjectAltNames, or the subject CN only when the
 *      certificate has no dNSName at all; a wildcard only as the complete
 *      left-most label of a name with at least two more labels (RFC 6125
 *      §6.4.3, RFC 7671 §7 does not widen it); comparison is ASCII
 *      case-insensitive and a trailing dot is ignored.
 *
 *      dane_verify() applies the RRset to the chain. Records are considered
 *      only if usable and, per RFC 7671 §9 (digest algorithm agility), only if
 *      no record of the same usage and selector has a stronger digest
 *      (SHA-512 beats SHA-256; matching type 0 always counts). Any one
 *      considered record that authenticates the chain is enough (RFC 6698
 *      §4.1, RFC 7671 §8.1 key rollover). Records are tried by usage, cheapest
 *      first: 3, 2, then 0 and 1; within a usage, in RRset order.
 *
 *      DANE-EE(3), RFC 7671 §5.1: the record must match the leaf. Nothing else
 *      is checked: not the name, not the validity dates, not the issuer. So
 *      only the leaf's bytes are needed: dane_verify_der() takes the chain as
 *      DER and matches DANE-EE records against a leaf mbedTLS cannot parse
 *      (an empty subject or issuer name, notAfter before notBefore, a key
 *      type it lacks), using dane_cert_der_spki(), a bounds-checked walk to
 *      the SubjectPublicKeyInfo with mbedTLS's asn1.h readers. Every other
 *      usage needs signatures, names and dates, hence a chain mbedTLS parses;
 *      with an unparsable certificate those records fail, and the reason
 *      names the certificate and mbedTLS's error. In a live TLS handshake
 *      mbedTLS parses the peer's certificate itself and aborts when it cannot;
 *      dane_cert_parse_error() recognises those error codes and
 *      dane_cert_unparsable_reason() words the refusal.
 *
 *      DANE-TA(2), RFC 7671 §5.2: the record must match a certificate above
 *      the leaf (depth >= 1) in the presented chain, never the leaf itself,
 *      not even a self-signed one (RFC 6698 §2.1.1 makes it the trust anchor
 *      for validating the leaf; OpenSSL and Postfix match DANE-TA records only
 *      above depth 0), and the leaf must chain
 *      to it: signatures, basic constraints and key usage by
 *      mbedtls_x509_crt_verify() with that certificate as the only trust
 *      anchor, and the validity dates of the leaf and any intermediate
 *      against `now` (the anchor's own dates do not count: the DNS vouches
 *      for it). The leaf must also pass dane_cert_name_matches() against
 *      `host`. The system trust store is not consulted. A "2 0 0" or "2 1 0"
 *      record carries the anchor itself (RFC 7671 §5.2.2-5.2.3): when it is
 *      not in the chain, a presented certificate whose signature verifies
 *      with the record's key takes its place as the top of the path. That
 *      includes a self-signed leaf whose own key a "2 1 0" record carries
 *      (as in OpenSSL); a "2 0 0" record that is the leaf itself is not an
 *      anchor of it. A DANE-TA record that matches only the leaf fails with a
 *      reason that says so and suggests the DANE-EE record instead.
 *
 *      Depths follow OpenSSL's SSL_get0_dane_authority(), so operators can
 *      compare the two: the matched certificate's depth in the validated
 *      path; for a "2 0 0" certificate the server did not send, the depth it
 *      takes above the certificate it signed; for a "2 1 0" key the server
 *      did not send, the depth of the certificate it signed (0 for the leaf).
 *
 *      PKIX-TA(0) and PKIX-EE(1), RFC 6698 §2.1.1: the chain must pass a full
 *      PKIX validation against `trust` (mbedTLS's default profile: signatures,
 *      basic constraints, key usage of issuers) with the validity dates of
 *      every certificate in the path checked against `now`, the leaf must
 *      pass the name check, carry serverAuth if it has an extended key usage,
 *      and be usable for TLS if it has a key usage; then a usage 1 record must
 *      match the leaf and a usage 0 record a certificate above it in the
 *      validated path (which may be the trust store's root). A "0 0 0" record
 *      may supply an intermediate the server left out (RFC 7671 §5.4).
 *
 *      dane_pkix_verify() is the PKIX path of usages 0 and 1 without a record
 *      to match: the validation against `trust`, the name check and the
 *      leaf's (extended) key usage, exactly as above. The proxy's `intercept:
 *      all` uses it for hosts without usable TLSA, so a certificate it accepts
 *      there is one a PKIX-EE record for the leaf would accept.
 *
 *      mbedTLS checks validity dates against the real clock; those two flags
 *      (EXPIRED, FUTURE) are cleared in the verification callback and
 *      recomputed against `now`, so results depend only on the arguments.
 * DIAGNOSTICS
 *      Functions return 0 or a negative DANE_E* code (dane_strerror()).
 *      dane_verify() reports its result in the verdict: DANE_RESULT_MATCH with
 *      the record index, the depth and a reason naming what matched;
 *      DANE_RESULT_NO_USABLE; or DANE_RESULT_FAIL with a reason that says
 *      which records matched what and which check then failed, the leaf's key
 *      digest, and the records.
 * SEE ALSO
 *      RFC 6698 (DANE TLSA), RFC 7671 (DANE updates and operational
 *      guidance), RFC 7218 (acronyms), RFC 6125 (service identity), RFC 5280.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <mbedtls/x509.h>

#include "dane.h"

#define DANE_PATH_MAX 16 /* mbedTLS stops at MBEDTLS_X509_MAX_VERIFY_CHAIN_SIZE (12) */
#define TIME_FLAGS (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)

const char *dane_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define DANE_ERRNO_TEXT(name, value, text)                                                         \
    case DANE_E##name:                                                                             \
        return text;
        DANE_ERRNO_MAP(DANE_ERRNO_TEXT)
#undef DANE_ERRNO_TEXT
    }
    return "unknown error";
}

const char *dane_result_name(enum dane_result result)
{
    switch (result) {
    case DANE_RESULT_MATCH:
        return "match";
    case DANE_RESULT_NO_USABLE:
        return "no usable records";
    case DANE_RESULT_FAIL:
        return "fail";
    }
    return "unknown";
}

/* 1 when rec matches der (a certificate or SPKI, as rec's selector says), 0
 * when not, negative on a hash failure. */
static int match_der(const struct dane_tlsa *rec, const unsigned char *der, size_t len)
{
    unsigned char md[64];
    if (rec->mtype == DANE_MTYPE_FULL)
        return rec->len == len && memcmp(rec->data, der, len) == 0;
    int err = dane_tlsa_digest(rec->mtype, der, len, md);
    if (err != 0)
        return err;
    return memcmp(md, rec->data, rec->len) == 0;
}

static int match_cert(const struct dane_tlsa *rec, const mbedtls_x509_crt *crt)
{
    const mbedtls_x509_buf *buf = rec->selector == DANE_SELECTOR_CERT ? &crt->raw : &crt->pk_raw;
    return match_der(rec, buf->p, buf->len);
}

/* RFC 7671 §9: a usable record counts unless the RRset also holds a usable
 * record of the same usage and selector with a stronger digest. */
static int considered(const struct dane_tlsa *records, size_t n, size_t i)
{
    const struct dane_tlsa *r = &records[i];
    if (!dane_tlsa_usable(r))
        return 0;
    if (r->mtype == DANE_MTYPE_FULL)
        return 1;
    for (size_t j = 0; j < n; j++) {
        const struct dane_tlsa *o = &records[j];
        if (dane_tlsa_usable(o) && o->usage == r->usage && o->selector == r->selector &&
            o->mtype != DANE_MTYPE_FULL && o->mtype > r->mtype)
            return 0;
    }
    return 1;
}

/* ---- reasons ------------------------------------------------------------ */

/* dNSName SANs, as dane_cert.c's name check reads them (for the reason text). */
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

struct rbuf {
    char *p;
    size_t size;
    size_t len;
};

__attribute__((format(printf, 2, 3))) static void rb_printf(struct rbuf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->len + 1 >= b->size)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->len += (size_t)n;
    if (b->len >= b->size) { /* truncated: say so */
        b->len = b->size - 1;
        if (b->size > 4)
            memcpy(b->p + b->size - 4, "...", 4);
    }
}

static void rb_hex(struct rbuf *b, const unsigned char *data, size_t len, size_t max)
{
    for (size_t i = 0; i < len && i < max; i++)
        rb_printf(b, "%02x", data[i]);
    if (len > max)
        rb_printf(b, "...");
}

static void rb_record(struct rbuf *b, const struct dane_tlsa *r)
{
    rb_printf(b, "%u %u %u ", r->usage, r->selector, r->mtype);
    rb_hex(b, r->data, r->len, 8);
}

static void rb_subject(struct rbuf *b, const mbedtls_x509_crt *crt)
{
    char dn[256];
    if (mbedtls_x509_dn_gets(dn, sizeof(dn), &crt->subject) < 0)
        snprintf(dn, sizeof(dn), "?");
    rb_printf(b, "%s", dn);
}

static void rb_names(struct rbuf *b, const mbedtls_x509_crt *crt)
{
    const char *sep = "";
    int dns = has_dns_san(crt);
    rb_printf(b, "%s: ", dns ? "its DNS names are" : "it has no DNS name, its CN is");
    if (dns) {
        for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s != NULL; s = s->next)
            if (s->buf.p != NULL && is_dns_san(s)) {
                rb_printf(b, "%s%.*s", sep, (int)s->buf.len, (const char *)s->buf.p);
                sep = ", ";
            }
        return;
    }
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next)
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            rb_printf(b, "%s%.*s", sep, (int)n->val.len, (const char *)n->val.p);
            sep = ", ";
        }
    if (*sep == '\0')
        rb_printf(b, "(none)");
}

static void rb_date(struct rbuf *b, const mbedtls_x509_time *t)
{
    rb_printf(b, "%04d-%02d-%02d %02d:%02d:%02dZ", t->year, t->mon, t->day, t->hour, t->min,
              t->sec);
}

/* ---- paths ------------------------------------------------------------- */

static int x509_time_cmp(const mbedtls_x509_time *a, const mbedtls_x509_time *b)
{
    const int av[6] = {a->year, a->mon, a->day, a->hour, a->min, a->sec};
    const int bv[6] = {b->year, b->mon, b->day, b->hour, b->min, b->sec};
    for (int i = 0; i < 6; i++)
        if (av[i] != bv[i])
            return av[i] < bv[i] ? -1 : 1;
    return 0;
}

static uint32_t time_flags(const mbedtls_x509_crt *crt, const mbedtls_x509_time *now)
{
    uint32_t flags = 0;
    if (x509_time_cmp(&crt->valid_to, now) < 0)
        flags |= MBEDTLS_X509_BADCERT_EXPIRED;
    if (x509_time_cmp(&crt->valid_from, now) > 0)
        flags |= MBEDTLS_X509_BADCERT_FUTURE;
    return flags;
}

/* What one mbedtls_x509_crt_verify() call saw, through its callback. */
struct path {
    const mbedtls_x509_time *now;
    const mbedtls_x509_crt *undated; /* a DANE-TA anchor: its dates do not count */
    const mbedtls_x509_crt *cert[DANE_PATH_MAX];
    int len;                          /* certificates in the path, anchor included */
    const mbedtls_x509_crt *bad_time; /* the first one out of its validity period */
    int bad_time_depth;
};

static int path_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    struct path *pa = arg;
    *flags &= ~(uint32_t)TIME_FLAGS; /* mbedTLS read the real clock; we use `now` */
    if (crt != pa->undated) {
        uint32_t tf = time_flags(crt, pa->now);
        *flags |= tf;
        if (tf != 0 && (pa->bad_time == NULL || depth < pa->bad_time_depth)) {
            pa->bad_time = crt;
            pa->bad_time_depth = depth;
        }
    }
    if (depth >= 0 && depth < DANE_PATH_MAX)
        pa->cert[depth] = crt;
    if (depth + 1 > pa->len)
        pa->len = depth + 1;
    return 0;
}

/* Validates crt (leaf first, then any other certificates) up to `anchor`.
 * Returns 1 when valid, 0 when not (with the why in *b), or negative. */
static int path_validate(mbedtls_x509_crt *crt, mbedtls_x509_crt *anchor,
                         const mbedtls_x509_crt *undated, const mbedtls_x509_time *now,
                         struct path *pa, struct rbuf *why)
{
    uint32_t flags = 0;
    memset(pa, 0, sizeof(*pa));
    pa->now = now;
    pa->undated = undated;
    int ret = mbedtls_x509_crt_verify_with_profile(
        crt, anchor, NULL, &mbedtls_x509_crt_profile_default, NULL, &flags, path_cb, pa);
    if (ret == 0)
        return 1;
    if (ret != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED)
            return DANE_ENOMEM;
        rb_printf(why, "mbedTLS could not build a path (error -0x%04x)", (unsigned)-ret);
        return 0;
    }
    const char *sep = "";
    if ((flags & TIME_FLAGS) && pa->bad_time != NULL) {
        const mbedtls_x509_crt *c = pa->bad_time;
        rb_printf(why, "the certificate at depth %d (", pa->bad_time_depth);
        rb_subject(why, c);
        if (flags & MBEDTLS_X509_BADCERT_EXPIRED &&
            time_flags(c, now) & MBEDTLS_X509_BADCERT_EXPIRED) {
            rb_printf(why, ") expired at ");
            rb_date(why, &c->valid_to);
        } else {
            rb_printf(why, ") is not valid before ");
            rb_date(why, &c->valid_from);
        }
        rb_printf(why, " (checked at ");
        rb_date(why, now);
        rb_printf(why, ")");
        sep = "; ";
    }
    uint32_t rest = flags & ~(uint32_t)TIME_FLAGS;
    if (rest & MBEDTLS_X509_BADCERT_NOT_TRUSTED) { /* mbedTLS's words for it mislead */
        rb_printf(why,
                  "%sno path from the leaf to %s (a missing intermediate, another issuer, "
                  "or a bad signature)",
                  sep, undated ? "it" : "a trusted certificate");
        sep = "; ";
        rest &= ~(uint32_t)MBEDTLS_X509_BADCERT_NOT_TRUSTED;
    }
    if (rest != 0) {
        char info[512];
        if (mbedtls_x509_crt_verify_info(info, sizeof(info), "", rest) < 0)
            snprintf(info, sizeof(info), "verification flags 0x%08x", (unsigned)rest);
        for (char *line = strtok(info, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            rb_printf(why, "%s%s", sep, line);
            sep = "; ";
        }
    }
    return 0;
}

/* Appends a copy of crt (parsed again from its DER) to list. */
static int list_add(mbedtls_x509_crt *list, const unsigned char *der, size_t len)
{
    int ret = mbedtls_x509_crt_parse_der(list, der, len);
    if (ret == 0)
        return 0;
    return ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? DANE_ENOMEM : DANE_EINVAL;
}

/* ---- verification ------------------------------------------------------ */

struct job {
    const struct dane_tlsa *records;
    size_t n;
    const mbedtls_x509_crt *chain[DANE_PATH_MAX]; /* presented, leaf first; NULL where
                                                     mbedTLS cannot parse it */
    struct dane_der der[DANE_PATH_MAX];           /* each one's DER */
    struct dane_der spki[DANE_PATH_MAX];          /* and its SubjectPublicKeyInfo */
    int nchain;
    int unparsed;     /* depth of the first certificate mbedTLS cannot parse, or -1 */
    int unparsed_err; /* mbedTLS's error for it */
    const char *host;
    const mbedtls_x509_crt *trust;
    mbedtls_x509_time now;
    struct dane_verdict *v;
    struct rbuf notes; /* why records that matched something still failed */
    char notes_buf[DANE_REASON_MAX];
};

static void note_start(struct job *j, size_t i)
{
    rb_printf(&j->notes, "%s", j->notes.len ? "; " : "");
    rb_record(&j->notes, &j->records[i]);
}

static void set_match(struct job *j, size_t i, int depth)
{
    j->v->result = DANE_RESULT_MATCH;
    j->v->record = (int)i;
    j->v->depth = depth;
    j->v->usage = j->records[i].usage;
    j->v->selector = j->records[i].selector;
    j->v->mtype = j->records[i].mtype;
}

static struct rbuf verdict_buf(struct job *j)
{
    struct rbuf b = {j->v->reason, sizeof(j->v->reason), 0};
    j->v->reason[0] = '\0';
    return b;
}

/* "the certificate" or "the public key of the certificate" */
static const char *what(const struct dane_tlsa *r)
{
    return r->selector == DANE_SELECTOR_CERT ? "" : "the public key of ";
}

/* rec against presented certificate k's bytes: its DER or its SPKI. */
static int match_presented(const struct job *j, const struct dane_tlsa *rec, int k)
{
    const struct dane_der *d = rec->selector == DANE_SELECTOR_CERT ? &j->der[k] : &j->spki[k];
    return match_der(rec, d->p, d->len);
}

static void rb_mbedtls_error(struct rbuf *b, int err)
{
    char msg[200];
    mbedtls_strerror(err, msg, sizeof(msg));
    rb_printf(b, "%s, -0x%04x", msg, (unsigned)-err);
}

/* DANE-EE(3), RFC 7671 §5.1: the leaf's bytes only, so it works on a leaf
 * mbedTLS cannot parse. Returns 1 on a match, 0, or negative. */
static int try_dane_ee(struct job *j, size_t i)
{
    int m = match_presented(j, &j->records[i], 0);
    if (m <= 0)
        return m;
    set_match(j, i, 0);
    struct rbuf b = verdict_buf(j);
    rb_record(&b, &j->records[i]);
    rb_printf(&b, " matches %sthe leaf (DANE-EE: no name or date checks)", what(&j->records[i]));
    if (j->chain[0] == NULL) {
        rb_printf(&b, "; mbedTLS cannot parse the leaf (");
        rb_mbedtls_error(&b, j->unparsed_err);
        rb_printf(&b, "), and DANE-EE needs only its bytes");
    }
    return 1;
}

/* Name check for usages 0-2, with a note when it fails. */
static int name_ok(struct job *j, size_t i, const mbedtls_x509_crt *leaf, const char *context)
{
    if (j->host != NULL && dane_cert_name_matches(leaf, j->host))
        return 1;
    note_start(j, i);
    if (j->host == NULL) {
        rb_printf(&j->notes, " %s, but no host name was given to check the leaf against", context);
        return 0;
    }
    rb_printf(&j->notes, " %s, but the leaf is not for %s (", context, j->host);
    rb_names(&j->notes, leaf);
    rb_printf(&j->notes, ")");
    return 0;
}

/* Copies of the presented chain, leaving out index `skip` (-1: none). */
static int copy_chain(struct job *j, mbedtls_x509_crt *list, int skip)
{
    for (int k = 0; k < j->nchain; k++) {
        if (k == skip)
            continue;
        int err = list_add(list, j->chain[k]->raw.p, j->chain[k]->raw.len);
        if (err != 0)
            return err;
    }
    return 0;
}

/* The leaf chains to presented certificate `d`, which record i matched. */
static int dane_ta_in_chain(struct job *j, size_t i, int d)
{
    mbedtls_x509_crt crt, anchor;
    struct path pa;
    char why_buf[512] = "";
    struct rbuf why = {why_buf, sizeof(why_buf), 0};
    char context[64];
    int rc;

    mbedtls_x509_crt_init(&crt);
    mbedtls_x509_crt_init(&anchor);
    if ((rc = copy_chain(j, &crt, d)) != 0)
        goto out;
    if ((rc = list_add(&anchor, j->chain[d]->raw.p, j->chain[d]->raw.len)) != 0)
        goto out;
    rc = path_validate(&crt, &anchor, &anchor, &j->now, &pa, &why);
    snprintf(context, sizeof(context), "matches the certificate at depth %d", d);
    if (rc == 0) {
        note_start(j, i);
        rb_printf(&j->notes, " %s (", context);
        rb_subject(&j->notes, j->chain[d]);
        rb_printf(&j->notes, "), but the leaf does not chain to it: %s", why_buf);
        goto out;
    }
    if (rc < 0)
        goto out;
    if (!(rc = name_ok(j, i, j->chain[0], context)))
        goto out;
    set_match(j, i, pa.len - 1);
    struct rbuf b = verdict_buf(j);
    rb_record(&b, &j->records[i]);
    rb_printf(&b, " matches %sthe certificate at depth %d (", what(&j->records[i]), pa.len - 1);
    rb_subject(&b, j->chain[d]);
    rb_printf(&b, "), and the leaf chains to it and is for %s", j->host);
out:
    mbedtls_x509_crt_free(&anchor);
    mbedtls_x509_crt_free(&crt);
    return rc;
}

/* 1 when crt's signature verifies with key. */
static int signed_by(const mbedtls_x509_crt *crt, mbedtls_pk_context *key)
{
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crt->sig_md);
    if (md == NULL || mbedtls_md(md, crt->tbs.p, crt->tbs.len, hash) != 0)
        return 0;
    return mbedtls_pk_verify_ext(crt->sig_pk, crt->sig_opts, key, crt->sig_md, hash,
                                 mbedtls_md_get_size(md), crt->sig.p, crt->sig.len) == 0;
}

/* 1 when crt's signature verifies with its own key. */
static int self_signed(const mbedtls_x509_crt *crt)
{
    /* mbedTLS's verify takes the key non-const; it only reads it */
    return signed_by(crt, (mbedtls_pk_context *)&crt->pk);
}

/* 1 when presented certificate k is the leaf again, byte for byte. */
static int is_leaf_again(const struct job *j, int k)
{
    return j->der[k].len == j->der[0].len && memcmp(j->der[k].p, j->der[0].p, j->der[0].len) == 0;
}

/* "2 0 0" / "2 1 0": the record is the anchor, absent from the chain
 * (RFC 7671 §5.2.2-5.2.3). The highest presented certificate it signed
 * becomes the top of the path. The depth reported is OpenSSL's (what
 * SSL_get0_dane_authority() returns): a "2 0 0" certificate joins the chain
 * above the certificate it signed, so it takes the next depth; a "2 1 0" key
 * is no certificate, and the depth is that of the certificate it signed. A
 * self-signed leaf whose signature verifies with a "2 1 0" key is signed by
 * that anchor (OpenSSL agrees: depth 0); a "2 0 0" record holding the leaf
 * itself is no anchor of it (try_dane_ta() explains). */
static int dane_ta_supplied(struct job *j, size_t i)
{
    const struct dane_tlsa *r = &j->records[i];
    mbedtls_x509_crt ta, crt, top;
    mbedtls_pk_context pk, *key = &pk;
    int rc = 0;

    mbedtls_x509_crt_init(&ta);
    mbedtls_x509_crt_init(&crt);
    mbedtls_x509_crt_init(&top);
    mbedtls_pk_init(&pk);
    if (r->selector == DANE_SELECTOR_CERT) {
        if (mbedtls_x509_crt_parse_der(&ta, r->data, r->len) != 0) {
            note_start(j, i);
            rb_printf(&j->notes, " is not a certificate mbedTLS can parse");
            goto out;
        }
        key = &ta.pk;
        if (r->len == j->der[0].len && memcmp(r->data, j->der[0].p, r->len) == 0)
            goto out; /* the leaf itself */
    } else if (mbedtls_pk_parse_public_key(&pk, r->data, r->len) != 0) {
        note_start(j, i);
        rb_printf(&j->notes, " is not a public key mbedTLS can parse");
        goto out;
    }
    int signer = -1;
    for (int k = j->nchain - 1; k >= 0 && signer < 0; k--)
        if (signed_by(j->chain[k], key))
            signer = k;
    if (signer < 0)
        goto out; /* matches nothing presented: the general reason says so */

    char why_buf[512] = "";
    struct rbuf why = {why_buf, sizeof(why_buf), 0};
    struct path pa;
    int depth;
    if (signer == 0) { /* the anchor signed the leaf itself: only its dates are left */
        uint32_t tf = time_flags(j->chain[0], &j->now);
        if (tf != 0) {
            note_start(j, i);
            rb_printf(&j->notes, " signed the leaf, but the leaf %s ",
                      tf & MBEDTLS_X509_BADCERT_EXPIRED ? "expired at" : "is not valid before");
            rb_date(&j->notes, tf & MBEDTLS_X509_BADCERT_EXPIRED ? &j->chain[0]->valid_to
                                                                 : &j->chain[0]->valid_from);
            goto out;
        }
        depth = r->selector == DANE_SELECTOR_CERT ? 1 : 0;
    } else {
        if ((rc = copy_chain(j, &crt, signer)) != 0 ||
            (rc = list_add(&top, j->chain[signer]->raw.p, j->chain[signer]->raw.len)) != 0)
            goto out;
        rc = path_validate(&crt, &top, NULL, &j->now, &pa, &why);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            note_start(j, i);
            rb_printf(&j->notes, " signed the certificate at depth %d (", signer);
            rb_subject(&j->notes, j->chain[signer]);
            rb_printf(&j->notes, "), but the leaf does not chain to that: %s", why_buf);
            goto out;
        }
        /* chain[signer] heads the validated path, at depth pa.len - 1 */
        depth = r->selector == DANE_SELECTOR_CERT ? pa.len : pa.len - 1;
    }
    char context[80];
    snprintf(context, sizeof(context), "(not presented) signed the certificate at depth %d",
             signer);
    if (!(rc = name_ok(j, i, j->chain[0], context)))
        goto out;
    set_match(j, i, depth);
    struct rbuf b = verdict_buf(j);
    rb_record(&b, r);
    if (signer == 0)
        rb_printf(&b,
                  " is a trust anchor the server did not send; it signed the leaf%s, which is "
                  "for %s",
                  self_signed(j->chain[0]) ? " (a self-signed leaf: its own key)" : "", j->host);
    else
        rb_printf(&b,
                  " is a trust anchor the server did not send; it signed the certificate at "
                  "depth %d, the leaf chains to it and is for %s",
                  depth - (r->selector == DANE_SELECTOR_CERT), j->host);
    rc = 1;
out:
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&top);
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_free(&ta);
    return rc;
}

/* DANE-TA(2), RFC 7671 §5.2. A DANE-TA record names a trust anchor that
 * issues the leaf, never the leaf itself, even a self-signed one: RFC 6698
 * §2.1.1 ("the trust anchor when validating the end entity certificate"),
 * OpenSSL (dane_match() tries DANE-TA records only above depth 0) and
 * Postfix (which hands DNS records to OpenSSL as they are; only its local
 * tafile anchors may match the leaf) agree. The one way such a record covers
 * a self-signed leaf is a "2 1 0" key that verifies its signature
 * (dane_ta_supplied()), as in OpenSSL. A record that matches only the leaf
 * gets a note saying so and pointing at DANE-EE. */
static int try_dane_ta(struct job *j, size_t i)
{
    const struct dane_tlsa *r = &j->records[i];
    int matched = 0, rc;
    for (int d = 1; d < j->nchain; d++) {
        if (is_leaf_again(j, d))
            continue; /* the leaf sent twice is still the leaf */
        int m = match_cert(r, j->chain[d]);
        if (m < 0)
            return m;
        if (m == 0)
            continue;
        matched = 1;
        if ((rc = dane_ta_in_chain(j, i, d)) != 0)
            return rc;
    }
    if (matched)
        return 0;
    size_t noted = j->notes.len;
    if (r->mtype == DANE_MTYPE_FULL && (rc = dane_ta_supplied(j, i)) != 0)
        return rc;
    if (j->notes.len != noted)
        return 0; /* it said why it failed */
    if ((rc = match_cert(r, j->chain[0])) <= 0)
        return rc;
    note_start(j, i);
    rb_printf(&j->notes,
              " matches %sthe leaf itself%s, but a DANE-TA record must match a certificate above "
              "the leaf that issued it (RFC 7671 §5.2; OpenSSL and Postfix do the same): publish "
              "it as DANE-EE (3 %u %u)",
              what(r),
              self_signed(j->chain[0]) ? " (a self-signed certificate)" : "",
              r->selector, r->mtype);
    return 0;
}

/* Leaf checks PKIX adds for a TLS server: extended key usage serverAuth if
 * present, and a key usage that permits TLS if present (RFC 5280 §4.2.1.3,
 * §4.2.1.12). */
static int leaf_usage_ok(const mbedtls_x509_crt *leaf)
{
    if (mbedtls_x509_crt_check_extended_key_usage(leaf, MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0)
        return 0;
    if ((leaf->ext_types & MBEDTLS_X509_EXT_KEY_USAGE) &&
        !(leaf->key_usage & (MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_ENCIPHERMENT |
                             MBEDTLS_X509_KU_KEY_AGREEMENT)))
        return 0;
    return 1;
}

/* PKIX-TA(0) and PKIX-EE(1), RFC 6698 §2.1.1: one PKIX validation for all
 * of them, then the match against the validated path. */
static int try_pkix(struct job *j)
{
    mbedtls_x509_crt crt;
    struct path pa;
    char why_buf[512] = "";
    struct rbuf why = {why_buf, sizeof(why_buf), 0};
    int rc;

    mbedtls_x509_crt_init(&crt);
    if ((rc = copy_chain(j, &crt, -1)) != 0)
        goto out;
    /* RFC 7671 §5.4: a "0 0 0" record may carry an intermediate the server left out */
    for (size_t i = 0; i < j->n; i++) {
        const struct dane_tlsa *r = &j->records[i];
        if (considered(j->records, j->n, i) && r->usage == DANE_USAGE_PKIX_TA &&
            r->selector == DANE_SELECTOR_CERT && r->mtype == DANE_MTYPE_FULL &&
            list_add(&crt, r->data, r->len) == DANE_ENOMEM) {
            rc = DANE_ENOMEM;
            goto out;
        }
    }
    if (j->trust == NULL || j->trust->raw.len == 0) {
        rb_printf(&j->notes, "%sPKIX-TA/PKIX-EE records need a PKIX trust store and none was given",
                  j->notes.len ? "; " : "");
        rc = 0;
        goto out;
    }
    /* mbedTLS's API takes the trust list non-const; it only reads it */
    rc = path_validate(&crt, (mbedtls_x509_crt *)j->trust, NULL, &j->now, &pa, &why);
    if (rc < 0)
        goto out;
    int valid = rc;
    rc = 0;
    for (size_t i = 0; i < j->n; i++) {
        const struct dane_tlsa *r = &j->records[i];
        if (!considered(j->records, j->n, i) || r->usage > DANE_USAGE_PKIX_EE)
            continue;
        /* which certificate does it match: in the validated path, or (for
         * the note) anywhere in what was presented */
        int depth = -1;
        if (valid) {
            int from = r->usage == DANE_USAGE_PKIX_EE ? 0 : 1;
            int to = r->usage == DANE_USAGE_PKIX_EE ? 1 : pa.len;
            for (int d = from; d < to && d < DANE_PATH_MAX && depth < 0; d++) {
                int m = pa.cert[d] ? match_cert(r, pa.cert[d]) : 0;
                if (m < 0) {
                    rc = m;
                    goto out;
                }
                if (m)
                    depth = d;
            }
            if (depth < 0)
                continue;
            char context[64];
            snprintf(context, sizeof(context), "matches the certificate at depth %d", depth);
            if (!name_ok(j, i, pa.cert[0], context))
                continue;
            if (!leaf_usage_ok(pa.cert[0])) {
                note_start(j, i);
                rb_printf(&j->notes,
                          " %s, but the leaf's (extended) key usage does not allow a "
                          "TLS server",
                          context);
                continue;
            }
            set_match(j, i, depth);
            struct rbuf b = verdict_buf(j);
            rb_record(&b, r);
            rb_printf(&b, " matches %sthe certificate at depth %d (", what(r), depth);
            rb_subject(&b, pa.cert[depth]);
            rb_printf(&b, "), and the chain validates against the PKIX trust store for %s",
                      j->host);
            rc = 1;
            goto out;
        }
        int from = r->usage == DANE_USAGE_PKIX_EE ? 0 : 1;
        int to = r->usage == DANE_USAGE_PKIX_EE ? 1 : j->nchain;
        for (int d = from; d < to && depth < 0; d++) {
            int m = match_cert(r, j->chain[d]);
            if (m < 0) {
                rc = m;
                goto out;
            }
            if (m)
                depth = d;
        }
        if (depth >= 0) {
            note_start(j, i);
            rb_printf(&j->notes,
                      " matches the certificate at depth %d, but PKIX validation "
                      "failed: %s",
                      depth, why_buf);
        } else if (r->usage == DANE_USAGE_PKIX_TA && r->mtype == DANE_MTYPE_FULL) {
            note_start(j, i);
            rb_printf(&j->notes, " (not presented): PKIX validation failed: %s", why_buf);
        }
    }
out:
    mbedtls_x509_crt_free(&crt);
    return rc;
}

static void fail_reason(struct job *j)
{
    struct rbuf b = verdict_buf(j);
    unsigned char spki[32];

    if (j->notes.len > 0)
        rb_printf(&b, "%s; ", j->notes_buf);
    else
        rb_printf(&b, "no TLSA record matches the chain; ");
    if (j->unparsed >= 0) {
        rb_printf(&b, "mbedTLS cannot parse the certificate at depth %d (", j->unparsed);
        rb_mbedtls_error(&b, j->unparsed_err);
        rb_printf(&b, "); ");
    }
    rb_printf(&b, "leaf key SHA-256 is ");
    if (mbedtls_sha256_ret(j->spki[0].p, j->spki[0].len, spki, 0) == 0)
        rb_hex(&b, spki, sizeof(spki), sizeof(spki));
    rb_printf(&b, "; records:");
    for (size_t i = 0; i < j->n; i++) {
        rb_printf(&b, "%s ", i ? "," : "");
        rb_record(&b, &j->records[i]);
        if (!dane_tlsa_usable(&j->records[i]))
            rb_printf(&b, " (unusable)");
        else if (!considered(j->records, j->n, i))
            rb_printf(&b, " (ignored: a stronger digest is published)");
    }
}

/* Fills v with a failure for an internal error; returns err. */
static int verdict_error(struct dane_verdict *v, int err)
{
    memset(v, 0, sizeof(*v));
    v->result = DANE_RESULT_FAIL;
    v->record = -1;
    v->depth = -1;
    snprintf(v->reason, sizeof(v->reason), "internal error: %s", dane_strerror(err));
    return err;
}

/* The checks before any chain is looked at: arguments, usable records.
 * Returns 1 when v already holds the verdict (or 0 with one to reach), or a
 * negative error. */
static int verify_start(const struct dane_tlsa *records, size_t n, struct dane_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->result = DANE_RESULT_FAIL;
    v->record = -1;
    v->depth = -1;
    if (records == NULL && n > 0)
        return verdict_error(v, DANE_EINVAL);
    if (dane_tlsa_count_usable(records, n) == 0) {
        struct rbuf b = {v->reason, sizeof(v->reason), 0};
        v->result = DANE_RESULT_NO_USABLE;
        rb_printf(&b, "no usable TLSA records");
        for (size_t i = 0; i < n; i++) {
            rb_printf(&b, "%s", i ? ", " : " (unusable: ");
            rb_record(&b, &records[i]);
        }
        rb_printf(&b, "%s", n ? ")" : "");
        return 1;
    }
    return 0;
}

static struct job *job_new(const struct dane_tlsa *records, size_t n, const char *host,
                           const mbedtls_x509_crt *trust, struct dane_verdict *v)
{
    struct job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->records = records;
    j->n = n;
    j->host = host;
    j->trust = trust;
    j->v = v;
    j->unparsed = -1;
    j->notes = (struct rbuf){j->notes_buf, sizeof(j->notes_buf), 0};
    return j;
}

/* Applies the RRset to the chain in j (filled in). Returns 0 with the verdict
 * in j->v, or a negative error. */
static int verify_job(struct job *j, time_t now)
{
    const struct dane_tlsa *records = j->records;
    size_t n = j->n;
    struct tm tm;
    int rc = 0;

    if (gmtime_r(&now, &tm) == NULL)
        return DANE_EINVAL;
    j->now = (mbedtls_x509_time){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                 tm.tm_hour,        tm.tm_min,     tm.tm_sec};

    for (size_t i = 0; i < n && rc == 0; i++)
        if (considered(records, n, i) && records[i].usage == DANE_USAGE_DANE_EE)
            rc = try_dane_ee(j, i);
    int pkix = 0, ta = 0;
    for (size_t i = 0; i < n; i++) {
        if (considered(records, n, i) && records[i].usage <= DANE_USAGE_PKIX_EE)
            pkix = 1;
        if (considered(records, n, i) && records[i].usage == DANE_USAGE_DANE_TA)
            ta = 1;
    }
    if (rc == 0 && j->unparsed >= 0 && (pkix || ta)) {
        /* paths, signatures, names and dates need what mbedTLS parses */
        rb_printf(&j->notes,
                  "%sDANE-TA and PKIX records need a certificate chain mbedTLS can parse",
                  j->notes.len ? "; " : "");
        pkix = ta = 0;
    }
    for (size_t i = 0; i < n && rc == 0 && ta; i++)
        if (considered(records, n, i) && records[i].usage == DANE_USAGE_DANE_TA)
            rc = try_dane_ta(j, i);
    if (rc == 0 && pkix)
        rc = try_pkix(j);
    if (rc < 0)
        return rc;
    if (rc == 0)
        fail_reason(j);
    return 0;
}

int dane_verify(const struct dane_tlsa *records, size_t n, const mbedtls_x509_crt *chain,
                const char *host, const mbedtls_x509_crt *trust, time_t now, struct dane_verdict *v)
{
    struct job *j = NULL;
    int rc;

    if (v == NULL)
        return DANE_EINVAL;
    if ((rc = verify_start(records, n, v)) != 0)
        return rc < 0 ? rc : 0;
    if (chain == NULL || chain->raw.p == NULL) {
        snprintf(v->reason, sizeof(v->reason), "the server presented no certificate");
        return 0;
    }
    if ((j = job_new(records, n, host, trust, v)) == NULL)
        return verdict_error(v, DANE_ENOMEM);
    for (const mbedtls_x509_crt *c = chain; c != NULL && c->raw.p != NULL; c = c->next) {
        if (j->nchain == DANE_PATH_MAX) {
            snprintf(v->reason, sizeof(v->reason), "the server presented more than %d certificates",
                     DANE_PATH_MAX);
            free(j);
            return 0;
        }
        j->der[j->nchain] = (struct dane_der){c->raw.p, c->raw.len};
        j->spki[j->nchain] = (struct dane_der){c->pk_raw.p, c->pk_raw.len};
        j->chain[j->nchain++] = c;
    }
    rc = verify_job(j, now);
    free(j);
    return rc < 0 ? verdict_error(v, rc) : 0;
}

int dane_verify_der(const struct dane_tlsa *records, size_t n, const struct dane_der *chain,
                    size_t nchain, const char *host, const mbedtls_x509_crt *trust, time_t now,
                    struct dane_verdict *v)
{
    mbedtls_x509_crt *crts = NULL;
    struct job *j = NULL;
    size_t parsed = 0;
    int rc;

    if (v == NULL)
        return DANE_EINVAL;
    if ((rc = verify_start(records, n, v)) != 0)
        return rc < 0 ? rc : 0;
    if (chain == NULL && nchain > 0)
        return verdict_error(v, DANE_EINVAL);
    if (nchain == 0) {
        snprintf(v->reason, sizeof(v->reason), "the server presented no certificate");
        return 0;
    }
    if (nchain > DANE_PATH_MAX) {
        snprintf(v->reason, sizeof(v->reason), "the server presented more than %d certificates",
                 DANE_PATH_MAX);
        return 0;
    }
    if ((j = job_new(records, n, host, trust, v)) == NULL ||
        (crts = calloc(nchain, sizeof(*crts))) == NULL) {
        rc = DANE_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < nchain; k++) {
        const unsigned char *spki;
        size_t spki_len;
        mbedtls_x509_crt_init(&crts[k]);
        parsed = k + 1;
        int ret = chain[k].p == NULL
                      ? MBEDTLS_ERR_X509_BAD_INPUT_DATA
                      : mbedtls_x509_crt_parse_der(&crts[k], chain[k].p, chain[k].len);
        if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED) {
            rc = DANE_ENOMEM;
            goto out;
        }
        if (ret == 0) { /* mbedTLS's view of it, as dane_verify() has */
            j->chain[k] = &crts[k];
            j->der[k] = (struct dane_der){crts[k].raw.p, crts[k].raw.len};
            j->spki[k] = (struct dane_der){crts[k].pk_raw.p, crts[k].pk_raw.len};
            continue;
        }
        if (chain[k].p == NULL || dane_cert_der_spki(chain[k].p, chain[k].len, &spki, &spki_len)) {
            struct rbuf b = {v->reason, sizeof(v->reason), 0};
            rb_printf(&b, "the certificate at depth %zu is not a DER X.509 certificate (", k);
            rb_mbedtls_error(&b, ret);
            rb_printf(&b, ")");
            goto out;
        }
        j->der[k] = chain[k];
        j->spki[k] = (struct dane_der){spki, spki_len};
        if (j->unparsed < 0) {
            j->unparsed = (int)k;
            j->unparsed_err = ret;
        }
    }
    j->nchain = (int)nchain;
    rc = verify_job(j, now);
out:
    for (size_t k = 0; k < parsed; k++)
        mbedtls_x509_crt_free(&crts[k]);
    free(crts);
    free(j);
    return rc < 0 ? verdict_error(v, rc) : 0;
}

/* ---- PKIX alone ---------------------------------------------------------- */

int dane_pkix_verify(const mbedtls_x509_crt *chain, const char *host, const mbedtls_x509_crt *trust,
                     time_t now, struct dane_verdict *v)
{
    struct job *j = NULL;
    mbedtls_x509_crt crt;
    struct path pa;
    struct tm tm;
    char why_buf[512] = "";
    struct rbuf why = {why_buf, sizeof(why_buf), 0};
    int rc = 0;

    if (v == NULL)
        return DANE_EINVAL;
    memset(v, 0, sizeof(*v));
    v->result = DANE_RESULT_FAIL;
    v->record = -1;
    v->depth = -1;
    mbedtls_x509_crt_init(&crt);
    struct rbuf b = {v->reason, sizeof(v->reason), 0};
    if (chain == NULL || chain->raw.p == NULL) {
        rb_printf(&b, "the server presented no certificate");
        return 0;
    }
    if (host == NULL) {
        rb_printf(&b, "no host name was given to check the leaf against");
        return 0;
    }
    if (trust == NULL || trust->raw.len == 0) {
        rb_printf(&b, "no PKIX trust store");
        return 0;
    }
    if ((j = calloc(1, sizeof(*j))) == NULL) {
        rc = DANE_ENOMEM;
        goto error;
    }
    for (const mbedtls_x509_crt *c = chain; c != NULL && c->raw.p != NULL; c = c->next) {
        if (j->nchain == DANE_PATH_MAX) {
            rb_printf(&b, "the server presented more than %d certificates", DANE_PATH_MAX);
            goto done;
        }
        j->chain[j->nchain++] = c;
    }
    if (gmtime_r(&now, &tm) == NULL) {
        rc = DANE_EINVAL;
        goto error;
    }
    j->now = (mbedtls_x509_time){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                 tm.tm_hour,        tm.tm_min,     tm.tm_sec};
    if ((rc = copy_chain(j, &crt, -1)) != 0)
        goto error;
    /* mbedTLS's API takes the trust list non-const; it only reads it */
    rc = path_validate(&crt, (mbedtls_x509_crt *)trust, NULL, &j->now, &pa, &why);
    if (rc < 0)
        goto error;
    if (rc == 0) {
        rb_printf(&b, "%s", why_buf);
    } else if (!dane_cert_name_matches(pa.cert[0], host)) {
        rb_printf(&b, "the leaf is not for %s (", host);
        rb_names(&b, pa.cert[0]);
        rb_printf(&b, ")");
    } else if (!leaf_usage_ok(pa.cert[0])) {
        rb_printf(&b, "the leaf's (extended) key usage does not allow a TLS server");
    } else {
        v->result = DANE_RESULT_MATCH;
        v->depth = pa.len - 1;
        rb_printf(&b, "the chain validates against the PKIX trust store for %s", host);
        if (pa.len > 0 && pa.len <= DANE_PATH_MAX && pa.cert[pa.len - 1]) {
            rb_printf(&b, " (root: ");
            rb_subject(&b, pa.cert[pa.len - 1]);
            rb_printf(&b, ")");
        }
    }
    rc = 0;
done:
    mbedtls_x509_crt_free(&crt);
    free(j);
    return 0;
error:
    mbedtls_x509_crt_free(&crt);
    free(j);
    memset(v, 0, sizeof(*v));
    v->result = DANE_RESULT_FAIL;
    v->record = -1;
    v->depth = -1;
    snprintf(v->reason, sizeof(v->reason), "internal error: %s", dane_strerror(rc));
    return rc;
}
