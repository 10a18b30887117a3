/* resolver/server.c — UDP and TCP listeners for stub clients.
 *
 * Every query goes through one function, serve_query(), whichever transport it
 * came on: allow check, parse, cache-or-upstream through the resolver core, and
 * the reply written back. Waiting queries sit on the server's pending list so a
 * closing TCP connection, a reload or a shutdown can cancel them.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cookie.h"
#include "log.h"
#include "wire.h"

#define SERVER_TCP_MAX_CONNS 1024
#define SERVER_TCP_MAX_PENDING 64 /* per connection; reading pauses beyond */
#define SERVER_TCP_MAX_WRITES 64  /* replies queued to a client that does not read */
#define SERVER_TCP_IDLE_MS 10000  /* RFC 7766 §6.2.3: seconds, not minutes */
#define SERVER_TCP_BUF (2 + 65535)
#define SERVER_MAX_LISTENERS (2 * CONFIG_MAX_ADDRS)
/* A client's EDNS size is honoured up to what we advertise (DNS flag day 2020:
 * no fragmented UDP); larger answers get TC and go over TCP. */
#define SERVER_MAX_UDP_REPLY DNS_MAX_UDP_REPLY

struct tcp_conn;

/* A query waiting for the upstream. */
struct pending {
    struct resolver_request req; /* first: the resolver hands it back */
    struct dns_server *srv;
    struct pending *next, *prev; /* on srv->pending */
    uv_udp_t *udp;               /* UDP: listener and peer */
    struct sockaddr_storage peer;
    struct tcp_conn *conn; /* TCP: the connection */
};

struct tcp_conn {
    uv_tcp_t tcp;
    uv_timer_t idle;
    struct dns_server *srv;
    struct tcp_conn *next, *prev;
    struct sockaddr_storage peer;
    uint8_t *rbuf;
    size_t rlen;
    unsigned pending;
    unsigned writes; /* uv_write requests in flight */
    int reading;
    int closing; /* closed or closing: nothing more is read or written */
    int refused; /* outside allow: closed once its REFUSED has left */
};

struct listener {
    uv_udp_t udp;
    uv_tcp_t tcp;
    struct dns_server *srv;
    int udp_open, tcp_open;
};

struct dns_server {
    uv_loop_t *loop;
    struct resolver *resolver;
    struct config_cidr allow[CONFIG_MAX_ADDRS];
    size_t n_allow;
    struct listener listeners[SERVER_MAX_LISTENERS];
    size_t n_listeners;
    unsigned handles_open; /* listeners' handles not yet closed */
    int closing;
    struct pending pending; /* list head */
    struct tcp_conn conns;  /* list head */
    struct dns_server_stats stats;
    struct dns_cookie_secret cookie_secret; /* RFC 9018 server cookies; new at each start */
    uint8_t udp_rbuf[65536];
    uint8_t out[65535 + 2]; /* replies are built here, after a 2-byte TCP prefix */
};

static void server_maybe_free(struct dns_server *srv)
{
    if (srv->closing && srv->handles_open == 0 && srv->conns.next == &srv->conns)
        free(srv);
}

static void pending_unlink(struct pending *p)
{
    p->prev->next = p->next;
    p->next->prev = p->prev;
}

/* --- sending --------------------------------------------------------------- */

struct udp_send {
    uv_udp_send_t req;
    uint8_t data[];
};

static void udp_send_done(uv_udp_send_t *req, int status)
{
    free(req);
}

static void udp_reply(struct dns_server *srv, uv_udp_t *udp, const struct sockaddr *peer,
                      const struct dns_query *q, uint8_t *msg, size_t len)
{
    size_t max = 512;
    if (q && q->has_edns)
        max = q->udp_size < 512                    ? 512
              : q->udp_size > SERVER_MAX_UDP_REPLY ? SERVER_MAX_UDP_REPLY
                                                   : q->udp_size;
    if (len > max)
        dns_reply_truncate(msg, len, max, &len);
    uv_buf_t buf = uv_buf_init((char *)msg, (unsigned)len);
    int rc = uv_udp_try_send(udp, &buf, 1, peer);
    if (rc == UV_EAGAIN || rc == UV_ENOSYS) {
        struct udp_send *s = malloc(sizeof *s + len);
        if (!s)
            return;
        memcpy(s->data, msg, len);
        buf = uv_buf_init((char *)s->data, (unsigned)len);
        if (uv_udp_send(&s->req, udp, &buf, 1, peer, udp_send_done) < 0)
            free(s);
    } else if (rc < 0) {
        log_debug("dns: udp send: %s", uv_strerror(rc));
    }
}

struct tcp_write {
    uv_write_t req;
    struct tcp_conn *conn;
    uint8_t data[];
};

static void tcp_conn_close(struct tcp_conn *c);
static void tcp_process(struct tcp_conn *c);

static void tcp_write_done(uv_write_t *req, int status)
{
    struct tcp_write *w = (struct tcp_write *)req;
    struct tcp_conn *c = w->conn;
    free(w);
    c->writes--;
    if (status < 0 || (c->refused && c->writes == 0))
        tcp_conn_close(c);
    else if (!c->closing)
        tcp_process(c); /* a slow reader caught up: go on with its queries */
}

static void tcp_reply(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
    if (c->closing)
        return;
    struct tcp_write *w = malloc(sizeof *w + 2 + len);
    if (!w) {
        tcp_conn_close(c);
        return;
    }
    w->conn = c;
    w->data[0] = (uint8_t)(len >> 8);
    w->data[1] = (uint8_t)len;
    memcpy(w->data + 2, msg, len);
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)(len + 2));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, tcp_write_done) < 0) {
        free(w);
        tcp_conn_close(c);
        return;
    }
    c->writes++;
    uv_timer_again(&c->idle);
}

/* --- the query path -------------------------------------------------------- */

static void reply(struct dns_server *srv, uv_udp_t *udp, const struct sockaddr *peer,
                  struct tcp_conn *conn, const struct dns_query *q, uint8_t *msg, size_t len)
{
    /* RFC 7873 §5.2: every reply to a query with a cookie carries one (q holds
     * the reply's, see serve_query); it goes in before any truncation. */
    if (q && q->has_edns && q->cookie_len && msg == srv->out &&
        dns_reply_add_cookie(msg, &len, sizeof srv->out, q->cookie, q->cookie_len) < 0)
        log_debug("dns: no room for the cookie in a reply of %zu bytes", len);
    if (conn)
        tcp_reply(conn, msg, len);
    else
        udp_reply(srv, udp, peer, q, msg, len);
}

static void pending_done(struct resolver_request *req, const struct resolver_answer *ans)
{
    struct pending *p = (struct pending *)req;
    struct dns_server *srv = p->srv;
    pending_unlink(p);
    if (ans->len) {
        memcpy(srv->out, ans->msg, ans->len);
        reply(srv, p->udp, (struct sockaddr *)&p->peer, p->conn, &req->q, srv->out, ans->len);
    }
    if (p->conn) {
        struct tcp_conn *c = p->conn;
        c->pending--;
        if (!c->closing)
            tcp_process(c);
    }
    free(p);
}

static void serve_query(struct dns_server *srv, const uint8_t *msg, size_t len, uv_udp_t *udp,
                        const struct sockaddr *peer, struct tcp_conn *conn)
{
    struct dns_query q;
    size_t out_len = 0;
    int rc;

    if (conn)
        srv->stats.tcp_queries++;
    else
        srv->stats.udp_queries++;
    rc = dns_query_parse(msg, len, &q);
    if (rc == WIRE_ENOTQUERY || (rc < 0 && len < DNS_HEADER_LEN)) {
        srv->stats.dropped++;
        return;
    }
    /* From here on q.cookie is the cookie our reply carries: the client's own
     * when fresh, else a new server cookie (cookies are answered, not required). */
    if (q.cookie_len && rc != WIRE_EFORMERR) {
        uint8_t cookie[sizeof q.cookie];
        q.cookie_len = (uint8_t)dns_cookie_reply(&srv->cookie_secret, q.cookie, q.cookie_len, peer,
                                                 (uint32_t)time(NULL), cookie);
        memcpy(q.cookie, cookie, q.cookie_len);
    } else {
        q.cookie_len = 0;
    }
    if (!config_cidr_match(srv->allow, srv->n_allow, peer)) {
        srv->stats.refused++;
        if (conn)
            conn->refused = 1; /* one answer, then the connection goes */
        if (rc < 0)
            q.qname_len = 0;
        rc = dns_reply_error(&q, DNS_RCODE_REFUSED, DNS_EDE_PROHIBITED, NULL, srv->out,
                             sizeof srv->out, &out_len);
    } else if (rc == WIRE_ENOTIMP) {
        srv->stats.notimp++;
        rc = dns_reply_error(&q, DNS_RCODE_NOTIMP, DNS_EDE_NONE, NULL, srv->out, sizeof srv->out,
                             &out_len);
    } else if (rc == WIRE_ENOQUESTION) {
        /* RFC 7873 §5.4: a client asking only for a server cookie */
        rc = dns_reply_error(&q, DNS_RCODE_NOERROR, DNS_EDE_NONE, NULL, srv->out, sizeof srv->out,
                             &out_len);
    } else if (rc == WIRE_EBADVERS) {
        rc = dns_reply_error(&q, DNS_RCODE_BADVERS, DNS_EDE_NONE, NULL, srv->out, sizeof srv->out,
                             &out_len);
    } else if (rc < 0) {
        srv->stats.formerr++;
        rc = dns_reply_error(&q, DNS_RCODE_FORMERR, DNS_EDE_NONE, NULL, srv->out, sizeof srv->out,
                             &out_len);
    } else if (q.qclass != DNS_CLASS_IN || q.qtype == 251 || q.qtype == 252) {
        /* Other classes, IXFR and AXFR are not a stub resolver's business. */
        srv->stats.refused++;
        rc = dns_reply_error(&q, DNS_RCODE_REFUSED, DNS_EDE_NONE, NULL, srv->out, sizeof srv->out,
                             &out_len);
    } else {
        struct pending *p = malloc(sizeof *p);
        struct resolver_answer ans;
        if (!p)
            return;
        p->req.q = q;
        p->req.done = pending_done;
        p->srv = srv;
        p->udp = udp;
        p->conn = conn;
        if (peer)
            memcpy(&p->peer, peer,
                   peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                               : sizeof(struct sockaddr_in));
        /* Linked first: the upstream may answer before resolver_answer() returns. */
        p->next = srv->pending.next;
        p->prev = &srv->pending;
        srv->pending.next->prev = p;
        srv->pending.next = p;
        if (conn)
            conn->pending++;
        rc = resolver_answer(srv->resolver, &p->req, srv->out, sizeof srv->out, &ans);
        if (rc == 0)
            return; /* pending_done() takes it from here */
        pending_unlink(p);
        if (conn)
            conn->pending--;
        free(p);
        if (rc == 1) {
            reply(srv, udp, peer, conn, &q, srv->out, ans.len);
            return;
        }
        rc = dns_reply_error(&q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, upstream_strerror(rc), srv->out,
                             sizeof srv->out, &out_len);
    }
    if (rc == 0)
        reply(srv, udp, peer, conn, &q, srv->out, out_len);
}

/* --- UDP ------------------------------------------------------------------- */

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct listener *l = h->data;
    buf->base = (char *)l->srv->udp_rbuf;
    buf->len = sizeof l->srv->udp_rbuf;
}

static void udp_recv(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *peer,
                     unsigned flags)
{
    struct listener *l = udp->data;
    if (nread <= 0 || !peer || (flags & UV_UDP_PARTIAL) || l->srv->closing)
        return;
    serve_query(l->srv, (const uint8_t *)buf->base, (size_t)nread, udp, peer, NULL);
}

/* --- TCP ------------------------------------------------------------------- */

static void tcp_conn_freed(uv_handle_t *h)
{
    struct tcp_conn *c = h->data;
    if (h == (uv_handle_t *)&c->tcp) {
        struct dns_server *srv = c->srv;
        c->prev->next = c->next;
        c->next->prev = c->prev;
        free(c->rbuf);
        free(c);
        server_maybe_free(srv);
    } else {
        uv_close((uv_handle_t *)&c->tcp, tcp_conn_freed);
    }
}

static void tcp_conn_close(struct tcp_conn *c)
{
    if (c->closing == 2)
        return;
    /* Cancel what this connection still waits for. */
    struct pending *p = c->srv->pending.next;
    while (p != &c->srv->pending) {
        struct pending *next = p->next;
        if (p->conn == c) {
            resolver_request_cancel(&p->req);
            pending_unlink(p);
            free(p);
        }
        p = next;
    }
    c->pending = 0;
    c->closing = 2;
    c->srv->stats.tcp_open--;
    uv_close((uv_handle_t *)&c->idle, tcp_conn_freed);
}

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct tcp_conn *c = h->data;
    buf->base = (char *)c->rbuf + c->rlen;
    buf->len = SERVER_TCP_BUF - c->rlen;
}

static void tcp_read_start(struct tcp_conn *c);

/* Serve the complete queries buffered so far, as long as the client takes its
 * replies and the upstream keeps up; read more only then, so one client can
 * queue neither unbounded replies nor unbounded lookups. */
static void tcp_process(struct tcp_conn *c)
{
    size_t off = 0;
    while (c->rlen - off >= 2 && !c->closing && !c->refused && c->writes < SERVER_TCP_MAX_WRITES &&
           c->pending < SERVER_TCP_MAX_PENDING) {
        size_t mlen = (size_t)c->rbuf[off] << 8 | c->rbuf[off + 1];
        if (c->rlen - off - 2 < mlen)
            break;
        serve_query(c->srv, c->rbuf + off + 2, mlen, NULL, (struct sockaddr *)&c->peer, c);
        off += 2 + mlen;
    }
    if (c->closing)
        return;
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    int want = !c->refused && c->writes < SERVER_TCP_MAX_WRITES &&
               c->pending < SERVER_TCP_MAX_PENDING && c->rlen < SERVER_TCP_BUF;
    if (want && !c->reading) {
        tcp_read_start(c);
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct tcp_conn *c = s->data;
    if (nread < 0) {
        tcp_conn_close(c);
        return;
    }
    c->rlen += (size_t)nread;
    uv_timer_again(&c->idle);
    tcp_process(c);
}

static void tcp_read_start(struct tcp_conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, tcp_alloc, tcp_read) == 0)
        c->reading = 1;
}

static void tcp_idle(uv_timer_t *t)
{
    struct tcp_conn *c = t->data;
    if (c->pending == 0)
        tcp_conn_close(c);
}

static void tcp_accept(uv_stream_t *server, int status)
{
    struct listener *l = server->data;
    struct dns_server *srv = l->srv;
    struct tcp_conn *c;
    int len = sizeof c->peer;

    if (status < 0 || srv->closing)
        return;
    c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->rbuf = malloc(SERVER_TCP_BUF);
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->idle);
    c->tcp.data = c->idle.data = c;
    c->srv = srv;
    c->next = srv->conns.next;
    c->prev = &srv->conns;
    srv->conns.next->prev = c;
    srv->conns.next = c;
    srv->stats.tcp_open++;
    if (!c->rbuf || uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
        srv->stats.tcp_open > SERVER_TCP_MAX_CONNS ||
        uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &len) < 0) {
        tcp_conn_close(c);
        return;
    }
    srv->stats.tcp_connections++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->idle, tcp_idle, SERVER_TCP_IDLE_MS, SERVER_TCP_IDLE_MS);
    tcp_read_start(c);
}

/* --- set-up ---------------------------------------------------------------- */

static void listener_closed(uv_handle_t *h)
{
    struct listener *l = h->data;
    struct dns_server *srv = l->srv;
    srv->handles_open--;
    server_maybe_free(srv);
}

static int listen_on(struct dns_server *srv, const struct config_sockaddr *a, char *err,
                     size_t errlen)
{
    struct listener *l = &srv->listeners[srv->n_listeners++];
    const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
    unsigned flags = sa->sa_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
    int rc;

    l->srv = srv;
    uv_udp_init(srv->loop, &l->udp);
    l->udp.data = l;
    l->udp_open = 1;
    srv->handles_open++;
    uv_tcp_init(srv->loop, &l->tcp);
    l->tcp.data = l;
    l->tcp_open = 1;
    srv->handles_open++;
    if ((rc = uv_udp_bind(&l->udp, sa, flags)) < 0 ||
        (rc = uv_udp_recv_start(&l->udp, udp_alloc, udp_recv)) < 0) {
        snprintf(err, errlen, "cannot listen on %s (UDP): %s", a->text, uv_strerror(rc));
        return -1;
    }
    if ((rc = uv_tcp_bind(&l->tcp, sa, sa->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&l->tcp, 256, tcp_accept)) < 0) {
        snprintf(err, errlen, "cannot listen on %s (TCP): %s", a->text, uv_strerror(rc));
        return -1;
    }
    log_info("dns: listening on %s (UDP and TCP)", a->text);
    return 0;
}

int dns_server_new(uv_loop_t *loop, const struct config_resolver *cfg, struct resolver *r,
                   struct dns_server **out, char *err, size_t errlen)
{
    struct dns_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    srv->loop = loop;
    if (dns_cookie_secret_init(&srv->cookie_secret) < 0) {
        snprintf(err, errlen, "no random bytes for the DNS cookie secret");
        free(srv);
        return -1;
    }
    srv->pending.next = srv->pending.prev = &srv->pending;
    srv->conns.next = srv->conns.prev = &srv->conns;
    dns_server_reconfigure(srv, cfg, r);
    for (size_t i = 0; i < cfg->n_listen; i++) {
        if (listen_on(srv, &cfg->listen[i], err, errlen) < 0) {
            dns_server_close(srv);
            return -1;
        }
    }
    *out = srv;
    return 0;
}

/* Answer SERVFAIL to, and drop, every query waiting on the current resolver. */
static void fail_pending(struct dns_server *srv, int send_reply)
{
    while (srv->pending.next != &srv->pending) {
        struct pending *p = srv->pending.next;
        size_t len;
        resolver_request_cancel(&p->req);
        pending_unlink(p);
        if (send_reply &&
            dns_reply_error(&p->req.q, DNS_RCODE_SERVFAIL, DNS_EDE_OTHER, "resolver reconfigured",
                            srv->out, sizeof srv->out, &len) == 0)
            reply(srv, p->udp, (struct sockaddr *)&p->peer, p->conn, &p->req.q, srv->out, len);
        if (p->conn)
            p->conn->pending--;
        free(p);
    }
}

void dns_server_reconfigure(struct dns_server *srv, const struct config_resolver *cfg,
                            struct resolver *r)
{
    if (srv->resolver && srv->resolver != r)
        fail_pending(srv, 1);
    srv->resolver = r;
    memcpy(srv->allow, cfg->allow, sizeof srv->allow);
    srv->n_allow = cfg->n_allow;
    /* Connections paused on their lookups go on, with the new resolver. */
    for (struct tcp_conn *c = srv->conns.next; c != &srv->conns; c = c->next)
        if (!c->closing)
            tcp_process(c);
}

void dns_server_close(struct dns_server *srv)
{
    if (!srv)
        return;
    srv->closing = 1;
    fail_pending(srv, 0);
    for (struct tcp_conn *c = srv->conns.next; c != &srv->conns; c = c->next)
        tcp_conn_close(c);
    for (size_t i = 0; i < srv->n_listeners; i++) {
        uv_close((uv_handle_t *)&srv->listeners[i].udp, listener_closed);
        uv_close((uv_handle_t *)&srv->listeners[i].tcp, listener_closed);
    }
    server_maybe_free(srv);
}

void dns_server_get_stats(const struct dns_server *srv, struct dns_server_stats *st)
{
    *st = srv->stats;
}
