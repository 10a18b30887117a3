/* proxy/http_reader.c — the HTTP/1.x reader of the proxy front end, sans I/O
 * (see include/http.h).
 *
 * It drives http_parser and pauses it at the two points a proxy must stop: the
 * end of a head (to decide what to do with the message) and the end of a
 * message (so that a pipelined next request is not swallowed). Bodies are not
 * decoded, only delimited: the caller forwards the raw bytes. Heads are
 * checked and classified here (hop-by-hop headers marked, the request target's
 * form); http.c holds the buffers, the authority parser and the writers.
 */
#include "http.h"

#include <ctype.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum phase { PHASE_IDLE, PHASE_HEAD, PHASE_BODY, PHASE_AFTER };

struct hdr_offsets {
    size_t name, value; /* offsets in the arena; value SIZE_MAX while absent */
};

enum last_cb { CB_NONE, CB_URL, CB_STATUS, CB_FIELD, CB_VALUE };

struct http_reader {
    http_parser parser;
    http_parser_settings settings;
    enum http_reader_kind kind;
    enum http_reader_state state;
    enum phase phase;
    int err;              /* sticky */
    int cb_err;           /* set by a callback that fails */
    int paused_at_head;   /* the parser stopped before the head's last LF */
    int complete_pending; /* the message ended with its head */
    int complete;         /* message_complete was called */
    int request_method;   /* response readers */
    size_t max_head, max_headers;
    size_t head_bytes;

    char *arena;
    size_t arena_len, arena_cap;
    int string_open;
    enum last_cb last;
    size_t url_off, reason_off;
    struct hdr_offsets *offs;
    struct http_header *headers;
    size_t n_headers;
    int have_head;
    struct http_head head;
};

static int arena_append(struct http_reader *r, const char *p, size_t n, int fold)
{
    if (r->arena_len + n + 1 > r->arena_cap) {
        r->cb_err = HTTP_EHEADTOOBIG;
        return -1;
    }
    char *dst = r->arena + r->arena_len;
    for (size_t i = 0; i < n; i++)
        dst[i] = (fold && (p[i] == '\r' || p[i] == '\n')) ? ' ' : p[i];
    r->arena_len += n;
    r->string_open = 1;
    return 0;
}

static int arena_end_string(struct http_reader *r)
{
    if (!r->string_open)
        return 0;
    if (r->arena_len + 1 > r->arena_cap) {
        r->cb_err = HTTP_EHEADTOOBIG;
        return -1;
    }
    r->arena[r->arena_len++] = '\0';
    r->string_open = 0;
    return 0;
}

/* Start a new string: returns its offset, or SIZE_MAX with cb_err set. */
static size_t arena_begin(struct http_reader *r)
{
    if (arena_end_string(r) != 0)
        return SIZE_MAX;
    return r->arena_len;
}

/* Copy s (len bytes) as a new string; returns a pointer into the arena or NULL. */
static char *arena_strndup(struct http_reader *r, const char *s, size_t len)
{
    size_t off = arena_begin(r);
    if (off == SIZE_MAX || arena_append(r, s, len, 0) != 0 || arena_end_string(r) != 0)
        return NULL;
    return r->arena + off;
}

static int on_message_begin(http_parser *p)
{
    (void)p;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = p->data;
    if (r->last != CB_URL) {
        if ((r->url_off = arena_begin(r)) == SIZE_MAX)
            return -1;
        r->last = CB_URL;
        r->string_open = 1;
    }
    return arena_append(r, at, len, 0);
}

static int on_status(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = p->data;
    if (r->last != CB_STATUS) {
        if ((r->reason_off = arena_begin(r)) == SIZE_MAX)
            return -1;
        r->last = CB_STATUS;
        r->string_open = 1;
    }
    return arena_append(r, at, len, 0);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = p->data;
    if (r->last != CB_FIELD) {
        if (r->n_headers == r->max_headers) {
            r->cb_err = HTTP_ETOOMANYHEADERS;
            return -1;
        }
        size_t off = arena_begin(r);
        if (off == SIZE_MAX)
            return -1;
        r->offs[r->n_headers].name = off;
        r->offs[r->n_headers].value = SIZE_MAX;
        r->n_headers++;
        r->last = CB_FIELD;
        r->string_open = 1;
    }
    return arena_append(r, at, len, 0);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = p->data;
    if (r->n_headers == 0) {
        r->cb_err = HTTP_EBADMSG;
        return -1;
    }
    if (r->last != CB_VALUE) {
        size_t off = arena_begin(r);
        if (off == SIZE_MAX)
            return -1;
        r->offs[r->n_headers - 1].value = off;
        r->last = CB_VALUE;
        r->string_open = 1;
    }
    return arena_append(r, at, len, 1); /* obs-fold becomes spaces */
}

/* Does the comma-separated list in value hold token (case-insensitive)? */
static int list_has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *s = value;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == tl && strncasecmp(s, token, tl) == 0)
            return 1;
        s = e;
    }
    return 0;
}

static const char *find_header(const struct http_reader *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* Trim surrounding whitespace in place; returns the new start. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int is_always_hop(const char *name, enum http_reader_kind kind)
{
    static const char *const hop[] = {
        "connection", "proxy-connection", "keep-alive", "proxy-authorization",
        "te",         "trailer",          "upgrade"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (strcasecmp(name, hop[i]) == 0)
            return 1;
    return kind == HTTP_READER_RESPONSE && strcasecmp(name, "proxy-authenticate") == 0;
}

/* Mark the headers that Connection names as hop-by-hop. Framing headers stay
 * whatever Connection says: the body is passed through as it was framed. */
static void mark_connection_tokens(struct http_reader *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, "connection") != 0)
            continue;
        for (size_t j = 0; j < r->n_headers; j++) {
            const char *n = r->headers[j].name;
            if (strcasecmp(n, "content-length") == 0 || strcasecmp(n, "transfer-encoding") == 0 ||
                strcasecmp(n, "host") == 0)
                continue;
            if (list_has_token(r->headers[i].value, n))
                r->headers[j].hop_by_hop = 1;
        }
    }
}

static int classify_target(struct http_reader *r, struct http_head *h)
{
    char host[HTTP_MAX_HOST + 2];
    const char *t = h->target;
    size_t tl = strlen(t);
    int rc;

    if (h->method == HTTP_CONNECT) {
        h->kind = HTTP_TARGET_CONNECT;
        if ((rc = http_authority_parse(t, tl, 0, host, &h->host_kind, &h->port)) != 0)
            return rc;
        h->path = NULL;
    } else if (t[0] == '/' || (t[0] == '*' && t[1] == '\0' && h->method == HTTP_OPTIONS)) {
        h->kind = HTTP_TARGET_ORIGIN;
        size_t pl = strcspn(t, "#");
        if (!(h->path = arena_strndup(r, t, pl)))
            return r->cb_err;
        const char *hv = find_header(r, "host");
        h->port = 80;
        if (!hv || http_authority_parse(hv, strlen(hv), 80, host, &h->host_kind, &h->port) != 0) {
            h->host = NULL;
            h->host_kind = HTTP_HOST_NAME;
            h->port = 80;
            return 0;
        }
    } else if (tl > 7 && strncasecmp(t, "http://", 7) == 0) {
        h->kind = HTTP_TARGET_ABSOLUTE;
        const char *auth = t + 7;
        size_t al = strcspn(auth, "/?#");
        if (memchr(auth, '@', al))
            return HTTP_EBADTARGET; /* no credentials in a proxied URI */
        if ((rc = http_authority_parse(auth, al, 80, host, &h->host_kind, &h->port)) != 0)
            return rc;
        const char *rest = auth + al;
        size_t pl = strcspn(rest, "#");
        size_t off = arena_begin(r);
        if (off == SIZE_MAX)
            return r->cb_err;
        if ((pl == 0 || rest[0] != '/') && arena_append(r, "/", 1, 0) != 0)
            return r->cb_err;
        r->string_open = 1;
        if (arena_append(r, rest, pl, 0) != 0 || arena_end_string(r) != 0)
            return r->cb_err;
        h->path = r->arena + off;
    } else {
        return HTTP_EBADTARGET;
    }
    if (!(h->host = arena_strndup(r, host, strlen(host))))
        return r->cb_err;
    return 0;
}

static int response_has_no_body(const struct http_reader *r, int status)
{
    return r->request_method == HTTP_HEAD || (status >= 100 && status < 200) || status == 204 ||
           status == 304;
}

static int on_headers_complete(http_parser *p)
{
    struct http_reader *r = p->data;
    struct http_head *h = &r->head;
    int skip = 0;

    if (arena_end_string(r) != 0)
        return -1;
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < r->n_headers; i++) {
        struct http_header *hd = &r->headers[i];
        hd->name = r->arena + r->offs[i].name;
        hd->value = r->offs[i].value == SIZE_MAX ? "" : trim(r->arena + r->offs[i].value);
        hd->hop_by_hop = is_always_hop(hd->name, r->kind);
    }
    mark_connection_tokens(r);
    h->headers = r->headers;
    h->n_headers = r->n_headers;
    h->version_major = p->http_major;
    /* RFC 9110 §2.5: a higher minor version is handled as the highest we speak. */
    h->version_minor = p->http_minor > 1 ? 1 : p->http_minor;
    if (p->http_major != 1) {
        r->cb_err = HTTP_EVERSION;
        return -1;
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        const struct http_header *hd = &r->headers[i];
        /* A field line that starts with white space is obsolete line folding
         * (RFC 9112 §5.2) or garbage: forwarded, the next hop would read it as
         * part of the previous field (a Host of its own choosing). */
        if (!hd->name[0] || hd->name[0] == ' ' || hd->name[0] == '\t') {
            r->cb_err = HTTP_EBADMSG;
            return -1;
        }
        /* Transfer-Encoding that http_parser did not read as chunked while its
         * trimmed value says chunked: we and the next hop would disagree on
         * where the body ends. */
        if (strcasecmp(hd->name, "transfer-encoding") == 0 &&
            list_has_token(hd->value, "chunked") && !(p->flags & F_CHUNKED)) {
            r->cb_err = HTTP_EBADFRAMING;
            return -1;
        }
    }
    if (r->kind == HTTP_READER_RESPONSE && (p->status_code < 100 || p->status_code > 999)) {
        r->cb_err = HTTP_EBADMSG;
        return -1;
    }
    const char *conn = find_header(r, "connection");
    const char *upg = find_header(r, "upgrade");
    int conn_upgrade = conn && list_has_token(conn, "upgrade");
    int ka = p->http_minor >= 1 ? !(p->flags & F_CONNECTION_CLOSE)
                                : !!(p->flags & F_CONNECTION_KEEP_ALIVE);

    if (p->uses_transfer_encoding && !(p->flags & F_CHUNKED) && r->kind == HTTP_READER_REQUEST) {
        r->cb_err = HTTP_EBADFRAMING;
        return -1;
    }

    if (r->kind == HTTP_READER_REQUEST) {
        h->method = p->method;
        h->method_name = http_method_str((enum http_method)p->method);
        if (r->url_off == SIZE_MAX) {
            r->cb_err = HTTP_EBADTARGET;
            return -1;
        }
        h->target = r->arena + r->url_off;
        int rc = classify_target(r, h);
        if (rc != 0) {
            r->cb_err = rc;
            return -1;
        }
        const char *exp = find_header(r, "expect");
        h->expect_continue = exp && strcasecmp(exp, "100-continue") == 0;
        h->websocket =
            h->method == HTTP_GET && conn_upgrade && upg && list_has_token(upg, "websocket");
        if (h->method == HTTP_CONNECT) {
            h->framing = HTTP_FRAMING_TUNNEL;
            skip = 2;
        } else if (p->flags & F_CHUNKED) {
            h->framing = HTTP_FRAMING_CHUNKED;
        } else if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
            h->framing = HTTP_FRAMING_LENGTH;
            h->content_length = p->content_length;
        } else {
            h->framing = HTTP_FRAMING_NONE;
        }
    } else {
        h->status = p->status_code;
        h->reason = r->reason_off == SIZE_MAX ? "" : r->arena + r->reason_off;
        if (h->status == 101 || (r->request_method == HTTP_CONNECT && h->status / 100 == 2)) {
            h->framing = HTTP_FRAMING_TUNNEL;
            h->websocket =
                h->status == 101 && conn_upgrade && upg && list_has_token(upg, "websocket");
            skip = 2;
        } else if (response_has_no_body(r, h->status)) {
            h->framing = HTTP_FRAMING_NONE;
            skip = 1;
        } else if (p->flags & F_CHUNKED) {
            h->framing = HTTP_FRAMING_CHUNKED;
        } else if (p->flags & F_CONTENTLENGTH) {
            h->framing = p->content_length > 0 ? HTTP_FRAMING_LENGTH : HTTP_FRAMING_NONE;
            h->content_length = p->content_length;
        } else {
            h->framing = HTTP_FRAMING_CLOSE;
            ka = 0;
        }
    }
    h->keep_alive = ka;
    r->have_head = 1;
    http_parser_pause(p, 1);
    return skip;
}

static int on_message_complete(http_parser *p)
{
    struct http_reader *r = p->data;
    r->complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static void reader_start_message(struct http_reader *r)
{
    r->arena_len = 0;
    r->string_open = 0;
    r->last = CB_NONE;
    r->url_off = r->reason_off = SIZE_MAX;
    r->n_headers = 0;
    r->have_head = 0;
    r->head_bytes = 0;
    r->complete = 0;
    r->complete_pending = 0;
    http_parser_init(&r->parser, r->kind == HTTP_READER_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE);
    r->parser.data = r;
}

struct http_reader *http_reader_new(enum http_reader_kind kind, const struct http_limits *limits)
{
    struct http_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->kind = kind;
    r->max_head = limits && limits->max_head     ? limits->max_head
                  : kind == HTTP_READER_RESPONSE ? HTTP_DEFAULT_MAX_RESPONSE_HEAD
                                                 : HTTP_DEFAULT_MAX_HEAD;
    r->max_headers = limits && limits->max_headers ? limits->max_headers : HTTP_DEFAULT_MAX_HEADERS;
    /* the head, a NUL per string, and room for the path and host built from it */
    r->arena_cap = 2 * r->max_head + 2 * r->max_headers + HTTP_MAX_HOST + 64;
    r->arena = malloc(r->arena_cap);
    r->offs = calloc(r->max_headers, sizeof *r->offs);
    r->headers = calloc(r->max_headers, sizeof *r->headers);
    if (!r->arena || !r->offs || !r->headers) {
        http_reader_free(r);
        return NULL;
    }
    http_parser_settings_init(&r->settings);
    r->settings.on_message_begin = on_message_begin;
    r->settings.on_url = on_url;
    r->settings.on_status = on_status;
    r->settings.on_header_field = on_header_field;
    r->settings.on_header_value = on_header_value;
    r->settings.on_headers_complete = on_headers_complete;
    r->settings.on_message_complete = on_message_complete;
    r->request_method = HTTP_GET;
    r->state = HTTP_READER_READY;
    r->phase = PHASE_IDLE;
    reader_start_message(r);
    return r;
}

void http_reader_free(struct http_reader *r)
{
    if (!r)
        return;
    free(r->headers);
    free(r->offs);
    free(r->arena);
    free(r);
}

const struct http_head *http_reader_head(const struct http_reader *r)
{
    return r->have_head ? &r->head : NULL;
}

enum http_reader_state http_reader_state(const struct http_reader *r)
{
    return r->state;
}

void http_reader_set_request_method(struct http_reader *r, int method)
{
    r->request_method = method;
}

static int fail(struct http_reader *r, int err)
{
    r->err = err;
    r->state = HTTP_READER_FAILED;
    return err;
}

static int map_parser_error(struct http_reader *r)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->cb_err)
        return r->cb_err;
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        return HTTP_EHEADTOOBIG;
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
    case HPE_INVALID_CHUNK_SIZE:
    case HPE_INVALID_TRANSFER_ENCODING:
        return HTTP_EBADFRAMING;
    case HPE_CLOSED_CONNECTION:
        return HTTP_ECLOSED;
    case HPE_INVALID_EOF_STATE:
        return HTTP_ETRUNCATED;
    default:
        return HTTP_EBADMSG;
    }
}

/* The message just ended: decide what may follow. */
static void reader_message_done(struct http_reader *r)
{
    const struct http_head *h = &r->head;
    r->phase = PHASE_AFTER;
    if (h->framing == HTTP_FRAMING_TUNNEL || (r->kind == HTTP_READER_REQUEST && h->websocket))
        r->state = HTTP_READER_TUNNEL;
    else if (!h->keep_alive)
        r->state = HTTP_READER_DONE;
    else
        r->state = HTTP_READER_READY;
}

/* Run the parser; returns bytes consumed or a negative error. A pause is not
 * an error: it is how the callbacks stop the parser at an event. */
static long run_parser(struct http_reader *r, const char *data, size_t len)
{
    size_t n = http_parser_execute(&r->parser, &r->settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&r->parser, 0);
        return (long)n;
    }
    if (e != HPE_OK)
        return map_parser_error(r);
    return (long)n;
}

int http_reader_feed(struct http_reader *r, const char *data, size_t len, size_t *consumed,
                     enum http_event *ev)
{
    *consumed = 0;
    *ev = HTTP_EV_NEED_MORE;
    if (r->err)
        return r->err;
    if (r->phase == PHASE_AFTER) {
        if (r->state != HTTP_READER_READY)
            return len ? fail(r, HTTP_ECLOSED) : 0;
        reader_start_message(r);
        r->phase = PHASE_IDLE;
    }
    if (r->complete_pending) {
        r->complete_pending = 0;
        reader_message_done(r);
        *ev = HTTP_EV_END;
        return 0;
    }
    if (len == 0) /* never hand the parser an empty chunk: that means EOF to it */
        return 0;

    if (r->phase == PHASE_IDLE || r->phase == PHASE_HEAD) {
        r->phase = PHASE_HEAD;
        size_t room = r->max_head - r->head_bytes + 1; /* one past the limit shows it broke */
        size_t n_in = len < room ? len : room;
        long n = run_parser(r, data, n_in);
        if (n < 0)
            return fail(r, (int)n);
        r->head_bytes += (size_t)n;
        if (!r->have_head) {
            if (r->head_bytes > r->max_head)
                return fail(r, HTTP_EHEADTOOBIG);
            if ((size_t)n != n_in) /* should not happen: the parser stops only at events */
                return fail(r, HTTP_EBADMSG);
            *consumed = (size_t)n;
            return 0;
        }
        /* Paused in on_headers_complete before the head's final LF: feed it, so the
         * head is consumed whole and a message without a body completes now. */
        size_t total = (size_t)n;
        if (total < len) {
            long m = run_parser(r, data + total, 1);
            if (m < 0)
                return fail(r, (int)m);
            total += (size_t)m;
            r->head_bytes += (size_t)m;
        }
        if (r->head_bytes > r->max_head)
            return fail(r, HTTP_EHEADTOOBIG);
        r->phase = PHASE_BODY;
        if (r->complete)
            r->complete_pending = 1;
        *consumed = total;
        *ev = HTTP_EV_HEAD;
        return 0;
    }

    /* PHASE_BODY */
    long n = run_parser(r, data, len);
    if (n < 0)
        return fail(r, (int)n);
    *consumed = (size_t)n;
    if (r->complete) {
        reader_message_done(r);
        *ev = HTTP_EV_END;
    } else {
        *ev = HTTP_EV_BODY;
    }
    return 0;
}

int http_reader_finish(struct http_reader *r, enum http_event *ev)
{
    *ev = HTTP_EV_NEED_MORE;
    if (r->err)
        return r->err;
    if (r->complete_pending) {
        r->complete_pending = 0;
        reader_message_done(r);
        *ev = HTTP_EV_END;
        return 0;
    }
    if (r->phase == PHASE_AFTER || r->phase == PHASE_IDLE)
        return 0;
    if (r->phase == PHASE_HEAD) {
        if (r->head_bytes > 0 && r->last != CB_NONE)
            return fail(r, HTTP_ETRUNCATED);
        return 0; /* only blank lines so far */
    }
    if (r->head.framing != HTTP_FRAMING_CLOSE)
        return fail(r, HTTP_ETRUNCATED);
    long n = run_parser(r, NULL, 0);
    if (n < 0)
        return fail(r, (int)n);
    if (!r->complete)
        return fail(r, HTTP_ETRUNCATED);
    reader_message_done(r);
    *ev = HTTP_EV_END;
    return 0;
}
