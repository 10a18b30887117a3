/* resolver/localzone.c — local names, forward zones, negative trust anchors
 * and the rebinding filter (localzone.h says which route a name takes).
 *
 * Local data is kept sorted by owner name (wire bytes, lowercased) for a
 * binary search; a hosts file of many thousand lines costs a sort at start.
 * The default local zones are Unbound's (iterator/iter_hints.c and
 * services/localzone.c, local_zones_enter_defaults()) less "test.": the test
 * world, and many a test network, is served under test. by a real upstream.
 */
#include "localzone.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getdns/getdns_extra.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"

#define LZ_SOA_TTL 10800       /* RFC 6303 §3: the SOA of a locally served zone */
#define LZ_DEFAULT_TTL 3600    /* local_data without a TTL, hosts file entries */
#define LZ_MAX_RECORDS 100000 /* local_data and hosts file together */

enum lz_kind { LZ_STATIC, LZ_REDIRECT, LZ_INSECURE, LZ_FORWARD }; /* ties: the later wins */

struct lz_zone {
    uint8_t name[DNS_MAX_NAME]; /* lowercased */
    size_t len;
    enum lz_kind kind;
    size_t forward; /* LZ_FORWARD: index in cfg->forward_zones */
};

struct localzone {
    struct localzone_rr *rrs; /* sorted by owner */
    size_t n_rrs, cap_rrs;
    struct lz_zone *zones;
    size_t n_zones, n_default;
    char insecure_text[CONFIG_MAX_INSECURE * 258];
};

/* RFC 6761 §6.3-6.4, RFC 7686 (onion.), RFC 8375 (home.arpa.), RFC 6303 §4
 * (reverse zones of private, loopback, link-local and documentation ranges),
 * RFC 6598 (100.64.0.0/10). localhost. is LZ_REDIRECT; the rest LZ_STATIC. */
static const char *const default_zones[] = {
    "localhost.",
    "invalid.",
    "onion.",
    "home.arpa.",
    "10.in-addr.arpa.",
    "16.172.in-addr.arpa.", "17.172.in-addr.arpa.", "18.172.in-addr.arpa.",
    "19.172.in-addr.arpa.", "20.172.in-addr.arpa.", "21.172.in-addr.arpa.",
    "22.172.in-addr.arpa.", "23.172.in-addr.arpa.", "24.172.in-addr.arpa.",
    "25.172.in-addr.arpa.", "26.172.in-addr.arpa.", "27.172.in-addr.arpa.",
    "28.172.in-addr.arpa.", "29.172.in-addr.arpa.", "30.172.in-addr.arpa.",
    "31.172.in-addr.arpa.",
    "168.192.in-addr.arpa.",
    "0.in-addr.arpa.",
    "127.in-addr.arpa.",
    "254.169.in-addr.arpa.",
    "2.0.192.in-addr.arpa.",
    "100.51.198.in-addr.arpa.",
    "113.0.203.in-addr.arpa.",
    "255.255.255.255.in-addr.arpa.",
    "64.100.in-addr.arpa.", "65.100.in-addr.arpa.", "66.100.in-addr.arpa.",
    "67.100.in-addr.arpa.", "68.100.in-addr.arpa.", "69.100.in-addr.arpa.",
    "70.100.in-addr.arpa.", "71.100.in-addr.arpa.", "72.100.in-addr.arpa.",
    "73.100.in-addr.arpa.", "74.100.in-addr.arpa.", "75.100.in-addr.arpa.",
    "76.100.in-addr.arpa.", "77.100.in-addr.arpa.", "78.100.in-addr.arpa.",
    "79.100.in-addr.arpa.", "80.100.in-addr.arpa.", "81.100.in-addr.arpa.",
    "82.100.in-addr.arpa.", "83.100.in-addr.arpa.", "84.100.in-addr.arpa.",
    "85.100.in-addr.arpa.", "86.100.in-addr.arpa.", "87.100.in-addr.arpa.",
    "88.100.in-addr.arpa.", "89.100.in-addr.arpa.", "90.100.in-addr.arpa.",
    "91.100.in-addr.arpa.", "92.100.in-addr.arpa.", "93.100.in-addr.arpa.",
    "94.100.in-addr.arpa.", "95.100.in-addr.arpa.", "96.100.in-addr.arpa.",
    "97.100.in-addr.arpa.", "98.100.in-addr.arpa.", "99.100.in-addr.arpa.",
    "100.100.in-addr.arpa.", "101.100.in-addr.arpa.", "102.100.in-addr.arpa.",
    "103.100.in-addr.arpa.", "104.100.in-addr.arpa.", "105.100.in-addr.arpa.",
    "106.100.in-addr.arpa.", "107.100.in-addr.arpa.", "108.100.in-addr.arpa.",
    "109.100.in-addr.arpa.", "110.100.in-addr.arpa.", "111.100.in-addr.arpa.",
    "112.100.in-addr.arpa.", "113.100.in-addr.arpa.", "114.100.in-addr.arpa.",
    "115.100.in-addr.arpa.", "116.100.in-addr.arpa.", "117.100.in-addr.arpa.",
    "118.100.in-addr.arpa.", "119.100.in-addr.arpa.", "120.100.in-addr.arpa.",
    "121.100.in-addr.arpa.", "122.100.in-addr.arpa.", "123.100.in-addr.arpa.",
    "124.100.in-addr.arpa.", "125.100.in-addr.arpa.", "126.100.in-addr.arpa.",
    "127.100.in-addr.arpa.",
    /* ::/128, ::1/128 */
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
    "d.f.ip6.arpa.",                         /* fd00::/8 */
    "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.",    /* fe80::/10 */
    "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa.",             /* 2001:db8::/32 */
};

/* Data every resolver serves (RFC 6761 §6.3, RFC 6303 §4.2-4.3). */
static const char *const default_data[] = {
    "localhost. 10800 IN A 127.0.0.1",
    "localhost. 10800 IN AAAA ::1",
    "1.0.0.127.in-addr.arpa. 10800 IN PTR localhost.",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa. 10800 IN PTR "
    "localhost.",
};

/* ---- names ------------------------------------------------------------------ */

static void name_lower(uint8_t *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        name[i] = (uint8_t)tolower(name[i]); /* length bytes are < 64: unchanged */
}

/* Whether name is at or below zone (both wire format, lowercased or not). */
static int name_under(const uint8_t *name, size_t len, const uint8_t *zone, size_t zlen)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos == zlen && dns_name_equal(name + pos, len - pos, zone, zlen))
            return 1;
        if (name[pos] == 0)
            break;
        pos += 1 + (size_t)name[pos];
    }
    return 0;
}

static int owner_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int rr_cmp(const void *pa, const void *pb)
{
    const struct localzone_rr *a = pa, *b = pb;
    int c = owner_cmp(a->owner, a->owner_len, b->owner, b->owner_len);
    return c ? c : (int)a->type - (int)b->type;
}

/* ---- parsing local data ---------------------------------------------------------- */

int localzone_rr_parse(const char *text, struct localzone_rr *rr, char *err, size_t errlen)
{
    getdns_dict *dict = NULL;
    uint8_t *wire = NULL;
    size_t wire_len = 0, pos = 0;
    uint32_t rrclass = 0;
    int rc = -1;

    memset(rr, 0, sizeof *rr);
    if (getdns_str2rr_dict(text, &dict, ".", LZ_DEFAULT_TTL) != GETDNS_RETURN_GOOD || !dict) {
        snprintf(err, errlen, "not a resource record (\"name [TTL] [IN] TYPE DATA\"): \"%s\"",
                 text);
        goto out;
    }
    if (getdns_dict_get_int(dict, "class", &rrclass) == GETDNS_RETURN_GOOD &&
        rrclass != DNS_CLASS_IN) {
        snprintf(err, errlen, "only class IN can be served: \"%s\"", text);
        goto out;
    }
    if (getdns_rr_dict2wire(dict, &wire, &wire_len) != GETDNS_RETURN_GOOD || !wire) {
        snprintf(err, errlen, "cannot encode this record: \"%s\"", text);
        goto out;
    }
    while (pos < wire_len && wire[pos] != 0 && pos < DNS_MAX_NAME)
        pos += 1 + (size_t)wire[pos];
    if (pos >= wire_len || wire[pos] != 0 || pos + 1 > DNS_MAX_NAME || wire_len < pos + 11) {
        snprintf(err, errlen, "cannot encode this record: \"%s\"", text);
        goto out;
    }
    pos++;
    memcpy(rr->owner, wire, pos);
    rr->owner_len = pos;
    name_lower(rr->owner, rr->owner_len);
    rr->type = (uint16_t)(wire[pos] << 8 | wire[pos + 1]);
    rr->ttl = (uint32_t)wire[pos + 4] << 24 | (uint32_t)wire[pos + 5] << 16 |
              (uint32_t)wire[pos + 6] << 8 | wire[pos + 7];
    rr->rdlen = (uint16_t)(wire[pos + 8] << 8 | wire[pos + 9]);
    if (rr->type == DNS_TYPE_OPT || rr->type == DNS_TYPE_RRSIG || rr->type == DNS_TYPE_ANY ||
        rr->type == DNS_TYPE_NSEC || rr->type == DNS_TYPE_NSEC3 || rr->type == DNS_TYPE_DS ||
        rr->type == DNS_TYPE_DNSKEY) {
        snprintf(err, errlen, "a record of this type cannot be local data: \"%s\"", text);
        goto out;
    }
    if (rr->ttl > 2147483647u) {
        snprintf(err, errlen, "TTL out of range: \"%s\"", text);
        goto out;
    }
    if (pos + 10 + rr->rdlen != wire_len || rr->rdlen > sizeof rr->rdata) {
        snprintf(err, errlen, "record data too long (at most %zu bytes): \"%s\"",
                 sizeof rr->rdata, text);
        goto out;
    }
    if (rr->rdlen == 0 || (rr->type == DNS_TYPE_A && rr->rdlen != 4) ||
        (rr->type == DNS_TYPE_AAAA && rr->rdlen != 16)) {
        snprintf(err, errlen, "not a resource record (no data): \"%s\"", text);
        goto out;
    }
    memcpy(rr->rdata, wire + pos + 10, rr->rdlen);
    rc = 0;
out:
    free(wire);
    getdns_dict_destroy(dict);
    return rc;
}

static int rr_add(struct localzone *lz, const struct localzone_rr *rr)
{
    for (size_t i = 0; i < lz->n_rrs; i++) /* the same record twice: once is enough */
        if (lz->n_rrs < 4096 && lz->rrs[i].type == rr->type && lz->rrs[i].rdlen == rr->rdlen &&
            lz->rrs[i].owner_len == rr->owner_len &&
            memcmp(lz->rrs[i].owner, rr->owner, rr->owner_len) == 0 &&
            memcmp(lz->rrs[i].rdata, rr->rdata, rr->rdlen) == 0)
            return 0;
    if (lz->n_rrs == lz->cap_rrs) {
        size_t cap = lz->cap_rrs ? lz->cap_rrs * 2 : 64;
        struct localzone_rr *n;
        if (lz->n_rrs >= LZ_MAX_RECORDS)
            return -1;
        n = realloc(lz->rrs, cap * sizeof *n);
        if (!n)
            return -1;
        lz->rrs = n;
        lz->cap_rrs = cap;
    }
    lz->rrs[lz->n_rrs++] = *rr;
    return 0;
}

/* The reverse name of an address (bytes, 4 or 16) in wire format. */
static int reverse_name(const uint8_t *a, size_t alen, uint8_t out[DNS_MAX_NAME], size_t *out_len)
{
    char text[80];
    size_t n = 0;
    if (alen == 4) {
        snprintf(text, sizeof text, "%u.%u.%u.%u.in-addr.arpa.", a[3], a[2], a[1], a[0]);
    } else {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 16; i-- > 0;) {
            text[n++] = hex[a[i] & 15];
            text[n++] = '.';
            text[n++] = hex[a[i] >> 4];
            text[n++] = '.';
        }
        snprintf(text + n, sizeof text - n, "ip6.arpa.");
    }
    return dns_name_from_text(text, out, out_len) < 0 ? -1 : 0;
}

static int has_rr(const struct localzone *lz, const uint8_t *owner, size_t len, uint16_t type)
{
    for (size_t i = 0; i < lz->n_rrs; i++)
        if (lz->rrs[i].type == type && lz->rrs[i].owner_len == len &&
            memcmp(lz->rrs[i].owner, owner, len) == 0)
            return 1;
    return 0;
}

/* A (or AAAA) at name, and the PTR for the address unless one is there. */
static int add_address(struct localzone *lz, const uint8_t *name, size_t name_len,
                       const uint8_t *addr, size_t alen, uint32_t ttl, int with_ptr)
{
    struct localzone_rr rr;
    memset(&rr, 0, sizeof rr);
    memcpy(rr.owner, name, name_len);
    rr.owner_len = name_len;
    name_lower(rr.owner, rr.owner_len);
    rr.type = alen == 4 ? DNS_TYPE_A : DNS_TYPE_AAAA;
    rr.ttl = ttl;
    rr.rdlen = (uint16_t)alen;
    memcpy(rr.rdata, addr, alen);
    if (rr_add(lz, &rr) < 0)
        return -1;
    if (!with_ptr)
        return 0;
    struct localzone_rr ptr;
    memset(&ptr, 0, sizeof ptr);
    if (reverse_name(addr, alen, ptr.owner, &ptr.owner_len) < 0)
        return -1;
    if (has_rr(lz, ptr.owner, ptr.owner_len, DNS_TYPE_PTR))
        return 0; /* the first name of an address is its name */
    ptr.type = DNS_TYPE_PTR;
    ptr.ttl = ttl;
    memcpy(ptr.rdata, rr.owner, rr.owner_len);
    ptr.rdlen = (uint16_t)rr.owner_len;
    return rr_add(lz, &ptr);
}

/* /etc/hosts: "address name [alias...]", '#' comments. */
static int read_hosts(struct localzone *lz, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    char line[1024];
    unsigned long lineno = 0;
    if (!fp) {
        snprintf(err, errlen, "hosts_file %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, fp)) {
        char *save = NULL, *tok, *hash = strchr(line, '#');
        struct sockaddr_storage ss;
        const uint8_t *a;
        size_t alen;
        int first = 1;
        lineno++;
        if (hash)
            *hash = '\0';
        if (!(tok = strtok_r(line, " \t\r\n", &save)))
            continue;
        char *pct = strchr(tok, '%'); /* fe80::1%eth0: the scope is not DNS's business */
        if (pct)
            *pct = '\0';
        if (addr_parse(tok, 0, &ss) < 0 || !(a = addr_bytes((struct sockaddr *)&ss, &alen))) {
            snprintf(err, errlen, "%s:%lu: not an IP address: \"%s\"", path, lineno, tok);
            fclose(fp);
            return -1;
        }
        while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
            uint8_t name[DNS_MAX_NAME];
            size_t name_len;
            if (dns_name_from_text(tok, name, &name_len) < 0) {
                snprintf(err, errlen, "%s:%lu: not a host name: \"%s\"", path, lineno, tok);
                fclose(fp);
                return -1;
            }
            if (add_address(lz, name, name_len, a, alen, LZ_DEFAULT_TTL, first) < 0) {
                snprintf(err, errlen, "%s:%lu: too many records (at most %d)", path, lineno,
                         LZ_MAX_RECORDS);
                fclose(fp);
                return -1;
            }
            first = 0;
        }
    }
    fclose(fp);
    return 0;
}

/* ---- the table ------------------------------------------------------------------- */

static int zone_add(struct localzone *lz, const char *text, enum lz_kind kind, size_t forward)
{
    struct lz_zone *z = &lz->zones[lz->n_zones];
    if (dns_name_from_text(text, z->name, &z->len) < 0)
        return -1;
    name_lower(z->name, z->len);
    z->kind = kind;
    z->forward = forward;
    lz->n_zones++;
    return 0;
}

void localzone_free(struct localzone *lz)
{
    if (!lz)
        return;
    free(lz->rrs);
    free(lz->zones);
    free(lz);
}

int localzone_new(const struct config_resolver *cfg, struct localzone **out, char *err,
                  size_t errlen)
{
    struct localzone *lz = calloc(1, sizeof *lz);
    size_t n_default = sizeof default_zones / sizeof default_zones[0];
    struct localzone_rr rr;

    if (!lz)
        goto nomem;
    lz->zones =
        calloc(n_default + cfg->n_forward_zones + cfg->n_domain_insecure, sizeof *lz->zones);
    if (!lz->zones)
        goto nomem;
    for (size_t i = 0; i < n_default; i++)
        if (zone_add(lz, default_zones[i], i == 0 ? LZ_REDIRECT : LZ_STATIC, 0) < 0)
            goto bad_name;
    lz->n_default = lz->n_zones;
    for (size_t i = 0; i < cfg->n_forward_zones; i++)
        if (zone_add(lz, cfg->forward_zones[i].name, LZ_FORWARD, i) < 0)
            goto bad_name;
    for (size_t i = 0; i < cfg->n_domain_insecure; i++) {
        if (zone_add(lz, cfg->domain_insecure[i], LZ_INSECURE, 0) < 0)
            goto bad_name;
        size_t used = strlen(lz->insecure_text);
        snprintf(lz->insecure_text + used, sizeof lz->insecure_text - used, "%s%s",
                 i ? ", " : "", cfg->domain_insecure[i]);
    }
    for (size_t i = 0; i < sizeof default_data / sizeof default_data[0]; i++)
        if (localzone_rr_parse(default_data[i], &rr, err, errlen) < 0 || rr_add(lz, &rr) < 0)
            goto fail;
    /* explicit records first, so that an explicit PTR wins over a derived one */
    for (size_t i = 0; i < cfg->n_local_data; i++) {
        if (localzone_rr_parse(cfg->local_data[i], &rr, err, errlen) < 0)
            goto fail;
        if (rr_add(lz, &rr) < 0)
            goto nomem;
    }
    for (size_t i = 0; i < cfg->n_local_data; i++) {
        if (localzone_rr_parse(cfg->local_data[i], &rr, err, errlen) < 0)
            goto fail;
        if ((rr.type == DNS_TYPE_A && rr.rdlen == 4) || (rr.type == DNS_TYPE_AAAA && rr.rdlen == 16))
            if (add_address(lz, rr.owner, rr.owner_len, rr.rdata, rr.rdlen, rr.ttl, 1) < 0)
                goto nomem;
    }
    if (cfg->hosts_file[0] && read_hosts(lz, cfg->hosts_file, err, errlen) < 0)
        goto fail;
    if (lz->n_rrs)
        qsort(lz->rrs, lz->n_rrs, sizeof *lz->rrs, rr_cmp);
    *out = lz;
    return 0;
bad_name:
    snprintf(err, errlen, "bad zone name");
    goto fail;
nomem:
    snprintf(err, errlen, "out of memory (or more than %d local records)", LZ_MAX_RECORDS);
fail:
    localzone_free(lz);
    return -1;
}

void localzone_counts(const struct localzone *lz, size_t *records, size_t *zones)
{
    *records = lz->n_rrs;
    *zones = lz->n_default;
}

const char *localzone_insecure_text(const struct localzone *lz)
{
    return lz ? lz->insecure_text : "";
}

/* ---- matching -------------------------------------------------------------------- */

/* The index of the first record owned by name (lowercased), or -1. */
static long data_find(const struct localzone *lz, const uint8_t *name, size_t len)
{
    size_t lo = 0, hi = lz->n_rrs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (owner_cmp(lz->rrs[mid].owner, lz->rrs[mid].owner_len, name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < lz->n_rrs && owner_cmp(lz->rrs[lo].owner, lz->rrs[lo].owner_len, name, len) == 0)
        return (long)lo;
    return -1;
}

/* The zone deciding for name (lowercased): the longest, a later kind on ties. */
static const struct lz_zone *zone_find(const struct localzone *lz, const uint8_t *name,
                                       size_t len, int *insecure)
{
    const struct lz_zone *best = NULL, *fwd = NULL;
    *insecure = 0;
    for (size_t i = 0; i < lz->n_zones; i++) {
        const struct lz_zone *z = &lz->zones[i];
        if (!name_under(name, len, z->name, z->len))
            continue;
        if (z->kind == LZ_INSECURE)
            *insecure = 1;
        if (z->kind == LZ_FORWARD && (!fwd || z->len > fwd->len))
            fwd = z;
        if (!best || z->len > best->len || (z->len == best->len && z->kind > best->kind))
            best = z;
    }
    /* A domain_insecure name inside a forward zone turns validation off, not
     * the route: the zone's names still go to the zone's own upstreams. */
    if (best && best->kind == LZ_INSECURE && fwd)
        return fwd;
    return best;
}

void localzone_match(const struct localzone *lz, const uint8_t *qname, size_t qname_len,
                     struct localzone_match *m)
{
    uint8_t name[DNS_MAX_NAME];
    const struct lz_zone *z;

    memset(m, 0, sizeof *m);
    if (!lz || qname_len > DNS_MAX_NAME)
        return;
    memcpy(name, qname, qname_len);
    name_lower(name, qname_len);
    z = zone_find(lz, name, qname_len, &m->insecure);
    if (data_find(lz, name, qname_len) >= 0) {
        m->route = LOCALZONE_LOCAL;
        return;
    }
    if (!z)
        return;
    switch (z->kind) {
    case LZ_STATIC:
    case LZ_REDIRECT:
        m->route = LOCALZONE_LOCAL;
        break;
    case LZ_FORWARD:
        m->route = LOCALZONE_FORWARD;
        m->zone = z->forward;
        break;
    case LZ_INSECURE:
        m->route = LOCALZONE_INSECURE;
        break;
    }
}

int localzone_rebind_applies(const struct localzone *lz, const struct localzone_match *m)
{
    return m->route == LOCALZONE_UPSTREAM || m->route == LOCALZONE_INSECURE;
}

/* ---- answering ------------------------------------------------------------------- */

struct lz_out {
    uint8_t *buf;
    size_t cap, len;
    int full;
};

static void put(struct lz_out *o, const void *p, size_t n)
{
    if (o->full || o->cap - o->len < n) {
        o->full = 1;
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void put16(struct lz_out *o, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 2);
}

static void put32(struct lz_out *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 4);
}

static void put_rr(struct lz_out *o, const uint8_t *owner, size_t owner_len, uint16_t type,
                   uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
    put(o, owner, owner_len);
    put16(o, type);
    put16(o, DNS_CLASS_IN);
    put32(o, ttl);
    put16(o, rdlen);
    put(o, rdata, rdlen);
}

/* RFC 6303 §3's SOA for a zone served here. */
static void put_soa(struct lz_out *o, const uint8_t *zone, size_t zone_len)
{
    static const uint8_t fixed[] = {
        9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0,                 /* localhost. */
        6, 'n', 'o', 'b', 'o', 'd', 'y', 7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0, /* nobody.invalid. */
        0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x04, 0xb0, 0, 0x09, 0x3a, 0x80, 0, 0, 0x2a, 0x30,
    };
    put_rr(o, zone, zone_len, DNS_TYPE_SOA, LZ_SOA_TTL, fixed, sizeof fixed);
}

int localzone_answer(const struct localzone *lz, const uint8_t *qname, size_t qname_len,
                     uint16_t qtype, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t name[DNS_MAX_NAME];
    struct lz_out o = {out, cap, 0, 0};
    const struct lz_zone *z;
    const uint8_t *data_name = name, *soa_name = name;
    size_t data_len = qname_len, soa_len = qname_len, hdr_counts;
    unsigned an = 0, ns = 0;
    int rcode = DNS_RCODE_NOERROR, insecure;
    long first;

    if (qname_len > DNS_MAX_NAME || qname_len == 0)
        return WIRE_EBADNAME;
    memcpy(name, qname, qname_len);
    name_lower(name, qname_len);
    z = zone_find(lz, name, qname_len, &insecure);
    if (z && (z->kind == LZ_STATIC || z->kind == LZ_REDIRECT)) {
        soa_name = z->name;
        soa_len = z->len;
    }
    first = data_find(lz, name, qname_len);
    if (first < 0 && z && z->kind == LZ_REDIRECT) { /* localhost.: the apex's data for all */
        data_name = z->name;
        data_len = z->len;
        first = data_find(lz, z->name, z->len);
    }

    put16(&o, 0);      /* ID */
    put16(&o, 0x8580); /* QR AA RD RA; the rcode goes in below */
    put16(&o, 1);
    hdr_counts = o.len;
    put16(&o, 0);
    put16(&o, 0);
    put16(&o, 0);
    put(&o, qname, qname_len);
    put16(&o, qtype);
    put16(&o, DNS_CLASS_IN);

    if (first >= 0) {
        /* the records of the type (any type for ANY), else a CNAME, else NODATA */
        for (int pass = 0; pass < 2 && an == 0; pass++)
            for (size_t i = (size_t)first; i < lz->n_rrs &&
                                           owner_cmp(lz->rrs[i].owner, lz->rrs[i].owner_len,
                                                     data_name, data_len) == 0;
                 i++) {
                const struct localzone_rr *rr = &lz->rrs[i];
                if (pass == 0 ? (rr->type == qtype || qtype == DNS_TYPE_ANY)
                              : rr->type == DNS_TYPE_CNAME) {
                    put_rr(&o, qname, qname_len, rr->type, rr->ttl, rr->rdata, rr->rdlen);
                    an++;
                }
            }
    } else {
        /* no data at the name: NXDOMAIN, unless there is data below it */
        rcode = DNS_RCODE_NXDOMAIN;
        for (size_t i = 0; i < lz->n_rrs; i++)
            if (name_under(lz->rrs[i].owner, lz->rrs[i].owner_len, name, qname_len)) {
                rcode = DNS_RCODE_NOERROR;
                break;
            }
    }
    if (an == 0) {
        put_soa(&o, soa_name, soa_len);
        ns++;
    }
    if (o.full)
        return WIRE_ENOSPC;
    out[3] = (uint8_t)((out[3] & 0xf0) | rcode);
    out[hdr_counts] = (uint8_t)(an >> 8);
    out[hdr_counts + 1] = (uint8_t)an;
    out[hdr_counts + 3] = (uint8_t)ns;
    *out_len = o.len;
    return 0;
}

/* ---- rebinding ------------------------------------------------------------------- */

struct rrset_id {
    uint8_t owner[DNS_MAX_NAME];
    size_t len;
    uint16_t type;
};

#define LZ_MAX_BAD_RRSETS 32

#define LZ_TYPE_SVCB 64
#define LZ_TYPE_HTTPS 65

/* Whether the len bytes at a (4 or 16) are a local address; its text to text. */
static int bytes_local(const uint8_t *a, size_t len, char *text, size_t text_len)
{
    struct sockaddr_storage ss;
    if (addr_from_bytes(a, len, 0, &ss) != 0 ||
        addr_kind_of((struct sockaddr *)&ss) == ADDR_GLOBAL)
        return 0;
    if (!inet_ntop(len == 4 ? AF_INET : AF_INET6, a, text, (socklen_t)text_len))
        snprintf(text, text_len, "?");
    return 1;
}

/* SVCB and HTTPS (RFC 9460): a local address among the ipv4hint (key 4) and
 * ipv6hint (key 6) values, which clients may connect to as they would to A and
 * AAAA records. Rdata that does not read (the target name compressed, a
 * parameter cut short) counts as local: it cannot be checked. */
static int svcb_hint_local(const struct dns_rr *rr, char *text, size_t text_len)
{
    const uint8_t *d = rr->rdata;
    size_t n = rr->rdlen, pos = 2;
    if (n < 3)
        goto unreadable;
    while (pos < n && d[pos] != 0) { /* the target name, uncompressed */
        if (d[pos] > 63 || n - pos < 2u + d[pos])
            goto unreadable;
        pos += 1 + (size_t)d[pos];
    }
    if (pos >= n)
        goto unreadable;
    pos++;
    while (pos < n) {
        if (n - pos < 4)
            goto unreadable;
        uint16_t key = (uint16_t)(d[pos] << 8 | d[pos + 1]);
        size_t vlen = (size_t)(d[pos + 2] << 8 | d[pos + 3]);
        pos += 4;
        if (n - pos < vlen)
            goto unreadable;
        size_t w = key == 4 ? 4 : key == 6 ? 16 : 0;
        if (w && vlen % w)
            goto unreadable;
        for (size_t k = 0; w && k < vlen; k += w)
            if (bytes_local(d + pos + k, w, text, text_len))
                return 1;
        pos += vlen;
    }
    return 0;
unreadable:
    snprintf(text, text_len, "unreadable %s hints", rr->type == LZ_TYPE_HTTPS ? "HTTPS" : "SVCB");
    return 1;
}

static int address_is_local(const struct dns_rr *rr, char *text, size_t text_len)
{
    if ((rr->type == DNS_TYPE_A && rr->rdlen == 4) || (rr->type == DNS_TYPE_AAAA && rr->rdlen == 16))
        return bytes_local(rr->rdata, rr->rdlen, text, text_len);
    if (rr->type == LZ_TYPE_SVCB || rr->type == LZ_TYPE_HTTPS)
        return svcb_hint_local(rr, text, text_len);
    return 0;
}

int localzone_rebind_filter(uint8_t *msg, size_t *len, char *first, size_t first_len)
{
    struct rrset_id bad[LZ_MAX_BAD_RRSETS];
    size_t n_bad = 0, w, start;
    struct dns_rr_iter it;
    struct dns_rr rr;
    int rc, removed = 0;
    uint16_t counts[4] = {0};

    if (first && first_len)
        first[0] = '\0';
    if (dns_rr_iter_init(&it, msg, *len) < 0)
        return WIRE_EFORMERR;
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        int known = 0;
        char text[INET6_ADDRSTRLEN + 32];
        if (!address_is_local(&rr, text, sizeof text))
            continue;
        for (size_t i = 0; i < n_bad && !known; i++)
            known = bad[i].type == rr.type &&
                    dns_name_equal(bad[i].owner, bad[i].len, rr.owner, rr.owner_len);
        if (known)
            continue;
        if (n_bad == LZ_MAX_BAD_RRSETS)
            return WIRE_EFORMERR; /* not an answer anyone needs: the caller serves SERVFAIL */
        memcpy(bad[n_bad].owner, rr.owner, rr.owner_len);
        bad[n_bad].len = rr.owner_len;
        bad[n_bad].type = rr.type;
        n_bad++;
        if (first && !first[0])
            snprintf(first, first_len, "%s", text);
    }
    if (rc < 0)
        return WIRE_EFORMERR;
    if (!n_bad)
        return 0;
    /* Second walk: keep the rest, moved down over what goes (names are
     * uncompressed, so records move freely). */
    dns_rr_iter_init(&it, msg, *len);
    w = it.pos;
    for (start = it.pos; (rc = dns_rr_iter_next(&it, &rr)) == 1; start = it.pos) {
        uint16_t type = rr.type;
        int drop = 0;
        if (type == DNS_TYPE_RRSIG && rr.rdlen >= 2)
            type = (uint16_t)(rr.rdata[0] << 8 | rr.rdata[1]);
        for (size_t i = 0; i < n_bad && !drop; i++)
            drop = bad[i].type == type &&
                   dns_name_equal(bad[i].owner, bad[i].len, rr.owner, rr.owner_len);
        if (drop) {
            removed++;
            continue;
        }
        counts[rr.section]++;
        memmove(msg + w, msg + start, it.pos - start);
        w += it.pos - start;
    }
    if (rc < 0)
        return WIRE_EFORMERR;
    for (int s = 1; s <= 3; s++) {
        msg[4 + 2 * s] = (uint8_t)(counts[s] >> 8);
        msg[5 + 2 * s] = (uint8_t)counts[s];
    }
    *len = w;
    return removed;
}
