/* include/http.h — HTTP/1.x for the proxy front end, sans I/O: an incremental
 * reader for requests from browsers (CONNECT, absolute-URI, origin-form) and for
 * upstream responses of plain-HTTP proxying, and writers for the heads and small
 * responses the proxy sends.
 *
 * Nothing here touches a socket or libuv. Parsing is done by http_parser 2.9
 * (libhttp-parser-dev); this module adds limits, target classification, host
 * validation, hop-by-hop stripping and message framing so that pipelined
 * messages on a keep-alive connection are delimited exactly. The reader is
 * proxy/http_reader.c, the rest proxy/http.c.
 *
 * Bodies are not decoded: a chunked body is passed through with its chunk
 * framing, so BODY events hand back raw input bytes to forward as they are.
 */
#ifndef DANEGUARD_HTTP_H
#define DANEGUARD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_DEFAULT_MAX_HEAD 16384          /* bytes of a request line + headers */
#define HTTP_DEFAULT_MAX_RESPONSE_HEAD 65536 /* origins send long CSP and Set-Cookie headers */
#define HTTP_DEFAULT_MAX_HEADERS 100
#define HTTP_MAX_HOST 253 /* a DNS name without its trailing dot */

/* Errors: name, value, text, the status to answer a client with when its
 * request fails this way. (When an upstream response fails, answer 502.) */
#define HTTP_ERRORS(X)                                                                             \
    X(HTTP_EBADMSG, -1, "malformed HTTP message", 400)                                             \
    X(HTTP_EHEADTOOBIG, -2, "message head too large", 431)                                         \
    X(HTTP_ETOOMANYHEADERS, -3, "too many header fields", 431)                                     \
    X(HTTP_EBADTARGET, -4, "bad request target", 400)                                              \
    X(HTTP_EBADHOST, -5, "bad host name or address", 400)                                          \
    X(HTTP_EBADPORT, -6, "bad port", 400)                                                          \
    X(HTTP_EBADFRAMING, -7, "bad Content-Length or Transfer-Encoding", 400)                        \
    X(HTTP_EVERSION, -8, "unsupported HTTP version", 505)                                          \
    X(HTTP_ETRUNCATED, -9, "connection closed inside a message", 400)                              \
    X(HTTP_ECLOSED, -10, "data after the last message of the connection", 400)                     \
    X(HTTP_ENOMEM, -11, "out of memory", 500)                                                      \
    X(HTTP_EINVAL, -12, "invalid argument", 500)

enum http_error {
#define HTTP_ENUM(name, value, text, status) name = value,
    HTTP_ERRORS(HTTP_ENUM)
#undef HTTP_ENUM
};

/* A static string for err (0 is "success"); never NULL. */
const char *http_strerror(int err);
/* The status code to answer a client whose request failed with err (400 for
 * unknown codes). */
int http_error_status(int err);
/* The reason phrase for a status code ("Bad Gateway"); static, never NULL. */
const char *http_status_reason(int status);

/* ---- growable output buffer -------------------------------------------- */

/* Zero-initialise (struct http_buf b = {0}) to get an empty buffer. The owner
 * calls http_buf_free(). data is NUL-terminated after every successful append
 * (the NUL is not counted in len); data is NULL while nothing was appended. */
struct http_buf {
    char *data;
    size_t len, cap;
};

/* Append n bytes of p (copied). 0, or HTTP_ENOMEM leaving b as it was. */
int http_buf_append(struct http_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string (copied). 0 or HTTP_ENOMEM. */
int http_buf_puts(struct http_buf *b, const char *s);
/* Append printf output. 0 or HTTP_ENOMEM (b unchanged). */
int http_buf_printf(struct http_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the contents, keep the memory. */
void http_buf_reset(struct http_buf *b);
/* Free the memory; b becomes empty and reusable. b == NULL is a no-op. */
void http_buf_free(struct http_buf *b);

/* ---- reading ------------------------------------------------------------ */

enum http_reader_kind { HTTP_READER_REQUEST, HTTP_READER_RESPONSE };

/* How a request target was written (RFC 9112 §3.2). */
enum http_target_kind {
    HTTP_TARGET_CONNECT,  /* authority-form: CONNECT host:port */
    HTTP_TARGET_ABSOLUTE, /* absolute-form: GET http://host[:port]/path — proxy it */
    HTTP_TARGET_ORIGIN,   /* origin-form (/path, or * for OPTIONS): a request to daneguard itself */
};

/* How the body of a message is delimited. */
enum http_framing {
    HTTP_FRAMING_NONE,    /* no body */
    HTTP_FRAMING_LENGTH,  /* Content-Length bytes */
    HTTP_FRAMING_CHUNKED, /* chunked, passed through with its framing */
    HTTP_FRAMING_CLOSE,   /* responses only: until the upstream closes */
    HTTP_FRAMING_TUNNEL,  /* CONNECT, or an accepted Upgrade: what follows is not HTTP */
};

/* How a host was written. */
enum http_host_kind { HTTP_HOST_NAME, HTTP_HOST_IPV4, HTTP_HOST_IPV6 };

struct http_header {
    const char *name;  /* NUL-terminated, as sent */
    const char *value; /* NUL-terminated, surrounding whitespace removed */
    int hop_by_hop;    /* 1: connection-specific, not forwarded (RFC 9110 §7.6.1) */
};

/* A parsed message head. Every pointer points into the reader that produced it
 * and stays valid until the next http_reader_feed() after the END event of this
 * message (or http_reader_free()). Nothing here is to be freed. */
struct http_head {
    int version_major, version_minor; /* 1.0 or 1.1 */
    const struct http_header *headers;
    size_t n_headers;
    enum http_framing framing;
    uint64_t content_length; /* HTTP_FRAMING_LENGTH only */
    int keep_alive;          /* 1: another message may follow on this connection */
    int websocket;           /* Upgrade: websocket with Connection: upgrade (request) or a
                                101 answer (response) */

    /* requests */
    int method;              /* enum http_method of <http_parser.h> (HTTP_GET, HTTP_CONNECT...) */
    const char *method_name; /* "GET"; static */
    const char *target;      /* the request-target as sent */
    enum http_target_kind kind;
    const char *host; /* lower-cased, without brackets; NULL for origin-form
                         without a usable Host header */
    enum http_host_kind host_kind;
    uint16_t port;       /* CONNECT: given; absolute: given or 80; origin: Host's or 80 */
    const char *path;    /* absolute/origin: origin-form to send upstream ("/p?q");
                            the fragment is dropped. NULL for CONNECT */
    int expect_continue; /* Expect: 100-continue */

    /* responses */
    int status;         /* 200 */
    const char *reason; /* "OK", as sent */
};

/* What one http_reader_feed() call found. */
enum http_event {
    HTTP_EV_NEED_MORE, /* all input consumed into a head still incomplete; feed more */
    HTTP_EV_HEAD,      /* a head is complete: http_reader_head() is valid. The consumed
                          bytes end exactly at the head's last LF */
    HTTP_EV_BODY,      /* the consumed bytes are raw body bytes to forward; more follow */
    HTTP_EV_END,       /* the message is complete; the consumed bytes (maybe 0) are the
                          last raw body bytes. See http_reader_state() for what follows */
};

/* What the reader accepts after an END event. */
enum http_reader_state {
    HTTP_READER_READY,  /* another message may follow (keep-alive) */
    HTTP_READER_TUNNEL, /* CONNECT or Upgrade: the rest of the stream is not HTTP; the
                           caller relays it. feed() returns HTTP_ECLOSED */
    HTTP_READER_DONE,   /* the last message of the connection (Connection: close, HTTP/1.0
                           without keep-alive, close-delimited response) */
    HTTP_READER_FAILED, /* a feed() failed; every further feed() fails the same way */
};

struct http_limits {
    size_t max_head;    /* 0: HTTP_DEFAULT_MAX_HEAD (requests) or
                           HTTP_DEFAULT_MAX_RESPONSE_HEAD (responses) */
    size_t max_headers; /* 0: HTTP_DEFAULT_MAX_HEADERS */
};

struct http_reader;

/* A reader for one connection. limits NULL means the defaults. Returns NULL when
 * out of memory. The caller owns it and frees it with http_reader_free(). */
struct http_reader *http_reader_new(enum http_reader_kind kind, const struct http_limits *limits);
/* Free r and everything its heads point to. NULL is a no-op. */
void http_reader_free(struct http_reader *r);

/* Feed input. Consumes a prefix of data (at most one event's worth) and sets
 * *consumed and *ev; call again with the rest. Input may be split anywhere,
 * one byte at a time included. Head bytes are copied into the reader; body
 * bytes are not, the BODY/END event refers to data[0..*consumed).
 *
 * Returns 0, or a negative HTTP_E* code: the message is unusable, answer the
 * client with http_error_status() (or 502 for a response reader) and close.
 * Errors are sticky. A head that breaks a limit fails with HTTP_EHEADTOOBIG or
 * HTTP_ETOOMANYHEADERS; a request with a bad target with HTTP_EBADTARGET,
 * HTTP_EBADHOST or HTTP_EBADPORT (so no HEAD event is seen for it).
 * After END with state TUNNEL or DONE, further input fails with HTTP_ECLOSED. */
int http_reader_feed(struct http_reader *r, const char *data, size_t len, size_t *consumed,
                     enum http_event *ev);

/* The peer closed its side. Returns 0 and *ev = HTTP_EV_END when this ends a
 * close-delimited response, 0 and *ev = HTTP_EV_NEED_MORE when no message was
 * under way, HTTP_ETRUNCATED when a message was cut short. */
int http_reader_finish(struct http_reader *r, enum http_event *ev);

/* The head of the message being read, after its HEAD event; NULL before it. */
const struct http_head *http_reader_head(const struct http_reader *r);

enum http_reader_state http_reader_state(const struct http_reader *r);

/* Response readers only: the method of the request the next responses answer
 * (HEAD responses have no body; a 2xx to CONNECT is a tunnel). Stays in effect
 * until changed; with pipelining, set it after each final response's END. The
 * default is HTTP_GET. Interim 1xx responses are read as messages of their own
 * with framing NONE; the final response follows. */
void http_reader_set_request_method(struct http_reader *r, int method);

/* Validate an authority "host:port" ("[v6]:port" for IPv6) as CONNECT takes it.
 * On success writes the lower-cased host without brackets into host (at least
 * HTTP_MAX_HOST + 1 bytes), sets *kind and *port and returns 0; else
 * HTTP_EBADHOST or HTTP_EBADPORT. With default_port > 0 the ":port" may be
 * left out (as in a Host header). */
int http_authority_parse(const char *s, size_t len, int default_port, char *host,
                         enum http_host_kind *kind, uint16_t *port);

/* ---- writing ------------------------------------------------------------ */

#define HTTP_CONNECT_ESTABLISHED "HTTP/1.1 200 Connection established\r\n\r\n"

/* The head to send upstream for an absolute-form request: "METHOD path
 * HTTP/1.x", Host set from the URI, hop-by-hop headers removed, Upgrade and
 * Connection: Upgrade kept for WebSocket, Transfer-Encoding and Content-Length
 * kept (the body is passed through as read). Appends to out. 0, HTTP_EINVAL
 * (not an absolute-form request head) or HTTP_ENOMEM. */
int http_request_write_upstream(const struct http_head *req, struct http_buf *out);

/* The head to send a client for an upstream response: the status line, the
 * response's end-to-end headers, and "Connection: close" unless keep_alive
 * (pass 0 when the client or the response does not keep the connection alive).
 * client_minor is the client's HTTP/1.x minor version. 0, HTTP_EINVAL or
 * HTTP_ENOMEM. */
int http_response_write_downstream(const struct http_head *resp, int client_minor, int keep_alive,
                                   struct http_buf *out);

/* Status line and headers of a response of our own, ending with the blank
 * line: Content-Type (unless NULL), Content-Length: body_len, Cache-Control:
 * no-store, Connection: keep-alive or close, and extra_headers (NULL, or
 * complete "Name: value\r\n" lines, copied as they are). 0 or HTTP_ENOMEM. */
int http_write_response(struct http_buf *out, int status, const char *content_type, size_t body_len,
                        const char *extra_headers, int keep_alive);

/* A complete small error response (400, 403, 405, 431, 502, 504, ...) with a
 * text/plain body: the status line's text and detail (NULL for none; control
 * characters other than newline are replaced). 405 carries "Allow: GET, HEAD".
 * 0 or HTTP_ENOMEM. */
int http_write_error(struct http_buf *out, int status, const char *detail, int keep_alive);

#endif
