/* include/tls_fetch.h — the chain a server presents, fetched over a connected
 * blocking socket with the proxy's own TLS engine (tls.c), so that `daneguard
 * check` and `daneguard tlsa --connect` negotiate exactly as the proxy does
 * (same version, suites, curves, ALPN offer) and predict its verdict. */
#ifndef DANEGUARD_TLS_FETCH_H
#define DANEGUARD_TLS_FETCH_H

#include <stdint.h>
#include <stddef.h>

#include <mbedtls/x509_crt.h>

/* Handshake over fd (a connected stream socket, blocking or not; left open)
 * as a client of host:port (host is sent as SNI unless it is an IP literal; no
 * certificate verification: the DANE engine judges what was presented), within
 * timeout_ms in all, and append the presented chain, leaf first, to out (the
 * caller's, initialised). Returns 0, or a negative TLS_* code from tls.h with
 * the reason in err ("timed out", "connection closed", the engine's text). */
int tls_fetch_chain(int fd, const char *host, uint16_t port, int timeout_ms,
                    mbedtls_x509_crt *out, char *err, size_t errlen);

#endif
