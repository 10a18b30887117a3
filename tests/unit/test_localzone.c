/* tests/unit/test_localzone.c — local names (resolver/localzone.c): the
 * route each name takes (longest suffix, local data first, forward zones over
 * default local zones), local data parsing, the hosts file, the answers built
 * here, and the rebinding filter. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "localzone.h"
#include "unit.h"

static struct config cfg;

static struct localzone *table(const char *hosts_text)
{
    static char path[64];
    struct localzone *lz = NULL;
    char err[256] = "";

    if (hosts_text) {
        snprintf(path, sizeof path, "/tmp/test_localzone.%d.hosts", (int)getpid());
        FILE *f = fopen(path, "w");
        if (!f)
            return NULL;
        fputs(hosts_text, f);
        fclose(f);
        snprintf(cfg.resolver.hosts_file, sizeof cfg.resolver.hosts_file, "%s", path);
    } else {
        cfg.resolver.hosts_file[0] = '\0';
    }
    if (localzone_new(&cfg.resolver, &lz, err, sizeof err) < 0)
        fprintf(stderr, "  localzone_new: %s\n", err);
    if (hosts_text)
        unlink(path);
    return lz;
}

static void base_config(void)
{
    struct config_resolver *r = &cfg.resolver;
    config_defaults(&cfg);
    snprintf(r->forward_zones[0].name, 256, "home.world.test.");
    snprintf(r->forward_zones[1].name, 256, "1.168.192.in-addr.arpa.");
    snprintf(r->forward_zones[2].name, 256, "home.arpa.");
    snprintf(r->forward_zones[3].name, 256, "deep.home.world.test.");
    r->forward_zones[3].validated = 1;
    r->n_forward_zones = 4;
    snprintf(r->domain_insecure[0], 256, "broken.example.");
    r->n_domain_insecure = 1;
    snprintf(r->local_data[0], CONFIG_LOCAL_DATA_LEN, "router.lan. 3600 IN A 192.168.1.1");
    snprintf(r->local_data[1], CONFIG_LOCAL_DATA_LEN, "printer.home.world.test. AAAA fd00::7");
    snprintf(r->local_data[2], CONFIG_LOCAL_DATA_LEN, "alias.lan. CNAME router.lan.");
    r->n_local_data = 3;
}

static enum localzone_route route_of(const struct localzone *lz, const char *name, size_t *zone,
                                     int *insecure)
{
    uint8_t wire[DNS_MAX_NAME];
    size_t len;
    struct localzone_match m;
    if (dns_name_from_text(name, wire, &len) < 0)
        return (enum localzone_route)-1;
    localzone_match(lz, wire, len, &m);
    if (zone)
        *zone = m.zone;
    if (insecure)
        *insecure = m.insecure;
    return m.route;
}

static void test_routes(void)
{
    struct localzone *lz;
    size_t zone = 99;
    int insecure = 0;

    base_config();
    lz = table(NULL);
    CHECK(lz != NULL);
    if (!lz)
        return;
    /* RFC 6761 / 6303 / 7686 */
    CHECK_INT_EQ(route_of(lz, "localhost.", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "a.b.LocalHost", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "x.invalid", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "abc.onion", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "4.3.2.10.in-addr.arpa", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "4.3.20.172.in-addr.arpa", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "4.3.32.172.in-addr.arpa", NULL, NULL), LOCALZONE_UPSTREAM);
    CHECK_INT_EQ(route_of(lz, "1.0.0.127.in-addr.arpa", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "9.9.254.169.in-addr.arpa", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "1.0.e.f.ip6.arpa", NULL, NULL), LOCALZONE_UPSTREAM);
    CHECK_INT_EQ(route_of(lz, "1.0.8.e.f.ip6.arpa", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "x.d.f.ip6.arpa", NULL, NULL), LOCALZONE_LOCAL);
    /* test. stays with the upstream: the test world lives there */
    CHECK_INT_EQ(route_of(lz, "www.world.test", NULL, NULL), LOCALZONE_UPSTREAM);
    CHECK_INT_EQ(route_of(lz, "example.com", NULL, NULL), LOCALZONE_UPSTREAM);
    CHECK_INT_EQ(route_of(lz, ".", NULL, NULL), LOCALZONE_UPSTREAM);
    /* forward zones: longest suffix wins; over a default local zone of the same
     * name (home.arpa.) and a longer one (1.168.192 inside 168.192) */
    CHECK_INT_EQ(route_of(lz, "router.home.world.test", &zone, NULL), LOCALZONE_FORWARD);
    CHECK_INT_EQ(zone, 0);
    CHECK_INT_EQ(route_of(lz, "HOME.world.test.", &zone, NULL), LOCALZONE_FORWARD);
    CHECK_INT_EQ(zone, 0);
    CHECK_INT_EQ(route_of(lz, "a.deep.home.world.test", &zone, NULL), LOCALZONE_FORWARD);
    CHECK_INT_EQ(zone, 3);
    CHECK_INT_EQ(route_of(lz, "xhome.world.test", NULL, NULL), LOCALZONE_UPSTREAM);
    CHECK_INT_EQ(route_of(lz, "2.1.168.192.in-addr.arpa", &zone, NULL), LOCALZONE_FORWARD);
    CHECK_INT_EQ(zone, 1);
    CHECK_INT_EQ(route_of(lz, "1.2.168.192.in-addr.arpa", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "nas.home.arpa", &zone, NULL), LOCALZONE_FORWARD);
    CHECK_INT_EQ(zone, 2);
    /* local data wins over a forward zone at its own name only */
    CHECK_INT_EQ(route_of(lz, "printer.home.world.test", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "x.printer.home.world.test", NULL, NULL), LOCALZONE_FORWARD);
    CHECK_INT_EQ(route_of(lz, "router.lan", NULL, NULL), LOCALZONE_LOCAL);
    CHECK_INT_EQ(route_of(lz, "other.lan", NULL, NULL), LOCALZONE_UPSTREAM);
    /* the PTR derived from local data: 192.168.1.1 is inside the forward zone,
     * but the name has data */
    CHECK_INT_EQ(route_of(lz, "1.1.168.192.in-addr.arpa", NULL, NULL), LOCALZONE_LOCAL);
    /* negative trust anchors */
    CHECK_INT_EQ(route_of(lz, "www.broken.example", NULL, &insecure), LOCALZONE_INSECURE);
    CHECK_INT_EQ(insecure, 1);
    CHECK_INT_EQ(route_of(lz, "broken.example", NULL, &insecure), LOCALZONE_INSECURE);
    CHECK_INT_EQ(route_of(lz, "notbroken.example", NULL, &insecure), LOCALZONE_UPSTREAM);
    CHECK_INT_EQ(insecure, 0);
    CHECK_STR_EQ(localzone_insecure_text(lz), "broken.example.");
    localzone_free(lz);
    localzone_free(NULL);
}

/* An answer built here: rcode, counts, the first answer's type and rdata. */
struct parsed {
    int rcode, aa;
    unsigned an, ns;
    uint16_t type;
    uint8_t rdata[64];
    uint16_t rdlen;
    char soa_owner[256];
};

static int answer(const struct localzone *lz, const char *name, uint16_t qtype, struct parsed *p)
{
    uint8_t wire[DNS_MAX_NAME], msg[4096];
    size_t len, mlen;
    struct dns_rr_iter it;
    struct dns_rr rr;
    memset(p, 0, sizeof *p);
    if (dns_name_from_text(name, wire, &len) < 0 ||
        localzone_answer(lz, wire, len, qtype, msg, sizeof msg, &mlen) < 0 ||
        dns_rr_iter_init(&it, msg, mlen) < 0)
        return -1;
    p->rcode = dns_msg_rcode(msg, mlen);
    p->aa = (msg[2] & 0x04) != 0;
    while (dns_rr_iter_next(&it, &rr) == 1) {
        if (rr.section == DNS_SECTION_ANSWER) {
            if (!p->an++) {
                p->type = rr.type;
                p->rdlen = rr.rdlen < sizeof p->rdata ? rr.rdlen : sizeof p->rdata;
                memcpy(p->rdata, rr.rdata, p->rdlen);
            }
        } else if (rr.section == DNS_SECTION_AUTHORITY) {
            p->ns++;
            if (rr.type == DNS_TYPE_SOA)
                dns_name_to_text(rr.owner, rr.owner_len, p->soa_owner, sizeof p->soa_owner);
        }
    }
    return 0;
}

static void test_answers(void)
{
    static const uint8_t lo4[4] = {127, 0, 0, 1}, router[4] = {192, 168, 1, 1};
    static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    struct localzone *lz;
    struct parsed p;

    base_config();
    lz = table(NULL);
    CHECK(lz != NULL);
    if (!lz)
        return;
    CHECK_INT_EQ(answer(lz, "localhost", DNS_TYPE_A, &p), 0);
    CHECK_INT_EQ(p.rcode, DNS_RCODE_NOERROR);
    CHECK_INT_EQ(p.an, 1);
    CHECK_MEM_EQ(p.rdata, lo4, 4);
    CHECK_INT_EQ(answer(lz, "www.LOCALHOST.", DNS_TYPE_AAAA, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    CHECK_INT_EQ(p.type, DNS_TYPE_AAAA);
    CHECK_MEM_EQ(p.rdata, lo6, 16);
    CHECK_INT_EQ(answer(lz, "localhost", DNS_TYPE_MX, &p), 0); /* NODATA */
    CHECK_INT_EQ(p.rcode, DNS_RCODE_NOERROR);
    CHECK_INT_EQ(p.an, 0);
    CHECK_INT_EQ(p.ns, 1);
    CHECK_STR_EQ(p.soa_owner, "localhost.");
    CHECK_INT_EQ(answer(lz, "1.0.0.127.in-addr.arpa", DNS_TYPE_PTR, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    CHECK_INT_EQ(p.type, DNS_TYPE_PTR);
    CHECK_INT_EQ(answer(lz, "x.y.invalid", DNS_TYPE_A, &p), 0);
    CHECK_INT_EQ(p.rcode, DNS_RCODE_NXDOMAIN);
    CHECK_INT_EQ(p.aa, 1);
    CHECK_STR_EQ(p.soa_owner, "invalid.");
    CHECK_INT_EQ(answer(lz, "4.3.2.10.in-addr.arpa", DNS_TYPE_PTR, &p), 0);
    CHECK_INT_EQ(p.rcode, DNS_RCODE_NXDOMAIN);
    CHECK_STR_EQ(p.soa_owner, "10.in-addr.arpa.");
    /* local data, and the PTR made from it */
    CHECK_INT_EQ(answer(lz, "Router.LAN", DNS_TYPE_A, &p), 0);
    CHECK_INT_EQ(p.rcode, DNS_RCODE_NOERROR);
    CHECK_INT_EQ(p.an, 1);
    CHECK_MEM_EQ(p.rdata, router, 4);
    CHECK_INT_EQ(answer(lz, "router.lan", DNS_TYPE_AAAA, &p), 0);
    CHECK_INT_EQ(p.rcode, DNS_RCODE_NOERROR);
    CHECK_INT_EQ(p.an, 0);
    CHECK_INT_EQ(answer(lz, "1.1.168.192.in-addr.arpa", DNS_TYPE_PTR, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    CHECK_INT_EQ(p.rdlen, 12);
    CHECK_MEM_EQ(p.rdata, "\6router\3lan\0", 12);
    CHECK_INT_EQ(answer(lz, "alias.lan", DNS_TYPE_A, &p), 0); /* the CNAME */
    CHECK_INT_EQ(p.an, 1);
    CHECK_INT_EQ(p.type, DNS_TYPE_CNAME);
    CHECK_INT_EQ(answer(lz, "alias.lan", DNS_TYPE_ANY, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    localzone_free(lz);
}

static void test_local_data_parse(void)
{
    struct localzone_rr rr;
    char err[256];

    CHECK_INT_EQ(localzone_rr_parse("router.lan. 3600 IN A 192.168.1.1", &rr, err, sizeof err), 0);
    CHECK_INT_EQ(rr.type, DNS_TYPE_A);
    CHECK_INT_EQ(rr.ttl, 3600);
    CHECK_INT_EQ(rr.rdlen, 4);
    CHECK_INT_EQ(rr.owner_len, 12);
    CHECK_INT_EQ(localzone_rr_parse("Router.Lan A 192.168.1.1", &rr, err, sizeof err), 0);
    CHECK_MEM_EQ(rr.owner, "\6router\3lan\0", 12); /* absolute, lowercased */
    CHECK_INT_EQ(rr.ttl, 3600);
    CHECK_INT_EQ(localzone_rr_parse("nas.lan. 60 AAAA fd00::1", &rr, err, sizeof err), 0);
    CHECK_INT_EQ(rr.type, DNS_TYPE_AAAA);
    CHECK_INT_EQ(rr.ttl, 60);
    CHECK_INT_EQ(localzone_rr_parse("_http._tcp.lan. SRV 0 0 80 nas.lan.", &rr, err, sizeof err),
                 0);
    CHECK_INT_EQ(rr.type, DNS_TYPE_SRV);
    CHECK_INT_EQ(localzone_rr_parse("x.lan. TXT \"a b\" c", &rr, err, sizeof err), 0);
    CHECK_INT_EQ(rr.type, DNS_TYPE_TXT);
    CHECK_INT_EQ(localzone_rr_parse("x.lan. A", &rr, err, sizeof err), -1);
    CHECK_INT_EQ(localzone_rr_parse("x.lan. A 300.1.1.1", &rr, err, sizeof err), -1);
    CHECK_INT_EQ(localzone_rr_parse("", &rr, err, sizeof err), -1);
    CHECK_INT_EQ(localzone_rr_parse("garbage", &rr, err, sizeof err), -1);
    CHECK_INT_EQ(localzone_rr_parse("x.lan. CH TXT hi", &rr, err, sizeof err), -1);
    CHECK(strstr(err, "class IN") != NULL);
    CHECK_INT_EQ(localzone_rr_parse("x.lan. RRSIG A 8 2 3600 20300101000000 20200101000000 1 "
                                    "lan. AAAA",
                                    &rr, err, sizeof err),
                 -1);
}

static void test_hosts_file(void)
{
    static const uint8_t nas[4] = {192, 168, 1, 10};
    struct localzone *lz;
    struct parsed p;
    char err[256];

    base_config();
    lz = table("# comment\n"
               "\n"
               "192.168.1.10   nas.lan nas   # trailing comment\n"
               "192.168.1.10   second.lan\n"
               "fd00::10\tnas.lan\n"
               "fe80::1%eth0 linklocal.lan\n");
    CHECK(lz != NULL);
    if (!lz)
        return;
    CHECK_INT_EQ(answer(lz, "nas.lan", DNS_TYPE_A, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    CHECK_MEM_EQ(p.rdata, nas, 4);
    CHECK_INT_EQ(answer(lz, "nas", DNS_TYPE_A, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    CHECK_INT_EQ(answer(lz, "nas.lan", DNS_TYPE_AAAA, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    CHECK_INT_EQ(answer(lz, "second.lan", DNS_TYPE_A, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    CHECK_INT_EQ(answer(lz, "linklocal.lan", DNS_TYPE_AAAA, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    /* the first name of an address is its PTR */
    CHECK_INT_EQ(answer(lz, "10.1.168.192.in-addr.arpa", DNS_TYPE_PTR, &p), 0);
    CHECK_INT_EQ(p.an, 1);
    CHECK_MEM_EQ(p.rdata, "\3nas\3lan\0", 9);
    CHECK_INT_EQ(answer(lz, "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
                        DNS_TYPE_PTR, &p),
                 0);
    CHECK_INT_EQ(p.an, 1);
    localzone_free(lz);

    /* errors name the file and the line */
    {
        struct localzone *bad = NULL;
        FILE *f = fopen("/tmp/test_localzone.bad.hosts", "w");
        if (f) {
            fputs("127.0.0.1 localhost\n\nnot-an-address name\n", f);
            fclose(f);
        }
        snprintf(cfg.resolver.hosts_file, sizeof cfg.resolver.hosts_file, "%s",
                 "/tmp/test_localzone.bad.hosts");
        CHECK_INT_EQ(localzone_new(&cfg.resolver, &bad, err, sizeof err), -1);
        CHECK(strstr(err, "/tmp/test_localzone.bad.hosts:3: not an IP address") != NULL);
        f = fopen("/tmp/test_localzone.bad.hosts", "w");
        if (f) {
            fputs("10.0.0.1 bad..name\n", f);
            fclose(f);
        }
        CHECK_INT_EQ(localzone_new(&cfg.resolver, &bad, err, sizeof err), -1);
        CHECK(strstr(err, ":1: not a host name") != NULL);
        unlink("/tmp/test_localzone.bad.hosts");
        snprintf(cfg.resolver.hosts_file, sizeof cfg.resolver.hosts_file, "%s",
                 "/nonexistent/hosts");
        CHECK_INT_EQ(localzone_new(&cfg.resolver, &bad, err, sizeof err), -1);
        CHECK(strstr(err, "/nonexistent/hosts") != NULL);
    }
}

/* A response with given A/AAAA answers (and an RRSIG over the A set). */
static size_t response(uint8_t *msg, const char *const *addrs, size_t n, int with_rrsig)
{
    static const uint8_t name[] = "\3www\7example\3com";
    size_t len = 0, an = 0;
    uint8_t hdr[12] = {0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 1};
    memcpy(msg, hdr, 12);
    len = 12;
    memcpy(msg + len, name, sizeof name);
    len += sizeof name;
    memcpy(msg + len, "\0\1\0\1", 4);
    len += 4;
    for (size_t i = 0; i < n; i++) {
        uint8_t a[16];
        int v6 = strchr(addrs[i], ':') != NULL;
        inet_pton(v6 ? AF_INET6 : AF_INET, addrs[i], a);
        memcpy(msg + len, name, sizeof name);
        len += sizeof name;
        msg[len++] = 0;
        msg[len++] = v6 ? 28 : 1;
        memcpy(msg + len, "\0\1\0\0\0\x3c\0", 7);
        len += 7;
        msg[len++] = v6 ? 16 : 4;
        memcpy(msg + len, a, v6 ? 16 : 4);
        len += v6 ? 16 : 4;
        an++;
    }
    if (with_rrsig) {
        memcpy(msg + len, name, sizeof name);
        len += sizeof name;
        memcpy(msg + len, "\0\x2e\0\1\0\0\0\x3c\0\x14", 10); /* RRSIG, rdlen 20 */
        len += 10;
        memset(msg + len, 0, 20);
        msg[len + 1] = 1; /* covers A */
        len += 20;
        an++;
    }
    msg[7] = (uint8_t)an;
    /* an OPT in the additional section */
    memcpy(msg + len, "\0\0\x29\x04\xd0\0\0\0\0\0\0", 11);
    len += 11;
    return len;
}

static void test_rebind_filter(void)
{
    uint8_t msg[1024];
    size_t len, before;
    char first[64];
    struct dns_rr_iter it;
    struct dns_rr rr;
    unsigned a = 0, aaaa = 0, sig = 0, opt = 0;

    /* global addresses stay untouched */
    static const char *const global[] = {"93.184.216.34", "2606:2800:220:1::1"};
    before = len = response(msg, global, 2, 1);
    CHECK_INT_EQ(localzone_rebind_filter(msg, &len, first, sizeof first), 0);
    CHECK_INT_EQ(len, before);

    /* one private address takes its whole RRset and the RRSIG over it */
    static const char *const mixed[] = {"93.184.216.34", "192.168.1.1", "2606:2800:220:1::1"};
    len = response(msg, mixed, 3, 1);
    CHECK_INT_EQ(localzone_rebind_filter(msg, &len, first, sizeof first), 3);
    CHECK_STR_EQ(first, "192.168.1.1");
    CHECK_INT_EQ(dns_rr_iter_init(&it, msg, len), 0);
    while (dns_rr_iter_next(&it, &rr) == 1) {
        a += rr.type == DNS_TYPE_A;
        aaaa += rr.type == DNS_TYPE_AAAA;
        sig += rr.type == DNS_TYPE_RRSIG;
        opt += rr.type == DNS_TYPE_OPT;
    }
    CHECK_INT_EQ(a, 0);
    CHECK_INT_EQ(aaaa, 1);
    CHECK_INT_EQ(sig, 0);
    CHECK_INT_EQ(opt, 1);
    CHECK_INT_EQ(msg[7], 1);  /* ANCOUNT */
    CHECK_INT_EQ(msg[11], 1); /* ARCOUNT: the OPT */

    /* loopback, link-local, unique-local, v4-mapped loopback, unspecified */
    static const char *const cases[] = {
        "127.0.0.1", "::1", "169.254.1.1", "fe80::1", "fd00::1", "::ffff:127.0.0.1",
        "0.0.0.0",   "10.1.2.3", "172.16.0.1",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        len = response(msg, &cases[i], 1, 0);
        int n = localzone_rebind_filter(msg, &len, first, sizeof first);
        if (n != 1)
            fprintf(stderr, "  %s: %d removed\n", cases[i], n);
        CHECK_INT_EQ(n, 1);
        CHECK_INT_EQ(msg[7], 0);
    }
    /* malformed */
    len = 5;
    CHECK(localzone_rebind_filter(msg, &len, NULL, 0) < 0);
}

/* One HTTPS record (RFC 9460) for www.example.com: priority 1, target ".",
 * then the SvcParams given as bytes. */
static size_t https_response(uint8_t *msg, const uint8_t *params, size_t plen)
{
    static const uint8_t name[] = "\3www\7example\3com";
    uint8_t hdr[12] = {0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    size_t len = 0;
    memcpy(msg, hdr, 12);
    len = 12;
    memcpy(msg + len, name, sizeof name);
    len += sizeof name;
    memcpy(msg + len, "\0\x41\0\1", 4);
    len += 4;
    memcpy(msg + len, name, sizeof name);
    len += sizeof name;
    memcpy(msg + len, "\0\x41\0\1\0\0\0\x3c", 8);
    len += 8;
    msg[len++] = (uint8_t)((3 + plen) >> 8);
    msg[len++] = (uint8_t)(3 + plen);
    msg[len++] = 0;
    msg[len++] = 1; /* priority */
    msg[len++] = 0; /* target "." */
    memcpy(msg + len, params, plen);
    return len + plen;
}

/* Rebinding through the address hints of an HTTPS or SVCB record: a client
 * that connects to ipv4hint/ipv6hint (as some do before A/AAAA arrive) would
 * reach the LAN as with an A record; the record goes like a private A RRset. */
static void test_rebind_https_hints(void)
{
    uint8_t msg[512];
    size_t len;
    char first[64];
    static const uint8_t v4_loopback[] = {0, 1, 0, 2, 'h', '2', 0, 4, 0, 8,
                                          93, 184, 216, 34, 127, 0, 0, 1};
    static const uint8_t v6_ula[] = {0, 6, 0, 16, 0xfd, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t global[] = {0, 4, 0, 4, 93, 184, 216, 34,
                                     0, 6, 0, 16, 0x26, 0x06, 0x28, 0, 0x02, 0x20, 0, 1,
                                     0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t cut_short[] = {0, 4, 0, 8, 93, 184, 216, 34};

    len = https_response(msg, v4_loopback, sizeof v4_loopback);
    CHECK_INT_EQ(localzone_rebind_filter(msg, &len, first, sizeof first), 1);
    CHECK_STR_EQ(first, "127.0.0.1");
    CHECK_INT_EQ(msg[7], 0);
    len = https_response(msg, v6_ula, sizeof v6_ula);
    CHECK_INT_EQ(localzone_rebind_filter(msg, &len, first, sizeof first), 1);
    CHECK_STR_EQ(first, "fd00::1");
    len = https_response(msg, cut_short, sizeof cut_short);
    CHECK_INT_EQ(localzone_rebind_filter(msg, &len, first, sizeof first), 1);
    size_t before = len = https_response(msg, global, sizeof global);
    CHECK_INT_EQ(localzone_rebind_filter(msg, &len, first, sizeof first), 0);
    CHECK_INT_EQ(len, before);
    CHECK_INT_EQ(msg[7], 1);
}

/* A domain_insecure name inside a forward zone (a broken lab subzone of the
 * company's zone, say) switches validation off there; it must not send the
 * zone's names to the public upstreams instead of the zone's own: they go to
 * the forward zone, unvalidated (resolver.c builds that context for a
 * domain_insecure name that overlaps the zone, either way round). */
static void test_insecure_inside_forward_zone(void)
{
    struct localzone *lz;
    size_t zone = 99;
    int insecure = 0;

    base_config();
    snprintf(cfg.resolver.domain_insecure[1], 256, "lab.deep.home.world.test.");
    snprintf(cfg.resolver.domain_insecure[2], 256, "iot.home.arpa.");
    cfg.resolver.n_domain_insecure = 3;
    lz = table(NULL);
    CHECK(lz != NULL);
    if (!lz)
        return;
    CHECK_INT_EQ(route_of(lz, "host.lab.deep.home.world.test", &zone, &insecure),
                 LOCALZONE_FORWARD);
    CHECK_INT_EQ(zone, 3);
    CHECK_INT_EQ(insecure, 1);
    CHECK_INT_EQ(route_of(lz, "lab.deep.home.world.test", &zone, &insecure), LOCALZONE_FORWARD);
    CHECK_INT_EQ(zone, 3);
    CHECK_INT_EQ(insecure, 1);
    CHECK_INT_EQ(route_of(lz, "cam.iot.home.arpa", &zone, &insecure), LOCALZONE_FORWARD);
    CHECK_INT_EQ(zone, 2);
    CHECK_INT_EQ(insecure, 1);
    /* beside it, the zone as before */
    CHECK_INT_EQ(route_of(lz, "www.deep.home.world.test", &zone, &insecure), LOCALZONE_FORWARD);
    CHECK_INT_EQ(zone, 3);
    CHECK_INT_EQ(insecure, 0);
    /* outside every forward zone a domain_insecure name still goes upstream */
    CHECK_INT_EQ(route_of(lz, "www.broken.example", NULL, &insecure), LOCALZONE_INSECURE);
    localzone_free(lz);
}

int main(void)
{
    UNIT_RUN(test_routes);
    UNIT_RUN(test_insecure_inside_forward_zone);
    UNIT_RUN(test_answers);
    UNIT_RUN(test_local_data_parse);
    UNIT_RUN(test_hosts_file);
    UNIT_RUN(test_rebind_filter);
    UNIT_RUN(test_rebind_https_hints);
    return UNIT_END();
}
