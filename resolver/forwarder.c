/* resolver/forwarder.c — a caching forwarder between getdns and the upstreams.
 *
 * getdns sends its queries (the client's, and the DNSKEY/DS queries of every
 * validation) here; a cached upstream response answers at once, with its TTLs
 * aged, else the query goes upstream under an ID of our own and the response
 * comes back to getdns and into the cache. An upstream attempt that is not
 * answered in FWD_ATTEMPT_MS moves to the next upstream; after FWD_ATTEMPTS per
 * upstream (8 at most) nothing is answered and getdns's request is retried by
 * upstream.c's timers.
 * Each UDP attempt has its own socket (a fresh source port, as getdns and
 * every resolver does against spoofing), a random ID, and a response must come
 * from the upstream asked.
 *
 * Its TCP listener serves getdns alone: a connection is kept only when its
 * peer is a socket getdns opened in this process (uvloop.c tracks them), at
 * most FWD_MAX_CONNS at once (getdns keeps one per context), and accept errors
 * back off (acceptor.c) instead of spinning.
 */
#include "forwarder.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "cache.h"
#include "log.h"
#include "uvloop.h"
#include "wire.h"

#define FWD_ATTEMPT_MS 700
#define FWD_TCP_ATTEMPT_MS 2000
#define FWD_ATTEMPTS 3
#define FWD_CACHE_BYTES (8u << 20)
#define FWD_MAX_TTL 86400
#define FWD_MAX_PENDING 2048 /* each holds a socket: stay well inside the fd limit */
#define FWD_MAX_CONNS 16     /* TCP connections from getdns (one per context) */
#define FWD_TCP_BUF (2 + 65535)

struct fwd_conn;

struct fwd_req {
    struct forwarder *fw;
    struct dns_query q; /* as getdns asked */
    uint8_t *query;     /* getdns's query bytes */
    size_t qlen;
    struct fwd_conn *conn; /* getdns came over TCP; else UDP from peer */
    struct sockaddr_storage peer;
    uint16_t up_id;
    int attempts;
    size_t upstream; /* index of the upstream being tried */
    int use_tcp;
    uv_timer_t timer;
    uv_udp_t *up_udp;       /* this attempt's own socket (a fresh source port) */
    struct fwd_tcp *up_tcp; /* this attempt's TCP to the upstream, when use_tcp */
    int done;
};

/* One TCP attempt towards an upstream. It owns its requests and buffer, and
 * lives until its own close callback: libuv may still call its connect and
 * write callbacks (ECANCELED) after the request gave up on it (r == NULL). */
struct fwd_tcp {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    struct fwd_req *r;
    size_t len;
    uint8_t buf[FWD_TCP_BUF]; /* the query out, then the response in */
};

struct fwd_conn {
    uv_tcp_t tcp;
    struct forwarder *fw;
    struct fwd_conn *next, *prev; /* on fw->conns */
    uint8_t *rbuf;
    size_t rlen;
    unsigned refs; /* requests still answering to it */
    int closed;
};

struct forwarder {
    uv_loop_t *loop;
    uv_udp_t udp; /* getdns's side */
    struct acceptor *tcp;
    struct sockaddr_in addr; /* where it listens (UDP and TCP) */
    unsigned n_conns;        /* on conns, not yet freed */
    int accept_paused;
    size_t max_pending;      /* fitted to the open-file limit */
    unsigned handles;
    int closing;
    struct config_upstream upstreams[CONFIG_MAX_ADDRS];
    size_t n_upstreams;
    struct dns_cache *cache;
    struct fwd_conn conns; /* list head */
    struct fwd_req *by_id[65536];
    size_t pending;
    struct forwarder_stats stats;
    uint8_t rbuf[65536];
    uint8_t out[65536];
};

static void fw_release(struct forwarder *fw)
{
    if (--fw->handles == 0 && fw->closing) {
        dns_cache_free(fw->cache);
        free(fw);
    }
}

static void fw_handle_closed(uv_handle_t *h)
{
    fw_release(h->data);
}

static void fw_acceptor_closed(void *data)
{
    fw_release(data);
}

/* --- answering getdns ------------------------------------------------------ */

static void conn_release(struct fwd_conn *c);

struct fwd_write {
    uv_write_t req;
    struct fwd_conn *conn;
    uint8_t data[];
};

static void conn_write_done(uv_write_t *w, int status)
{
    struct fwd_write *fwr = (struct fwd_write *)w;
    conn_release(fwr->conn);
    free(fwr);
}

/* Over UDP an answer larger than getdns's EDNS size goes out truncated (TC):
 * getdns asks again over TCP, and the cache has the whole answer by then. */
static void answer(struct forwarder *fw, struct fwd_conn *conn, const struct sockaddr *peer,
                   const struct dns_query *q, uint8_t *msg, size_t len)
{
    if (conn) {
        if (conn->closed)
            return;
        struct fwd_write *w = malloc(sizeof *w + 2 + len);
        if (!w)
            return;
        w->conn = conn;
        w->data[0] = (uint8_t)(len >> 8);
        w->data[1] = (uint8_t)len;
        memcpy(w->data + 2, msg, len);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)(len + 2));
        conn->refs++;
        if (uv_write(&w->req, (uv_stream_t *)&conn->tcp, &b, 1, conn_write_done) < 0) {
            conn->refs--;
            free(w);
        }
        return;
    }
    size_t max = q->has_edns && q->udp_size > 512 ? q->udp_size : 512;
    if (len > max)
        dns_reply_truncate(msg, len, max, &len);
    uv_buf_t b = uv_buf_init((char *)msg, (unsigned)len);
    uv_udp_try_send(&fw->udp, &b, 1, peer); /* a lost answer is retried by getdns's side */
}

/* --- requests ---------------------------------------------------------------- */

static void req_closed(uv_handle_t *h)
{
    struct fwd_req *r = h->data;
    if (r->conn)
        conn_release(r->conn);
    free(r->query);
    free(r);
}

static void up_tcp_closed(uv_handle_t *h)
{
    free(h);
}

static void req_drop_tcp(struct fwd_req *r)
{
    if (r->up_tcp) {
        r->up_tcp->r = NULL;
        uv_close((uv_handle_t *)&r->up_tcp->tcp, up_tcp_closed);
        r->up_tcp = NULL;
    }
    if (r->up_udp) {
        uv_close((uv_handle_t *)r->up_udp, up_tcp_closed);
        r->up_udp = NULL;
    }
}

static void req_finish(struct fwd_req *r)
{
    struct forwarder *fw = r->fw;
    if (r->done)
        return;
    r->done = 1;
    if (fw->by_id[r->up_id] == r)
        fw->by_id[r->up_id] = NULL;
    fw->pending--;
    req_drop_tcp(r);
    uv_close((uv_handle_t *)&r->timer, req_closed);
}

/* The upstream's response to r: into the cache when it may be, then to getdns. */
static void req_deliver(struct fwd_req *r, uint8_t *msg, size_t len)
{
    struct forwarder *fw = r->fw;
    int rcode = dns_msg_rcode(msg, len);
    uint32_t ttl = 0;
    if ((rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN) && !(msg[2] & 0x02) &&
        dns_answer_ttl(msg, len, &ttl) == 0 && ttl > 0) {
        struct dns_cache_key k;
        dns_cache_key_of_query(&r->q, &k);
        dns_cache_put(fw->cache, &k, msg, len, DNS_INDETERMINATE,
                      ttl > FWD_MAX_TTL ? FWD_MAX_TTL : ttl, uv_now(fw->loop));
    }
    msg[0] = (uint8_t)(r->q.id >> 8);
    msg[1] = (uint8_t)r->q.id;
    answer(fw, r->conn, (struct sockaddr *)&r->peer, &r->q, msg, len);
    req_finish(r);
}

static void req_attempt(struct fwd_req *r);

static void req_timeout(uv_timer_t *t)
{
    struct fwd_req *r = t->data;
    req_drop_tcp(r);
    r->upstream = (r->upstream + 1) % r->fw->n_upstreams;
    req_attempt(r);
}

/* TCP to the upstream: connect, write the query, read one response. */
static void up_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct fwd_tcp *t = h->data;
    buf->base = (char *)t->buf + t->len;
    buf->len = FWD_TCP_BUF - t->len;
}

static void up_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct fwd_tcp *t = s->data;
    struct fwd_req *r = t->r;
    if (!r)
        return;
    if (n < 0) {
        req_drop_tcp(r); /* the attempt timer moves on */
        return;
    }
    t->len += (size_t)n;
    if (t->len >= 2) {
        size_t mlen = (size_t)t->buf[0] << 8 | t->buf[1];
        if (t->len >= 2 + mlen && mlen >= DNS_HEADER_LEN &&
            ((size_t)t->buf[2] << 8 | t->buf[3]) == r->up_id)
            req_deliver(r, t->buf + 2, mlen);
        else if (t->len >= 2 + mlen || t->len == FWD_TCP_BUF)
            req_drop_tcp(r);
    }
}

static void up_tcp_written(uv_write_t *w, int status)
{
    struct fwd_tcp *t = w->data;
    if (status < 0 || !t->r)
        return;
    t->len = 0;
    uv_read_start((uv_stream_t *)&t->tcp, up_tcp_alloc, up_tcp_read);
}

static void up_tcp_connected(uv_connect_t *c, int status)
{
    struct fwd_tcp *t = c->data;
    if (status < 0 || !t->r)
        return;
    uv_buf_t b = uv_buf_init((char *)t->buf, (unsigned)t->len);
    t->wreq.data = t;
    if (uv_write(&t->wreq, (uv_stream_t *)&t->tcp, &b, 1, up_tcp_written) < 0)
        req_drop_tcp(t->r);
}

static void up_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void upstream_udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                              const struct sockaddr *peer, unsigned flags);

static void req_attempt(struct fwd_req *r)
{
    struct forwarder *fw = r->fw;
    const struct config_upstream *u = &fw->upstreams[r->upstream];
    const struct sockaddr *sa = (const struct sockaddr *)&u->addr.ss;

    if (++r->attempts > FWD_ATTEMPTS * (int)fw->n_upstreams || r->attempts > 8) {
        fw->stats.failures++;
        req_finish(r);
        return;
    }
    fw->stats.upstream++;
    r->query[0] = (uint8_t)(r->up_id >> 8);
    r->query[1] = (uint8_t)r->up_id;
    if (!r->use_tcp) {
        struct sockaddr_in any4 = {.sin_family = AF_INET};
        struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
        uv_buf_t b = uv_buf_init((char *)r->query, (unsigned)r->qlen);
        r->up_udp = malloc(sizeof *r->up_udp);
        if (r->up_udp) {
            uv_udp_init(fw->loop, r->up_udp);
            r->up_udp->data = r;
            if (uv_udp_bind(r->up_udp,
                            sa->sa_family == AF_INET6 ? (struct sockaddr *)&any6
                                                      : (struct sockaddr *)&any4,
                            0) == 0 &&
                uv_udp_recv_start(r->up_udp, up_udp_alloc, upstream_udp_recv) == 0)
                uv_udp_try_send(r->up_udp, &b, 1, sa);
        }
        uv_timer_start(&r->timer, req_timeout, FWD_ATTEMPT_MS, 0);
        return;
    }
    struct fwd_tcp *t = malloc(sizeof *t);
    if (!t) {
        req_finish(r);
        return;
    }
    t->r = r;
    t->len = r->qlen + 2;
    t->buf[0] = (uint8_t)(r->qlen >> 8);
    t->buf[1] = (uint8_t)r->qlen;
    memcpy(t->buf + 2, r->query, r->qlen);
    uv_tcp_init(fw->loop, &t->tcp);
    t->tcp.data = t;
    t->creq.data = t;
    r->up_tcp = t;
    if (uv_tcp_connect(&t->creq, &t->tcp, sa, up_tcp_connected) < 0)
        req_drop_tcp(r);
    uv_timer_start(&r->timer, req_timeout, FWD_TCP_ATTEMPT_MS, 0);
}

/* A query from getdns: from the cache, or upstream. */
static void handle_query(struct forwarder *fw, const uint8_t *msg, size_t len,
                         struct fwd_conn *conn, const struct sockaddr *peer)
{
    struct dns_query q;
    struct dns_cache_key k;
    struct dns_cache_hit hit;

    fw->stats.queries++;
    if (dns_query_parse(msg, len, &q) < 0 || fw->n_upstreams == 0)
        return;
    dns_cache_key_of_query(&q, &k);
    if (dns_cache_get(fw->cache, &k, uv_now(fw->loop), &hit) == 1 && hit.len <= sizeof fw->out) {
        size_t n = hit.len;
        fw->stats.hits++;
        memcpy(fw->out, hit.msg, n);
        /* Our ID, the question's case, aged TTLs; AD from upstream is dropped:
         * getdns validates for itself. */
        if (dns_reply_patch(fw->out, &n, &q, DNS_INDETERMINATE, hit.age_s) == 0) {
            answer(fw, conn, peer, &q, fw->out, n);
            return;
        }
    }
    if (fw->pending >= fw->max_pending)
        return;
    struct fwd_req *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->query = malloc(len);
    if (!r->query) {
        free(r);
        return;
    }
    memcpy(r->query, msg, len);
    r->qlen = len;
    r->q = q;
    r->fw = fw;
    r->conn = conn;
    if (conn)
        conn->refs++;
    else
        memcpy(&r->peer, peer,
               peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in));
    do {
        if (getrandom(&r->up_id, sizeof r->up_id, 0) != sizeof r->up_id)
            r->up_id = (uint16_t)random();
    } while (fw->by_id[r->up_id]);
    fw->by_id[r->up_id] = r;
    fw->pending++;
    uv_timer_init(fw->loop, &r->timer);
    r->timer.data = r;
    r->upstream = (size_t)random() % fw->n_upstreams;
    req_attempt(r);
}

/* --- UDP -------------------------------------------------------------------------- */

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct forwarder *fw = h->data;
    buf->base = (char *)fw->rbuf;
    buf->len = sizeof fw->rbuf;
}

static void up_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct fwd_req *r = h->data;
    buf->base = (char *)r->fw->rbuf;
    buf->len = sizeof r->fw->rbuf;
}

static void getdns_udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                            const struct sockaddr *peer, unsigned flags)
{
    struct forwarder *fw = u->data;
    if (n <= 0 || !peer || fw->closing)
        return;
    handle_query(fw, (const uint8_t *)buf->base, (size_t)n, NULL, peer);
}

static int same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

static void upstream_udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                              const struct sockaddr *peer, unsigned flags)
{
    struct fwd_req *r = u->data;
    struct forwarder *fw = r->fw;
    uint8_t *msg = (uint8_t *)buf->base;
    if (n < DNS_HEADER_LEN || !peer || fw->closing || r->done || !(msg[2] & 0x80))
        return;
    if ((uint16_t)(msg[0] << 8 | msg[1]) != r->up_id || r->use_tcp ||
        !same_addr(peer, (const struct sockaddr *)&fw->upstreams[r->upstream].addr.ss))
        return;          /* late, spoofed, or not ours */
    if (msg[2] & 0x02) { /* truncated: the same upstream over TCP */
        r->use_tcp = 1;
        r->attempts--;
        uv_timer_stop(&r->timer);
        req_drop_tcp(r);
        req_attempt(r);
        return;
    }
    uv_timer_stop(&r->timer);
    req_deliver(r, msg, (size_t)n);
}

/* --- TCP from getdns ------------------------------------------------------------------ */

static void conn_freed(uv_handle_t *h)
{
    struct fwd_conn *c = h->data;
    struct forwarder *fw = c->fw;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    free(c->rbuf);
    free(c);
    fw->n_conns--;
    if (fw->accept_paused && !fw->closing && fw->n_conns < FWD_MAX_CONNS) {
        fw->accept_paused = 0;
        acceptor_resume(fw->tcp);
    }
    fw_release(fw);
}

static void conn_release(struct fwd_conn *c)
{
    if (--c->refs == 0 && c->closed)
        uv_close((uv_handle_t *)&c->tcp, conn_freed);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct fwd_conn *c = h->data;
    buf->base = (char *)c->rbuf + c->rlen;
    buf->len = FWD_TCP_BUF - c->rlen;
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct fwd_conn *c = s->data;
    size_t off = 0;
    if (n < 0 || c->fw->closing) {
        if (!c->closed) {
            c->closed = 1;
            uv_read_stop(s);
            c->refs++;
            conn_release(c); /* closes now unless requests still refer to it */
        }
        return;
    }
    c->rlen += (size_t)n;
    while (c->rlen - off >= 2) {
        size_t mlen = (size_t)c->rbuf[off] << 8 | c->rbuf[off + 1];
        if (c->rlen - off - 2 < mlen)
            break;
        handle_query(c->fw, c->rbuf + off + 2, mlen, c, NULL);
        off += 2 + mlen;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
}

/* Whether peer is getdns: a socket getdns opened, on the forwarder's address
 * (getdns connects from 127.0.0.1, the address it was given). Anyone else on
 * the machine can connect too, and is not served. */
static int peer_is_getdns(const struct forwarder *fw, const struct sockaddr *peer)
{
    const struct sockaddr_in *p4 = (const void *)peer;
    return peer->sa_family == AF_INET && p4->sin_addr.s_addr == fw->addr.sin_addr.s_addr &&
           uvloop_getdns_socket_at(peer);
}

static void on_accept(void *data, int fd, const struct sockaddr *peer, socklen_t peer_len)
{
    struct forwarder *fw = data;
    struct fwd_conn *c = NULL;
    (void)peer_len;
    if (fw->closing || !peer_is_getdns(fw, peer)) {
        if (!fw->closing)
            log_debug("forwarder: a TCP connection not from getdns: closed");
        close(fd);
        return;
    }
    if (!(c = calloc(1, sizeof *c)) || !(c->rbuf = malloc(FWD_TCP_BUF))) {
        free(c);
        close(fd);
        return;
    }
    c->fw = fw;
    c->next = fw->conns.next;
    c->prev = &fw->conns;
    fw->conns.next->prev = c;
    fw->conns.next = c;
    fw->handles++;
    fw->n_conns++;
    if (fw->n_conns >= FWD_MAX_CONNS && !fw->accept_paused) {
        fw->accept_paused = 1;
        acceptor_pause(fw->tcp);
    }
    uv_tcp_init(fw->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_tcp_open(&c->tcp, fd) < 0) {
        close(fd);
        c->closed = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_freed);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) < 0) {
        c->closed = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_freed);
    }
}

/* --- set-up -------------------------------------------------------------------------- */

int forwarder_new(uv_loop_t *loop, const struct config_resolver *cfg, struct forwarder **out,
                  struct sockaddr_storage *addr, char *err, size_t errlen)
{
    struct forwarder *fw = calloc(1, sizeof *fw);
    int rc;

    if (!fw || !(fw->cache = dns_cache_new(FWD_CACHE_BYTES))) {
        free(fw);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fw->loop = loop;
    fw->conns.next = fw->conns.prev = &fw->conns;
    memcpy(fw->upstreams, cfg->upstreams, sizeof fw->upstreams);
    fw->n_upstreams = cfg->n_upstreams;
    fw->max_pending = cfg->max_forwarder_sockets ? cfg->max_forwarder_sockets : FWD_MAX_PENDING;
    uv_udp_init(loop, &fw->udp);
    fw->udp.data = fw;
    fw->handles = 1; /* the UDP handle; the acceptor is counted once it exists */

    /* One port for UDP and TCP: the kernel picks it for UDP; a few tries if TCP
     * finds it taken. Plain sockets first, handed to libuv only once both are
     * bound: no libuv handle is ever closed and reused here (this may run from
     * inside a loop callback, on reload). */
    int ufd = -1, tfd = -1;
    rc = UV_EADDRINUSE;
    for (int tries = 0; tries < 16 && rc != 0; tries++) {
        struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof *addr;
        ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (ufd >= 0 && tfd >= 0 && bind(ufd, (struct sockaddr *)&lo, sizeof lo) == 0 &&
            getsockname(ufd, (struct sockaddr *)addr, &alen) == 0 &&
            bind(tfd, (struct sockaddr *)addr, alen) == 0) {
            rc = 0;
            break;
        }
        rc = uv_translate_sys_error(errno);
        if (ufd >= 0)
            close(ufd);
        if (tfd >= 0)
            close(tfd);
        ufd = tfd = -1;
    }
    if (rc == 0)
        memcpy(&fw->addr, addr, sizeof fw->addr);
    if (rc == 0 && (rc = uv_udp_open(&fw->udp, ufd)) < 0) {
        close(ufd);
        close(tfd);
    } else if (rc == 0 &&
               (rc = acceptor_open(loop, tfd, 128, on_accept, fw, "forwarder", &fw->tcp)) == 0) {
        fw->handles++; /* tfd is the acceptor's now, closed by it on failure too */
    }
    if (rc == 0)
        rc = uv_udp_recv_start(&fw->udp, udp_alloc, getdns_udp_recv);
    if (rc < 0) {
        snprintf(err, errlen, "forwarder: cannot listen on 127.0.0.1: %s", uv_strerror(rc));
        forwarder_free(fw);
        return -1;
    }
    *out = fw;
    return 0;
}

void forwarder_free(struct forwarder *fw)
{
    if (!fw)
        return;
    fw->closing = 1;
    for (size_t i = 0; i < 65536; i++)
        if (fw->by_id[i])
            req_finish(fw->by_id[i]);
    for (struct fwd_conn *c = fw->conns.next; c != &fw->conns; c = c->next) {
        if (c->closed)
            continue;
        c->closed = 1;
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->refs++;
        conn_release(c);
    }
    uv_close((uv_handle_t *)&fw->udp, fw_handle_closed);
    acceptor_close(fw->tcp, fw_acceptor_closed);
}

void forwarder_get_stats(const struct forwarder *fw, struct forwarder_stats *st)
{
    *st = fw->stats;
}
