/* tests/fuzz/fuzz_dane.c — libFuzzer harness for the TLSA record parsers and
 * the DANE engine's certificate handling (proxy/dane.c).
 *
 * Input, in order (a short input just ends early):
 *   u8   flags: bit 0 TLSA records as text, bit 1 no host, bit 2 no trust store
 *   u32  now (big-endian seconds)
 *   u8   host length, host bytes
 *   u8   number of chain certificates (mod 5), each: u16 length, DER
 *   u8   number of trust store certificates (mod 3), each: u16 length, DER
 *   rest TLSA records: binary, each u16 length + RDATA (at most 16), or text,
 *        one record per line.
 * Oracles: text made from a record parses back to the same record; a DANE-EE
 * record made from a leaf that parsed always matches that chain; verdicts are
 * well formed. The same certificates also go to dane_verify_der() as DER,
 * unparsable ones included: when every one parses it must agree with
 * dane_verify() word for word; the SPKI walk finds mbedTLS's pk_raw in any
 * certificate mbedTLS parses; and a leaf mbedTLS refuses but the walk reads
 * is matched by DANE-EE records made from its bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dane.h"

#define MAX_RECORDS 16

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_dane: check failed at line %d: %s\n", __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct cursor {
    const uint8_t *p;
    size_t left;
};

static int take(struct cursor *c, size_t n, const uint8_t **out)
{
    if (c->left < n)
        return 0;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return 1;
}

static unsigned take_u8(struct cursor *c)
{
    const uint8_t *p;
    return take(c, 1, &p) ? p[0] : 0;
}

/* Parse up to (count mod modulo) length-prefixed DER certificates into chain;
 * when raw is not NULL, also keep each one's bytes there (the caller frees). */
static void take_certs(struct cursor *c, unsigned modulo, mbedtls_x509_crt *chain,
                       struct dane_der *raw, size_t *nraw)
{
    unsigned count = take_u8(c) % modulo;
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *p, *der;
        if (!take(c, 2, &p))
            return;
        size_t len = (size_t)p[0] << 8 | p[1];
        if (!take(c, len, &der))
            len = c->left, der = c->p, c->left = 0;
        /* its own heap copy, so over-reads past the slice are caught */
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy)
            return;
        memcpy(copy, der, len);
        (void)mbedtls_x509_crt_parse_der(chain, copy, len);
        if (raw != NULL)
            raw[(*nraw)++] = (struct dane_der){copy, len};
        else
            free(copy);
    }
}

static void check_record(const struct dane_tlsa *rec)
{
    CHECK(rec->len == 0 || rec->data != NULL);
    int usable = dane_tlsa_usable(rec);
    CHECK(usable == 0 || usable == 1);
    char *text = dane_tlsa_to_text(rec);
    if (!text)
        return;
    struct dane_tlsa back = {0};
    int rc = dane_tlsa_parse_text(&back, text);
    if (rec->len == 0) {
        /* "U S M" with no data: either refused or an empty record */
        CHECK(rc == 0 || rc == DANE_ESYNTAX || rc == DANE_EHEX);
    } else {
        CHECK(rc == 0);
    }
    if (rc == 0) {
        CHECK(back.usage == rec->usage && back.selector == rec->selector && back.mtype == rec->mtype);
        CHECK(back.len == rec->len && (rec->len == 0 || memcmp(back.data, rec->data, rec->len) == 0));
        CHECK(dane_tlsa_usable(&back) == usable);
    }
    dane_tlsa_clear(&back);
    free(text);
}

static void check_verdict(const struct dane_verdict *v, int rc, size_t n)
{
    CHECK(rc == 0 || rc == DANE_ENOMEM || rc == DANE_EINVAL || rc == DANE_ECRYPTO);
    CHECK(memchr(v->reason, 0, sizeof v->reason) != NULL);
    CHECK(v->result == DANE_RESULT_MATCH || v->result == DANE_RESULT_NO_USABLE ||
          v->result == DANE_RESULT_FAIL);
    if (rc != 0)
        CHECK(v->result == DANE_RESULT_FAIL);
    if (v->result == DANE_RESULT_MATCH) {
        CHECK(v->record >= 0 && (size_t)v->record < n);
        CHECK(v->depth >= 0);
    } else {
        CHECK(v->record == -1);
    }
    CHECK(dane_result_name(v->result) != NULL);
}

/* The DER entry point on the same certificates (see the head comment). */
static void check_der_path(const struct dane_tlsa *records, size_t n, const struct dane_der *raw,
                           size_t nraw, const mbedtls_x509_crt *chain, const char *h,
                           const mbedtls_x509_crt *ts, time_t now)
{
    struct dane_verdict v, w;
    size_t same = 0, parsed = 0, shaped = 0;
    int leaf_parsed = 0, leaf_shaped = 0;
    const unsigned char *leaf_spki = NULL;
    size_t leaf_spki_len = 0;
    int rc = dane_verify_der(records, n, raw, nraw, h, ts, now, &v);
    check_verdict(&v, rc, n);
    for (size_t k = 0; k < nraw; k++) {
        mbedtls_x509_crt crt;
        const unsigned char *spki;
        size_t spki_len;
        mbedtls_x509_crt_init(&crt);
        int walked = dane_cert_der_spki(raw[k].p, raw[k].len, &spki, &spki_len) == 0;
        if (walked) /* inside the certificate */
            CHECK(spki > raw[k].p && spki + spki_len < raw[k].p + raw[k].len);
        if (mbedtls_x509_crt_parse_der(&crt, raw[k].p, raw[k].len) == 0) {
            parsed++;
            same += crt.raw.len == raw[k].len;
            /* whatever mbedTLS parses, the walk reads, and finds its pk_raw */
            CHECK(dane_cert_der_spki(crt.raw.p, crt.raw.len, &spki, &spki_len) == 0);
            CHECK(spki_len == crt.pk_raw.len && memcmp(spki, crt.pk_raw.p, spki_len) == 0);
            leaf_parsed |= k == 0;
            shaped++;
        } else if (walked) {
            shaped++;
            if (k == 0) {
                leaf_shaped = 1;
                leaf_spki = spki;
                leaf_spki_len = spki_len;
            }
        }
        mbedtls_x509_crt_free(&crt);
    }
    if (nraw > 0 && shaped < nraw)
        CHECK(v.result != DANE_RESULT_MATCH); /* something is not a certificate */
    if (nraw > 0 && shaped == nraw && !leaf_parsed && leaf_shaped) {
        /* DANE-EE needs only the leaf's bytes */
        struct dane_tlsa ee[2] = {{0}, {0}};
        CHECK(dane_tlsa_make(&ee[0], DANE_USAGE_DANE_EE, 1, 1, leaf_spki, leaf_spki_len) == 0);
        CHECK(dane_tlsa_make(&ee[1], DANE_USAGE_DANE_EE, 0, 2, raw[0].p, raw[0].len) == 0);
        for (int e = 0; e < 2; e++) {
            rc = dane_verify_der(&ee[e], 1, raw, nraw, h, ts, now, &w);
            check_verdict(&w, rc, 1);
            if (rc != 0 || w.result != DANE_RESULT_MATCH) {
                fprintf(stderr, "fuzz_dane: DANE-EE of an unparsed leaf does not match: %s\n",
                        w.reason);
                abort();
            }
            dane_tlsa_clear(&ee[e]);
        }
    }
    if (nraw > 0 && parsed == nraw && same == nraw) {
        /* nothing unparsed: the two entry points agree word for word */
        rc = dane_verify(records, n, chain, h, ts, now, &w);
        CHECK(w.result == v.result && w.record == v.record && w.depth == v.depth);
        CHECK(strcmp(w.reason, v.reason) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cursor c = {data, size};
    struct dane_tlsa records[MAX_RECORDS];
    struct dane_der raw[5];
    size_t n = 0, nraw = 0;
    mbedtls_x509_crt chain, trust;
    const uint8_t *p;
    char host[256];

    if (size > 1 << 16)
        return 0;
    memset(records, 0, sizeof records);
    mbedtls_x509_crt_init(&chain);
    mbedtls_x509_crt_init(&trust);

    unsigned flags = take_u8(&c);
    time_t now = 0;
    if (take(&c, 4, &p))
        now = (time_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    size_t hlen = take_u8(&c);
    host[0] = '\0';
    if (take(&c, hlen, &p)) {
        memcpy(host, p, hlen);
        host[hlen] = '\0';
    }
    take_certs(&c, 5, &chain, raw, &nraw);
    take_certs(&c, 3, &trust, NULL, NULL);

    if (flags & 1) {
        /* text records, one per line */
        char *text = malloc(c.left + 1);
        if (!text)
            goto out;
        memcpy(text, c.p, c.left);
        text[c.left] = '\0';
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line && n < MAX_RECORDS;
             line = strtok_r(NULL, "\n", &save)) {
            int rc = dane_tlsa_parse_text(&records[n], line);
            CHECK(rc == 0 || rc == DANE_ESYNTAX || rc == DANE_EFIELD || rc == DANE_EHEX ||
                  rc == DANE_ENOMEM);
            if (rc == 0)
                n++;
            else
                CHECK(records[n].data == NULL && records[n].len == 0);
        }
        free(text);
    } else {
        while (n < MAX_RECORDS && c.left > 0) {
            size_t len = take_u8(&c) << 8;
            len |= take_u8(&c);
            if (!take(&c, len, &p))
                len = c.left, p = c.p, c.left = 0;
            uint8_t *rdata = malloc(len ? len : 1);
            if (!rdata)
                goto out;
            memcpy(rdata, p, len);
            int rc = dane_tlsa_parse_rdata(&records[n], rdata, len);
            free(rdata);
            if (len < 3)
                CHECK(rc == DANE_ERDATA);
            else
                CHECK(rc == 0 || rc == DANE_ENOMEM);
            if (rc == 0)
                n++;
        }
    }
    for (size_t i = 0; i < n; i++)
        check_record(&records[i]);
    CHECK(dane_tlsa_count_usable(records, n) <= n);

    const char *h = (flags & 2) ? NULL : host;
    const mbedtls_x509_crt *ts = (flags & 4) || trust.raw.p == NULL ? NULL : &trust;
    const mbedtls_x509_crt *leaf = chain.raw.p ? &chain : NULL;
    struct dane_verdict v;

    int rc = dane_verify(records, n, leaf, h, ts, now, &v);
    check_verdict(&v, rc, n);
    check_der_path(records, n, raw, nraw, &chain, h, ts, now);
    if (dane_tlsa_count_usable(records, n) == 0 && rc == 0)
        CHECK(v.result == DANE_RESULT_NO_USABLE);

    if (leaf) {
        unsigned char spki[32];
        CHECK(dane_cert_spki_sha256(leaf, spki) == 0);
        (void)dane_cert_name_matches(leaf, host);
        for (const mbedtls_x509_crt *crt = leaf; crt && crt->raw.p; crt = crt->next)
            (void)dane_cert_name_matches(crt, host);

        /* DANE-EE on the leaf: no name, time or chain checks, so it matches */
        for (uint8_t sel = 0; sel <= 1; sel++) {
            for (uint8_t mt = 0; mt <= 2; mt++) {
                struct dane_tlsa ee = {0};
                CHECK(dane_tlsa_make_cert(&ee, DANE_USAGE_DANE_EE, sel, mt, leaf) == 0);
                CHECK(dane_tlsa_usable(&ee));
                check_record(&ee);
                rc = dane_verify(&ee, 1, leaf, h, ts, now, &v);
                check_verdict(&v, rc, 1);
                if (rc != 0 || v.result != DANE_RESULT_MATCH) {
                    fprintf(stderr, "fuzz_dane: 3 %u %u from the leaf does not match: %s\n", sel,
                            mt, v.reason);
                    abort();
                }
                CHECK(v.record == 0 && v.depth == 0);
                dane_tlsa_clear(&ee);
            }
        }
        /* the same leaf record among the fuzzed ones still matches */
        if (n < MAX_RECORDS) {
            CHECK(dane_tlsa_make_cert(&records[n], DANE_USAGE_DANE_EE, 1, 2, leaf) == 0);
            rc = dane_verify(records, n + 1, leaf, h, ts, now, &v);
            check_verdict(&v, rc, n + 1);
            n++;
        }
        /* DANE-TA / PKIX records made from every certificate in the chain */
        size_t depth = 0;
        for (const mbedtls_x509_crt *crt = leaf; crt && crt->raw.p && depth < 4;
             crt = crt->next, depth++) {
            struct dane_tlsa ta[3] = {{0}};
            CHECK(dane_tlsa_make_cert(&ta[0], DANE_USAGE_DANE_TA, 0, 1, crt) == 0);
            CHECK(dane_tlsa_make_cert(&ta[1], DANE_USAGE_DANE_TA, 1, 0, crt) == 0);
            CHECK(dane_tlsa_make_cert(&ta[2], DANE_USAGE_PKIX_TA, 1, 1, crt) == 0);
            for (int k = 0; k < 3; k++) {
                rc = dane_verify(&ta[k], 1, leaf, h, ts, now, &v);
                check_verdict(&v, rc, 1);
                dane_tlsa_clear(&ta[k]);
            }
        }
    }
    if (ts) {
        /* a trust store certificate offered as a bare key (2 1 0) */
        struct dane_tlsa bare = {0};
        CHECK(dane_tlsa_make(&bare, DANE_USAGE_DANE_TA, 1, 0, trust.pk_raw.p, trust.pk_raw.len) == 0);
        rc = dane_verify(&bare, 1, leaf, h, ts, now, &v);
        check_verdict(&v, rc, 1);
        dane_tlsa_clear(&bare);
    }

out:
    for (size_t i = 0; i < MAX_RECORDS; i++)
        dane_tlsa_clear(&records[i]);
    for (size_t k = 0; k < nraw; k++)
        free((void *)raw[k].p);
    mbedtls_x509_crt_free(&chain);
    mbedtls_x509_crt_free(&trust);
    return 0;
}
