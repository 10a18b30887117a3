/* resolver/scrub.c — scrubbing upstream answers (include/scrub.h says what
 * stays and why).
 *
 * The message is read once into an array of records (owners decompressed,
 * with a case-folded hash to compare them quickly); the chain is walked over
 * that array, records are marked, and the kept ones are written out twice:
 * once to measure, once into a buffer of exactly that size. Every name is
 * written uncompressed, so nothing in the output points into the upstream's
 * message; dns_reply_render() compresses again.
 */
#include "scrub.h"

#include <stdlib.h>
#include <string.h>

#define DNS_FLAG_QR 0x80

/* Rdata layouts of the types whose rdata holds domain names (RFC 1035 §3.3,
 * RFC 3597 §4 and the DNSSEC types), so that the names can be decompressed:
 * N a name, b one byte, s a character-string, r the rest as it is. */
static const struct {
    uint16_t type;
    const char *layout;
} rdata_layouts[] = {
    {DNS_TYPE_NS, "N"},      {3 /* MD */, "N"},         {4 /* MF */, "N"},
    {DNS_TYPE_CNAME, "N"},   {DNS_TYPE_SOA, "NNr"},     {7 /* MB */, "N"},
    {8 /* MG */, "N"},       {9 /* MR */, "N"},         {DNS_TYPE_PTR, "N"},
    {14 /* MINFO */, "NN"},  {DNS_TYPE_MX, "bbN"},      {17 /* RP */, "NN"},
    {18 /* AFSDB */, "bbN"}, {21 /* RT */, "bbN"},      {26 /* PX */, "bbNN"},
    {DNS_TYPE_SRV, "bbbbbbN"}, {35 /* NAPTR */, "bbbbsssN"}, {36 /* KX */, "bbN"},
    {DNS_TYPE_DNAME, "N"},   {DNS_TYPE_RRSIG, "bbbbbbbbbbbbbbbbbbNr"}, {DNS_TYPE_NSEC, "Nr"},
};

/* One record of the upstream message. */
struct srec {
    uint32_t hash; /* of the owner, case-folded */
    uint32_t ttl;
    size_t rdata_off;
    uint16_t type, rrclass, rdlen;
    uint8_t section; /* enum dns_section */
    uint8_t keep;
    uint8_t sub;  /* answer: 0 a DNAME link and its RRSIGs, 1 the rest */
    int group;    /* answer: the chain position it belongs to */
    size_t owner_len;
    uint8_t owner[DNS_MAX_NAME];
};

/* What the chain does at one of its names. */
enum step_kind { STEP_END, STEP_CNAME, STEP_DNAME };

struct step {
    uint8_t name[DNS_MAX_NAME]; /* the chain's name at this position */
    size_t len;
    uint32_t hash;
    enum step_kind kind;
    uint8_t target[DNS_MAX_NAME]; /* where the CNAME or DNAME leads */
    size_t target_len;
    int dname_rec;    /* STEP_DNAME: the DNAME record applied */
    int synth;        /* STEP_DNAME: no upstream CNAME matched, one is made */
};

struct chain {
    struct step steps[SCRUB_MAX_LINKS + 1];
    unsigned n; /* steps used; the last one is where the chain ends */
};

struct parsed {
    const uint8_t *msg;
    size_t len;
    struct srec *recs;
    size_t n;
    uint8_t qname[DNS_MAX_NAME];
    size_t qname_len;
    uint16_t qtype, qclass, qdcount;
};

const char *scrub_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define SCRUB_STR(name, value, text)                                                               \
    case name:                                                                                     \
        return text;
        SCRUB_ERRORS(SCRUB_STR)
#undef SCRUB_STR
    }
    return "unknown scrub error";
}

static inline uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint8_t fold(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static uint32_t name_hash(const uint8_t *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ fold(name[i])) * 16777619u;
    return h;
}

/* Whether name is anc or below it (strict: only below). Both uncompressed. */
static int name_below(const uint8_t *name, size_t len, const uint8_t *anc, size_t alen, int strict)
{
    size_t pos = 0;
    while (pos < len) {
        if (len - pos == alen && dns_name_equal(name + pos, alen, anc, alen))
            return !strict || pos > 0;
        if (name[pos] == 0)
            break;
        pos += 1 + (size_t)name[pos];
    }
    return 0;
}

/* Labels of an owner as RRSIG's Labels field counts them (RFC 4034 §3.1.3):
 * without the root and without a leading "*". */
static unsigned rrsig_labels(const uint8_t *name, size_t len)
{
    unsigned n = 0;
    for (size_t pos = 0; pos < len && name[pos] != 0; pos += 1 + (size_t)name[pos])
        n++;
    if (len >= 2 && name[0] == 1 && name[1] == '*')
        n--;
    return n;
}

static int same_owner(const struct srec *a, const struct srec *b)
{
    return a->hash == b->hash && dns_name_equal(a->owner, a->owner_len, b->owner, b->owner_len);
}

static int owner_is(const struct srec *r, const uint8_t *name, size_t len, uint32_t hash)
{
    return r->hash == hash && dns_name_equal(r->owner, r->owner_len, name, len);
}

/* The type an RRSIG covers, or 0 when its rdata is too short to say. */
static uint16_t rrsig_covered(const struct parsed *p, const struct srec *r)
{
    return r->rdlen >= 18 ? get16(p->msg + r->rdata_off) : 0;
}

/* A name in a record's rdata at offset skip (NS, MX, SRV targets, RRSIG signer). */
static int rdata_name(const struct parsed *p, const struct srec *r, size_t skip,
                      uint8_t out[DNS_MAX_NAME], size_t *out_len)
{
    size_t pos = r->rdata_off + skip;
    if (skip >= r->rdlen || dns_name_read(p->msg, p->len, &pos, out, out_len) < 0 ||
        pos > r->rdata_off + r->rdlen)
        return SCRUB_EFORMERR;
    return 0;
}

/* ---- reading ---- */

static int parse(const uint8_t *msg, size_t len, struct parsed *p)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    size_t pos = DNS_HEADER_LEN, max;
    int rc;

    memset(p, 0, sizeof *p);
    p->msg = msg;
    p->len = len;
    if (len < DNS_HEADER_LEN)
        return SCRUB_EFORMERR;
    p->qdcount = get16(msg + 4);
    if (p->qdcount == 1) {
        if (dns_name_read(msg, len, &pos, p->qname, &p->qname_len) < 0 || len - pos < 4)
            return SCRUB_EFORMERR;
        p->qtype = get16(msg + pos);
        p->qclass = get16(msg + pos + 2);
    }
    if (dns_rr_iter_init(&it, msg, len) < 0)
        return SCRUB_EFORMERR;
    /* the smallest record is 11 bytes: the counts may claim more than there is */
    max = (size_t)get16(msg + 6) + get16(msg + 8) + get16(msg + 10);
    if (max > len / 11 + 1)
        max = len / 11 + 1;
    p->recs = max ? calloc(max, sizeof *p->recs) : NULL;
    if (max && !p->recs)
        return SCRUB_ENOMEM;
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        if (p->n >= max)
            return SCRUB_EFORMERR;
        struct srec *r = &p->recs[p->n++];
        r->section = (uint8_t)rr.section;
        r->type = rr.type;
        r->rrclass = rr.rrclass;
        r->ttl = rr.ttl;
        r->rdlen = rr.rdlen;
        r->rdata_off = rr.rdata_offset;
        r->owner_len = rr.owner_len;
        memcpy(r->owner, rr.owner, rr.owner_len);
        r->hash = name_hash(rr.owner, rr.owner_len);
        r->group = -1;
    }
    return rc < 0 ? SCRUB_EFORMERR : 0;
}

/* ---- the chain ---- */

/* The single target of the type (CNAME or DNAME) records owned by name in the
 * answer section: 1 and target filled, 0 when there are none. *first is the
 * first such record. */
static int single_target(const struct parsed *p, uint16_t type, const uint8_t *name, size_t len,
                         uint8_t target[DNS_MAX_NAME], size_t *target_len, size_t *first)
{
    uint8_t t[DNS_MAX_NAME];
    size_t tl;
    int found = 0;
    uint32_t h = name_hash(name, len);
    for (size_t i = 0; i < p->n; i++) {
        const struct srec *r = &p->recs[i];
        if (r->section != DNS_SECTION_ANSWER || r->type != type || !owner_is(r, name, len, h))
            continue;
        if (rdata_name(p, r, 0, t, &tl) < 0)
            return SCRUB_EFORMERR;
        if (!found) {
            memcpy(target, t, tl);
            *target_len = tl;
            *first = i;
            found = 1;
        } else if (!dns_name_equal(t, tl, target, *target_len)) {
            return SCRUB_ECONFLICT;
        }
    }
    return found;
}

/* The first DNAME of the answer section whose owner is a strict ancestor of name. */
static int applying_dname(const struct parsed *p, const uint8_t *name, size_t len, size_t *idx)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct srec *r = &p->recs[i];
        if (r->section == DNS_SECTION_ANSWER && r->type == DNS_TYPE_DNAME &&
            name_below(name, len, r->owner, r->owner_len, 1)) {
            *idx = i;
            return 1;
        }
    }
    return 0;
}

/* Walk from qname (RFC 1034 §4.3.2 step 3, RFC 6672 §3.2). A CNAME query
 * stops at the query name: its CNAME is the answer. */
static int chain_walk(const struct parsed *p, const uint8_t *qname, size_t qname_len,
                      uint16_t qtype, struct chain *c)
{
    struct step *s = &c->steps[0];
    memset(s, 0, sizeof *s);
    memcpy(s->name, qname, qname_len);
    s->len = qname_len;
    c->n = 1;
    for (;;) {
        size_t d, first;
        int rc;
        s->hash = name_hash(s->name, s->len);
        s->kind = STEP_END;
        if (applying_dname(p, s->name, s->len, &d)) {
            const struct srec *dn = &p->recs[d];
            uint8_t dtarget[DNS_MAX_NAME];
            size_t dtarget_len, prefix = s->len - dn->owner_len;
            rc = single_target(p, DNS_TYPE_DNAME, dn->owner, dn->owner_len, dtarget, &dtarget_len,
                               &first);
            if (rc < 0)
                return rc;
            if (prefix + dtarget_len > DNS_MAX_NAME) /* YXDOMAIN territory */
                return SCRUB_EFORMERR;
            s->kind = STEP_DNAME;
            s->dname_rec = (int)first;
            memcpy(s->target, s->name, prefix);
            memcpy(s->target + prefix, dtarget, dtarget_len);
            s->target_len = prefix + dtarget_len;
        } else {
            rc = single_target(p, DNS_TYPE_CNAME, s->name, s->len, s->target, &s->target_len,
                               &first);
            if (rc < 0)
                return rc;
            if (rc == 1)
                s->kind = STEP_CNAME;
        }
        if (s->kind == STEP_END || qtype == DNS_TYPE_CNAME)
            return 0;
        for (unsigned i = 0; i < c->n; i++)
            if (dns_name_equal(c->steps[i].name, c->steps[i].len, s->target, s->target_len))
                return SCRUB_ELOOP;
        if (c->n > SCRUB_MAX_LINKS)
            return SCRUB_ELONG;
        struct step *next = &c->steps[c->n++];
        memset(next, 0, sizeof *next);
        memcpy(next->name, s->target, s->target_len);
        next->len = s->target_len;
        s = next;
    }
}

/* ---- marking ---- */

static void keep_answer(struct srec *r, int group, uint8_t sub)
{
    if (!r->keep) {
        r->keep = 1;
        r->group = group;
        r->sub = sub;
    }
}

/* The answer section: the chain, the end's records, the RRSIGs over them. */
static int mark_answer(struct parsed *p, struct chain *c, uint16_t qtype, int *answered)
{
    uint8_t t[DNS_MAX_NAME];
    size_t tl;
    unsigned end = c->n - 1;

    *answered = 0;
    for (unsigned g = 0; g < c->n; g++) {
        struct step *s = &c->steps[g];
        if (s->kind == STEP_DNAME) {
            const struct srec *dn = &p->recs[s->dname_rec];
            for (size_t i = 0; i < p->n; i++)
                if (p->recs[i].section == DNS_SECTION_ANSWER &&
                    p->recs[i].type == DNS_TYPE_DNAME && same_owner(&p->recs[i], dn))
                    keep_answer(&p->recs[i], (int)g, 0);
            s->synth = 1;
        }
        if (s->kind == STEP_END)
            continue;
        /* the CNAME at this name: the link itself, or the one synthesized from
         * the DNAME when the upstream's copy says the same */
        for (size_t i = 0; i < p->n; i++) {
            struct srec *r = &p->recs[i];
            if (r->section != DNS_SECTION_ANSWER || r->type != DNS_TYPE_CNAME ||
                !owner_is(r, s->name, s->len, s->hash))
                continue;
            if (rdata_name(p, r, 0, t, &tl) < 0)
                return SCRUB_EFORMERR;
            if (dns_name_equal(t, tl, s->target, s->target_len)) {
                keep_answer(r, (int)g, 1);
                s->synth = 0;
            }
        }
    }
    if (c->steps[end].kind != STEP_END) {
        *answered = 1; /* a CNAME query: the CNAME is the answer */
    } else {
        const struct step *s = &c->steps[end];
        for (size_t i = 0; i < p->n; i++) {
            struct srec *r = &p->recs[i];
            if (r->section != DNS_SECTION_ANSWER || !owner_is(r, s->name, s->len, s->hash))
                continue;
            if (r->type == qtype || (qtype == DNS_TYPE_ANY && r->type != DNS_TYPE_RRSIG &&
                                     r->type != DNS_TYPE_OPT)) {
                keep_answer(r, (int)end, 1);
                *answered = 1;
            }
        }
    }
    /* RRSIGs over what is kept (not over a synthesized CNAME: none exists) */
    for (size_t i = 0; i < p->n; i++) {
        struct srec *sig = &p->recs[i];
        if (sig->section != DNS_SECTION_ANSWER || sig->type != DNS_TYPE_RRSIG || sig->keep)
            continue;
        uint16_t covered = rrsig_covered(p, sig);
        for (size_t j = 0; j < p->n; j++) {
            const struct srec *r = &p->recs[j];
            if (r->keep && r->section == DNS_SECTION_ANSWER && r->type == covered &&
                r->type != DNS_TYPE_RRSIG && same_owner(r, sig)) {
                keep_answer(sig, r->group, r->sub);
                break;
            }
        }
    }
    return 0;
}

/* A signed RRset in the authority section: the RRSIGs over (owner of r, r's
 * type); with signer, one of them whose signer is above-or-at the owner and
 * for which zone_ok says yes. */
struct zones {
    uint8_t name[2 * SCRUB_MAX_LINKS + 2][DNS_MAX_NAME];
    size_t len[2 * SCRUB_MAX_LINKS + 2];
    unsigned n;
};

static void zones_add(struct zones *z, const uint8_t *name, size_t len)
{
    for (unsigned i = 0; i < z->n; i++)
        if (dns_name_equal(z->name[i], z->len[i], name, len))
            return;
    if (z->n < sizeof z->len / sizeof z->len[0]) {
        memcpy(z->name[z->n], name, len);
        z->len[z->n++] = len;
    }
}

static int zones_has(const struct zones *z, const uint8_t *name, size_t len)
{
    for (unsigned i = 0; i < z->n; i++)
        if (dns_name_equal(z->name[i], z->len[i], name, len))
            return 1;
    return 0;
}

static int auth_signed(const struct parsed *p, const struct srec *r, const struct zones *z,
                       const uint8_t *end, size_t end_len, int any_ancestor)
{
    uint8_t signer[DNS_MAX_NAME];
    size_t signer_len;
    for (size_t i = 0; i < p->n; i++) {
        const struct srec *sig = &p->recs[i];
        if (sig->section != DNS_SECTION_AUTHORITY || sig->type != DNS_TYPE_RRSIG ||
            rrsig_covered(p, sig) != r->type || !same_owner(sig, r))
            continue;
        if (!z)
            return 1;
        if (rdata_name(p, sig, 18, signer, &signer_len) < 0 ||
            !name_below(r->owner, r->owner_len, signer, signer_len, 0))
            continue;
        if (zones_has(z, signer, signer_len) ||
            (any_ancestor && name_below(end, end_len, signer, signer_len, 0)))
            return 1;
    }
    return 0;
}

/* The authority section: the SOA and NSEC/NSEC3 proofs that belong, signed. */
static void mark_authority(struct parsed *p, const struct chain *c, enum dns_security sec,
                           int negative, int *denial_proof)
{
    const struct step *end = &c->steps[c->n - 1];
    struct zones z = {.n = 0};
    int soa = -1, any_ancestor = 0;
    uint8_t signer[DNS_MAX_NAME];
    size_t signer_len;

    *denial_proof = 0;
    /* wildcard expansions in the answer need their proofs (RFC 4035 §5.3.4) */
    for (size_t i = 0; i < p->n; i++) {
        const struct srec *sig = &p->recs[i];
        if (sig->keep && sig->section == DNS_SECTION_ANSWER && sig->type == DNS_TYPE_RRSIG &&
            sig->rdlen >= 18 && p->msg[sig->rdata_off + 3] < rrsig_labels(sig->owner, sig->owner_len) &&
            rdata_name(p, sig, 18, signer, &signer_len) == 0)
            zones_add(&z, signer, signer_len);
    }
    if (negative) {
        /* the SOA of the closest enclosing zone of the chain's end */
        for (size_t i = 0; i < p->n; i++) {
            const struct srec *r = &p->recs[i];
            if (r->section != DNS_SECTION_AUTHORITY || r->type != DNS_TYPE_SOA ||
                !name_below(end->name, end->len, r->owner, r->owner_len, 0))
                continue;
            if (sec == DNS_SECURE && !auth_signed(p, r, NULL, NULL, 0, 0))
                continue;
            if (soa < 0 || r->owner_len > p->recs[soa].owner_len)
                soa = (int)i;
        }
        if (soa >= 0) {
            for (size_t i = 0; i < p->n; i++)
                if (p->recs[i].section == DNS_SECTION_AUTHORITY &&
                    p->recs[i].type == DNS_TYPE_SOA && same_owner(&p->recs[i], &p->recs[soa]))
                    p->recs[i].keep = 1;
            zones_add(&z, p->recs[soa].owner, p->recs[soa].owner_len);
        } else {
            any_ancestor = 1; /* no SOA: a zone above the end signed the proof */
        }
    }
    if (z.n || any_ancestor) {
        for (size_t i = 0; i < p->n; i++) {
            struct srec *r = &p->recs[i];
            if (r->section == DNS_SECTION_AUTHORITY &&
                (r->type == DNS_TYPE_NSEC || r->type == DNS_TYPE_NSEC3) &&
                auth_signed(p, r, &z, end->name, end->len, any_ancestor)) {
                r->keep = 1;
                *denial_proof = 1;
            }
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        struct srec *sig = &p->recs[i];
        if (sig->section != DNS_SECTION_AUTHORITY || sig->type != DNS_TYPE_RRSIG)
            continue;
        uint16_t covered = rrsig_covered(p, sig);
        for (size_t j = 0; j < p->n && !sig->keep; j++) {
            const struct srec *r = &p->recs[j];
            if (r->keep && r->section == DNS_SECTION_AUTHORITY && r->type == covered &&
                r->type != DNS_TYPE_RRSIG && same_owner(r, sig))
                sig->keep = 1;
        }
    }
}

/* The additional section: the OPT; for an insecure answer also the addresses
 * of the names that kept NS, MX and SRV records point to (iter_scrub.c's
 * mark_additional_rrset()), with their RRSIGs. */
static int mark_additional(struct parsed *p, enum dns_security sec)
{
    uint8_t t[DNS_MAX_NAME];
    size_t tl;
    int opt = 0;

    for (size_t i = 0; i < p->n; i++) {
        struct srec *r = &p->recs[i];
        if (r->section == DNS_SECTION_ADDITIONAL && r->type == DNS_TYPE_OPT && !opt) {
            r->keep = 1;
            opt = 1;
        }
    }
    if (sec == DNS_SECURE || sec == DNS_BOGUS)
        return 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct srec *r = &p->recs[i];
        size_t skip;
        if (!r->keep || r->section != DNS_SECTION_ANSWER)
            continue;
        if (r->type == DNS_TYPE_NS)
            skip = 0;
        else if (r->type == DNS_TYPE_MX)
            skip = 2;
        else if (r->type == DNS_TYPE_SRV)
            skip = 6;
        else
            continue;
        if (rdata_name(p, r, skip, t, &tl) < 0)
            return SCRUB_EFORMERR;
        uint32_t h = name_hash(t, tl);
        for (size_t j = 0; j < p->n; j++) {
            struct srec *a = &p->recs[j];
            if (a->section == DNS_SECTION_ADDITIONAL &&
                (a->type == DNS_TYPE_A || a->type == DNS_TYPE_AAAA) && owner_is(a, t, tl, h))
                a->keep = 1;
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        struct srec *sig = &p->recs[i];
        if (sig->section != DNS_SECTION_ADDITIONAL || sig->type != DNS_TYPE_RRSIG)
            continue;
        uint16_t covered = rrsig_covered(p, sig);
        for (size_t j = 0; j < p->n && !sig->keep; j++) {
            const struct srec *r = &p->recs[j];
            if (r->keep && r->section == DNS_SECTION_ADDITIONAL && r->type == covered &&
                r->type != DNS_TYPE_OPT && same_owner(r, sig))
                sig->keep = 1;
        }
    }
    return 0;
}

/* ---- writing ---- */

/* Counts every byte; stores them only while they fit (p is NULL to measure). */
struct out {
    uint8_t *p;
    size_t cap, n;
};

static void put(struct out *o, const void *src, size_t len)
{
    if (o->p && o->n <= o->cap && len <= o->cap - o->n)
        memcpy(o->p + o->n, src, len);
    o->n += len;
}

static void put16(struct out *o, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 2);
}

static void put32(struct out *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 4);
}

static void patch16(struct out *o, size_t at, uint16_t v)
{
    if (o->p && at + 2 <= o->cap) {
        o->p[at] = (uint8_t)(v >> 8);
        o->p[at + 1] = (uint8_t)v;
    }
}

static int rdata_write(struct out *o, const struct parsed *p, const struct srec *r)
{
    const char *layout = "r";
    size_t pos = r->rdata_off, end = r->rdata_off + r->rdlen;
    uint8_t name[DNS_MAX_NAME];
    size_t name_len;

    for (size_t i = 0; i < sizeof rdata_layouts / sizeof rdata_layouts[0]; i++)
        if (rdata_layouts[i].type == r->type)
            layout = rdata_layouts[i].layout;
    for (; *layout; layout++) {
        switch (*layout) {
        case 'N':
            if (dns_name_read(p->msg, p->len, &pos, name, &name_len) < 0 || pos > end)
                return SCRUB_EFORMERR;
            put(o, name, name_len);
            break;
        case 'b':
            if (pos >= end)
                return SCRUB_EFORMERR;
            put(o, p->msg + pos++, 1);
            break;
        case 's':
            if (pos >= end || end - pos < 1 + (size_t)p->msg[pos])
                return SCRUB_EFORMERR;
            put(o, p->msg + pos, 1 + (size_t)p->msg[pos]);
            pos += 1 + (size_t)p->msg[pos];
            break;
        case 'r':
            put(o, p->msg + pos, end - pos);
            pos = end;
            break;
        }
    }
    return pos == end ? 0 : SCRUB_EFORMERR;
}

static int rr_write(struct out *o, const struct parsed *p, const struct srec *r)
{
    put(o, r->owner, r->owner_len);
    put16(o, r->type);
    put16(o, r->rrclass);
    put32(o, r->ttl);
    size_t rdlen_at = o->n;
    put16(o, 0);
    size_t start = o->n;
    int rc = rdata_write(o, p, r);
    if (rc < 0)
        return rc;
    if (o->n - start > 0xffff)
        return SCRUB_EFORMERR;
    patch16(o, rdlen_at, (uint16_t)(o->n - start));
    return 0;
}

/* The CNAME a DNAME step stands for: owner the step's name, the DNAME's class
 * and TTL (RFC 6672 §5.3.1). */
static void synth_write(struct out *o, const struct parsed *p, const struct step *s)
{
    const struct srec *dn = &p->recs[s->dname_rec];
    put(o, s->name, s->len);
    put16(o, DNS_TYPE_CNAME);
    put16(o, dn->rrclass);
    put32(o, dn->ttl);
    put16(o, (uint16_t)s->target_len);
    put(o, s->target, s->target_len);
}

static int write_all(struct out *o, const struct parsed *p, const struct chain *c)
{
    uint16_t count[4] = {0, 0, 0, 0};
    size_t counts_at;
    int rc;

    put(o, p->msg, 4); /* id, flags, rcode */
    put16(o, p->qdcount);
    counts_at = o->n;
    put16(o, 0);
    put16(o, 0);
    put16(o, 0);
    if (p->qdcount == 1) {
        put(o, p->qname, p->qname_len);
        put16(o, p->qtype);
        put16(o, p->qclass);
    }
    /* the answer in chain order: each link (DNAME, then its CNAME), then the end */
    for (unsigned g = 0; g < c->n; g++) {
        for (uint8_t sub = 0; sub < 2; sub++) {
            if (sub == 1 && c->steps[g].kind == STEP_DNAME && c->steps[g].synth) {
                synth_write(o, p, &c->steps[g]);
                count[DNS_SECTION_ANSWER]++;
            }
            for (size_t i = 0; i < p->n; i++) {
                const struct srec *r = &p->recs[i];
                if (r->keep && r->section == DNS_SECTION_ANSWER && r->group == (int)g &&
                    r->sub == sub) {
                    if ((rc = rr_write(o, p, r)) < 0)
                        return rc;
                    count[DNS_SECTION_ANSWER]++;
                }
            }
        }
    }
    for (int sec = DNS_SECTION_AUTHORITY; sec <= DNS_SECTION_ADDITIONAL; sec++) {
        for (size_t i = 0; i < p->n; i++) {
            const struct srec *r = &p->recs[i];
            if (r->keep && r->section == sec) {
                if ((rc = rr_write(o, p, r)) < 0)
                    return rc;
                count[sec]++;
            }
        }
    }
    patch16(o, counts_at, count[DNS_SECTION_ANSWER]);
    patch16(o, counts_at + 2, count[DNS_SECTION_AUTHORITY]);
    patch16(o, counts_at + 4, count[DNS_SECTION_ADDITIONAL]);
    return 0;
}

/* ---- the API ---- */

int scrub_message(const struct dns_query *q, enum dns_security sec, const uint8_t *msg, size_t len,
                  uint8_t **out, size_t *out_len, struct scrub_report *rep)
{
    struct parsed p;
    struct chain *c = NULL;
    struct out o = {.p = NULL};
    int rc, answered = 0, proof = 0, rcode;

    *out = NULL;
    *out_len = 0;
    memset(rep, 0, sizeof *rep);
    rc = parse(msg, len, &p);
    if (rc < 0)
        goto done;
    if (!(msg[2] & DNS_FLAG_QR) || p.qdcount > 1 ||
        (p.qdcount == 1 && (p.qtype != q->qtype || p.qclass != q->qclass ||
                            !dns_name_equal(p.qname, p.qname_len, q->qname, q->qname_len)))) {
        rc = SCRUB_EQUESTION;
        goto done;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        rc = SCRUB_ENOMEM;
        goto done;
    }
    rcode = msg[3] & 0x0f;
    if (rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN) {
        if ((rc = chain_walk(&p, q->qname, q->qname_len, q->qtype, c)) < 0 ||
            (rc = mark_answer(&p, c, q->qtype, &answered)) < 0)
            goto done;
        mark_authority(&p, c, sec, !answered, &proof);
    } else {
        c->n = 1; /* an error: no records, nothing to walk */
        memcpy(c->steps[0].name, q->qname, q->qname_len);
        c->steps[0].len = q->qname_len;
    }
    if ((rc = mark_additional(&p, sec)) < 0)
        goto done;

    rep->security = sec;
    rep->links = c->n - 1 + (c->steps[c->n - 1].kind != STEP_END);
    rep->answered = answered;
    rep->denial_proof = proof;
    for (unsigned g = 0; g < c->n; g++)
        rep->synthesized += c->steps[g].kind == STEP_DNAME && c->steps[g].synth;
    for (size_t i = 0; i < p.n; i++) {
        const struct srec *r = &p.recs[i];
        if (r->keep)
            continue;
        if (r->section == DNS_SECTION_ANSWER)
            rep->dropped_answer++;
        else
            rep->dropped_other++;
    }
    /* An answer that ends without the data and without a proof of its absence
     * cannot be a secure denial (RFC 4035 §5.4): bogus. */
    if (sec == DNS_SECURE && (rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN) &&
        !answered && !proof && q->qtype != DNS_TYPE_ANY)
        rep->security = DNS_BOGUS;

    if ((rc = write_all(&o, &p, c)) < 0) /* measure */
        goto done;
    o.cap = o.n;
    o.n = 0;
    o.p = malloc(o.cap ? o.cap : 1);
    if (!o.p) {
        rc = SCRUB_ENOMEM;
        goto done;
    }
    if ((rc = write_all(&o, &p, c)) < 0) {
        free(o.p);
        goto done;
    }
    *out = o.p;
    *out_len = o.n;
done:
    free(c);
    free(p.recs);
    return rc < 0 ? rc : 0;
}

int scrub_chain_end(const uint8_t *msg, size_t len, uint8_t end[DNS_MAX_NAME], size_t *end_len,
                    uint16_t *qtype, unsigned *links)
{
    struct parsed p;
    struct chain *c = NULL;
    int rc = parse(msg, len, &p);

    if (rc == 0 && p.qdcount != 1)
        rc = SCRUB_EFORMERR;
    if (rc == 0 && !(c = calloc(1, sizeof *c)))
        rc = SCRUB_ENOMEM;
    if (rc == 0)
        rc = chain_walk(&p, p.qname, p.qname_len, p.qtype, c);
    if (rc == 0) {
        const struct step *s = &c->steps[c->n - 1];
        memcpy(end, s->name, s->len);
        *end_len = s->len;
        if (qtype)
            *qtype = p.qtype;
        if (links)
            *links = c->n - 1;
    }
    free(c);
    free(p.recs);
    return rc;
}

/* Whether every name up to the end of the answer section (questions, owners,
 * the names in rdata that a parser decompresses) reads from the bytes before
 * cut alone. A backward pointer may land on labels that run on past the
 * answers (a lying upstream's message): cut, those names would read other
 * bytes, or none. */
static int names_before(const uint8_t *msg, size_t cut)
{
    uint8_t name[DNS_MAX_NAME];
    size_t pos = DNS_HEADER_LEN, name_len;

    for (unsigned i = 0, qd = get16(msg + 4); i < qd; i++) {
        if (dns_name_read(msg, cut, &pos, name, &name_len) < 0 || cut - pos < 4)
            return 0;
        pos += 4;
    }
    for (unsigned i = 0, an = get16(msg + 6); i < an; i++) {
        const char *layout = "r";
        if (dns_name_read(msg, cut, &pos, name, &name_len) < 0 || cut - pos < 10)
            return 0;
        uint16_t type = get16(msg + pos), rdlen = get16(msg + pos + 8);
        size_t p = pos + 10, end = p + rdlen;
        if (end > cut)
            return 0;
        for (size_t k = 0; k < sizeof rdata_layouts / sizeof rdata_layouts[0]; k++)
            if (rdata_layouts[k].type == type)
                layout = rdata_layouts[k].layout;
        for (; *layout && *layout != 'r' && p <= end; layout++) {
            if (*layout == 'N') {
                if (dns_name_read(msg, cut, &p, name, &name_len) < 0)
                    return 0;
            } else {
                p += *layout == 's' && p < end ? 1 + (size_t)msg[p] : 1;
            }
        }
        pos = end;
    }
    return pos == cut;
}

int scrub_for_validator(uint8_t *msg, size_t *len)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    size_t cut = 0, opt_at = 0, opt_len = 0;
    int rc;
    if (dns_rr_iter_init(&it, msg, *len) < 0)
        return SCRUB_EFORMERR;
    if (get16(msg + 6) == 0 || (get16(msg + 8) == 0 && get16(msg + 10) <= 1))
        return 0; /* no data, or nothing to cut */
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        size_t end = rr.rdata_offset + rr.rdlen;
        switch (rr.section) {
        case DNS_SECTION_ANSWER:
            cut = end;
            break;
        case DNS_SECTION_AUTHORITY:
            if (rr.type == DNS_TYPE_NS)
                break;
            if (rr.type == DNS_TYPE_RRSIG && rr.rdlen >= 2 && get16(rr.rdata) == DNS_TYPE_NS)
                break;
            return 0; /* a proof or something else a validator may need */
        case DNS_SECTION_ADDITIONAL:
            if (rr.type == DNS_TYPE_OPT) {
                if (opt_len || rr.owner_len != 1)
                    return SCRUB_EFORMERR; /* RFC 6891 §6.1.1 */
                opt_at = rr.rdata_offset - 11; /* root owner, type, class, TTL, rdlength */
                /* The root as a compression pointer (0xc0 0x04 reads as ".")
                 * takes two bytes: opt_at would be its second one and the
                 * record moved below a garbled one. Left whole for getdns. */
                if (msg[opt_at] != 0)
                    return 0;
                opt_len = end - opt_at;
            }
            break;
        }
    }
    if (rc < 0 || cut == 0)
        return SCRUB_EFORMERR;
    if (!names_before(msg, cut))
        return 0; /* left whole for getdns to judge */
    memmove(msg + cut, msg + opt_at, opt_len);
    *len = cut + opt_len;
    msg[8] = msg[9] = 0; /* NSCOUNT */
    msg[10] = 0;
    msg[11] = opt_len ? 1 : 0; /* ARCOUNT */
    return 1;
}
