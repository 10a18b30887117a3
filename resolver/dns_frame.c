/* resolver/dns_frame.c — DNS over TCP's two-byte length framing. */
#include "dns_frame.h"

#include <string.h>

size_t dns_frame_encode(uint8_t *out, size_t cap, const uint8_t *msg, size_t len)
{
    if (len > DNS_FRAME_MAX || cap < DNS_FRAME_PREFIX || cap - DNS_FRAME_PREFIX < len)
        return 0;
    out[0] = (uint8_t)(len >> 8);
    out[1] = (uint8_t)len;
    if (len)
        memcpy(out + DNS_FRAME_PREFIX, msg, len);
    return DNS_FRAME_PREFIX + len;
}

int dns_frame_next(const uint8_t *buf, size_t len, const uint8_t **msg, size_t *msg_len)
{
    if (len < DNS_FRAME_PREFIX)
        return 0;
    size_t n = (size_t)buf[0] << 8 | buf[1];
    if (len - DNS_FRAME_PREFIX < n)
        return 0;
    *msg = buf + DNS_FRAME_PREFIX;
    *msg_len = n;
    return 1;
}

size_t dns_frame_consume(uint8_t *buf, size_t len, size_t used)
{
    if (used > len)
        used = len;
    if (used && used < len)
        memmove(buf, buf + used, len - used);
    return len - used;
}
