/* include/sigkeys.h — the public keys getdns verifies DNSSEC signatures with,
 * kept as OpenSSL key objects between signatures (resolver/sigkeys.c).
 *
 * Debian's getdns 1.6.0 turns a DNSKEY into a new OpenSSL 3 "legacy" key for
 * every signature it checks (EC_KEY_new_by_curve_name(), o2i_ECPublicKey(),
 * EVP_PKEY_assign(); RSA_new(), RSA_set0_key()) and hands it to
 * EVP_DigestVerifyInit(), which exports it to the default provider each time:
 * the curve's group is built twice and an RSA modulus's Montgomery context
 * once per signature, before any signature arithmetic. sigkeys.c defines
 * OpenSSL functions for the process it is linked into (like fdwrap.c for
 * socket() and close()), and acts only on calls made from libgetdns's code
 * (the return address, uvloop_called_from_getdns()); every other caller in
 * the process gets OpenSSL unchanged:
 *
 * - EVP_DigestVerifyInit() given a legacy EC key on a named curve or a legacy
 *   RSA key goes on with a provider key made once from the same public key
 *   (the curve and the uncompressed point, or the modulus and the exponent,
 *   compared byte for byte) and kept among the last SIGKEYS_MAX ones;
 * - EC_KEY_new_by_curve_name() for P-256 and P-384 copies a group built once
 *   (for every caller: the same key object either way);
 * - a signature that OpenSSL verified with a kept key is not verified again:
 *   getdns checks the same DNSKEY and DS signatures (and the kept key set's
 *   local signature, keycache.h) for every name it validates. A success is
 *   remembered as the SHA-256 of (the key's id, which names its exact public
 *   key and is never reused, the digest, the signature, the signed data),
 *   among the last SIGKEYS_VERIFIED; the same four again get 1 without
 *   OpenSSL. For this, getdns's EVP_DigestVerifyInit() (a fresh context, no
 *   key context asked for, no engine, SHA-1/256/384/512) is deferred to its
 *   EVP_DigestVerify(), getdns's next call, which runs OpenSSL's
 *   initialisation only when the signature is not known. A deferred context
 *   initialised again gets both initialisations, in order; freed or reset
 *   (on any thread) it forgets its deferral; verified by another caller or
 *   after other use, it fails. Failures are never remembered.
 *
 * Signature times are getdns's to check (they are not in the signed data's
 * verification), so a remembered signature is still refused once expired.
 * OpenSSL does every check of every signature not seen before with the same
 * public key; only the objects it reads the key from are reused. Thread-safe.
 * Only the daemon and test_sigkeys link it; libdaneguard.a and the other
 * programs keep OpenSSL's own functions.
 */
#ifndef DANEGUARD_SIGKEYS_H
#define DANEGUARD_SIGKEYS_H

#include <stdint.h>

#define SIGKEYS_MAX 64         /* provider keys kept; the oldest goes first */
#define SIGKEYS_VERIFIED 2048  /* successful verifications remembered */

struct sigkeys_stats {
    uint64_t reused; /* verifications that went on with a kept key */
    uint64_t made;   /* keys made and kept */
    uint64_t passed; /* verifications handed to OpenSSL unchanged */
    uint64_t known;  /* signatures verified before: 1 without OpenSSL */
};

/* Counts since the start of the process. */
void sigkeys_get_stats(struct sigkeys_stats *st);

/* For tests: which calls are getdns's (is_trusted(return address) != 0);
 * NULL: libgetdns's code, the default. */
void sigkeys_set_caller_filter(int (*is_trusted)(const void *caller));

#endif
