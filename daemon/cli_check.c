/* daemon/cli_check.c — daneguard check: the live check an operator runs after
 * publishing TLSA records.
 *
 *   daneguard check HOST [PORT] [--starttls smtp] [-c FILE] [-v]
 *
 * In-process, through daneguard's own validating resolver (the configuration's
 * resolver: section): A, AAAA and TLSA at _PORT._tcp.HOST, with the RFC 7671 §7
 * base domain (a securely CNAME'd HOST has its TLSA looked up at the CNAME
 * target first, the original name when the target has none). Then every
 * address the A/AAAA lookups returned (none from a bogus answer) gets a TLS
 * handshake with SNI = HOST (after SMTP EHLO + STARTTLS when asked) and
 * dane_verify() on the presented chain. Warnings name what will break a
 * rollover. Output is one fact per line on stdout; the resolver logs on stderr.
 *
 * Exit 0 only when the TLSA RRset is secure with a usable record and every
 * address verifies; 1 otherwise; 2 for bad usage or configuration.
 *
 * The lookups and the words for their answers are in cli_check_dns.c (the
 * private cli_check.h between the two); this file connects, verifies and
 * prints. The SMTP STARTTLS exchange is smtp.c's, the TLS handshake
 * tls_fetch.c's (the proxy's engine over a blocking socket).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "addr.h"
#include "cli.h"
#include "cli_check.h"
#include "cli_resolve.h"
#include "config.h"
#include "dane.h"
#include "log.h"
#include "lookup.h"
#include "resolver.h"
#include "smtp.h"
#include "tls_fetch.h"
#include "wire.h"

#define CHECK_DEFAULT_CONFIG CLI_DEFAULT_CONFIG
#define CHECK_DEFAULT_TRUST "/etc/ssl/certs/ca-certificates.crt"
#define CHECK_IO_TIMEOUT_MS 10000
#define CHECK_EXPIRY_DAYS 30
#define CHECK_NAME_MAX 320 /* "_65535._tcp." + a 255-byte name, with room */

static void check_usage(FILE *out)
{
    fprintf(out, "usage: daneguard check HOST [PORT] [--starttls smtp] [-c FILE] [-v]\n"
                 "\n"
                 "Checks a published TLSA RRset live: looks up _PORT._tcp.HOST through\n"
                 "daneguard's validating resolver (following a secure CNAME to its target,\n"
                 "RFC 7671 7), prints its DNSSEC status and records, connects to every\n"
                 "address of HOST, and says which record matched each presented chain.\n"
                 "Warns about what breaks a key rollover.\n"
                 "\n"
                 "  PORT              default 443, or 25 with --starttls smtp\n"
                 "  --starttls smtp   speak EHLO and STARTTLS before the TLS handshake\n"
                 "  -c, --config FILE the configuration whose resolver: section is used and\n"
                 "                    whose proxy.trust_store holds the PKIX roots for usages\n"
                 "                    0 and 1 (default " CHECK_DEFAULT_CONFIG ")\n"
                 "  -v                resolver logging on stderr; repeat for more\n"
                 "  -h, --help        this text\n"
                 "\n"
                 "Output, one fact per line:\n"
                 "  tlsa _443._tcp.HOST.: secure, 2 records\n"
                 "  record 3 1 1 <hex>\n"
                 "  address 192.0.2.1 port 443: OK 3 1 1 depth 0\n"
                 "  address 2001:db8::1 port 443: FAIL <reason>\n"
                 "  warning: <what breaks a rollover>\n"
                 "  result: OK | FAIL <why>\n"
                 "\n"
                 "Exit status: 0 every address verified against a secure TLSA RRset;\n"
                 "1 any address failed or the DNSSEC status is not secure; 2 bad usage\n"
                 "or configuration.\n");
}

/* ---- connecting --------------------------------------------------------- */

/* Connects to ss, handshakes as the proxy does (tls_fetch.c; SNI host, no
 * verification: the DANE engine judges what is presented) and copies the
 * presented chain into out. Returns 0, or -1 with the reason in err. */
static int fetch_chain(const struct sockaddr_storage *ss, uint16_t port, const char *host,
                       int smtp, mbedtls_x509_crt *out, char *err, size_t errlen)
{
    mbedtls_net_context net;
    int status = -1;

    mbedtls_net_init(&net);
    if ((net.fd = cli_connect_bounded(ss, CHECK_IO_TIMEOUT_MS, err, errlen)) < 0)
        goto out;
    if (smtp && smtp_starttls(&net, CHECK_IO_TIMEOUT_MS, err, errlen) != 0)
        goto out;
    if (tls_fetch_chain(net.fd, host, port, CHECK_IO_TIMEOUT_MS, out, err, errlen) != 0)
        goto out;
    status = 0;
out:
    mbedtls_net_free(&net);
    return status;
}

static void record_short(const struct dane_tlsa *rec, char *out, size_t cap)
{
    char *text = dane_tlsa_to_text(rec);
    if (text == NULL) {
        snprintf(out, cap, "%u %u %u", rec->usage, rec->selector, rec->mtype);
        return;
    }
    size_t len = strlen(text);
    snprintf(out, cap, "%.*s%s", (int)(len > 22 ? 22 : len), text, len > 22 ? "..." : "");
    free(text);
}

/* 1 when a certificate presented at some depth has rec's hash or data. */
static int record_hits_chain(const struct dane_tlsa *rec, const mbedtls_x509_crt *chain)
{
    for (const mbedtls_x509_crt *crt = chain; crt != NULL && crt->raw.p != NULL; crt = crt->next) {
        struct dane_tlsa mine = {0};
        int hit = dane_tlsa_make_cert(&mine, rec->usage, rec->selector, rec->mtype, crt) == 0 &&
                  mine.len == rec->len && memcmp(mine.data, rec->data, rec->len) == 0;
        dane_tlsa_clear(&mine);
        if (hit)
            return 1;
        if (rec->usage == DANE_USAGE_DANE_EE || rec->usage == DANE_USAGE_PKIX_EE)
            return 0; /* end-entity records are about the leaf only */
    }
    return 0;
}

static void cert_name(const mbedtls_x509_crt *crt, char *out, size_t cap)
{
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next)
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            snprintf(out, cap, "%.*s", (int)n->val.len, (const char *)n->val.p);
            for (char *p = out; *p; p++)
                if (!isprint((unsigned char)*p))
                    *p = '?';
            return;
        }
    snprintf(out, cap, "(no CN)");
}

static time_t x509_time_t(const mbedtls_x509_time *t)
{
    struct tm tm = {.tm_year = t->year - 1900,
                    .tm_mon = t->mon - 1,
                    .tm_mday = t->day,
                    .tm_hour = t->hour,
                    .tm_min = t->min,
                    .tm_sec = t->sec};
    return timegm(&tm);
}


static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int cli_check_main(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"starttls", required_argument, NULL, 's'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *config_path = CHECK_DEFAULT_CONFIG, *starttls = NULL;
    int opt, verbosity = 0, status = 2, loop_ready = 0;
    static struct config cfg; /* large */
    static struct check c;    /* large; one per process */
    mbedtls_x509_crt trust, chains[CHECK_MAX_ADDRS];
    size_t n_chains = 0;
    int chain_ok[CHECK_MAX_ADDRS] = {0};
    char err[512], name[CHECK_NAME_MAX], alias_name[CHECK_NAME_MAX], fqdn[DNS_MAX_NAME + 2];
    uint8_t wire[DNS_MAX_NAME];
    size_t wire_len;

    memset(&c, 0, sizeof c);
    mbedtls_x509_crt_init(&trust);
    optind = 0;
    while ((opt = getopt_long(argc, argv, "c:vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 's':
            starttls = optarg;
            break;
        case 'v':
            verbosity++;
            break;
        case 'h':
            check_usage(stdout);
            return 0;
        default:
            check_usage(stderr);
            return 2;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        fprintf(stderr, "daneguard check: give HOST and optionally PORT (see --help)\n");
        return 2;
    }
    if (starttls != NULL && strcmp(starttls, "smtp") != 0) {
        fprintf(stderr, "daneguard check: --starttls takes 'smtp', not '%s'\n", starttls);
        return 2;
    }
    c.port = starttls ? 25 : 443;
    if (argc - optind == 2 && parse_port(argv[optind + 1], &c.port) != 0) {
        fprintf(stderr, "daneguard check: port '%s' is not a number 1-65535\n", argv[optind + 1]);
        return 2;
    }
    snprintf(c.host, sizeof c.host, "%s", argv[optind]);
    size_t hl = strlen(c.host);
    if (hl > 0 && c.host[hl - 1] == '.')
        c.host[--hl] = '\0';
    if (hl == 0 || addr_is_literal(c.host) ||
        dns_name_from_text(c.host, wire, &wire_len) != 0 || wire_len + 12 > DNS_MAX_NAME) {
        fprintf(stderr,
                "daneguard check: '%s' is not a host name (DANE needs a name, not an "
                "address)\n",
                argv[optind]);
        return 2;
    }
    snprintf(fqdn, sizeof fqdn, "%s.", c.host);
    snprintf(name, sizeof name, "_%u._tcp.%s.", c.port, c.host);

    if (cli_config_load("daneguard check", config_path, &cfg) < 0)
        return 2;
    log_init("daneguard check", verbosity);
    signal(SIGPIPE, SIG_IGN);

    if (uv_loop_init(&c.loop) != 0) {
        fprintf(stderr, "daneguard check: cannot make an event loop\n");
        return 2;
    }
    loop_ready = 1;
    uv_timer_init(&c.loop, &c.watchdog);
    c.watchdog.data = &c;
    if (resolver_new(&c.loop, &cfg.resolver, &c.resolver, err, sizeof err) < 0) {
        fprintf(stderr, "daneguard check: %s: resolver: %s\n", config_path, err);
        goto out;
    }

    /* A, AAAA and TLSA side by side; then the CNAME target's TLSA (RFC 7671 §7). */
    if (cli_check_dns_start(&c, &c.la, fqdn, DNS_TYPE_A, &c.a) < 0 ||
        cli_check_dns_start(&c, &c.laaaa, fqdn, DNS_TYPE_AAAA, &c.aaaa) < 0 ||
        cli_check_dns_start(&c, &c.ltlsa, name, DNS_TYPE_TLSA, &c.tlsa) < 0) {
        fprintf(stderr, "daneguard check: cannot look up %s\n", name);
        goto out;
    }
    cli_check_dns_wait(&c, cfg.resolver.timeout_ms);

    const struct rrset *via = c.a.cname[0] ? &c.a : c.aaaa.cname[0] ? &c.aaaa : NULL;
    int alias_secure = via != NULL && cli_check_dns_ok(via);
    if (via != NULL) {
        printf("cname %s -> %s (%s)\n", fqdn, via->cname, cli_check_dns_status(via));
        if (alias_secure && strcasecmp(via->cname, fqdn) != 0) {
            snprintf(alias_name, sizeof alias_name, "_%u._tcp.%s", c.port, via->cname);
            if (cli_check_dns_start(&c, &c.lalias, alias_name, DNS_TYPE_TLSA, &c.tlsa_alias) == 0)
                cli_check_dns_wait(&c, cfg.resolver.timeout_ms);
        }
    }

    /* Which TLSA RRset counts: the target's when it is secure and usable; a
     * bogus or unanswered target fails closed; otherwise the original name's. */
    const struct rrset *ts = &c.tlsa;
    const char *tname = name;
    struct dane_tlsa *recs = c.tlsa_recs;
    size_t nrec = c.n_tlsa;
    if (c.tlsa_alias.done) {
        int use =
            (cli_check_dns_ok(&c.tlsa_alias) && dane_tlsa_count_usable(c.alias_recs, c.n_alias) > 0) ||
            c.tlsa_alias.timed_out || c.tlsa_alias.security == DNS_BOGUS;
        cli_check_dns_print("tlsa", alias_name, &c.tlsa_alias, "record",
                    use ? " (the CNAME target's, RFC 7671 7)"
                        : "; falling back to the original name");
        if (use) {
            ts = &c.tlsa_alias;
            tname = alias_name;
            recs = c.alias_recs;
            nrec = c.n_alias;
        }
    }
    if (ts == &c.tlsa)
        cli_check_dns_print("tlsa", name, &c.tlsa, "record", NULL);
    for (size_t i = 0; i < nrec; i++) {
        char *text = dane_tlsa_to_text(&recs[i]);
        printf("record %s%s\n", text ? text : "?", dane_tlsa_usable(&recs[i]) ? "" : " (unusable)");
        free(text);
    }
    cli_check_dns_print("a", fqdn, &c.a, "address", NULL);
    cli_check_dns_print("aaaa", fqdn, &c.aaaa, "address", NULL);

    size_t usable = dane_tlsa_count_usable(recs, nrec);
    int tlsa_secure = cli_check_dns_ok(ts);
    char first_fail[DANE_REASON_MAX + 256] = "";
    int failed = 0;

    /* A bogus address answer before what the TLSA RRset lacks (no records,
     * unusable, insecure): no certificate is fetched from an address DNSSEC
     * calls a lie. A bogus TLSA RRset is said first (the zone is broken). */
    if ((c.a.security == DNS_BOGUS || c.aaaa.security == DNS_BOGUS) &&
        !(ts->security == DNS_BOGUS || ts->timed_out)) {
        const struct rrset *b = c.a.security == DNS_BOGUS ? &c.a : &c.aaaa;
        failed = 1;
        snprintf(first_fail, sizeof first_fail,
                 "DNSSEC validation failed for the address of %s (bogus): the %s lookup: %s",
                 c.host, b == &c.a ? "A" : "AAAA", b->why);
    } else if (!tlsa_secure) {
        failed = 1;
        snprintf(first_fail, sizeof first_fail, "the TLSA RRset %s is %s%s%s%s", tname,
                 cli_check_dns_status(ts), ts->why[0] ? " (" : "", ts->why, ts->why[0] ? ")" : "");
    } else if (nrec == 0) {
        failed = 1;
        snprintf(first_fail, sizeof first_fail, "no TLSA records at %s", tname);
    } else if (usable == 0) {
        failed = 1;
        snprintf(first_fail, sizeof first_fail, "no usable TLSA records at %s", tname);
    }
    /* Addresses from a bogus or unanswered lookup are not used, and count as failures. */
    const struct rrset *addr_sets[] = {&c.a, &c.aaaa};
    for (size_t i = 0; i < 2; i++) {
        const struct rrset *s = addr_sets[i];
        if (s->timed_out || s->security == DNS_BOGUS) {
            if (!failed)
                snprintf(first_fail, sizeof first_fail, "the %s lookup of %s is %s (%s)",
                         i == 0 ? "A" : "AAAA", fqdn, cli_check_dns_status(s), s->why);
            failed = 1;
        }
    }
    if (c.n_addrs == 0) {
        if (!failed)
            snprintf(first_fail, sizeof first_fail, "%s has no usable address", fqdn);
        failed = 1;
    }

    /* The trust store, for PKIX usages only. */
    const mbedtls_x509_crt *trust_arg = NULL;
    int want_pkix = 0, want_pkix_ta = 0;
    for (size_t i = 0; i < nrec; i++)
        if (dane_tlsa_usable(&recs[i]) && recs[i].usage <= DANE_USAGE_PKIX_EE) {
            want_pkix = 1;
            want_pkix_ta |= recs[i].usage == DANE_USAGE_PKIX_TA;
        }
    if (want_pkix) {
        const char *tpath = cfg.proxy.trust_store[0] ? cfg.proxy.trust_store : CHECK_DEFAULT_TRUST;
        if (mbedtls_x509_crt_parse_file(&trust, tpath) >= 0 && trust.raw.p != NULL)
            trust_arg = &trust; /* some roots may not parse; the rest still count */
        else
            printf("warning: trust store %s: no certificate could be read: usage 0 and 1 "
                   "records cannot verify\n",
                   tpath);
    }

    /* Every address: handshake, then the DANE engine on what was presented. */

    time_t now = time(NULL);
    size_t n_ok = 0;
    for (size_t i = 0; i < c.n_addrs && nrec > 0; i++) {
        char ip[ADDR_TEXT_MAX], why[DANE_REASON_MAX + 64];
        mbedtls_x509_crt *chain = &chains[n_chains];
        struct dane_verdict v;
        addr_format((const struct sockaddr *)&c.addrs[i], 0, ip, sizeof ip);
        mbedtls_x509_crt_init(chain);
        n_chains++;
        if (fetch_chain(&c.addrs[i], c.port, c.host, starttls != NULL, chain, why, sizeof why) != 0) {
            printf("address %s port %u: FAIL %s\n", ip, c.port, why);
            if (!failed)
                snprintf(first_fail, sizeof first_fail, "address %s: %s", ip, why);
            failed = 1;
            continue;
        }
        chain_ok[n_chains - 1] = 1;
        (void)dane_verify(recs, nrec, chain, c.host, trust_arg, now, &v);
        if (v.result != DANE_RESULT_MATCH && ts == &c.tlsa_alias) {
            /* the CNAME target is also an acceptable reference identifier */
            struct dane_verdict v2;
            char target[DNS_MAX_NAME + 2];
            snprintf(target, sizeof target, "%s", via->cname);
            (void)dane_verify(recs, nrec, chain, target, trust_arg, now, &v2);
            if (v2.result == DANE_RESULT_MATCH)
                v = v2;
        }
        if (v.result == DANE_RESULT_MATCH && tlsa_secure) {
            printf("address %s port %u: OK %u %u %u depth %d\n", ip, c.port, v.usage, v.selector,
                   v.mtype, v.depth);
            n_ok++;
        } else if (v.result == DANE_RESULT_MATCH) {
            printf("address %s port %u: FAIL the TLSA RRset is %s (its record %u %u %u would "
                   "match at depth %d)\n",
                   ip, c.port, cli_check_dns_status(ts), v.usage, v.selector, v.mtype, v.depth);
        } else {
            printf("address %s port %u: FAIL %s\n", ip, c.port, v.reason);
            if (!failed)
                snprintf(first_fail, sizeof first_fail, "address %s: %s", ip, v.reason);
            failed = 1;
        }
    }

    /* ---- warnings about rollovers ---- */
    if (usable == 1)
        printf("warning: only one TLSA record: publish the next key's record before rolling "
               "over\n");
    for (size_t r = 0; r < nrec; r++) {
        char shortrec[64];
        record_short(&recs[r], shortrec, sizeof shortrec);
        if (!dane_tlsa_usable(&recs[r])) {
            printf("warning: record %s is unusable (unknown usage, selector or matching type, "
                   "or bad data length): clients ignore it\n",
                   shortrec);
            continue;
        }
        if (recs[r].usage == DANE_USAGE_DANE_EE && recs[r].selector == DANE_SELECTOR_CERT)
            printf("warning: record %s pins the whole certificate (3 0 x): it breaks on every "
                   "renewal, even with the same key; publish 3 1 x (the public key) instead\n",
                   shortrec);
        int matched = 0, hit = 0, seen = 0;
        char reason[DANE_REASON_MAX] = "";
        for (size_t i = 0; i < n_chains; i++) {
            struct dane_verdict v;
            if (!chain_ok[i])
                continue;
            seen = 1;
            (void)dane_verify(&recs[r], 1, &chains[i], c.host, trust_arg, now, &v);
            if (v.result == DANE_RESULT_MATCH) {
                matched = 1;
                break;
            }
            if (record_hits_chain(&recs[r], &chains[i])) {
                hit = 1;
                snprintf(reason, sizeof reason, "%s", v.reason);
            }
        }
        if (seen && !matched && !hit)
            printf("warning: record %s matches nothing presented: a stale record from a "
                   "rollover (remove it once no server uses that key) or a wrong one\n",
                   shortrec);
        else if (seen && !matched)
            printf("warning: record %s matches a presented certificate but does not verify: "
                   "%s\n",
                   shortrec, reason);
    }
    if (want_pkix) {
        /* PKIX usages check expiry: a certificate close to it will fail them. */
        for (size_t i = 0; i < n_chains; i++) {
            if (!chain_ok[i])
                continue;
            int depth = 0;
            for (const mbedtls_x509_crt *crt = &chains[i]; crt != NULL && crt->raw.p != NULL;
                 crt = crt->next, depth++) {
                if (depth > 0 && !want_pkix_ta)
                    break;
                int dup = 0; /* the same certificate seen at another address */
                for (size_t j = 0; j < i && !dup; j++)
                    for (const mbedtls_x509_crt *o = &chains[j]; o != NULL && o->raw.p != NULL;
                         o = o->next)
                        if (chain_ok[j] && o->raw.len == crt->raw.len &&
                            memcmp(o->raw.p, crt->raw.p, crt->raw.len) == 0) {
                            dup = 1;
                            break;
                        }
                time_t until = x509_time_t(&crt->valid_to);
                if (dup || until == (time_t)-1 || until - now > CHECK_EXPIRY_DAYS * 86400L)
                    continue;
                char cn[128], ip[ADDR_TEXT_MAX];
                cert_name(crt, cn, sizeof cn);
                addr_format((const struct sockaddr *)&c.addrs[i], 0, ip, sizeof ip);
                long days = (long)((until - now) / 86400);
                printf("warning: certificate %s (depth %d, from %s) %s %04d-%02d-%02d (%s%ld "
                       "days): usage %s records fail once it has expired; renew it and publish "
                       "the new record first\n",
                       cn, depth, ip, until > now ? "expires" : "expired", crt->valid_to.year,
                       crt->valid_to.mon, crt->valid_to.day, until > now ? "in " : "",
                       until > now ? days : -days, want_pkix_ta ? "0/1" : "1");
            }
        }
    }

    if (!failed && n_ok == c.n_addrs && n_ok > 0) {
        printf("result: OK %zu address%s verified\n", n_ok, n_ok == 1 ? "" : "es");
        status = 0;
    } else {
        printf("result: FAIL %s\n", first_fail[0] ? first_fail : "not every address verified");
        status = 1;
    }
out:
    fflush(stdout);
    for (size_t i = 0; i < n_chains; i++)
        mbedtls_x509_crt_free(&chains[i]);
    mbedtls_x509_crt_free(&trust);
    for (size_t i = 0; i < c.n_tlsa; i++)
        dane_tlsa_clear(&c.tlsa_recs[i]);
    for (size_t i = 0; i < c.n_alias; i++)
        dane_tlsa_clear(&c.alias_recs[i]);
    if (loop_ready) {
        struct check_lookup *all[] = {&c.la, &c.laaaa, &c.ltlsa, &c.lalias};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            lookup_cancel(all[i]->l);
        uv_run(&c.loop, UV_RUN_NOWAIT);
        resolver_unref(c.resolver);
        uv_walk(&c.loop, close_walk, NULL);
        uv_run(&c.loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&c.loop);
    }
    return status;
}
