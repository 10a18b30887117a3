/* include/wire.h — DNS messages on the wire: reading queries, writing replies
 * with name compression, OPT/EDNS and RFC 8914 Extended DNS Errors, walking
 * resource records, and aging TTLs in cached replies.
 *
 * Nothing here allocates; every output goes into a caller's buffer. Names are
 * kept in uncompressed wire format (length-prefixed labels, ending in 0).
 */
#ifndef DANEGUARD_WIRE_H
#define DANEGUARD_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DNS_MAX_NAME 255
#define DNS_HEADER_LEN 12
#define DNS_MAX_UDP_REPLY 1232 /* what we advertise and the largest UDP reply we send */

enum dns_type {
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_MD = 3, /* MD, MF, MB, MG, MR, MINFO: RFC 1035, obsolete, names inside */
    DNS_TYPE_MF = 4,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_SOA = 6,
    DNS_TYPE_MB = 7,
    DNS_TYPE_MG = 8,
    DNS_TYPE_MR = 9,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_HINFO = 13,
    DNS_TYPE_MINFO = 14,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_RP = 17,
    DNS_TYPE_AFSDB = 18,
    DNS_TYPE_RT = 21,
    DNS_TYPE_SIG = 24,
    DNS_TYPE_PX = 26,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_NXT = 30,
    DNS_TYPE_SRV = 33,
    DNS_TYPE_NAPTR = 35,
    DNS_TYPE_DNAME = 39,
    DNS_TYPE_OPT = 41,
    DNS_TYPE_DS = 43,
    DNS_TYPE_RRSIG = 46,
    DNS_TYPE_NSEC = 47,
    DNS_TYPE_DNSKEY = 48,
    DNS_TYPE_NSEC3 = 50,
    DNS_TYPE_TLSA = 52,
    DNS_TYPE_ANY = 255,
};
#define DNS_CLASS_IN 1

enum dns_rcode {
    DNS_RCODE_NOERROR = 0,
    DNS_RCODE_FORMERR = 1,
    DNS_RCODE_SERVFAIL = 2,
    DNS_RCODE_NXDOMAIN = 3,
    DNS_RCODE_NOTIMP = 4,
    DNS_RCODE_REFUSED = 5,
    DNS_RCODE_BADVERS = 16, /* extended: upper 8 bits go in the OPT TTL */
};

/* RFC 8914 Extended DNS Error codes we emit. */
enum dns_ede {
    DNS_EDE_NONE = -1,
    DNS_EDE_OTHER = 0,
    DNS_EDE_STALE_ANSWER = 3,
    DNS_EDE_DNSSEC_INDETERMINATE = 5,
    DNS_EDE_DNSSEC_BOGUS = 6,
    DNS_EDE_SIGNATURE_EXPIRED = 7,
    DNS_EDE_SIGNATURE_NOT_YET_VALID = 8,
    DNS_EDE_DNSKEY_MISSING = 9,
    DNS_EDE_RRSIGS_MISSING = 10,
    DNS_EDE_NSEC_MISSING = 12,
    DNS_EDE_PROHIBITED = 18,
    DNS_EDE_STALE_NXDOMAIN_ANSWER = 19,
    DNS_EDE_NO_REACHABLE_AUTHORITY = 22,
    DNS_EDE_NETWORK_ERROR = 23,
};

/* The DNSSEC status of an answer, as the validator found it. */
enum dns_security { DNS_SECURE, DNS_INSECURE, DNS_BOGUS, DNS_INDETERMINATE };

/* "secure", "insecure", "bogus" or "indeterminate". */
const char *dns_security_name(enum dns_security s);

#define WIRE_ERRORS(X)                                                                             \
    X(WIRE_EFORMERR, -1, "malformed DNS message")                                                  \
    X(WIRE_ENOTIMP, -2, "opcode not implemented")                                                  \
    X(WIRE_EBADVERS, -3, "unsupported EDNS version")                                               \
    X(WIRE_ENOSPC, -4, "message does not fit the buffer")                                          \
    X(WIRE_ENOTQUERY, -5, "message is a response, not a query")                                    \
    X(WIRE_EBADNAME, -6, "bad domain name")                                                        \
    X(WIRE_ENOQUESTION, -7, "a query for a server cookie only (RFC 7873 §5.4)")

enum wire_error {
#define WIRE_ENUM(name, value, text) name = value,
    WIRE_ERRORS(WIRE_ENUM)
#undef WIRE_ENUM
};

const char *wire_strerror(int err);

/* A client's query, as read by dns_query_parse(). */
struct dns_query {
    uint16_t id;
    uint8_t opcode;
    uint8_t rd, cd, ad;          /* header bits as sent */
    uint8_t qname[DNS_MAX_NAME]; /* wire format, the client's case kept */
    size_t qname_len;            /* 0 when no question could be read */
    uint16_t qtype, qclass;
    uint8_t has_edns, do_bit, edns_version;
    uint16_t udp_size; /* EDNS payload size, at least 512; 512 without EDNS */
    /* RFC 7873: the COOKIE option as the client sent it (8 bytes of client
     * cookie, then 8 to 32 of server cookie); the server replaces it with
     * what its reply is to carry. 0: none. */
    uint8_t cookie_len;
    uint8_t cookie[40];
};

/* Read a query. Returns 0; WIRE_EFORMERR (q->id is set when the header was there;
 * q->qname_len is 0 unless the question was read; q->has_edns when the OPT was
 * read); WIRE_ENOTQUERY for QR=1 (drop it); WIRE_ENOTIMP for an opcode other than
 * QUERY; WIRE_EBADVERS for EDNS version > 0; WIRE_ENOQUESTION for a query with no
 * question and a COOKIE option (RFC 7873 §5.4: answer NOERROR with the cookies).
 * One question is required otherwise; an OPT RR is looked for in the additional
 * section; a COOKIE option of a length RFC 7873 §5.2.2 forbids, or a second one,
 * is WIRE_EFORMERR. */
int dns_query_parse(const uint8_t *msg, size_t len, struct dns_query *q);

/* Fill *q as a query for name/type/IN with DO and CD set (the in-process lookup). */
int dns_query_init(struct dns_query *q, const char *name, uint16_t qtype);

/* Write an error reply to q: its id, QR, RA, RD and CD copied, the question when
 * q->qname_len, an OPT RR when q->has_edns, holding an EDE option when ede >= 0
 * (ede_text may be NULL). rcode may be extended (BADVERS). 0 or WIRE_ENOSPC. */
int dns_reply_error(const struct dns_query *q, int rcode, int ede, const char *ede_text,
                    uint8_t *out, size_t cap, size_t *out_len);

/* Turn an upstream answer into our reply to q, with name compression:
 * - sec == DNS_BOGUS and !q->cd: SERVFAIL with the EDE of dns_bogus_ede();
 * - sec == DNS_INDETERMINATE and !q->cd: SERVFAIL with EDE 5 (the upstream
 *   marks INDETERMINATE only what lies under a trust anchor and could not be
 *   validated: not to be served as if insecure);
 * - an upstream OPT with extended rcode bits (BADVERS, BADCOOKIE: about the
 *   upstream's own exchange, not the client's): SERVFAIL with EDE 0;
 * - otherwise upstream's rcode and sections, minus RRSIG/NSEC/NSEC3 records
 *   unless q->do_bit (a record of the queried type, or any for ANY, is kept), minus
 *   upstream's OPT; our own OPT when q->has_edns (DO echoed);
 * - AD when sec == DNS_SECURE and (q->do_bit or q->ad); RA set; id, RD, CD and
 *   the question (client's case) from q.
 * Never truncates: 0, WIRE_ENOSPC, or WIRE_EFORMERR for an unreadable upstream. */
int dns_reply_render(const struct dns_query *q, enum dns_security sec, const uint8_t *upstream,
                     size_t upstream_len, time_t now, uint8_t *out, size_t cap, size_t *out_len);

/* Why a bogus answer is bogus, as an EDE code (and a short text):
 * an RRSIG whose validity ended before now gives SIGNATURE_EXPIRED, one not yet
 * valid gives SIGNATURE_NOT_YET_VALID, an answer with data but no RRSIG gives
 * RRSIGS_MISSING, anything else DNSSEC_BOGUS. */
int dns_bogus_ede(const uint8_t *msg, size_t len, time_t now, const char **text);

/* Adapt a reply rendered earlier (from the cache) to query q, in place: id, the
 * question's name bytes (the client's case), RD and CD from q, AD recomputed as in
 * dns_reply_render(), the DO bit in the OPT, and every TTL (OPT excepted) lowered
 * by elapsed_s, floored at 0. *len is the stored length in, the length to send out:
 * the OPT is removed when !q->has_edns (RFC 6891 §7), so render replies for the
 * cache with has_edns = 1; an extended rcode the OPT carried cannot be told to
 * such a client and becomes SERVFAIL. Returns 0 or WIRE_EFORMERR (q's name or
 * type differs). */
int dns_reply_patch(uint8_t *msg, size_t *len, const struct dns_query *q, enum dns_security sec,
                    uint32_t elapsed_s);

/* Cap the TTLs of a reply rendered by dns_reply_render(), in place (the OPT
 * aside): a TTL with the top bit set counts as 0 (RFC 2181 §8); none is above
 * max_ttl; in a negative answer (NXDOMAIN, or no answer record of the question's
 * type) every authority record is capped at max_neg_ttl and, when there is an
 * SOA, at min(SOA TTL, SOA MINIMUM) (RFC 2308 §3 and §5, RFC 9077), as Unbound
 * serves them (cache-max-ttl, cache-max-negative-ttl). 0 or WIRE_EFORMERR. */
int dns_reply_cap_ttls(uint8_t *msg, size_t len, uint32_t max_ttl, uint32_t max_neg_ttl);

/* Add a COOKIE option (RFC 7873 §4; cookie_len bytes) to the OPT RR that ends
 * msg (every reply written here ends with its OPT), in place; *len grows, cap is
 * the room in msg. 0, WIRE_ENOSPC, or WIRE_EFORMERR when msg does not end with
 * an OPT. */
int dns_reply_add_cookie(uint8_t *msg, size_t *len, size_t cap, const uint8_t *cookie,
                         size_t cookie_len);

/* Add an EDE option (RFC 8914: info-code ede, EXTRA-TEXT text, may be NULL,
 * cut at 160 bytes) to the OPT RR that ends msg, as dns_reply_add_cookie().
 * 0, WIRE_ENOSPC or WIRE_EFORMERR. */
int dns_reply_add_ede(uint8_t *msg, size_t *len, size_t cap, int ede, const char *text);

/* Make msg fit in max bytes for UDP, in place: when it does not, drop the
 * additional section (OPT kept) without TC if that is enough, else keep only
 * header, question and OPT and set TC. Sets *out_len. */
int dns_reply_truncate(uint8_t *msg, size_t len, size_t max, size_t *out_len);

/* How long an upstream answer may be cached (RFC 2308): the smallest TTL of the
 * answer and authority records; for NXDOMAIN and NODATA min(SOA TTL, SOA MINIMUM).
 * No records at all gives 0. Returns 0 or WIRE_EFORMERR. */
int dns_answer_ttl(const uint8_t *msg, size_t len, uint32_t *ttl);

/* The rcode in a message's header (low 4 bits), or -1 if shorter than a header. */
int dns_msg_rcode(const uint8_t *msg, size_t len);

/* Walking the resource records of a message (for the lookup API and tests). */
enum dns_section { DNS_SECTION_ANSWER = 1, DNS_SECTION_AUTHORITY = 2, DNS_SECTION_ADDITIONAL = 3 };

struct dns_rr {
    enum dns_section section;
    uint8_t owner[DNS_MAX_NAME]; /* decompressed */
    size_t owner_len;
    uint16_t type, rrclass;
    uint32_t ttl;
    const uint8_t *rdata; /* points into the message; names inside may be compressed */
    uint16_t rdlen;
    size_t rdata_offset; /* offset of rdata in the message, for dns_name_read() */
};

struct dns_rr_iter {
    const uint8_t *msg;
    size_t len, pos;
    unsigned left[4]; /* records left per section, index by enum dns_section */
    int section;
};

/* Position it on the first record (after header and question). 0 or WIRE_EFORMERR. */
int dns_rr_iter_init(struct dns_rr_iter *it, const uint8_t *msg, size_t len);
/* 1 and *rr filled, 0 at the end, WIRE_EFORMERR on a malformed record. */
int dns_rr_iter_next(struct dns_rr_iter *it, struct dns_rr *rr);

/* Read a possibly compressed name at *pos in msg into out (wire format,
 * uncompressed) and move *pos past it. Pointer loops and overlong names give
 * WIRE_EFORMERR. */
int dns_name_read(const uint8_t *msg, size_t len, size_t *pos, uint8_t out[DNS_MAX_NAME],
                  size_t *out_len);
/* "www.example.com" or "www.example.com." to wire format; WIRE_EBADNAME. */
int dns_name_from_text(const char *text, uint8_t out[DNS_MAX_NAME], size_t *out_len);
/* Wire format to "www.example.com." (root is "."); WIRE_ENOSPC or WIRE_EBADNAME. */
int dns_name_to_text(const uint8_t *name, size_t len, char *out, size_t cap);
/* Case-insensitive equality of two wire-format names. */
int dns_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

#endif
