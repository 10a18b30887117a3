/* proxy/http.c — HTTP/1.x for the proxy front end, sans I/O: error codes and
 * status reasons, growing buffers, the authority parser (CONNECT targets and
 * Host headers), and the writers of heads and of daneguard's own responses.
 * The reader, which drives http_parser, is http_reader.c; both are declared
 * in include/http.h.
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- errors ------------------------------------------------------------- */

const char *http_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define HTTP_CASE(name, value, text, status)                                                       \
    case name:                                                                                     \
        return text;
        HTTP_ERRORS(HTTP_CASE)
#undef HTTP_CASE
    }
    return "unknown HTTP error";
}

int http_error_status(int err)
{
    switch (err) {
#define HTTP_CASE(name, value, text, status)                                                       \
    case name:                                                                                     \
        return status;
        HTTP_ERRORS(HTTP_CASE)
#undef HTTP_CASE
    }
    return 400;
}

const char *http_status_reason(int status)
{
    const char *s = http_status_str((enum http_status)status);
    return (s && s[0] != '<') ? s : "Unknown";
}

/* ---- buffer ------------------------------------------------------------- */

static int buf_reserve(struct http_buf *b, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len - 1)
        return HTTP_ENOMEM;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return HTTP_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int http_buf_append(struct http_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return HTTP_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int http_buf_puts(struct http_buf *b, const char *s)
{
    return http_buf_append(b, s, strlen(s));
}

int http_buf_printf(struct http_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return HTTP_EINVAL;
    if ((size_t)n < sizeof small)
        return http_buf_append(b, small, (size_t)n);
    if (buf_reserve(b, (size_t)n) != 0)
        return HTTP_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void http_buf_reset(struct http_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void http_buf_free(struct http_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- authority ---------------------------------------------------------- */

static int parse_port(const char *s, size_t len, uint16_t *port)
{
    if (len == 0 || len > 5)
        return HTTP_EBADPORT;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return HTTP_EBADPORT;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return HTTP_EBADPORT;
    *port = (uint16_t)v;
    return 0;
}

/* A DNS name as a host: letters, digits, '-' and '_' (seen in the wild) in
 * labels of 1..63, 253 at most, a trailing dot allowed (and removed). A name
 * whose last label is all digits would be a malformed IPv4 address. */
static int check_dns_name(char *h, size_t *len)
{
    if (*len > 0 && h[*len - 1] == '.')
        h[--*len] = '\0';
    if (*len == 0 || *len > HTTP_MAX_HOST)
        return HTTP_EBADHOST;
    size_t label = 0;
    int all_digits = 1;
    for (size_t i = 0; i < *len; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return HTTP_EBADHOST;
            label = 0;
            all_digits = 1;
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '-' && c != '_')
            return HTTP_EBADHOST;
        if (c == '-' && label == 0)
            return HTTP_EBADHOST;
        if (!isdigit((unsigned char)c))
            all_digits = 0;
        if (++label > 63)
            return HTTP_EBADHOST;
        h[i] = (char)tolower((unsigned char)c);
    }
    if (h[*len - 1] == '-' || all_digits)
        return HTTP_EBADHOST;
    return 0;
}

int http_authority_parse(const char *s, size_t len, int default_port, char *host,
                         enum http_host_kind *kind, uint16_t *port)
{
    const char *hs, *ps = NULL;
    size_t hl, pl = 0;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return HTTP_EBADHOST;
        hs = s + 1;
        hl = (size_t)(close - hs);
        const char *rest = close + 1;
        size_t rl = len - (size_t)(rest - s);
        if (rl > 0) {
            if (rest[0] != ':')
                return HTTP_EBADHOST;
            ps = rest + 1;
            pl = rl - 1;
        }
        if (hl == 0 || hl > 45)
            return HTTP_EBADHOST;
        memcpy(host, hs, hl);
        host[hl] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return HTTP_EBADHOST;
        for (size_t i = 0; i < hl; i++)
            host[i] = (char)tolower((unsigned char)host[i]);
        *kind = HTTP_HOST_IPV6;
    } else {
        const char *colon = memchr(s, ':', len);
        hs = s;
        hl = colon ? (size_t)(colon - s) : len;
        if (colon) {
            ps = colon + 1;
            pl = len - hl - 1;
        }
        if (hl == 0 || hl > HTTP_MAX_HOST)
            return HTTP_EBADHOST;
        memcpy(host, hs, hl);
        host[hl] = '\0';
        if (memchr(host, '\0', hl))
            return HTTP_EBADHOST;
        size_t digits_dots = strspn(host, "0123456789.");
        if (digits_dots == hl) {
            struct in_addr a4;
            if (inet_pton(AF_INET, host, &a4) != 1)
                return HTTP_EBADHOST;
            *kind = HTTP_HOST_IPV4;
        } else {
            if (check_dns_name(host, &hl) != 0)
                return HTTP_EBADHOST;
            *kind = HTTP_HOST_NAME;
        }
    }
    if (!ps) {
        if (default_port <= 0)
            return HTTP_EBADPORT;
        *port = (uint16_t)default_port;
        return 0;
    }
    if (pl == 0 && default_port > 0) { /* "host:" — RFC 3986 allows an empty port */
        *port = (uint16_t)default_port;
        return 0;
    }
    return parse_port(ps, pl, port);
}

/* ---- writing ------------------------------------------------------------ */

static int write_authority(struct http_buf *out, const struct http_head *h, uint16_t default_port)
{
    int rc = h->host_kind == HTTP_HOST_IPV6 ? http_buf_printf(out, "[%s]", h->host)
                                            : http_buf_puts(out, h->host);
    if (rc == 0 && h->port != default_port)
        rc = http_buf_printf(out, ":%u", (unsigned)h->port);
    return rc;
}

static int write_end_to_end(struct http_buf *out, const struct http_head *h, int skip_host)
{
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct http_header *hd = &h->headers[i];
        if (hd->hop_by_hop || (skip_host && strcasecmp(hd->name, "host") == 0))
            continue;
        if (http_buf_printf(out, "%s: %s\r\n", hd->name, hd->value) != 0)
            return HTTP_ENOMEM;
    }
    return 0;
}

static const char *head_header(const struct http_head *h, const char *name)
{
    for (size_t i = 0; i < h->n_headers; i++)
        if (strcasecmp(h->headers[i].name, name) == 0)
            return h->headers[i].value;
    return NULL;
}

int http_request_write_upstream(const struct http_head *req, struct http_buf *out)
{
    if (!req || req->kind != HTTP_TARGET_ABSOLUTE || !req->host || !req->path)
        return HTTP_EINVAL;
    int minor = req->version_minor >= 1 ? 1 : 0;
    int rc = http_buf_printf(out, "%s %s HTTP/1.%d\r\nHost: ", req->method_name, req->path, minor);
    if (rc == 0)
        rc = write_authority(out, req, 80);
    if (rc == 0)
        rc = http_buf_puts(out, "\r\n");
    if (rc == 0)
        rc = write_end_to_end(out, req, 1);
    if (rc == 0 && req->websocket)
        rc = http_buf_printf(out, "Upgrade: %s\r\nConnection: Upgrade\r\n",
                             head_header(req, "upgrade"));
    else if (rc == 0 && minor == 0 && req->keep_alive)
        rc = http_buf_puts(out, "Connection: keep-alive\r\n");
    if (rc == 0)
        rc = http_buf_puts(out, "\r\n");
    return rc;
}

int http_response_write_downstream(const struct http_head *resp, int client_minor, int keep_alive,
                                   struct http_buf *out)
{
    if (!resp || resp->status < 100 || resp->status > 999)
        return HTTP_EINVAL;
    int rc = http_buf_printf(out, "HTTP/1.%d %d %s\r\n", client_minor >= 1 ? 1 : 0, resp->status,
                             resp->reason && resp->reason[0] ? resp->reason
                                                             : http_status_reason(resp->status));
    if (rc == 0)
        rc = write_end_to_end(out, resp, 0);
    if (rc == 0 && resp->status == 101 && resp->websocket)
        rc = http_buf_printf(out, "Upgrade: %s\r\nConnection: Upgrade\r\n",
                             head_header(resp, "upgrade"));
    else if (rc == 0 && !keep_alive)
        rc = http_buf_puts(out, "Connection: close\r\n");
    else if (rc == 0 && client_minor == 0)
        rc = http_buf_puts(out, "Connection: keep-alive\r\n");
    if (rc == 0)
        rc = http_buf_puts(out, "\r\n");
    return rc;
}

int http_write_response(struct http_buf *out, int status, const char *content_type, size_t body_len,
                        const char *extra_headers, int keep_alive)
{
    int rc = http_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, http_status_reason(status));
    if (rc == 0 && content_type)
        rc = http_buf_printf(out, "Content-Type: %s\r\n", content_type);
    if (rc == 0)
        rc = http_buf_printf(out,
                             "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: %s\r\n",
                             body_len, keep_alive ? "keep-alive" : "close");
    if (rc == 0 && extra_headers)
        rc = http_buf_puts(out, extra_headers);
    if (rc == 0)
        rc = http_buf_puts(out, "\r\n");
    return rc;
}

int http_write_error(struct http_buf *out, int status, const char *detail, int keep_alive)
{
    struct http_buf body = {0};
    int rc = http_buf_printf(&body, "%d %s\n", status, http_status_reason(status));
    if (rc == 0 && detail) {
        size_t start = body.len;
        rc = http_buf_puts(&body, detail);
        for (size_t i = start; rc == 0 && i < body.len; i++)
            if ((unsigned char)body.data[i] < 0x20 && body.data[i] != '\n')
                body.data[i] = ' ';
        if (rc == 0)
            rc = http_buf_puts(&body, "\n");
    }
    if (rc == 0)
        rc = http_write_response(out, status, "text/plain; charset=utf-8", body.len,
                                 status == 405 ? "Allow: GET, HEAD\r\n" : NULL, keep_alive);
    if (rc == 0)
        rc = http_buf_append(out, body.data, body.len);
    http_buf_free(&body);
    return rc;
}
