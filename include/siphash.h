/* include/siphash.h — SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit
 * hash for hash tables an attacker fills (the answer cache) and for DNS
 * server cookies (RFC 9018 §4.4). */
#ifndef DANEGUARD_SIPHASH_H
#define DANEGUARD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of in[0..len) under the 128-bit key (bytes, little-endian
 * words, as in the paper's test vectors). */
uint64_t siphash24(const uint8_t key[16], const uint8_t *in, size_t len);

#endif
