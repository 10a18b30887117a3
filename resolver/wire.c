/* resolver/wire.c — DNS messages on the wire: queries in, replies out.
 *
 * Every read is bounds-checked against the message length, because both the
 * client's query and (in principle) the upstream's answer are hostile input.
 * Compression pointers must point strictly before the label sequence that
 * holds them, which makes loops impossible by construction; the 255-byte name
 * limit bounds the work on top of that.
 */
#include "wire.h"

#include <string.h>

#define DNS_FLAG_QR 0x80 /* byte 2 */
#define DNS_FLAG_AA 0x04
#define DNS_FLAG_TC 0x02
#define DNS_FLAG_RD 0x01
#define DNS_FLAG_RA 0x80 /* byte 3 */
#define DNS_FLAG_AD 0x20
#define DNS_FLAG_CD 0x10
#define DNS_EDNS_DO 0x8000
#define DNS_OPT_COOKIE 10
#define DNS_OPT_EDE 15
#define DNS_OPT_LEN 11 /* root owner, type, class, ttl, rdlength */
#define DNS_MAX_LABEL 63

/* Name compression (RFC 1035 §4.1.4) in linear time. Every name suffix we
 * write at an offset a pointer can hold (below 0x4000) goes into an
 * open-addressing hash table keyed by the suffix's wire bytes (lowercased), so
 * finding the longest suffix already written costs one probe sequence per label,
 * whatever the size of the message: the old list of 256 offsets compared every
 * label against every entry, and a 64 KB RRset of many-label names took most of
 * a second to render. A slot holds the offset (14 bits) and 18 more bits of the
 * hash as a tag; 0 is empty (no name starts at offset 0). Below 0x4000 there is
 * room for at most 8192 suffixes (a label takes two bytes at least), so the
 * table is never more than half full. Probe sequences are bounded: a crafted
 * set of colliding names costs compression, never time. */
#define COMP_SLOTS 16384 /* a power of two, twice the most suffixes there can be */
#define COMP_MAX_PROBES 32
#define COMP_MAX_LABELS 128 /* 255 bytes hold at most 127 labels and the root */
struct comp_table {
    uint32_t slot[COMP_SLOTS];
};

const char *dns_security_name(enum dns_security s)
{
    switch (s) {
    case DNS_SECURE:
        return "secure";
    case DNS_INSECURE:
        return "insecure";
    case DNS_BOGUS:
        return "bogus";
    case DNS_INDETERMINATE:
        break;
    }
    return "indeterminate";
}

const char *wire_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define WIRE_STR(name, value, text)                                                                \
    case name:                                                                                     \
        return text;
        WIRE_ERRORS(WIRE_STR)
#undef WIRE_STR
    }
    return "unknown wire error";
}

static inline uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

int dns_msg_rcode(const uint8_t *msg, size_t len)
{
    if (len < DNS_HEADER_LEN)
        return -1;
    return msg[3] & 0x0f;
}

int dns_name_read(const uint8_t *msg, size_t len, size_t *pos, uint8_t out[DNS_MAX_NAME],
                  size_t *out_len)
{
    size_t p = *pos, end = 0, n = 0;
    size_t limit = p; /* a pointer must land before the labels we have read */
    int jumped = 0;

    for (;;) {
        if (p >= len)
            return WIRE_EFORMERR;
        uint8_t c = msg[p];
        if ((c & 0xc0) == 0xc0) {
            if (p + 1 >= len)
                return WIRE_EFORMERR;
            size_t target = (size_t)(c & 0x3f) << 8 | msg[p + 1];
            if (!jumped)
                end = p + 2;
            jumped = 1;
            if (target >= limit)
                return WIRE_EFORMERR;
            limit = target;
            p = target;
            continue;
        }
        if (c & 0xc0) /* 0x40 and 0x80: extended label types, obsolete */
            return WIRE_EFORMERR;
        if (n + 1 + c > DNS_MAX_NAME || p + 1 + c > len)
            return WIRE_EFORMERR;
        out[n++] = c;
        if (c == 0) {
            if (!jumped)
                end = p + 1;
            break;
        }
        memcpy(out + n, msg + p + 1, c);
        n += c;
        p += 1 + (size_t)c;
    }
    *pos = end;
    *out_len = n;
    return 0;
}

/* Move past a possibly compressed name without following pointers (the
 * record walks that do not need the name: patch, truncate). */
static int name_skip(const uint8_t *msg, size_t len, size_t *pos)
{
    size_t p = *pos, n = 0;
    for (;;) {
        if (p >= len)
            return WIRE_EFORMERR;
        uint8_t c = msg[p];
        if ((c & 0xc0) == 0xc0) {
            if (p + 2 > len)
                return WIRE_EFORMERR;
            *pos = p + 2;
            return 0;
        }
        if (c & 0xc0)
            return WIRE_EFORMERR;
        n += 1 + (size_t)c;
        if (n > DNS_MAX_NAME)
            return WIRE_EFORMERR;
        p += 1 + (size_t)c;
        if (c == 0) {
            *pos = p;
            return 0;
        }
    }
}

/* Skip one resource record at *pos; its type and start of rdata on request. */
static int rr_skip(const uint8_t *msg, size_t len, size_t *pos, uint16_t *type)
{
    size_t p = *pos;
    if (name_skip(msg, len, &p) < 0 || len - p < 10)
        return WIRE_EFORMERR;
    uint16_t rdlen = get16(msg + p + 8);
    if (len - p - 10 < rdlen)
        return WIRE_EFORMERR;
    if (type)
        *type = get16(msg + p);
    *pos = p + 10 + rdlen;
    return 0;
}

int dns_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

int dns_name_from_text(const char *text, uint8_t out[DNS_MAX_NAME], size_t *out_len)
{
    size_t n, lab = 0; /* lab: where the current label's length byte is */
    const char *s = text;

    if (!text)
        return WIRE_EBADNAME;
    if (s[0] == '\0' || (s[0] == '.' && s[1] == '\0')) {
        out[0] = 0;
        *out_len = 1;
        return 0;
    }
    out[0] = 0;
    n = 1;
    while (*s) {
        uint8_t c = (uint8_t)*s++;
        if (c == '.') {
            if (n == lab + 1) /* empty label */
                return WIRE_EBADNAME;
            if (*s == '\0')
                break;
            lab = n;
            out[n++] = 0;
            continue;
        }
        if (c == '\\') {
            if (s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
                s[2] <= '9') {
                int v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
                if (v > 255)
                    return WIRE_EBADNAME;
                c = (uint8_t)v;
                s += 3;
            } else if (*s) {
                c = (uint8_t)*s++;
            } else {
                return WIRE_EBADNAME;
            }
        }
        /* room for this byte and the root label after it */
        if (n - lab - 1 >= DNS_MAX_LABEL || n + 1 >= DNS_MAX_NAME)
            return WIRE_EBADNAME;
        out[n++] = c;
        out[lab]++;
    }
    out[n++] = 0;
    *out_len = n;
    return 0;
}

int dns_name_to_text(const uint8_t *name, size_t len, char *out, size_t cap)
{
    size_t p = 0, o = 0;

    if (len == 0 || len > DNS_MAX_NAME)
        return WIRE_EBADNAME;
    if (name[0] == 0) {
        if (cap < 2)
            return WIRE_ENOSPC;
        out[0] = '.';
        out[1] = '\0';
        return len == 1 ? 0 : WIRE_EBADNAME;
    }
    while (p < len && name[p] != 0) {
        uint8_t l = name[p++];
        if (l > DNS_MAX_LABEL || p + l > len)
            return WIRE_EBADNAME;
        for (uint8_t i = 0; i < l; i++) {
            uint8_t c = name[p++];
            if (c == '.' || c == '\\') {
                if (o + 2 >= cap)
                    return WIRE_ENOSPC;
                out[o++] = '\\';
                out[o++] = (char)c;
            } else if (c <= 0x20 || c >= 0x7f) {
                if (o + 4 >= cap)
                    return WIRE_ENOSPC;
                out[o++] = '\\';
                out[o++] = (char)('0' + c / 100);
                out[o++] = (char)('0' + c / 10 % 10);
                out[o++] = (char)('0' + c % 10);
            } else {
                if (o + 1 >= cap)
                    return WIRE_ENOSPC;
                out[o++] = (char)c;
            }
        }
        if (o + 1 >= cap)
            return WIRE_ENOSPC;
        out[o++] = '.';
    }
    if (p + 1 != len)
        return WIRE_EBADNAME;
    out[o] = '\0';
    return 0;
}

/* ---- queries ---- */

/* Check an OPT RR's options: each a (code, length, value) that fits exactly. */
static int opt_options_valid(const uint8_t *rdata, uint16_t rdlen)
{
    size_t p = 0;
    while (p < rdlen) {
        if (rdlen - p < 4)
            return 0;
        uint16_t olen = get16(rdata + p + 2);
        p += 4;
        if (rdlen - p < olen)
            return 0;
        p += olen;
    }
    return 1;
}

/* The COOKIE option among an OPT's options (already checked to be well
 * formed), into q. 0, or WIRE_EFORMERR for a bad length or a second one. */
static int opt_cookie(const uint8_t *rdata, uint16_t rdlen, struct dns_query *q)
{
    for (size_t p = 0; p < rdlen; p += 4 + (size_t)get16(rdata + p + 2)) {
        uint16_t olen = get16(rdata + p + 2);
        if (get16(rdata + p) != DNS_OPT_COOKIE)
            continue;
        /* RFC 7873 §5.2.2: a client cookie of 8, and a server cookie of 8 to 32 */
        if (q->cookie_len || olen < 8 || (olen > 8 && olen < 16) || olen > 40)
            return WIRE_EFORMERR;
        memcpy(q->cookie, rdata + p + 4, olen);
        q->cookie_len = (uint8_t)olen;
    }
    return 0;
}

static int query_parse_body(const uint8_t *msg, size_t len, struct dns_query *q)
{
    uint16_t qd = get16(msg + 4), an = get16(msg + 6), ns = get16(msg + 8), ar = get16(msg + 10);
    size_t pos = DNS_HEADER_LEN;
    int saw_opt = 0;

    if (qd > 1)
        return WIRE_EFORMERR;
    if (qd == 1) {
        if (dns_name_read(msg, len, &pos, q->qname, &q->qname_len) < 0 || len - pos < 4) {
            q->qname_len = 0;
            return WIRE_EFORMERR;
        }
        q->qtype = get16(msg + pos);
        q->qclass = get16(msg + pos + 2);
        pos += 4;
    }

    for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
        size_t start = pos;
        uint16_t type;
        if (rr_skip(msg, len, &pos, &type) < 0)
            return WIRE_EFORMERR;
        if (type != DNS_TYPE_OPT)
            continue;
        /* RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root */
        if (i < (unsigned)an + ns || saw_opt || msg[start] != 0)
            return WIRE_EFORMERR;
        saw_opt = 1;
        const uint8_t *rr = msg + start + 1;
        uint16_t rdlen = get16(rr + 8);
        if (!opt_options_valid(rr + 10, rdlen))
            return WIRE_EFORMERR;
        uint16_t size = get16(rr + 2);
        q->has_edns = 1;
        q->udp_size = size < 512 ? 512 : size;
        q->edns_version = rr[5];
        q->do_bit = (get16(rr + 6) & DNS_EDNS_DO) ? 1 : 0;
        if (opt_cookie(rr + 10, rdlen, q) < 0)
            return WIRE_EFORMERR;
    }
    if (pos != len) /* trailing garbage */
        return WIRE_EFORMERR;
    if (q->has_edns && q->edns_version > 0)
        return WIRE_EBADVERS;
    if (qd == 0) /* RFC 7873 §5.4: only a cookie query may ask nothing */
        return q->cookie_len ? WIRE_ENOQUESTION : WIRE_EFORMERR;
    return 0;
}

int dns_query_parse(const uint8_t *msg, size_t len, struct dns_query *q)
{
    memset(q, 0, sizeof *q);
    q->udp_size = 512;
    if (len < DNS_HEADER_LEN)
        return WIRE_EFORMERR;
    q->id = get16(msg);
    if (msg[2] & DNS_FLAG_QR)
        return WIRE_ENOTQUERY;
    q->opcode = (msg[2] >> 3) & 0x0f;
    q->rd = (msg[2] & DNS_FLAG_RD) ? 1 : 0;
    q->ad = (msg[3] & DNS_FLAG_AD) ? 1 : 0;
    q->cd = (msg[3] & DNS_FLAG_CD) ? 1 : 0;

    int rc = query_parse_body(msg, len, q);
    /* Other opcodes share the RR format, so what could be read was read (the
     * question and OPT for the reply), but the answer is NOTIMP either way. */
    if (q->opcode != 0)
        return WIRE_ENOTIMP;
    return rc;
}

int dns_query_init(struct dns_query *q, const char *name, uint16_t qtype)
{
    memset(q, 0, sizeof *q);
    int rc = dns_name_from_text(name, q->qname, &q->qname_len);
    if (rc < 0) {
        q->qname_len = 0;
        return rc;
    }
    q->qtype = qtype;
    q->qclass = DNS_CLASS_IN;
    q->rd = 1;
    q->cd = 1;
    q->has_edns = 1;
    q->do_bit = 1;
    q->udp_size = DNS_MAX_UDP_REPLY;
    return 0;
}

/* ---- writing replies ---- */

/* The header of a reply to q; counts are filled in by the caller. */
static void reply_header(const struct dns_query *q, int rcode, int ad, uint8_t *out)
{
    put16(out, q->id);
    out[2] = (uint8_t)(DNS_FLAG_QR | (q->opcode & 0x0f) << 3 | (q->rd ? DNS_FLAG_RD : 0));
    out[3] = (uint8_t)(DNS_FLAG_RA | (ad ? DNS_FLAG_AD : 0) | (q->cd ? DNS_FLAG_CD : 0) |
                       (rcode & 0x0f));
    memset(out + 4, 0, 8);
}

/* Our OPT RR (RFC 6891): payload size 1232, the extended rcode bits, DO echoed,
 * and an optional EDE option (RFC 8914 §2). Returns its length or ENOSPC. */
static int opt_write(const struct dns_query *q, int rcode, int ede, const char *ede_text,
                     uint8_t *out, size_t cap)
{
    size_t text_len = (ede >= 0 && ede_text) ? strlen(ede_text) : 0;
    size_t opt_data = ede >= 0 ? 4 + 2 + text_len : 0;
    size_t need = DNS_OPT_LEN + opt_data;

    if (text_len > 512 || need > cap)
        return WIRE_ENOSPC;
    out[0] = 0;
    put16(out + 1, DNS_TYPE_OPT);
    put16(out + 3, DNS_MAX_UDP_REPLY);
    out[5] = (uint8_t)((rcode >> 4) & 0xff);
    out[6] = 0; /* version */
    put16(out + 7, q->do_bit ? DNS_EDNS_DO : 0);
    put16(out + 9, (uint16_t)opt_data);
    if (ede >= 0) {
        put16(out + 11, DNS_OPT_EDE);
        put16(out + 13, (uint16_t)(2 + text_len));
        put16(out + 15, (uint16_t)ede);
        memcpy(out + 17, ede_text ? ede_text : "", text_len);
    }
    return (int)need;
}

int dns_reply_error(const struct dns_query *q, int rcode, int ede, const char *ede_text,
                    uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n = DNS_HEADER_LEN;

    if (cap < DNS_HEADER_LEN)
        return WIRE_ENOSPC;
    reply_header(q, rcode, 0, out);
    if (q->qname_len) {
        if (cap - n < q->qname_len + 4)
            return WIRE_ENOSPC;
        memcpy(out + n, q->qname, q->qname_len);
        n += q->qname_len;
        put16(out + n, q->qtype);
        put16(out + n + 2, q->qclass);
        n += 4;
        put16(out + 4, 1);
    }
    if (q->has_edns) {
        int r = opt_write(q, rcode, ede, ede_text, out + n, cap - n);
        if (r < 0)
            return r;
        n += (size_t)r;
        put16(out + 10, 1);
    }
    *out_len = n;
    return 0;
}

/* Does the name at off in our own output equal the uncompressed name s?
 * Our output holds only pointers we wrote, always backwards, but the hop
 * count is bounded anyway. */
static int comp_match(const uint8_t *out, size_t off, const uint8_t *s)
{
    int hops = 0;
    for (;;) {
        uint8_t c = out[off];
        if ((c & 0xc0) == 0xc0) {
            if (++hops > 64)
                return 0;
            off = (size_t)(c & 0x3f) << 8 | out[off + 1];
            continue;
        }
        if (c != *s)
            return 0;
        if (c == 0)
            return 1;
        for (uint8_t i = 1; i <= c; i++)
            if (lower(out[off + i]) != lower(s[i]))
                return 0;
        off += 1 + (size_t)c;
        s += 1 + (size_t)c;
    }
}

/* Final mix of a suffix hash (a 32-bit avalanche), so that the slot and the
 * tag both depend on every byte. */
static uint32_t comp_mix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return h;
}

/* Look the suffix s (with mixed hash h) up: 1 and its offset in *off when it
 * was written before; 0 when it was not, with *free_slot where it may go
 * (COMP_SLOTS when the probe sequence is exhausted). */
static int comp_find(const struct comp_table *ct, const uint8_t *out, uint32_t h, const uint8_t *s,
                     uint16_t *off, unsigned *free_slot)
{
    unsigned idx = h & (COMP_SLOTS - 1);
    uint32_t tag = h >> 14;
    for (unsigned probe = 0; probe < COMP_MAX_PROBES; probe++) {
        uint32_t e = ct->slot[idx];
        if (e == 0) {
            *free_slot = idx;
            return 0;
        }
        if ((e >> 14) == tag && comp_match(out, e & 0x3fff, s)) {
            *off = (uint16_t)(e & 0x3fff);
            return 1;
        }
        idx = (idx + 1) & (COMP_SLOTS - 1);
    }
    *free_slot = COMP_SLOTS;
    return 0;
}

/* Write the uncompressed name at out+*n; with compress, end it with a pointer
 * to the longest suffix already written. Every suffix newly written below
 * offset 0x4000 becomes a pointer target. */
static int name_write(const uint8_t *name, size_t name_len, int compress, struct comp_table *ct,
                      uint8_t *out, size_t cap, size_t *n)
{
    size_t pos[COMP_MAX_LABELS];    /* where each label starts in name */
    uint32_t hash[COMP_MAX_LABELS]; /* mixed hash of the suffix from that label */
    unsigned slot[COMP_MAX_LABELS]; /* a free slot for it, or COMP_SLOTS: do not record */
    unsigned labels = 0, j, k;
    size_t ptr_at = name_len; /* where the pointer replaces the rest */
    uint16_t target = 0;

    for (size_t i = 0; i < name_len && name[i] != 0; i += 1 + (size_t)name[i]) {
        if (labels == COMP_MAX_LABELS)
            return WIRE_EBADNAME;
        pos[labels++] = i;
    }
    /* The suffix hashes, from the root up: each extends the one below it. */
    uint32_t h = 0x811c9dc5u;
    for (k = labels; k-- > 0;) {
        for (size_t b = pos[k]; b <= pos[k] + name[pos[k]]; b++)
            h = (h ^ lower(name[b])) * 16777619u;
        hash[k] = comp_mix(h);
    }
    for (j = 0; j < labels; j++) {
        uint16_t off;
        slot[j] = COMP_SLOTS;
        if (comp_find(ct, out, hash[j], name + pos[j], &off, &slot[j])) {
            if (compress) {
                ptr_at = pos[j];
                target = off;
                break;
            }
            slot[j] = COMP_SLOTS; /* already a target: nothing to record */
        }
    }
    size_t need = ptr_at == name_len ? name_len : ptr_at + 2;
    if (cap - *n < need)
        return WIRE_ENOSPC;
    for (k = 0; k < j && k < labels; k++) {
        size_t at = *n + pos[k];
        if (at >= 0x4000)
            break;
        /* a suffix recorded just now may have taken the slot found for this one */
        unsigned idx = slot[k];
        if (idx == COMP_SLOTS)
            continue;
        for (unsigned probe = 0; ct->slot[idx] != 0; probe++) {
            if (probe == COMP_MAX_PROBES) {
                idx = COMP_SLOTS;
                break;
            }
            idx = (idx + 1) & (COMP_SLOTS - 1);
        }
        if (idx != COMP_SLOTS)
            ct->slot[idx] = (hash[k] >> 14) << 14 | (uint32_t)at;
    }
    if (ptr_at == name_len) {
        memcpy(out + *n, name, name_len);
    } else {
        memcpy(out + *n, name, ptr_at);
        put16(out + *n + ptr_at, (uint16_t)(0xc000 | target));
    }
    *n += need;
    return 0;
}

/* Copy a name out of the upstream's rdata (decompressing it) into ours. */
static int rdata_name_copy(const uint8_t *msg, size_t len, size_t *pos, size_t rd_end, int compress,
                           struct comp_table *ct, uint8_t *out, size_t cap, size_t *n)
{
    uint8_t name[DNS_MAX_NAME];
    size_t name_len;
    if (dns_name_read(msg, len, pos, name, &name_len) < 0 || *pos > rd_end)
        return WIRE_EFORMERR;
    return name_write(name, name_len, compress, ct, out, cap, n);
}

/* Copy raw rdata bytes [*pos, *pos + count) that must lie within rd_end. */
static int rdata_bytes_copy(const uint8_t *msg, size_t *pos, size_t count, size_t rd_end,
                            uint8_t *out, size_t cap, size_t *n)
{
    if (rd_end - *pos < count)
        return WIRE_EFORMERR;
    if (cap - *n < count)
        return WIRE_ENOSPC;
    memcpy(out + *n, msg + *pos, count);
    *pos += count;
    *n += count;
    return 0;
}

/* Write one upstream record's rdata, decompressing the names of the types that
 * hold them and compressing only those RFC 3597 §4 allows (RFC 1035 types). */
static int rdata_write(const uint8_t *msg, size_t len, const struct dns_rr *rr,
                       struct comp_table *ct, uint8_t *out, size_t cap, size_t *n)
{
    size_t pos = rr->rdata_offset, end = rr->rdata_offset + rr->rdlen;
    int rc = 0;

#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((rc = (call)) < 0)                                                                     \
            return rc;                                                                             \
    } while (0)
    switch (rr->type) {
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
    case DNS_TYPE_MD: /* RFC 1035's obsolete mail types: well-known, so compressed */
    case DNS_TYPE_MF:
    case DNS_TYPE_MB:
    case DNS_TYPE_MG:
    case DNS_TYPE_MR:
        TRY(rdata_name_copy(msg, len, &pos, end, 1, ct, out, cap, n));
        break;
    case DNS_TYPE_MINFO:
        TRY(rdata_name_copy(msg, len, &pos, end, 1, ct, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 1, ct, out, cap, n));
        break;
    /* RFC 3597 §4: types after RFC 1035 whose names old servers compressed;
     * read them decompressed, write them whole. */
    case DNS_TYPE_RP:
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        break;
    case DNS_TYPE_AFSDB:
    case DNS_TYPE_RT:
        TRY(rdata_bytes_copy(msg, &pos, 2, end, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        break;
    case DNS_TYPE_PX:
        TRY(rdata_bytes_copy(msg, &pos, 2, end, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        break;
    case DNS_TYPE_NAPTR:
        TRY(rdata_bytes_copy(msg, &pos, 4, end, out, cap, n));
        for (int k = 0; k < 3; k++) /* flags, services, regexp: character-strings */
            TRY(rdata_bytes_copy(msg, &pos, pos < end ? 1u + msg[pos] : 1u, end, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        break;
    case DNS_TYPE_NXT:
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        TRY(rdata_bytes_copy(msg, &pos, end - pos, end, out, cap, n));
        break;
    case DNS_TYPE_DNAME:
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        break;
    case DNS_TYPE_SOA:
        TRY(rdata_name_copy(msg, len, &pos, end, 1, ct, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 1, ct, out, cap, n));
        TRY(rdata_bytes_copy(msg, &pos, 20, end, out, cap, n));
        break;
    case DNS_TYPE_MX:
        TRY(rdata_bytes_copy(msg, &pos, 2, end, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 1, ct, out, cap, n));
        break;
    case DNS_TYPE_SRV:
        TRY(rdata_bytes_copy(msg, &pos, 6, end, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        break;
    case DNS_TYPE_NSEC:
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        TRY(rdata_bytes_copy(msg, &pos, end - pos, end, out, cap, n));
        break;
    case DNS_TYPE_SIG: /* RRSIG's layout */
    case DNS_TYPE_RRSIG:
        TRY(rdata_bytes_copy(msg, &pos, 18, end, out, cap, n));
        TRY(rdata_name_copy(msg, len, &pos, end, 0, ct, out, cap, n));
        TRY(rdata_bytes_copy(msg, &pos, end - pos, end, out, cap, n));
        break;
    default:
        TRY(rdata_bytes_copy(msg, &pos, rr->rdlen, end, out, cap, n));
        break;
    }
#undef TRY
    /* a name that ends before the rdata does leaves bytes we do not understand */
    return pos == end ? 0 : WIRE_EFORMERR;
}

static int is_dnssec_type(uint16_t type)
{
    return type == DNS_TYPE_RRSIG || type == DNS_TYPE_NSEC || type == DNS_TYPE_NSEC3;
}

int dns_reply_render(const struct dns_query *q, enum dns_security sec, const uint8_t *upstream,
                     size_t upstream_len, time_t now, uint8_t *out, size_t cap, size_t *out_len)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    struct comp_table ct; /* 64 KB of stack, cleared per message */
    uint16_t count[4] = {0, 0, 0, 0};
    int rcode, rc, ext = 0;
    size_t n;

    if (dns_rr_iter_init(&it, upstream, upstream_len) < 0)
        return WIRE_EFORMERR;
    memset(&ct, 0, sizeof ct);
    if (sec == DNS_BOGUS && !q->cd) {
        const char *text = NULL;
        int ede = dns_bogus_ede(upstream, upstream_len, now, &text);
        return dns_reply_error(q, DNS_RCODE_SERVFAIL, ede, text, out, cap, out_len);
    }
    if (sec == DNS_INDETERMINATE && !q->cd)
        return dns_reply_error(q, DNS_RCODE_SERVFAIL, DNS_EDE_DNSSEC_INDETERMINATE,
                               "DNSSEC indeterminate", out, cap, out_len);
    rcode = upstream[3] & 0x0f;
    if (cap < DNS_HEADER_LEN + q->qname_len + 4)
        return WIRE_ENOSPC;
    n = DNS_HEADER_LEN;
    /* The question is written whole (never a pointer) so that patching the
     * client's case into it stays a plain copy. */
    if (q->qname_len) {
        rc = name_write(q->qname, q->qname_len, 0, &ct, out, cap, &n);
        if (rc < 0)
            return rc;
        put16(out + n, q->qtype);
        put16(out + n + 2, q->qclass);
        n += 4;
    }

    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        if (rr.type == DNS_TYPE_OPT) {
            if (rr.section == DNS_SECTION_ADDITIONAL)
                ext |= (int)(rr.ttl >> 24); /* any of them: two OPTs are broken anyway */
            continue;
        }
        /* ANY asks for every type, the DNSSEC ones too (as Unbound answers it) */
        if (!q->do_bit && is_dnssec_type(rr.type) && rr.type != q->qtype &&
            q->qtype != DNS_TYPE_ANY)
            continue;
        rc = name_write(rr.owner, rr.owner_len, 1, &ct, out, cap, &n);
        if (rc < 0)
            return rc;
        if (cap - n < 10)
            return WIRE_ENOSPC;
        put16(out + n, rr.type);
        put16(out + n + 2, rr.rrclass);
        put32(out + n + 4, rr.ttl);
        size_t rdlen_at = n + 8;
        n += 10;
        size_t rd_start = n;
        rc = rdata_write(upstream, upstream_len, &rr, &ct, out, cap, &n);
        if (rc < 0)
            return rc;
        if (n - rd_start > 0xffff)
            return WIRE_EFORMERR;
        put16(out + rdlen_at, (uint16_t)(n - rd_start));
        count[rr.section]++;
    }
    if (rc < 0)
        return rc;
    if (ext) /* RFC 6891 §6.1.3: the upstream's BADVERS or BADCOOKIE, not ours to pass on */
        return dns_reply_error(q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, "upstream extended rcode", out,
                               cap, out_len);
    if (q->has_edns) {
        rc = opt_write(q, rcode, DNS_EDE_NONE, NULL, out + n, cap - n);
        if (rc < 0)
            return rc;
        n += (size_t)rc;
        count[DNS_SECTION_ADDITIONAL]++;
    }
    reply_header(q, rcode, sec == DNS_SECURE && (q->do_bit || q->ad), out);
    put16(out + 4, q->qname_len ? 1 : 0);
    put16(out + 6, count[DNS_SECTION_ANSWER]);
    put16(out + 8, count[DNS_SECTION_AUTHORITY]);
    put16(out + 10, count[DNS_SECTION_ADDITIONAL]);
    *out_len = n;
    return 0;
}

int dns_bogus_ede(const uint8_t *msg, size_t len, time_t now, const char **text)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    uint32_t now32 = (uint32_t)now;
    int expired = 0, early = 0, answer_data = 0, answer_sigs = 0, rc;

    if (dns_rr_iter_init(&it, msg, len) == 0) {
        while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
            if (rr.type == DNS_TYPE_RRSIG && rr.rdlen >= 18) {
                /* RFC 4034 §3.1.5: serial-number arithmetic (RFC 1982), so a
                 * signature stays judged right across the 2106 wrap. */
                uint32_t expiration = get32(rr.rdata + 8), inception = get32(rr.rdata + 12);
                if ((int32_t)(expiration - now32) < 0)
                    expired = 1;
                else if ((int32_t)(now32 - inception) < 0)
                    early = 1;
                if (rr.section == DNS_SECTION_ANSWER)
                    answer_sigs = 1;
            } else if (rr.section == DNS_SECTION_ANSWER && rr.type != DNS_TYPE_OPT) {
                answer_data = 1;
            }
        }
    }
    if (expired) {
        *text = "signature expired";
        return DNS_EDE_SIGNATURE_EXPIRED;
    }
    if (early) {
        *text = "signature not yet valid";
        return DNS_EDE_SIGNATURE_NOT_YET_VALID;
    }
    if (answer_data && !answer_sigs) {
        *text = "RRSIGs missing";
        return DNS_EDE_RRSIGS_MISSING;
    }
    *text = "validation failed";
    return DNS_EDE_DNSSEC_BOGUS;
}

int dns_reply_patch(uint8_t *msg, size_t *len, const struct dns_query *q, enum dns_security sec,
                    uint32_t elapsed_s)
{
    size_t l = *len, pos = DNS_HEADER_LEN, opt_start = 0, opt_end = 0;
    uint8_t opt_ext = 0;
    unsigned records;

    if (l < DNS_HEADER_LEN || get16(msg + 4) != 1)
        return WIRE_EFORMERR;
    /* the stored question is ours: uncompressed, same name up to case */
    if (q->qname_len == 0 || l - pos < q->qname_len + 4 ||
        !dns_name_equal(msg + pos, q->qname_len, q->qname, q->qname_len) ||
        q->qname[q->qname_len - 1] != 0 || get16(msg + pos + q->qname_len) != q->qtype)
        return WIRE_EFORMERR;
    memcpy(msg + pos, q->qname, q->qname_len);
    pos += q->qname_len + 4;

    records = (unsigned)get16(msg + 6) + get16(msg + 8) + get16(msg + 10);
    for (unsigned i = 0; i < records; i++) {
        size_t start = pos;
        if (name_skip(msg, l, &pos) < 0 || l - pos < 10)
            return WIRE_EFORMERR;
        uint8_t *rr = msg + pos;
        uint16_t rdlen = get16(rr + 8);
        if (l - pos - 10 < rdlen)
            return WIRE_EFORMERR;
        if (get16(rr) == DNS_TYPE_OPT) {
            put16(rr + 6,
                  (uint16_t)((get16(rr + 6) & ~DNS_EDNS_DO) | (q->do_bit ? DNS_EDNS_DO : 0)));
            opt_start = start;
            opt_end = pos + 10 + rdlen;
            opt_ext = rr[4];
        } else {
            uint32_t ttl = get32(rr + 4);
            put32(rr + 4, ttl > elapsed_s ? ttl - elapsed_s : 0);
        }
        pos += 10 + (size_t)rdlen;
    }
    if (pos != l)
        return WIRE_EFORMERR;

    put16(msg, q->id);
    msg[2] = (uint8_t)((msg[2] & ~DNS_FLAG_RD) | (q->rd ? DNS_FLAG_RD : 0));
    msg[3] = (uint8_t)((msg[3] & ~(DNS_FLAG_AD | DNS_FLAG_CD)) |
                       (sec == DNS_SECURE && (q->do_bit || q->ad) ? DNS_FLAG_AD : 0) |
                       (q->cd ? DNS_FLAG_CD : 0));
    /* RFC 6891 §7: no OPT in a reply to a query without one. Nothing points
     * into or past an OPT we wrote (pointers only go backwards). */
    if (opt_end && !q->has_edns) {
        /* RFC 6891 §6.1.3: the upper rcode bits live in the OPT; without it
         * the low bits alone would say something else (BADCOOKIE, 23, would
         * read as YXDOMAIN, 7). */
        if (opt_ext != 0)
            msg[3] = (uint8_t)((msg[3] & 0xf0) | DNS_RCODE_SERVFAIL);
        memmove(msg + opt_start, msg + opt_end, l - opt_end);
        *len = l - (opt_end - opt_start);
        put16(msg + 10, (uint16_t)(get16(msg + 10) - 1));
    }
    return 0;
}

int dns_reply_cap_ttls(uint8_t *msg, size_t len, uint32_t max_ttl, uint32_t max_neg_ttl)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    uint16_t qtype = 0;
    uint32_t neg = max_neg_ttl;
    int rc, has_answer = 0, negative;

    if (dns_rr_iter_init(&it, msg, len) < 0)
        return WIRE_EFORMERR;
    if (get16(msg + 4) == 1) {
        size_t pos = DNS_HEADER_LEN;
        if (name_skip(msg, len, &pos) < 0 || len - pos < 4)
            return WIRE_EFORMERR;
        qtype = get16(msg + pos);
    }
    /* first pass: is it negative, and what does its SOA allow */
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        uint32_t ttl = rr.ttl > 0x7fffffff ? 0 : rr.ttl;
        if (rr.section == DNS_SECTION_ANSWER && (rr.type == qtype || qtype == DNS_TYPE_ANY))
            has_answer = 1;
        if (rr.section == DNS_SECTION_AUTHORITY && rr.type == DNS_TYPE_SOA && rr.rdlen >= 22) {
            uint32_t minimum = get32(rr.rdata + rr.rdlen - 4);
            if (minimum < neg)
                neg = minimum;
            if (ttl < neg)
                neg = ttl;
        }
    }
    if (rc < 0)
        return rc;
    negative = (msg[3] & 0x0f) == DNS_RCODE_NXDOMAIN ||
               ((msg[3] & 0x0f) == DNS_RCODE_NOERROR && !has_answer);
    dns_rr_iter_init(&it, msg, len);
    while (dns_rr_iter_next(&it, &rr) == 1) {
        if (rr.type == DNS_TYPE_OPT)
            continue;
        uint32_t ttl = rr.ttl > 0x7fffffff ? 0 : rr.ttl; /* RFC 2181 §8 */
        if (ttl > max_ttl)
            ttl = max_ttl;
        if (negative && rr.section == DNS_SECTION_AUTHORITY && ttl > neg)
            ttl = neg;
        put32(msg + rr.rdata_offset - 6, ttl); /* TTL, then RDLENGTH, then rdata */
    }
    return 0;
}

int dns_reply_add_cookie(uint8_t *msg, size_t *len, size_t cap, const uint8_t *cookie,
                         size_t cookie_len)
{
    size_t l = *len, pos = DNS_HEADER_LEN, last = 0;
    uint16_t type = 0;

    if (l < DNS_HEADER_LEN || get16(msg + 10) == 0)
        return WIRE_EFORMERR;
    for (unsigned i = 0, qd = get16(msg + 4); i < qd; i++) {
        if (name_skip(msg, l, &pos) < 0 || l - pos < 4)
            return WIRE_EFORMERR;
        pos += 4;
    }
    for (unsigned i = 0, n = (unsigned)get16(msg + 6) + get16(msg + 8) + get16(msg + 10); i < n;
         i++) {
        last = pos;
        if (rr_skip(msg, l, &pos, &type) < 0)
            return WIRE_EFORMERR;
    }
    /* our OPT: a root owner, last in the message */
    if (pos != l || type != DNS_TYPE_OPT || msg[last] != 0)
        return WIRE_EFORMERR;
    uint16_t rdlen = get16(msg + last + 9);
    if (cap < l || cap - l < 4 + cookie_len || (size_t)rdlen + 4 + cookie_len > 0xffff)
        return WIRE_ENOSPC;
    put16(msg + l, DNS_OPT_COOKIE);
    put16(msg + l + 2, (uint16_t)cookie_len);
    memcpy(msg + l + 4, cookie, cookie_len);
    put16(msg + last + 9, (uint16_t)(rdlen + 4 + cookie_len));
    *len = l + 4 + cookie_len;
    return 0;
}

int dns_reply_add_ede(uint8_t *msg, size_t *len, size_t cap, int ede, const char *text)
{
    uint8_t opt[4 + 2 + 160];
    size_t tlen = text ? strlen(text) : 0;
    if (ede < 0 || ede > 0xffff)
        return WIRE_EFORMERR;
    if (tlen > sizeof opt - 6)
        tlen = sizeof opt - 6;
    /* the option is written as a "cookie" of code EDE: the same append */
    put16(opt, (uint16_t)ede);
    memcpy(opt + 2, text ? text : "", tlen);
    size_t l = *len;
    int rc = dns_reply_add_cookie(msg, &l, cap, opt, 2 + tlen);
    if (rc < 0)
        return rc;
    /* dns_reply_add_cookie() wrote OPTION-CODE COOKIE at the old end */
    put16(msg + *len, DNS_OPT_EDE);
    *len = l;
    return 0;
}

int dns_reply_truncate(uint8_t *msg, size_t len, size_t max, size_t *out_len)
{
    size_t pos = DNS_HEADER_LEN, q_end, auth_end = 0, opt_start = 0, opt_len = 0;
    uint16_t qd, an, ns, ar;

    if (len < DNS_HEADER_LEN)
        return WIRE_EFORMERR;
    if (len <= max) {
        *out_len = len;
        return 0;
    }
    qd = get16(msg + 4);
    an = get16(msg + 6);
    ns = get16(msg + 8);
    ar = get16(msg + 10);
    for (unsigned i = 0; i < qd; i++)
        if (name_skip(msg, len, &pos) < 0 || len - pos < 4)
            return WIRE_EFORMERR;
        else
            pos += 4;
    q_end = pos;
    for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
        size_t start = pos;
        uint16_t type;
        if (i == (unsigned)an + ns)
            auth_end = pos;
        if (rr_skip(msg, len, &pos, &type) < 0)
            return WIRE_EFORMERR;
        if (i >= (unsigned)an + ns && type == DNS_TYPE_OPT && !opt_len) {
            opt_start = start;
            opt_len = pos - start;
        }
    }
    if (ar == 0)
        auth_end = pos;

    /* RFC 2181 §9: without the additional section is not truncation */
    if (auth_end + opt_len <= max) {
        memmove(msg + auth_end, msg + opt_start, opt_len);
        put16(msg + 10, opt_len ? 1 : 0);
        *out_len = auth_end + opt_len;
        return 0;
    }
    if (q_end + opt_len > max)
        return WIRE_ENOSPC;
    memmove(msg + q_end, msg + opt_start, opt_len);
    put16(msg + 6, 0);
    put16(msg + 8, 0);
    put16(msg + 10, opt_len ? 1 : 0);
    msg[2] |= DNS_FLAG_TC;
    *out_len = q_end + opt_len;
    return 0;
}

int dns_answer_ttl(const uint8_t *msg, size_t len, uint32_t *ttl)
{
    struct dns_rr_iter it;
    struct dns_rr rr;
    uint8_t qname[DNS_MAX_NAME];
    size_t qname_len, pos = DNS_HEADER_LEN;
    uint16_t qtype = 0;
    uint32_t min = UINT32_MAX, soa_min = UINT32_MAX;
    int rc, rcode, records = 0, has_answer = 0, has_soa = 0;

    if (dns_rr_iter_init(&it, msg, len) < 0)
        return WIRE_EFORMERR;
    if (get16(msg + 4) >= 1) {
        if (dns_name_read(msg, len, &pos, qname, &qname_len) < 0 || len - pos < 4)
            return WIRE_EFORMERR;
        qtype = get16(msg + pos);
    }
    while ((rc = dns_rr_iter_next(&it, &rr)) == 1) {
        if (rr.section == DNS_SECTION_ADDITIONAL)
            continue;
        records++;
        if (rr.ttl > 0x7fffffff) /* RFC 2181 §8: a TTL with the top bit set means 0 */
            rr.ttl = 0;
        if (rr.ttl < min)
            min = rr.ttl;
        if (rr.section == DNS_SECTION_ANSWER &&
            (rr.type == qtype || qtype == DNS_TYPE_ANY || qtype == 0))
            has_answer = 1;
        if (rr.section == DNS_SECTION_AUTHORITY && rr.type == DNS_TYPE_SOA && rr.rdlen >= 22) {
            /* MINIMUM is the last 4 bytes after two names; rdata names were
             * checked by nothing yet, so only trust the fixed tail */
            uint32_t m = get32(rr.rdata + rr.rdlen - 4);
            has_soa = 1;
            if (m < soa_min)
                soa_min = m;
            if (rr.ttl < soa_min)
                soa_min = rr.ttl;
        }
    }
    if (rc < 0)
        return rc;
    rcode = msg[3] & 0x0f;
    *ttl = 0;
    if (!records || (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN))
        return 0;
    if (rcode == DNS_RCODE_NXDOMAIN || !has_answer) {
        /* RFC 2308 §5: a negative answer without an SOA is not cached */
        if (!has_soa)
            return 0;
        *ttl = soa_min < min ? soa_min : min;
        return 0;
    }
    *ttl = min;
    return 0;
}

/* ---- walking records ---- */

int dns_rr_iter_init(struct dns_rr_iter *it, const uint8_t *msg, size_t len)
{
    size_t pos = DNS_HEADER_LEN;

    memset(it, 0, sizeof *it);
    if (len < DNS_HEADER_LEN)
        return WIRE_EFORMERR;
    for (unsigned i = 0, qd = get16(msg + 4); i < qd; i++) {
        if (name_skip(msg, len, &pos) < 0 || len - pos < 4)
            return WIRE_EFORMERR;
        pos += 4;
    }
    it->msg = msg;
    it->len = len;
    it->pos = pos;
    it->left[DNS_SECTION_ANSWER] = get16(msg + 6);
    it->left[DNS_SECTION_AUTHORITY] = get16(msg + 8);
    it->left[DNS_SECTION_ADDITIONAL] = get16(msg + 10);
    it->section = DNS_SECTION_ANSWER;
    return 0;
}

int dns_rr_iter_next(struct dns_rr_iter *it, struct dns_rr *rr)
{
    while (it->section <= DNS_SECTION_ADDITIONAL && it->left[it->section] == 0)
        it->section++;
    if (it->section > DNS_SECTION_ADDITIONAL)
        return 0;

    size_t pos = it->pos;
    if (dns_name_read(it->msg, it->len, &pos, rr->owner, &rr->owner_len) < 0 || it->len - pos < 10)
        return WIRE_EFORMERR;
    const uint8_t *p = it->msg + pos;
    rr->section = (enum dns_section)it->section;
    rr->type = get16(p);
    rr->rrclass = get16(p + 2);
    rr->ttl = get32(p + 4);
    rr->rdlen = get16(p + 8);
    if (it->len - pos - 10 < rr->rdlen)
        return WIRE_EFORMERR;
    rr->rdata = p + 10;
    rr->rdata_offset = pos + 10;
    it->pos = pos + 10 + rr->rdlen;
    it->left[it->section]--;
    return 1;
}
