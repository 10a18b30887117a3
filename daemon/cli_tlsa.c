/* daemon/cli_tlsa.c — daneguard tlsa: make the TLSA records an operator publishes.
 *
 * From a certificate file, a key file, or a live server (optionally after
 * SMTP STARTTLS), print the zone-file line and, on request, the pdnsutil
 * command and the issuer's DANE-TA record. Replaces the usual
 * `openssl x509 -pubkey | openssl pkey -pubin -outform DER | openssl dgst`
 * pipeline. Exit 0 on success, 1 when the server could not be reached or
 * spoke no TLS, 2 on bad input.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "addr.h"
#include "cli.h"
#include "cli_resolve.h"
#include "config.h"
#include "dane.h"
#include "log.h"
#include "tls_fetch.h"
#include "smtp.h"

#define TLSA_TIMEOUT_MS 10000
#define TLSA_NAME_MAX 256

static void tlsa_usage(FILE *out)
{
    fprintf(out, "usage: daneguard tlsa (--cert FILE | --key FILE | --connect HOST[:PORT])\n"
                 "                      [--usage U] [--selector S] [--mtype M]\n"
                 "                      [--host NAME] [--port N] [--pdns ZONE] [--chain]\n"
                 "                      [--starttls smtp] [--sni NAME] [-c FILE]\n"
                 "\n"
                 "Prints the TLSA record to publish, as a zone-file line:\n"
                 "  _443._tcp.www.example.com. IN TLSA 3 1 1 <hex>\n"
                 "\n"
                 "  --cert FILE       a certificate, PEM or DER; a PEM file may hold the\n"
                 "                    chain after the leaf\n"
                 "  --key FILE        a private or public key, PEM or DER (selector 1 only)\n"
                 "  --connect H[:P]   fetch the chain from a live server (port 443, or 25\n"
                 "                    with --starttls smtp); [v6]:port for IPv6\n"
                 "  --starttls smtp   speak EHLO and STARTTLS before the TLS handshake\n"
                 "  --sni NAME        server name to send (default: the --connect host)\n"
                 "  -c, --config FILE for --connect to a name: the configuration whose\n"
                 "                    resolver: section (upstreams, trust anchors) looks up\n"
                 "                    its addresses, through daneguard's validating resolver\n"
                 "                    (default " CLI_DEFAULT_CONFIG ")\n"
                 "  --usage U         0-3 (default 3, DANE-EE)\n"
                 "  --selector S      0 certificate, 1 public key (default 1)\n"
                 "  --mtype M         0 exact, 1 SHA-256, 2 SHA-512 (default 1)\n"
                 "  --host NAME       owner name's host (default: the --connect host or\n"
                 "                    --sni, else the certificate's first DNS name)\n"
                 "  --port N          owner name's port (default: the connection's, or 443)\n"
                 "  --pdns ZONE       also print the pdnsutil add-record command for ZONE\n"
                 "  --chain           also print the issuer's 2 S M record (DANE-TA), which\n"
                 "                    keeps working when the leaf is renewed\n"
                 "  -h, --help        this text\n");
}

struct tlsa_opts {
    const char *cert, *key, *connect, *starttls, *sni, *host, *pdns, *config;
    int usage, selector, mtype, port, chain;
};

static int parse_num(const char *opt, const char *s, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max) {
        fprintf(stderr, "daneguard tlsa: %s '%s' is not a number 0-%d\n", opt, s, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* HOST[:PORT], [V6]:PORT, or a bare IPv6 address. */
static int split_hostport(const char *in, char *host, size_t hsize, int *port)
{
    const char *p = NULL;
    size_t hlen;
    if (in[0] == '[') {
        const char *close = strchr(in, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return -1;
        hlen = (size_t)(close - in - 1);
        in++;
        p = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strchr(in, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            hlen = (size_t)(colon - in);
            p = colon + 1;
        } else {
            hlen = strlen(in);
        }
    }
    if (hlen == 0 || hlen >= hsize)
        return -1;
    memcpy(host, in, hlen);
    host[hlen] = '\0';
    if (p != NULL && parse_num("--connect port", p, 65535, port) != 0)
        return -1;
    return 0;
}

/* ---- fetching a chain -------------------------------------------------- */

/* host's addresses: a literal as it is, a name through daneguard's own
 * validating resolver configured from config_path (never the system
 * resolver: the record printed is for what DNSSEC says the host is). The
 * count, or after a message -1 (no address) or -2 (the configuration). */
static int connect_addresses(const char *config_path, const char *host, int port,
                             struct sockaddr_storage *out, size_t max)
{
    static struct config cfg; /* large */
    char err[512];
    int n;

    if (addr_parse(host, (uint16_t)port, &out[0]) == 0)
        return 1;
    if (cli_config_load("daneguard tlsa", config_path, &cfg) < 0)
        return -2;
    log_init("daneguard tlsa", 0);
    n = cli_resolve_addresses(&cfg, host, (uint16_t)port, out, max, err, sizeof err);
    if (n < 0)
        fprintf(stderr, "daneguard tlsa: --connect %s: %s\n", host, err);
    return n;
}

/* Connects to the first of host's addresses that answers, handshakes as the
 * proxy does (tls_fetch.c; no verification: we only read what is presented)
 * and copies the presented chain into `out`. Returns 0, 1 on failure, 2 when
 * the configuration cannot be used. */
static int fetch_chain(const char *config_path, const char *host, int port, const char *sni,
                       int smtp, mbedtls_x509_crt *out)
{
    mbedtls_net_context fd;
    struct sockaddr_storage addrs[16];
    char where[TLSA_NAME_MAX + 16], ip[ADDR_TEXT_MAX], err[256];
    int status = 1, n;

    mbedtls_net_init(&fd);
    snprintf(where, sizeof(where), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    n = connect_addresses(config_path, host, port, addrs, sizeof addrs / sizeof addrs[0]);
    if (n < 0)
        return n == -2 ? 2 : 1;
    for (int i = 0; i < n && fd.fd < 0; i++) {
        addr_format((const struct sockaddr *)&addrs[i], 0, ip, sizeof ip);
        if ((fd.fd = cli_connect_bounded(&addrs[i], TLSA_TIMEOUT_MS, err, sizeof err)) < 0)
            fprintf(stderr, "daneguard tlsa: %s (%s): %s\n", where, ip, err);
    }
    if (fd.fd < 0)
        goto out;
    if (smtp && smtp_starttls(&fd, TLSA_TIMEOUT_MS, err, sizeof(err)) != 0) {
        fprintf(stderr, "daneguard tlsa: %s: %s\n", where, err);
        goto out;
    }
    /* no SNI for an IP literal, as the proxy: tls_conn_new_client() decides */
    if (tls_fetch_chain(fd.fd, sni != NULL ? sni : host, (uint16_t)port, TLSA_TIMEOUT_MS, out,
                        err, sizeof(err)) != 0) {
        fprintf(stderr, "daneguard tlsa: TLS with %s failed: %s\n", where, err);
        goto out;
    }
    status = 0;
out:
    mbedtls_net_free(&fd);
    return status;
}

/* SubjectPublicKeyInfo DER of a key file (private or public, PEM or DER),
 * written to the end of buf; returns its start, or NULL. */
static unsigned char *key_spki(const char *file, unsigned char *buf, size_t size, size_t *len)
{
    mbedtls_pk_context pk;
    char err[200];
    unsigned char *spki = NULL;
    mbedtls_pk_init(&pk);
    if (access(file, R_OK) != 0) {
        fprintf(stderr, "daneguard tlsa: --key %s: %s\n", file, strerror(errno));
        return NULL;
    }
    int ret = mbedtls_pk_parse_keyfile(&pk, file, NULL);
    if (ret != 0) {
        mbedtls_pk_free(&pk);
        mbedtls_pk_init(&pk);
        ret = mbedtls_pk_parse_public_keyfile(&pk, file);
    }
    if (ret != 0) {
        mbedtls_strerror(ret, err, sizeof(err));
        fprintf(stderr, "daneguard tlsa: --key %s: not a private or public key: %s\n", file, err);
    } else if ((ret = mbedtls_pk_write_pubkey_der(&pk, buf, size)) <= 0) {
        fprintf(stderr, "daneguard tlsa: --key %s: cannot encode the public key\n", file);
    } else {
        *len = (size_t)ret;
        spki = buf + size - *len;
    }
    mbedtls_pk_free(&pk);
    return spki;
}

/* The first dNSName of a certificate, else its CN. */
static int cert_first_name(const mbedtls_x509_crt *crt, char *out, size_t size)
{
    for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s != NULL; s = s->next)
        if (s->buf.p != NULL &&
            s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME) &&
            s->buf.len < size && s->buf.p[0] != '*') {
            memcpy(out, s->buf.p, s->buf.len);
            out[s->buf.len] = '\0';
            return 0;
        }
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next)
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
            n->val.len < size && memchr(n->val.p, ' ', n->val.len) == NULL) {
            memcpy(out, n->val.p, n->val.len);
            out[n->val.len] = '\0';
            return 0;
        }
    return -1;
}

static void strip_dot(char *s)
{
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '.')
        s[len - 1] = '\0';
}

/* Prints the record for its owner, and the pdnsutil line for the zone. */
static int print_record(const struct dane_tlsa *rec, const char *owner, const char *zone)
{
    char *text = dane_tlsa_to_text(rec);
    if (text == NULL) {
        fprintf(stderr, "daneguard tlsa: out of memory\n");
        return 1;
    }
    printf("%s. IN TLSA %s\n", owner, text);
    if (zone != NULL) {
        size_t olen = strlen(owner), zlen = strlen(zone);
        const char *rel = owner;
        int rlen = (int)(olen - zlen - 1);
        /* owner ends in "." + zone, case-insensitively (it always has labels before) */
        if (zlen > 0 && olen > zlen + 1 && owner[olen - zlen - 1] == '.' &&
            strcasecmp(owner + olen - zlen, zone) == 0)
            printf("pdnsutil add-record %s %.*s TLSA 3600 \"%s\"\n", zone, rlen, rel, text);
        else
            printf("pdnsutil add-record %s %s. TLSA 3600 \"%s\"\n", zone, owner, text);
    }
    free(text);
    return 0;
}

int cli_tlsa_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"cert", required_argument, NULL, 'f'},     {"key", required_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"connect", required_argument, NULL, 'C'},  {"starttls", required_argument, NULL, 's'},
        {"sni", required_argument, NULL, 'S'},      {"usage", required_argument, NULL, 'u'},
        {"selector", required_argument, NULL, 'e'}, {"mtype", required_argument, NULL, 'm'},
        {"host", required_argument, NULL, 'H'},     {"port", required_argument, NULL, 'p'},
        {"pdns", required_argument, NULL, 'z'},     {"chain", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    struct tlsa_opts o = {
        .usage = 3, .selector = 1, .mtype = 1, .port = -1, .config = CLI_DEFAULT_CONFIG};
    mbedtls_x509_crt crt;
    struct dane_tlsa rec = {0}, issuer_rec = {0};
    char host[TLSA_NAME_MAX] = "", conn_host[TLSA_NAME_MAX] = "", owner[TLSA_NAME_MAX + 32],
         zone[TLSA_NAME_MAX] = "", err[200];
    unsigned char keybuf[4096];
    int opt, ret, status = 2, conn_port = -1;

    mbedtls_x509_crt_init(&crt);
    optind = 0;
    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            o.cert = optarg;
            break;
        case 'c':
            o.config = optarg;
            break;
        case 'k':
            o.key = optarg;
            break;
        case 'C':
            o.connect = optarg;
            break;
        case 's':
            o.starttls = optarg;
            break;
        case 'S':
            o.sni = optarg;
            break;
        case 'u':
            if (parse_num("--usage", optarg, 3, &o.usage) != 0)
                goto out;
            break;
        case 'e':
            if (parse_num("--selector", optarg, 1, &o.selector) != 0)
                goto out;
            break;
        case 'm':
            if (parse_num("--mtype", optarg, 2, &o.mtype) != 0)
                goto out;
            break;
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            if (parse_num("--port", optarg, 65535, &o.port) != 0)
                goto out;
            break;
        case 'z':
            o.pdns = optarg;
            break;
        case 'a':
            o.chain = 1;
            break;
        case 'h':
            tlsa_usage(stdout);
            status = 0;
            goto out;
        default:
            tlsa_usage(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "daneguard tlsa: unexpected argument '%s' (see --help)\n", argv[optind]);
        goto out;
    }
    if ((o.cert != NULL) + (o.key != NULL) + (o.connect != NULL) != 1) {
        fprintf(stderr, "daneguard tlsa: give exactly one of --cert, --key, --connect\n");
        goto out;
    }
    if (o.starttls != NULL && (strcmp(o.starttls, "smtp") != 0 || o.connect == NULL)) {
        fprintf(stderr, "daneguard tlsa: --starttls takes 'smtp' and needs --connect\n");
        goto out;
    }
    if (o.key != NULL && (o.selector != DANE_SELECTOR_SPKI || o.chain)) {
        fprintf(stderr, "daneguard tlsa: --key gives only a public key: selector 1, no --chain\n");
        goto out;
    }
    if (o.pdns != NULL) {
        snprintf(zone, sizeof(zone), "%s", o.pdns);
        strip_dot(zone);
    }

    const unsigned char *der = NULL;
    size_t der_len = 0;
    if (o.connect != NULL) {
        conn_port = o.starttls ? 25 : 443;
        if (split_hostport(o.connect, conn_host, sizeof(conn_host), &conn_port) != 0) {
            fprintf(stderr, "daneguard tlsa: --connect '%s' is not HOST[:PORT]\n", o.connect);
            goto out;
        }
        const char *sni = o.sni ? o.sni : addr_is_literal(conn_host) ? NULL : conn_host;
        if ((ret = fetch_chain(o.config, conn_host, conn_port, sni, o.starttls != NULL, &crt)) !=
            0) {
            status = ret;
            goto out;
        }
    } else if (o.cert != NULL) {
        if (access(o.cert, R_OK) != 0) {
            fprintf(stderr, "daneguard tlsa: --cert %s: %s\n", o.cert, strerror(errno));
            goto out;
        }
        ret = mbedtls_x509_crt_parse_file(&crt, o.cert);
        if (ret != 0 || crt.raw.p == NULL) {
            if (ret < 0)
                mbedtls_strerror(ret, err, sizeof(err));
            fprintf(stderr, "daneguard tlsa: --cert %s: %s\n", o.cert,
                    ret < 0   ? err
                    : ret > 0 ? "a certificate in it does not parse"
                              : "no certificate in it");
            goto out;
        }
    } else {
        der = key_spki(o.key, keybuf, sizeof(keybuf), &der_len);
        if (der == NULL)
            goto out;
    }

    /* the owner name: _port._tcp.host */
    if (o.host != NULL)
        snprintf(host, sizeof(host), "%s", o.host);
    else if (o.connect != NULL && !addr_is_literal(conn_host))
        snprintf(host, sizeof(host), "%s", conn_host);
    else if (o.sni != NULL)
        snprintf(host, sizeof(host), "%s", o.sni);
    else if (crt.raw.p != NULL)
        (void)cert_first_name(&crt, host, sizeof(host));
    strip_dot(host);
    if (host[0] == '\0') {
        fprintf(stderr, "daneguard tlsa: no host name for the owner name: give --host\n");
        goto out;
    }
    int port = o.port >= 0 ? o.port : conn_port >= 0 ? conn_port : 443;
    snprintf(owner, sizeof(owner), "_%d._tcp.%s", port, host);

    if (der != NULL)
        ret = dane_tlsa_make(&rec, (uint8_t)o.usage, 1, (uint8_t)o.mtype, der, der_len);
    else
        ret = dane_tlsa_make_cert(&rec, (uint8_t)o.usage, (uint8_t)o.selector, (uint8_t)o.mtype,
                                  &crt);
    if (ret != 0) {
        fprintf(stderr, "daneguard tlsa: %s\n", dane_strerror(ret));
        goto out;
    }
    if (o.chain) {
        if (crt.next == NULL || crt.next->raw.p == NULL) {
            fprintf(stderr,
                    "daneguard tlsa: --chain: %s has no issuer certificate after the "
                    "leaf\n",
                    o.cert ? o.cert : "the server's chain");
            goto out;
        }
        if ((ret = dane_tlsa_make_cert(&issuer_rec, DANE_USAGE_DANE_TA, (uint8_t)o.selector,
                                       (uint8_t)o.mtype, crt.next)) != 0) {
            fprintf(stderr, "daneguard tlsa: %s\n", dane_strerror(ret));
            goto out;
        }
    }
    status = print_record(&rec, owner, o.pdns ? zone : NULL);
    if (status == 0 && o.chain)
        status = print_record(&issuer_rec, owner, o.pdns ? zone : NULL);
out:
    dane_tlsa_clear(&issuer_rec);
    dane_tlsa_clear(&rec);
    mbedtls_x509_crt_free(&crt);
    return status;
}
