/* include/addr.h — IP addresses: reading and writing socket addresses without
 * aliasing casts, parsing them ("addr@port" too) and formatting them, comparing
 * them, CIDR networks (parse, match), and what kind of address a
 * destination is (loopback, private, link-local, ...), IPv4 addresses embedded
 * in IPv6 ones included.
 *
 * Every function here is pure (no allocation, no I/O but the interface-name
 * lookup of addr_parse_scoped/addr_parse_endpoint). A "sockaddr" argument
 * is an AF_INET or AF_INET6 address (struct sockaddr_in / sockaddr_in6, or a
 * sockaddr_storage holding one); other families are "not an address" and each
 * function says what it returns for them. Addresses are read and written
 * through memcpy at the members' offsets: writing a sockaddr_storage through a
 * sockaddr_in pointer breaks strict aliasing, and GCC -O2 does miscompile it.
 */
#ifndef DANEGUARD_ADDR_H
#define DANEGUARD_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_ERRORS(X)                                                                             \
    X(ADDR_EEMPTY, -1, "no address")                                                               \
    X(ADDR_ENOTIP, -2, "not an IP address")                                                        \
    X(ADDR_EPREFIX4, -3, "prefix length must be 0..32")                                            \
    X(ADDR_EPREFIX6, -4, "prefix length must be 0..128")                                           \
    X(ADDR_EINVAL, -5, "invalid argument")                                                         \
    X(ADDR_ETOOLONG, -6, "too long for an address")                                                \
    X(ADDR_EBRACKET, -7, "missing ']'")                                                            \
    X(ADDR_EAFTERBRACKET, -8, "unexpected text after ']'")                                         \
    X(ADDR_EBRACKETV4, -9, "brackets are for IPv6 addresses")                                      \
    X(ADDR_EPORT, -10, "port must be a number 1..65535")                                           \
    X(ADDR_ENOPORT, -11, "no port given")                                                          \
    X(ADDR_ESCOPEEMPTY, -12, "empty scope after '%'")                                              \
    X(ADDR_ESCOPE, -13, "unknown interface after '%'")

enum addr_error {
#define ADDR_ENUM(name, value, text) name = value,
    ADDR_ERRORS(ADDR_ENUM)
#undef ADDR_ENUM
};

/* A static string for err (0 is "success"); never NULL. */
const char *addr_strerror(int err);

/* The text of the longest address with brackets and port, with its NUL:
 * "[" INET6_ADDRSTRLEN - 1 "]:65535". */
#define ADDR_TEXT_MAX 54

/* The longest endpoint addr_parse_endpoint() takes, with its NUL. */
#define ADDR_ENDPOINT_MAX 64

/* ---- socket addresses ---------------------------------------------------- */

/* The port in host order; 0 when sa is NULL or not AF_INET/AF_INET6. */
uint16_t addr_port(const struct sockaddr *sa);

/* The length of sa's family's struct (sizeof struct sockaddr_in or
 * sockaddr_in6), for bind(2) and connect(2); 0 when not an IP address. */
socklen_t addr_len(const struct sockaddr *sa);

/* Set the port (host order) of an AF_INET/AF_INET6 address; others untouched. */
void addr_set_port(struct sockaddr_storage *ss, uint16_t port);

/* The address bytes inside sa (4 for AF_INET, 16 for AF_INET6), pointing into
 * sa; *len is set. NULL (and *len 0) when sa is NULL or not an IP address. */
const uint8_t *addr_bytes(const struct sockaddr *sa, size_t *len);

/* Fill *out (zeroed first) with an AF_INET (len 4) or AF_INET6 (len 16)
 * address of these bytes and port. Returns 0, or ADDR_EINVAL for another len. */
int addr_from_bytes(const uint8_t *bytes, size_t len, uint16_t port, struct sockaddr_storage *out);

/* A numeric address as written in a URL host or a CONNECT target, without
 * brackets: dotted-quad IPv4 ("192.0.2.1") or IPv6 ("::ffff:127.0.0.1").
 * Returns 0, or ADDR_ENOTIP. */
int addr_parse(const char *text, uint16_t port, struct sockaddr_storage *out);

/* The other spellings of an IPv4 address that inet_aton(3) and URL parsers
 * (WHATWG "IPv4 number parser") take: fewer than four parts ("127.1"), and
 * parts in hex ("0x7f.0.0.1", "0x7f000001") or octal ("0177.0.0.1") or one
 * big decimal ("2130706433"). Returns 0 when text is one (out set), else
 * ADDR_ENOTIP; a name like "www.example" is not. */
int addr_parse_ipv4_loose(const char *text, uint16_t port, struct sockaddr_storage *out);

/* Whether text is a numeric IPv4 or IPv6 address as addr_parse() takes it. */
int addr_is_literal(const char *text);

/* A numeric address as written in a configuration or resolv.conf: IPv4, or
 * IPv6 with an optional zone ("fe80::1%eth0", "fe80::1%2"; an interface name
 * is looked up with if_nametoindex(3)). *out is zeroed, then set with port
 * (host order); *len is the family's struct length. Returns 0, or
 * ADDR_ENOTIP, ADDR_ESCOPEEMPTY, ADDR_ESCOPE. */
int addr_parse_scoped(const char *text, uint16_t port, struct sockaddr_storage *out,
                      socklen_t *len);

/* A port in decimal, 1..65535, digits only. Returns 0 (*port set) or ADDR_EPORT. */
int addr_port_parse(const char *text, uint16_t *port);

/* An endpoint as Stubby and daneguard.yml write it: "addr@port", "addr#port",
 * "[v6]:port", "[v6]@port", "v4:port", or "addr" alone with default_port (0:
 * a port is required). addr is what addr_parse_scoped() takes. text is at
 * most ADDR_ENDPOINT_MAX - 1 characters. Returns 0 (*out, *len set as
 * addr_parse_scoped does), or an ADDR_E* code that says what is wrong. */
int addr_parse_endpoint(const char *text, uint16_t default_port, struct sockaddr_storage *out,
                        socklen_t *len);

/* Flags of addr_format(). */
#define ADDR_FORMAT_PORT 1u /* "192.0.2.1:53", "[2001:db8::1]:53" */

/* sa as text into buf (ADDR_TEXT_MAX is enough): the address alone
 * ("127.0.0.1", "::ffff:127.0.0.1"), or with ADDR_FORMAT_PORT its port too,
 * an IPv6 address in brackets. "?" when sa is not an IP address or buf is too
 * small. A zone (sin6_scope_id) is not shown. Returns buf. */
char *addr_format(const struct sockaddr *sa, unsigned flags, char *buf, size_t len);

/* Whether a and b are IP addresses of one family with the same address bytes
 * (ports, zones and flow labels aside). 0 when either is not an IP address. */
int addr_same_ip(const struct sockaddr *a, const struct sockaddr *b);

/* addr_same_ip() and the same port. */
int addr_equal(const struct sockaddr *a, const struct sockaddr *b);

/* Whether sa is the unspecified address, 0.0.0.0 or :: (a wildcard listener). */
int addr_is_unspecified(const struct sockaddr *sa);

/* Whether a socket bound to listen receives what is sent to dest: the same
 * port, and the same address, or listen a wildcard and dest a loopback address
 * as the kernel routes it (127/8, ::1, ::ffff:127/104; an IPv6 wildcard gets
 * IPv4 too). */
int addr_reaches(const struct sockaddr *listen, const struct sockaddr *dest);

/* ---- networks -------------------------------------------------------------- */

/* A network: "127.0.0.0/8", "::1/128", or a bare address (a /32 or /128). */
struct addr_cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* 4 or 16 significant bytes; host bits are zero */
    int prefix;       /* 0..32 or 0..128 */
};

/* Parse "net/prefix" or a bare address into *out. Host bits are allowed and
 * cleared ("192.168.1.1/24" is the LAN); "::ffff:a.b.c.d/N" with N >= 96 is
 * the IPv4 network a.b.c.d/(N-96). Returns 0 or an ADDR_E* code. */
int addr_cidr_parse(const char *text, struct addr_cidr *out);

/* Whether sa is inside one of nets[0..n). A v4-mapped IPv6 address
 * (::ffff:a.b.c.d) is its IPv4 address, for IPv4 networks; IPv6 networks see
 * it as written. 0 for NULL or another family. */
int addr_cidr_match(const struct addr_cidr *nets, size_t n, const struct sockaddr *sa);

/* ---- kinds of address ------------------------------------------------------ */

/* What an address is, for deciding whether a proxy may connect to it. Every
 * kind but ADDR_GLOBAL stays inside this machine or its networks. */
#define ADDR_KINDS(X)                                                                              \
    X(ADDR_GLOBAL, "a global address")                                                             \
    X(ADDR_UNSPECIFIED, "an unspecified address") /* 0.0.0.0/8, :: */                              \
    X(ADDR_LOOPBACK, "a loopback address")        /* 127.0.0.0/8, ::1 */                           \
    X(ADDR_PRIVATE, "a private (RFC 1918) address")                                                \
    X(ADDR_SHARED, "a carrier-grade NAT (100.64.0.0/10) address")                                  \
    X(ADDR_LINK_LOCAL, "a link-local address") /* 169.254.0.0/16, fe80::/10 */                     \
    X(ADDR_UNIQUE_LOCAL, "a unique-local (fc00::/7) address")                                      \
    X(ADDR_SITE_LOCAL, "a site-local (fec0::/10) address")                                         \
    X(ADDR_MULTICAST, "a multicast address") /* 224.0.0.0/4, ff00::/8 */                           \
    X(ADDR_BROADCAST, "the broadcast address")                                                     \
    X(ADDR_RESERVED, "a reserved (240.0.0.0/4) address")                                           \
    X(ADDR_V4_COMPATIBLE, "a deprecated IPv4-compatible address") /* ::/96 */                      \
    X(ADDR_NOT_IP, "not an IP address")

enum addr_kind {
#define ADDR_KIND_ENUM(name, text) name,
    ADDR_KINDS(ADDR_KIND_ENUM)
#undef ADDR_KIND_ENUM
};

/* The kind of sa. An IPv4 address carried in an IPv6 one is judged by that
 * IPv4 address when it is not global: v4-mapped (::ffff:0:0/96), the NAT64
 * well-known prefix (64:ff9b::/96, RFC 6052), 6to4 (2002::/16, RFC 3056) and
 * Teredo's client (2001::/32, RFC 4380); v4-compatible (::/96, deprecated by
 * RFC 4291) is never global. ADDR_NOT_IP for NULL or another family. */
enum addr_kind addr_kind_of(const struct sockaddr *sa);

/* "a loopback address", ...: a static string, never NULL. */
const char *addr_kind_describe(enum addr_kind kind);

#endif
