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
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define KEYCACHE_BUCKETS 1024

struct kc_entry {
    struct kc_entry *hnext;
    struct kc_entry *newer, *older; /* LRU */
    uint8_t zone[DNS_MAX_NAME];     /* lowercased */
    size_t zone_len;
    getdns_list *rrs; /* DNSKEY and RRSIG(DNSKEY) RR dicts */
    uint64_t expires_ms;
};

struct keycache {
    struct kc_entry *buckets[KEYCACHE_BUCKETS];
    struct kc_entry lru; /* head: lru.older is the newest, lru.newer the oldest */
    size_t n, max;
    getdns_list *anchors;
    struct keycache_stats st;
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

/* Keep rrs (taken) for zone until expires_ms, the least recently used set
 * making room. 0, or -1 when out of memory (rrs not taken). */
static int entry_insert(struct keycache *kc, const uint8_t *zone, size_t zone_len,
                        getdns_list *rrs, uint64_t expires_ms)
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
    e->expires_ms = expires_ms;
    unsigned b = name_hash(e->zone, e->zone_len);
    e->hnext = kc->buckets[b];
    kc->buckets[b] = e;
    lru_push(kc, e);
    kc->n++;
    return 0;
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

/* getdns's verdict on msg with keys as both anchor and support records. */
static int validate_with(const getdns_list *keys, const getdns_list *support,
                         const uint8_t *msg, size_t len, time_t now, uint32_t skew)
{
    getdns_dict *reply = NULL;
    getdns_list *to_validate = getdns_list_create();
    int r = -1;
    if (to_validate && getdns_wire2msg_dict(msg, len, &reply) == GETDNS_RETURN_GOOD &&
        getdns_list_set_dict(to_validate, 0, reply) == GETDNS_RETURN_GOOD)
        r = (int)getdns_validate_dnssec2(to_validate, support, keys, now, skew);
    getdns_dict_destroy(reply);
    getdns_list_destroy(to_validate);
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
    if (rc == 0 && validate_with(e->rrs, e->rrs, msg, len, now, skew) != GETDNS_DNSSEC_SECURE)
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
    if (entry_insert(kc, signer, signer_len, set, now_ms + (uint64_t)ttl * 1000) < 0) {
        rc = KEYCACHE_ENOMEM;
        goto out;
    }
    set = NULL;
    kc->st.learned++;
    rc = 1;
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
