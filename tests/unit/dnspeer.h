/* tests/unit/dnspeer.h — a tiny DNS peer and client for the resolver's unit
 * tests (test_forwarder.c, test_server.c, test_lookup.c).
 *
 * The peer plays the upstream recursive server on 127.0.0.1 (UDP and TCP, on
 * ports the kernel picks), with plain non-blocking sockets that pump() polls
 * between turns of the module's libuv loop; what it answers is up to the test
 * (peer->answer). The client side sends queries from plain sockets too. Only
 * loopback is ever used.
 */
#ifndef DNSPEER_H
#define DNSPEER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "dns_frame.h"

#define PEER_MAX_CONNS 8
#define PEER_TCP_BUF (DNS_FRAME_PREFIX + DNS_FRAME_MAX)

struct peer;

/* Write the reply to query q (qlen bytes, over_tcp or not) into out (cap):
 * returns its length, or 0 to send nothing. May send more itself
 * (peer_send_udp()). */
typedef size_t (*peer_answer_fn)(struct peer *p, const uint8_t *q, size_t qlen, int over_tcp,
                                 uint8_t *out, size_t cap);

struct peer {
    int udp, listen_fd;
    int conns[PEER_MAX_CONNS];
    uint8_t *cbuf[PEER_MAX_CONNS];
    size_t clen[PEER_MAX_CONNS];
    uint16_t port;
    unsigned udp_queries, tcp_queries; /* counted: see count_only */
    const char *count_only; /* when set, only queries for names ending so count
                             * (the resolver's own probes of the upstream do not) */
    peer_answer_fn answer;
    struct sockaddr_in last_from; /* the last UDP query's source */
    uint8_t last_query[512];
    size_t last_len;
    int hold;                /* queries are read and counted, not answered */
    uint8_t held[4][512];    /* the UDP queries held, to answer on release */
    size_t held_len[4];
    struct sockaddr_in held_from[4];
    unsigned n_held;
};

static inline void question_name(const uint8_t *msg, size_t len, char *out, size_t cap);

/* Whether query q counts (peer->count_only). */
static inline int peer_counts(const struct peer *p, const uint8_t *q, size_t len)
{
    char name[256];
    if (!p->count_only)
        return 1;
    question_name(q, len, name, sizeof name);
    size_t n = strlen(name), m = strlen(p->count_only);
    return n >= m && strcasecmp(name + n - m, p->count_only) == 0;
}

static inline struct sockaddr_in peer_loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* rc's one upstream: the peer on 127.0.0.1#port. */
static inline void peer_as_upstream(struct config_resolver *rc, uint16_t port)
{
    struct sockaddr_in up = peer_loopback(port);
    memcpy(&rc->upstreams[0].addr.ss, &up, sizeof up);
    rc->upstreams[0].addr.len = sizeof up;
    snprintf(rc->upstreams[0].addr.text, sizeof rc->upstreams[0].addr.text, "127.0.0.1@%u",
             port);
    rc->n_upstreams = 1;
}

/* The peer on 127.0.0.1, UDP and TCP on one port the kernel picks (a port free
 * for UDP may be taken for TCP: then another). 0, or -1. */
static inline int peer_open(struct peer *p, peer_answer_fn answer)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < PEER_MAX_CONNS; i++)
        p->conns[i] = -1;
    p->answer = answer;
    for (int tries = 0; tries < 20; tries++) {
        struct sockaddr_in a = peer_loopback(0);
        socklen_t al = sizeof a;
        int one = 1;
        p->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (p->udp >= 0 && p->listen_fd >= 0 &&
            bind(p->udp, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(p->udp, (struct sockaddr *)&a, &al) == 0 &&
            setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(p->listen_fd, 8) == 0) {
            p->port = ntohs(a.sin_port);
            return 0;
        }
        if (p->udp >= 0)
            close(p->udp);
        if (p->listen_fd >= 0)
            close(p->listen_fd);
    }
    fprintf(stderr, "  peer: no port for UDP and TCP both: %s\n", strerror(errno));
    return -1;
}

static inline void peer_close(struct peer *p)
{
    close(p->udp);
    close(p->listen_fd);
    for (int i = 0; i < PEER_MAX_CONNS; i++) {
        if (p->conns[i] >= 0)
            close(p->conns[i]);
        free(p->cbuf[i]);
    }
}

static inline void peer_send_udp(struct peer *p, const uint8_t *msg, size_t len,
                          const struct sockaddr_in *to)
{
    if (sendto(p->udp, msg, len, 0, (const struct sockaddr *)to, sizeof *to) < 0)
        fprintf(stderr, "  peer: sendto: %s\n", strerror(errno));
}

static inline void peer_udp_answer(struct peer *p, const uint8_t *q, size_t n,
                            const struct sockaddr_in *from)
{
    static uint8_t out[65535];
    size_t len = p->answer(p, q, n, 0, out, sizeof out);
    if (len)
        peer_send_udp(p, out, len, from);
}

/* Answer the UDP queries held while p->hold was set. */
static inline void peer_release(struct peer *p)
{
    p->hold = 0;
    for (unsigned i = 0; i < p->n_held; i++)
        peer_udp_answer(p, p->held[i], p->held_len[i], &p->held_from[i]);
    p->n_held = 0;
}

/* Serve whatever has come in, without waiting. */
static inline void peer_poll(struct peer *p)
{
    uint8_t q[4096];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n;
    while ((n = recvfrom(p->udp, q, sizeof q, MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) > 0) {
        p->udp_queries += (unsigned)peer_counts(p, q, (size_t)n);
        p->last_from = from;
        p->last_len = (size_t)n < sizeof p->last_query ? (size_t)n : sizeof p->last_query;
        memcpy(p->last_query, q, p->last_len);
        if (p->hold) {
            if (p->n_held < 4 && (size_t)n <= sizeof p->held[0]) {
                memcpy(p->held[p->n_held], q, (size_t)n);
                p->held_len[p->n_held] = (size_t)n;
                p->held_from[p->n_held++] = from;
            }
        } else {
            peer_udp_answer(p, q, (size_t)n, &from);
        }
        fl = sizeof from;
    }
    int fd;
    while ((fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        int i = 0;
        while (i < PEER_MAX_CONNS && p->conns[i] >= 0)
            i++;
        if (i == PEER_MAX_CONNS) {
            close(fd);
            continue;
        }
        p->conns[i] = fd;
        if (!p->cbuf[i])
            p->cbuf[i] = malloc(PEER_TCP_BUF);
        p->clen[i] = 0;
    }
    for (int i = 0; i < PEER_MAX_CONNS; i++) {
        if (p->conns[i] < 0)
            continue;
        n = read(p->conns[i], p->cbuf[i] + p->clen[i], PEER_TCP_BUF - p->clen[i]);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            close(p->conns[i]);
            p->conns[i] = -1;
            continue;
        }
        if (n < 0)
            continue;
        p->clen[i] += (size_t)n;
        const uint8_t *m;
        size_t mlen, off = 0;
        while (dns_frame_next(p->cbuf[i] + off, p->clen[i] - off, &m, &mlen)) {
            static uint8_t out[65535], framed[PEER_TCP_BUF];
            p->tcp_queries += (unsigned)peer_counts(p, m, mlen);
            size_t len = p->answer(p, m, mlen, 1, out, sizeof out);
            size_t fn = len ? dns_frame_encode(framed, sizeof framed, out, len) : 0;
            if (fn && send(p->conns[i], framed, fn, MSG_NOSIGNAL) != (ssize_t)fn)
                fprintf(stderr, "  peer: short TCP write\n");
            off += DNS_FRAME_PREFIX + mlen;
        }
        p->clen[i] = dns_frame_consume(p->cbuf[i], p->clen[i], off);
    }
}

static inline uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Turn the loop and serve the peer (NULL: none) until done(arg) or ms pass.
 * Returns done's last value. */
static inline int pump(uv_loop_t *loop, struct peer *p, int (*done)(void *arg), void *arg, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    for (;;) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (p)
            peer_poll(p);
        uv_run(loop, UV_RUN_NOWAIT);
        if (done && done(arg))
            return 1;
        if (now_ms() >= end)
            return 0;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

/* --- messages ----------------------------------------------------------------- */

/* A query for name ("a.b." or "a.b") and qtype, IN, with id; cd sets CD; edns >
 * 0 adds an OPT RR with that UDP size. Returns its length. */
static inline size_t make_query(uint8_t *out, uint16_t id, const char *name, uint16_t qtype, int cd,
                         uint16_t edns)
{
    size_t n = 0;
    out[n++] = (uint8_t)(id >> 8);
    out[n++] = (uint8_t)id;
    out[n++] = 0x01; /* RD */
    out[n++] = cd ? 0x10 : 0;
    out[n++] = 0;
    out[n++] = 1; /* QDCOUNT */
    memset(out + n, 0, 6);
    if (edns)
        out[11] = 1; /* ARCOUNT */
    n += 6;
    const char *s = name;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        out[n++] = (uint8_t)l;
        memcpy(out + n, s, l);
        n += l;
        s += l + (dot ? 1 : 0);
    }
    out[n++] = 0;
    out[n++] = (uint8_t)(qtype >> 8);
    out[n++] = (uint8_t)qtype;
    out[n++] = 0;
    out[n++] = 1; /* IN */
    if (edns) {
        out[n++] = 0; /* root */
        out[n++] = 0;
        out[n++] = 41;
        out[n++] = (uint8_t)(edns >> 8);
        out[n++] = (uint8_t)edns;
        memset(out + n, 0, 6); /* rcode, version, flags (no DO), rdlen 0 */
        n += 6;
    }
    return n;
}

/* Where the question of msg ends (the end of its QTYPE and QCLASS), or 0. */
static inline size_t question_end(const uint8_t *msg, size_t len)
{
    size_t pos = 12;
    while (pos < len && msg[pos] != 0) {
        if (msg[pos] & 0xc0)
            return 0;
        pos += 1 + msg[pos];
    }
    return pos + 5 <= len ? pos + 5 : 0;
}

/* The question's name of msg, as text ("a.b."), into out. */
static inline void question_name(const uint8_t *msg, size_t len, char *out, size_t cap)
{
    size_t pos = 12, o = 0;
    out[0] = '\0';
    while (pos < len && msg[pos] != 0 && o + msg[pos] + 2 < cap) {
        memcpy(out + o, msg + pos + 1, msg[pos]);
        o += msg[pos];
        out[o++] = '.';
        pos += 1 + msg[pos];
    }
    out[o] = '\0';
}

static inline uint16_t question_type(const uint8_t *msg, size_t len)
{
    size_t e = question_end(msg, len);
    return e ? (uint16_t)(msg[e - 4] << 8 | msg[e - 3]) : 0;
}

/* A reply to query q: its id and question, QR and RA set (RD and CD copied),
 * flags ORed into the first flag byte (0x02 for TC), rcode, and n_a A records at the question's name (compressed), 127.0.0.(first
 * + i). No OPT RR. Returns its length, or 0 for a query without a question. */
static inline size_t make_reply(const uint8_t *q, size_t qlen, uint8_t *out, size_t cap, uint8_t flags,
                         uint8_t rcode, unsigned n_a, uint8_t first)
{
    size_t qe = question_end(q, qlen);
    if (!qe || qe + 16 * n_a > cap)
        return 0;
    memcpy(out, q, qe);
    out[2] = (uint8_t)(0x80 | (q[2] & 0x01) | flags); /* QR, RD copied */
    out[3] = (uint8_t)(0x80 | (q[3] & 0x10) | rcode); /* RA, CD copied */
    out[4] = 0;
    out[5] = 1;
    out[6] = (uint8_t)(n_a >> 8);
    out[7] = (uint8_t)n_a;
    memset(out + 8, 0, 4);
    size_t n = qe;
    for (unsigned i = 0; i < n_a; i++) {
        static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 127, 0, 0};
        memcpy(out + n, rr, sizeof rr);
        n += sizeof rr;
        out[n++] = (uint8_t)(first + i);
    }
    return n;
}

static inline uint16_t msg_id(const uint8_t *m) { return (uint16_t)(m[0] << 8 | m[1]); }
static inline int msg_rcode(const uint8_t *m) { return m[3] & 0x0f; }
static inline int msg_tc(const uint8_t *m) { return (m[2] & 0x02) != 0; }
static inline unsigned msg_ancount(const uint8_t *m) { return (unsigned)(m[6] << 8 | m[7]); }

/* The last byte of the first A record's address in reply m (len), or -1. */
static inline int first_a_last_octet(const uint8_t *m, size_t len)
{
    size_t pos = question_end(m, len);
    if (!pos || msg_ancount(m) == 0)
        return -1;
    while (pos < len) { /* owner: labels and/or a pointer */
        if ((m[pos] & 0xc0) == 0xc0) {
            pos += 2;
            break;
        }
        if (m[pos] == 0) {
            pos++;
            break;
        }
        pos += 1 + m[pos];
    }
    if (pos + 10 > len)
        return -1;
    uint16_t type = (uint16_t)(m[pos] << 8 | m[pos + 1]);
    size_t rdlen = (size_t)(m[pos + 8] << 8 | m[pos + 9]);
    if (type != 1 || rdlen != 4 || pos + 14 > len)
        return -1;
    return m[pos + 13];
}

/* --- the client side ------------------------------------------------------------ */

static inline int client_udp(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = peer_loopback(0);
    if (fd >= 0)
        bind(fd, (struct sockaddr *)&a, sizeof a);
    return fd;
}

struct client_wait {
    int fd;
    uint8_t *buf;
    size_t cap;
    ssize_t got;
};

static inline int client_wait_done(void *arg)
{
    struct client_wait *w = arg;
    ssize_t n = recv(w->fd, w->buf, w->cap, MSG_DONTWAIT);
    if (n >= 0)
        w->got = n;
    return w->got >= 0;
}

/* Send q to port on 127.0.0.1 from fd and wait (turning loop, serving p) for
 * one datagram back, into out. Returns its length, or -1 after ms. */
static inline ssize_t udp_ask(uv_loop_t *loop, struct peer *p, int fd, uint16_t port, const uint8_t *q,
                       size_t qlen, uint8_t *out, size_t cap, unsigned ms)
{
    struct sockaddr_in to = peer_loopback(port);
    if (q && sendto(fd, q, qlen, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)qlen)
        return -1;
    struct client_wait w = {fd, out, cap, -1};
    pump(loop, p, client_wait_done, &w, ms);
    return w.got;
}

/* A TCP connection to port on 127.0.0.1, non-blocking once connected. */
static inline int client_tcp(uv_loop_t *loop, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in to = peer_loopback(port);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd pfd = {fd, POLLOUT, 0};
    uint64_t end = now_ms() + 2000;
    while (now_ms() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (poll(&pfd, 1, 2) == 1)
            return fd;
    }
    close(fd);
    return -1;
}

struct tcp_wait {
    int fd;
    uint8_t *buf;
    size_t cap, len;
    unsigned want; /* whole messages */
    int eof;
};

static inline int tcp_wait_done(void *arg)
{
    struct tcp_wait *w = arg;
    ssize_t n = -1;
    while (w->len < w->cap && (n = recv(w->fd, w->buf + w->len, w->cap - w->len, MSG_DONTWAIT)) > 0)
        w->len += (size_t)n;
    if (n == 0)
        w->eof = 1;
    size_t off = 0, mlen;
    const uint8_t *m;
    unsigned have = 0;
    while (dns_frame_next(w->buf + off, w->len - off, &m, &mlen)) {
        have++;
        off += DNS_FRAME_PREFIX + mlen;
    }
    return have >= w->want || w->eof;
}

/* Read from fd until want whole framed messages are in buf (or EOF, or ms
 * pass). Returns the bytes read; *eof says whether the peer closed. */
static inline size_t tcp_read_frames(uv_loop_t *loop, struct peer *p, int fd, uint8_t *buf, size_t cap,
                              unsigned want, unsigned ms, int *eof)
{
    struct tcp_wait w = {fd, buf, cap, 0, want, 0};
    pump(loop, p, tcp_wait_done, &w, ms);
    if (eof)
        *eof = w.eof;
    return w.len;
}

#endif
