/* tests/unit/test_http.c — the proxy's HTTP reader and writers (proxy/http.c). */
#include "http.h"
#include "unit.h"

#include <http_parser.h>
#include <stdlib.h>

/* ---- a transcript of what a reader saw ------------------------------------ */

#define T_MAX_MSGS 8

struct t_msg {
    char method[16], target[512], host[260], path[512], reason[64];
    int kind, host_kind, port, framing, keep_alive, websocket, expect, status, minor;
    unsigned long long content_length;
    char upstream[2048]; /* the upstream head (absolute-form requests) */
    char body[4096];
    size_t body_len;
    int ended;
};

struct t_run {
    struct t_msg msgs[T_MAX_MSGS];
    int n;
    int err;
    int state;
    char tunnel[256]; /* bytes left after a tunnel began */
    size_t tunnel_len;
};

static void t_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "(null)");
}

static void t_record_head(struct t_run *t, const struct http_head *h)
{
    if (t->n == T_MAX_MSGS)
        return;
    struct t_msg *m = &t->msgs[t->n++];
    memset(m, 0, sizeof *m);
    t_copy(m->method, sizeof m->method, h->method_name);
    t_copy(m->target, sizeof m->target, h->target);
    t_copy(m->host, sizeof m->host, h->host);
    t_copy(m->path, sizeof m->path, h->path);
    t_copy(m->reason, sizeof m->reason, h->reason);
    m->kind = h->kind;
    m->host_kind = h->host_kind;
    m->port = h->port;
    m->framing = h->framing;
    m->keep_alive = h->keep_alive;
    m->websocket = h->websocket;
    m->expect = h->expect_continue;
    m->status = h->status;
    m->minor = h->version_minor;
    m->content_length = h->content_length;
    if (h->kind == HTTP_TARGET_ABSOLUTE && h->method_name) {
        struct http_buf b = {0};
        if (http_request_write_upstream(h, &b) == 0)
            t_copy(m->upstream, sizeof m->upstream, b.data);
        http_buf_free(&b);
    }
}

/* Feed one slice; returns 0 or stops at an error (t->err). */
static void t_feed(struct http_reader *r, struct t_run *t, const char *p, size_t n)
{
    int guard = 0;
    while (!t->err && guard++ < 100000) {
        if (t->state == HTTP_READER_TUNNEL) {
            size_t room = sizeof t->tunnel - t->tunnel_len;
            size_t k = n < room ? n : room;
            memcpy(t->tunnel + t->tunnel_len, p, k);
            t->tunnel_len += k;
            return;
        }
        size_t c = 0;
        enum http_event ev;
        int rc = http_reader_feed(r, p, n, &c, &ev);
        if (rc != 0) {
            t->err = rc;
            return;
        }
        if (ev == HTTP_EV_HEAD)
            t_record_head(t, http_reader_head(r));
        if ((ev == HTTP_EV_BODY || ev == HTTP_EV_END) && t->n > 0) {
            struct t_msg *m = &t->msgs[t->n - 1];
            if (m->body_len + c < sizeof m->body) {
                memcpy(m->body + m->body_len, p, c);
                m->body_len += c;
            }
            if (ev == HTTP_EV_END) {
                m->ended++;
                t->state = http_reader_state(r);
            }
        }
        p += c;
        n -= c;
        if (n == 0 && (ev == HTTP_EV_NEED_MORE || ev == HTTP_EV_BODY))
            return;
    }
}

static void t_finish(struct http_reader *r, struct t_run *t)
{
    if (t->err)
        return;
    enum http_event ev;
    int rc = http_reader_finish(r, &ev);
    if (rc != 0) {
        t->err = rc;
        return;
    }
    if (ev == HTTP_EV_END && t->n > 0) {
        t->msgs[t->n - 1].ended++;
        t->state = http_reader_state(r);
    }
}

/* Read s whole, cut in two at split (or in slices of step bytes when step > 0). */
static void t_read(enum http_reader_kind kind, const char *s, size_t len, size_t split, size_t step,
                   int method, struct t_run *t)
{
    memset(t, 0, sizeof *t);
    struct http_reader *r = http_reader_new(kind, NULL);
    if (kind == HTTP_READER_RESPONSE)
        http_reader_set_request_method(r, method);
    if (step) {
        for (size_t i = 0; i < len && !t->err; i += step)
            t_feed(r, t, s + i, len - i < step ? len - i : step);
    } else {
        t_feed(r, t, s, split);
        t_feed(r, t, s + split, len - split);
    }
    t_feed(r, t, s + len, 0); /* give a pending END a chance */
    if (kind == HTTP_READER_RESPONSE)
        t_finish(r, t);
    http_reader_free(r);
}

static void t_req(const char *s, struct t_run *t)
{
    t_read(HTTP_READER_REQUEST, s, strlen(s), strlen(s), 0, 0, t);
}

static int t_same(const struct t_run *a, const struct t_run *b)
{
    if (a->n != b->n || a->err != b->err || a->tunnel_len != b->tunnel_len)
        return 0;
    if (memcmp(a->tunnel, b->tunnel, a->tunnel_len) != 0)
        return 0;
    for (int i = 0; i < a->n; i++) {
        const struct t_msg *x = &a->msgs[i], *y = &b->msgs[i];
        if (strcmp(x->target, y->target) || strcmp(x->upstream, y->upstream) ||
            x->body_len != y->body_len || memcmp(x->body, y->body, x->body_len) ||
            x->ended != y->ended || x->status != y->status || x->framing != y->framing ||
            x->keep_alive != y->keep_alive || strcmp(x->host, y->host) || strcmp(x->path, y->path))
            return 0;
    }
    return 1;
}

/* ---- CONNECT ----------------------------------------------------------------- */

static void test_connect_name(void)
{
    struct t_run t;
    const char *s = "CONNECT WWW.Example.COM.:443 HTTP/1.1\r\nHost: www.example.com:443\r\n"
                    "User-Agent: t\r\n\r\n\x16\x03\x01";
    t_req(s, &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.n, 1);
    CHECK_STR_EQ(t.msgs[0].method, "CONNECT");
    CHECK_INT_EQ(t.msgs[0].kind, HTTP_TARGET_CONNECT);
    CHECK_STR_EQ(t.msgs[0].host, "www.example.com");
    CHECK_INT_EQ(t.msgs[0].host_kind, HTTP_HOST_NAME);
    CHECK_INT_EQ(t.msgs[0].port, 443);
    CHECK_STR_EQ(t.msgs[0].path, "(null)");
    CHECK_INT_EQ(t.msgs[0].framing, HTTP_FRAMING_TUNNEL);
    CHECK_INT_EQ(t.msgs[0].ended, 1);
    CHECK_INT_EQ(t.state, HTTP_READER_TUNNEL);
    CHECK_INT_EQ(t.tunnel_len, 3);
    CHECK_MEM_EQ(t.tunnel, "\x16\x03\x01", 3);

    /* the same one byte at a time: the tunnel bytes are still left over exactly */
    struct t_run u;
    t_read(HTTP_READER_REQUEST, s, strlen(s), 0, 1, 0, &u);
    CHECK(t_same(&t, &u));
}

static void test_connect_ip_literals(void)
{
    struct t_run t;
    t_req("CONNECT 192.0.2.7:8443 HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_STR_EQ(t.msgs[0].host, "192.0.2.7");
    CHECK_INT_EQ(t.msgs[0].host_kind, HTTP_HOST_IPV4);
    CHECK_INT_EQ(t.msgs[0].port, 8443);

    t_req("CONNECT [2001:DB8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_STR_EQ(t.msgs[0].host, "2001:db8::1");
    CHECK_INT_EQ(t.msgs[0].host_kind, HTTP_HOST_IPV6);
    CHECK_INT_EQ(t.msgs[0].port, 443);

    t_req("CONNECT [::ffff:192.0.2.1]:65535 HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].port, 65535);
}

static void test_connect_bad(void)
{
    static const char *const bad[] = {
        "CONNECT example.com HTTP/1.1\r\n\r\n",          /* no port */
        "CONNECT example.com: HTTP/1.1\r\n\r\n",         /* empty port */
        "CONNECT example.com:0 HTTP/1.1\r\n\r\n",        /* port 0 */
        "CONNECT example.com:65536 HTTP/1.1\r\n\r\n",    /* port too big */
        "CONNECT example.com:443x HTTP/1.1\r\n\r\n",     /* junk after port */
        "CONNECT example.com:-1 HTTP/1.1\r\n\r\n",       /* negative */
        "CONNECT example.com:0443000 HTTP/1.1\r\n\r\n",  /* too many digits */
        "CONNECT 1.2.3.999:443 HTTP/1.1\r\n\r\n",        /* bad IPv4 */
        "CONNECT 1.2.3:443 HTTP/1.1\r\n\r\n",            /* short IPv4 */
        "CONNECT [::1:443 HTTP/1.1\r\n\r\n",             /* unclosed bracket */
        "CONNECT [zz::1]:443 HTTP/1.1\r\n\r\n",          /* not IPv6 */
        "CONNECT [::1]443 HTTP/1.1\r\n\r\n",             /* no colon after ] */
        "CONNECT ::1:443 HTTP/1.1\r\n\r\n",              /* IPv6 without brackets */
        "CONNECT -bad.example:443 HTTP/1.1\r\n\r\n",     /* label starts with - */
        "CONNECT bad-.example:443 HTTP/1.1\r\n\r\n",     /* label ends with - */
        "CONNECT a..example:443 HTTP/1.1\r\n\r\n",       /* empty label */
        "CONNECT user@example.com:443 HTTP/1.1\r\n\r\n", /* userinfo */
        "CONNECT exa%20mple.com:443 HTTP/1.1\r\n\r\n",   /* escapes */
        "CONNECT http://example.com/ HTTP/1.1\r\n\r\n",  /* absolute-form */
        "CONNECT :443 HTTP/1.1\r\n\r\n",                 /* no host */
        "CONNECT example.com:443 HTTP/1.1 junk\r\n\r\n", /* garbage request line */
        "CONNECT \x01\x02:443 HTTP/1.1\r\n\r\n",         /* control bytes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct t_run t;
        t_req(bad[i], &t);
        if (t.err == 0 || http_error_status(t.err) != 400)
            fprintf(stderr, "  case %zu: %s -> %d (%s)\n", i, bad[i], t.err, http_strerror(t.err));
        CHECK(t.err != 0);
        CHECK_INT_EQ(http_error_status(t.err), 400);
        CHECK_INT_EQ(t.n, 0);
    }
    /* a 64-character label, and a name longer than 253 */
    char s[600];
    char label[65];
    memset(label, 'a', 64);
    label[64] = '\0';
    snprintf(s, sizeof s, "CONNECT %s.example:443 HTTP/1.1\r\n\r\n", label);
    struct t_run t;
    t_req(s, &t);
    CHECK_INT_EQ(t.err, HTTP_EBADHOST);
    label[63] = '\0';
    snprintf(s, sizeof s, "CONNECT %s.%s.%s.%s.x:443 HTTP/1.1\r\n\r\n", label, label, label, label);
    t_req(s, &t);
    CHECK_INT_EQ(t.err, HTTP_EBADHOST);
    snprintf(s, sizeof s, "CONNECT %s.%s.%s.%.61s:443 HTTP/1.1\r\n\r\n", label, label, label,
             label);
    t_req(s, &t); /* exactly 253 */
    CHECK_INT_EQ(t.err, 0);
}

static void test_authority_parse(void)
{
    char host[HTTP_MAX_HOST + 1];
    enum http_host_kind k;
    uint16_t port = 0;
    CHECK_INT_EQ(http_authority_parse("Example.org", 11, 80, host, &k, &port), 0);
    CHECK_STR_EQ(host, "example.org");
    CHECK_INT_EQ(port, 80);
    CHECK_INT_EQ(http_authority_parse("example.org", 11, 0, host, &k, &port), HTTP_EBADPORT);
    CHECK_INT_EQ(http_authority_parse("_dmarc.example.org:1", 20, 0, host, &k, &port), 0);
    CHECK_INT_EQ(port, 1);
    CHECK_INT_EQ(http_authority_parse("[fe80::1%eth0]:443", 18, 0, host, &k, &port), HTTP_EBADHOST);
    CHECK_INT_EQ(http_authority_parse("", 0, 80, host, &k, &port), HTTP_EBADHOST);
    CHECK_INT_EQ(http_authority_parse("a\0b:1", 5, 0, host, &k, &port), HTTP_EBADHOST);
}

/* Regressions for what fuzzing found (inputs in tests/fuzz/regressions/http/). */
static void test_fuzz_regressions(void)
{
    struct t_run t;
    char host[HTTP_MAX_HOST + 1], name[300];
    enum http_host_kind k;
    uint16_t port = 0;

    /* a 254-byte host wrote one byte past a HTTP_MAX_HOST + 1 buffer */
    memset(name, 'a', 254);
    for (int i = 63; i < 254; i += 64)
        name[i] = '.'; /* labels of 63 */
    memcpy(name + 254, ":443", 5);
    CHECK_INT_EQ(http_authority_parse(name, 258, 0, host, &k, &port), HTTP_EBADHOST);
    memcpy(name + 253, ":443", 5);
    CHECK_INT_EQ(http_authority_parse(name, 257, 0, host, &k, &port), 0);
    CHECK_INT_EQ(strlen(host), 253);

    /* a field line starting with white space would become a fold of Host */
    t_req("GET http://a.example/ HTTP/1.1\r\n Host: b.example\r\nHost: a.example\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, HTTP_EBADMSG);

    /* "chunked<TAB>" read as close-delimited but forwarded as chunked */
    const char *te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\t\r\n\r\n0\r\n\r\n";
    t_read(HTTP_READER_RESPONSE, te, strlen(te), strlen(te), 0, HTTP_GET, &t);
    CHECK_INT_EQ(t.err, HTTP_EBADFRAMING);

    /* status codes below 100 */
    const char *st = "HTTP/1.1 00 OK\r\nContent-Length: 0\r\n\r\n";
    t_read(HTTP_READER_RESPONSE, st, strlen(st), strlen(st), 0, HTTP_GET, &t);
    CHECK_INT_EQ(t.err, HTTP_EBADMSG);

    /* HTTP/1.2 is handled as 1.1 (RFC 9110 §2.5) */
    t_req("GET http://a.example/ HTTP/1.2\r\nHost: a.example\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.n, 1);
    CHECK_INT_EQ(t.msgs[0].minor, 1);
}

/* ---- absolute-form and origin-form ------------------------------------------- */

static void test_absolute_uri(void)
{
    struct t_run t;
    t_req("GET http://Example.COM:8080/a/b?x=1&y=%20#frag HTTP/1.1\r\nHost: example.com:8080\r\n"
          "Accept: */*\r\n\r\n",
          &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].kind, HTTP_TARGET_ABSOLUTE);
    CHECK_STR_EQ(t.msgs[0].host, "example.com");
    CHECK_INT_EQ(t.msgs[0].port, 8080);
    CHECK_STR_EQ(t.msgs[0].path, "/a/b?x=1&y=%20");
    CHECK_INT_EQ(t.msgs[0].framing, HTTP_FRAMING_NONE);
    CHECK_INT_EQ(t.msgs[0].ended, 1);
    CHECK_STR_EQ(t.msgs[0].upstream, "GET /a/b?x=1&y=%20 HTTP/1.1\r\n"
                                     "Host: example.com:8080\r\n"
                                     "Accept: */*\r\n\r\n");

    t_req("GET http://example.com?q=1 HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_STR_EQ(t.msgs[0].path, "/?q=1");
    CHECK_INT_EQ(t.msgs[0].port, 80);
    CHECK_STR_EQ(t.msgs[0].upstream, "GET /?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");

    t_req("HEAD http://[2001:db8::2]:81 HTTP/1.1\r\nHost: evil.example\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_STR_EQ(t.msgs[0].path, "/");
    CHECK_STR_EQ(t.msgs[0].host, "2001:db8::2");
    CHECK_STR_EQ(t.msgs[0].upstream, "HEAD / HTTP/1.1\r\nHost: [2001:db8::2]:81\r\n\r\n");

    /* methods http_parser knows are forwarded whatever they are */
    t_req("PROPFIND http://example.com/d/ HTTP/1.1\r\nDepth: 1\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_STR_EQ(t.msgs[0].upstream,
                 "PROPFIND /d/ HTTP/1.1\r\nHost: example.com\r\nDepth: 1\r\n\r\n");

    t_req("GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(http_error_status(t.err), 400);
    t_req("GET ftp://example.com/ HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(http_error_status(t.err), 400);
    t_req("GET http://exa_mple..com/ HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, HTTP_EBADHOST);
    t_req("GET http://example.com:99999/ HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(http_error_status(t.err), 400);
}

static void test_origin_form(void)
{
    struct t_run t;
    t_req("GET /ca.crt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].kind, HTTP_TARGET_ORIGIN);
    CHECK_STR_EQ(t.msgs[0].host, "127.0.0.1");
    CHECK_INT_EQ(t.msgs[0].port, 8080);
    CHECK_STR_EQ(t.msgs[0].path, "/ca.crt");
    CHECK_STR_EQ(t.msgs[0].upstream, ""); /* nothing to send upstream */

    t_req("GET /status?format=json HTTP/1.0\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_STR_EQ(t.msgs[0].host, "(null)");
    CHECK_STR_EQ(t.msgs[0].path, "/status?format=json");
    CHECK_INT_EQ(t.msgs[0].keep_alive, 0);

    t_req("OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_STR_EQ(t.msgs[0].path, "*");

    /* a request-target that is none of the three forms */
    t_req("GET example.com/x HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(http_error_status(t.err), 400);
}

static void test_hop_by_hop(void)
{
    struct t_run t;
    t_req("GET http://example.com/x HTTP/1.1\r\n"
          "Host: other.example\r\n"
          "Connection: keep-alive, X-Secret, Content-Length\r\n"
          "X-Secret: s\r\n"
          "Proxy-Connection: keep-alive\r\n"
          "Keep-Alive: timeout=5\r\n"
          "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
          "TE: trailers\r\n"
          "Trailer: X-T\r\n"
          "Upgrade: h2c\r\n"
          "Cookie: a=b\r\n"
          "X-Folded: one\r\n two\r\n"
          "Content-Length: 2\r\n"
          "\r\nhi",
          &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].websocket, 0);
    CHECK_STR_EQ(t.msgs[0].upstream, "GET /x HTTP/1.1\r\n"
                                     "Host: example.com\r\n"
                                     "Cookie: a=b\r\n"
                                     "X-Folded: one two\r\n"
                                     "Content-Length: 2\r\n\r\n");
    CHECK_INT_EQ(t.msgs[0].body_len, 2);
    CHECK_INT_EQ(t.state, HTTP_READER_READY); /* h2c upgrade is dropped, HTTP goes on */

    /* Transfer-Encoding: chunked is kept: the body is passed through as framed */
    t_req("POST http://example.com/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_STR_EQ(t.msgs[0].upstream, "POST / HTTP/1.1\r\nHost: example.com\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n");
}

static void test_websocket(void)
{
    struct t_run t;
    t_req("GET http://example.com/ws HTTP/1.1\r\nHost: example.com\r\n"
          "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].websocket, 1);
    CHECK_STR_EQ(t.msgs[0].upstream, "GET /ws HTTP/1.1\r\nHost: example.com\r\n"
                                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                     "Sec-WebSocket-Version: 13\r\n"
                                     "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    CHECK_INT_EQ(t.state, HTTP_READER_TUNNEL);
}

static void test_keep_alive_rules(void)
{
    struct t_run t;
    t_req("GET http://a.example/ HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(t.msgs[0].keep_alive, 1);
    CHECK_INT_EQ(t.state, HTTP_READER_READY);

    t_req("GET http://a.example/ HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n", &t);
    CHECK_INT_EQ(t.msgs[0].keep_alive, 0);
    CHECK_INT_EQ(t.msgs[0].ended, 1);
    CHECK_INT_EQ(t.n, 1);
    CHECK_INT_EQ(t.err, HTTP_ECLOSED); /* nothing may follow a Connection: close request */

    t_req("GET http://a.example/ HTTP/1.0\r\n\r\n", &t);
    CHECK_INT_EQ(t.msgs[0].keep_alive, 0);
    CHECK_INT_EQ(t.msgs[0].minor, 0);
    CHECK_INT_EQ(t.state, HTTP_READER_DONE);
    CHECK_STR_EQ(t.msgs[0].upstream, "GET / HTTP/1.0\r\nHost: a.example\r\n\r\n");

    t_req("GET http://a.example/ HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &t);
    CHECK_INT_EQ(t.msgs[0].keep_alive, 1);
    CHECK_STR_EQ(t.msgs[0].upstream,
                 "GET / HTTP/1.0\r\nHost: a.example\r\nConnection: keep-alive\r\n\r\n");

    t_req("GET http://a.example/ HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n", &t);
    CHECK_INT_EQ(t.msgs[0].keep_alive, 1);
    t_req("GET http://a.example/ HTTP/1.1\r\nProxy-Connection: close\r\n\r\n", &t);
    CHECK_INT_EQ(t.msgs[0].keep_alive, 0);
}

static void test_expect_continue(void)
{
    struct t_run t;
    t_req("PUT http://a.example/f HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc",
          &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].expect, 1);
    CHECK_INT_EQ(t.msgs[0].framing, HTTP_FRAMING_LENGTH);
    CHECK_INT_EQ(t.msgs[0].content_length, 3);
    CHECK_INT_EQ(t.msgs[0].body_len, 3);
    CHECK_STR_EQ(t.msgs[0].upstream,
                 "PUT /f HTTP/1.1\r\nHost: a.example\r\nExpect: 100-Continue\r\n"
                 "Content-Length: 3\r\n\r\n");
}

/* Pipelined requests: every way of cutting the stream in two gives the same
 * messages, bodies and boundaries as reading it whole and one byte at a time. */
static const char pipeline[] =
    "GET http://a.example/one HTTP/1.1\r\nHost: a.example\r\n\r\n"
    "POST http://a.example/two HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
    "POST http://b.example:8000/three HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
    "\r\n" /* a stray CRLF between requests, which clients send after a body */
    "DELETE http://a.example/four HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
    "GET http://a.example/five HTTP/1.1\r\nConnection: close\r\n\r\n";

static void check_pipeline_run(const struct t_run *t)
{
    CHECK_INT_EQ(t->err, 0);
    CHECK_INT_EQ(t->n, 5);
    CHECK_STR_EQ(t->msgs[0].path, "/one");
    CHECK_INT_EQ(t->msgs[0].body_len, 0);
    CHECK_STR_EQ(t->msgs[1].path, "/two");
    CHECK_INT_EQ(t->msgs[1].body_len, 5);
    CHECK_MEM_EQ(t->msgs[1].body, "hello", 5);
    CHECK_STR_EQ(t->msgs[2].path, "/three");
    CHECK_INT_EQ(t->msgs[2].framing, HTTP_FRAMING_CHUNKED);
    const char *chunked = "4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n";
    CHECK_INT_EQ(t->msgs[2].body_len, strlen(chunked));
    CHECK_MEM_EQ(t->msgs[2].body, chunked, strlen(chunked));
    CHECK_STR_EQ(t->msgs[3].method, "DELETE");
    CHECK_INT_EQ(t->msgs[3].framing, HTTP_FRAMING_NONE);
    CHECK_STR_EQ(t->msgs[4].path, "/five");
    for (int i = 0; i < t->n; i++)
        CHECK_INT_EQ(t->msgs[i].ended, 1);
    CHECK_INT_EQ(t->state, HTTP_READER_DONE);
}

static void test_pipeline_every_split(void)
{
    size_t len = sizeof pipeline - 1;
    struct t_run whole, one, cut;
    t_read(HTTP_READER_REQUEST, pipeline, len, len, 0, 0, &whole);
    check_pipeline_run(&whole);
    t_read(HTTP_READER_REQUEST, pipeline, len, 0, 1, 0, &one);
    check_pipeline_run(&one);
    CHECK(t_same(&whole, &one));
    int mismatches = 0;
    for (size_t k = 0; k <= len; k++) {
        t_read(HTTP_READER_REQUEST, pipeline, len, k, 0, 0, &cut);
        if (!t_same(&whole, &cut)) {
            if (mismatches++ < 3)
                fprintf(stderr, "  split at %zu differs (err %d, n %d)\n", k, cut.err, cut.n);
        }
    }
    CHECK_INT_EQ(mismatches, 0);
    for (size_t step = 2; step < 9; step++) {
        t_read(HTTP_READER_REQUEST, pipeline, len, 0, step, 0, &cut);
        CHECK(t_same(&whole, &cut));
    }
}

/* ---- limits and syntax ------------------------------------------------------- */

static char *make_head(size_t total)
{
    /* "GET http://a.example/ HTTP/1.1\r\nX: vvvv...\r\n\r\n" of exactly total bytes */
    const char *pre = "GET http://a.example/ HTTP/1.1\r\nX: ";
    size_t fixed = strlen(pre) + 4;
    char *s = malloc(total + 1);
    strcpy(s, pre);
    memset(s + strlen(pre), 'v', total - fixed);
    strcpy(s + total - 4, "\r\n\r\n");
    return s;
}

static void test_head_limits(void)
{
    struct t_run t;
    char *s = make_head(HTTP_DEFAULT_MAX_HEAD);
    t_req(s, &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.n, 1);
    free(s);

    s = make_head(HTTP_DEFAULT_MAX_HEAD + 1);
    t_req(s, &t);
    CHECK_INT_EQ(t.err, HTTP_EHEADTOOBIG);
    CHECK_INT_EQ(http_error_status(t.err), 431);
    t_read(HTTP_READER_REQUEST, s, strlen(s), 0, 1, 0, &t);
    CHECK_INT_EQ(t.err, HTTP_EHEADTOOBIG);
    free(s);

    /* a never-ending head is refused without reading it all */
    s = make_head(1 << 20);
    t_req(s, &t);
    CHECK_INT_EQ(t.err, HTTP_EHEADTOOBIG);
    free(s);

    /* too many header fields */
    struct http_buf b = {0};
    http_buf_puts(&b, "GET http://a.example/ HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_DEFAULT_MAX_HEADERS + 1; i++)
        http_buf_printf(&b, "X-%d: %d\r\n", i, i);
    http_buf_puts(&b, "\r\n");
    t_req(b.data, &t);
    CHECK_INT_EQ(t.err, HTTP_ETOOMANYHEADERS);
    CHECK_INT_EQ(http_error_status(t.err), 431);
    http_buf_free(&b);

    /* smaller limits from the caller */
    struct http_limits lim = {.max_head = 64, .max_headers = 2};
    struct http_reader *r = http_reader_new(HTTP_READER_REQUEST, &lim);
    const char *h = "GET http://a.example/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    size_t c;
    enum http_event ev;
    CHECK_INT_EQ(http_reader_feed(r, h, strlen(h), &c, &ev), HTTP_ETOOMANYHEADERS);
    CHECK_INT_EQ(http_reader_state(r), HTTP_READER_FAILED);
    CHECK_INT_EQ(http_reader_feed(r, "x", 1, &c, &ev), HTTP_ETOOMANYHEADERS); /* sticky */
    http_reader_free(r);
    http_reader_free(NULL);
}

static void test_bad_syntax(void)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET http://a.example/ HTTP/1.1\r\nBad Header\r\n\r\n", 400},
        {"GET http://a.example/ HTTP/1.1\r\nX\x01: y\r\n\r\n", 400},
        {"GET http://a.example/ HTTP/1.1\r\nX: y\x7f\r\n\r\n", 400},
        {"G\xc3\x89T http://a.example/ HTTP/1.1\r\n\r\n", 400},
        {"GET http://a.example/ HTTP/1.1x\r\n\r\n", 400},
        {"GET http://a.example/\r\n\r\n", 505}, /* HTTP/0.9 */
        {"GET http://a.example/ HTTP/2.0\r\n\r\n", 505},
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400}, /* TLS to the plain port */
        {"POST http://a.example/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"POST http://a.example/ HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400},
        {"POST http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400},
        {"POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct t_run t;
        t_req(cases[i].req, &t);
        if (http_error_status(t.err) != cases[i].status || t.err == 0)
            fprintf(stderr, "  case %zu -> %d (%s)\n", i, t.err, http_strerror(t.err));
        CHECK(t.err != 0);
        CHECK_INT_EQ(http_error_status(t.err), cases[i].status);
    }
}

static void test_request_truncated(void)
{
    struct http_reader *r = http_reader_new(HTTP_READER_REQUEST, NULL);
    const char *s = "POST http://a.example/ HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
    size_t c, off = 0;
    enum http_event ev;
    CHECK_INT_EQ(http_reader_feed(r, s, strlen(s), &c, &ev), 0);
    CHECK_INT_EQ(ev, HTTP_EV_HEAD);
    off += c;
    CHECK_INT_EQ(http_reader_feed(r, s + off, strlen(s) - off, &c, &ev), 0);
    CHECK_INT_EQ(ev, HTTP_EV_BODY);
    CHECK_INT_EQ(c, 3);
    CHECK_INT_EQ(http_reader_finish(r, &ev), HTTP_ETRUNCATED);
    http_reader_free(r);

    /* closing between requests is the normal end */
    r = http_reader_new(HTTP_READER_REQUEST, NULL);
    CHECK_INT_EQ(http_reader_finish(r, &ev), 0);
    CHECK_INT_EQ(ev, HTTP_EV_NEED_MORE);
    http_reader_free(r);
}

/* ---- responses ------------------------------------------------------------- */

static void t_resp(const char *s, int method, struct t_run *t)
{
    t_read(HTTP_READER_RESPONSE, s, strlen(s), strlen(s), 0, method, t);
}

static void test_response_framings(void)
{
    struct t_run t;
    t_resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", HTTP_GET, &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].status, 200);
    CHECK_STR_EQ(t.msgs[0].reason, "OK");
    CHECK_INT_EQ(t.msgs[0].framing, HTTP_FRAMING_LENGTH);
    CHECK_INT_EQ(t.msgs[0].body_len, 5);
    CHECK_INT_EQ(t.msgs[0].ended, 1);
    CHECK_INT_EQ(t.state, HTTP_READER_READY);

    t_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", HTTP_GET,
           &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].framing, HTTP_FRAMING_CHUNKED);
    CHECK_INT_EQ(t.msgs[0].body_len, strlen("3\r\nabc\r\n0\r\n\r\n"));
    CHECK_INT_EQ(t.state, HTTP_READER_READY);

    /* close-delimited: ends when the upstream closes */
    t_resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", HTTP_GET, &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].framing, HTTP_FRAMING_CLOSE);
    CHECK_INT_EQ(t.msgs[0].keep_alive, 0);
    CHECK_INT_EQ(t.msgs[0].body_len, 13);
    CHECK_INT_EQ(t.msgs[0].ended, 1);
    CHECK_INT_EQ(t.state, HTTP_READER_DONE);

    /* HTTP/1.0 without keep-alive */
    t_resp("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", HTTP_GET, &t);
    CHECK_INT_EQ(t.msgs[0].keep_alive, 0);
    CHECK_INT_EQ(t.state, HTTP_READER_DONE);

    /* Content-Length cut short */
    t_resp("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", HTTP_GET, &t);
    CHECK_INT_EQ(t.err, HTTP_ETRUNCATED);
    t_resp("HTTP/1.1 200 OK\r\nContent-Le", HTTP_GET, &t);
    CHECK_INT_EQ(t.err, HTTP_ETRUNCATED);
    t_resp("HTTP/1.1 2x0 OK\r\n\r\n", HTTP_GET, &t);
    CHECK(t.err != 0);

    /* response heads may be longer than request heads, up to their own limit */
    struct http_buf b = {0};
    http_buf_puts(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    for (int i = 0; i < 40; i++)
        http_buf_printf(&b, "Set-Cookie: c%d=%01000d\r\n", i, 0);
    http_buf_puts(&b, "\r\n");
    t_resp(b.data, HTTP_GET, &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.n, 1);
    http_buf_reset(&b);
    http_buf_puts(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 70; i++)
        http_buf_printf(&b, "X-Big-%d: %01000d\r\n", i, 0);
    http_buf_puts(&b, "\r\n");
    t_resp(b.data, HTTP_GET, &t);
    CHECK_INT_EQ(t.err, HTTP_EHEADTOOBIG);
    http_buf_free(&b);
}

static void test_response_no_body(void)
{
    struct t_run t;
    /* HEAD: Content-Length describes the GET, there is no body; the next response follows */
    t_resp("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
           HTTP_HEAD, &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.n, 2);
    CHECK_INT_EQ(t.msgs[0].framing, HTTP_FRAMING_NONE);
    CHECK_INT_EQ(t.msgs[0].ended, 1);
    CHECK_INT_EQ(t.msgs[1].ended, 1);

    t_resp("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n"
           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
           HTTP_GET, &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.n, 3);
    CHECK_INT_EQ(t.msgs[0].status, 204);
    CHECK_INT_EQ(t.msgs[0].body_len, 0);
    CHECK_INT_EQ(t.msgs[1].status, 304);
    CHECK_INT_EQ(t.msgs[1].framing, HTTP_FRAMING_NONE);
    CHECK_INT_EQ(t.msgs[1].body_len, 0);
    CHECK_INT_EQ(t.msgs[2].body_len, 2);

    /* an interim 100 Continue, then the final response */
    t_resp("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
           HTTP_PUT, &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.n, 2);
    CHECK_INT_EQ(t.msgs[0].status, 100);
    CHECK_INT_EQ(t.msgs[1].status, 201);
    CHECK_INT_EQ(t.state, HTTP_READER_READY);

    /* 101 to a WebSocket upgrade: what follows is frames */
    t_resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
           "\x81\x02hi",
           HTTP_GET, &t);
    CHECK_INT_EQ(t.err, 0);
    CHECK_INT_EQ(t.msgs[0].framing, HTTP_FRAMING_TUNNEL);
    CHECK_INT_EQ(t.msgs[0].websocket, 1);
    CHECK_INT_EQ(t.state, HTTP_READER_TUNNEL);
    CHECK_INT_EQ(t.tunnel_len, 4);
}

static void test_response_every_split(void)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                            "HTTP/1.1 204 No Content\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "1\r\nx\r\n0\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest of stream";
    size_t len = sizeof s - 1;
    struct t_run whole, cut;
    t_read(HTTP_READER_RESPONSE, s, len, len, 0, HTTP_GET, &whole);
    CHECK_INT_EQ(whole.err, 0);
    CHECK_INT_EQ(whole.n, 4);
    CHECK_INT_EQ(whole.msgs[3].body_len, 14);
    CHECK_INT_EQ(whole.msgs[3].ended, 1);
    int bad = 0;
    for (size_t k = 0; k <= len; k++) {
        t_read(HTTP_READER_RESPONSE, s, len, k, 0, HTTP_GET, &cut);
        bad += !t_same(&whole, &cut);
    }
    t_read(HTTP_READER_RESPONSE, s, len, 0, 1, HTTP_GET, &cut);
    bad += !t_same(&whole, &cut);
    CHECK_INT_EQ(bad, 0);
}

static void test_response_downstream(void)
{
    struct http_reader *r = http_reader_new(HTTP_READER_RESPONSE, NULL);
    const char *s = "HTTP/1.1 200 Fine\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: t=1\r\n"
                    "Proxy-Authenticate: Basic\r\nContent-Length: 0\r\nSet-Cookie: a=b\r\n\r\n";
    size_t c;
    enum http_event ev;
    CHECK_INT_EQ(http_reader_feed(r, s, strlen(s), &c, &ev), 0);
    CHECK_INT_EQ(ev, HTTP_EV_HEAD);
    const struct http_head *h = http_reader_head(r);
    CHECK(h != NULL);
    struct http_buf b = {0};
    CHECK_INT_EQ(http_response_write_downstream(h, 1, 1, &b), 0);
    CHECK_STR_EQ(b.data, "HTTP/1.1 200 Fine\r\nContent-Length: 0\r\nSet-Cookie: a=b\r\n\r\n");
    http_buf_reset(&b);
    CHECK_INT_EQ(http_response_write_downstream(h, 0, 1, &b), 0);
    CHECK_STR_EQ(b.data, "HTTP/1.0 200 Fine\r\nContent-Length: 0\r\nSet-Cookie: a=b\r\n"
                         "Connection: keep-alive\r\n\r\n");
    http_buf_reset(&b);
    CHECK_INT_EQ(http_response_write_downstream(h, 1, 0, &b), 0);
    CHECK_STR_EQ(b.data, "HTTP/1.1 200 Fine\r\nContent-Length: 0\r\nSet-Cookie: a=b\r\n"
                         "Connection: close\r\n\r\n");
    CHECK_INT_EQ(http_request_write_upstream(h, &b), HTTP_EINVAL);
    http_buf_free(&b);
    http_reader_free(r);
}

/* ---- writers ------------------------------------------------------------- */

static void test_writers(void)
{
    struct http_buf b = {0};
    CHECK_INT_EQ(http_write_response(&b, 200, "text/html; charset=utf-8", 12, "X-A: 1\r\n", 1), 0);
    CHECK_STR_EQ(b.data, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                         "Content-Length: 12\r\nCache-Control: no-store\r\n"
                         "Connection: keep-alive\r\nX-A: 1\r\n\r\n");
    http_buf_reset(&b);
    CHECK_INT_EQ(b.len, 0);
    CHECK_STR_EQ(HTTP_CONNECT_ESTABLISHED, "HTTP/1.1 200 Connection established\r\n\r\n");

    static const int codes[] = {400, 403, 405, 431, 502, 504};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        http_buf_reset(&b);
        CHECK_INT_EQ(http_write_error(&b, codes[i], "why\r\nInjected: 1", 0), 0);
        char line[64];
        snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", codes[i], http_status_reason(codes[i]));
        CHECK(strncmp(b.data, line, strlen(line)) == 0);
        CHECK(strstr(b.data, "Connection: close\r\n") != NULL);
        CHECK(strstr(b.data, "\r\nInjected") == NULL);
        const char *body = strstr(b.data, "\r\n\r\n") + 4;
        char cl[64];
        snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
        CHECK(strstr(b.data, cl) != NULL);
        CHECK((strstr(b.data, "Allow: GET, HEAD\r\n") != NULL) == (codes[i] == 405));
    }
    CHECK_STR_EQ(http_status_reason(431), "Request Header Fields Too Large");
    CHECK_STR_EQ(http_status_reason(799), "Unknown");

    http_buf_reset(&b);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_INT_EQ(http_buf_printf(&b, "<%s>", big), 0);
    CHECK_INT_EQ(b.len, 1001);
    CHECK_INT_EQ(b.data[1000], '>');
    http_buf_free(&b);
    http_buf_free(&b);
    http_buf_free(NULL);
}

static void test_strerror(void)
{
    CHECK_STR_EQ(http_strerror(0), "success");
    CHECK_STR_EQ(http_strerror(HTTP_EHEADTOOBIG), "message head too large");
    CHECK_STR_EQ(http_strerror(-999), "unknown HTTP error");
    CHECK_INT_EQ(http_error_status(HTTP_EBADMSG), 400);
    CHECK_INT_EQ(http_error_status(HTTP_ETOOMANYHEADERS), 431);
    CHECK_INT_EQ(http_error_status(-999), 400);
}

int main(void)
{
    UNIT_RUN(test_connect_name);
    UNIT_RUN(test_connect_ip_literals);
    UNIT_RUN(test_connect_bad);
    UNIT_RUN(test_authority_parse);
    UNIT_RUN(test_absolute_uri);
    UNIT_RUN(test_origin_form);
    UNIT_RUN(test_hop_by_hop);
    UNIT_RUN(test_websocket);
    UNIT_RUN(test_keep_alive_rules);
    UNIT_RUN(test_expect_continue);
    UNIT_RUN(test_pipeline_every_split);
    UNIT_RUN(test_head_limits);
    UNIT_RUN(test_bad_syntax);
    UNIT_RUN(test_request_truncated);
    UNIT_RUN(test_response_framings);
    UNIT_RUN(test_response_no_body);
    UNIT_RUN(test_response_every_split);
    UNIT_RUN(test_response_downstream);
    UNIT_RUN(test_writers);
    UNIT_RUN(test_strerror);
    UNIT_RUN(test_fuzz_regressions);
    return UNIT_END();
}
