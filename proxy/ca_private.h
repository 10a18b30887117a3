/* proxy/ca_private.h — what the local CA's three files share (not in include/):
 * ca.c (the CA as a whole, minting and the certificate cache), ca_signer.c
 * (the only code that holds the CA key) and ca_file.c (reading and writing
 * its files). Callers outside proxy/ca*.c use include/ca.h.
 */
#ifndef DANEGUARD_CA_PRIVATE_H
#define DANEGUARD_CA_PRIVATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "ca.h"
#include "log.h"

#define CA_KEY_FILE "ca.key"
#define CA_CERT_FILE "ca.crt"
#define CA_FILE_MAX (64 * 1024)
#define CA_DER_MAX 2048          /* a leaf is ~450 bytes, our CA ~500 */
#define CA_LEAF_BACKDATE_S 3600  /* notBefore = now - 1h: clients with a slow clock */
#define CA_ROOT_BACKDATE_S 86400 /* the CA itself is backdated a day */
#define CA_RENEW_MARGIN_S (2 * 86400)
#define CA_HOST_MAX 253
#define CA_CN_MAX 64 /* RFC 5280 ub-common-name */

/* printf into err (errlen bytes; NULL or 0: nothing). */
void ca_errf(char *err, size_t errlen, const char *fmt, ...) LOG_PRINTF(3, 4);

/* mbedTLS's words for ret, into buf; returns buf. */
const char *ca_tls_errstr(int ret, char *buf, size_t len);

/* ---- the signer (ca_signer.c): the only holder of the CA key ---------------- */

struct ca_signer {
    mbedtls_pk_context key;
    mbedtls_x509_crt cert;   /* the CA certificate, parsed */
    unsigned char keyid[64]; /* cert's subjectKeyIdentifier, for AKI */
    size_t keyid_len;        /* 0: the CA has none, leaves carry no AKI */
    int (*f_rng)(void *, unsigned char *, size_t);
    void *p_rng;
    uint64_t signatures;
};

/* What a leaf says; everything the signer needs and nothing secret. */
struct leaf_request {
    const char *host;          /* normalized: lower case, no trailing dot; or an IP literal */
    const unsigned char *ip;   /* the address for an IP literal, else NULL */
    size_t ip_len;             /* 4 or 16 */
    const unsigned char *spki; /* the leaf's SubjectPublicKeyInfo, DER */
    size_t spki_len;
    time_t not_before, not_after;
};

/* An empty signer drawing randomness from f_rng(p_rng); ca_signer_free() undoes it. */
void ca_signer_init(struct ca_signer *s, int (*f_rng)(void *, unsigned char *, size_t),
                    void *p_rng);
void ca_signer_free(struct ca_signer *s);

/* Check that key and certificate make a usable CA at now, then keep what
 * issuing needs. 0, or a CA_E* code with err saying why. */
int ca_signer_check(struct ca_signer *s, time_t now, char *err, size_t errlen);

/* A new P-256 key and self-signed CA certificate named cn (ca_signer.c says
 * what it holds), checked at now. 0 or a CA_E* code with err saying why. */
int ca_signer_generate(struct ca_signer *s, const char *cn, time_t now, char *err, size_t errlen);

/* Load the key from key_path (refusing one readable by group or others) and
 * the CA certificate from cert_pem (cert_len bytes), then check them at now.
 * 0 or a CA_E* code with err saying why. */
int ca_signer_load(struct ca_signer *s, const char *key_path, const unsigned char *cert_pem,
                   size_t cert_len, time_t now, char *err, size_t errlen);

/* Write the CA key into dir as ca.key, mode 0600, atomically. 0 or a CA_E* code. */
int ca_signer_store_key(struct ca_signer *s, const char *dir, char *err, size_t errlen);

/* Sign a leaf for req. Returns 0 with the DER at *der (inside buf, cap bytes;
 * *der_len bytes), or an mbedTLS error. */
int ca_signer_issue(struct ca_signer *s, const struct leaf_request *req, unsigned char *buf,
                    size_t cap, unsigned char **der, size_t *der_len);

/* A new P-256 key pair into pk (initialised by the caller). 0 or an mbedTLS error. */
int ca_signer_gen_p256(mbedtls_pk_context *pk, int (*f_rng)(void *, unsigned char *, size_t),
                       void *p_rng);

/* A certificate time as a time_t (UTC). */
time_t ca_signer_x509_time(const mbedtls_x509_time *x);

/* ---- files (ca_file.c) ------------------------------------------------------ */

/* Read all of fd (at most CA_FILE_MAX bytes) into *out (malloc'ed, the
 * caller frees; a NUL follows the *out_len bytes, for mbedTLS's PEM parsers).
 * 0, CA_ENOMEM or CA_EIO. */
int ca_file_read_fd(int fd, unsigned char **out, size_t *out_len);

/* ca_file_read_fd() of the file at path (CA_EIO when it cannot be opened). */
int ca_file_read(const char *path, unsigned char **out, size_t *out_len);

/* dir/name gets len bytes of data with mode: written to a temporary file in
 * dir, flushed, renamed over, and the directory flushed, so a crash leaves old
 * or new. 0, CA_EINVAL or CA_EIO with err saying why. */
int ca_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                         mode_t mode, char *err, size_t errlen);

/* 1 when path exists (as anything: lstat), 0 when it does not (ENOENT), or
 * -1 with "PATH: <strerror> (as uid N): cannot tell whether a CA is there..."
 * in err: only "no such file" means no CA. */
int ca_file_present(const char *path, char *err, size_t errlen);

/* mkdir -p dir, mode 0700 for every directory it creates. 0, CA_EINVAL or
 * CA_EIO with err saying why. */
int ca_file_make_dirs(const char *dir, char *err, size_t errlen);

#endif
