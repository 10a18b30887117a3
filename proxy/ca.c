/* proxy/ca.c — the local CA: creating or loading it, minting leaf certificates
 * for intercepted hosts, and the LRU cache that makes a host cost one signature.
 *
 * Three files, one module (include/ca.h; proxy/ca_private.h between them):
 * this one holds the CA as a whole (open, export, close), leaf minting and the
 * certificate cache; ca_signer.c is the only code that sees the CA private
 * key, and its one operation after start-up is ca_signer_issue(): "a leaf
 * for this host, this public key, this validity", DER out; ca_file.c reads and
 * writes the CA's files. Everything here works on DER and public keys only,
 * so the signer can move to its own process by turning ca_signer_issue() into
 * a message.
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
#include "ca_private.h"
#include "log.h"

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

void ca_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *ca_tls_errstr(int ret, char *buf, size_t len)
{
    mbedtls_strerror(ret, buf, len);
    return buf;
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
    time_t ca_end = ca_signer_x509_time(&ca->signer.cert.valid_to);
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
    if ((ret = ca_signer_issue(&ca->signer, &req, buf, sizeof buf, &der, &der_len)) != 0) {
        log_warnx("ca: signing a certificate for %s failed: %s", host,
                  ca_tls_errstr(ret, msg, sizeof msg));
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
                  ca_tls_errstr(ret, msg, sizeof msg));
        mbedtls_x509_crt_free(&c->chain);
        free(c);
        return ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? CA_ENOMEM : CA_ECRYPTO;
    }
    c->key = ca->leaf;
    c->key->refs++;
    c->not_before = ca_signer_x509_time(&c->chain.valid_from);
    c->not_after = ca_signer_x509_time(&c->chain.valid_to);
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
    ca_errf(err, errlen, "no error");
    if (!dir || !*dir) {
        ca_errf(err, errlen, "no CA directory given");
        return CA_EINVAL;
    }
    if (!(ca = calloc(1, sizeof *ca))) {
        ca_errf(err, errlen, "out of memory");
        return CA_ENOMEM;
    }
    mbedtls_entropy_init(&ca->entropy);
    mbedtls_ctr_drbg_init(&ca->drbg);
    ca_signer_init(&ca->signer, mbedtls_ctr_drbg_random, &ca->drbg);
    ca->leaf_days = cfg && cfg->leaf_days ? cfg->leaf_days : CA_LEAF_DAYS_DEFAULT;
    if (ca->leaf_days > CA_LEAF_DAYS_MAX)
        ca->leaf_days = CA_LEAF_DAYS_MAX;
    entries = cfg && cfg->cache_entries ? cfg->cache_entries : CA_CACHE_ENTRIES_DEFAULT;

    if ((ret = mbedtls_ctr_drbg_seed(&ca->drbg, mbedtls_entropy_func, &ca->entropy,
                                     (const unsigned char *)pers, sizeof pers - 1)) != 0) {
        ca_errf(err, errlen, "seeding the random generator: %s", ca_tls_errstr(ret, msg, sizeof msg));
        ret = CA_ECRYPTO;
        goto fail;
    }
    if ((ret = cache_init(ca, entries)) != 0) {
        ca_errf(err, errlen, "out of memory");
        goto fail;
    }
    if ((ret = ca_file_make_dirs(dir, err, errlen)) != 0)
        goto fail;
    if ((size_t)snprintf(key_path, sizeof key_path, "%s/" CA_KEY_FILE, dir) >= sizeof key_path ||
        asprintf(&ca->cert_path, "%s/" CA_CERT_FILE, dir) < 0) {
        ca->cert_path = NULL;
        ca_errf(err, errlen, "%s: path too long or out of memory", dir);
        ret = CA_EINVAL;
        goto fail;
    }
    /* Only "no such file" means no CA: anything else (a directory daneguard
     * may not search, an I/O error) must not lead to a new CA beside, or
     * over, the one browsers trust. */
    if ((have_key = ca_file_present(key_path, err, errlen)) < 0 ||
        (have_cert = ca_file_present(ca->cert_path, err, errlen)) < 0) {
        ret = CA_EIO;
        goto fail;
    }
    if (have_key != have_cert) {
        ca_errf(err, errlen, "%s holds %s but not %s; restore it, or remove it to make a new CA", dir,
             have_key ? CA_KEY_FILE : CA_CERT_FILE, have_key ? CA_CERT_FILE : CA_KEY_FILE);
        ret = CA_EPARTIAL;
        goto fail;
    }
    if (have_key) {
        if ((ret = ca_file_read(ca->cert_path, &pem, &pem_len)) != 0) {
            ca_errf(err, errlen, "%s: %s", ca->cert_path, strerror(errno));
            goto fail;
        }
        ret = ca_signer_load(&ca->signer, key_path, pem, pem_len, now, err, errlen);
        free(pem);
        if (ret != 0)
            goto fail;
    } else {
        ca_subject(subject, sizeof subject);
        if ((ret = ca_signer_generate(&ca->signer, subject, now, err, errlen)) != 0 ||
            (ret = ca_signer_store_key(&ca->signer, dir, err, errlen)) != 0)
            goto fail;
        ca->created = 1;
    }
    if ((ret = ca_export(ca)) != 0) {
        ca_errf(err, errlen, "exporting the CA certificate: %s", ca_strerror(ret));
        goto fail;
    }
    if (ca->created &&
        (ret = ca_file_write_atomic(dir, CA_CERT_FILE, ca->pem, ca->pem_len, 0644, err, errlen)) != 0)
        goto fail;
    if (!(ca->leaf = calloc(1, sizeof *ca->leaf))) {
        ca_errf(err, errlen, "out of memory");
        ret = CA_ENOMEM;
        goto fail;
    }
    ca->leaf->refs = 1;
    mbedtls_pk_init(&ca->leaf->pk);
    if ((ret = ca_signer_gen_p256(&ca->leaf->pk, mbedtls_ctr_drbg_random, &ca->drbg)) != 0) {
        ca_errf(err, errlen, "generating the leaf key: %s", ca_tls_errstr(ret, msg, sizeof msg));
        ret = CA_ECRYPTO;
        goto fail;
    }
    if ((ret = mbedtls_pk_write_pubkey_der(&ca->leaf->pk, ca->leaf_spki, sizeof ca->leaf_spki)) <
        0) {
        ca_errf(err, errlen, "writing the leaf key: %s", ca_tls_errstr(ret, msg, sizeof msg));
        ret = CA_ECRYPTO;
        goto fail;
    }
    ca->leaf_spki_len = (size_t)ret;
    memmove(ca->leaf_spki, ca->leaf_spki + sizeof ca->leaf_spki - ret, (size_t)ret);
    if (ca->created)
        log_debug("ca: created a new CA in %s (SPKI sha256 %s)", dir, ca->spki_b64);
    ca_errf(err, errlen, "no error");
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
    ca_signer_free(&ca->signer);
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
