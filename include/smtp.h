/* include/smtp.h — the client side of SMTP STARTTLS (RFC 3207), just enough to
 * reach a mail server's TLS handshake: greeting, EHLO, STARTTLS. Used by
 * `daneguard tlsa --connect --starttls smtp` and `daneguard check --starttls smtp`.
 */
#ifndef DANEGUARD_SMTP_H
#define DANEGUARD_SMTP_H

#include <stddef.h>

#include <mbedtls/net_sockets.h>

/* On a connected fd: read the 220 greeting, send EHLO, require STARTTLS among
 * the extensions, send STARTTLS and read its 220. Each read waits at most
 * timeout_ms. Returns 0 (the next bytes on fd are TLS), or -1 with a one-line
 * reason in err ("SMTP: EHLO refused (reply 503)"). */
int smtp_starttls(mbedtls_net_context *fd, int timeout_ms, char *err, size_t errlen);

#endif
