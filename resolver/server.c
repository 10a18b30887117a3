/* resolver/server.c — UDP and TCP listeners for stub clients.
 *
 * Every query goes through one function, serve_query(), whichever transport it
 * came on: allow check, parse, cache-or-upstream through the resolver core, and
 * the reply written back. Waiting queries sit on lists (UDP: the server's and
 * their client's, oldest first; TCP: their connection's) so a closing
 * connection, a reload or a shutdown can cancel them.
 *
 * Bounds, so that no client holds more than its share:
 * - every waiting query has a deadline (resolver.timeout and a little): then
 *   it is answered SERVFAIL (EDE 22), whatever the upstream does;
 * - UDP queries waiting for an upstream answer: max_waiting_queries in all,
 *   max_waiting_per_client per client address. A query beyond either takes the
 *   place of the oldest one if that has waited SERVER_JOSTLE_MS (Unbound's
 *   jostle-timeout), which is dropped unanswered (the client asks again);
 *   else it gets only what the cache has, or is dropped itself;
 * - TCP: max_tcp_clients connections (beyond, new ones wait in the backlog),
 *   64 waiting queries and 64 unread replies each. A connection is closed once
 *   it has had no complete query nor reply for SERVER_TCP_IDLE_MS, or only
 *   SERVER_TCP_BUSY_IDLE_MS while more than half the slots are taken (bytes
 *   dribbled in do not count: a slowloris client loses its slot), and reads no
 *   more queries after SERVER_TCP_LIFETIME_MS.
 */
#include "server.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acceptor.h"
#include "addr.h"
#include "cookie.h"
#include "dns_frame.h"
#include "log.h"
#include "wire.h"

#define SERVER_TCP_MAX_PENDING 64     /* per connection; reading pauses beyond */
#define SERVER_TCP_MAX_WRITES 64      /* replies queued to a client that does not read */
#define SERVER_TCP_IDLE_MS 10000      /* RFC 7766 §6.2.3: seconds, not minutes */
#define SERVER_TCP_BUSY_IDLE_MS 1000  /* the same when over half the TCP slots are taken */
#define SERVER_TCP_LIFETIME_MS 120000 /* then no more queries are read from it */
#define SERVER_TCP_BACKLOG 256
#define SERVER_SWEEP_MS 250           /* how often deadlines and idle clients are checked */
#define SERVER_QUERY_SLACK_MS 250     /* a query's deadline: resolver.timeout plus this */
#define SERVER_JOSTLE_MS 200          /* as Unbound's jostle-timeout */
#define SERVER_CLIENT_BUCKETS 1024
#define SERVER_TCP_BUF (DNS_FRAME_PREFIX + DNS_FRAME_MAX)
#define SERVER_MAX_LISTENERS (2 * CONFIG_MAX_ADDRS)
/* A client's EDNS size is honoured up to what we advertise (DNS flag day 2020:
 * no fragmented UDP); larger answers get TC and go over TCP. */
#define SERVER_MAX_UDP_REPLY DNS_MAX_UDP_REPLY

struct tcp_conn;

/* A link in one of the intrusive lists below (the head is a bare link). */
struct link {
    struct link *next, *prev;
};

static void link_init(struct link *h)
{
    h->next = h->prev = h;
}

static void link_add_tail(struct link *h, struct link *l)
{
    l->prev = h->prev;
    l->next = h;
    h->prev->next = l;
    h->prev = l;
}

static void link_del(struct link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = l;
}

#define PENDING_OF(l, member) ((struct pending *)((char *)(l) - offsetof(struct pending, member)))

/* A client address with UDP queries waiting. */
struct udp_client {
    struct udp_client *next; /* in its hash bucket */
    int family;
    uint8_t addr[16];
    unsigned waiting;
    struct link queries; /* its waiting queries, oldest first */
};

/* A query waiting for the upstream. */
struct pending {
    struct resolver_request req; /* first: the resolver hands it back */
    struct dns_server *srv;
    struct link link;         /* UDP: on srv->udp_waiting; TCP: on conn->waiting; oldest first */
    struct link client_link;  /* UDP: on client->queries */
    struct udp_client *client;
    uv_udp_t *udp;            /* UDP: listener and peer */
    struct sockaddr_storage peer;
    struct tcp_conn *conn; /* TCP: the connection */
    uint64_t since;        /* when it arrived (loop time, ms) */
};

struct tcp_conn {
    uv_tcp_t tcp;
    struct dns_server *srv;
    struct tcp_conn *next, *prev;
    struct sockaddr_storage peer;
    uint8_t *rbuf;
    size_t rlen;
    unsigned pending;
    struct link waiting; /* its waiting queries, oldest first */
    unsigned writes;     /* uv_write requests in flight */
    uint64_t opened;     /* loop time it was accepted */
    uint64_t active;     /* loop time of its last complete query or reply */
    int reading;
    int closing;  /* closed or closing: nothing more is read or written */
    int refused;  /* outside allow: closed once its REFUSED has left */
    int draining; /* past its lifetime: answered, then closed */
};

struct listener {
    uv_udp_t udp;
    struct acceptor *tcp;
    struct dns_server *srv;
    int udp_open;
};

struct dns_server {
    uv_loop_t *loop;
    struct resolver *resolver;
    struct addr_cidr allow[CONFIG_MAX_ADDRS];
    size_t n_allow;
    struct listener listeners[SERVER_MAX_LISTENERS];
    size_t n_listeners;
    unsigned handles_open; /* listeners' handles not yet closed */
    int closing;
    struct link udp_waiting; /* UDP queries waiting, oldest first */
    unsigned n_udp_waiting;
    struct udp_client *clients[SERVER_CLIENT_BUCKETS];
    struct tcp_conn conns; /* list head */
    int accepting_paused;
    uint32_t timeout_ms, max_tcp, max_waiting, max_per_client;
    uv_timer_t sweep;
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

static int same_client(const struct udp_client *c, int family, const uint8_t *addr)
{
    return c->family == family && memcmp(c->addr, addr, family == AF_INET6 ? 16 : 4) == 0;
}

/* A client's key: its address (v4-mapped v6 counts as v4), not its port. */
static void client_key(const struct sockaddr *peer, int *family, uint8_t addr[16])
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    size_t len;
    const uint8_t *b = addr_bytes(peer, &len);

    memset(addr, 0, 16);
    *family = AF_INET;
    if (!b)
        return;
    if (len == 16 && memcmp(b, v4mapped, 12) != 0) {
        *family = AF_INET6;
        memcpy(addr, b, 16);
    } else {
        memcpy(addr, len == 16 ? b + 12 : b, 4);
    }
}

static unsigned client_hash(int family, const uint8_t *addr)
{
    uint32_t h = 2166136261u ^ (uint32_t)family;
    for (int i = 0; i < 16; i++)
        h = (h ^ addr[i]) * 16777619u;
    return h % SERVER_CLIENT_BUCKETS;
}

/* The client entry of peer; created when create is set (NULL when out of memory). */
static struct udp_client *client_get(struct dns_server *srv, const struct sockaddr *peer,
                                     int create)
{
    int family;
    uint8_t addr[16];
    client_key(peer, &family, addr);
    unsigned b = client_hash(family, addr);
    for (struct udp_client *c = srv->clients[b]; c; c = c->next)
        if (same_client(c, family, addr))
            return c;
    if (!create)
        return NULL;
    struct udp_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->family = family;
    memcpy(c->addr, addr, 16);
    link_init(&c->queries);
    c->next = srv->clients[b];
    srv->clients[b] = c;
    return c;
}

static void client_release(struct dns_server *srv, struct udp_client *c)
{
    if (c->waiting)
        return;
    struct udp_client **pp = &srv->clients[client_hash(c->family, c->addr)];
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    free(c);
}

/* Put p on its lists: its connection's, or the server's and its client's. */
static void pending_link(struct pending *p)
{
    struct dns_server *srv = p->srv;
    p->since = uv_now(srv->loop);
    if (p->conn) {
        link_add_tail(&p->conn->waiting, &p->link);
        p->conn->pending++;
        return;
    }
    link_add_tail(&srv->udp_waiting, &p->link);
    srv->n_udp_waiting++;
    p->client = client_get(srv, (const struct sockaddr *)&p->peer, 1);
    if (p->client) {
        link_add_tail(&p->client->queries, &p->client_link);
        p->client->waiting++;
    }
}

static void pending_unlink(struct pending *p)
{
    struct dns_server *srv = p->srv;
    link_del(&p->link);
    if (p->conn) {
        p->conn->pending--;
        return;
    }
    srv->n_udp_waiting--;
    if (p->client) {
        link_del(&p->client_link);
        p->client->waiting--;
        client_release(srv, p->client);
        p->client = NULL;
    }
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
    if (status == 0)
        c->active = uv_now(c->srv->loop);
    if (status < 0 || (c->refused && c->writes == 0) ||
        (c->draining && c->writes == 0 && c->pending == 0))
        tcp_conn_close(c);
    else if (!c->closing)
        tcp_process(c); /* a slow reader caught up: go on with its queries */
}

static void tcp_reply(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
    if (c->closing)
        return;
    struct tcp_write *w = malloc(sizeof *w + DNS_FRAME_PREFIX + len);
    size_t n = w ? dns_frame_encode(w->data, DNS_FRAME_PREFIX + len, msg, len) : 0;
    if (!n) {
        free(w);
        tcp_conn_close(c);
        return;
    }
    w->conn = c;
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, tcp_write_done) < 0) {
        free(w);
        tcp_conn_close(c);
        return;
    }
    c->writes++;
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
    if (p->conn && !p->conn->closing)
        tcp_process(p->conn);
    free(p);
}

/* Give up on p: cancelled, unlinked and freed; with why set, a SERVFAIL saying
 * so goes to the client first. Its connection is not resumed here. */
static void pending_drop(struct pending *p, const char *why)
{
    struct dns_server *srv = p->srv;
    struct tcp_conn *c = p->conn;
    size_t len;
    resolver_request_cancel(&p->req);
    pending_unlink(p);
    if (why && dns_reply_error(&p->req.q, DNS_RCODE_SERVFAIL, DNS_EDE_NO_REACHABLE_AUTHORITY, why,
                               srv->out, sizeof srv->out, &len) == 0)
        reply(srv, p->udp, (struct sockaddr *)&p->peer, c, &p->req.q, srv->out, len);
    free(p);
}

/* A UDP query from peer would wait: may it? Within the caps, yes; beyond one,
 * the oldest waiting query it competes with (the client's own, or anyone's)
 * makes room if it has waited SERVER_JOSTLE_MS; else the new one may not wait. */
static int udp_may_wait(struct dns_server *srv, const struct sockaddr *peer)
{
    uint64_t now = uv_now(srv->loop);
    struct udp_client *cl = client_get(srv, peer, 0);
    if (cl && cl->waiting >= srv->max_per_client) {
        struct pending *old = PENDING_OF(cl->queries.next, client_link);
        if (now - old->since < SERVER_JOSTLE_MS)
            return 0;
        srv->stats.jostled++;
        pending_drop(old, NULL);
    }
    if (srv->n_udp_waiting >= srv->max_waiting) {
        struct pending *old = PENDING_OF(srv->udp_waiting.next, link);
        if (now - old->since < SERVER_JOSTLE_MS)
            return 0;
        srv->stats.jostled++;
        pending_drop(old, NULL);
    }
    return 1;
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
    if (!addr_cidr_match(srv->allow, srv->n_allow, peer)) {
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
        struct resolver_answer ans;
        if (!conn) {
            /* A cache hit waits for nothing; a miss must fit the UDP caps, or
             * is dropped (the client asks again). */
            if (resolver_answer_cached(srv->resolver, &q, srv->out, sizeof srv->out, &ans)) {
                reply(srv, udp, peer, conn, &q, srv->out, ans.len);
                return;
            }
            if (!udp_may_wait(srv, peer)) {
                srv->stats.shed++;
                return;
            }
        }
        struct pending *p = calloc(1, sizeof *p);
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
        pending_link(p);
        rc = resolver_answer(srv->resolver, &p->req, srv->out, sizeof srv->out, &ans);
        if (rc == 0)
            return; /* pending_done() takes it from here */
        pending_unlink(p);
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
    struct dns_server *srv = c->srv;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    free(c->rbuf);
    free(c);
    server_maybe_free(srv);
}

static void accepting_update(struct dns_server *srv)
{
    int pause = srv->closing || srv->stats.tcp_open >= srv->max_tcp;
    if (pause == srv->accepting_paused)
        return;
    srv->accepting_paused = pause;
    for (size_t i = 0; i < srv->n_listeners; i++) {
        if (!srv->listeners[i].tcp)
            continue;
        if (pause)
            acceptor_pause(srv->listeners[i].tcp);
        else
            acceptor_resume(srv->listeners[i].tcp);
    }
}

static void tcp_conn_close(struct tcp_conn *c)
{
    if (c->closing == 2)
        return;
    /* Cancel what this connection still waits for. */
    while (c->waiting.next != &c->waiting) {
        struct pending *p = PENDING_OF(c->waiting.next, link);
        resolver_request_cancel(&p->req);
        pending_unlink(p);
        free(p);
    }
    c->closing = 2;
    c->srv->stats.tcp_open--;
    uv_close((uv_handle_t *)&c->tcp, tcp_conn_freed);
    accepting_update(c->srv);
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
    const uint8_t *m;
    size_t mlen;
    while (!c->closing && !c->refused && !c->draining && c->writes < SERVER_TCP_MAX_WRITES &&
           c->pending < SERVER_TCP_MAX_PENDING &&
           dns_frame_next(c->rbuf + off, c->rlen - off, &m, &mlen)) {
        c->active = uv_now(c->srv->loop); /* a whole query: what counts as activity */
        serve_query(c->srv, m, mlen, NULL, (struct sockaddr *)&c->peer, c);
        off += DNS_FRAME_PREFIX + mlen;
    }
    if (c->closing)
        return;
    c->rlen = dns_frame_consume(c->rbuf, c->rlen, off);
    int want = !c->refused && !c->draining && c->writes < SERVER_TCP_MAX_WRITES &&
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
    tcp_process(c);
}

static void tcp_read_start(struct tcp_conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, tcp_alloc, tcp_read) == 0)
        c->reading = 1;
}

static void tcp_accept(void *data, int fd, const struct sockaddr *peer, socklen_t peer_len)
{
    struct listener *l = data;
    struct dns_server *srv = l->srv;
    struct tcp_conn *c = NULL;

    if (srv->closing || !(c = calloc(1, sizeof *c)) || !(c->rbuf = malloc(SERVER_TCP_BUF))) {
        if (c)
            free(c);
        close(fd);
        return;
    }
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    c->srv = srv;
    link_init(&c->waiting);
    memcpy(&c->peer, peer, peer_len < sizeof c->peer ? peer_len : sizeof c->peer);
    c->opened = c->active = uv_now(srv->loop);
    c->next = srv->conns.next;
    c->prev = &srv->conns;
    srv->conns.next->prev = c;
    srv->conns.next = c;
    srv->stats.tcp_open++;
    if (uv_tcp_open(&c->tcp, fd) < 0) {
        close(fd);
        tcp_conn_close(c);
        return;
    }
    srv->stats.tcp_connections++;
    uv_tcp_nodelay(&c->tcp, 1);
    tcp_read_start(c);
    accepting_update(srv);
}

/* --- bounds in time ------------------------------------------------------------ */

/* Every SERVER_SWEEP_MS: queries past their deadline are answered SERVFAIL;
 * TCP connections idle too long are closed, those past their lifetime drained. */
static void sweep(uv_timer_t *t)
{
    struct dns_server *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    uint64_t wait = (uint64_t)srv->timeout_ms + SERVER_QUERY_SLACK_MS;
    uint64_t idle = srv->stats.tcp_open > srv->max_tcp / 2 ? SERVER_TCP_BUSY_IDLE_MS
                                                            : SERVER_TCP_IDLE_MS;

    while (srv->udp_waiting.next != &srv->udp_waiting) {
        struct pending *p = PENDING_OF(srv->udp_waiting.next, link);
        if (now - p->since < wait)
            break;
        srv->stats.expired++;
        pending_drop(p, "no answer in time");
    }
    for (struct tcp_conn *c = srv->conns.next, *next; c != &srv->conns; c = next) {
        int expired = 0;
        next = c->next; /* c stays on the list until its handle is closed */
        while (!c->closing && c->waiting.next != &c->waiting) {
            struct pending *p = PENDING_OF(c->waiting.next, link);
            if (now - p->since < wait)
                break;
            srv->stats.expired++;
            expired = 1;
            pending_drop(p, "no answer in time");
        }
        if (expired && !c->closing)
            tcp_process(c);
        if (c->closing)
            continue;
        if (c->pending == 0 && now - c->active >= idle) {
            srv->stats.tcp_idle_closed++;
            tcp_conn_close(c);
        } else if (!c->draining && now - c->opened >= SERVER_TCP_LIFETIME_MS) {
            c->draining = 1;
            if (c->pending == 0 && c->writes == 0)
                tcp_conn_close(c);
            else
                tcp_process(c);
        }
    }
}

/* --- set-up ---------------------------------------------------------------- */

static void listener_closed(uv_handle_t *h)
{
    struct listener *l = h->data;
    struct dns_server *srv = l->srv;
    srv->handles_open--;
    server_maybe_free(srv);
}

/* What to do about a listen error a person meets on first start. */
static const char *listen_hint(int rc)
{
    if (rc == UV_EACCES)
        return " (port 53 needs root or CAP_NET_BIND_SERVICE: run as root, or set "
               "resolver.listen_addresses to a port above 1023)";
    if (rc == UV_EADDRINUSE)
        return " (another DNS server listens there, e.g. systemd-resolved or dnsmasq: "
               "stop it, or set resolver.listen_addresses)";
    return "";
}

static void sweep_closed(uv_handle_t *h)
{
    struct dns_server *srv = h->data;
    srv->handles_open--;
    server_maybe_free(srv);
}

static void acceptor_closed(void *data)
{
    struct listener *l = data;
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
    if ((rc = uv_udp_bind(&l->udp, sa, flags)) < 0 ||
        (rc = uv_udp_recv_start(&l->udp, udp_alloc, udp_recv)) < 0) {
        snprintf(err, errlen, "cannot listen on %s (UDP): %s%s", a->text, uv_strerror(rc),
                 listen_hint(rc));
        return -1;
    }
    if ((rc = acceptor_listen(srv->loop, sa, SERVER_TCP_BACKLOG, tcp_accept, l, "dns", &l->tcp)) <
        0) {
        snprintf(err, errlen, "cannot listen on %s (TCP): %s%s", a->text, uv_strerror(rc),
                 listen_hint(rc));
        return -1;
    }
    srv->handles_open++;
    if (srv->accepting_paused)
        acceptor_pause(l->tcp);
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
    link_init(&srv->udp_waiting);
    if (dns_cookie_secret_init(&srv->cookie_secret) < 0) {
        snprintf(err, errlen, "no random bytes for the DNS cookie secret");
        free(srv);
        return -1;
    }
    srv->conns.next = srv->conns.prev = &srv->conns;
    uv_timer_init(loop, &srv->sweep);
    srv->sweep.data = srv;
    srv->handles_open++;
    uv_timer_start(&srv->sweep, sweep, SERVER_SWEEP_MS, SERVER_SWEEP_MS);
    uv_unref((uv_handle_t *)&srv->sweep);
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
    const char *why = send_reply ? "resolver reconfigured" : NULL;
    while (srv->udp_waiting.next != &srv->udp_waiting)
        pending_drop(PENDING_OF(srv->udp_waiting.next, link), why);
    for (struct tcp_conn *c = srv->conns.next; c != &srv->conns; c = c->next)
        while (c->waiting.next != &c->waiting)
            pending_drop(PENDING_OF(c->waiting.next, link), why);
}

void dns_server_reconfigure(struct dns_server *srv, const struct config_resolver *cfg,
                            struct resolver *r)
{
    if (srv->resolver && srv->resolver != r)
        fail_pending(srv, 1);
    srv->resolver = r;
    memcpy(srv->allow, cfg->allow, sizeof srv->allow);
    srv->n_allow = cfg->n_allow;
    srv->timeout_ms = cfg->timeout_ms;
    srv->max_tcp = cfg->max_tcp_clients ? cfg->max_tcp_clients : 1;
    srv->max_waiting = cfg->max_waiting_queries ? cfg->max_waiting_queries : 1;
    srv->max_per_client = cfg->max_waiting_per_client ? cfg->max_waiting_per_client : 1;
    accepting_update(srv);
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
        if (srv->listeners[i].udp_open)
            uv_close((uv_handle_t *)&srv->listeners[i].udp, listener_closed);
        acceptor_close(srv->listeners[i].tcp, acceptor_closed);
    }
    uv_close((uv_handle_t *)&srv->sweep, sweep_closed);
    server_maybe_free(srv);
}

void dns_server_get_stats(const struct dns_server *srv, struct dns_server_stats *st)
{
    *st = srv->stats;
}
