/* resolver/keycache.c — validated DNSKEY sets by zone (keycache.h says what
 * is kept, when, and what takes the short path).
 *
 * A hash table of zones (lowercased wire names) on an LRU list, at most
 * max_zones of them. Each holds the zone's DNSKEY records and the RRSIGs over
 * them as getdns RR dicts, in one list handed to getdns_validate_dnssec2()
 * both as the trust anchor and as the support records: getdns then checks the
 * DNSKEY RRset's signature by the anchor (itself) and the answer's signature
 * by a key of it, against the validation time.
 */
#include "keycache.h"

#include <getdns/getdns_extra.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define KEYCACHE_BUCKETS 1024
#define KEYCACHE_LOCAL_BITS 1024 /* the local key (see local_sign()) */
#define KEYCACHE_ALG_RSASHA256 8

struct kc_entry {
    struct kc_entry *hnext;
    struct kc_entry *newer, *older; /* LRU */
    uint8_t zone[DNS_MAX_NAME];     /* lowercased */
    size_t zone_len;
    getdns_list *rrs; /* DNSKEY and RRSIG(DNSKEY) RR dicts: getdns's support records */
    getdns_list *ta;  /* the trust anchor handed with them: the zone's own set, or
                         the local key under the zone's name */
    uint64_t expires_ms;
};

struct keycache {
    struct kc_entry *buckets[KEYCACHE_BUCKETS];
    struct kc_entry lru; /* head: lru.older is the newest, lru.newer the oldest */
    size_t n, max;
    getdns_list *anchors;
    struct keycache_stats st;
    /* the local key: an RSA key made at start, never written anywhere */
    int local_ok;
    mbedtls_rsa_context rsa;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    uint8_t local_rdata[4 + 1 + 3 + KEYCACHE_LOCAL_BITS / 8]; /* DNSKEY rdata */
    size_t local_rdata_len;
    uint16_t local_tag;
};

const char *keycache_strerror(int err)
{
    switch (err) {
#define KEYCACHE_CASE(name, value, text)                                                           \
    case name:                                                                                     \
        return text;
        KEYCACHE_ERRORS(KEYCACHE_CASE)
#undef KEYCACHE_CASE
    }
    return "unknown key cache error";
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Lowercase copy of a wire name (labels' length bytes are < 64, untouched). */
static void name_lower(uint8_t *out, const uint8_t *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = lower(name[i]);
}

static unsigned name_hash(const uint8_t *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ lower(name[i])) * 16777619u;
    return h % KEYCACHE_BUCKETS;
}

static unsigned label_count(const uint8_t *name, size_t len)
{
    unsigned n = 0;
    for (size_t pos = 0; pos < len && name[pos]; pos += 1 + (size_t)name[pos])
        n++;
    return n;
}

/* Whether anc is name or one of its ancestors. */
static int name_at_or_below(const uint8_t *name, size_t len, const uint8_t *anc, size_t alen)
{
    for (size_t pos = 0; pos < len; pos += 1 + (size_t)name[pos]) {
        if (len - pos == alen && dns_name_equal(name + pos, len - pos, anc, alen))
            return 1;
        if (name[pos] == 0)
            break;
    }
    return 0;
}

/* --- the table ----------------------------------------------------------- */

static void lru_unlink(struct kc_entry *e)
{
    e->newer->older = e->older;
    e->older->newer = e->newer;
}

static void lru_push(struct keycache *kc, struct kc_entry *e)
{
    e->older = kc->lru.older;
    e->newer = &kc->lru;
    kc->lru.older->newer = e;
    kc->lru.older = e;
}

static struct kc_entry *find(struct keycache *kc, const uint8_t *zone, size_t len)
{
    for (struct kc_entry *e = kc->buckets[name_hash(zone, len)]; e; e = e->hnext)
        if (dns_name_equal(e->zone, e->zone_len, zone, len))
            return e;
    return NULL;
}

static void entry_remove(struct keycache *kc, struct kc_entry *e)
{
    struct kc_entry **pp = &kc->buckets[name_hash(e->zone, e->zone_len)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    lru_unlink(e);
    if (e->ta != e->rrs)
        getdns_list_destroy(e->ta);
    getdns_list_destroy(e->rrs);
    free(e);
    kc->n--;
}

/* The live entry of zone, or NULL (an expired one is dropped). */
static struct kc_entry *lookup(struct keycache *kc, const uint8_t *zone, size_t len,
                               uint64_t now_ms)
{
    struct kc_entry *e = find(kc, zone, len);
    if (e && e->expires_ms <= now_ms) {
        entry_remove(kc, e);
        return NULL;
    }
    return e;
}

/* Keep rrs and ta (both taken; ta may be rrs) for zone until expires_ms,
 * the least recently used set making room. 0, or -1 when out of memory
 * (nothing taken). */
static int entry_insert(struct keycache *kc, const uint8_t *zone, size_t zone_len,
                        getdns_list *rrs, getdns_list *ta, uint64_t expires_ms)
{
    struct kc_entry *e = find(kc, zone, zone_len);
    if (e)
        entry_remove(kc, e);
    if (kc->n >= kc->max)
        entry_remove(kc, kc->lru.newer);
    if (!(e = calloc(1, sizeof *e)))
        return -1;
    name_lower(e->zone, zone, zone_len);
    e->zone_len = zone_len;
    e->rrs = rrs;
    e->ta = ta;
    e->expires_ms = expires_ms;
    unsigned b = name_hash(e->zone, e->zone_len);
    e->hnext = kc->buckets[b];
    kc->buckets[b] = e;
    lru_push(kc, e);
    kc->n++;
    return 0;
}

/* --- the local key ----------------------------------------------------------
 *
 * getdns_validate_dnssec2() starts from its trust anchor and must see that
 * anchor sign the zone's DNSKEY RRset before it uses a key of that set: with
 * the zone's own set as the anchor, that is a check of the set's own
 * signature (for ECDSA, through getdns's OpenSSL 3 legacy path, as costly as
 * the answer's) at every use. Instead, once getdns has validated the set, it
 * is signed here with a local RSA key made at start (RSASHA256, RFC 5702; the
 * key never leaves this process), and getdns gets that key under the zone's
 * name as the anchor: an RSA check, a few microseconds. What getdns is
 * handed as anchor and support records is made here, never taken from the
 * network, so the local key only ever vouches for sets getdns validated; the
 * answer is still checked against the zone's own keys. When the local key
 * cannot be made, or getdns does not accept its signature for the answer it
 * was learnt from, the zone's own set is the anchor, as before. */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* RFC 4034 Appendix B */
static uint16_t key_tag(const uint8_t *rdata, size_t len)
{
    uint32_t ac = 0;
    for (size_t i = 0; i < len; i++)
        ac += (i & 1) ? rdata[i] : (uint32_t)rdata[i] << 8;
    ac += ac >> 16 & 0xffff;
    return (uint16_t)(ac & 0xffff);
}

static void local_key_init(struct keycache *kc)
{
    static const char pers[] = "daneguard keycache";
    uint8_t n[KEYCACHE_LOCAL_BITS / 8];
    uint8_t *r = kc->local_rdata;
    mbedtls_rsa_init(&kc->rsa, MBEDTLS_RSA_PKCS_V15, 0);
    mbedtls_entropy_init(&kc->entropy);
    mbedtls_ctr_drbg_init(&kc->drbg);
    if (mbedtls_ctr_drbg_seed(&kc->drbg, mbedtls_entropy_func, &kc->entropy,
                              (const unsigned char *)pers, sizeof pers - 1) != 0 ||
        mbedtls_rsa_gen_key(&kc->rsa, mbedtls_ctr_drbg_random, &kc->drbg, KEYCACHE_LOCAL_BITS,
                            65537) != 0 ||
        mbedtls_rsa_export_raw(&kc->rsa, n, sizeof n, NULL, 0, NULL, 0, NULL, 0, NULL, 0) != 0)
        return;
    /* DNSKEY rdata: flags 257, protocol 3, algorithm 8, the RFC 3110 key */
    put16(r, 257);
    r[2] = 3;
    r[3] = KEYCACHE_ALG_RSASHA256;
    r[4] = 3; /* exponent length */
    r[5] = 0x01;
    r[6] = 0x00;
    r[7] = 0x01;
    memcpy(r + 8, n, sizeof n);
    kc->local_rdata_len = 8 + sizeof n;
    kc->local_tag = key_tag(r, kc->local_rdata_len);
    kc->local_ok = 1;
}

static getdns_dict *rr_dict(const uint8_t *wire, size_t len)
{
    getdns_dict *d = NULL;
    return getdns_wire2rr_dict(wire, len, &d) == GETDNS_RETURN_GOOD ? d : NULL;
}

struct raw_rdata {
    const uint8_t *p;
    size_t len;
};

/* RFC 4034 §6.3: RDATA compared as left-justified octet sequences */
static int rdata_cmp(const void *a, const void *b)
{
    const struct raw_rdata *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* One record into list at *have: owner zone (lowercased), type, the TTL, rdata. */
static int list_add_rr(getdns_list *list, size_t *have, const uint8_t *lz, size_t zone_len,
                       uint16_t type, uint32_t ttl, const uint8_t *rdata, size_t rdlen)
{
    uint8_t *rr = malloc(zone_len + 10 + rdlen);
    getdns_dict *d = NULL;
    int rc = -1;
    if (!rr)
        return -1;
    memcpy(rr, lz, zone_len);
    put16(rr + zone_len, type);
    put16(rr + zone_len + 2, DNS_CLASS_IN);
    put32(rr + zone_len + 4, ttl);
    put16(rr + zone_len + 8, (uint16_t)rdlen);
    memcpy(rr + zone_len + 10, rdata, rdlen);
    if ((d = rr_dict(rr, zone_len + 10 + rdlen)) &&
        getdns_list_set_dict(list, (*have)++, d) == GETDNS_RETURN_GOOD)
        rc = 0;
    getdns_dict_destroy(d);
    free(rr);
    return rc;
}

/* The DNSKEY records of set (the zone's, validated) signed with the local
 * key: *support gets them and the new RRSIG, *ta the local key as a DNSKEY
 * record of the zone. 0, or -1 (nothing made). */
static int local_sign(struct keycache *kc, const uint8_t *zone, size_t zone_len,
                      const getdns_list *set, time_t now, getdns_list **support,
                      getdns_list **ta)
{
    enum { MAX_KEYS = 32, MAX_RDATA = 4096 };
    struct raw_rdata keys[MAX_KEYS];
    size_t n = 0, total = 0, len, have = 0, tas = 0;
    uint8_t lz[DNS_MAX_NAME], hash[32], *buf = NULL, *sigrd = NULL;
    uint8_t sig[KEYCACHE_LOCAL_BITS / 8];
    const uint32_t orig_ttl = KEYCACHE_MAX_TTL;
    uint32_t inception = (uint32_t)(now - 300);
    uint32_t expiration = (uint32_t)(now + 2 * KEYCACHE_MAX_TTL);
    int rc = -1;

    *support = *ta = NULL;
    if (!kc->local_ok)
        return -1;
    name_lower(lz, zone, zone_len);
    getdns_list_get_length(set, &total);
    for (size_t i = 0; i < total; i++) {
        getdns_dict *d;
        getdns_bindata *raw;
        uint32_t type = 0;
        if (getdns_list_get_dict(set, i, &d) != GETDNS_RETURN_GOOD ||
            getdns_dict_get_int(d, "type", &type) != GETDNS_RETURN_GOOD ||
            type != GETDNS_RRTYPE_DNSKEY)
            continue;
        if (n == MAX_KEYS ||
            getdns_dict_get_bindata(d, "/rdata/rdata_raw", &raw) != GETDNS_RETURN_GOOD ||
            raw->size > MAX_RDATA)
            return -1;
        keys[n].p = raw->data;
        keys[n++].len = raw->size;
    }
    if (n == 0)
        return -1;
    qsort(keys, n, sizeof keys[0], rdata_cmp);

    /* RFC 4034 §3.1.8.1: the RRSIG RDATA without the signature, then the
     * RRset in canonical form (owner lowercased, the Original TTL, sorted,
     * duplicates once) */
    if (!(buf = malloc(18 + zone_len + n * (zone_len + 10 + MAX_RDATA))) ||
        !(sigrd = malloc(18 + zone_len + sizeof sig)))
        goto out;
    put16(buf, DNS_TYPE_DNSKEY);
    buf[2] = KEYCACHE_ALG_RSASHA256;
    buf[3] = (uint8_t)label_count(zone, zone_len);
    put32(buf + 4, orig_ttl);
    put32(buf + 8, expiration);
    put32(buf + 12, inception);
    put16(buf + 16, kc->local_tag);
    memcpy(buf + 18, lz, zone_len);
    len = 18 + zone_len;
    memcpy(sigrd, buf, len);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && rdata_cmp(&keys[i - 1], &keys[i]) == 0)
            continue;
        memcpy(buf + len, lz, zone_len);
        len += zone_len;
        put16(buf + len, DNS_TYPE_DNSKEY);
        put16(buf + len + 2, DNS_CLASS_IN);
        put32(buf + len + 4, orig_ttl);
        put16(buf + len + 8, (uint16_t)keys[i].len);
        memcpy(buf + len + 10, keys[i].p, keys[i].len);
        len += 10 + keys[i].len;
    }
    if (mbedtls_sha256_ret(buf, len, hash, 0) != 0 ||
        mbedtls_rsa_pkcs1_sign(&kc->rsa, mbedtls_ctr_drbg_random, &kc->drbg, MBEDTLS_RSA_PRIVATE,
                               MBEDTLS_MD_SHA256, sizeof hash, hash, sig) != 0)
        goto out;
    memcpy(sigrd + 18 + zone_len, sig, sizeof sig);

    if (!(*support = getdns_list_create()) || !(*ta = getdns_list_create()))
        goto out;
    for (size_t i = 0; i < n; i++)
        if ((i == 0 || rdata_cmp(&keys[i - 1], &keys[i]) != 0) &&
            list_add_rr(*support, &have, lz, zone_len, DNS_TYPE_DNSKEY, orig_ttl, keys[i].p,
                        keys[i].len) < 0)
            goto out;
    if (list_add_rr(*support, &have, lz, zone_len, DNS_TYPE_RRSIG, orig_ttl, sigrd,
                    18 + zone_len + sizeof sig) < 0 ||
        list_add_rr(*ta, &tas, lz, zone_len, DNS_TYPE_DNSKEY, orig_ttl, kc->local_rdata,
                    kc->local_rdata_len) < 0)
        goto out;
    rc = 0;
out:
    free(sigrd);
    free(buf);
    if (rc < 0) {
        getdns_list_destroy(*support);
        getdns_list_destroy(*ta);
        *support = *ta = NULL;
    }
    return rc;
}

struct keycache *keycache_new(size_t max_zones, const getdns_list *anchors)
{
    struct keycache *kc = calloc(1, sizeof *kc);
    size_t n = 0;
    if (!kc || !(kc->anchors = getdns_list_create())) {
        free(kc);
        return NULL;
    }
    kc->lru.newer = kc->lru.older = &kc->lru;
    kc->max = max_zones ? max_zones : KEYCACHE_MAX_ZONES;
    local_key_init(kc);
    if (anchors)
        getdns_list_get_length(anchors, &n);
    for (size_t i = 0; i < n; i++) {
        getdns_dict *rr;
        if (getdns_list_get_dict(anchors, i, &rr) != GETDNS_RETURN_GOOD ||
            getdns_list_set_dict(kc->anchors, i, rr) != GETDNS_RETURN_GOOD) {
            keycache_free(kc);
            return NULL;
        }
    }
    return kc;
}

void keycache_flush(struct keycache *kc)
{
    if (!kc)
        return;
    while (kc->lru.newer != &kc->lru)
        entry_remove(kc, kc->lru.newer);
}

void keycache_free(struct keycache *kc)
{
    if (!kc)
        return;
    keycache_flush(kc);
    getdns_list_destroy(kc->anchors);
    mbedtls_rsa_free(&kc->rsa);
    mbedtls_ctr_drbg_free(&kc->drbg);
    mbedtls_entropy_free(&kc->entropy);
    free(kc);
}

void keycache_get_stats(const struct keycache *kc, struct keycache_stats *st)
{
    if (!kc) {
        memset(st, 0, sizeof *st);
        return;
    }
    *st = kc->st;
    st->zones = kc->n;
}

/* --- the shape of an answer ---------------------------------------------- */

static int type_answered(uint16_t t)
{
    switch (t) {
    case DNS_TYPE_CNAME:
    case DNS_TYPE_DNAME:
    case DNS_TYPE_DS:
    case DNS_TYPE_DNSKEY:
    case DNS_TYPE_RRSIG:
    case DNS_TYPE_NSEC:
    case DNS_TYPE_NSEC3:
    case DNS_TYPE_OPT:
    case DNS_TYPE_SIG:
    case 25:  /* KEY */
    case DNS_TYPE_NXT:
    case 51:  /* NSEC3PARAM */
    case 0:
        return 0;
    default:
        return t < 128 || t > 255; /* not a meta type or qtype (RFC 6895 §3.1) */
    }
}

int keycache_answer_signer(const uint8_t *msg, size_t len, const uint8_t *qname, size_t qname_len,
                           uint16_t qtype, uint8_t signer[DNS_MAX_NAME], size_t *signer_len)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    uint8_t name[DNS_MAX_NAME];
    size_t name_len, pos = DNS_HEADER_LEN;
    unsigned data = 0, sigs = 0, labels = label_count(qname, qname_len);
    int rc;

    if (!type_answered(qtype))
        return KEYCACHE_ETYPE;
    if (len < DNS_HEADER_LEN || !(msg[2] & 0x80) || (msg[2] & 0x7a) != 0 || get16(msg + 4) != 1)
        return KEYCACHE_EFORMERR; /* a response, QUERY, not truncated, one question */
    if ((msg[3] & 0x0f) != DNS_RCODE_NOERROR || get16(msg + 6) == 0)
        return KEYCACHE_ERCODE;
    if (get16(msg + 8) != 0)
        return KEYCACHE_EEXTRA;
    if (dns_name_read(msg, len, &pos, name, &name_len) < 0 || len - pos < 4 ||
        !dns_name_equal(name, name_len, qname, qname_len) || get16(msg + pos) != qtype ||
        get16(msg + pos + 2) != DNS_CLASS_IN)
        return KEYCACHE_EFORMERR;
    if (dns_rr_iter_init(&it, msg, len) < 0)
        return KEYCACHE_EFORMERR;
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        if (rr.section == DNS_SECTION_ADDITIONAL) {
            if (rr.type != DNS_TYPE_OPT)
                return KEYCACHE_EEXTRA;
            continue;
        }
        if (rr.section != DNS_SECTION_ANSWER)
            return KEYCACHE_EEXTRA;
        if (rr.rrclass != DNS_CLASS_IN || !dns_name_equal(rr.owner, rr.owner_len, qname, qname_len))
            return KEYCACHE_EANSWER;
        if (rr.type == qtype) {
            data++;
            continue;
        }
        if (rr.type != DNS_TYPE_RRSIG || rr.rdlen < 19)
            return KEYCACHE_EANSWER;
        if (get16(rr.rdata) != qtype)
            return KEYCACHE_EANSWER; /* an RRSIG over another type */
        if (rr.rdata[3] != labels)
            return KEYCACHE_EWILDCARD; /* fewer labels: expanded from a wildcard */
        size_t spos = rr.rdata_offset + 18;
        if (dns_name_read(msg, len, &spos, name, &name_len) < 0 ||
            spos > rr.rdata_offset + rr.rdlen)
            return KEYCACHE_EFORMERR;
        if (sigs == 0) {
            if (!name_at_or_below(qname, qname_len, name, name_len))
                return KEYCACHE_ESIGNER;
            memcpy(signer, name, name_len);
            *signer_len = name_len;
        } else if (!dns_name_equal(signer, *signer_len, name, name_len)) {
            return KEYCACHE_ESIGNER;
        }
        sigs++;
    }
    if (rc < 0)
        return KEYCACHE_EFORMERR;
    if (data == 0)
        return KEYCACHE_EANSWER;
    if (sigs == 0)
        return KEYCACHE_ENOSIG;
    return 0;
}

/* No kept zone strictly between signer and qname (both wire, signer an
 * ancestor-or-self of qname): a known zone cut there means the signer's
 * signature does not speak for names below it. */
static int closer_zone_known(struct keycache *kc, const uint8_t *qname, size_t qname_len,
                             size_t signer_len, uint64_t now_ms)
{
    for (size_t pos = 0; qname_len - pos > signer_len; pos += 1 + (size_t)qname[pos])
        if (lookup(kc, qname + pos, qname_len - pos, now_ms))
            return 1;
    return 0;
}

/* getdns's verdict on msg, an answer of the plain shape
 * (keycache_answer_signer() said so), with keys as the trust anchor and
 * support as the support records. getdns is handed the answer section's
 * records: for this shape they are the whole answer (the RRset asked for
 * and its RRSIGs), and a list of records, unlike a reply, is not copied
 * once more and converted back to wire format a second time. */
static int validate_with(const getdns_list *keys, const getdns_list *support,
                         const uint8_t *msg, size_t len, time_t now, uint32_t skew)
{
    getdns_dict *reply = NULL;
    getdns_list *answer = NULL;
    int r = -1;
    if (getdns_wire2msg_dict(msg, len, &reply) == GETDNS_RETURN_GOOD &&
        getdns_dict_get_list(reply, "answer", &answer) == GETDNS_RETURN_GOOD)
        r = (int)getdns_validate_dnssec2(answer, support, keys, now, skew);
    getdns_dict_destroy(reply);
    return r;
}

int keycache_validate(struct keycache *kc, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                      const uint8_t *msg, size_t len, uint64_t now_ms, time_t now, uint32_t skew)
{
    uint8_t signer[DNS_MAX_NAME];
    size_t signer_len = 0;
    struct kc_entry *e = NULL;
    int rc = keycache_answer_signer(msg, len, qname, qname_len, qtype, signer, &signer_len);

    if (rc == 0 && !(e = lookup(kc, signer, signer_len, now_ms)))
        rc = KEYCACHE_ENOKEY;
    if (rc == 0 && closer_zone_known(kc, qname, qname_len, signer_len, now_ms))
        rc = KEYCACHE_ECLOSER;
    if (rc == 0 && validate_with(e->ta, e->rrs, msg, len, now, skew) != GETDNS_DNSSEC_SECURE)
        rc = KEYCACHE_EINSECURE;
    if (rc < 0) {
        kc->st.fallbacks++;
        return rc;
    }
    lru_unlink(e);
    lru_push(kc, e);
    kc->st.secure++;
    return 1;
}

/* --- learning -------------------------------------------------------------- */

static int rr_name_is(getdns_dict *rr, const uint8_t *zone, size_t zone_len)
{
    getdns_bindata *name;
    return getdns_dict_get_bindata(rr, "name", &name) == GETDNS_RETURN_GOOD &&
           dns_name_equal(name->data, name->size, zone, zone_len);
}

int keycache_learn(struct keycache *kc, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                   const uint8_t *msg, size_t len, const getdns_list *chain, int stale,
                   uint64_t now_ms, time_t now, uint32_t skew)
{
    uint8_t signer[DNS_MAX_NAME];
    size_t signer_len = 0, n = 0, have = 0, keys = 0;
    uint32_t ttl = KEYCACHE_MAX_TTL;
    getdns_list *set = NULL;
    int rc = keycache_answer_signer(msg, len, qname, qname_len, qtype, signer, &signer_len);

    if (rc < 0 || !chain)
        return 0;
    if (!stale && lookup(kc, signer, signer_len, now_ms))
        return 0; /* (a stale one is replaced by entry_insert() below) */
    if (!(set = getdns_list_create()))
        return KEYCACHE_ENOMEM;
    getdns_list_get_length(chain, &n);
    for (size_t i = 0; i < n; i++) {
        getdns_dict *rr;
        uint32_t type = 0, covered = 0, rr_ttl = 0;
        if (getdns_list_get_dict(chain, i, &rr) != GETDNS_RETURN_GOOD ||
            getdns_dict_get_int(rr, "type", &type) != GETDNS_RETURN_GOOD ||
            !rr_name_is(rr, signer, signer_len))
            continue;
        if (type == GETDNS_RRTYPE_RRSIG &&
            getdns_dict_get_int(rr, "/rdata/type_covered", &covered) != GETDNS_RETURN_GOOD)
            continue;
        if (type == GETDNS_RRTYPE_DS ||
            (type == GETDNS_RRTYPE_RRSIG && covered == GETDNS_RRTYPE_DS)) {
            /* the zone's DS: the set is trusted no longer than its DS */
            if (getdns_dict_get_int(rr, "ttl", &rr_ttl) == GETDNS_RETURN_GOOD && rr_ttl < ttl)
                ttl = rr_ttl;
            continue;
        }
        if (type != GETDNS_RRTYPE_DNSKEY &&
            !(type == GETDNS_RRTYPE_RRSIG && covered == GETDNS_RRTYPE_DNSKEY))
            continue;
        if (getdns_dict_get_int(rr, "ttl", &rr_ttl) == GETDNS_RETURN_GOOD && rr_ttl < ttl)
            ttl = rr_ttl;
        if (getdns_list_set_dict(set, have++, rr) != GETDNS_RETURN_GOOD) {
            rc = KEYCACHE_ENOMEM;
            goto out;
        }
        keys += type == GETDNS_RRTYPE_DNSKEY;
    }
    /* The set must stand on its own from the configured anchors with the
     * chain's records (the chain holds every DNSKEY record of every answer it
     * used: one slipped into another answer makes this set fail here, since
     * its signature covers the whole RRset), and must prove the answer. */
    if (keys == 0 || ttl == 0 ||
        (int)getdns_validate_dnssec2(set, chain, kc->anchors, now, skew) != GETDNS_DNSSEC_SECURE ||
        validate_with(set, set, msg, len, now, skew) != GETDNS_DNSSEC_SECURE) {
        rc = KEYCACHE_ECHAIN;
        goto out;
    }
    /* the local key's signature in place of the set's own, when getdns
     * accepts it for this answer */
    getdns_list *support = NULL, *ta = NULL;
    int local = 0;
    if (local_sign(kc, signer, signer_len, set, now, &support, &ta) == 0 &&
        validate_with(ta, support, msg, len, now, skew) == GETDNS_DNSSEC_SECURE) {
        getdns_list_destroy(set);
        set = support;
        local = 1;
    } else {
        getdns_list_destroy(support);
        getdns_list_destroy(ta);
        ta = set;
    }
    if (entry_insert(kc, signer, signer_len, set, ta, now_ms + (uint64_t)ttl * 1000) < 0) {
        if (ta != set)
            getdns_list_destroy(ta);
        rc = KEYCACHE_ENOMEM;
        goto out;
    }
    set = NULL;
    kc->st.learned++;
    rc = local ? 2 : 1;
out:
    getdns_list_destroy(set);
    return rc;
}

/* --- purging --------------------------------------------------------------- */

static unsigned purge_ancestors(struct keycache *kc, const uint8_t *name, size_t len)
{
    unsigned n = 0;
    for (size_t pos = 0; pos < len; pos += 1 + (size_t)name[pos]) {
        struct kc_entry *e = find(kc, name + pos, len - pos);
        if (e) {
            entry_remove(kc, e);
            n++;
        }
        if (name[pos] == 0)
            break;
    }
    return n;
}

unsigned keycache_purge(struct keycache *kc, const uint8_t *qname, size_t qname_len,
                        const uint8_t *msg, size_t len)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    unsigned n;
    if (!kc || kc->n == 0)
        return 0;
    n = purge_ancestors(kc, qname, qname_len);
    if (msg && dns_rr_iter_init(&it, msg, len) == 0) {
        while (dns_rr_iter_next(&it, &rr) == 1 && rr.section != DNS_SECTION_ADDITIONAL) {
            n += purge_ancestors(kc, rr.owner, rr.owner_len);
            if (rr.type == DNS_TYPE_RRSIG && rr.rdlen > 18) {
                uint8_t signer[DNS_MAX_NAME];
                size_t signer_len, pos = rr.rdata_offset + 18;
                if (dns_name_read(msg, len, &pos, signer, &signer_len) == 0)
                    n += purge_ancestors(kc, signer, signer_len);
            }
        }
    }
    kc->st.purged += n;
    return n;
}
