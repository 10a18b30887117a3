/* daemon/cli_verify.c — daneguard verify: an offline check of a PEM chain against TLSA records.
 *
 * The same engine as the proxy (dane_verify()), with the chain and the records
 * given on the command line. Exit 0 when a record authenticates the chain, 1
 * when none does (or none is usable), 2 on bad input.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/x509_crt.h>

#include "cli.h"
#include "dane.h"

#define VERIFY_MAX_RECORDS 64
#define VERIFY_DEFAULT_TRUST "/etc/ssl/certs/ca-certificates.crt"

static void verify_usage(FILE *out)
{
    fprintf(out,
            "usage: daneguard verify --host NAME --tlsa 'U S M HEX' [--tlsa ...] --chain FILE\n"
            "                        [--trust FILE] [--time UNIXTIME] [-v]\n"
            "\n"
            "Checks a certificate chain against TLSA records offline, as the proxy does\n"
            "(RFC 6698, RFC 7671): DANE-EE(3) matches the leaf only; DANE-TA(2) needs the\n"
            "leaf to chain to the matched certificate and carry NAME; PKIX-TA(0) and\n"
            "PKIX-EE(1) also need a PKIX validation against the trust store.\n"
            "\n"
            "  --host NAME       the server name the chain must be for\n"
            "  --tlsa RECORD     a TLSA record in presentation form, e.g. '3 1 1 ab12...'\n"
            "                    (RFC 7218 names too: 'DANE-EE SPKI SHA2-256 ...'); repeat\n"
            "                    it for each record of the RRset (up to %d)\n"
            "  --chain FILE      the chain as the server sends it, PEM, leaf first\n"
            "  --trust FILE      PEM trust store for usages 0 and 1\n"
            "                    (default " VERIFY_DEFAULT_TRUST ")\n"
            "  --time UNIXTIME   check validity dates at this time instead of now\n"
            "  -v, --verbose     also say why a match is a match\n"
            "  -h, --help        this text\n"
            "\n"
            "Prints 'OK usage=U selector=S mtype=M depth=D' and exits 0, or\n"
            "'FAIL <reason>' and exits 1; bad input exits 2.\n",
            VERIFY_MAX_RECORDS);
}

static const char *mbed_error(int ret, char *buf, size_t size)
{
    mbedtls_strerror(ret, buf, size);
    return buf;
}

int cli_verify_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"host", required_argument, NULL, 'H'},  {"tlsa", required_argument, NULL, 't'},
        {"chain", required_argument, NULL, 'c'}, {"trust", required_argument, NULL, 'T'},
        {"time", required_argument, NULL, 'n'},  {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    struct dane_tlsa records[VERIFY_MAX_RECORDS];
    size_t nrec = 0;
    const char *host = NULL, *chain_file = NULL, *trust_file = NULL;
    time_t now = time(NULL);
    int verbose = 0, opt, ret, status = 2;
    mbedtls_x509_crt chain, trust;
    const mbedtls_x509_crt *trust_arg = NULL;
    struct dane_verdict v;
    char err[200];

    mbedtls_x509_crt_init(&chain);
    mbedtls_x509_crt_init(&trust);
    optind = 0; /* glibc: start afresh whatever ran before */
    while ((opt = getopt_long(argc, argv, "hv", options, NULL)) != -1) {
        switch (opt) {
        case 'H':
            host = optarg;
            break;
        case 't':
            if (nrec == VERIFY_MAX_RECORDS) {
                fprintf(stderr, "daneguard verify: more than %d --tlsa records\n",
                        VERIFY_MAX_RECORDS);
                goto out;
            }
            if ((ret = dane_tlsa_parse_text(&records[nrec], optarg)) != 0) {
                fprintf(stderr, "daneguard verify: --tlsa '%s': %s\n", optarg, dane_strerror(ret));
                goto out;
            }
            nrec++;
            break;
        case 'c':
            chain_file = optarg;
            break;
        case 'T':
            trust_file = optarg;
            break;
        case 'n': {
            char *end;
            errno = 0;
            long long t = strtoll(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0') {
                fprintf(stderr, "daneguard verify: --time '%s' is not a number of seconds\n",
                        optarg);
                goto out;
            }
            now = (time_t)t;
            break;
        }
        case 'v':
            verbose++;
            break;
        case 'h':
            verify_usage(stdout);
            status = 0;
            goto out;
        default:
            verify_usage(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "daneguard verify: unexpected argument '%s' (see --help)\n", argv[optind]);
        goto out;
    }
    if (host == NULL || nrec == 0 || chain_file == NULL) {
        fprintf(stderr, "daneguard verify: %s is required (see --help)\n",
                host == NULL ? "--host"
                : nrec == 0  ? "--tlsa"
                             : "--chain");
        goto out;
    }
    ret = mbedtls_x509_crt_parse_file(&chain, chain_file);
    if (ret != 0 || chain.raw.p == NULL) {
        fprintf(stderr, "daneguard verify: --chain %s: %s\n", chain_file,
                ret > 0   ? "a certificate in it does not parse"
                : ret < 0 ? mbed_error(ret, err, sizeof(err))
                          : "no certificate in it");
        goto out;
    }
    if (trust_file != NULL) {
        ret = mbedtls_x509_crt_parse_file(&trust, trust_file);
        if (ret < 0 || trust.raw.p == NULL) {
            fprintf(stderr, "daneguard verify: --trust %s: %s\n", trust_file,
                    ret < 0 ? mbed_error(ret, err, sizeof(err)) : "no certificate in it");
            goto out;
        }
        trust_arg = &trust;
    } else if (mbedtls_x509_crt_parse_file(&trust, VERIFY_DEFAULT_TRUST) >= 0 &&
               trust.raw.p != NULL) {
        trust_arg = &trust; /* some system roots may not parse; the rest still count */
    }

    ret = dane_verify(records, nrec, &chain, host, trust_arg, now, &v);
    if (v.result == DANE_RESULT_MATCH && ret == 0) {
        printf("OK usage=%u selector=%u mtype=%u depth=%d\n", v.usage, v.selector, v.mtype,
               v.depth);
        if (verbose)
            fprintf(stderr, "daneguard verify: %s\n", v.reason);
        status = 0;
    } else {
        printf("FAIL %s\n", v.reason);
        status = 1;
    }
out:
    for (size_t i = 0; i < nrec; i++)
        dane_tlsa_clear(&records[i]);
    mbedtls_x509_crt_free(&trust);
    mbedtls_x509_crt_free(&chain);
    return status;
}
