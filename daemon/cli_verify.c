/* daemon/cli_verify.c — daneguard verify: an offline check of a PEM chain against TLSA records.
 *
 * The same engine as the proxy (dane_verify_der(), the DER form of
 * dane_verify()), with the chain and the records given on the command line.
 * Exit 0 when a record authenticates the chain, 1 when none does (or none is
 * usable), 2 on bad input.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>

#include "cli.h"
#include "dane.h"

#define VERIFY_MAX_RECORDS 64
#define VERIFY_MAX_CHAIN 17       /* one more than the engine takes, so it can say so */
#define VERIFY_MAX_FILE (1 << 20) /* a chain file larger than this is not a chain */
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
            "A DANE-TA record never matches the leaf itself, not even a self-signed one\n"
            "(as in OpenSSL): publish such a leaf as DANE-EE, or its key as '2 1 0'.\n"
            "DANE-EE needs only the leaf's bytes, so it is checked even on a certificate\n"
            "mbedTLS cannot parse (empty names, notAfter before notBefore, an Ed25519\n"
            "key); the other usages then fail, saying why. Such a server cannot be\n"
            "reached live: mbedTLS aborts the handshake (see daneguard check).\n"
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
            "'FAIL <reason>' and exits 1; bad input exits 2. D is the depth of what\n"
            "matched (0 the leaf, 1 its issuer, ...), as OpenSSL's SSL_get0_dane_authority()\n"
            "reports it: a '2 0 0' certificate the server did not send takes the depth\n"
            "above the certificate it signed; a '2 1 0' key the server did not send reports\n"
            "the depth of the certificate it signed (0 when it signed the leaf).\n",
            VERIFY_MAX_RECORDS);
}

static const char *mbed_error(int ret, char *buf, size_t size)
{
    mbedtls_strerror(ret, buf, size);
    return buf;
}

/* Reads a chain file as DER certificates, leaf first, without parsing them:
 * the PEM CERTIFICATE blocks in order, or the whole file as one DER
 * certificate. Each must parse, or at least have a certificate's shape
 * (dane_cert_der_spki()): what an unparsable one can still match is the
 * engine's business. Returns the count (> 0) with out[i].p malloc'ed (the caller frees
 * them), or -1 with the reason in err. */
static int load_chain(const char *path, struct dane_der *out, char *err, size_t errlen)
{
    unsigned char *buf = NULL;
    int n = -1;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    if ((buf = malloc(VERIFY_MAX_FILE + 1)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t len = fread(buf, 1, VERIFY_MAX_FILE + 1, f);
    if (ferror(f) || len > VERIFY_MAX_FILE) {
        snprintf(err, errlen, "%s", ferror(f) ? strerror(errno) : "larger than 1 MiB");
        goto out;
    }
    buf[len] = '\0';
    int count = 0;
    if (len == 0) {
        /* count == 0 below says so */
    } else if (strstr((const char *)buf, "-----BEGIN CERTIFICATE-----") == NULL) {
        /* one DER certificate */
        if ((out[0].p = malloc(len)) == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        memcpy((unsigned char *)out[0].p, buf, len);
        out[0].len = len;
        count = 1;
    } else {
        const unsigned char *p = buf;
        for (;;) {
            mbedtls_pem_context pem;
            size_t used = 0;
            mbedtls_pem_init(&pem);
            int ret = mbedtls_pem_read_buffer(&pem, "-----BEGIN CERTIFICATE-----",
                                              "-----END CERTIFICATE-----", p, NULL, 0, &used);
            if (ret == MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT) {
                mbedtls_pem_free(&pem);
                break;
            }
            if (ret != 0 || count == VERIFY_MAX_CHAIN) {
                char msg[128];
                if (ret != 0)
                    snprintf(err, errlen, "certificate %d: %s", count + 1,
                             mbed_error(ret, msg, sizeof(msg)));
                else
                    snprintf(err, errlen, "more than %d certificates", VERIFY_MAX_CHAIN - 1);
                mbedtls_pem_free(&pem);
                goto fail;
            }
            unsigned char *der = malloc(pem.buflen ? pem.buflen : 1);
            if (der == NULL) {
                snprintf(err, errlen, "out of memory");
                mbedtls_pem_free(&pem);
                goto fail;
            }
            memcpy(der, pem.buf, pem.buflen);
            out[count++] = (struct dane_der){der, pem.buflen};
            mbedtls_pem_free(&pem);
            p += used;
        }
    }
    if (count == 0) {
        snprintf(err, errlen, "no certificate in it");
        goto out;
    }
    for (int i = 0; i < count; i++) {
        const unsigned char *spki;
        size_t spki_len;
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        int ret = mbedtls_x509_crt_parse_der(&crt, out[i].p, out[i].len);
        mbedtls_x509_crt_free(&crt);
        if (ret != 0 && dane_cert_der_spki(out[i].p, out[i].len, &spki, &spki_len) != 0) {
            char msg[128];
            snprintf(err, errlen, "certificate %d is not a DER X.509 certificate (%s)", i + 1,
                     mbed_error(ret, msg, sizeof(msg)));
            goto fail;
        }
    }
    n = count;
    goto out;
fail:
    for (int i = 0; i < count; i++)
        free((void *)out[i].p);
out:
    free(buf);
    fclose(f);
    return n;
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
    struct dane_der chain[VERIFY_MAX_CHAIN];
    int nchain = 0;
    mbedtls_x509_crt trust;
    const mbedtls_x509_crt *trust_arg = NULL;
    struct dane_verdict v;
    char err[200];

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
    /* as DER: a leaf mbedTLS cannot parse is still judged (DANE-EE) */
    if ((nchain = load_chain(chain_file, chain, err, sizeof(err))) < 0) {
        fprintf(stderr, "daneguard verify: --chain %s: %s\n", chain_file, err);
        nchain = 0;
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

    ret = dane_verify_der(records, nrec, chain, (size_t)nchain, host, trust_arg, now, &v);
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
    for (int i = 0; i < nchain; i++)
        free((void *)chain[i].p);
    return status;
}
