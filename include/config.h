/* include/config.h — the daneguard configuration: parsed whole from YAML,
 * checked, then handed to the daemon (and swapped in whole on SIGHUP).
 *
 * The resolver: section takes Stubby's keys with Stubby's meaning; the rest are
 * daneguard's own. conf/daneguard.yml documents every key.
 */
#ifndef DANEGUARD_CONFIG_H
#define DANEGUARD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h" /* struct addr_cidr: networks ("127.0.0.0/8") */

#define CONFIG_MAX_ADDRS 16
#define CONFIG_MAX_PORTS 16
#define CONFIG_ERR_LEN 512
#define CONFIG_MAX_EXCEPTIONS 64
#define CONFIG_HOST_MAX 254 /* a host name as text, no trailing dot, and its NUL */

/* A listening or upstream address: "addr@port", "addr#port" or plain "addr". */
struct config_sockaddr {
    struct sockaddr_storage ss; /* family, address and port, network order */
    socklen_t len;
    char text[ADDR_ENDPOINT_MAX]; /* as written, for logs */
};


/* A port or a range of ports, "80" or "1024-65535" (lo == hi for one port). */
struct config_port_range {
    uint16_t lo, hi;
};

#define CONFIG_MAX_PINS 8 /* tls_pubkey_pinset entries per upstream */

struct config_upstream {
    struct config_sockaddr addr; /* address_data, port (default 53) */
    uint16_t tls_port;           /* default 853 */
    char tls_auth_name[256];     /* "" when absent */
    uint8_t pins[CONFIG_MAX_PINS][32]; /* tls_pubkey_pinset: SHA-256 of SPKI (RFC 7858 §4.2) */
    size_t n_pins;
};

#define CONFIG_MAX_FORWARD_ZONES 16
#define CONFIG_MAX_ZONE_UPSTREAMS 4
#define CONFIG_MAX_INSECURE 32
#define CONFIG_MAX_LOCAL_DATA 128
#define CONFIG_LOCAL_DATA_LEN 256

/* forward_zones: names below name go to the zone's own upstreams (plain DNS,
 * UDP then TCP, through a forwarder of their own), validated or not. */
struct config_forward_zone {
    char name[256]; /* as written, absolute ("lan.") */
    struct config_sockaddr upstreams[CONFIG_MAX_ZONE_UPSTREAMS];
    size_t n_upstreams;
    int validated; /* default false: answered without AD, never bogus */
};

enum config_transport {
    CONFIG_TRANSPORT_UDP = 1200, /* same values as getdns_transport_list_t */
    CONFIG_TRANSPORT_TCP = 1201,
    CONFIG_TRANSPORT_TLS = 1202,
};

enum config_intercept { CONFIG_INTERCEPT_DANE, CONFIG_INTERCEPT_ALL };

/* dnssec_time_check: when signature times are checked (clock_sync.h) */
enum config_time_check { CONFIG_TIME_CHECK_ALWAYS, CONFIG_TIME_CHECK_AFTER_SYNC };

struct config_resolver {
    struct config_sockaddr listen[CONFIG_MAX_ADDRS]; /* listen_addresses */
    size_t n_listen;
    struct config_upstream upstreams[CONFIG_MAX_ADDRS]; /* upstream_recursive_servers */
    size_t n_upstreams;                                 /* 0: take them from resolv_conf at start */
    enum config_transport transports[3];                /* dns_transport_list, default [UDP, TCP] */
    size_t n_transports;
    int tls_authentication_required;            /* GETDNS_AUTHENTICATION_REQUIRED (default: none) */
    char trust_anchors[CONFIG_MAX_ADDRS][256];  /* dnssec_trust_anchors: files */
    size_t n_trust_anchors;                     /* default 1: /usr/share/dns/root.key */
    uint32_t timeout_ms;                        /* timeout: one client query, default 5000 */
    uint32_t idle_timeout_ms;                   /* idle_timeout: upstream TCP/TLS, default 10000 */
    int round_robin_upstreams;                  /* round_robin_upstreams: rotate, default 0 */
    uint32_t tls_query_padding_blocksize;       /* EDNS(0) padding of DoT queries, default 128 */
    struct addr_cidr allow[CONFIG_MAX_ADDRS]; /* allow, default loopback */
    size_t n_allow;
    size_t cache_size;     /* cache_size in bytes, default 32 MiB ("32m") */
    uint32_t bogus_ttl_s;  /* bogus_ttl: how long a bogus answer is cached, default 60 */
    uint32_t cache_max_ttl_s;          /* cache_max_ttl: served and cached, default 86400 */
    uint32_t cache_max_negative_ttl_s; /* cache_max_negative_ttl: NXDOMAIN/NODATA, 3600 */
    char resolv_conf[256]; /* resolv_conf: where upstreams come from when none given */
    uint32_t max_tcp_clients;        /* max_tcp_clients: DNS-over-TCP connections, default 1024 */
    uint32_t max_waiting_queries;    /* max_waiting_queries: UDP queries waiting, default 4096 */
    uint32_t max_waiting_per_client; /* max_waiting_per_client: per client address, default 64 */
    enum config_time_check dnssec_time_check; /* dnssec_time_check, default always */
    int serve_expired;             /* serve_expired (RFC 8767), default false */
    uint32_t serve_expired_ttl_s;  /* serve_expired_ttl: how long past expiry, default 86400 */
    struct config_forward_zone forward_zones[CONFIG_MAX_FORWARD_ZONES]; /* forward_zones */
    size_t n_forward_zones;
    char domain_insecure[CONFIG_MAX_INSECURE][256]; /* negative trust anchors (RFC 7646) */
    size_t n_domain_insecure;
    char local_data[CONFIG_MAX_LOCAL_DATA][CONFIG_LOCAL_DATA_LEN]; /* "name TTL IN A addr" */
    size_t n_local_data;
    char hosts_file[256];  /* hosts_file: "" = none */
    int rebind_protection; /* rebind_protection, default true */
    /* tls_ca_file, tls_ca_path: the roots tls_auth_name is checked against;
     * both "": the system's bundle (/etc/ssl/certs/ca-certificates.crt) */
    char tls_ca_file[256];
    char tls_ca_path[256];
    /* Not a key: a context for a forward zone or the domain_insecure names,
     * that asks without DNSSEC and calls every answer insecure (resolver.c) */
    int unvalidated;
    /* Not keys: derived from the open-file limit at start (daemon/main.c); 0 is
     * the module's own bound. */
    uint32_t max_lookups;           /* distinct lookups in flight */
    uint32_t max_getdns_sockets;    /* sockets getdns may hold open */
    uint32_t max_forwarder_sockets; /* forwarder tries open upstream (one socket each) */
};

struct config_proxy {
    int enabled;                                     /* proxy: present and enabled (default yes) */
    struct config_sockaddr listen[CONFIG_MAX_ADDRS]; /* listen_addresses, default 127.0.0.1@8080 */
    size_t n_listen;
    struct addr_cidr allow[CONFIG_MAX_ADDRS]; /* client networks, default loopback */
    size_t n_allow;
    enum config_intercept intercept; /* dane (default) or all */
    char ca_dir[256];                /* default /var/lib/daneguard */
    char trust_store[256];           /* PKIX roots, default /etc/ssl/certs/ca-certificates.crt */
    uint16_t allowed_ports[CONFIG_MAX_PORTS]; /* CONNECT ports, default 443, 8443 */
    size_t n_allowed_ports;
    uint32_t max_connections;      /* default 1024 */
    uint32_t buffer_size;          /* per direction, default 16 KiB */
    uint32_t handshake_timeout_ms; /* default 10000 */
    uint32_t idle_timeout_ms;      /* default 300000 */
    uint32_t cert_cache_entries;   /* minted certificates kept, default 1000 */
    /* allow_destinations: networks the proxy may connect to although they
     * are local (loopback, RFC 1918, ...: addr_kind_of()), default none */
    struct addr_cidr allow_destinations[CONFIG_MAX_ADDRS];
    size_t n_allow_destinations;
    struct config_port_range http_ports[CONFIG_MAX_PORTS]; /* plain HTTP, default 80, 8080 */
    size_t n_http_ports;
    uint32_t max_connections_per_client; /* default max_connections / 4 */
    uint32_t max_lookups_per_client;     /* DNS lookups in flight, default 128 */
    /* exceptions: hosts tunnelled untouched without DANE, "host.example" or
     * "*.example" (any name below it, not the name itself); lower case, no
     * trailing dot (config_exception_match()). Default none. */
    char exceptions[CONFIG_MAX_EXCEPTIONS][CONFIG_HOST_MAX];
    size_t n_exceptions;
};

struct config {
    char path[256];
    char user[64]; /* user to drop to after binding, "" = stay */
    struct config_resolver resolver;
    struct config_proxy proxy;
};

/* Fill *cfg with the built-in defaults (what an empty file means). */
void config_defaults(struct config *cfg);

/* Parse the YAML file at path into *cfg (defaults first, then the file).
 * Returns 0, or -1 with a message "FILE:LINE: key: what is wrong" in err.
 * *cfg is only meaningful on success; nothing to free either way. */
int config_load(const char *path, struct config *cfg, char err[CONFIG_ERR_LEN]);

/* The same from a string (name is used in messages); for tests. */
int config_load_string(const char *name, const char *yaml, struct config *cfg,
                       char err[CONFIG_ERR_LEN]);

/* The index of the first of px's exceptions that host (a name as a client
 * wrote it: any case, a trailing dot or not) matches, or -1. "*.example"
 * matches every name below example, never example itself. */
int config_exception_match(const struct config_proxy *px, const char *host);

/* Parse "addr@port" / "addr#port" / "[v6]:port" / "addr" with default_port. */
int config_sockaddr_parse(const char *text, uint16_t default_port, struct config_sockaddr *out);

#endif
