/* daemon/addr.c — IP addresses: sockaddr access, parsing and formatting,
 * comparison, CIDR networks, kinds of address. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *addr_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define ADDR_CASE(name, value, text)                                                               \
    case name:                                                                                     \
        return text;
        ADDR_ERRORS(ADDR_CASE)
#undef ADDR_CASE
    }
    return "unknown address error";
}

/* ---- socket addresses ---------------------------------------------------- */

static int is_ip(const struct sockaddr *sa)
{
    return sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
}

static size_t port_offset(int family)
{
    return family == AF_INET ? offsetof(struct sockaddr_in, sin_port)
                             : offsetof(struct sockaddr_in6, sin6_port);
}

uint16_t addr_port(const struct sockaddr *sa)
{
    uint16_t port;
    if (!is_ip(sa))
        return 0;
    memcpy(&port, (const char *)sa + port_offset(sa->sa_family), sizeof port);
    return ntohs(port);
}

socklen_t addr_len(const struct sockaddr *sa)
{
    if (!is_ip(sa))
        return 0;
    return sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

void addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    uint16_t nport = htons(port);
    if (!ss || (ss->ss_family != AF_INET && ss->ss_family != AF_INET6))
        return;
    memcpy((char *)ss + port_offset(ss->ss_family), &nport, sizeof nport);
}

const uint8_t *addr_bytes(const struct sockaddr *sa, size_t *len)
{
    *len = 0;
    if (!is_ip(sa))
        return NULL;
    if (sa->sa_family == AF_INET) {
        *len = 4;
        return (const uint8_t *)sa + offsetof(struct sockaddr_in, sin_addr);
    }
    *len = 16;
    return (const uint8_t *)sa + offsetof(struct sockaddr_in6, sin6_addr);
}

int addr_from_bytes(const uint8_t *bytes, size_t len, uint16_t port, struct sockaddr_storage *out)
{
    if (!bytes || !out || (len != 4 && len != 16))
        return ADDR_EINVAL;
    memset(out, 0, sizeof *out);
    if (len == 4) {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        memcpy(&sin.sin_addr, bytes, 4);
        memcpy(out, &sin, sizeof sin);
    } else {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof sin6);
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        memcpy(&sin6.sin6_addr, bytes, 16);
        memcpy(out, &sin6, sizeof sin6);
    }
    return 0;
}

int addr_parse(const char *text, uint16_t port, struct sockaddr_storage *out)
{
    uint8_t b[16];
    if (!text || !out)
        return ADDR_EINVAL;
    if (inet_pton(AF_INET, text, b) == 1)
        return addr_from_bytes(b, 4, port, out);
    if (inet_pton(AF_INET6, text, b) == 1)
        return addr_from_bytes(b, 16, port, out);
    return ADDR_ENOTIP;
}

int addr_parse_ipv4_loose(const char *text, uint16_t port, struct sockaddr_storage *out)
{
    struct in_addr a;
    if (!text || !out)
        return ADDR_EINVAL;
    /* inet_aton stops at white space and ignores what follows: only the
     * characters of numbers and dots may be there at all */
    if (!*text || text[strspn(text, "0123456789abcdefABCDEFxX.")] != '\0')
        return ADDR_ENOTIP;
    if (inet_aton(text, &a) == 0)
        return ADDR_ENOTIP;
    return addr_from_bytes((const uint8_t *)&a.s_addr, 4, port, out);
}

int addr_is_literal(const char *text)
{
    struct sockaddr_storage ss;
    return addr_parse(text, 0, &ss) == 0;
}

int addr_parse_scoped(const char *text, uint16_t port, struct sockaddr_storage *out, socklen_t *len)
{
    uint8_t b[16];
    char buf[64];

    if (!text || !out || !len)
        return ADDR_EINVAL;
    memset(out, 0, sizeof *out);
    *len = 0;
    if (!strchr(text, ':')) {
        if (inet_pton(AF_INET, text, b) != 1)
            return ADDR_ENOTIP;
        addr_from_bytes(b, 4, port, out);
        *len = sizeof(struct sockaddr_in);
        return 0;
    }

    struct sockaddr_in6 sin6;
    const char *pct = strchr(text, '%');
    size_t alen = pct ? (size_t)(pct - text) : strlen(text);

    memset(&sin6, 0, sizeof sin6);
    if (alen >= sizeof buf)
        return ADDR_ENOTIP;
    memcpy(buf, text, alen);
    buf[alen] = '\0';
    if (inet_pton(AF_INET6, buf, &sin6.sin6_addr) != 1)
        return ADDR_ENOTIP;
    if (pct) {
        const char *scope = pct + 1;
        char *end;
        unsigned long idx;

        if (!*scope)
            return ADDR_ESCOPEEMPTY;
        errno = 0;
        idx = strtoul(scope, &end, 10);
        if (*end != '\0' || errno || idx > UINT32_MAX)
            idx = if_nametoindex(scope);
        if (idx == 0)
            return ADDR_ESCOPE;
        sin6.sin6_scope_id = (uint32_t)idx;
    }
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    memcpy(out, &sin6, sizeof sin6);
    *len = sizeof sin6;
    return 0;
}

int addr_port_parse(const char *text, uint16_t *port)
{
    unsigned long v = 0;

    if (!text || !*text || strlen(text) > 5)
        return ADDR_EPORT;
    for (const char *s = text; *s; s++) {
        if (*s < '0' || *s > '9')
            return ADDR_EPORT;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v < 1 || v > 65535)
        return ADDR_EPORT;
    *port = (uint16_t)v;
    return 0;
}

int addr_parse_endpoint(const char *text, uint16_t default_port, struct sockaddr_storage *out,
                        socklen_t *len)
{
    char host[ADDR_ENDPOINT_MAX];
    const char *port_s = NULL;
    size_t tlen, hlen;
    uint16_t port = default_port;

    if (!text || !out || !len)
        return ADDR_EINVAL;
    memset(out, 0, sizeof *out);
    *len = 0;
    tlen = strlen(text);
    if (tlen == 0)
        return ADDR_EEMPTY;
    if (tlen >= ADDR_ENDPOINT_MAX)
        return ADDR_ETOOLONG;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return ADDR_EBRACKET;
        hlen = (size_t)(close - text - 1);
        memcpy(host, text + 1, hlen);
        host[hlen] = '\0';
        if (close[1] == ':' || close[1] == '@' || close[1] == '#')
            port_s = close + 2;
        else if (close[1] != '\0')
            return ADDR_EAFTERBRACKET;
        if (!strchr(host, ':'))
            return ADDR_EBRACKETV4;
    } else {
        const char *sep = strpbrk(text, "@#");
        const char *colon = strchr(text, ':');

        if (!sep && colon && !strchr(colon + 1, ':'))
            sep = colon; /* 192.0.2.1:53 */
        hlen = sep ? (size_t)(sep - text) : tlen;
        memcpy(host, text, hlen);
        host[hlen] = '\0';
        if (sep)
            port_s = sep + 1;
    }
    if (port_s && addr_port_parse(port_s, &port) != 0)
        return ADDR_EPORT;
    if (port == 0)
        return ADDR_ENOPORT;
    return addr_parse_scoped(host, port, out, len);
}

char *addr_format(const struct sockaddr *sa, unsigned flags, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    size_t n;
    const uint8_t *b = addr_bytes(sa, &n);
    int w;

    if (!buf || len == 0)
        return buf;
    if (!b || !inet_ntop(n == 4 ? AF_INET : AF_INET6, b, ip, sizeof ip)) {
        snprintf(buf, len, "?");
        return buf;
    }
    if (!(flags & ADDR_FORMAT_PORT))
        w = snprintf(buf, len, "%s", ip);
    else
        w = snprintf(buf, len, n == 4 ? "%s:%u" : "[%s]:%u", ip, (unsigned)addr_port(sa));
    if (w < 0 || (size_t)w >= len)
        snprintf(buf, len, "?");
    return buf;
}

/* ---- comparing ------------------------------------------------------------- */

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int addr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    size_t la, lb;
    const uint8_t *aa = addr_bytes(a, &la), *ba = addr_bytes(b, &lb);
    return aa && ba && la == lb && memcmp(aa, ba, la) == 0;
}

int addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
    return addr_same_ip(a, b) && addr_port(a) == addr_port(b);
}

int addr_is_unspecified(const struct sockaddr *sa)
{
    static const uint8_t zero[16];
    size_t len;
    const uint8_t *a = addr_bytes(sa, &len);
    return a && memcmp(a, zero, len) == 0;
}

/* Loopback as the kernel routes it: 127/8, ::1 and v4-mapped 127/8 (not the
 * embedded forms addr_kind_of() also calls loopback, which no socket reaches). */
static int is_routed_loopback(const struct sockaddr *sa)
{
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    size_t len;
    const uint8_t *a = addr_bytes(sa, &len);
    if (!a)
        return 0;
    if (len == 4)
        return a[0] == 127;
    return memcmp(a, v6_loopback, 16) == 0 || (memcmp(a, v4mapped_prefix, 12) == 0 && a[12] == 127);
}

int addr_reaches(const struct sockaddr *listen, const struct sockaddr *dest)
{
    if (!is_ip(listen) || !is_ip(dest) || addr_port(listen) != addr_port(dest))
        return 0;
    if (addr_same_ip(listen, dest))
        return 1;
    if (!addr_is_unspecified(listen))
        return 0;
    /* a wildcard listener gets what is sent to loopback, and v6 any gets v4 too */
    if (listen->sa_family == AF_INET6 || listen->sa_family == dest->sa_family)
        return is_routed_loopback(dest);
    return 0;
}

/* ---- networks -------------------------------------------------------------- */

static void mask_bits(uint8_t *addr, size_t nbytes, int prefix)
{
    for (size_t i = 0; i < nbytes; i++) {
        int keep = prefix - (int)i * 8;
        if (keep >= 8)
            continue;
        addr[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
}

int addr_cidr_parse(const char *text, struct addr_cidr *out)
{
    char host[64];
    const char *slash;
    size_t hlen;
    int max, perr;

    if (!text || !out)
        return ADDR_EINVAL;
    slash = strchr(text, '/');
    hlen = slash ? (size_t)(slash - text) : strlen(text);
    memset(out, 0, sizeof *out);
    if (hlen == 0)
        return ADDR_EEMPTY;
    if (hlen >= sizeof host)
        return ADDR_ENOTIP;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
        perr = ADDR_EPREFIX4;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
        perr = ADDR_EPREFIX6;
    } else {
        return ADDR_ENOTIP;
    }
    out->prefix = max;
    if (slash) {
        const char *s = slash + 1;
        int v = 0;
        if (!*s || strlen(s) > 3)
            return perr;
        for (; *s; s++) {
            if (*s < '0' || *s > '9')
                return perr;
            v = v * 10 + (*s - '0');
        }
        if (v > max)
            return perr;
        out->prefix = v;
    }
    /* ::ffff:a.b.c.d/104 is the IPv4 network a.b.c.d/8 */
    if (out->family == AF_INET6 && out->prefix >= 96 &&
        memcmp(out->addr, v4mapped_prefix, 12) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->prefix -= 96;
    }
    /* host bits are allowed (192.168.1.1/24 names the LAN) and cleared */
    mask_bits(out->addr, out->family == AF_INET ? 4 : 16, out->prefix);
    return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *net, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;

    if (memcmp(a, net, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

int addr_cidr_match(const struct addr_cidr *nets, size_t n, const struct sockaddr *sa)
{
    const uint8_t *b, *v4 = NULL, *v6 = NULL;
    size_t len;

    if (!nets || !(b = addr_bytes(sa, &len)))
        return 0;
    if (len == 4) {
        v4 = b;
    } else {
        v6 = b;
        if (memcmp(v6, v4mapped_prefix, 12) == 0)
            v4 = v6 + 12;
    }
    for (size_t i = 0; i < n; i++) {
        if (nets[i].family == AF_INET && v4 && prefix_equal(v4, nets[i].addr, nets[i].prefix))
            return 1;
        if (nets[i].family == AF_INET6 && v6 && prefix_equal(v6, nets[i].addr, nets[i].prefix))
            return 1;
    }
    return 0;
}

/* ---- kinds of address ------------------------------------------------------ */

static enum addr_kind kind_v4(const uint8_t *a)
{
    if (a[0] == 0)
        return ADDR_UNSPECIFIED; /* 0.0.0.0/8, "this network" */
    if (a[0] == 127)
        return ADDR_LOOPBACK;
    if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
        return ADDR_PRIVATE;
    if (a[0] == 100 && (a[1] & 0xc0) == 64)
        return ADDR_SHARED;
    if (a[0] == 169 && a[1] == 254)
        return ADDR_LINK_LOCAL;
    if ((a[0] & 0xf0) == 224)
        return ADDR_MULTICAST;
    if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
        return ADDR_BROADCAST;
    if ((a[0] & 0xf0) == 240)
        return ADDR_RESERVED;
    return ADDR_GLOBAL;
}

static enum addr_kind kind_v6(const uint8_t *a)
{
    static const uint8_t zero[12];
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

    if (memcmp(a, v4mapped_prefix, 12) == 0)
        return kind_v4(a + 12);
    if (memcmp(a, zero, 12) == 0) {
        static const uint8_t one[4] = {0, 0, 0, 1}, none[4] = {0, 0, 0, 0};
        if (memcmp(a + 12, none, 4) == 0)
            return ADDR_UNSPECIFIED;
        if (memcmp(a + 12, one, 4) == 0)
            return ADDR_LOOPBACK;
        enum addr_kind k = kind_v4(a + 12);
        return k == ADDR_GLOBAL ? ADDR_V4_COMPATIBLE : k;
    }
    if (memcmp(a, nat64, 12) == 0)
        return kind_v4(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 */
        return kind_v4(a + 2);
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) { /* Teredo */
        uint8_t client[4] = {(uint8_t)~a[12], (uint8_t)~a[13], (uint8_t)~a[14], (uint8_t)~a[15]};
        return kind_v4(client);
    }
    if ((a[0] & 0xfe) == 0xfc)
        return ADDR_UNIQUE_LOCAL;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return ADDR_LINK_LOCAL;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return ADDR_SITE_LOCAL;
    if (a[0] == 0xff)
        return ADDR_MULTICAST;
    return ADDR_GLOBAL;
}

enum addr_kind addr_kind_of(const struct sockaddr *sa)
{
    size_t len;
    const uint8_t *b = addr_bytes(sa, &len);
    if (!b)
        return ADDR_NOT_IP;
    return len == 4 ? kind_v4(b) : kind_v6(b);
}

const char *addr_kind_describe(enum addr_kind kind)
{
    switch (kind) {
#define ADDR_KIND_CASE(name, text)                                                                 \
    case name:                                                                                     \
        return text;
        ADDR_KINDS(ADDR_KIND_CASE)
#undef ADDR_KIND_CASE
    }
    return "an unknown kind of address";
}
