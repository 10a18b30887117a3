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
    CHECK_STR_EQ(addr_format(SA(ss), text, sizeof text), "192.0.2.7");

    CHECK_INT_EQ(addr_parse("::ffff:127.0.0.1", 80, &ss), 0);
    CHECK_INT_EQ(ss.ss_family, AF_INET6);
    CHECK_INT_EQ(addr_port(SA(ss)), 80);
    b = addr_bytes(SA(ss), &len);
    CHECK_INT_EQ(len, 16);
    CHECK_INT_EQ(b[10], 0xff);
    CHECK_INT_EQ(b[12], 127);
    CHECK_STR_EQ(addr_format(SA(ss), text, sizeof text), "::ffff:127.0.0.1");

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
    CHECK_STR_EQ(addr_format(SA(ss), text, sizeof text), "?");
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
            CHECK_STR_EQ(addr_format(SA(ss), text, sizeof text), "127.0.0.1");
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

int main(void)
{
    UNIT_RUN(test_cidr_parse);
    UNIT_RUN(test_cidr_match);
    UNIT_RUN(test_sockaddr_access);
    UNIT_RUN(test_ipv4_loose);
    UNIT_RUN(test_kinds);
    return UNIT_END();
}
