/* tests/unit/test_config.c — the YAML configuration: defaults, every key, a
 * stubby.yml carried over, every class of error with its "file:line: key:"
 * prefix, the shipped conf/daneguard.yml, addresses and networks, and every
 * row of the key tables (the engine that reads them: test_keys.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

/* the tables themselves (static) for test_table_*; config.c and
 * config_resolver.c are the code under test */
#include "../../daemon/config.c"
#include "../../daemon/config_resolver.c"

static struct config cfg;
static char err[CONFIG_ERR_LEN];

static int load_yaml(const char *yaml)
{
    err[0] = '\0';
    return config_load_string("t.yml", yaml, &cfg, err);
}

/* The load must fail and the message must start with prefix (and contain
 * needle, when given). */
#define CHECK_ERR(yaml, prefix, needle)                                                            \
    do {                                                                                           \
        int rc_ = load_yaml(yaml);                                                                 \
        CHECK_INT_EQ(rc_, -1);                                                                     \
        if (strncmp(err, (prefix), strlen(prefix)) != 0) {                                         \
            fprintf(stderr, "  %s:%d: error \"%s\" does not start with \"%s\"\n", __FILE__,        \
                    __LINE__, err, (prefix));                                                      \
            unit_failed_checks++;                                                                  \
        }                                                                                          \
        if ((needle) && !strstr(err, (needle) ? (needle) : "")) {                                  \
            fprintf(stderr, "  %s:%d: error \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                    err, (needle) ? (needle) : "");                                                \
            unit_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_OK(yaml)                                                                             \
    do {                                                                                           \
        int rc_ = load_yaml(yaml);                                                                 \
        if (rc_ != 0) {                                                                            \
            fprintf(stderr, "  %s:%d: load failed: %s\n", __FILE__, __LINE__, err);                \
            unit_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

/* Copies out of sockaddr_storage, not casts: see the strict-aliasing note in config.c. */
static uint16_t port_of(const struct config_sockaddr *sa)
{
    if (sa->ss.ss_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, &sa->ss, sizeof sin);
        return ntohs(sin.sin_port);
    }
    struct sockaddr_in6 sin6;
    memcpy(&sin6, &sa->ss, sizeof sin6);
    return ntohs(sin6.sin6_port);
}

static uint32_t scope_of(const struct config_sockaddr *sa)
{
    struct sockaddr_in6 sin6;
    memcpy(&sin6, &sa->ss, sizeof sin6);
    return sin6.sin6_scope_id;
}

static const char *addr_of(const struct config_sockaddr *sa, char *buf, size_t size)
{
    if (sa->ss.ss_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, &sa->ss, sizeof sin);
        return inet_ntop(AF_INET, &sin.sin_addr, buf, (socklen_t)size);
    }
    struct sockaddr_in6 sin6;
    memcpy(&sin6, &sa->ss, sizeof sin6);
    return inet_ntop(AF_INET6, &sin6.sin6_addr, buf, (socklen_t)size);
}

static struct sockaddr_storage client(const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':')) {
        struct sockaddr_in6 s6;
        memset(&s6, 0, sizeof s6);
        s6.sin6_family = AF_INET6;
        inet_pton(AF_INET6, addr, &s6.sin6_addr);
        memcpy(&ss, &s6, sizeof s6);
    } else {
        struct sockaddr_in s4;
        memset(&s4, 0, sizeof s4);
        s4.sin_family = AF_INET;
        inet_pton(AF_INET, addr, &s4.sin_addr);
        memcpy(&ss, &s4, sizeof s4);
    }
    return ss;
}

static void check_defaults(const struct config *c)
{
    char buf[64];
    const struct config_resolver *r = &c->resolver;
    const struct config_proxy *p = &c->proxy;

    CHECK_STR_EQ(c->user, "");
    CHECK_INT_EQ(r->n_listen, 2);
    CHECK_INT_EQ(r->listen[0].ss.ss_family, AF_INET);
    CHECK_STR_EQ(addr_of(&r->listen[0], buf, sizeof buf), "127.0.0.1");
    CHECK_INT_EQ(port_of(&r->listen[0]), 53);
    CHECK_INT_EQ(r->listen[1].ss.ss_family, AF_INET6);
    CHECK_STR_EQ(addr_of(&r->listen[1], buf, sizeof buf), "::1");
    CHECK_INT_EQ(port_of(&r->listen[1]), 53);
    CHECK_INT_EQ(r->n_upstreams, 0);
    CHECK_INT_EQ(r->n_transports, 2);
    CHECK_INT_EQ(r->transports[0], CONFIG_TRANSPORT_UDP);
    CHECK_INT_EQ(r->transports[1], CONFIG_TRANSPORT_TCP);
    CHECK_INT_EQ(r->tls_authentication_required, 0);
    CHECK_INT_EQ(r->n_trust_anchors, 1);
    CHECK_STR_EQ(r->trust_anchors[0], "/usr/share/dns/root.key");
    CHECK_INT_EQ(r->timeout_ms, 5000);
    CHECK_INT_EQ(r->idle_timeout_ms, 10000);
    CHECK_INT_EQ(r->n_allow, 2);
    CHECK_INT_EQ(r->allow[0].family, AF_INET);
    CHECK_INT_EQ(r->allow[0].prefix, 8);
    CHECK_INT_EQ(r->allow[1].family, AF_INET6);
    CHECK_INT_EQ(r->allow[1].prefix, 128);
    CHECK_INT_EQ(r->cache_size, 32 * 1024 * 1024);
    CHECK_INT_EQ(r->bogus_ttl_s, 60);
    CHECK_INT_EQ(r->dnssec_time_check, CONFIG_TIME_CHECK_ALWAYS);
    CHECK_INT_EQ(r->serve_expired, 0);
    CHECK_INT_EQ(r->serve_expired_ttl_s, 86400);
    CHECK_INT_EQ(r->cache_max_ttl_s, 86400);
    CHECK_INT_EQ(r->cache_max_negative_ttl_s, 3600);
    CHECK_STR_EQ(r->resolv_conf, "/etc/resolv.conf");
    CHECK_INT_EQ(r->max_tcp_clients, 1024);
    CHECK_INT_EQ(r->max_waiting_queries, 4096);
    CHECK_INT_EQ(r->max_waiting_per_client, 64);

    CHECK_INT_EQ(p->enabled, 1);
    CHECK_INT_EQ(p->n_listen, 1);
    CHECK_STR_EQ(addr_of(&p->listen[0], buf, sizeof buf), "127.0.0.1");
    CHECK_INT_EQ(port_of(&p->listen[0]), 8080);
    CHECK_INT_EQ(p->n_allow, 2);
    CHECK_INT_EQ(p->intercept, CONFIG_INTERCEPT_DANE);
    CHECK_STR_EQ(p->ca_dir, "/var/lib/daneguard");
    CHECK_STR_EQ(p->trust_store, "/etc/ssl/certs/ca-certificates.crt");
    CHECK_INT_EQ(p->n_allowed_ports, 2);
    CHECK_INT_EQ(p->allowed_ports[0], 443);
    CHECK_INT_EQ(p->allowed_ports[1], 8443);
    CHECK_INT_EQ(p->max_connections, 1024);
    CHECK_INT_EQ(p->buffer_size, 16384);
    CHECK_INT_EQ(p->handshake_timeout_ms, 10000);
    CHECK_INT_EQ(p->idle_timeout_ms, 300000);
    CHECK_INT_EQ(p->cert_cache_entries, 1000);
    CHECK_INT_EQ(p->n_allow_destinations, 0);
    CHECK_INT_EQ(p->n_http_ports, 2);
    CHECK_INT_EQ(p->http_ports[0].lo, 80);
    CHECK_INT_EQ(p->http_ports[0].hi, 80);
    CHECK_INT_EQ(p->http_ports[1].lo, 8080);
    CHECK_INT_EQ(p->max_connections_per_client, 256);
    CHECK_INT_EQ(p->max_lookups_per_client, 128);
}

static void test_defaults(void)
{
    struct config c;
    config_defaults(&c);
    check_defaults(&c);
}

static void test_empty_files(void)
{
    static const char *const empties[] = {
        "",
        "\n",
        "# only a comment\n\n# another\n",
        "---\n",
        "---\n...\n",
        "~\n",
        "resolver:\nproxy:\n",
        "resolver:\n  # all commented\nproxy:\n  #enabled: false\n",
    };
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        memset(&cfg, 0x5a, sizeof cfg);
        CHECK_OK(empties[i]);
        check_defaults(&cfg);
        CHECK_STR_EQ(cfg.path, "t.yml");
    }
}

static void test_resolver_keys(void)
{
    char buf[64];
    const struct config_resolver *r = &cfg.resolver;

    CHECK_OK("resolver:\n"
             "  listen_addresses:\n"
             "    - 127.0.0.1@5353\n"
             "    - 0::1@5353\n"
             "    - 192.0.2.1\n"
             "  upstream_recursive_servers:\n"
             "    - address_data: 9.9.9.9\n"
             "      tls_auth_name: \"dns.quad9.net\"\n"
             "    - address_data: 2620:fe::fe\n"
             "      port: 5300\n"
             "      tls_port: 8853\n"
             "      tls_auth_name: dns.quad9.net\n"
             "    - tls_port: 443\n"
             "      port: 54\n"
             "      address_data: 192.0.2.53\n"
             "      tls_auth_name: ns.example\n"
             "  dns_transport_list: [TLS, tcp]\n"
             "  tls_authentication: GETDNS_AUTHENTICATION_REQUIRED\n"
             "  dnssec_trust_anchors: /etc/daneguard/test.key\n"
             "  timeout: 2500\n"
             "  idle_timeout: 0\n"
             "  allow: [192.168.0.0/16, \"fd00::/8\", 10.1.2.3]\n"
             "  cache_size: 64m\n"
             "  bogus_ttl: 5\n"
             "  dnssec_time_check: after_sync\n"
             "  serve_expired: yes\n"
             "  serve_expired_ttl: 3600\n"
             "  resolv_conf: /run/resolv.conf\n"
             "  max_tcp_clients: 100\n"
             "  max_waiting_queries: 500\n"
             "  max_waiting_per_client: 7\n"
             "  cache_max_ttl: 600\n"
             "  cache_max_negative_ttl: 60\n");
    CHECK_INT_EQ(r->n_listen, 3);
    CHECK_STR_EQ(r->listen[0].text, "127.0.0.1@5353");
    CHECK_INT_EQ(port_of(&r->listen[0]), 5353);
    CHECK_INT_EQ(r->listen[1].ss.ss_family, AF_INET6);
    CHECK_INT_EQ(port_of(&r->listen[1]), 5353);
    CHECK_STR_EQ(addr_of(&r->listen[2], buf, sizeof buf), "192.0.2.1");
    CHECK_INT_EQ(port_of(&r->listen[2]), 53);

    CHECK_INT_EQ(r->n_upstreams, 3);
    CHECK_STR_EQ(r->upstreams[0].addr.text, "9.9.9.9");
    CHECK_INT_EQ(port_of(&r->upstreams[0].addr), 53);
    CHECK_INT_EQ(r->upstreams[0].tls_port, 853);
    CHECK_STR_EQ(r->upstreams[0].tls_auth_name, "dns.quad9.net");
    CHECK_INT_EQ(r->upstreams[1].addr.ss.ss_family, AF_INET6);
    CHECK_STR_EQ(addr_of(&r->upstreams[1].addr, buf, sizeof buf), "2620:fe::fe");
    CHECK_INT_EQ(port_of(&r->upstreams[1].addr), 5300);
    CHECK_INT_EQ(r->upstreams[1].tls_port, 8853);
    CHECK_INT_EQ(port_of(&r->upstreams[2].addr), 54); /* port before address_data */
    CHECK_INT_EQ(r->upstreams[2].tls_port, 443);
    CHECK_STR_EQ(r->upstreams[2].tls_auth_name, "ns.example");

    CHECK_INT_EQ(r->n_transports, 2);
    CHECK_INT_EQ(r->transports[0], CONFIG_TRANSPORT_TLS);
    CHECK_INT_EQ(r->transports[1], CONFIG_TRANSPORT_TCP);
    CHECK_INT_EQ(r->tls_authentication_required, 1);
    CHECK_INT_EQ(r->n_trust_anchors, 1);
    CHECK_STR_EQ(r->trust_anchors[0], "/etc/daneguard/test.key");
    CHECK_INT_EQ(r->timeout_ms, 2500);
    CHECK_INT_EQ(r->idle_timeout_ms, 0);
    CHECK_INT_EQ(r->n_allow, 3);
    CHECK_INT_EQ(r->allow[0].prefix, 16);
    CHECK_INT_EQ(r->allow[1].family, AF_INET6);
    CHECK_INT_EQ(r->allow[1].prefix, 8);
    CHECK_INT_EQ(r->allow[2].prefix, 32);
    CHECK_INT_EQ(r->cache_size, 64 * 1024 * 1024);
    CHECK_INT_EQ(r->bogus_ttl_s, 5);
    CHECK_INT_EQ(r->dnssec_time_check, CONFIG_TIME_CHECK_AFTER_SYNC);
    CHECK_INT_EQ(r->serve_expired, 1);
    CHECK_INT_EQ(r->serve_expired_ttl_s, 3600);
    CHECK_INT_EQ(r->cache_max_ttl_s, 600);
    CHECK_INT_EQ(r->cache_max_negative_ttl_s, 60);
    CHECK_STR_EQ(r->resolv_conf, "/run/resolv.conf");
    CHECK_INT_EQ(r->max_tcp_clients, 100);
    CHECK_INT_EQ(r->max_waiting_queries, 500);
    CHECK_INT_EQ(r->max_waiting_per_client, 7);
}

/* TLS with REQUIRED authentication needs a name for every upstream. */
static void test_resolver_keys_tls_required(void)
{
    CHECK_ERR("resolver:\n"
              "  upstream_recursive_servers:\n"
              "    - address_data: 9.9.9.9\n"
              "      tls_auth_name: dns.quad9.net\n"
              "    - address_data: 192.0.2.53\n"
              "  dns_transport_list: [TLS]\n"
              "  tls_authentication: GETDNS_AUTHENTICATION_REQUIRED\n",
              "t.yml:5: resolver.upstream_recursive_servers: ", "tls_auth_name");
    CHECK_ERR("resolver:\n"
              "  dns_transport_list: [GETDNS_TRANSPORT_TLS]\n"
              "  tls_authentication: required\n",
              "t.yml:2: resolver.dns_transport_list: ", "resolv_conf");
    CHECK_OK("resolver:\n"
             "  upstream_recursive_servers:\n"
             "    - address_data: 9.9.9.9\n"
             "      tls_auth_name: dns.quad9.net\n"
             "  dns_transport_list: [TLS]\n"
             "  tls_authentication: required\n");
    CHECK_INT_EQ(cfg.resolver.tls_authentication_required, 1);
    CHECK_INT_EQ(cfg.resolver.transports[0], CONFIG_TRANSPORT_TLS);
    CHECK_OK("resolver:\n  dns_transport_list: [UDP, TLS]\n  tls_authentication: none\n");
    CHECK_INT_EQ(cfg.resolver.tls_authentication_required, 0);
    CHECK_OK("resolver:\n  tls_authentication: GETDNS_AUTHENTICATION_NONE\n");
    CHECK_INT_EQ(cfg.resolver.tls_authentication_required, 0);
    CHECK_OK("resolver:\n  tls_authentication: GETDNS_AUTHENTICATION_REQUIRED\n");
    CHECK_INT_EQ(cfg.resolver.tls_authentication_required, 1); /* no TLS in the list: fine */
}

static void test_trust_anchor_list(void)
{
    CHECK_OK("resolver:\n  dnssec_trust_anchors:\n    - /a.key\n    - \"/b.ds\"\n");
    CHECK_INT_EQ(cfg.resolver.n_trust_anchors, 2);
    CHECK_STR_EQ(cfg.resolver.trust_anchors[0], "/a.key");
    CHECK_STR_EQ(cfg.resolver.trust_anchors[1], "/b.ds");
    CHECK_ERR("resolver:\n  dnssec_trust_anchors: []\n",
              "t.yml:2: resolver.dnssec_trust_anchors: ", "at least one");
}

static void test_sizes(void)
{
    static const struct {
        const char *text;
        unsigned long long bytes;
    } ok[] = {
        {"65536", 65536},      {"64k", 65536},    {"64K", 65536},
        {"1m", 1 << 20},       {"32M", 32 << 20}, {"2g", 2ULL << 30},
        {"512KiB", 512 << 10}, {"8mb", 8 << 20},  {"\"16m\"", 16 << 20},
    };
    char yaml[128];

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(yaml, sizeof yaml, "resolver:\n  cache_size: %s\n", ok[i].text);
        CHECK_OK(yaml);
        CHECK_INT_EQ(cfg.resolver.cache_size, ok[i].bytes);
    }
    CHECK_ERR("resolver:\n  cache_size: 32x\n", "t.yml:2: resolver.cache_size: ", "got \"32x\"");
    CHECK_ERR("resolver:\n  cache_size: m\n", "t.yml:2: resolver.cache_size: ", "size in bytes");
    CHECK_ERR("resolver:\n  cache_size: -1\n", "t.yml:2: resolver.cache_size: ", NULL);
    CHECK_ERR("resolver:\n  cache_size: 1k\n", "t.yml:2: resolver.cache_size: ", "out of range");
    CHECK_ERR("resolver:\n  cache_size: 99999999999999999999g\n",
              "t.yml:2: resolver.cache_size: ", NULL);
    CHECK_ERR("proxy:\n  buffer_size: 17m\n", "t.yml:2: proxy.buffer_size: ", "out of range");
}

static void test_proxy_keys(void)
{
    char buf[64];
    const struct config_proxy *p = &cfg.proxy;

    CHECK_OK("proxy:\n"
             "  enabled: yes\n"
             "  listen_addresses: [\"[::1]:3128\", 127.0.0.1#3128, 127.0.0.2]\n"
             "  allow:\n"
             "    - 192.168.1.0/24\n"
             "  intercept: all\n"
             "  ca_dir: /etc/daneguard/ca\n"
             "  trust_store: /etc/ssl/roots.pem\n"
             "  allowed_ports: [443, 8443, 9443]\n"
             "  max_connections: 50\n"
             "  buffer_size: 64k\n"
             "  handshake_timeout: 3000\n"
             "  idle_timeout: 60000\n"
             "  cert_cache_entries: 20\n");
    CHECK_INT_EQ(p->enabled, 1);
    CHECK_INT_EQ(p->n_listen, 3);
    CHECK_INT_EQ(p->listen[0].ss.ss_family, AF_INET6);
    CHECK_INT_EQ(port_of(&p->listen[0]), 3128);
    CHECK_INT_EQ(port_of(&p->listen[1]), 3128);
    CHECK_STR_EQ(addr_of(&p->listen[2], buf, sizeof buf), "127.0.0.2");
    CHECK_INT_EQ(port_of(&p->listen[2]), 8080);
    CHECK_INT_EQ(p->n_allow, 1);
    CHECK_INT_EQ(p->allow[0].prefix, 24);
    CHECK_INT_EQ(p->intercept, CONFIG_INTERCEPT_ALL);
    CHECK_STR_EQ(p->ca_dir, "/etc/daneguard/ca");
    CHECK_STR_EQ(p->trust_store, "/etc/ssl/roots.pem");
    CHECK_INT_EQ(p->n_allowed_ports, 3);
    CHECK_INT_EQ(p->allowed_ports[2], 9443);
    CHECK_INT_EQ(p->max_connections, 50);
    CHECK_INT_EQ(p->buffer_size, 65536);
    CHECK_INT_EQ(p->handshake_timeout_ms, 3000);
    CHECK_INT_EQ(p->idle_timeout_ms, 60000);
    CHECK_INT_EQ(p->cert_cache_entries, 20);
    /* the resolver keeps its defaults */
    CHECK_INT_EQ(cfg.resolver.n_listen, 2);

    CHECK_OK("proxy:\n  enabled: false\n  intercept: DANE\n");
    CHECK_INT_EQ(p->enabled, 0);
    CHECK_INT_EQ(p->intercept, CONFIG_INTERCEPT_DANE);
}

/* Issue 8: what the proxy may connect to, and per-client limits. */
static void test_proxy_destination_keys(void)
{
    const struct config_proxy *p = &cfg.proxy;
    struct sockaddr_storage ss;

    CHECK_OK("proxy:\n"
             "  allow_destinations: [192.168.1.0/24, \"::1/128\", 127.0.0.1]\n"
             "  http_ports: [80, 8000-8999, 1024-65535]\n"
             "  max_connections_per_client: 10\n"
             "  max_lookups_per_client: 30\n");
    CHECK_INT_EQ(p->n_allow_destinations, 3);
    CHECK_INT_EQ(p->allow_destinations[0].prefix, 24);
    CHECK_INT_EQ(p->allow_destinations[2].prefix, 32);
    ss = client("192.168.1.40");
    CHECK_INT_EQ(addr_cidr_match(p->allow_destinations, p->n_allow_destinations,
                                 (struct sockaddr *)&ss),
                 1);
    ss = client("127.0.0.2");
    CHECK_INT_EQ(addr_cidr_match(p->allow_destinations, p->n_allow_destinations,
                                 (struct sockaddr *)&ss),
                 0);
    CHECK_INT_EQ(p->n_http_ports, 3);
    CHECK_INT_EQ(p->http_ports[0].lo, 80);
    CHECK_INT_EQ(p->http_ports[0].hi, 80);
    CHECK_INT_EQ(p->http_ports[1].lo, 8000);
    CHECK_INT_EQ(p->http_ports[1].hi, 8999);
    CHECK_INT_EQ(p->http_ports[2].hi, 65535);
    CHECK_INT_EQ(p->max_connections_per_client, 10);
    CHECK_INT_EQ(p->max_lookups_per_client, 30);

    /* an empty list is allowed (and is the default); one port as a range */
    CHECK_OK("proxy:\n  allow_destinations: []\n  http_ports: [\"81-81\"]\n");
    CHECK_INT_EQ(p->n_allow_destinations, 0);
    CHECK_INT_EQ(p->http_ports[0].lo, 81);
    CHECK_INT_EQ(p->http_ports[0].hi, 81);

    /* per client: a quarter of max_connections unless given */
    CHECK_OK("proxy:\n  max_connections: 100\n");
    CHECK_INT_EQ(p->max_connections_per_client, 25);
    CHECK_OK("proxy:\n  max_connections: 3\n");
    CHECK_INT_EQ(p->max_connections_per_client, 1);
    CHECK_OK("proxy:\n  max_connections_per_client: 500\n  max_connections: 100\n");
    CHECK_INT_EQ(p->max_connections_per_client, 500);

    CHECK_ERR("proxy:\n  allow_destinations: [localhost]\n",
              "t.yml:2: proxy.allow_destinations: ", "not an IP address");
    CHECK_ERR("proxy:\n  allow_destinations: [10.0.0.0/33]\n",
              "t.yml:2: proxy.allow_destinations: ", "prefix length must be 0..32");
    CHECK_ERR("proxy:\n  http_ports: [http]\n", "t.yml:2: proxy.http_ports: ", "got \"http\"");
    CHECK_ERR("proxy:\n  http_ports: [0]\n", "t.yml:2: proxy.http_ports: ", "1..65535");
    CHECK_ERR("proxy:\n  http_ports: [70000]\n", "t.yml:2: proxy.http_ports: ", NULL);
    CHECK_ERR("proxy:\n  http_ports: [9000-8000]\n", "t.yml:2: proxy.http_ports: ",
              "range 9000-8000 is backwards");
    CHECK_ERR("proxy:\n  http_ports: [\"80-\"]\n", "t.yml:2: proxy.http_ports: ",
              "expected a range");
    CHECK_ERR("proxy:\n  http_ports: [\"-80\"]\n", "t.yml:2: proxy.http_ports: ",
              "expected a range");
    CHECK_ERR("proxy:\n  http_ports: [\"123456789-80\"]\n", "t.yml:2: proxy.http_ports: ",
              "expected a range");
    CHECK_ERR("proxy:\n  http_ports: 80\n", "t.yml:2: proxy.http_ports: ", "expected a list");
    CHECK_ERR("proxy:\n  max_connections_per_client: 0\n",
              "t.yml:2: proxy.max_connections_per_client: ", "out of range");
    CHECK_ERR("proxy:\n  max_lookups_per_client: 0\n", "t.yml:2: proxy.max_lookups_per_client: ",
              "out of range");
}

/* Issue 13: proxy.exceptions, exact names and "*.suffix". */
static void test_proxy_exceptions(void)
{
    const struct config_proxy *p = &cfg.proxy;

    CHECK_OK("proxy:\n  max_connections: 10\n");
    CHECK_INT_EQ(p->n_exceptions, 0);
    CHECK_INT_EQ(config_exception_match(p, "www.example.org"), -1);

    CHECK_OK("proxy:\n  exceptions: [WWW.Example.ORG., \"*.lab.example.net\", _x-1.example.com]\n");
    CHECK_INT_EQ(p->n_exceptions, 3);
    CHECK_STR_EQ(p->exceptions[0], "www.example.org");
    CHECK_STR_EQ(p->exceptions[1], "*.lab.example.net");
    CHECK_INT_EQ(config_exception_match(p, "www.example.org"), 0);
    CHECK_INT_EQ(config_exception_match(p, "WWW.EXAMPLE.ORG."), 0);
    CHECK_INT_EQ(config_exception_match(p, "example.org"), -1);
    CHECK_INT_EQ(config_exception_match(p, "a.www.example.org"), -1);
    CHECK_INT_EQ(config_exception_match(p, "nas.lab.example.net"), 1);
    CHECK_INT_EQ(config_exception_match(p, "a.b.Lab.example.net"), 1);
    /* the bare suffix is not below itself; a look-alike is not below it */
    CHECK_INT_EQ(config_exception_match(p, "lab.example.net"), -1);
    CHECK_INT_EQ(config_exception_match(p, "evillab.example.net"), -1);
    CHECK_INT_EQ(config_exception_match(p, ".lab.example.net"), -1);
    CHECK_INT_EQ(config_exception_match(p, "_x-1.example.com"), 2);
    CHECK_INT_EQ(config_exception_match(p, ""), -1);

    CHECK_ERR("proxy:\n  exceptions: [\"*\"]\n", "t.yml:2: proxy.exceptions: ",
              "would switch DANE off everywhere");
    CHECK_ERR("proxy:\n  exceptions: [\"*.com\"]\n", "t.yml:2: proxy.exceptions: ",
              "whole top-level domain");
    CHECK_ERR("proxy:\n  exceptions: [localhost]\n", "t.yml:2: proxy.exceptions: ",
              "whole top-level domain");
    CHECK_ERR("proxy:\n  exceptions: [192.0.2.1.]\n", "t.yml:2: proxy.exceptions: ",
              "is an IP address");
    CHECK_ERR("proxy:\n  exceptions: [\"a.*.example.org\"]\n", "t.yml:2: proxy.exceptions: ",
              "'*' only as the whole first label");
    CHECK_ERR("proxy:\n  exceptions: [\"a..example.org\"]\n", "t.yml:2: proxy.exceptions: ",
              "empty label");
    CHECK_ERR("proxy:\n  exceptions: [\"https://example.org/\"]\n", "t.yml:2: proxy.exceptions: ",
              "is not a host name");
    CHECK_ERR("proxy:\n  exceptions: example.org\n", "t.yml:2: proxy.exceptions: ", NULL);
}

static void test_user(void)
{
    CHECK_OK("user: daneguard\n");
    CHECK_STR_EQ(cfg.user, "daneguard");
    CHECK_OK("user:\n");
    CHECK_STR_EQ(cfg.user, "");
    CHECK_OK("user: \"_dane-guard.1\"\n");
    CHECK_STR_EQ(cfg.user, "_dane-guard.1");
    CHECK_ERR("user: \"root; rm\"\n", "t.yml:1: user: ", "not a user name");
    CHECK_ERR("user: -x\n", "t.yml:1: user: ", "not a user name");
    CHECK_ERR("user: [a]\n", "t.yml:1: user: ", "got a list");
}

static void test_lists_replace_defaults(void)
{
    char buf[64];

    CHECK_OK("resolver:\n  listen_addresses: [\"192.0.2.1@53\"]\n  allow: [192.0.2.0/24]\n"
             "proxy:\n  allowed_ports: [8443]\n  allow: []\n");
    CHECK_INT_EQ(cfg.resolver.n_listen, 1);
    CHECK_STR_EQ(addr_of(&cfg.resolver.listen[0], buf, sizeof buf), "192.0.2.1");
    CHECK_INT_EQ(cfg.resolver.n_allow, 1);
    CHECK_INT_EQ(cfg.resolver.allow[0].prefix, 24);
    CHECK_INT_EQ(cfg.proxy.n_allowed_ports, 1);
    CHECK_INT_EQ(cfg.proxy.allowed_ports[0], 8443);
    CHECK_INT_EQ(cfg.proxy.n_allow, 0);
    CHECK_OK("resolver:\n  listen_addresses: []\n");
    CHECK_INT_EQ(cfg.resolver.n_listen, 0);
}

/* A stubby.yml as Debian ships it (comments trimmed), pasted under resolver:. */
static void test_stubby_carries_over(void)
{
    const struct config_resolver *r = &cfg.resolver;

    CHECK_OK("resolver:\n"
             "  resolution_type: GETDNS_RESOLUTION_STUB\n"
             "  dns_transport_list:\n"
             "    - GETDNS_TRANSPORT_TLS\n"
             "  tls_authentication: GETDNS_AUTHENTICATION_REQUIRED\n"
             "  tls_query_padding_blocksize: 128\n"
             "  edns_client_subnet_private : 1\n"
             "  round_robin_upstreams: 1\n"
             "  idle_timeout: 10000\n"
             "  tls_connection_retries: 2\n"
             "  tls_backoff_time: 3600\n"
             "  timeout: 5000\n"
             "  limit_outstanding_queries: 100\n"
             "  dnssec_return_status: GETDNS_EXTENSION_TRUE\n"
             "  dnssec: GETDNS_EXTENSION_TRUE\n"
             "  trust_anchors_backoff_time: 2500\n"
             "  appdata_dir: \"/var/cache/stubby\"\n"
             "  tls_min_version: GETDNS_TLS1_2\n"
             "  tls_max_version: GETDNS_TLS1_3\n"
             "  log_level: GETDNS_LOG_NOTICE\n"
             "  listen_addresses:\n"
             "    - 127.0.0.1\n"
             "    -  0::1\n"
             "  upstream_recursive_servers:\n"
             "  ## The Surfnet/Sinodun servers\n"
             "    - address_data: 145.100.185.15\n"
             "      tls_auth_name: \"dnsovertls.sinodun.com\"\n"
             "      tls_pubkey_pinset:\n"
             "        - digest: \"sha256\"\n"
             "          value: 62lKu9HsDVbyiPenApnc4sfmSYTHOVfFgL3pyB+cBL4=\n"
             "    - address_data: 2001:610:1:40ba:145:100:185:15\n"
             "      tls_auth_name: \"dnsovertls.sinodun.com\"\n"
             "      tls_port: 443\n"
             "      tls_pubkey_pinset:\n"
             "        - digest: \"sha256\"\n"
             "          value: 62lKu9HsDVbyiPenApnc4sfmSYTHOVfFgL3pyB+cBL4=\n");
    CHECK_INT_EQ(r->n_transports, 1);
    CHECK_INT_EQ(r->transports[0], CONFIG_TRANSPORT_TLS);
    CHECK_INT_EQ(r->tls_authentication_required, 1);
    CHECK_INT_EQ(r->idle_timeout_ms, 10000);
    CHECK_INT_EQ(r->timeout_ms, 5000);
    CHECK_INT_EQ(r->n_listen, 2);
    CHECK_INT_EQ(port_of(&r->listen[1]), 53);
    CHECK_INT_EQ(r->n_upstreams, 2);
    CHECK_STR_EQ(r->upstreams[0].tls_auth_name, "dnsovertls.sinodun.com");
    CHECK_INT_EQ(r->upstreams[0].tls_port, 853);
    CHECK_INT_EQ(r->upstreams[1].addr.ss.ss_family, AF_INET6);
    CHECK_INT_EQ(r->upstreams[1].tls_port, 443);

    /* Stubby keys that would change what daneguard is */
    CHECK_ERR("resolver:\n  resolution_type: GETDNS_RESOLUTION_RECURSING\n",
              "t.yml:2: resolver.resolution_type: ", "GETDNS_RESOLUTION_STUB");
    CHECK_ERR("resolver:\n  dnssec_return_status: GETDNS_EXTENSION_FALSE\n",
              "t.yml:2: resolver.dnssec_return_status: ", "always validates");
    CHECK_ERR("resolver:\n  dnssec: false\n", "t.yml:2: resolver.dnssec: ", NULL);
    CHECK_OK("resolver:\n  dnssec: true\n");
    /* a whole stubby.yml at the top level is read as the resolver section
     * (issue 11); mixed with daneguard's sections, a Stubby key is pointed
     * at resolver: */
    CHECK_OK("resolution_type: GETDNS_RESOLUTION_STUB\n");
    CHECK_ERR("proxy:\n  enabled: false\nresolution_type: GETDNS_RESOLUTION_STUB\n",
              "t.yml:3: resolution_type: ", "belongs under resolver:");
    CHECK_ERR("\n\nidle_timeout: 10\n", "t.yml:3: idle_timeout: ", "resolver: or proxy:");
}

/* issue 11: forward_zones, domain_insecure, local_data, hosts_file,
 * rebind_protection; errors name the file and line. */
static void test_local_names_keys(void)
{
    const struct config_resolver *r = &cfg.resolver;

    CHECK_OK("");
    CHECK_INT_EQ(r->rebind_protection, 1);
    CHECK_INT_EQ(r->n_forward_zones, 0);
    CHECK_STR_EQ(r->hosts_file, "");
    CHECK_OK("resolver:\n"
             "  forward_zones:\n"
             "    - name: fritz.box\n"
             "      upstreams: [192.168.178.1]\n"
             "    - name: 1.168.192.in-addr.arpa.\n"
             "      upstreams: [\"192.168.1.1@5353\", \"fd00::1\"]\n"
             "      validated: true\n"
             "  domain_insecure: [broken.example, \"other.example.\"]\n"
             "  local_data:\n"
             "    - \"router.lan. 3600 IN A 192.168.1.1\"\n"
             "    - \"nas.lan AAAA fd00::2\"\n"
             "  hosts_file: /etc/hosts\n"
             "  rebind_protection: false\n");
    CHECK_INT_EQ(r->n_forward_zones, 2);
    CHECK_STR_EQ(r->forward_zones[0].name, "fritz.box.");
    CHECK_INT_EQ(r->forward_zones[0].validated, 0);
    CHECK_INT_EQ(r->forward_zones[0].n_upstreams, 1);
    CHECK_INT_EQ(port_of(&r->forward_zones[0].upstreams[0]), 53);
    CHECK_STR_EQ(r->forward_zones[1].name, "1.168.192.in-addr.arpa.");
    CHECK_INT_EQ(r->forward_zones[1].validated, 1);
    CHECK_INT_EQ(r->forward_zones[1].n_upstreams, 2);
    CHECK_INT_EQ(port_of(&r->forward_zones[1].upstreams[0]), 5353);
    CHECK_INT_EQ(r->n_domain_insecure, 2);
    CHECK_STR_EQ(r->domain_insecure[0], "broken.example.");
    CHECK_INT_EQ(r->n_local_data, 2);
    CHECK_STR_EQ(r->local_data[1], "nas.lan AAAA fd00::2");
    CHECK_STR_EQ(r->hosts_file, "/etc/hosts");
    CHECK_INT_EQ(r->rebind_protection, 0);
    CHECK_OK("resolver:\n  domain_insecure: one.example\n");
    CHECK_INT_EQ(r->n_domain_insecure, 1);

    CHECK_ERR("resolver:\n  forward_zones:\n    - name: lan\n",
              "t.yml:3: resolver.forward_zones: ", "upstreams is missing");
    CHECK_ERR("resolver:\n  forward_zones:\n    - upstreams: [192.168.1.1]\n",
              "t.yml:3: resolver.forward_zones: ", "name is missing");
    CHECK_ERR("resolver:\n  forward_zones:\n    - name: lan\n      upstreams: [nowhere]\n",
              "t.yml:4: resolver.forward_zones.upstreams: ", "nowhere");
    CHECK_ERR("resolver:\n  forward_zones:\n    - name: lan\n      upstreams: [10.0.0.1]\n"
              "      validate: true\n",
              "t.yml:5: resolver.forward_zones.validate: ", "did you mean \"validated\"");
    CHECK_ERR("resolver:\n  forward_zones:\n    - {name: lan, upstreams: [10.0.0.1]}\n"
              "    - {name: LAN., upstreams: [10.0.0.2]}\n",
              "t.yml:4: resolver.forward_zones: ", "listed twice");
    CHECK_ERR("resolver:\n  forward_zones: lan\n", "t.yml:2: resolver.forward_zones: ", NULL);
    CHECK_ERR("resolver:\n  listen_addresses: [127.0.0.1@5300]\n  forward_zones:\n"
              "    - {name: a.lan, upstreams: [10.0.0.1]}\n"
              "    - {name: lan, upstreams: [\"127.0.0.1@5300\"]}\n",
              "t.yml:5: resolver.forward_zones: ", "daneguard's own listener");
    CHECK_ERR("resolver:\n  domain_insecure: [\"a..b\"]\n", "t.yml:2: resolver.domain_insecure: ",
              "not a domain name");
    CHECK_ERR("resolver:\n  local_data:\n    - \"router.lan. A 192.168.1.1\"\n"
              "    - \"router.lan. A not-an-address\"\n",
              "t.yml:4: resolver.local_data: ", "not a resource record");
    CHECK_ERR("resolver:\n  local_data:\n    - \"x.lan. CH TXT hello\"\n",
              "t.yml:3: resolver.local_data: ", "class IN");
    CHECK_ERR("resolver:\n  local_data: \"x.lan. A 10.0.0.1\"\n", "t.yml:2: resolver.local_data: ",
              "expected a list");
    CHECK_ERR("resolver:\n  rebind_protection: maybe\n", "t.yml:2: resolver.rebind_protection: ",
              "true or false");
}

/* The root unvalidated would switch DNSSEC and DANE off everywhere (as "*" in
 * proxy.exceptions would): an error; a validated forward zone "." is fine. */
static void test_local_names_root_unvalidated(void)
{
    CHECK_ERR("resolver:\n  domain_insecure: [a.example, \".\"]\n",
              "t.yml:2: resolver.domain_insecure: ", "every name");
    CHECK_ERR("resolver:\n  domain_insecure: \".\"\n", "t.yml:2: resolver.domain_insecure: ",
              "every name");
    CHECK_ERR("resolver:\n  forward_zones:\n    - {name: \".\", upstreams: [192.168.1.1]}\n",
              "t.yml:3: resolver.forward_zones: ", "every name");
    CHECK_OK("resolver:\n  forward_zones:\n"
             "    - {name: \".\", upstreams: [192.168.1.1], validated: true}\n");
    CHECK_INT_EQ(cfg.resolver.n_forward_zones, 1);
}

/* issue 11: every Stubby key is honoured or accepted with a log line. */
static void test_stubby_all_keys(void)
{
    const struct config_resolver *r = &cfg.resolver;

    CHECK_OK("resolver:\n"
             "  tls_ca_file: /etc/ssl/certs/ca-certificates.crt\n"
             "  tls_ca_path: /etc/ssl/certs/\n"
             "  trust_anchors_url: http://data.iana.org/root-anchors/\n"
             "  trust_anchors_verify_CA: \"-----BEGIN CERTIFICATE-----\"\n"
             "  trust_anchors_verify_email: dnssec@iana.org\n"
             "  upstream_recursive_servers:\n"
             "    - address_data: 145.100.185.15\n"
             "      tls_auth_name: \"dnsovertls.sinodun.com\"\n"
             "      tls_pubkey_pinset:\n"
             "        - digest: \"sha256\"\n"
             "          value: 62lKu9HsDVbyiPenApnc4sfmSYTHOVfFgL3pyB+cBL4=\n"
             "        - digest: sha256\n"
             "          value: cE2ecALeE5B+urJhDrJlVFmf38cJLAvqekONvjvpqUA=\n");
    CHECK_STR_EQ(r->tls_ca_file, "/etc/ssl/certs/ca-certificates.crt");
    CHECK_STR_EQ(r->tls_ca_path, "/etc/ssl/certs/");
    CHECK_INT_EQ(r->upstreams[0].n_pins, 2);
    CHECK_INT_EQ(r->upstreams[0].pins[0][0], 0xeb); /* base64 "62lK" */
    CHECK_INT_EQ(r->upstreams[0].pins[0][1], 0x69);
    CHECK_INT_EQ(r->upstreams[0].pins[1][0], 0x70); /* "cE2e" */

    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 10.0.0.1\n"
              "      tls_pubkey_pinset:\n        - digest: sha1\n          value: AAAA\n",
              "t.yml:5: resolver.upstream_recursive_servers.tls_pubkey_pinset: ", "sha256");
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 10.0.0.1\n"
              "      tls_pubkey_pinset:\n        - digest: sha256\n          value: AAAA\n",
              "t.yml:5: resolver.upstream_recursive_servers.tls_pubkey_pinset: ", "32 bytes");
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 10.0.0.1\n"
              "      tls_pubkey_pinset: sha256\n",
              "t.yml:4: resolver.upstream_recursive_servers.tls_pubkey_pinset: ", "a list");
    CHECK_ERR("resolver:\n  trust_anchors_url: [a, b]\n", "t.yml:2: resolver.trust_anchors_url: ",
              "a single value");
}

static void test_sample_file(void)
{
    const char *path = getenv("DANEGUARD_SAMPLE_CONF");
    char buf[64];
    int rc;

    if (!path)
        path = access("conf/daneguard.yml", R_OK) == 0 ? "conf/daneguard.yml"
                                                       : "../../conf/daneguard.yml";
    err[0] = '\0';
    rc = config_load(path, &cfg, err);
    if (rc != 0)
        fprintf(stderr, "  %s: %s\n", path, err);
    CHECK_INT_EQ(rc, 0);
    /* the working default: loopback listeners, upstreams from resolv.conf,
     * root anchor, proxy on 127.0.0.1@8080 with its CA in /var/lib/daneguard */
    CHECK_INT_EQ(cfg.resolver.n_listen, 2);
    CHECK_STR_EQ(addr_of(&cfg.resolver.listen[0], buf, sizeof buf), "127.0.0.1");
    CHECK_STR_EQ(addr_of(&cfg.resolver.listen[1], buf, sizeof buf), "::1");
    CHECK_INT_EQ(port_of(&cfg.resolver.listen[1]), 53);
    CHECK_INT_EQ(cfg.resolver.n_upstreams, 0);
    CHECK_STR_EQ(cfg.resolver.resolv_conf, "/etc/resolv.conf");
    CHECK_STR_EQ(cfg.resolver.trust_anchors[0], "/usr/share/dns/root.key");
    CHECK_INT_EQ(cfg.proxy.enabled, 1);
    CHECK_STR_EQ(addr_of(&cfg.proxy.listen[0], buf, sizeof buf), "127.0.0.1");
    CHECK_INT_EQ(port_of(&cfg.proxy.listen[0]), 8080);
    CHECK_STR_EQ(cfg.proxy.ca_dir, "/var/lib/daneguard");
    CHECK_STR_EQ(cfg.path, path);
}

/* Uncommenting every example in the sample must still give a valid file:
 * the documentation cannot drift from the parser. The sample's conventions:
 * "  #key: value" is an example, "  #  - item" / "  #    key: v" continue it,
 * "  #   - item" extends a live list, "  # text" is prose; of two examples of
 * one key only the first is taken. */
static void test_sample_file_uncommented(void)
{
    const char *path =
        access("conf/daneguard.yml", R_OK) == 0 ? "conf/daneguard.yml" : "../../conf/daneguard.yml";
    FILE *f = fopen(path, "r");
    char line[512], buf[600], seen[64][64];
    char *out = NULL;
    size_t len = 0, cap = 0, n_seen = 0, examples = 0;
    int in_example = 0, skipping = 0;

    CHECK(f != NULL);
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        const char *s = line;

        if (strncmp(line, "#user:", 6) == 0) {
            s = line + 1;
        } else if (line[0] != ' ' && line[0] != '#' && line[0] != '\n') {
            n_seen = 0; /* a new section */
            in_example = 0;
        } else if (strncmp(line, "  #", 3) == 0 && line[3] != ' ' && line[3] != '\n') {
            char key[64];
            size_t k = strcspn(line + 3, ":");
            snprintf(key, sizeof key, "%.*s", (int)(k < 63 ? k : 63), line + 3);
            skipping = 0;
            for (size_t i = 0; i < n_seen; i++)
                skipping |= strcmp(seen[i], key) == 0;
            if (!skipping && n_seen < 64)
                snprintf(seen[n_seen++], sizeof seen[0], "%s", key);
            snprintf(buf, sizeof buf, "  %s", line + 3);
            s = skipping ? "\n" : buf;
            in_example = 1;
            examples++;
        } else if (in_example &&
                   (strncmp(line, "  #  - ", 7) == 0 || strncmp(line, "  #    ", 7) == 0)) {
            snprintf(buf, sizeof buf, "  %s", line + 3);
            s = skipping ? "\n" : buf;
        } else if (strncmp(line, "  #   - ", 8) == 0) {
            snprintf(buf, sizeof buf, "    %s", line + 6);
            s = buf;
            in_example = 0;
        } else {
            in_example = 0;
        }
        size_t l = strlen(s);
        if (len + l + 1 > cap) {
            char *grown = realloc(out, (len + l + 1) * 2);
            if (!grown)
                break;
            out = grown;
            cap = (len + l + 1) * 2;
        }
        memcpy(out + len, s, l + 1);
        len += l;
    }
    fclose(f);
    CHECK(examples >= 25);
    if (!out)
        return;
    int rc = load_yaml(out);
    if (rc != 0)
        fprintf(stderr, "  uncommented sample: %s\n", err);
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(cfg.user, "daneguard");
    CHECK_INT_EQ(cfg.resolver.n_upstreams, 3);
    CHECK_INT_EQ(cfg.resolver.n_listen, 3);
    CHECK_INT_EQ(cfg.resolver.n_allow, 4);
    CHECK_INT_EQ(cfg.resolver.tls_authentication_required, 1);
    CHECK_INT_EQ(cfg.proxy.n_listen, 3);
    CHECK_INT_EQ(cfg.proxy.n_allow, 3);
    free(out);
}

static void test_errors_types(void)
{
    CHECK_ERR("resolver:\n"
              "  listen_addresses: [127.0.0.1]\n"
              "  # a comment\n"
              "\n"
              "  timeout: 100\n"
              "  idle_timeout: 100\n"
              "  timeout2: fast\n",
              "t.yml:7: resolver.timeout2: unknown key; did you mean \"timeout\"?", NULL);
    CHECK_ERR("resolver:\n  timeout: fast\n",
              "t.yml:2: resolver.timeout: expected a positive integer (milliseconds), got "
              "\"fast\"",
              NULL);
    CHECK_ERR("resolver:\n  timeout: [1]\n", "t.yml:2: resolver.timeout: ", "got a list");
    CHECK_ERR("resolver:\n  timeout:\n", "t.yml:2: resolver.timeout: ", "got nothing");
    CHECK_ERR("resolver:\n  timeout: -5\n", "t.yml:2: resolver.timeout: ", "got \"-5\"");
    CHECK_ERR("resolver:\n  timeout: 1.5\n", "t.yml:2: resolver.timeout: ", NULL);
    CHECK_ERR("resolver:\n  listen_addresses: 127.0.0.1@53\n",
              "t.yml:2: resolver.listen_addresses: expected a list", NULL);
    CHECK_ERR("resolver:\n  listen_addresses:\n",
              "t.yml:2: resolver.listen_addresses: ", "write []");
    CHECK_ERR("resolver:\n  listen_addresses:\n    - {a: 1}\n",
              "t.yml:3: resolver.listen_addresses: ", "got a mapping");
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - 9.9.9.9\n",
              "t.yml:3: resolver.upstream_recursive_servers: ", "expected a mapping");
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - port: 53\n",
              "t.yml:3: resolver.upstream_recursive_servers: address_data is missing", NULL);
    CHECK_ERR("resolver: 5\n", "t.yml:1: resolver: expected a mapping", NULL);
    CHECK_ERR("proxy: [a, b]\n", "t.yml:1: proxy: expected a mapping", NULL);
    CHECK_ERR("- a\n- b\n", "t.yml:1: (top level): expected a mapping", NULL);
    CHECK_ERR("just words\n", "t.yml:1: (top level): expected a mapping", NULL);
    CHECK_ERR("proxy:\n  enabled: maybe\n", "t.yml:2: proxy.enabled: expected true or false", NULL);
    CHECK_ERR("proxy:\n  intercept: some\n", "t.yml:2: proxy.intercept: expected dane or all",
              NULL);
    CHECK_ERR("proxy:\n  ca_dir: \"\"\n", "t.yml:2: proxy.ca_dir: ", "path");
    CHECK_ERR("proxy:\n  allowed_ports: [443, https]\n",
              "t.yml:2: proxy.allowed_ports: ", "got \"https\"");
    CHECK_ERR("resolver:\n  dns_transport_list: [UDP, QUIC]\n",
              "t.yml:2: resolver.dns_transport_list: ", "got \"QUIC\"");
    CHECK_ERR("resolver:\n  dns_transport_list: [UDP, udp]\n",
              "t.yml:2: resolver.dns_transport_list: ", "twice");
    CHECK_ERR("resolver:\n  dns_transport_list: []\n",
              "t.yml:2: resolver.dns_transport_list: ", "at least one");
    CHECK_ERR("resolver:\n  tls_authentication: maybe\n",
              "t.yml:2: resolver.tls_authentication: ", "GETDNS_AUTHENTICATION_REQUIRED");
    CHECK_ERR("resolver:\n  round_robin_upstreams: [1]\n",
              "t.yml:2: resolver.round_robin_upstreams: ", NULL);
    CHECK_ERR("resolver:\n  timeout: \"a\\0b\"\n", "t.yml:2: resolver.timeout: ", "NUL");
    CHECK_ERR("? [a, b]\n: 1\n", "t.yml:1: (top level): a key must be a plain name", NULL);
}

static void test_errors_unknown_keys(void)
{
    CHECK_ERR("resolver:\n  listen_adresses: [127.0.0.1]\n",
              "t.yml:2: resolver.listen_adresses: unknown key; did you mean "
              "\"listen_addresses\"?",
              NULL);
    CHECK_ERR("proxy:\n  intercpt: all\n",
              "t.yml:2: proxy.intercpt: unknown key; did you mean \"intercept\"?", NULL);
    CHECK_ERR("proxy:\n  colour: blue\n", "t.yml:2: proxy.colour: unknown key", NULL);
    CHECK_ERR("resolvers:\n  timeout: 1\n",
              "t.yml:1: resolvers: unknown key; did you mean \"resolver\"?", NULL);
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 1.1.1.1\n"
              "      tls_name: x\n",
              "t.yml:4: resolver.upstream_recursive_servers.tls_name: unknown key", NULL);
    CHECK_ERR("proxy:\n  cache_size: 1m\n", "t.yml:2: proxy.cache_size: unknown key", NULL);
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 1.1.1.1\n"
              "      tls_prot: 853\n",
              "t.yml:4: resolver.upstream_recursive_servers.tls_prot: unknown key; did you mean "
              "\"tls_port\"?",
              NULL);
    CHECK_ERR("allow: []\n", "t.yml:1: allow: unknown key at the top level; it belongs under "
                             "resolver: or proxy:",
              NULL);
    CHECK_ERR("intercept: all\n",
              "t.yml:1: intercept: unknown key at the top level; it belongs under proxy:", NULL);
}

static void test_errors_syntax(void)
{
    CHECK_ERR("resolver:\n  timeout: 5\n bad indent: 1\n", "t.yml:3: syntax error: ", NULL);
    CHECK_ERR("resolver:\n  listen_addresses: [127.0.0.1\n", "t.yml:", "syntax error");
    CHECK_ERR("resolver:\n  timeout: \"5\n", "t.yml:", "syntax error");
    CHECK_ERR("a: *nosuch\n", "t.yml:1: syntax error: ", NULL);
    CHECK_ERR("resolver:\n\ttimeout: 5\n", "t.yml:2: syntax error: ", NULL);
    CHECK_ERR("user: a\n---\nuser: b\n", "t.yml:3: (top level): ", "second YAML document");
    CHECK_ERR("user: a\n--- [\n", "t.yml:", "syntax error");
    CHECK_ERR("user: \"\xff\"\n", "t.yml:", "syntax error");
}

static void test_errors_duplicates(void)
{
    CHECK_ERR("resolver:\n  timeout: 5\n  idle_timeout: 1\n  timeout: 6\n",
              "t.yml:4: resolver.timeout: duplicate key (first given on line 2)", NULL);
    CHECK_ERR("proxy:\n  enabled: true\nuser: x\nproxy:\n  enabled: false\n",
              "t.yml:4: proxy: duplicate key (first given on line 1)", NULL);
    CHECK_ERR("resolver:\n  listen_addresses: [127.0.0.1@53, \"127.0.0.1#53\"]\n",
              "t.yml:2: resolver.listen_addresses: ", "twice");
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 1.1.1.1\n"
              "    - address_data: 1.1.1.1\n",
              "t.yml:4: resolver.upstream_recursive_servers: ", "twice");
}

static void test_errors_ranges(void)
{
    CHECK_ERR("resolver:\n  listen_addresses:\n    - 127.0.0.1@0\n",
              "t.yml:3: resolver.listen_addresses: port must be a number 1..65535", NULL);
    CHECK_ERR("resolver:\n  listen_addresses:\n    - 127.0.0.1@65536\n",
              "t.yml:3: resolver.listen_addresses: ", "1..65535");
    CHECK_ERR("resolver:\n  listen_addresses:\n    - 127.0.0.1@\n",
              "t.yml:3: resolver.listen_addresses: ", NULL);
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 1.1.1.1\n"
              "      port: 70000\n",
              "t.yml:4: resolver.upstream_recursive_servers.port: 70000 is out of range "
              "(1..65535)",
              NULL);
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 1.1.1.1\n"
              "      tls_port: 0\n",
              "t.yml:4: resolver.upstream_recursive_servers.tls_port: ", "out of range");
    CHECK_ERR("proxy:\n  allowed_ports: [0]\n", "t.yml:2: proxy.allowed_ports: ", "out of range");
    CHECK_ERR("resolver:\n  timeout: 0\n",
              "t.yml:2: resolver.timeout: 0 is out of range (1..3600000 milliseconds)", NULL);
    CHECK_ERR("resolver:\n  tls_authentication:\n",
              "t.yml:2: resolver.tls_authentication: expected GETDNS_AUTHENTICATION_REQUIRED or "
              "GETDNS_AUTHENTICATION_NONE (or required, none), got nothing",
              NULL);
    CHECK_ERR("resolver:\n  timeout: 99999999999999999999999\n",
              "t.yml:2: resolver.timeout: ", NULL);
    CHECK_ERR("resolver:\n  bogus_ttl: 86401\n", "t.yml:2: resolver.bogus_ttl: ", "out of range");
    CHECK_ERR("resolver:\n  dnssec_time_check: sometimes\n",
              "t.yml:2: resolver.dnssec_time_check: expected always or after_sync, got \"sometimes\"",
              NULL);
    CHECK_ERR("resolver:\n  serve_expired: maybe\n", "t.yml:2: resolver.serve_expired: ", NULL);
    CHECK_ERR("resolver:\n  serve_expired_ttl: 0\n", "t.yml:2: resolver.serve_expired_ttl: ",
              "out of range");
    CHECK_ERR("resolver:\n  cache_max_ttl: 2147483648\n",
              "t.yml:2: resolver.cache_max_ttl: ", "out of range");
    CHECK_ERR("resolver:\n  cache_max_negative_ttl: -1\n",
              "t.yml:2: resolver.cache_max_negative_ttl: ", "");
    CHECK_ERR("proxy:\n  max_connections: 0\n", "t.yml:2: proxy.max_connections: ", "out of range");
    CHECK_ERR("proxy:\n  cert_cache_entries: 0\n", "t.yml:2: proxy.cert_cache_entries: ", NULL);
    CHECK_ERR("proxy:\n  handshake_timeout: 0\n", "t.yml:2: proxy.handshake_timeout: ", NULL);
    CHECK_ERR("proxy:\n  idle_timeout: 0\n", "t.yml:2: proxy.idle_timeout: ", NULL);
    CHECK_ERR("proxy:\n  buffer_size: 10\n", "t.yml:2: proxy.buffer_size: ", "out of range");

    /* too many items: the line of the first one too many */
    char yaml[2048];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "resolver:\n  allow:\n");
    for (int i = 0; i <= CONFIG_MAX_ADDRS; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "    - 10.0.%d.0/24\n", i);
    CHECK_ERR(yaml, "t.yml:19: resolver.allow: too many items (17, at most 16)", NULL);
    n = (size_t)snprintf(yaml, sizeof yaml, "proxy:\n  allowed_ports: [");
    for (int i = 0; i <= CONFIG_MAX_PORTS; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "%s%d", i ? ", " : "", 1000 + i);
    snprintf(yaml + n, sizeof yaml - n, "]\n");
    CHECK_ERR(yaml, "t.yml:2: proxy.allowed_ports: too many items", NULL);
    CHECK_ERR("resolver:\n  dns_transport_list: [UDP, TCP, TLS, UDP]\n",
              "t.yml:2: resolver.dns_transport_list: too many items", NULL);
    /* exactly the maximum is fine */
    n = (size_t)snprintf(yaml, sizeof yaml, "resolver:\n  listen_addresses:\n");
    for (int i = 0; i < CONFIG_MAX_ADDRS; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "    - 127.0.0.%d@53\n", i + 1);
    CHECK_OK(yaml);
    CHECK_INT_EQ(cfg.resolver.n_listen, CONFIG_MAX_ADDRS);
}

static void test_errors_addresses(void)
{
    CHECK_ERR("resolver:\n  listen_addresses:\n    - 127.0.0.1@53\n    - localhost@53\n",
              "t.yml:4: resolver.listen_addresses: not an IP address: \"localhost@53\"", NULL);
    CHECK_ERR("resolver:\n  listen_addresses: [\"[127.0.0.1]:53\"]\n",
              "t.yml:2: resolver.listen_addresses: ", NULL);
    CHECK_ERR("resolver:\n  listen_addresses: [\"[::1\"]\n",
              "t.yml:2: resolver.listen_addresses: ", "]");
    CHECK_ERR("resolver:\n  listen_addresses: [\"300.1.1.1\"]\n",
              "t.yml:2: resolver.listen_addresses: ", NULL);
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 9.9.9.9@53\n",
              "t.yml:3: resolver.upstream_recursive_servers.address_data: ", "bare address");
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: dns.quad9.net\n",
              "t.yml:3: resolver.upstream_recursive_servers.address_data: not an IP address", NULL);
    CHECK_ERR("resolver:\n  allow: [10.0.0.0/33]\n",
              "t.yml:2: resolver.allow: prefix length must be 0..32", NULL);
    CHECK_ERR("resolver:\n  allow: [\"::/129\"]\n",
              "t.yml:2: resolver.allow: prefix length must be 0..128", NULL);
    CHECK_ERR("proxy:\n  allow:\n    - 10.0.0.0/\n", "t.yml:3: proxy.allow: ", "prefix");
    CHECK_ERR("proxy:\n  allow:\n    - 10.0.0/8\n", "t.yml:3: proxy.allow: not an IP address",
              NULL);
    CHECK_ERR("proxy:\n  allow:\n    - /8\n", "t.yml:3: proxy.allow: ", NULL);
    CHECK_ERR("proxy:\n  allow:\n    - 10.0.0.0/8x\n", "t.yml:3: proxy.allow: ", NULL);
    CHECK_ERR("resolver:\n  upstream_recursive_servers:\n    - address_data: 1.1.1.1\n"
              "      tls_auth_name: \"a b\"\n",
              "t.yml:4: resolver.upstream_recursive_servers.tls_auth_name: ", NULL);
}

static void test_errors_cross_checks(void)
{
    CHECK_ERR("resolver:\n  listen_addresses: [127.0.0.1@53]\n"
              "  upstream_recursive_servers:\n    - address_data: 127.0.0.1\n",
              "t.yml:4: resolver.upstream_recursive_servers: ", "query itself");
    CHECK_ERR("resolver:\n  listen_addresses: [0.0.0.0@53]\n"
              "  upstream_recursive_servers:\n    - address_data: 127.0.0.53\n",
              "t.yml:4: resolver.upstream_recursive_servers: ", "query itself");
    CHECK_ERR("resolver:\n  listen_addresses: [\"::@53\"]\n"
              "  upstream_recursive_servers:\n    - address_data: 127.0.0.1\n",
              "t.yml:4: resolver.upstream_recursive_servers: ", "query itself");
    CHECK_ERR("resolver:\n  listen_addresses: [127.0.0.1@853]\n"
              "  upstream_recursive_servers:\n    - address_data: 127.0.0.1\n",
              "t.yml:4: resolver.upstream_recursive_servers: ", "query itself");
    /* another port or another loopback address is a different server */
    CHECK_OK("resolver:\n  listen_addresses: [127.0.0.1@53]\n"
             "  upstream_recursive_servers:\n    - address_data: 127.0.0.1\n      port: 5353\n"
             "      tls_port: 8853\n");
    CHECK_OK("resolver:\n  listen_addresses: [127.0.0.1@53]\n"
             "  upstream_recursive_servers:\n    - address_data: 127.0.0.53\n");
    CHECK_ERR("proxy:\n  listen_addresses: [127.0.0.1@53]\n",
              "t.yml:2: proxy.listen_addresses: ", "resolver listen address");
    CHECK_ERR("resolver:\n  listen_addresses: [127.0.0.1@8080]\n",
              "t.yml:2: resolver.listen_addresses: ", "proxy");
    CHECK_OK("resolver:\n  listen_addresses: [127.0.0.1@8080]\nproxy:\n  enabled: false\n");
}

static void test_failure_leaves_config(void)
{
    CHECK_OK("resolver:\n  timeout: 1234\n");
    CHECK_INT_EQ(cfg.resolver.timeout_ms, 1234);
    CHECK_ERR("resolver:\n  timeout: 99\n  bogus: 1\n", "t.yml:3: resolver.bogus: ", NULL);
    CHECK_INT_EQ(cfg.resolver.timeout_ms, 1234); /* untouched: still the running one */
}

static void test_load_file(void)
{
    char path[] = "/tmp/daneguard-test-config.XXXXXX";
    int fd = mkstemp(path);
    char expect[600];

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    static const char text[] = "proxy:\n  enabled: false\n\n  buffer_size: 2k\n  nope: 1\n";
    CHECK_INT_EQ(write(fd, text, sizeof text - 1), (long long)(sizeof text - 1));
    close(fd);
    err[0] = '\0';
    CHECK_INT_EQ(config_load(path, &cfg, err), -1);
    snprintf(expect, sizeof expect, "%s:5: proxy.nope: unknown key", path);
    CHECK_STR_EQ(err, expect);
    unlink(path);

    err[0] = '\0';
    CHECK_INT_EQ(config_load("/nonexistent/daneguard.yml", &cfg, err), -1);
    CHECK_STR_EQ(err, "/nonexistent/daneguard.yml: cannot open: No such file or directory");
    CHECK_INT_EQ(config_load("/nonexistent/daneguard.yml", &cfg, NULL), -1);
}

/* Aliases are followed without walking generically: a cycle cannot hang us. */
static void test_aliases(void)
{
    CHECK_OK("resolver:\n  allow: &nets [192.0.2.0/24]\nproxy:\n  allow: *nets\n");
    CHECK_INT_EQ(cfg.proxy.n_allow, 1);
    CHECK_INT_EQ(cfg.proxy.allow[0].prefix, 24);
    /* a mapping that contains itself */
    CHECK_ERR("resolver: &r\n  timeout: 5\n  allow: *r\n",
              "t.yml:1: resolver.allow: ", "expected a list");
    CHECK_ERR("a: &a [*a]\n", "t.yml:1: a: unknown key", NULL);
}

static void test_sockaddr_parse(void)
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
        {"[2001:db8::1]", AF_INET6, "2001:db8::1", 99},
        {"127.0.0.1", AF_INET, "127.0.0.1", 99},
        {"192.0.2.1:8080", AF_INET, "192.0.2.1", 8080},
        {"::", AF_INET6, "::", 99},
        {"::ffff:192.0.2.1@53", AF_INET6, "::ffff:192.0.2.1", 53},
        {"fe80::1%1@53", AF_INET6, "fe80::1", 53},
        {"0.0.0.0@65535", AF_INET, "0.0.0.0", 65535},
    };
    static const char *const bad[] = {
        "",
        "localhost",
        "127.0.0.1@",
        "127.0.0.1@0",
        "127.0.0.1@65536",
        "127.0.0.1@53x",
        "127.0.0.1@-1",
        "[::1",
        "[::1]x",
        "[127.0.0.1]:53",
        "1.2.3",
        "::1@53@53",
        "fe80::1%@53",
        "fe80::1%nosuchif0@53",
        "1.2.3.4.5",
        "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000@53",
    };
    struct config_sockaddr sa;
    char buf[64];

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = config_sockaddr_parse(ok[i].text, 99, &sa);
        if (rc != 0)
            fprintf(stderr, "  did not parse: %s\n", ok[i].text);
        CHECK_INT_EQ(rc, 0);
        CHECK_INT_EQ(sa.ss.ss_family, ok[i].family);
        CHECK_STR_EQ(addr_of(&sa, buf, sizeof buf), ok[i].addr);
        CHECK_INT_EQ(port_of(&sa), ok[i].port);
        CHECK_STR_EQ(sa.text, ok[i].text);
        CHECK_INT_EQ(sa.len, ok[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                     : sizeof(struct sockaddr_in6));
    }
    CHECK_INT_EQ(scope_of(&sa), 0);
    CHECK_INT_EQ(config_sockaddr_parse("fe80::1%1@53", 0, &sa), 0);
    CHECK_INT_EQ(scope_of(&sa), 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = config_sockaddr_parse(bad[i], 53, &sa);
        if (rc != -1)
            fprintf(stderr, "  parsed but should not: %s\n", bad[i]);
        CHECK_INT_EQ(rc, -1);
    }
    CHECK_INT_EQ(config_sockaddr_parse("127.0.0.1", 0, &sa), -1); /* no port at all */
    CHECK_INT_EQ(config_sockaddr_parse(NULL, 53, &sa), -1);
}

/* The default allow lists (the network code itself: tests/unit/test_addr.c). */
static void test_default_allow(void)
{
    struct sockaddr_storage ss;
    struct config c;

    config_defaults(&c); /* loopback only */
    ss = client("::ffff:127.0.0.1");
    CHECK_INT_EQ(addr_cidr_match(c.resolver.allow, c.resolver.n_allow, (struct sockaddr *)&ss),
                 1);
    ss = client("192.168.1.2");
    CHECK_INT_EQ(addr_cidr_match(c.proxy.allow, c.proxy.n_allow, (struct sockaddr *)&ss), 0);
}

/* Every row of daneguard's tables is sound: its field lies in its struct and
 * has the width its kind needs, its maximum fits the field, its default is in
 * its range, and no name is given twice. */
static void test_table_rows(void)
{
    static const struct {
        const char *name;
        const struct key_def *keys;
        size_t size;
    } tables[] = {
        {"top", top_keys, sizeof(struct config)},
        {"resolver", config_resolver_keys, sizeof(struct config_resolver)},
        {"proxy", proxy_keys, sizeof(struct config_proxy)},
        {"upstream", upstream_keys, sizeof(struct upstream_parse)},
    };
    size_t rows = 0;

    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct key_def *d = tables[t].keys; d->name; d++) {
            unsigned long long width_max;
            int ok = 1;

            rows++;
            for (const struct key_def *e = d + 1; e->name; e++)
                ok &= strcmp(d->name, e->name) != 0;
            switch (d->kind) {
            case KIND_COUNT:
            case KIND_MSECS:
            case KIND_SECONDS:
            case KIND_PORT:
            case KIND_BYTES:
            case KIND_FLAG:
            case KIND_CHOICE:
                ok &= d->size == 2 || d->size == 4 || d->size == 8;
                width_max = d->size == 8 ? ~0ULL : (1ULL << (8 * d->size)) - 1;
                ok &= d->offset + d->size <= tables[t].size && d->min <= d->max &&
                      d->max <= width_max;
                if (d->kind == KIND_CHOICE) {
                    int found = 0;
                    ok &= d->size == sizeof(int);
                    for (size_t i = 0; d->choices->words[i].word; i++)
                        found |= (unsigned long long)d->choices->words[i].value == d->dflt;
                    ok &= found;
                } else {
                    ok &= d->min <= d->dflt && d->dflt <= d->max;
                }
                if (d->kind == KIND_FLAG)
                    ok &= d->size == sizeof(int) && d->max == 1;
                if (d->kind == KIND_PORT)
                    ok &= d->min == 1 && d->max == 65535;
                break;
            case KIND_PATH:
                /* "" is a default too: no file (hosts_file, tls_ca_file) */
                ok &= d->offset + d->size <= tables[t].size && d->dflt_text &&
                      strlen(d->dflt_text) < d->size;
                break;
            case KIND_ENDPOINTS:
            case KIND_NETWORKS:
                ok &= d->offset + d->size <= tables[t].size &&
                      d->count_offset + sizeof(size_t) <= tables[t].size &&
                      d->size % (d->kind == KIND_ENDPOINTS ? sizeof(struct config_sockaddr)
                                                           : sizeof(struct addr_cidr)) ==
                          0;
                if (d->kind == KIND_ENDPOINTS)
                    ok &= d->dflt >= 1 && d->dflt <= 65535;
                break;
            case KIND_SECTION:
                ok &= d->keys != NULL && d->offset + d->size <= tables[t].size;
                break;
            case KIND_FUNC:
                ok &= d->fn != NULL;
                break;
            case KIND_IGNORED:
            case KIND_IGNORED_SCALAR:
                break;
            }
            if (!ok)
                fprintf(stderr, "  %s.%s: unsound row\n", tables[t].name, d->name);
            CHECK(ok);
        }
    CHECK(rows >= 50);
}

/* The field of row d in section struct obj, as a number. */
static unsigned long long field_value(const void *obj, const struct key_def *d)
{
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    const char *at = (const char *)obj + d->offset;

    if (d->size == 2)
        return memcpy(&v16, at, 2), v16;
    if (d->size == 4)
        return memcpy(&v32, at, 4), v32;
    return memcpy(&v64, at, 8), v64;
}

/* Each scalar key of resolver: and proxy: reads into its own field and only
 * there; its maximum is taken, and one past either end of its range is
 * refused with the key's name and the range. */
static void test_table_keys(void)
{
    static const struct {
        const char *name;
        const struct key_def *keys;
        size_t offset;
    } sections[] = {
        {"resolver", config_resolver_keys, offsetof(struct config, resolver)},
        {"proxy", proxy_keys, offsetof(struct config, proxy)},
    };
    char yaml[256], prefix[128];
    size_t tried = 0;

    for (size_t s = 0; s < 2; s++)
        for (const struct key_def *d = sections[s].keys; d->name; d++) {
            struct config want;
            const char *got_section = (const char *)&cfg + sections[s].offset;
            unsigned long long value;

            config_defaults(&want);
            snprintf(prefix, sizeof prefix, "t.yml:2: %s.%s: ", sections[s].name, d->name);
            switch (d->kind) {
            case KIND_COUNT:
            case KIND_MSECS:
            case KIND_SECONDS:
            case KIND_BYTES:
                value = d->max;
                snprintf(yaml, sizeof yaml, "%s:\n  %s: %llu\n", sections[s].name, d->name,
                         value + 1);
                CHECK_ERR(yaml, prefix, "is out of range (");
                CHECK(strstr(err, d->kind == KIND_MSECS     ? " milliseconds)"
                                  : d->kind == KIND_SECONDS ? " seconds)"
                                  : d->kind == KIND_BYTES   ? " bytes)"
                                                            : ")") != NULL);
                if (d->min > 0) {
                    snprintf(yaml, sizeof yaml, "%s:\n  %s: %llu\n", sections[s].name, d->name,
                             d->min - 1);
                    CHECK_ERR(yaml, prefix, "is out of range (");
                }
                snprintf(yaml, sizeof yaml, "%s:\n  %s: %llu\n", sections[s].name, d->name, value);
                break;
            case KIND_FLAG:
                value = !d->dflt;
                snprintf(yaml, sizeof yaml, "%s:\n  %s: %s\n", sections[s].name, d->name,
                         value ? "yes" : "no");
                break;
            case KIND_CHOICE: {
                size_t i = 0;
                while (d->choices->words[i + 1].word &&
                       (unsigned long long)d->choices->words[i].value == d->dflt)
                    i++;
                value = (unsigned long long)d->choices->words[i].value;
                snprintf(yaml, sizeof yaml, "%s:\n  %s: %s\n", sections[s].name, d->name,
                         d->choices->words[i].word);
                CHECK(value != d->dflt);
                snprintf(prefix + strlen(prefix), sizeof prefix - strlen(prefix), "expected %s",
                         d->choices->what);
                char bad[128];
                snprintf(bad, sizeof bad, "%s:\n  %s: nonsense\n", sections[s].name, d->name);
                CHECK_ERR(bad, prefix, "got \"nonsense\"");
                break;
            }
            case KIND_PATH:
                value = 0;
                snprintf(yaml, sizeof yaml, "%s:\n  %s: /x/y\n", sections[s].name, d->name);
                break;
            default:
                continue;
            }
            tried++;
            CHECK_OK(yaml);
            if (d->kind == KIND_PATH) {
                CHECK_STR_EQ(got_section + d->offset, "/x/y");
                snprintf((char *)&want + sections[s].offset + d->offset, d->size, "/x/y");
            } else {
                CHECK_INT_EQ(field_value(got_section, d), value);
                memcpy((char *)&want + sections[s].offset + d->offset, got_section + d->offset,
                       d->size);
            }
            /* max_connections_per_client follows max_connections unless given */
            if (strcmp(d->name, "max_connections") == 0)
                want.proxy.max_connections_per_client = (uint32_t)(value / 4);
            /* nothing else moved */
            if (memcmp((const char *)&want + sections[s].offset, got_section,
                       s == 0 ? sizeof(struct config_resolver) : sizeof(struct config_proxy)) !=
                0) {
                fprintf(stderr, "  %s.%s: another field changed too\n", sections[s].name, d->name);
                unit_failed_checks++;
            }
        }
    CHECK(tried >= 16);
}

int main(void)
{
    UNIT_RUN(test_defaults);
    UNIT_RUN(test_empty_files);
    UNIT_RUN(test_resolver_keys);
    UNIT_RUN(test_resolver_keys_tls_required);
    UNIT_RUN(test_trust_anchor_list);
    UNIT_RUN(test_sizes);
    UNIT_RUN(test_proxy_keys);
    UNIT_RUN(test_proxy_destination_keys);
    UNIT_RUN(test_proxy_exceptions);
    UNIT_RUN(test_user);
    UNIT_RUN(test_lists_replace_defaults);
    UNIT_RUN(test_stubby_carries_over);
    UNIT_RUN(test_local_names_keys);
    UNIT_RUN(test_local_names_root_unvalidated);
    UNIT_RUN(test_stubby_all_keys);
    UNIT_RUN(test_sample_file);
    UNIT_RUN(test_sample_file_uncommented);
    UNIT_RUN(test_errors_types);
    UNIT_RUN(test_errors_unknown_keys);
    UNIT_RUN(test_errors_syntax);
    UNIT_RUN(test_errors_duplicates);
    UNIT_RUN(test_errors_ranges);
    UNIT_RUN(test_errors_addresses);
    UNIT_RUN(test_errors_cross_checks);
    UNIT_RUN(test_failure_leaves_config);
    UNIT_RUN(test_load_file);
    UNIT_RUN(test_aliases);
    UNIT_RUN(test_sockaddr_parse);
    UNIT_RUN(test_default_allow);
    UNIT_RUN(test_table_rows);
    UNIT_RUN(test_table_keys);
    return UNIT_END();
}
