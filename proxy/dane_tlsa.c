/* proxy/dane_tlsa.c — TLSA records (RFC 6698 §2, RFC 7218 names): reading
 * them (presentation and wire forms), making them from a certificate, printing
 * them, and whether one is usable. What a record means against a chain is
 * dane.c's business; the rules are in its head comment and in include/dane.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <mbedtls/x509_crt.h>

#include "dane.h"

size_t dane_tlsa_digest_len(uint8_t mtype)
{
    return mtype == DANE_MTYPE_SHA256 ? 32 : mtype == DANE_MTYPE_SHA512 ? 64 : 0;
}

int dane_tlsa_digest(uint8_t mtype, const unsigned char *in, size_t len, unsigned char *out)
{
    if (mtype == DANE_MTYPE_SHA256)
        return mbedtls_sha256_ret(in, len, out, 0) == 0 ? 0 : DANE_ECRYPTO;
    if (mtype == DANE_MTYPE_SHA512)
        return mbedtls_sha512_ret(in, len, out, 0) == 0 ? 0 : DANE_ECRYPTO;
    return DANE_EINVAL;
}

void dane_tlsa_clear(struct dane_tlsa *rec)
{
    if (rec == NULL)
        return;
    free(rec->data);
    memset(rec, 0, sizeof(*rec));
}

int dane_tlsa_usable(const struct dane_tlsa *rec)
{
    if (rec == NULL || rec->usage > DANE_USAGE_DANE_EE || rec->selector > DANE_SELECTOR_SPKI)
        return 0;
    if (rec->mtype == DANE_MTYPE_FULL)
        return rec->len > 0 && rec->data != NULL;
    return rec->mtype <= DANE_MTYPE_SHA512 && rec->len == dane_tlsa_digest_len(rec->mtype);
}

size_t dane_tlsa_count_usable(const struct dane_tlsa *records, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; records != NULL && i < n; i++)
        count += (size_t)dane_tlsa_usable(&records[i]);
    return count;
}

struct mnemonic {
    const char *name;
    uint8_t value;
};

static const struct mnemonic usage_names[] = {{"PKIX-TA", 0}, {"PKIX-EE", 1},    {"DANE-TA", 2},
                                              {"DANE-EE", 3}, {"PrivCert", 255}, {NULL, 0}};
static const struct mnemonic selector_names[] = {
    {"Cert", 0}, {"SPKI", 1}, {"PrivSel", 255}, {NULL, 0}};
static const struct mnemonic mtype_names[] = {
    {"Full", 0}, {"SHA2-256", 1}, {"SHA2-512", 2}, {"PrivMatch", 255}, {NULL, 0}};

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

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int parse_field(const char *tok, size_t len, const struct mnemonic *names, uint8_t *out)
{
    if (len > 0 && len <= 3 && strspn(tok, "0123456789") >= len) {
        unsigned value = 0;
        for (size_t i = 0; i < len; i++)
            value = value * 10 + (unsigned)(tok[i] - '0');
        if (value > 255)
            return DANE_EFIELD;
        *out = (uint8_t)value;
        return 0;
    }
    for (const struct mnemonic *m = names; m->name != NULL; m++) {
        if (strlen(m->name) == len && mem_case_eq(m->name, tok, len)) {
            *out = m->value;
            return 0;
        }
    }
    return DANE_EFIELD;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int dane_tlsa_parse_text(struct dane_tlsa *rec, const char *text)
{
    uint8_t fields[3];
    const struct mnemonic *names[3] = {usage_names, selector_names, mtype_names};
    const char *p = text;
    int err;

    if (rec == NULL || text == NULL)
        return DANE_EINVAL;
    memset(rec, 0, sizeof(*rec));
    for (int f = 0; f < 3; f++) {
        while (is_space((unsigned char)*p))
            p++;
        size_t len = 0;
        while (p[len] != '\0' && !is_space((unsigned char)p[len]))
            len++;
        if (len == 0)
            return DANE_ESYNTAX;
        if ((err = parse_field(p, len, names[f], &fields[f])) != 0)
            return err;
        p += len;
    }
    size_t digits = 0;
    for (const char *q = p; *q != '\0'; q++) {
        if (is_space((unsigned char)*q))
            continue;
        if (hex_value((unsigned char)*q) < 0)
            return DANE_EHEX;
        digits++;
    }
    if (digits == 0)
        return DANE_ESYNTAX;
    if (digits % 2 != 0)
        return DANE_EHEX;
    uint8_t *data = malloc(digits / 2);
    if (data == NULL)
        return DANE_ENOMEM;
    size_t n = 0;
    int high = -1;
    for (const char *q = p; *q != '\0'; q++) {
        if (is_space((unsigned char)*q))
            continue;
        int v = hex_value((unsigned char)*q);
        if (high < 0) {
            high = v;
        } else {
            data[n++] = (uint8_t)(high << 4 | v);
            high = -1;
        }
    }
    rec->usage = fields[0];
    rec->selector = fields[1];
    rec->mtype = fields[2];
    rec->data = data;
    rec->len = n;
    return 0;
}

int dane_tlsa_parse_rdata(struct dane_tlsa *rec, const uint8_t *rdata, size_t len)
{
    if (rec == NULL || (rdata == NULL && len > 0))
        return DANE_EINVAL;
    memset(rec, 0, sizeof(*rec));
    if (len < 3)
        return DANE_ERDATA;
    if (len > 3) {
        if ((rec->data = malloc(len - 3)) == NULL)
            return DANE_ENOMEM;
        memcpy(rec->data, rdata + 3, len - 3);
    }
    rec->usage = rdata[0];
    rec->selector = rdata[1];
    rec->mtype = rdata[2];
    rec->len = len - 3;
    return 0;
}

int dane_tlsa_make(struct dane_tlsa *rec, uint8_t usage, uint8_t selector, uint8_t mtype,
                   const unsigned char *der, size_t len)
{
    unsigned char md[64];
    int err;

    if (rec == NULL || der == NULL || len == 0 || selector > DANE_SELECTOR_SPKI ||
        mtype > DANE_MTYPE_SHA512)
        return DANE_EINVAL;
    memset(rec, 0, sizeof(*rec));
    if (mtype != DANE_MTYPE_FULL) {
        if ((err = dane_tlsa_digest(mtype, der, len, md)) != 0)
            return err;
        der = md;
        len = dane_tlsa_digest_len(mtype);
    }
    if ((rec->data = malloc(len)) == NULL)
        return DANE_ENOMEM;
    memcpy(rec->data, der, len);
    rec->len = len;
    rec->usage = usage;
    rec->selector = selector;
    rec->mtype = mtype;
    return 0;
}

int dane_tlsa_make_cert(struct dane_tlsa *rec, uint8_t usage, uint8_t selector, uint8_t mtype,
                        const mbedtls_x509_crt *crt)
{
    if (crt == NULL)
        return DANE_EINVAL;
    const mbedtls_x509_buf *buf = selector == DANE_SELECTOR_CERT ? &crt->raw : &crt->pk_raw;
    return dane_tlsa_make(rec, usage, selector, mtype, buf->p, buf->len);
}

char *dane_tlsa_to_text(const struct dane_tlsa *rec)
{
    static const char hex[] = "0123456789abcdef";
    if (rec == NULL)
        return NULL;
    size_t size = 16 + 2 * rec->len;
    char *s = malloc(size);
    if (s == NULL)
        return NULL;
    int off = snprintf(s, size, "%u %u %u ", rec->usage, rec->selector, rec->mtype);
    char *p = s + off;
    for (size_t i = 0; i < rec->len; i++) {
        *p++ = hex[rec->data[i] >> 4];
        *p++ = hex[rec->data[i] & 15];
    }
    *p = '\0';
    return s;
}
