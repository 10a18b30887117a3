/* resolver/sigkeys.c — OpenSSL key objects kept for getdns's signature checks
 * (sigkeys.h says why and what).
 *
 * Defining OpenSSL's names changes them for every caller in the process, so
 * this object is not in libdaneguard.a (the Makefile links it into the daemon
 * and test_sigkeys only). OpenSSL's own functions are found with
 * dlsym(RTLD_NEXT); a key is substituted, and an initialisation deferred,
 * only when it is a legacy one (no provider yet), so keys that OpenSSL
 * itself or anyone else made natively go through untouched.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#define OPENSSL_SUPPRESS_DEPRECATED /* the legacy key getters getdns's keys need */

#include "sigkeys.h"

#include "uvloop.h"

#include <dlfcn.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <mbedtls/sha256.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SIGKEYS_BLOB_MAX 1100 /* curve + point, or a 4096-bit modulus + exponent */
#define SIGKEYS_DEFERRED 8    /* initialisations deferred at once (getdns: one) */

typedef int (*verify_init_fn)(EVP_MD_CTX *, EVP_PKEY_CTX **, const EVP_MD *, ENGINE *,
                              EVP_PKEY *);

struct kept_key {
    uint8_t *blob; /* type byte, then the curve's NID and point, or n's length, n and e */
    size_t len;
    uint32_t hash;
    uint64_t id;    /* never reused: names the public key in verified[] */
    EVP_PKEY *pkey; /* provider key; NULL: free slot */
};

/* A verification getdns started with a kept key: OpenSSL's own
 * EVP_DigestVerifyInit() runs only when the signature is not one verified
 * already (sigkeys.h). */
struct deferred {
    EVP_MD_CTX *ctx; /* NULL: free entry */
    EVP_PKEY *pkey;  /* a reference */
    const EVP_MD *md; /* one of OpenSSL's static SHA digests */
    uint64_t key_id;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept_key kept[SIGKEYS_MAX];
static unsigned next_slot;
static uint64_t next_id = 1;
/* SHA-256 of (key id, digest, signature, signed data) of verifications that
 * succeeded, by the digest's first bytes; all-zero: free */
static uint8_t verified[SIGKEYS_VERIFIED][32];
static struct deferred deferred[SIGKEYS_DEFERRED]; /* getdns verifies right after */
static int (*trusted_caller)(const void *) = uvloop_called_from_getdns;
static struct sigkeys_stats stats;
static EC_GROUP *p256, *p384; /* built once, copied by EC_KEY_new_by_curve_name() */

void sigkeys_set_caller_filter(int (*is_trusted)(const void *caller))
{
    pthread_mutex_lock(&lock);
    trusted_caller = is_trusted ? is_trusted : uvloop_called_from_getdns;
    pthread_mutex_unlock(&lock);
}

static int caller_trusted(const void *caller)
{
    pthread_mutex_lock(&lock);
    int (*f)(const void *) = trusted_caller;
    pthread_mutex_unlock(&lock);
    return f(caller);
}

void sigkeys_get_stats(struct sigkeys_stats *st)
{
    pthread_mutex_lock(&lock);
    *st = stats;
    pthread_mutex_unlock(&lock);
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* The public key of a legacy EC (named curve) or RSA key as bytes; 0 when
 * it is neither. blob holds SIGKEYS_BLOB_MAX bytes. */
static size_t legacy_blob(EVP_PKEY *pkey, uint8_t *blob)
{
    if (EVP_PKEY_get0_provider(pkey) != NULL)
        return 0; /* a provider key already: nothing to save */
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC: {
        const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(pkey);
        const EC_GROUP *g = ec ? EC_KEY_get0_group(ec) : NULL;
        const EC_POINT *pub = ec ? EC_KEY_get0_public_key(ec) : NULL;
        int nid = g ? EC_GROUP_get_curve_name(g) : NID_undef;
        if (!pub || nid == NID_undef || !OBJ_nid2sn(nid))
            return 0;
        blob[0] = 'E';
        memcpy(blob + 1, &nid, sizeof nid);
        size_t n = EC_POINT_point2oct(g, pub, POINT_CONVERSION_UNCOMPRESSED, blob + 1 + sizeof nid,
                                      SIGKEYS_BLOB_MAX - 1 - sizeof nid, NULL);
        return n ? 1 + sizeof nid + n : 0;
    }
    case EVP_PKEY_RSA: {
        const RSA *rsa = EVP_PKEY_get0_RSA(pkey);
        const BIGNUM *n = NULL, *e = NULL;
        if (!rsa)
            return 0;
        RSA_get0_key(rsa, &n, &e, NULL);
        if (!n || !e)
            return 0;
        int nl = BN_num_bytes(n), el = BN_num_bytes(e);
        if (nl <= 0 || el <= 0 || (size_t)(3 + nl + el) > SIGKEYS_BLOB_MAX)
            return 0;
        blob[0] = 'R';
        blob[1] = (uint8_t)(nl >> 8);
        blob[2] = (uint8_t)nl;
        BN_bn2bin(n, blob + 3);
        BN_bn2bin(e, blob + 3 + nl);
        return 3 + (size_t)nl + (size_t)el;
    }
    default:
        return 0;
    }
}

/* A provider key with the public key blob (legacy_blob()) holds, or NULL. */
static EVP_PKEY *provider_key(const uint8_t *blob, size_t len)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *out = NULL;
    BIGNUM *n = NULL, *e = NULL;
    const char *type = NULL;
    int ok = 0;

    if (!bld)
        return NULL;
    if (blob[0] == 'E') {
        int nid;
        memcpy(&nid, blob + 1, sizeof nid);
        type = "EC";
        ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) &&
             OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, blob + 1 + sizeof nid,
                                              len - 1 - sizeof nid);
    } else {
        size_t nl = (size_t)blob[1] << 8 | blob[2];
        type = "RSA";
        ok = (n = BN_bin2bn(blob + 3, (int)nl, NULL)) &&
             (e = BN_bin2bn(blob + 3 + nl, (int)(len - 3 - nl), NULL)) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    }
    if (ok && (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) && EVP_PKEY_fromdata_init(pctx) == 1 &&
        EVP_PKEY_fromdata(pctx, &out, EVP_PKEY_PUBLIC_KEY, params) != 1)
        out = NULL;
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return out;
}

/* The kept provider key for pkey (a reference the caller frees), made and
 * kept when new, and its id; NULL when pkey is not one to substitute. */
static EVP_PKEY *kept_key_for(EVP_PKEY *pkey, uint64_t *id)
{
    uint8_t blob[SIGKEYS_BLOB_MAX];
    size_t len = legacy_blob(pkey, blob);
    EVP_PKEY *found = NULL;
    if (len == 0)
        return NULL;
    uint32_t hash = fnv1a(blob, len);

    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < SIGKEYS_MAX && !found; i++)
        if (kept[i].pkey && kept[i].hash == hash && kept[i].len == len &&
            memcmp(kept[i].blob, blob, len) == 0 && EVP_PKEY_up_ref(kept[i].pkey)) {
            found = kept[i].pkey;
            *id = kept[i].id;
        }
    if (found)
        stats.reused++;
    pthread_mutex_unlock(&lock);
    if (found)
        return found;

    EVP_PKEY *made = provider_key(blob, len);
    uint8_t *copy = made ? malloc(len) : NULL;
    if (!copy) {
        EVP_PKEY_free(made);
        return NULL;
    }
    memcpy(copy, blob, len);
    pthread_mutex_lock(&lock);
    struct kept_key *k = &kept[next_slot++ % SIGKEYS_MAX];
    EVP_PKEY *old = k->pkey;
    uint8_t *old_blob = k->blob;
    k->blob = copy;
    k->len = len;
    k->hash = hash;
    k->pkey = made;
    k->id = *id = next_id++;
    stats.made++;
    int ref = EVP_PKEY_up_ref(made);
    pthread_mutex_unlock(&lock);
    EVP_PKEY_free(old); /* a verification still using it holds its own reference */
    free(old_blob);
    return ref ? made : NULL;
}

typedef int (*verify_fn)(EVP_MD_CTX *, const unsigned char *, size_t, const unsigned char *,
                         size_t);
typedef void (*ctx_free_fn)(EVP_MD_CTX *);
typedef int (*ctx_reset_fn)(EVP_MD_CTX *);

static pthread_once_t originals_once = PTHREAD_ONCE_INIT;
static struct {
    verify_init_fn init;
    verify_fn verify;
    ctx_free_fn ctx_free;
    ctx_reset_fn ctx_reset;
} orig;

static void originals_find(void)
{
    *(void **)&orig.init = dlsym(RTLD_NEXT, "EVP_DigestVerifyInit");
    *(void **)&orig.verify = dlsym(RTLD_NEXT, "EVP_DigestVerify");
    *(void **)&orig.ctx_free = dlsym(RTLD_NEXT, "EVP_MD_CTX_free");
    *(void **)&orig.ctx_reset = dlsym(RTLD_NEXT, "EVP_MD_CTX_reset");
}

/* All of OpenSSL's functions found; if not, nothing verifies (fail closed). */
static int originals(void)
{
    pthread_once(&originals_once, originals_find);
    return orig.init && orig.verify && orig.ctx_free && orig.ctx_reset;
}

/* ctx's deferred initialisation into *d and off the table: 1, or 0 when it
 * has none. */
static int deferred_take(EVP_MD_CTX *ctx, struct deferred *d)
{
    int found = 0;
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < SIGKEYS_DEFERRED && !found; i++)
        if (deferred[i].ctx == ctx && ctx) {
            *d = deferred[i];
            deferred[i].ctx = NULL;
            found = 1;
        }
    pthread_mutex_unlock(&lock);
    return found;
}

static int deferred_put(const struct deferred *d)
{
    int put = 0;
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < SIGKEYS_DEFERRED && !put; i++)
        if (!deferred[i].ctx) {
            deferred[i] = *d;
            put = 1;
        }
    pthread_mutex_unlock(&lock);
    return put;
}

/* ctx's deferred initialisation done now, as EVP_DigestVerifyInit() would
 * have: its result, 1 when nothing was deferred. */
static int deferred_run(EVP_MD_CTX *ctx)
{
    struct deferred d;
    if (!deferred_take(ctx, &d))
        return 1;
    int rc = orig.init(ctx, NULL, d.md, NULL, d.pkey); /* ctx takes its own reference */
    EVP_PKEY_free(d.pkey);
    return rc;
}

/* A context nothing has been done with since EVP_MD_CTX_new() or a reset. */
static int ctx_fresh(const EVP_MD_CTX *ctx)
{
    return EVP_MD_CTX_get_pkey_ctx(ctx) == NULL && EVP_MD_CTX_get0_md(ctx) == NULL;
}

/* The digests of DNSSEC's algorithms, OpenSSL's own static ones. */
static int dnssec_digest(const EVP_MD *md)
{
    return md && (md == EVP_sha1() || md == EVP_sha256() || md == EVP_sha384() ||
                  md == EVP_sha512());
}

static void verified_name(uint8_t out[32], uint64_t key_id, const EVP_MD *md,
                          const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                          size_t tbslen)
{
    mbedtls_sha256_context c;
    uint8_t head[8 + 4 + 8 + 8];
    int nid = EVP_MD_get_type(md);
    uint64_t sl = siglen, tl = tbslen;
    memcpy(head, &key_id, 8);
    memcpy(head + 8, &nid, 4);
    memcpy(head + 12, &sl, 8);
    memcpy(head + 20, &tl, 8);
    mbedtls_sha256_init(&c);
    mbedtls_sha256_starts_ret(&c, 0);
    mbedtls_sha256_update_ret(&c, head, sizeof head);
    mbedtls_sha256_update_ret(&c, sig, siglen);
    mbedtls_sha256_update_ret(&c, tbs, tbslen);
    mbedtls_sha256_finish_ret(&c, out);
    mbedtls_sha256_free(&c);
    out[31] |= 1; /* never all zero, which marks a free entry */
}

static uint8_t *verified_slot(const uint8_t name[32])
{
    return verified[(name[0] | (unsigned)name[1] << 8) % SIGKEYS_VERIFIED];
}

static void count(uint64_t *counter)
{
    pthread_mutex_lock(&lock);
    (*counter)++;
    pthread_mutex_unlock(&lock);
}

int EVP_DigestVerifyInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, ENGINE *e,
                         EVP_PKEY *pkey)
{
    const void *caller = __builtin_return_address(0);
    uint64_t key_id = 0;
    if (!originals())
        return 0; /* no OpenSSL below: nothing verifies */
    /* initialised again before it verified: OpenSSL sees both, in order */
    if (deferred_run(ctx) != 1) {
        count(&stats.passed);
        return orig.init(ctx, pctx, type, e, pkey);
    }
    EVP_PKEY *kept_pkey = pkey && caller_trusted(caller) ? kept_key_for(pkey, &key_id) : NULL;
    if (!kept_pkey) {
        count(&stats.passed);
        return orig.init(ctx, pctx, type, e, pkey);
    }
    struct deferred d = {ctx, kept_pkey, type, key_id};
    if (pctx || e || !ctx || !dnssec_digest(type) || !ctx_fresh(ctx) || !deferred_put(&d)) {
        int rc = orig.init(ctx, pctx, type, e, kept_pkey); /* ctx takes its own reference */
        EVP_PKEY_free(kept_pkey);
        return rc;
    }
    return 1;
}

int EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sig, size_t siglen,
                     const unsigned char *tbs, size_t tbslen)
{
    const void *caller = __builtin_return_address(0);
    struct deferred d;
    uint8_t name[32];
    int known;
    if (!originals())
        return 0;
    if (!deferred_take(ctx, &d))
        return orig.verify(ctx, sig, siglen, tbs, tbslen);
    /* getdns verifies right after initialising; anything else on the way
     * (another caller, a context put to other use) fails, never succeeds */
    if (!caller_trusted(caller) || !ctx_fresh(ctx) || !sig || (!tbs && tbslen)) {
        EVP_PKEY_free(d.pkey);
        return 0;
    }
    verified_name(name, d.key_id, d.md, sig, siglen, tbs, tbslen);
    pthread_mutex_lock(&lock);
    known = memcmp(verified_slot(name), name, 32) == 0;
    if (known)
        stats.known++;
    pthread_mutex_unlock(&lock);
    if (known) {
        EVP_PKEY_free(d.pkey);
        return 1;
    }
    int rc = orig.init(ctx, NULL, d.md, NULL, d.pkey);
    EVP_PKEY_free(d.pkey);
    if (rc != 1)
        return 0;
    rc = orig.verify(ctx, sig, siglen, tbs, tbslen);
    if (rc == 1) {
        pthread_mutex_lock(&lock);
        memcpy(verified_slot(name), name, 32);
        pthread_mutex_unlock(&lock);
    }
    return rc;
}

/* A context freed or reset, on any thread, takes its deferred
 * initialisation with it. */
void EVP_MD_CTX_free(EVP_MD_CTX *ctx)
{
    struct deferred d;
    if (deferred_take(ctx, &d))
        EVP_PKEY_free(d.pkey);
    pthread_once(&originals_once, originals_find);
    if (orig.ctx_free)
        orig.ctx_free(ctx);
}

int EVP_MD_CTX_reset(EVP_MD_CTX *ctx)
{
    struct deferred d;
    if (deferred_take(ctx, &d))
        EVP_PKEY_free(d.pkey);
    pthread_once(&originals_once, originals_find);
    return orig.ctx_reset ? orig.ctx_reset(ctx) : 0;
}

EC_KEY *EC_KEY_new_by_curve_name(int nid)
{
    EC_GROUP **tmpl = nid == NID_X9_62_prime256v1 ? &p256 : nid == NID_secp384r1 ? &p384 : NULL;
    EC_KEY *key;
    if (!tmpl)
        return EC_KEY_new_by_curve_name_ex(NULL, NULL, nid);
    pthread_mutex_lock(&lock);
    if (!*tmpl)
        *tmpl = EC_GROUP_new_by_curve_name(nid);
    if ((key = EC_KEY_new()) && (!*tmpl || EC_KEY_set_group(key, *tmpl) != 1)) {
        EC_KEY_free(key);
        key = NULL;
    }
    pthread_mutex_unlock(&lock);
    return key;
}
