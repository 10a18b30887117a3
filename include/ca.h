/* include/ca.h — daneguard's local certificate authority: creates or loads the
 * CA in a directory, mints leaf certificates for the hosts the proxy
 * intercepts, and keeps them in a bounded LRU cache.
 *
 * This module is the only code that touches the CA private key. Inside it
 * (proxy/ca.c, ca_signer.c, ca_file.c) the key sits in ca_signer.c behind one
 * internal call ("issue a leaf for this host, this public
 * key, this validity"), so it can later move into a separate process; nothing
 * here hands out the CA key.
 *
 * Files in the CA directory (created mode 0700 when missing):
 *   ca.key  the CA's EC P-256 private key, PEM (SEC1), mode 0600. A key readable
 *           by group or others is refused.
 *   ca.crt  the self-signed CA certificate, PEM, mode 0644: what browsers trust.
 * Both are written atomically (temporary file, fsync, rename).
 *
 * The leaf key (EC P-256, one for every minted certificate) is generated at
 * ca_open() and lives only in memory: minted certificates are not persisted
 * either, so a key on disk would only be one more secret to protect.
 *
 * Threading: none. One struct ca belongs to one thread (the libuv loop).
 * Time: every call that depends on the clock takes `now` (seconds since the
 * epoch), so tests pin it.
 */
#ifndef DANEGUARD_CA_H
#define DANEGUARD_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

/* Error codes: 0 is success, every failure is negative. */
#define CA_ERRORS(X)                                                                               \
    X(CA_EINVAL, -1, "invalid argument")                                                           \
    X(CA_ENOMEM, -2, "out of memory")                                                              \
    X(CA_EIO, -3, "CA directory or file I/O failed")                                               \
    X(CA_EKEYPERM, -4, "CA key file is readable by group or others")                               \
    X(CA_EPARTIAL, -5, "CA directory holds only one of ca.key and ca.crt")                         \
    X(CA_EPARSE, -6, "CA key or certificate does not parse")                                       \
    X(CA_EMISMATCH, -7, "CA key does not match the CA certificate")                                \
    X(CA_ENOTCA, -8, "certificate is not a CA allowed to sign certificates")                       \
    X(CA_EEXPIRED, -9, "CA certificate is expired or not yet valid")                               \
    X(CA_EHOST, -10, "host is not a valid DNS name or IP address literal")                         \
    X(CA_ECRYPTO, -11, "key generation or signing failed")

enum ca_error {
#define CA_ERROR_ENUM(name, value, text) name = value,
    CA_ERRORS(CA_ERROR_ENUM)
#undef CA_ERROR_ENUM
};

/* A static string for a code from this module ("unknown CA error" otherwise). */
const char *ca_strerror(int code);

#define CA_LEAF_DAYS_MAX 397 /* Chromium refuses leaves valid longer than 398 days */
#define CA_LEAF_DAYS_DEFAULT 90
#define CA_CACHE_ENTRIES_DEFAULT 1000
#define CA_CERT_VALIDITY_YEARS 10

struct ca_config {
    size_t cache_entries; /* minted certificates kept; 0 = CA_CACHE_ENTRIES_DEFAULT */
    unsigned leaf_days;   /* leaf lifetime; 0 = default, more than CA_LEAF_DAYS_MAX = MAX */
};

struct ca;      /* the CA, its leaf key and the certificate cache */
struct ca_cert; /* one minted certificate chain, reference-counted */

struct ca_stats {
    uint64_t hits;       /* ca_mint() answered from the cache */
    uint64_t misses;     /* ca_mint() had to sign (includes renewals) */
    uint64_t renewals;   /* misses because the cached certificate was near expiry */
    uint64_t evictions;  /* entries dropped to stay within the bound */
    uint64_t signatures; /* certificates the CA key signed, the CA's own included */
    size_t entries, capacity;
};

/* Open the CA in dir at time now: load ca.key and ca.crt when both exist, create
 * them when neither does (mkdir 0700 first if dir is missing). A loaded CA must
 * have a key that matches the certificate, be a CA with keyCertSign, and be
 * valid at now; its key file must not be readable by group or others.
 * cfg may be NULL (defaults). On success returns 0 and *out is the new CA, to
 * free with ca_close(). On failure returns a negative CA_E* code, *out is NULL
 * and err (when errlen > 0) holds one line naming the file and the reason. */
int ca_open(const char *dir, const struct ca_config *cfg, time_t now, struct ca **out, char *err,
            size_t errlen);

/* Free the CA, its key and the cache's references. Certificates still held by
 * callers stay valid (each keeps its chain and the leaf key alive) and are
 * freed by their last ca_cert_release(). ca_close(NULL) does nothing. */
void ca_close(struct ca *ca);

/* A certificate for host at time now: from the cache when one is there and not
 * within two days of expiry, else newly signed (and cached, evicting the least
 * recently used entry when full). host is a DNS name (case-insensitive, a
 * trailing dot ignored) or an IPv4/IPv6 literal (brackets allowed).
 * The leaf has SAN dNSName or iPAddress, CN=host (first 64 characters),
 * validity now-1h .. now+leaf_days (never past the CA's own end), a random
 * 16-byte serial, CA:FALSE, keyUsage digitalSignature, extKeyUsage serverAuth,
 * authorityKeyIdentifier, ECDSA-SHA256 by the CA.
 * Returns 0 and a new reference in *out (release with ca_cert_release()), or a
 * negative CA_E* code (CA_EHOST for a bad name) with *out NULL. */
int ca_mint(struct ca *ca, const char *host, time_t now, struct ca_cert **out);

/* The parsed chain, leaf then CA certificate, and the shared leaf private key:
 * exactly what mbedtls_ssl_conf_own_cert() / mbedtls_ssl_set_hs_own_cert() take.
 * Both are owned by cert and valid until its last reference is released; the
 * caller must not modify or free them. */
mbedtls_x509_crt *ca_cert_chain(struct ca_cert *cert);
mbedtls_pk_context *ca_cert_key(struct ca_cert *cert);
/* The leaf's DER (owned by cert) and its notAfter. */
const unsigned char *ca_cert_der(const struct ca_cert *cert, size_t *len);
time_t ca_cert_not_after(const struct ca_cert *cert);

/* Take one more reference (returns cert); drop one. Release of NULL does nothing. */
struct ca_cert *ca_cert_ref(struct ca_cert *cert);
void ca_cert_release(struct ca_cert *cert);

/* The CA certificate, for the onboarding page and for tests. All owned by ca,
 * valid until ca_close(). The PEM is NUL-terminated (*len excludes the NUL). */
const char *ca_pem(const struct ca *ca, size_t *len);
const unsigned char *ca_der(const struct ca *ca, size_t *len);
/* base64(SHA-256(SubjectPublicKeyInfo)) of the CA certificate: the form
 * Chromium's --ignore-certificate-errors-spki-list and HPKP pins use. */
const char *ca_spki_sha256_b64(const struct ca *ca);
/* SHA-256 of the CA certificate's DER as colon-separated upper-case hex pairs
 * ("AB:CD:..."), what `openssl x509 -noout -fingerprint -sha256` and browsers'
 * certificate viewers show: for checking a CA fetched over plain HTTP. */
const char *ca_fingerprint_sha256(const struct ca *ca);
/* Keep at most entries minted certificates from now on (0: the default),
 * evicting the least recently used. 0, CA_EINVAL or CA_ENOMEM (the cache is
 * then as it was, possibly with fewer entries). */
int ca_cache_resize(struct ca *ca, size_t entries);
/* The path of ca.crt in the CA directory. */
const char *ca_cert_path(const struct ca *ca);
/* 1 when ca_open() created the CA, 0 when it loaded an existing one. */
int ca_created(const struct ca *ca);

/* Counters for the status page. */
void ca_stats_get(const struct ca *ca, struct ca_stats *stats);

#endif
