/* tests/unit/test_addr.c — daemon/addr.c: socket addresses, CIDR networks and
 * the kinds of address the proxy refuses to connect to. */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

/* An address from its text (port 0); the test's own parser, not addr_parse. */
static struct sockaddr_storage client(const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 s6;
        memset(&s6, 0, sizeof s6);
        s6.sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, addr, &s6.sin6_addr) != 1)
            fprintf(stderr, "  bad test address %s\n", addr);
        memcpy(&ss, &s6, sizeof s6);
    } else {
        struct sockaddr_in s4;
        memset(&s4, 0, sizeof s4);
        s4.sin_family = AF_INET;
        if (inet_pton(AF_INET, addr, &s4.sin_addr) != 1)
            fprintf(stderr, "  bad test address %s\n", addr);
        memcpy(&ss, &s4, sizeof s4);
    }
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void test_cidr_parse(void)
{
    struct addr_cidr c;
    static const uint8_t net10[4] = {10, 0, 0, 0};
    static const uint8_t lan[4] = {192, 168, 1, 0};

    CHECK_INT_EQ(addr_cidr_parse("10.0.0.0/8", &c), 0);
    CHECK_INT_EQ(c.family, AF_INET);
    CHECK_INT_EQ(c.prefix, 8);
    CHECK_MEM_EQ(c.addr, net10, 4);
    CHECK_INT_EQ(addr_cidr_parse("192.168.1.77/24", &c), 0); /* host bits cleared */
    CHECK_MEM_EQ(c.addr, lan, 4);
    CHECK_INT_EQ(addr_cidr_parse("192.0.2.1", &c), 0);
    CHECK_INT_EQ(c.prefix, 32);
    CHECK_INT_EQ(addr_cidr_parse("0.0.0.0/0", &c), 0);
    CHECK_INT_EQ(c.prefix, 0);
    CHECK_INT_EQ(addr_cidr_parse("::1/128", &c), 0);
    CHECK_INT_EQ(c.family, AF_INET6);
    CHECK_INT_EQ(c.addr[15], 1);
    CHECK_INT_EQ(addr_cidr_parse("2001:db8::/32", &c), 0);
    CHECK_INT_EQ(c.prefix, 32);
    CHECK_INT_EQ(addr_cidr_parse("fd12:3456::1/7", &c), 0);
    CHECK_INT_EQ(c.addr[0], 0xfc);
    CHECK_INT_EQ(c.addr[1], 0);
    CHECK_INT_EQ(addr_cidr_parse("::ffff:10.0.0.0/104", &c), 0); /* a v4 network */
    CHECK_INT_EQ(c.family, AF_INET);
    CHECK_INT_EQ(c.prefix, 8);
    CHECK_MEM_EQ(c.addr, net10, 4);

    static const char *const bad[] = {"",       "/8",           "10.0.0.0/",    "10.0.0.0/33",
                                      "::/129", "10.0.0.0/-1",  "10.0.0.0/8/8", "10.0.0/8",
                                      "host/8", "10.0.0.0/0x8", "10.0.0.0/0008"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = addr_cidr_parse(bad[i], &c);
        if (rc >= 0)
            fprintf(stderr, "  parsed but should not: %s\n", bad[i]);
        CHECK(rc < 0);
    }
}

static void test_cidr_match(void)
{
    struct addr_cidr nets[4];
    struct sockaddr_storage ss;

    CHECK_INT_EQ(addr_cidr_parse("127.0.0.0/8", &nets[0]), 0);
    CHECK_INT_EQ(addr_cidr_parse("::1/128", &nets[1]), 0);
    CHECK_INT_EQ(addr_cidr_parse("192.168.4.0/22", &nets[2]), 0);
    CHECK_INT_EQ(addr_cidr_parse("2001:db8:80::/41", &nets[3]), 0);

    static const struct {
        const char *addr;
        int in;
    } cases[] = {
        {"127.0.0.1", 1},
        {"127.255.255.255", 1},
        {"128.0.0.1", 0},
        {"::1", 1},
        {"::2", 0},
        {"::ffff:127.0.0.1", 1},
        {"::ffff:128.0.0.1", 0},
        {"192.168.4.1", 1},
        {"192.168.7.255", 1},
        {"192.168.8.0", 0},
        {"192.168.3.255", 0},
        {"::ffff:192.168.5.5", 1},
        {"2001:db8:80::1", 1},
        {"2001:db8:ff:ffff::", 1},
        {"2001:db8:100::", 0},
        {"2001:db8:7f::", 0},
        {"::127.0.0.1", 0},
        {"10.0.0.1", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ss = client(cases[i].addr);
        int got = addr_cidr_match(nets, 4, (struct sockaddr *)&ss);
        if (got != cases[i].in)
            fprintf(stderr, "  %s: expected %d\n", cases[i].addr, cases[i].in);
        CHECK_INT_EQ(got, cases[i].in);
    }
    ss = client("127.0.0.1");
    CHECK_INT_EQ(addr_cidr_match(nets, 0, (struct sockaddr *)&ss), 0);
    CHECK_INT_EQ(addr_cidr_match(nets, 4, NULL), 0);
    ss.ss_family = AF_UNIX;
    CHECK_INT_EQ(addr_cidr_match(nets, 4, (struct sockaddr *)&ss), 0);

    /* everything, both families; ::/0 also covers v4-mapped clients */
    CHECK_INT_EQ(addr_cidr_parse("0.0.0.0/0", &nets[0]), 0);
    CHECK_INT_EQ(addr_cidr_parse("::/0", &nets[1]), 0);
    ss = client("203.0.113.9");
    CHECK_INT_EQ(addr_cidr_match(nets, 1, (struct sockaddr *)&ss), 1);
    CHECK_INT_EQ(addr_cidr_match(&nets[1], 1, (struct sockaddr *)&ss), 0);
    ss = client("2001:db8::9");
    CHECK_INT_EQ(addr_cidr_match(nets, 1, (struct sockaddr *)&ss), 0);
    CHECK_INT_EQ(addr_cidr_match(&nets[1], 1, (struct sockaddr *)&ss), 1);
}

static void test_sockaddr_access(void)
{
    struct sockaddr_storage ss;
    char text[ADDR_TEXT_MAX];
    size_t len;
    static const uint8_t v4[4] = {192, 0, 2, 7};

    CHECK_INT_EQ(addr_parse("192.0.2.7", 8080, &ss), 0);
    CHECK_INT_EQ(ss.ss_family, AF_INET);
    CHECK_INT_EQ(addr_port(SA(ss)), 8080);
    const uint8_t *b = addr_bytes(SA(ss), &len);
    CHECK(b != NULL);
    CHECK_INT_EQ(len, 4);
    CHECK_MEM_EQ(b, v4, 4);
    addr_set_port(&ss, 443);
    CHECK_INT_EQ(addr_port(SA(ss)), 443);
    CHECK_STR_EQ(addr_format(SA(ss), 0, text, sizeof text), "192.0.2.7");

    CHECK_INT_EQ(addr_parse("::ffff:127.0.0.1", 80, &ss), 0);
    CHECK_INT_EQ(ss.ss_family, AF_INET6);
    CHECK_INT_EQ(addr_port(SA(ss)), 80);
    b = addr_bytes(SA(ss), &len);
    CHECK_INT_EQ(len, 16);
    CHECK_INT_EQ(b[10], 0xff);
    CHECK_INT_EQ(b[12], 127);
    CHECK_STR_EQ(addr_format(SA(ss), 0, text, sizeof text), "::ffff:127.0.0.1");

    /* addr_from_bytes round-trips */
    struct sockaddr_storage again;
    CHECK_INT_EQ(addr_from_bytes(b, 16, 80, &again), 0);
    CHECK_MEM_EQ(&again, &ss, sizeof(struct sockaddr_in6));
    CHECK_INT_EQ(addr_from_bytes(b, 5, 80, &again), ADDR_EINVAL);

    /* not addresses */
    static const char *const bad[] = {"",      "localhost", "127.1",  "0x7f000001",
                                      "[::1]", "1.2.3.4 ",  "::1%lo", "256.0.0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (addr_parse(bad[i], 80, &ss) != ADDR_ENOTIP)
            fprintf(stderr, "  parsed but should not: \"%s\"\n", bad[i]);
        CHECK_INT_EQ(addr_parse(bad[i], 80, &ss), ADDR_ENOTIP);
    }
    ss.ss_family = AF_UNIX;
    CHECK_INT_EQ(addr_port(SA(ss)), 0);
    CHECK(addr_bytes(SA(ss), &len) == NULL);
    CHECK_INT_EQ(len, 0);
    CHECK_STR_EQ(addr_format(SA(ss), 0, text, sizeof text), "?");
    CHECK_INT_EQ(addr_port(NULL), 0);
    CHECK_STR_EQ(addr_strerror(ADDR_EPREFIX4), "prefix length must be 0..32");
    CHECK_STR_EQ(addr_strerror(0), "success");
}

/* The spellings of 127.0.0.1 a URL may use; addr_parse takes none of them. */
static void test_ipv4_loose(void)
{
    static const char *const loopback[] = {"127.0.0.1",  "127.1",      "127.0.1",
                                           "2130706433", "0x7f000001", "0x7F.0.0.1",
                                           "0177.0.0.1", "0177.1",     "0x7f.1"};
    struct sockaddr_storage ss;
    char text[ADDR_TEXT_MAX];

    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++) {
        int rc = addr_parse_ipv4_loose(loopback[i], 80, &ss);
        if (rc != 0)
            fprintf(stderr, "  not taken: %s\n", loopback[i]);
        CHECK_INT_EQ(rc, 0);
        if (rc == 0) {
            CHECK_STR_EQ(addr_format(SA(ss), 0, text, sizeof text), "127.0.0.1");
            CHECK_INT_EQ(addr_kind_of(SA(ss)), ADDR_LOOPBACK);
            CHECK_INT_EQ(addr_port(SA(ss)), 80);
        }
    }
    static const char *const names[] = {
        "",         "www.example", "deadbeef",  "0x7f.example", "1.2.3.4 foo", "1.2.3.4.",
        "08.0.0.1", "4294967296",  "1.2.3.4.5", "-1",           "0x",          "a.b.c.d"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc = addr_parse_ipv4_loose(names[i], 80, &ss);
        if (rc == 0)
            fprintf(stderr, "  taken but should not: \"%s\"\n", names[i]);
        CHECK_INT_EQ(rc, ADDR_ENOTIP);
    }
}

static void test_kinds(void)
{
    static const struct {
        const char *addr;
        enum addr_kind kind;
    } cases[] = {
        /* IPv4 */
        {"0.0.0.0", ADDR_UNSPECIFIED},
        {"0.1.2.3", ADDR_UNSPECIFIED},
        {"127.0.0.1", ADDR_LOOPBACK},
        {"127.255.255.254", ADDR_LOOPBACK},
        {"10.0.0.1", ADDR_PRIVATE},
        {"10.255.255.255", ADDR_PRIVATE},
        {"172.16.0.1", ADDR_PRIVATE},
        {"172.31.255.255", ADDR_PRIVATE},
        {"172.15.255.255", ADDR_GLOBAL},
        {"172.32.0.0", ADDR_GLOBAL},
        {"192.168.1.1", ADDR_PRIVATE},
        {"192.169.0.1", ADDR_GLOBAL},
        {"100.64.0.1", ADDR_SHARED},
        {"100.127.255.255", ADDR_SHARED},
        {"100.63.255.255", ADDR_GLOBAL},
        {"100.128.0.0", ADDR_GLOBAL},
        {"169.254.169.254", ADDR_LINK_LOCAL},
        {"169.253.0.1", ADDR_GLOBAL},
        {"224.0.0.1", ADDR_MULTICAST},
        {"239.255.255.250", ADDR_MULTICAST},
        {"240.0.0.1", ADDR_RESERVED},
        {"255.255.255.254", ADDR_RESERVED},
        {"255.255.255.255", ADDR_BROADCAST},
        {"8.8.8.8", ADDR_GLOBAL},
        {"192.0.2.1", ADDR_GLOBAL},
        {"126.255.255.255", ADDR_GLOBAL},
        {"128.0.0.1", ADDR_GLOBAL},
        /* IPv6 */
        {"::", ADDR_UNSPECIFIED},
        {"::1", ADDR_LOOPBACK},
        {"::2", ADDR_UNSPECIFIED},           /* v4-compatible 0.0.0.2 */
        {"::127.0.0.1", ADDR_LOOPBACK},      /* v4-compatible */
        {"::8.8.8.8", ADDR_V4_COMPATIBLE},   /* deprecated, never global */
        {"::ffff:127.0.0.1", ADDR_LOOPBACK}, /* v4-mapped */
        {"::ffff:7f00:1", ADDR_LOOPBACK},    /* the same, written in hex */
        {"::ffff:10.1.2.3", ADDR_PRIVATE},
        {"::ffff:169.254.1.1", ADDR_LINK_LOCAL},
        {"::ffff:0.0.0.0", ADDR_UNSPECIFIED},
        {"::ffff:8.8.8.8", ADDR_GLOBAL},
        {"64:ff9b::127.0.0.1", ADDR_LOOPBACK}, /* NAT64 */
        {"64:ff9b::192.168.0.1", ADDR_PRIVATE},
        {"64:ff9b::8.8.8.8", ADDR_GLOBAL},
        {"2002:7f00:1::1", ADDR_LOOPBACK}, /* 6to4 of 127.0.0.1 */
        {"2002:c0a8:101::1", ADDR_PRIVATE},
        {"2002:808:808::1", ADDR_GLOBAL},
        {"2001:0:4136:e378:8000:63bf:80ff:fffe", ADDR_LOOPBACK}, /* Teredo, client 127.0.0.1 */
        {"2001:0:4136:e378:8000:63bf:3fff:fdd2", ADDR_GLOBAL},   /* client 192.0.2.45 */
        {"fc00::1", ADDR_UNIQUE_LOCAL},
        {"fdff:ffff::1", ADDR_UNIQUE_LOCAL},
        {"fe80::1", ADDR_LINK_LOCAL},
        {"febf::1", ADDR_LINK_LOCAL},
        {"fec0::1", ADDR_SITE_LOCAL},
        {"ff02::1", ADDR_MULTICAST},
        {"2001:db8::1", ADDR_GLOBAL},
        {"2a00:1450::1", ADDR_GLOBAL},
        {"fbff::1", ADDR_GLOBAL},
        {"::1:0:0:1", ADDR_GLOBAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_storage ss = client(cases[i].addr);
        enum addr_kind got = addr_kind_of(SA(ss));
        if (got != cases[i].kind)
            fprintf(stderr, "  %s: %s, expected %s\n", cases[i].addr, addr_kind_describe(got),
                    addr_kind_describe(cases[i].kind));
        CHECK_INT_EQ(got, cases[i].kind);
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    CHECK_INT_EQ(addr_kind_of(SA(ss)), ADDR_NOT_IP);
    CHECK_INT_EQ(addr_kind_of(NULL), ADDR_NOT_IP);
    CHECK_STR_EQ(addr_kind_describe(ADDR_LOOPBACK), "a loopback address");
    CHECK_STR_EQ(addr_kind_describe((enum addr_kind)99), "an unknown kind of address");
}

/* addr_parse_endpoint: the "addr@port" forms of daneguard.yml and Stubby
 * (moved here from daemon/config.c; test_config.c checks the messages). */
static void test_endpoint_parse(void)
{
    static const struct {
        const char *text;
        int family;
        const char *addr;
        uint16_t port;
    } ok[] = {
        {"127.0.0.1@53", AF_INET, "127.0.0.1", 53},
        {"::1@53", AF_INET6, "::1", 53},
        {"0::1@5353", AF_INET6, "::1", 5353},
        {"127.0.0.1#53", AF_INET, "127.0.0.1", 53},
        {"[::1]:53", AF_INET6, "::1", 53},
        {"[::1]@54", AF_INET6, "::1", 54},
        {"[::1]#55", AF_INET6, "::1", 55},
        {"[2001:db8::1]", AF_INET6, "2001:db8::1", 99},
        {"127.0.0.1", AF_INET, "127.0.0.1", 99},
        {"192.0.2.1:8080", AF_INET, "192.0.2.1", 8080},
        {"::", AF_INET6, "::", 99},
        {"::ffff:192.0.2.1@53", AF_INET6, "::ffff:192.0.2.1", 53},
        {"fe80::1%1@53", AF_INET6, "fe80::1", 53},
        {"[fe80::1%1]:53", AF_INET6, "fe80::1", 53},
        {"0.0.0.0@65535", AF_INET, "0.0.0.0", 65535},
    };
    static const struct {
        const char *text;
        int rc;
    } bad[] = {
        {"", ADDR_EEMPTY},
        {"localhost", ADDR_ENOTIP},
        {"127.0.0.1@", ADDR_EPORT},
        {"127.0.0.1@0", ADDR_EPORT},
        {"127.0.0.1@65536", ADDR_EPORT},
        {"127.0.0.1@53x", ADDR_EPORT},
        {"127.0.0.1@-1", ADDR_EPORT},
        {"127.0.0.1@000053", ADDR_EPORT},
        {"[::1", ADDR_EBRACKET},
        {"[::1]x", ADDR_EAFTERBRACKET},
        {"[127.0.0.1]:53", ADDR_EBRACKETV4},
        {"1.2.3", ADDR_ENOTIP},
        {"::1@53@53", ADDR_EPORT},
        {"fe80::1%@53", ADDR_ESCOPEEMPTY},
        {"fe80::1%nosuchif0@53", ADDR_ESCOPE},
        {"1.2.3.4%1@53", ADDR_ENOTIP},
        {"1.2.3.4.5", ADDR_ENOTIP},
        {"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000@53", ADDR_ETOOLONG},
    };
    struct sockaddr_storage ss;
    socklen_t len;
    char text[ADDR_TEXT_MAX];

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = addr_parse_endpoint(ok[i].text, 99, &ss, &len);
        if (rc != 0)
            fprintf(stderr, "  did not parse: %s (%s)\n", ok[i].text, addr_strerror(rc));
        CHECK_INT_EQ(rc, 0);
        CHECK_INT_EQ(ss.ss_family, ok[i].family);
        CHECK_STR_EQ(addr_format(SA(ss), 0, text, sizeof text), ok[i].addr);
        CHECK_INT_EQ(addr_port(SA(ss)), ok[i].port);
        CHECK_INT_EQ(len, addr_len(SA(ss)));
        CHECK_INT_EQ(len, ok[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                  : sizeof(struct sockaddr_in6));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = addr_parse_endpoint(bad[i].text, 53, &ss, &len);
        if (rc != bad[i].rc)
            fprintf(stderr, "  \"%s\": %s, expected %s\n", bad[i].text, addr_strerror(rc),
                    addr_strerror(bad[i].rc));
        CHECK_INT_EQ(rc, bad[i].rc);
        CHECK_INT_EQ(len, 0);
    }
    /* no default port: one must be written */
    CHECK_INT_EQ(addr_parse_endpoint("127.0.0.1", 0, &ss, &len), ADDR_ENOPORT);
    CHECK_INT_EQ(addr_parse_endpoint("127.0.0.1@1", 0, &ss, &len), 0);
    CHECK_INT_EQ(addr_parse_endpoint(NULL, 53, &ss, &len), ADDR_EINVAL);
    CHECK_STR_EQ(addr_strerror(ADDR_EPORT), "port must be a number 1..65535");
}

/* addr_parse_scoped: zones, by number and by interface name. */
static void test_scoped_parse(void)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 sin6;
    socklen_t len;

    CHECK_INT_EQ(addr_parse_scoped("fe80::1%7", 853, &ss, &len), 0);
    memcpy(&sin6, &ss, sizeof sin6);
    CHECK_INT_EQ(sin6.sin6_scope_id, 7);
    CHECK_INT_EQ(addr_port(SA(ss)), 853);
    CHECK_INT_EQ(len, sizeof sin6);
    CHECK_INT_EQ(addr_parse_scoped("fe80::1%lo", 0, &ss, &len), 0); /* lo is always there */
    memcpy(&sin6, &ss, sizeof sin6);
    CHECK(sin6.sin6_scope_id != 0);
    CHECK_INT_EQ(addr_parse_scoped("2001:db8::1", 0, &ss, &len), 0);
    memcpy(&sin6, &ss, sizeof sin6);
    CHECK_INT_EQ(sin6.sin6_scope_id, 0);
    CHECK_INT_EQ(addr_parse_scoped("192.0.2.1", 5, &ss, &len), 0);
    CHECK_INT_EQ(len, sizeof(struct sockaddr_in));
    CHECK_INT_EQ(addr_port(SA(ss)), 5);
    CHECK_INT_EQ(addr_parse_scoped("192.0.2.1@53", 0, &ss, &len), ADDR_ENOTIP);
    CHECK_INT_EQ(addr_parse_scoped("fe80::1%", 0, &ss, &len), ADDR_ESCOPEEMPTY);
    CHECK_INT_EQ(addr_parse_scoped("fe80::1%99999999999", 0, &ss, &len), ADDR_ESCOPE);
    CHECK_INT_EQ(addr_parse_scoped("", 0, &ss, &len), ADDR_ENOTIP);
}

static void test_port_parse(void)
{
    uint16_t port = 7;
    static const char *const bad[] = {"",   "0",  "65536", "99999", "123456",
                                      "8o", "-1", "+80",   " 80"};

    CHECK_INT_EQ(addr_port_parse("1", &port), 0);
    CHECK_INT_EQ(port, 1);
    CHECK_INT_EQ(addr_port_parse("65535", &port), 0);
    CHECK_INT_EQ(port, 65535);
    CHECK_INT_EQ(addr_port_parse("00080", &port), 0);
    CHECK_INT_EQ(port, 80);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT_EQ(addr_port_parse(bad[i], &port), ADDR_EPORT);
        CHECK_INT_EQ(port, 80); /* untouched */
    }
    CHECK_INT_EQ(addr_port_parse(NULL, &port), ADDR_EPORT);
}

/* addr_format: the one formatter (the proxy's own address, peers, check's output). */
static void test_format(void)
{
    struct sockaddr_storage ss;
    char text[ADDR_TEXT_MAX], small[9];

    CHECK_INT_EQ(addr_parse("192.0.2.1", 8080, &ss), 0);
    CHECK_STR_EQ(addr_format(SA(ss), 0, text, sizeof text), "192.0.2.1");
    CHECK_STR_EQ(addr_format(SA(ss), ADDR_FORMAT_PORT, text, sizeof text), "192.0.2.1:8080");
    CHECK_INT_EQ(addr_parse("2001:db8::1", 443, &ss), 0);
    CHECK_STR_EQ(addr_format(SA(ss), 0, text, sizeof text), "2001:db8::1");
    CHECK_STR_EQ(addr_format(SA(ss), ADDR_FORMAT_PORT, text, sizeof text), "[2001:db8::1]:443");
    /* the longest text fits ADDR_TEXT_MAX */
    CHECK_INT_EQ(addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535, &ss), 0);
    CHECK_STR_EQ(addr_format(SA(ss), ADDR_FORMAT_PORT, text, sizeof text),
                 "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    /* too small a buffer: "?", never a cut address */
    CHECK_STR_EQ(addr_format(SA(ss), 0, small, sizeof small), "?");
    CHECK_INT_EQ(addr_parse("::1", 53, &ss), 0);
    CHECK_STR_EQ(addr_format(SA(ss), ADDR_FORMAT_PORT, small, sizeof small), "[::1]:53");
    CHECK_STR_EQ(addr_format(NULL, ADDR_FORMAT_PORT, text, sizeof text), "?");
    CHECK(addr_format(SA(ss), 0, NULL, 10) == NULL);
}

static void test_compare(void)
{
    struct sockaddr_storage a, b, c;

    CHECK_INT_EQ(addr_parse("192.0.2.1", 53, &a), 0);
    CHECK_INT_EQ(addr_parse("192.0.2.1", 54, &b), 0);
    CHECK_INT_EQ(addr_parse("::ffff:192.0.2.1", 53, &c), 0);
    CHECK_INT_EQ(addr_same_ip(SA(a), SA(b)), 1);
    CHECK_INT_EQ(addr_equal(SA(a), SA(b)), 0);
    CHECK_INT_EQ(addr_equal(SA(a), SA(a)), 1);
    CHECK_INT_EQ(addr_same_ip(SA(a), SA(c)), 0); /* a v4-mapped address is another family */
    CHECK_INT_EQ(addr_same_ip(SA(a), NULL), 0);
    CHECK_INT_EQ(addr_len(SA(a)), sizeof(struct sockaddr_in));
    CHECK_INT_EQ(addr_len(SA(c)), sizeof(struct sockaddr_in6));
    CHECK_INT_EQ(addr_len(NULL), 0);
    CHECK_INT_EQ(addr_is_unspecified(SA(a)), 0);
    CHECK_INT_EQ(addr_parse("0.0.0.0", 53, &a), 0);
    CHECK_INT_EQ(addr_is_unspecified(SA(a)), 1);
    CHECK_INT_EQ(addr_parse("::", 53, &a), 0);
    CHECK_INT_EQ(addr_is_unspecified(SA(a)), 1);
    CHECK_INT_EQ(addr_is_unspecified(NULL), 0);

    CHECK_INT_EQ(addr_is_literal("192.0.2.1"), 1);
    CHECK_INT_EQ(addr_is_literal("2001:db8::1"), 1);
    CHECK_INT_EQ(addr_is_literal("[2001:db8::1]"), 0);
    CHECK_INT_EQ(addr_is_literal("127.1"), 0);
    CHECK_INT_EQ(addr_is_literal("www.example"), 0);
    CHECK_INT_EQ(addr_is_literal(NULL), 0);
}

/* addr_reaches: would a daemon listening on L receive what is sent to D? */
static void test_reaches(void)
{
    static const struct {
        const char *listen, *dest;
        int reaches;
    } cases[] = {
        {"127.0.0.1@53", "127.0.0.1@53", 1},
        {"127.0.0.1@53", "127.0.0.1@54", 0},
        {"127.0.0.1@53", "127.0.0.53@53", 0}, /* another loopback address */
        {"0.0.0.0@53", "127.0.0.53@53", 1},
        {"0.0.0.0@53", "192.0.2.1@53", 0}, /* may be ours, may not: not claimed */
        {"::@53", "127.0.0.1@53", 1},      /* v6 any gets v4 too */
        {"::@53", "::1@53", 1},
        {"::@53", "::ffff:127.0.0.2@53", 1},
        {"0.0.0.0@53", "::1@53", 0}, /* v4 any does not get v6 */
        {"::1@53", "::1@53", 1},
        {"::1@53", "127.0.0.1@53", 0},
        {"192.0.2.1@53", "192.0.2.1@53", 1},
        {"::@53", "::127.0.0.1@53", 0}, /* v4-compatible: not routed to loopback */
    };
    struct sockaddr_storage l, d;
    socklen_t len;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT_EQ(addr_parse_endpoint(cases[i].listen, 0, &l, &len), 0);
        CHECK_INT_EQ(addr_parse_endpoint(cases[i].dest, 0, &d, &len), 0);
        int got = addr_reaches(SA(l), SA(d));
        if (got != cases[i].reaches)
            fprintf(stderr, "  %s -> %s: %d\n", cases[i].listen, cases[i].dest, got);
        CHECK_INT_EQ(got, cases[i].reaches);
    }
    CHECK_INT_EQ(addr_reaches(NULL, SA(d)), 0);
}

int main(void)
{
    UNIT_RUN(test_cidr_parse);
    UNIT_RUN(test_cidr_match);
    UNIT_RUN(test_sockaddr_access);
    UNIT_RUN(test_ipv4_loose);
    UNIT_RUN(test_kinds);
    UNIT_RUN(test_endpoint_parse);
    UNIT_RUN(test_scoped_parse);
    UNIT_RUN(test_port_parse);
    UNIT_RUN(test_format);
    UNIT_RUN(test_compare);
    UNIT_RUN(test_reaches);
    return UNIT_END();
}
