/* tests/unit/test_tls.c — the sans-I/O TLS engine: in-memory client↔server
 * handshakes (certificates made in-process at test time), ALPN, bulk data,
 * close_notify, resumption by ticket and by session ID, bounds, garbage; then
 * interop over 127.0.0.1 with `openssl s_server` and `openssl s_client`
 * (every process started here is killed by its PID, every wait is bounded).
 */
#include "tls.h"
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/chachapoly.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/x509_crt.h>

/* ---- a test PKI, made at start ----------------------------------------- */

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_pk_context ca_key, leaf_key;
static mbedtls_x509_crt chain; /* leaf, then CA */

static int make_key(mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
        return -1;
    return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                               mbedtls_ctr_drbg_random, &drbg);
}

static int add_cert(mbedtls_x509_crt *out, const char *subject, const char *issuer,
                    mbedtls_pk_context *subject_key, mbedtls_pk_context *issuer_key, int is_ca,
                    int serial)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi sn;
    unsigned char der[2048];
    int r = -1;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&sn);
    mbedtls_mpi_lset(&sn, serial);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    if (mbedtls_x509write_crt_set_serial(&w, &sn) != 0 ||
        mbedtls_x509write_crt_set_validity(&w, "20240101000000", "20340101000000") != 0 ||
        mbedtls_x509write_crt_set_subject_name(&w, subject) != 0 ||
        mbedtls_x509write_crt_set_issuer_name(&w, issuer) != 0 ||
        mbedtls_x509write_crt_set_basic_constraints(&w, is_ca, -1) != 0)
        goto out;
    mbedtls_x509write_crt_set_subject_key(&w, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    int len = mbedtls_x509write_crt_der(&w, der, sizeof der, mbedtls_ctr_drbg_random, &drbg);
    if (len > 0)
        r = mbedtls_x509_crt_parse_der(out, der + sizeof der - len, (size_t)len);
out:
    mbedtls_mpi_free(&sn);
    mbedtls_x509write_crt_free(&w);
    return r;
}

static int pki_setup(void)
{
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&chain);
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0)
        return -1;
    if (make_key(&ca_key) != 0 || make_key(&leaf_key) != 0)
        return -1;
    if (add_cert(&chain, "CN=example.test", "CN=daneguard test CA", &leaf_key, &ca_key, 0, 2) != 0)
        return -1;
    return add_cert(&chain, "CN=daneguard test CA", "CN=daneguard test CA", &ca_key, &ca_key, 1, 1);
}

static void pki_free(void)
{
    mbedtls_x509_crt_free(&chain);
    mbedtls_pk_free(&leaf_key);
    mbedtls_pk_free(&ca_key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
}

static const char *const alpn_both[] = {"h2", "http/1.1", NULL};

static struct tls_client_config *client_cfg(size_t cache)
{
    struct tls_client_options o = {alpn_both, cache};
    return tls_client_config_new(&o);
}

/* ---- in-memory plumbing ------------------------------------------------ */

/* Move pending ciphertext from one end to the other through the zero-copy input
 * path. Returns the bytes moved. */
static size_t xfer(struct tls_conn *from, struct tls_conn *to)
{
    size_t moved = 0;
    const uint8_t *p;
    size_t n;
    while (tls_conn_output(from, &p, &n)) {
        uint8_t *dst;
        size_t room;
        if (tls_conn_input_buffer(to, &dst, &room) != 0 || room == 0)
            break;
        size_t k = n < room ? n : room;
        memcpy(dst, p, k);
        tls_conn_input_commit(to, k);
        tls_conn_output_done(from, k);
        moved += k;
    }
    return moved;
}

/* Run both handshakes to completion. Returns 0, or the first error of either
 * (client's first); *which says 'c' or 's'. */
static int handshake_pair(struct tls_conn *c, struct tls_conn *s, char *which)
{
    for (int i = 0; i < 200; i++) {
        int rc = tls_conn_handshake(c);
        size_t m = xfer(c, s);
        int rs = tls_conn_handshake(s);
        m += xfer(s, c);
        if (rc != 0 && rc != TLS_WANT_IO) {
            if (which)
                *which = 'c';
            return rc;
        }
        if (rs != 0 && rs != TLS_WANT_IO) {
            if (which)
                *which = 's';
            return rs;
        }
        if (rc == 0 && rs == 0 && m == 0)
            return 0;
    }
    return TLS_EINTERNAL;
}

struct pair {
    struct tls_conn *c, *s;
};

static int pair_open(struct pair *p, struct tls_client_config *cc, struct tls_server_config *sc,
                     const char *host, const char *server_alpn)
{
    p->c = tls_conn_new_client(cc, host, 443);
    p->s = tls_conn_new_server(sc, &chain, &leaf_key, server_alpn);
    if (!p->c || !p->s)
        return TLS_ENOMEM;
    char which = '?';
    int r = handshake_pair(p->c, p->s, &which);
    if (r != 0)
        fprintf(stderr, "  handshake %c: %s | client: %s | server: %s\n", which, tls_errname(r),
                tls_conn_error(p->c), tls_conn_error(p->s));
    return r;
}

static void pair_close(struct pair *p)
{
    tls_conn_free(p->c);
    tls_conn_free(p->s);
    p->c = p->s = NULL;
}

static int chain_len(const mbedtls_x509_crt *c)
{
    int n = 0;
    for (; c && c->raw.p; c = c->next)
        n++;
    return n;
}

/* ---- in-memory tests --------------------------------------------------- */

/* ---- the ClientHello peek (tls_hello_offers_alpn) ------------------------ */

/* The first flight of a client offering alpn (NULL: no ALPN), as sent. */
static size_t hello_of(const char *const *alpn, uint8_t *out, size_t cap)
{
    struct tls_client_options o = {.alpn = alpn};
    struct tls_client_config *cc = tls_client_config_new(&o);
    struct tls_conn *c = cc ? tls_conn_new_client(cc, "hello.test", 443) : NULL;
    const uint8_t *p;
    size_t len = 0;
    if (c && tls_conn_handshake(c) == TLS_WANT_IO && tls_conn_output(c, &p, &len) > 0 && len <= cap)
        memcpy(out, p, len);
    else
        len = 0;
    tls_conn_free(c);
    tls_client_config_free(cc);
    return len;
}

/* A ClientHello record with one extension (type, body) built by hand. */
static size_t hello_with(uint8_t *d, unsigned ext_type, const uint8_t *ext, size_t ext_len)
{
    size_t n = 0, hs, exts;
    d[n++] = 22, d[n++] = 3, d[n++] = 1, d[n++] = 0, d[n++] = 0; /* record header */
    hs = n;
    d[n++] = 1, d[n++] = 0, d[n++] = 0, d[n++] = 0;       /* client_hello, length */
    d[n++] = 3, d[n++] = 3;                               /* client_version */
    memset(d + n, 0x5a, 32), n += 32;                     /* random */
    d[n++] = 0;                                           /* session id */
    d[n++] = 0, d[n++] = 2, d[n++] = 0xc0, d[n++] = 0x2b; /* one cipher suite */
    d[n++] = 1, d[n++] = 0;                               /* null compression */
    exts = n;
    n += 2;
    d[n++] = (uint8_t)(ext_type >> 8), d[n++] = (uint8_t)ext_type;
    d[n++] = (uint8_t)(ext_len >> 8), d[n++] = (uint8_t)ext_len;
    memcpy(d + n, ext, ext_len), n += ext_len;
    d[exts] = (uint8_t)((n - exts - 2) >> 8), d[exts + 1] = (uint8_t)(n - exts - 2);
    d[hs + 2] = (uint8_t)((n - hs - 4) >> 8), d[hs + 3] = (uint8_t)(n - hs - 4);
    d[3] = (uint8_t)((n - 5) >> 8), d[4] = (uint8_t)(n - 5);
    return n;
}

static void test_hello_offers_alpn(void)
{
    static const char *const h2[] = {"h2", "http/1.1", NULL};
    static const char *const h1[] = {"http/1.1", NULL};
    uint8_t d[4096];
    size_t n = hello_of(h2, d, sizeof d);
    CHECK(n > 0 && n <= TLS_HELLO_RECORD_MAX);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h2"), 1);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "http/1.1"), 1);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h3"), 0);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h"), 0);
    for (size_t k = 0; k < n; k++) /* any prefix: read more */
        if (tls_hello_offers_alpn(d, k, "h2") != -1) {
            fprintf(stderr, "  prefix of %zu bytes: not -1\n", k);
            CHECK(!"a prefix is incomplete");
            break;
        }
    n = hello_of(h1, d, sizeof d);
    CHECK(n > 0);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h2"), 0);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "http/1.1"), 1);
    n = hello_of(NULL, d, sizeof d); /* no ALPN extension */
    CHECK(n > 0);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h2"), 0);

    /* by hand: ALPN ["h2"], a name running past its extension, another extension */
    static const uint8_t alpn_h2[] = {0, 3, 2, 'h', '2'};
    static const uint8_t alpn_bad[] = {0, 3, 9, 'h', '2'};
    static const uint8_t sni[] = {0, 0};
    n = hello_with(d, 16, alpn_h2, sizeof alpn_h2);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h2"), 1);
    d[5] = 2; /* a ServerHello is not a ClientHello */
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h2"), -1);
    d[5] = 1, d[0] = 23; /* application data, not a handshake */
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h2"), -1);
    n = hello_with(d, 16, alpn_bad, sizeof alpn_bad);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h2"), -1);
    n = hello_with(d, 0, sni, sizeof sni);
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n, "h2"), 0);
    d[4] = (uint8_t)(d[4] - 4); /* the record ends inside the extensions */
    CHECK_INT_EQ(tls_hello_offers_alpn(d, n - 4, "h2"), -1);
}

static void test_strerror(void)
{
    CHECK_STR_EQ(tls_strerror(TLS_EPEER_REQUIRES_TLS13), "upstream requires TLS 1.3");
    CHECK_STR_EQ(tls_errname(TLS_WANT_IO), "WANT_IO");
    CHECK_STR_EQ(tls_errname(TLS_EINTERNAL), "EINTERNAL");
    CHECK_STR_EQ(tls_strerror(-999), "unknown TLS error");
    CHECK_STR_EQ(tls_strerror(0), "success");
    /* NULL is a no-op for every free */
    tls_conn_free(NULL);
    tls_client_config_free(NULL);
    tls_server_config_free(NULL);
}

static void test_handshake_alpn_h2(void)
{
    struct tls_client_config *cc = client_cfg(0);
    struct tls_server_config *sc = tls_server_config_new(NULL);
    CHECK(cc && sc);
    struct pair p;
    CHECK_INT_EQ(pair_open(&p, cc, sc, "Example.Test", "h2"), 0);
    CHECK_STR_EQ(tls_conn_alpn(p.c), "h2");
    CHECK_STR_EQ(tls_conn_alpn(p.s), "h2");
    CHECK_STR_EQ(tls_conn_ciphersuite(p.c), "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256");
    CHECK_STR_EQ(tls_conn_ciphersuite(p.s), "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256");
    CHECK_STR_EQ(tls_conn_version(p.c), "TLSv1.2");
    CHECK_INT_EQ(tls_conn_resumed(p.c), 0);
    CHECK_INT_EQ(tls_conn_handshake_done(p.s), 1);
    CHECK_INT_EQ(chain_len(tls_conn_peer_chain(p.c)), 2);
    CHECK(tls_conn_peer_chain(p.s) == NULL);
    CHECK_STR_EQ(tls_conn_host(p.s), "Example.Test"); /* SNI as sent */
    CHECK_STR_EQ(tls_conn_error(p.c), "");
    /* a chain can be released once judged */
    tls_conn_release_peer_chain(p.c);
    CHECK(tls_conn_peer_chain(p.c) == NULL);
    /* saving needs the chain: refused after release (and resumption is off) */
    CHECK_INT_EQ(tls_conn_save_session(p.c), TLS_ESTATE);
    pair_close(&p);
    tls_client_config_free(cc);
    tls_server_config_free(sc);
}

static void test_alpn_none_and_http11(void)
{
    struct tls_client_config *cc = client_cfg(0);
    struct tls_client_config *plain = tls_client_config_new(NULL); /* offers no ALPN */
    struct tls_server_config *sc = tls_server_config_new(NULL);
    struct pair p;
    CHECK_INT_EQ(pair_open(&p, cc, sc, "example.test", NULL), 0);
    CHECK(tls_conn_alpn(p.c) == NULL);
    CHECK(tls_conn_alpn(p.s) == NULL);
    pair_close(&p);
    CHECK_INT_EQ(pair_open(&p, cc, sc, "example.test", "http/1.1"), 0);
    CHECK_STR_EQ(tls_conn_alpn(p.c), "http/1.1");
    pair_close(&p);
    /* a client offering no ALPN gets none, even from an "h2" server */
    CHECK_INT_EQ(pair_open(&p, plain, sc, "example.test", "h2"), 0);
    CHECK(tls_conn_alpn(p.c) == NULL);
    CHECK(tls_conn_alpn(p.s) == NULL);
    pair_close(&p);
    /* a client offering ALPN without the server's protocol: no_application_protocol */
    static const char *const only_spdy[] = {"spdy/3", NULL};
    struct tls_client_options o = {only_spdy, 0};
    struct tls_client_config *spdy = tls_client_config_new(&o);
    p.c = tls_conn_new_client(spdy, "example.test", 443);
    p.s = tls_conn_new_server(sc, &chain, &leaf_key, "h2");
    char which = '?';
    int r = handshake_pair(p.c, p.s, &which);
    CHECK_INT_EQ(r, TLS_EALPN);
    CHECK_INT_EQ(tls_conn_handshake(p.s), TLS_EALPN);
    CHECK_INT_EQ(which, 's');
    CHECK(strstr(tls_conn_error(p.s), "we sent alert no_application_protocol") != NULL);
    xfer(p.s, p.c); /* the client learns why from the alert */
    CHECK_INT_EQ(tls_conn_handshake(p.c), TLS_EALPN);
    CHECK(strstr(tls_conn_error(p.c), "server sent fatal alert no_application_protocol") != NULL);
    pair_close(&p);
    tls_client_config_free(spdy);
    tls_client_config_free(plain);
    tls_client_config_free(cc);
    tls_server_config_free(sc);
}

/* Send len bytes from a to b and back from b to a at the same time, in record
 * size pieces, through the in-memory wire; check every byte. */
static void bulk_both_ways(struct tls_conn *a, struct tls_conn *b, size_t len)
{
    uint8_t *src_a = malloc(len), *src_b = malloc(len), *dst_a = malloc(len), *dst_b = malloc(len);
    CHECK(src_a && src_b && dst_a && dst_b);
    if (!src_a || !src_b || !dst_a || !dst_b)
        goto out;
    for (size_t i = 0; i < len; i++) {
        src_a[i] = (uint8_t)(i * 7 + 3);
        src_b[i] = (uint8_t)(i * 13 + (i >> 11));
    }
    size_t sent_a = 0, sent_b = 0, got_a = 0, got_b = 0; /* got_b: at b, from a */
    for (int rounds = 0; rounds < 100000 && (got_a < len || got_b < len); rounds++) {
        int r;
        if (sent_a < len && (r = tls_conn_write(a, src_a + sent_a, len - sent_a)) > 0)
            sent_a += (size_t)r;
        else if (sent_a < len)
            CHECK_INT_EQ(r, TLS_WANT_IO);
        if (sent_b < len && (r = tls_conn_write(b, src_b + sent_b, len - sent_b)) > 0)
            sent_b += (size_t)r;
        xfer(a, b);
        xfer(b, a);
        while ((r = tls_conn_read(b, dst_b + got_b, len - got_b < 16384 ? len - got_b : 16384)) > 0)
            got_b += (size_t)r;
        CHECK_INT_EQ(r, got_b == len ? TLS_EINVAL : TLS_WANT_IO);
        while ((r = tls_conn_read(a, dst_a + got_a, len - got_a < 16384 ? len - got_a : 16384)) > 0)
            got_a += (size_t)r;
    }
    CHECK_INT_EQ(got_a, len);
    CHECK_INT_EQ(got_b, len);
    CHECK_MEM_EQ(dst_b, src_a, len);
    CHECK_MEM_EQ(dst_a, src_b, len);
out:
    free(src_a);
    free(src_b);
    free(dst_a);
    free(dst_b);
}

static void test_bulk_and_close_notify(void)
{
    struct tls_client_config *cc = client_cfg(0);
    struct tls_server_config *sc = tls_server_config_new(NULL);
    struct pair p;
    CHECK_INT_EQ(pair_open(&p, cc, sc, "example.test", "h2"), 0);
    bulk_both_ways(p.c, p.s, 1536 * 1024 + 17); /* > 1 MiB, not a multiple of a record */
    /* small writes go out as they come */
    CHECK_INT_EQ(tls_conn_write(p.c, "x", 1), 1);
    CHECK_INT_EQ(tls_conn_write(p.c, "yz", 2), 2);
    xfer(p.c, p.s);
    char buf[64];
    int n = tls_conn_read(p.s, buf, sizeof buf);
    CHECK_INT_EQ(n, 1); /* one record at a time */
    n = tls_conn_read(p.s, buf + 1, sizeof buf - 1);
    CHECK_INT_EQ(n, 2);
    CHECK_MEM_EQ(buf, "xyz", 3);
    CHECK_INT_EQ(tls_conn_read(p.s, buf, sizeof buf), TLS_WANT_IO);
    /* output is held until taken, at most TLS_OUTPUT_CAP bytes of it */
    static uint8_t big[TLS_RECORD_MAX * 2];
    CHECK_INT_EQ(tls_conn_write(p.s, big, sizeof big), TLS_RECORD_MAX);
    CHECK_INT_EQ(tls_conn_write(p.s, big, sizeof big), TLS_WANT_IO);
    const uint8_t *out;
    size_t outlen;
    CHECK_INT_EQ(tls_conn_output(p.s, &out, &outlen), 1);
    CHECK(outlen > TLS_RECORD_MAX && outlen <= TLS_OUTPUT_CAP);
    tls_conn_output_done(p.s, 100); /* partial write: the rest stays at out + 100 */
    const uint8_t *out2;
    size_t outlen2;
    tls_conn_output(p.s, &out2, &outlen2);
    CHECK(out2 == out + 100 && outlen2 == outlen - 100);
    xfer(p.s, p.c); /* drains the rest, but the client got a torn record: it is lost */
    tls_conn_output_done(p.s, 0);
    /* close_notify: the server's EOF */
    tls_conn_free(p.c);
    p.c = NULL;
    pair_close(&p);
    CHECK_INT_EQ(pair_open(&p, cc, sc, "example.test", "h2"), 0);
    CHECK_INT_EQ(tls_conn_write(p.c, "bye", 3), 3);
    CHECK_INT_EQ(tls_conn_close_notify(p.c), 0);
    xfer(p.c, p.s);
    CHECK_INT_EQ(tls_conn_read(p.s, buf, sizeof buf), 3);
    CHECK_INT_EQ(tls_conn_read(p.s, buf, sizeof buf), TLS_EOF);
    CHECK_INT_EQ(tls_conn_read(p.s, buf, sizeof buf), TLS_EOF);
    CHECK_INT_EQ(tls_conn_close_notify(p.s), 0);
    xfer(p.s, p.c);
    CHECK_INT_EQ(tls_conn_read(p.c, buf, sizeof buf), TLS_EOF);
    pair_close(&p);
    /* transport EOF without close_notify: truncation, told apart */
    CHECK_INT_EQ(pair_open(&p, cc, sc, "example.test", "h2"), 0);
    CHECK_INT_EQ(tls_conn_feed(p.s, NULL, 0), 0);
    CHECK_INT_EQ(tls_conn_read(p.s, buf, sizeof buf), TLS_ETRUNCATED);
    CHECK(strstr(tls_conn_error(p.s), "without close_notify") != NULL);
    pair_close(&p);
    tls_client_config_free(cc);
    tls_server_config_free(sc);
}

/* Two connections to host through cc and sc; the second must resume iff expect. */
static void resume_case(struct tls_client_config *cc, struct tls_server_config *sc, int expect)
{
    struct pair p;
    CHECK_INT_EQ(pair_open(&p, cc, sc, "resume.test", "h2"), 0);
    CHECK_INT_EQ(tls_conn_resumed(p.c), 0);
    int saved = tls_conn_save_session(p.c);
    CHECK_INT_EQ(saved, 0);
    CHECK_INT_EQ(tls_conn_save_session(p.c), TLS_ESTATE); /* once per connection */
    pair_close(&p);
    CHECK_INT_EQ(pair_open(&p, cc, sc, "RESUME.test", "h2"), 0); /* key is case-blind */
    CHECK_INT_EQ(tls_conn_resumed(p.c), expect);
    CHECK_INT_EQ(tls_conn_resumed(p.s), expect);
    CHECK_STR_EQ(tls_conn_alpn(p.c), "h2");
    /* the whole chain, not only the leaf mbedTLS keeps in a session */
    CHECK_INT_EQ(chain_len(tls_conn_peer_chain(p.c)), 2);
    CHECK_INT_EQ(tls_conn_save_session(p.c), 0); /* refresh */
    uint8_t buf[8];
    CHECK_INT_EQ(tls_conn_write(p.c, "ok", 2), 2);
    xfer(p.c, p.s);
    CHECK_INT_EQ(tls_conn_read(p.s, buf, sizeof buf), 2);
    pair_close(&p);
    /* a third one resumes too, from the refreshed entry */
    CHECK_INT_EQ(pair_open(&p, cc, sc, "resume.test", "h2"), 0);
    CHECK_INT_EQ(tls_conn_resumed(p.c), expect);
    pair_close(&p);
    /* forgotten: full handshake again */
    tls_client_config_forget(cc, "resume.test", 443);
    CHECK_INT_EQ(pair_open(&p, cc, sc, "resume.test", "h2"), 0);
    CHECK_INT_EQ(tls_conn_resumed(p.c), 0);
    CHECK_INT_EQ(chain_len(tls_conn_peer_chain(p.c)), 2);
    pair_close(&p);
}

static void test_resume_ticket(void)
{
    struct tls_client_config *cc = client_cfg(16);
    struct tls_server_options o = {.session_tickets = 1, .session_cache_entries = 0};
    struct tls_server_config *sc = tls_server_config_new(&o);
    resume_case(cc, sc, 1);
    tls_client_config_free(cc);
    tls_server_config_free(sc);
}

static void test_resume_session_id(void)
{
    struct tls_client_config *cc = client_cfg(16);
    struct tls_server_options o = {.session_tickets = 0, .session_cache_entries = 100};
    struct tls_server_config *sc = tls_server_config_new(&o);
    resume_case(cc, sc, 1);
    tls_server_config_free(sc);
    /* neither tickets nor a cache on the server: no resumption, still works */
    struct tls_server_options none = {0, 0, 0};
    sc = tls_server_config_new(&none);
    tls_client_config_forget(cc, "resume.test", 443);
    resume_case(cc, sc, 0);
    tls_server_config_free(sc);
    tls_client_config_free(cc);
}

static void test_session_cache_lru(void)
{
    struct tls_client_config *cc = client_cfg(2);
    struct tls_server_config *sc = tls_server_config_new(NULL);
    const char *hosts[] = {"a.test", "b.test", "c.test"};
    struct pair p;
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(pair_open(&p, cc, sc, hosts[i], NULL), 0);
        CHECK_INT_EQ(tls_conn_save_session(p.c), 0);
        pair_close(&p);
    }
    CHECK_INT_EQ(pair_open(&p, cc, sc, "c.test", NULL), 0);
    CHECK_INT_EQ(tls_conn_resumed(p.c), 1);
    pair_close(&p);
    CHECK_INT_EQ(pair_open(&p, cc, sc, "b.test", NULL), 0);
    CHECK_INT_EQ(tls_conn_resumed(p.c), 1);
    pair_close(&p);
    CHECK_INT_EQ(pair_open(&p, cc, sc, "a.test", NULL), 0); /* evicted */
    CHECK_INT_EQ(tls_conn_resumed(p.c), 0);
    pair_close(&p);
    /* other port, other key */
    p.c = tls_conn_new_client(cc, "c.test", 8443);
    p.s = tls_conn_new_server(sc, &chain, &leaf_key, NULL);
    CHECK_INT_EQ(handshake_pair(p.c, p.s, NULL), 0);
    CHECK_INT_EQ(tls_conn_resumed(p.c), 0);
    pair_close(&p);
    /* a config without a cache cannot save */
    struct tls_client_config *nocache = client_cfg(0);
    CHECK_INT_EQ(pair_open(&p, nocache, sc, "a.test", NULL), 0);
    CHECK_INT_EQ(tls_conn_save_session(p.c), TLS_ESTATE);
    CHECK_INT_EQ(tls_conn_save_session(p.s), TLS_ESTATE);
    pair_close(&p);
    tls_client_config_free(nocache);
    tls_client_config_free(cc);
    tls_server_config_free(sc);
}

static void test_input_limit(void)
{
    struct tls_server_config *sc = tls_server_config_new(NULL);
    struct tls_conn *s = tls_conn_new_server(sc, &chain, &leaf_key, NULL);
    static uint8_t junk[TLS_INPUT_MAX];
    CHECK_INT_EQ(tls_conn_feed(s, junk, 1000), 0);
    CHECK_INT_EQ(tls_conn_feed(s, junk, TLS_INPUT_MAX - 1000), 0);
    CHECK_INT_EQ(tls_conn_feed(s, junk, 1), TLS_EINPUT_FULL);
    uint8_t *b;
    size_t cap = 99;
    CHECK_INT_EQ(tls_conn_input_buffer(s, &b, &cap), 0);
    CHECK_INT_EQ(cap, 0);
    CHECK_INT_EQ(tls_conn_input_commit(s, 1), TLS_EINVAL);
    CHECK_INT_EQ(tls_conn_feed(s, NULL, 5), TLS_EINVAL);
    tls_conn_free(s);
    /* bad arguments make no connection */
    CHECK(tls_conn_new_server(sc, NULL, &leaf_key, NULL) == NULL);
    CHECK(tls_conn_new_server(sc, &chain, &leaf_key, "") == NULL);
    struct tls_client_config *cc = client_cfg(0);
    CHECK(tls_conn_new_client(cc, "", 443) == NULL);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(tls_conn_new_client(cc, longname, 443) == NULL);
    /* an IP literal is no SNI */
    struct pair p;
    CHECK_INT_EQ(pair_open(&p, cc, sc, "127.0.0.1", NULL), 0);
    CHECK(tls_conn_host(p.s) == NULL);
    pair_close(&p);
    tls_client_config_free(cc);
    tls_server_config_free(sc);
}

static void test_garbage(void)
{
    struct tls_server_config *sc = tls_server_config_new(NULL);
    struct tls_client_config *cc = client_cfg(0);
    uint8_t junk[4096];
    mbedtls_ctr_drbg_random(&drbg, junk, sizeof junk);
    /* random bytes at a server */
    for (int i = 0; i < 20; i++) {
        struct tls_conn *s = tls_conn_new_server(sc, &chain, &leaf_key, "h2");
        junk[0] = (uint8_t)(20 + i % 5); /* sometimes a plausible record type */
        CHECK_INT_EQ(tls_conn_feed(s, junk + i, sizeof junk - (size_t)i), 0);
        int r = tls_conn_handshake(s);
        CHECK(r < 0 && r != TLS_WANT_IO);
        CHECK(tls_conn_error(s)[0] != '\0');
        CHECK_INT_EQ(tls_conn_handshake(s), r); /* sticky */
        tls_conn_free(s);
        mbedtls_ctr_drbg_random(&drbg, junk, sizeof junk);
    }
    /* plain HTTP at a TLS server */
    struct tls_conn *s = tls_conn_new_server(sc, &chain, &leaf_key, NULL);
    const char *http = "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n";
    tls_conn_feed(s, http, strlen(http));
    CHECK_INT_EQ(tls_conn_handshake(s), TLS_EHANDSHAKE);
    tls_conn_free(s);
    /* random bytes at a client awaiting its ServerHello */
    struct tls_conn *c = tls_conn_new_client(cc, "example.test", 443);
    CHECK_INT_EQ(tls_conn_handshake(c), TLS_WANT_IO);
    tls_conn_feed(c, junk, sizeof junk);
    CHECK(tls_conn_handshake(c) < TLS_WANT_IO);
    tls_conn_free(c);
    /* after the handshake: a forged application record, then random bytes */
    struct pair p;
    CHECK_INT_EQ(pair_open(&p, cc, sc, "example.test", NULL), 0);
    uint8_t rec[5 + 100] = {23, 3, 3, 0, 100};
    mbedtls_ctr_drbg_random(&drbg, rec + 5, 100);
    tls_conn_feed(p.c, rec, sizeof rec);
    uint8_t buf[64];
    CHECK_INT_EQ(tls_conn_read(p.c, buf, sizeof buf), TLS_EPROTOCOL);
    CHECK_INT_EQ(tls_conn_write(p.c, "x", 1), TLS_EPROTOCOL);
    tls_conn_feed(p.s, junk, sizeof junk);
    int r = tls_conn_read(p.s, buf, sizeof buf);
    CHECK(r < TLS_WANT_IO && r != TLS_EOF);
    pair_close(&p);
    /* a record header announcing too much */
    CHECK_INT_EQ(pair_open(&p, cc, sc, "example.test", NULL), 0);
    uint8_t huge[5] = {23, 3, 3, 0xff, 0xff};
    tls_conn_feed(p.s, huge, sizeof huge);
    CHECK_INT_EQ(tls_conn_read(p.s, buf, sizeof buf), TLS_EPROTOCOL);
    pair_close(&p);
    tls_client_config_free(cc);
    tls_server_config_free(sc);
}

/* Heap per connection after the handshake, with glibc's own counters (this
 * mbedTLS has no MBEDTLS_PLATFORM_MEMORY to hook its allocator). */
static void test_memory(void)
{
#if defined(__SANITIZE_ADDRESS__)
    printf("# memory: not measured under AddressSanitizer\n");
#else
    enum { N = 100 };
    static struct pair p[N];
    struct tls_client_config *cc = client_cfg(0);
    struct tls_server_config *sc = tls_server_config_new(NULL);
    for (int i = 0; i < 2; i++) { /* warm up: variants, ticket keys */
        CHECK_INT_EQ(pair_open(&p[0], cc, sc, "example.test", "h2"), 0);
        pair_close(&p[0]);
    }
    malloc_trim(0);
    size_t base = mallinfo2().uordblks;
    for (int i = 0; i < N; i++)
        CHECK_INT_EQ(pair_open(&p[i], cc, sc, "example.test", "h2"), 0);
    size_t both = mallinfo2().uordblks - base;
    for (int i = 0; i < N; i++) {
        tls_conn_free(p[i].s);
        p[i].s = NULL;
    }
    size_t client = mallinfo2().uordblks - base;
    for (int i = 0; i < N; i++)
        tls_conn_release_peer_chain(p[i].c);
    size_t client_released = mallinfo2().uordblks - base;
    for (int i = 0; i < N; i++)
        pair_close(&p[i]);
    size_t per_client = client / N, per_server = (both - client) / N;
    printf("# memory after handshake: client %zu B (%zu B with the peer chain released), "
           "server %zu B, pair %zu B\n",
           per_client, client_released / N, per_server, both / N);
    CHECK(per_client < 45 * 1024);
    CHECK(per_server < 40 * 1024);
    tls_client_config_free(cc);
    tls_server_config_free(sc);
#endif
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Not a pass/fail bound: prints the relay throughput next to the raw cipher. */
static void test_throughput(void)
{
    enum { LEN = 32 << 20 };
    static uint8_t buf[TLS_RECORD_MAX], tag[16], key[32], nonce[12];
    mbedtls_chachapoly_context cp;
    mbedtls_chachapoly_init(&cp);
    mbedtls_chachapoly_setkey(&cp, key);
    double t0 = now_s();
    for (size_t done = 0; done < LEN; done += sizeof buf)
        mbedtls_chachapoly_encrypt_and_tag(&cp, sizeof buf, nonce, NULL, 0, buf, buf, tag);
    double cipher = LEN / (now_s() - t0) / 1048576;
    mbedtls_chachapoly_free(&cp);

    struct tls_client_config *cc = client_cfg(0);
    struct tls_server_config *sc = tls_server_config_new(NULL);
    struct pair p;
    CHECK_INT_EQ(pair_open(&p, cc, sc, "example.test", "h2"), 0);
    size_t sent = 0, got = 0;
    t0 = now_s();
    while (got < LEN) {
        int r = tls_conn_write(p.s, buf, sizeof buf);
        if (r > 0)
            sent += (size_t)r;
        xfer(p.s, p.c);
        while ((r = tls_conn_read(p.c, buf, sizeof buf)) > 0)
            got += (size_t)r;
        if (r != TLS_WANT_IO) {
            CHECK_INT_EQ(r, TLS_WANT_IO);
            break;
        }
    }
    double relay = LEN / (now_s() - t0) / 1048576;
    /* encrypt + decrypt per byte: the ceiling is half the cipher speed */
    printf("# throughput: chachapoly %.0f MiB/s; encrypt+decrypt through tls_conn %.0f MiB/s "
           "(%.0f%% of cipher/2)\n",
           cipher, relay, 100 * relay / (cipher / 2));
    pair_close(&p);

    /* handshake CPU, both ends in this process: one full (client ECDHE + ECDSA
     * verify, server ECDHE + ECDSA sign) and one resumed, per pair */
    struct tls_client_config *rc = client_cfg(4);
    enum { H = 50 };
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    for (int i = 0; i < H; i++) {
        CHECK_INT_EQ(pair_open(&p, rc, sc, "hs.test", "h2"), 0);
        pair_close(&p);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double full_ms =
        ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / H;
    CHECK_INT_EQ(pair_open(&p, rc, sc, "hs.test", "h2"), 0);
    CHECK_INT_EQ(tls_conn_save_session(p.c), 0);
    pair_close(&p);
    int resumed = 0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    for (int i = 0; i < H; i++) {
        CHECK_INT_EQ(pair_open(&p, rc, sc, "hs.test", "h2"), 0);
        resumed += tls_conn_resumed(p.c);
        pair_close(&p);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double res_ms =
        ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / H;
    CHECK_INT_EQ(resumed, H);
    printf("# handshake CPU per client+server pair: full %.2f ms, resumed %.3f ms\n", full_ms,
           res_ms);
    tls_client_config_free(rc);
    tls_client_config_free(cc);
    tls_server_config_free(sc);
}

/* ---- interop with openssl on 127.0.0.1 --------------------------------- */

static char tmpdir[64];

static int run_quiet(const char *cmd)
{
    char full[1024];
    snprintf(full, sizeof full, "timeout 20 %s >/dev/null 2>&1", cmd);
    return system(full);
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Start argv with stdout+stderr to out_path and stdin from stdin_fd (-1:
 * /dev/null). Returns the PID or -1. */
static pid_t spawn(char *const argv[], const char *out_path, int stdin_fd)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0)
        _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execvp(argv[0], argv);
    _exit(127);
}

/* Stop pid: wait up to grace_ms for it to exit, then SIGTERM, then SIGKILL. */
static int reap(pid_t pid, int grace_ms)
{
    int status = -1;
    for (int waited = 0;; waited += 20) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        if (waited == grace_ms)
            kill(pid, SIGTERM);
        if (waited == grace_ms + 2000)
            kill(pid, SIGKILL);
        usleep(20000);
    }
}

static int file_has(const char *path, const char *needle)
{
    static char text[65536];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

static void dump_file(const char *path)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sed 's/^/  | /' %s | tail -n 25 >&2", path);
    if (system(cmd) != 0)
        fprintf(stderr, "  (no output in %s)\n", path);
}

/* Socket plumbing for one tls_conn. */
static int sock_flush(int fd, struct tls_conn *c)
{
    const uint8_t *p;
    size_t n;
    while (tls_conn_output(c, &p, &n)) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        tls_conn_output_done(c, (size_t)w);
    }
    return 0;
}

/* Wait up to ms for input; feed it (EOF included). 1 when something arrived. */
static int sock_fill(int fd, struct tls_conn *c, int ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, ms) <= 0)
        return 0;
    uint8_t *b;
    size_t cap;
    if (tls_conn_input_buffer(c, &b, &cap) != 0 || cap == 0)
        return 0;
    ssize_t r = recv(fd, b, cap, 0);
    if (r < 0)
        return 0;
    if (r == 0)
        tls_conn_feed(c, NULL, 0);
    else
        tls_conn_input_commit(c, (size_t)r);
    return 1;
}

static int sock_handshake(int fd, struct tls_conn *c)
{
    double deadline = now_s() + 10;
    for (;;) {
        int r = tls_conn_handshake(c);
        if (sock_flush(fd, c) != 0)
            return TLS_ETRUNCATED;
        if (r != TLS_WANT_IO)
            return r;
        if (now_s() > deadline)
            return TLS_WANT_IO;
        sock_fill(fd, c, 200);
    }
}

/* Read everything until EOF or error into out (cap bytes); returns the final code. */
static int sock_read_all(int fd, struct tls_conn *c, char *out, size_t cap, size_t *got)
{
    double deadline = now_s() + 10;
    *got = 0;
    for (;;) {
        int r;
        while ((r = tls_conn_read(c, out + *got, cap - 1 - *got)) > 0)
            *got += (size_t)r;
        out[*got] = '\0';
        sock_flush(fd, c);
        if (r != TLS_WANT_IO || *got == cap - 1 || now_s() > deadline)
            return r;
        sock_fill(fd, c, 200);
    }
}

static int connect_retry(uint16_t port)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 100; i++) { /* up to 5 s for the server to listen */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
        if (fd >= 0)
            close(fd);
        usleep(50000);
    }
    return -1;
}

struct s_server {
    pid_t pid;
    uint16_t port;
    char log[128];
};

/* openssl s_server -www on a free 127.0.0.1 port; extra: more arguments, NULL-ended. */
static int s_server_start(struct s_server *srv, const char *key, const char *crt,
                          const char *const *extra)
{
    char accept[32], keyp[128], crtp[128];
    srv->port = free_port();
    snprintf(accept, sizeof accept, "127.0.0.1:%u", srv->port);
    snprintf(keyp, sizeof keyp, "%s/%s", tmpdir, key);
    snprintf(crtp, sizeof crtp, "%s/%s", tmpdir, crt);
    snprintf(srv->log, sizeof srv->log, "%s/s_server.%u.log", tmpdir, srv->port);
    char *argv[32] = {"openssl", "s_server", "-accept", accept,        "-key", keyp,
                      "-cert",   crtp,       "-alpn",   "h2,http/1.1", "-www"};
    size_t n = 11;
    for (; extra && *extra && n < 31; extra++)
        argv[n++] = (char *)*extra;
    argv[n] = NULL;
    srv->pid = srv->port ? spawn(argv, srv->log, -1) : -1;
    return srv->pid > 0 ? 0 : -1;
}

/* One GET through our client to an s_server -www; returns the handshake result. */
static int fetch(struct tls_client_config *cc, uint16_t port, struct tls_conn **out, char *page,
                 size_t cap)
{
    int fd = connect_retry(port);
    if (fd < 0)
        return TLS_ETRUNCATED;
    struct tls_conn *c = tls_conn_new_client(cc, "localhost", port);
    int r = sock_handshake(fd, c);
    if (r == 0) {
        const char *req = "GET / HTTP/1.0\r\n\r\n";
        CHECK_INT_EQ(tls_conn_write(c, req, strlen(req)), (int)strlen(req));
        sock_flush(fd, c);
        size_t got;
        int end = sock_read_all(fd, c, page, cap, &got);
        CHECK(end == TLS_EOF || end == TLS_ETRUNCATED);
        if (tls_conn_close_notify(c) == 0)
            sock_flush(fd, c);
    }
    close(fd);
    *out = c;
    return r;
}

static int have_openssl;

static void test_interop_openssl_s_server(void)
{
    if (!have_openssl) {
        CHECK(!"openssl CLI with a usable temporary directory");
        return;
    }
    struct tls_client_config *cc = client_cfg(8);
    static char page[16384];
    struct tls_conn *c = NULL;
    /* EC server: ECDHE-ECDSA, ChaCha20 (we ask first; OpenSSL honours it), h2 */
    struct s_server srv;
    static const char *const ec_args[] = {"-naccept", "2", NULL};
    CHECK_INT_EQ(s_server_start(&srv, "ec.key", "ec.crt", ec_args), 0);
    int r = fetch(cc, srv.port, &c, page, sizeof page);
    CHECK_INT_EQ(r, 0);
    if (r != 0)
        fprintf(stderr, "  %s\n", tls_conn_error(c));
    CHECK_STR_EQ(tls_conn_alpn(c), "h2");
    CHECK_STR_EQ(tls_conn_ciphersuite(c), "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256");
    CHECK(strstr(page, "HTTP/1.0 200 ok") != NULL);
    CHECK_INT_EQ(chain_len(tls_conn_peer_chain(c)), 1);
    printf("# interop s_server (EC): %s, ALPN %s, resumed %d\n", tls_conn_ciphersuite(c),
           tls_conn_alpn(c) ? tls_conn_alpn(c) : "-", tls_conn_resumed(c));
    CHECK_INT_EQ(tls_conn_save_session(c), 0);
    tls_conn_free(c);
    /* second connection: resumed with OpenSSL's ticket */
    r = fetch(cc, srv.port, &c, page, sizeof page);
    CHECK_INT_EQ(r, 0);
    CHECK_INT_EQ(tls_conn_resumed(c), 1);
    CHECK(strstr(page, "HTTP/1.0 200 ok") != NULL);
    CHECK_INT_EQ(chain_len(tls_conn_peer_chain(c)), 1);
    tls_conn_free(c);
    if (unit_failed_checks)
        dump_file(srv.log);
    reap(srv.pid, 3000);

    /* RSA server without tickets, AES-GCM only: resumption by session ID */
    static const char *const rsa_args[] = {
        "-naccept", "2", "-no_ticket", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", NULL};
    CHECK_INT_EQ(s_server_start(&srv, "rsa.key", "rsa.crt", rsa_args), 0);
    r = fetch(cc, srv.port, &c, page, sizeof page);
    CHECK_INT_EQ(r, 0);
    CHECK_STR_EQ(tls_conn_ciphersuite(c), "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256");
    printf("# interop s_server (RSA, AES-GCM only, no tickets): %s, ALPN %s\n",
           tls_conn_ciphersuite(c), tls_conn_alpn(c) ? tls_conn_alpn(c) : "-");
    CHECK_INT_EQ(tls_conn_save_session(c), 0);
    tls_conn_free(c);
    r = fetch(cc, srv.port, &c, page, sizeof page);
    CHECK_INT_EQ(r, 0);
    CHECK_INT_EQ(tls_conn_resumed(c), 1);
    tls_conn_free(c);
    if (unit_failed_checks)
        dump_file(srv.log);
    reap(srv.pid, 3000);
    tls_client_config_free(cc);
}

static void test_interop_tls13_only(void)
{
    if (!have_openssl) {
        CHECK(!"openssl CLI");
        return;
    }
    struct tls_client_config *cc = client_cfg(8);
    struct s_server srv;
    static const char *const args[] = {"-naccept", "1", "-tls1_3", NULL};
    CHECK_INT_EQ(s_server_start(&srv, "ec.key", "ec.crt", args), 0);
    static char page[1024];
    struct tls_conn *c = NULL;
    int r = fetch(cc, srv.port, &c, page, sizeof page);
    CHECK_INT_EQ(r, TLS_EPEER_REQUIRES_TLS13);
    CHECK(strstr(tls_conn_error(c), "upstream requires TLS 1.3") != NULL);
    printf("# interop s_server -tls1_3: %s: %s\n", tls_errname(r), tls_conn_error(c));
    tls_conn_free(c);
    reap(srv.pid, 3000);
    /* no suite in common (RSA key exchange only): handshake_failure, told apart */
    static const char *const rsa_kx[] = {"-naccept", "1", "-cipher", "AES128-SHA", NULL};
    CHECK_INT_EQ(s_server_start(&srv, "rsa.key", "rsa.crt", rsa_kx), 0);
    r = fetch(cc, srv.port, &c, page, sizeof page);
    CHECK_INT_EQ(r, TLS_EPEER_HANDSHAKE_FAILURE);
    printf("# interop s_server -cipher AES128-SHA: %s: %s\n", tls_errname(r), tls_conn_error(c));
    tls_conn_free(c);
    reap(srv.pid, 3000);
    tls_client_config_free(cc);
}

/* openssl s_client against our server, driven by a socket loop here. */
static int serve_s_client(struct tls_server_config *sc, int resume, struct tls_conn **out)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    char connect_to[32], sess[128], log[128];
    snprintf(connect_to, sizeof connect_to, "127.0.0.1:%u", ntohs(a.sin_port));
    snprintf(sess, sizeof sess, "%s/s_client.sess", tmpdir);
    snprintf(log, sizeof log, "%s/s_client.%d.log", tmpdir, resume);
    int in[2];
    if (pipe(in) != 0)
        return -1;
    char *argv[] = {"openssl",  "s_client",    "-connect",
                    connect_to, "-servername", "example.test",
                    "-alpn",    "http/1.1,h2", resume ? "-sess_in" : "-sess_out",
                    sess,       NULL};
    pid_t pid = spawn(argv, log, in[0]);
    close(in[0]);
    int ok = -1;
    struct pollfd pfd = {lfd, POLLIN, 0};
    int fd = poll(&pfd, 1, 10000) == 1 ? accept(lfd, NULL, NULL) : -1;
    struct tls_conn *s = tls_conn_new_server(sc, &chain, &leaf_key, "h2");
    if (fd >= 0 && sock_handshake(fd, s) == 0) {
        if (write(in[1], "ping\n", 5) != 5)
            goto out;
        char buf[64];
        size_t got = 0;
        double deadline = now_s() + 10;
        while (got < 5 && now_s() < deadline) {
            int r = tls_conn_read(s, buf + got, sizeof buf - got);
            if (r > 0)
                got += (size_t)r;
            else if (r == TLS_WANT_IO)
                sock_fill(fd, s, 200);
            else
                break;
        }
        CHECK_INT_EQ(got, 5);
        CHECK_MEM_EQ(buf, "ping\n", 5);
        const char *pong = "pong from daneguard\n";
        CHECK_INT_EQ(tls_conn_write(s, pong, strlen(pong)), (int)strlen(pong));
        CHECK_INT_EQ(tls_conn_close_notify(s), 0);
        sock_flush(fd, s);
        ok = 0;
    } else {
        fprintf(stderr, "  server handshake: %s\n", tls_conn_error(s));
    }
out:
    close(in[1]); /* s_client's stdin EOF: it leaves */
    int status = reap(pid, 5000);
    if (fd >= 0)
        close(fd);
    close(lfd);
    CHECK(WIFEXITED(status));
    CHECK(file_has(log, "ALPN protocol: h2"));
    CHECK(file_has(log, "ECDHE-ECDSA-CHACHA20-POLY1305"));
    CHECK(file_has(log, "pong from daneguard"));
    CHECK(file_has(log, resume ? "Reused, TLSv1.2" : "New, TLSv1.2"));
    if (unit_failed_checks)
        dump_file(log);
    *out = s;
    return ok;
}

static void test_interop_openssl_s_client(void)
{
    if (!have_openssl) {
        CHECK(!"openssl CLI");
        return;
    }
    struct tls_server_config *sc = tls_server_config_new(NULL);
    struct tls_conn *s = NULL;
    CHECK_INT_EQ(serve_s_client(sc, 0, &s), 0);
    CHECK_STR_EQ(tls_conn_host(s), "example.test");
    CHECK_STR_EQ(tls_conn_alpn(s), "h2");
    printf("# interop s_client: %s, ALPN %s\n", tls_conn_ciphersuite(s),
           tls_conn_alpn(s) ? tls_conn_alpn(s) : "-");
    tls_conn_free(s);
    /* s_client -sess_in: the browser-side ticket resumption */
    CHECK_INT_EQ(serve_s_client(sc, 1, &s), 0);
    CHECK_INT_EQ(tls_conn_resumed(s), 1);
    tls_conn_free(s);
    tls_server_config_free(sc);
}

static void interop_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tls.XXXXXX");
    if (!mkdtemp(tmpdir))
        return;
    char cmd[768];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
             "-subj /CN=localhost -keyout %s/ec.key -out %s/ec.crt",
             tmpdir, tmpdir);
    if (run_quiet(cmd) != 0)
        return;
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
             "-keyout %s/rsa.key -out %s/rsa.crt",
             tmpdir, tmpdir);
    have_openssl = run_quiet(cmd) == 0;
}

static void interop_teardown(void)
{
    char cmd[128];
    if (tmpdir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        run_quiet(cmd);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (pki_setup() != 0) {
        printf("FAIL pki_setup\n");
        return 1;
    }
    UNIT_RUN(test_strerror);
    UNIT_RUN(test_handshake_alpn_h2);
    UNIT_RUN(test_alpn_none_and_http11);
    UNIT_RUN(test_bulk_and_close_notify);
    UNIT_RUN(test_resume_ticket);
    UNIT_RUN(test_resume_session_id);
    UNIT_RUN(test_session_cache_lru);
    UNIT_RUN(test_input_limit);
    UNIT_RUN(test_garbage);
    UNIT_RUN(test_memory);
    UNIT_RUN(test_throughput);
    UNIT_RUN(test_hello_offers_alpn);
    interop_setup();
    UNIT_RUN(test_interop_openssl_s_server);
    UNIT_RUN(test_interop_tls13_only);
    UNIT_RUN(test_interop_openssl_s_client);
    interop_teardown();
    pki_free();
    return UNIT_END();
}
