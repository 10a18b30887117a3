/* daemon/smtp.c — SMTP STARTTLS (RFC 3207) for the operator's tools. */
#include "smtp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One reply, all its lines: its code, or -1. Sets *has_starttls when an EHLO
 * line names STARTTLS. At most 100 lines, each cut at 1023 bytes. */
static int smtp_reply(mbedtls_net_context *fd, int timeout_ms, int *has_starttls)
{
    char line[1024];
    for (int lines = 0; lines < 100; lines++) {
        size_t len = 0;
        for (;;) {
            unsigned char ch;
            if (mbedtls_net_recv_timeout(fd, &ch, 1, (uint32_t)timeout_ms) <= 0)
                return -1;
            if (ch == '\n')
                break;
            if (ch != '\r' && len < sizeof line - 1)
                line[len++] = (char)ch;
        }
        line[len] = '\0';
        if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
            !isdigit((unsigned char)line[2]))
            return -1;
        if (has_starttls != NULL && len >= 12 && strncasecmp(line + 4, "STARTTLS", 8) == 0 &&
            (line[12] == '\0' || line[12] == ' '))
            *has_starttls = 1;
        if (len == 3 || line[3] == ' ')
            return atoi(line);
        if (line[3] != '-')
            return -1;
    }
    return -1;
}

static int smtp_send(mbedtls_net_context *fd, const char *s)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        int ret = mbedtls_net_send(fd, (const unsigned char *)s + off, len - off);
        if (ret <= 0)
            return -1;
        off += (size_t)ret;
    }
    return 0;
}

static const char *smtp_code(int code, char *buf, size_t cap)
{
    if (code < 0)
        return "no SMTP reply";
    snprintf(buf, cap, "reply %d", code);
    return buf;
}

int smtp_starttls(mbedtls_net_context *fd, int timeout_ms, char *err, size_t errlen)
{
    char b[24];
    int code, has = 0;
    if ((code = smtp_reply(fd, timeout_ms, NULL)) != 220) {
        snprintf(err, errlen, "SMTP: no greeting (%s)", smtp_code(code, b, sizeof b));
        return -1;
    }
    if (smtp_send(fd, "EHLO daneguard.invalid\r\n") != 0 ||
        (code = smtp_reply(fd, timeout_ms, &has)) != 250) {
        snprintf(err, errlen, "SMTP: EHLO refused (%s)", smtp_code(code, b, sizeof b));
        return -1;
    }
    if (!has) {
        snprintf(err, errlen, "SMTP: the server does not offer STARTTLS");
        return -1;
    }
    if (smtp_send(fd, "STARTTLS\r\n") != 0 || (code = smtp_reply(fd, timeout_ms, NULL)) != 220) {
        snprintf(err, errlen, "SMTP: STARTTLS refused (%s)", smtp_code(code, b, sizeof b));
        return -1;
    }
    return 0;
}
