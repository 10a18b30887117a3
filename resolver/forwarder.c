/* resolver/forwarder.c — a caching forwarder between getdns and the upstreams.
 *
 * getdns sends its queries (the client's, and the DNSKEY/DS queries of every
 * validation) here; a cached upstream response answers at once, with its TTLs
 * aged, else the query goes upstream and the response comes back to getdns and
 * into the cache. Identical queries in flight (name, type, class, DO, CD) share
 * one upstream request.
 *
 * Transports go in dns_transport_list order (pick_transport()): UDP tries
 * below, TCP and TLS tries as queries on one kept-open connection per
 * upstream and transport (upconn.c: pipelined, padded and authenticated over
 * TLS). A connection that cannot be set up or authenticated backs its
 * transport off for that upstream (FWD_BACKOFF_MIN_MS doubling to
 * FWD_BACKOFF_MAX_MS), and the next transport, or upstream, is used; with
 * GETDNS_AUTHENTICATION_REQUIRED and TLS in the list only TLS is ever used, and
 * when no upstream authenticates the request gets SERVFAIL at once.
 *
 * Each UDP try has its own socket (a fresh source port, as getdns and every
 * resolver does against spoofing) and a random ID; a response must come from
 * the upstream asked, to that socket, with that ID and the question asked
 * (name case-insensitively, type, class), else it is dropped and the try keeps
 * listening. A try unanswered after its upstream's retransmit timeout (Unbound's
 * infra cache: srtt + 4 * rttvar from measured round trips, doubled on each
 * loss, FWD_RTO_MIN..FWD_RTO_MAX) is not closed: another try goes out beside it,
 * to the next upstream, and the first valid answer of any try is taken. A
 * request gives up, silently, at the configured timeout; getdns's side is
 * retried by upstream.c. Tries in all (UDP and TCP, one socket each) stay
 * within max_sockets, fitted to the open-file limit: requests are capped at two
 * thirds of it, and a try beside another goes only while every request that
 * may still come has room for its first; else the request's oldest try makes
 * room.
 *
 * Nothing is kept past its signatures (dns_cap_ttls_by_rrsig()), and when a
 * validation turns out bogus upstream.c calls forwarder_purge(): the answer and
 * the DNSKEY/DS sets of every zone above it are dropped and their next query
 * goes to another upstream first, so one corrupted answer is asked for again
 * instead of being served for its TTL.
 *
 * Its TCP listener serves getdns alone: a connection is kept only when its
 * peer is a socket getdns opened in this process (uvloop.c tracks them), at
 * most FWD_MAX_CONNS at once (getdns keeps one per context), and accept errors
 * back off (acceptor.c) instead of spinning.
 */
#include "forwarder.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/x509_crt.h>

#include "acceptor.h"
#include "addr.h"
#include "dns_cache.h"
#include "dns_frame.h"
#include "scrub.h"
#include "log.h"
#include "tls.h"
#include "upconn.h"
#include "probe.h"
#include "uvloop.h"
#include "wire.h"

#define FWD_RTO_INIT 376 /* ms, an upstream not measured yet (Unbound's) */
#define FWD_RTO_MIN 150
#define FWD_RTO_MAX 4000
#define FWD_RTO_BAND 400          /* upstreams this close to the best are as good */
#define FWD_INFRA_TTL_MS 900000   /* Unbound's infra-host-ttl */
#define FWD_TCP_TRY_MS 2000 /* before a TCP try gets a second one beside it */
#define FWD_MAX_SENDS 8     /* upstream queries for one request, retransmits included */
#define FWD_MAX_WAITERS 1024
#define FWD_CACHE_BYTES (8u << 20)
#define FWD_MAX_TTL 86400
#define FWD_MAX_PENDING 2048 /* requests, unless fitted to the open-file limit */
#define FWD_MAX_SOCKETS (FWD_MAX_PENDING + FWD_MAX_PENDING / 2) /* tries in all, likewise */
#define FWD_MAX_CONNS 16     /* TCP connections from getdns (one per context) */
#define FWD_BUCKETS 4096
#define FWD_AVOID_SLOTS 64
#define FWD_AVOID_MS 30000
#define FWD_TCP_BUF (DNS_FRAME_PREFIX + DNS_FRAME_MAX) /* getdns's TCP side: one whole frame */
#define FWD_BACKOFF_MIN_MS 1000  /* an upstream transport that failed: not asked for this long */
#define FWD_BACKOFF_MAX_MS 60000 /* doubling up to this */
#define FWD_TLS_SESSIONS 64
#define FWD_DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define FWD_N_TRANSPORTS 3 /* index: enum config_transport - CONFIG_TRANSPORT_UDP */
#define FWD_T_UDP 0
#define FWD_T_TCP 1
#define FWD_T_TLS 2

struct fwd_conn;
struct fwd_req;

/* Someone waiting for a request's answer: getdns over UDP (peer) or TCP (conn),
 * or an in-process caller (cb, forwarder_lookup()). */
struct fwd_waiter {
    struct fwd_waiter *next;
    struct fwd_conn *conn;
    struct sockaddr_storage peer;
    struct dns_query q; /* as getdns asked: its ID, case and EDNS size */
    forwarder_answer_cb cb; /* in-process; NULL once called or cancelled */
    void *arg;
    int in_process;
};

/* One query sent upstream, UDP or TCP. It lives until its handle's close
 * callback: libuv may still call its connect and write callbacks (ECANCELED)
 * after the request gave up on it (r == NULL). */
struct fwd_try {
    union {
        uv_handle_t h;
        uv_udp_t udp;
    } u;
    struct upconn_query uq; /* TCP and TLS: a query on the upstream's kept-open connection */
    struct fwd_req *r;
    uint64_t sent_ms;
    uint32_t rto_ms; /* the upstream's timeout when it was sent */
    uint16_t id;
    uint8_t upstream;
    uint8_t is_tcp;    /* over a connection (TCP or TLS): no handle of its own */
    uint8_t transport; /* index, FWD_N_TRANSPORTS */
};

struct fwd_req {
    struct forwarder *fw;
    struct fwd_req *hnext;      /* in-flight table chain */
    struct fwd_req *next, *prev; /* fw->reqs */
    unsigned bucket;
    struct dns_query q; /* the first asker's: the key */
    uint8_t *query;     /* the first asker's query bytes, our IDs written in */
    size_t qlen;
    struct fwd_waiter *waiters;
    unsigned n_waiters;
    struct fwd_try *tries[FWD_MAX_SENDS]; /* alive, oldest first */
    unsigned n_tries;
    unsigned sends;
    size_t last_upstream;
    uint64_t deadline_ms;
    int use_tcp; /* a UDP answer was truncated: no more UDP */
    unsigned auth_failures; /* tries that found their upstream unauthenticated */
    uv_timer_t timer;
    int done;
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

/* Unbound's rtt_info: what round trips to one upstream look like. */
struct fwd_infra {
    int32_t srtt, rttvar;
    uint32_t rto;
    uint64_t updated_ms;
};

/* What /metrics shows of one upstream (forwarder_upstream_info()). */
struct fwd_counts {
    uint64_t sent, answered, lost;
    uint32_t lost_in_a_row; /* tries gone unanswered since the last answer */
    uint64_t answer_ms;     /* uv_now() of the last answer, 0 none */
};

struct fwd_avoid {
    uint64_t hash; /* of (name, type) */
    uint64_t until_ms;
    uint8_t upstream;
};

struct forwarder {
    uv_loop_t *loop;
    uv_udp_t udp; /* getdns's side */
    struct acceptor *tcp;
    struct sockaddr_in addr; /* where it listens (UDP and TCP) */
    unsigned n_conns;        /* on conns, not yet freed */
    int accept_paused;
    size_t max_pending;      /* requests, 2/3 of max_sockets */
    size_t max_sockets;      /* tries open, fitted to the open-file limit */
    unsigned handles;
    int closing;
    struct config_upstream upstreams[CONFIG_MAX_ADDRS];
    struct fwd_infra infra[CONFIG_MAX_ADDRS];
    struct fwd_counts counts[CONFIG_MAX_ADDRS];
    size_t n_upstreams;
    /* TCP and TLS: one kept-open connection per upstream and transport */
    struct upconn *conns_up[CONFIG_MAX_ADDRS][FWD_N_TRANSPORTS];
    uint64_t down_until[CONFIG_MAX_ADDRS][FWD_N_TRANSPORTS];
    uint32_t backoff_ms[CONFIG_MAX_ADDRS][FWD_N_TRANSPORTS];
    int transports[FWD_N_TRANSPORTS]; /* dns_transport_list, as indexes */
    size_t n_transports;
    int auth_required;
    int round_robin;
    size_t rr_next;
    uint16_t padding_block;
    uint32_t idle_timeout_ms;
    struct tls_client_config *tls_cfg; /* when TLS is in the list */
    mbedtls_x509_crt trust;            /* tls_ca_file, tls_ca_path */
    int have_trust;
    uint32_t timeout_ms;
    struct dns_cache *cache;
    struct fwd_conn conns; /* list head */
    struct fwd_req reqs;   /* list head of requests in flight */
    struct fwd_req *buckets[FWD_BUCKETS];
    uint64_t hash_seed;
    struct fwd_avoid avoid[FWD_AVOID_SLOTS];
    unsigned avoid_next;
    size_t pending;
    size_t sockets; /* tries open (UDP and TCP: one socket each) */
    struct forwarder_stats stats;
    const struct probe *probe; /* upstreams that strip DNSSEC are skipped */
    uint8_t rbuf[65536];
    uint8_t out[65536];
};

static void fw_release(struct forwarder *fw)
{
    if (--fw->handles == 0 && fw->closing) {
        dns_cache_free(fw->cache);
        tls_client_config_free(fw->tls_cfg);
        mbedtls_x509_crt_free(&fw->trust);
        free(fw);
    }
}

static void fw_upconn_released(void *data)
{
    fw_release(data);
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
        struct fwd_write *w = malloc(sizeof *w + DNS_FRAME_PREFIX + len);
        if (!w)
            return;
        w->conn = conn;
        size_t n = dns_frame_encode(w->data, DNS_FRAME_PREFIX + len, msg, len);
        if (!n) {
            free(w);
            return;
        }
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
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

/* --- upstream round trips (Unbound's util/rtt.c) --------------------------- */

static void infra_init(struct fwd_infra *inf, uint64_t now)
{
    inf->srtt = 0;
    inf->rttvar = FWD_RTO_INIT / 4;
    inf->rto = FWD_RTO_INIT;
    inf->updated_ms = now;
}

static uint32_t infra_bound(int64_t rto)
{
    return rto < FWD_RTO_MIN ? FWD_RTO_MIN : rto > FWD_RTO_MAX ? FWD_RTO_MAX : (uint32_t)rto;
}

/* A round trip of ms to an upstream, from a try answered to its own ID and
 * port: no ambiguity about which transmission it answers (Karn's problem). */
static void infra_update(struct fwd_infra *inf, uint64_t ms, uint64_t now)
{
    inf->updated_ms = now;
    int32_t delta = (int32_t)(ms > 60000 ? 60000 : ms) - inf->srtt;
    inf->srtt += delta / 8;
    if (delta < 0)
        delta = -delta;
    inf->rttvar += (delta - inf->rttvar) / 4;
    inf->rto = infra_bound((int64_t)inf->srtt + 4 * (int64_t)inf->rttvar);
}

/* A try sent with timeout rto_ms went unanswered that long: back off, once per
 * timeout (a second loss of the same round does not double again). */
static void infra_lost(struct fwd_infra *inf, uint32_t rto_ms, uint64_t now)
{
    inf->updated_ms = now;
    if (inf->rto <= rto_ms)
        inf->rto = infra_bound((int64_t)rto_ms * 2);
}

/* --- requests in flight, by key -------------------------------------------- */

static inline uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static uint64_t name_type_hash(uint64_t seed, const uint8_t *name, size_t len, uint16_t qtype)
{
    uint64_t h = 14695981039346656037ULL ^ seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ lower(name[i])) * 1099511628211ULL;
    h = (h ^ qtype) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static unsigned req_bucket(const struct forwarder *fw, const struct dns_query *q)
{
    uint64_t h = name_type_hash(fw->hash_seed, q->qname, q->qname_len, q->qtype);
    h = (h ^ q->qclass ^ (uint64_t)q->do_bit << 17 ^ (uint64_t)q->cd << 18) * 1099511628211ULL;
    return (unsigned)(h >> 20) % FWD_BUCKETS;
}

static int same_question(const struct dns_query *a, const struct dns_query *b)
{
    return a->qtype == b->qtype && a->qclass == b->qclass && a->do_bit == b->do_bit &&
           a->cd == b->cd && dns_name_equal(a->qname, a->qname_len, b->qname, b->qname_len);
}

static struct fwd_req *req_find(struct forwarder *fw, const struct dns_query *q)
{
    for (struct fwd_req *r = fw->buckets[req_bucket(fw, q)]; r; r = r->hnext)
        if (!r->done && same_question(&r->q, q))
            return r;
    return NULL;
}

/* --- upstreams to avoid (after a bogus answer) ------------------------------ */

static void avoid_add(struct forwarder *fw, const uint8_t *name, size_t len, uint16_t qtype,
                      uint8_t upstream)
{
    struct fwd_avoid *a = &fw->avoid[fw->avoid_next++ % FWD_AVOID_SLOTS];
    a->hash = name_type_hash(fw->hash_seed, name, len, qtype);
    a->until_ms = uv_now(fw->loop) + FWD_AVOID_MS;
    a->upstream = upstream;
}

/* The upstream that gave a purged answer for q, or -1. */
static int avoid_find(struct forwarder *fw, const struct dns_query *q)
{
    uint64_t h = name_type_hash(fw->hash_seed, q->qname, q->qname_len, q->qtype);
    uint64_t now = uv_now(fw->loop);
    for (unsigned i = 0; i < FWD_AVOID_SLOTS; i++)
        if (fw->avoid[i].hash == h && fw->avoid[i].until_ms > now)
            return fw->avoid[i].upstream;
    return -1;
}

/* The transport for a try to upstream u: the first in dns_transport_list
 * (without UDP once an answer came truncated) that is not backed off, else
 * the first of them; *down says that every one is backed off. With
 * GETDNS_AUTHENTICATION_REQUIRED and TLS in the list the list is TLS alone
 * (forwarder_new()): nothing ever falls back to a transport in clear. */
static int pick_transport(struct forwarder *fw, int no_udp, size_t u, uint64_t now, int *down)
{
    int first = -1;
    *down = 0;
    for (size_t i = 0; i < fw->n_transports; i++) {
        int tr = fw->transports[i];
        if (no_udp && tr == FWD_T_UDP)
            continue;
        if (first < 0)
            first = tr;
        if (fw->down_until[u][tr] <= now)
            return tr;
    }
    if (first < 0) /* [UDP] alone and truncated: TCP, as every resolver does */
        return fw->down_until[u][FWD_T_TCP] > now ? (*down = 1, FWD_T_TCP) : FWD_T_TCP;
    *down = 1;
    return first;
}

/* The first upstream for q, as Unbound picks: at random among those whose
 * retransmit timeout is within FWD_RTO_BAND of the best (or, with
 * round_robin_upstreams, the next in turn), not one the probe found stripping
 * DNSSEC (probe_usable()), not one whose every transport is backed off, not
 * the one that gave q a bogus answer, while there is another. What is known
 * of an upstream is forgotten after FWD_INFRA_TTL_MS, so a server that was
 * down gets asked again. */
static size_t first_upstream(struct forwarder *fw, const struct dns_query *q)
{
    int avoid = fw->n_upstreams > 1 ? avoid_find(fw, q) : -1;
    uint64_t now = uv_now(fw->loop);
    uint32_t best_rto = UINT32_MAX;
    size_t band[CONFIG_MAX_ADDRS], n = 0;
    int ok[CONFIG_MAX_ADDRS], up[CONFIG_MAX_ADDRS], n_up = 0;
    for (size_t i = 0; i < fw->n_upstreams; i++) {
        int down;
        if (now - fw->infra[i].updated_ms > FWD_INFRA_TTL_MS)
            infra_init(&fw->infra[i], now);
        pick_transport(fw, 0, i, now, &down);
        ok[i] = probe_usable(fw->probe, i);
        up[i] = ok[i] && !down;
        n_up += up[i];
    }
    for (size_t i = 0; i < fw->n_upstreams; i++) /* the usable ones not backed off, or all usable */
        ok[i] = ok[i] && (up[i] || !n_up);
    for (size_t i = 0; i < fw->n_upstreams; i++)
        if ((int)i != avoid && ok[i] && fw->infra[i].rto < best_rto)
            best_rto = fw->infra[i].rto;
    for (size_t i = 0; i < fw->n_upstreams; i++)
        if ((int)i != avoid && ok[i] &&
            (fw->round_robin || fw->infra[i].rto <= best_rto + FWD_RTO_BAND))
            band[n++] = i;
    if (n == 0) /* the only usable one is avoided: it is still the one to ask */
        for (size_t i = 0; i < fw->n_upstreams; i++)
            if (ok[i])
                band[n++] = i;
    if (!n)
        return 0;
    if (fw->round_robin)
        return band[fw->rr_next++ % n];
    return band[(size_t)random() % n];
}

/* The upstream after u for a retransmit: the next one the probe allows. */
static size_t next_upstream(const struct forwarder *fw, size_t u)
{
    for (size_t k = 1; k <= fw->n_upstreams; k++) {
        size_t i = (u + k) % fw->n_upstreams;
        if (probe_usable(fw->probe, i))
            return i;
    }
    return (u + 1) % fw->n_upstreams;
}

/* --- requests -------------------------------------------------------------- */

static void try_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Close one try; its late callbacks find r == NULL. */
static void try_close(struct fwd_try *t)
{
    struct fwd_req *r = t->r;
    if (r) {
        unsigned i = 0;
        while (i < r->n_tries && r->tries[i] != t)
            i++;
        if (i < r->n_tries) {
            memmove(&r->tries[i], &r->tries[i + 1], (r->n_tries - i - 1) * sizeof r->tries[0]);
            r->n_tries--;
        }
        if (!t->is_tcp)
            r->fw->sockets--;
    }
    t->r = NULL;
    if (t->is_tcp) {
        upconn_cancel(&t->uq);
        free(t);
        return;
    }
    uv_close(&t->u.h, try_closed);
}

static void req_closed(uv_handle_t *h)
{
    struct fwd_req *r = h->data;
    free(r->query);
    free(r);
}

static void req_finish(struct fwd_req *r)
{
    struct forwarder *fw = r->fw;
    if (r->done)
        return;
    r->done = 1;
    struct fwd_req **pp = &fw->buckets[r->bucket];
    while (*pp && *pp != r)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = r->hnext;
    r->next->prev = r->prev;
    r->prev->next = r->next;
    fw->pending--;
    while (r->n_tries)
        try_close(r->tries[0]);
    /* In-process waiters not answered yet learn that no answer came (not
     * while the forwarder closes: their owners went first). */
    for (struct fwd_waiter *w = r->waiters; w; w = w->next) {
        forwarder_answer_cb cb = w->cb;
        w->cb = NULL;
        if (cb && !fw->closing)
            cb(w->arg, NULL, 0);
    }
    while (r->waiters) {
        struct fwd_waiter *w = r->waiters;
        r->waiters = w->next;
        if (w->conn)
            conn_release(w->conn);
        free(w);
    }
    uv_close((uv_handle_t *)&r->timer, req_closed);
}

/* Whether msg answers the query sent as id: a response (QR), standard query
 * opcode, one question, and that question is ours (name case-insensitively,
 * type, class). Anything else is late, spoofed or broken, and dropped. */
static int reply_matches(const uint8_t *msg, size_t len, uint16_t id, const struct dns_query *q)
{
    uint8_t name[DNS_MAX_NAME];
    size_t name_len, pos = DNS_HEADER_LEN;
    if (len < DNS_HEADER_LEN || !(msg[2] & 0x80) || (msg[2] & 0x78) != 0 ||
        (uint16_t)(msg[0] << 8 | msg[1]) != id || msg[4] != 0 || msg[5] != 1)
        return 0;
    if (dns_name_read(msg, len, &pos, name, &name_len) < 0 || len - pos < 4 ||
        pos != DNS_HEADER_LEN + name_len) /* compressed: nothing to point back to */
        return 0;
    return dns_name_equal(name, name_len, q->qname, q->qname_len) &&
           (uint16_t)(msg[pos] << 8 | msg[pos + 1]) == q->qtype &&
           (uint16_t)(msg[pos + 2] << 8 | msg[pos + 3]) == q->qclass;
}

/* A valid response of try t: into the cache when it may be, then to every
 * waiter, each with its own ID and question case. */
static void req_deliver(struct fwd_req *r, struct fwd_try *t, uint8_t *msg, size_t len)
{
    struct forwarder *fw = r->fw;
    int rcode = dns_msg_rcode(msg, len);
    uint32_t ttl = 0;
    fw->counts[t->upstream].answered++;
    fw->counts[t->upstream].lost_in_a_row = 0;
    fw->counts[t->upstream].answer_ms = uv_now(fw->loop);
    scrub_for_validator(msg, &len); /* fewer signatures for getdns to verify */
    dns_cap_ttls_by_rrsig(msg, len, time(NULL));
    if ((rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN) && !(msg[2] & 0x02) &&
        dns_answer_ttl(msg, len, &ttl) == 0 && ttl > 0) {
        struct dns_cache_key k;
        dns_cache_key_of_query(&r->q, &k);
        dns_cache_put_from(fw->cache, &k, msg, len, DNS_INDETERMINATE,
                           ttl > FWD_MAX_TTL ? FWD_MAX_TTL : ttl, uv_now(fw->loop), t->upstream);
    }
    for (struct fwd_waiter *w = r->waiters; w; w = w->next) {
        if (w->in_process) {
            /* w stays on the list until req_finish(): a callback that cancels
             * another waiter of r only clears its cb */
            forwarder_answer_cb cb = w->cb;
            w->cb = NULL;
            if (cb)
                cb(w->arg, msg, len);
            continue;
        }
        memcpy(fw->out, msg, len);
        fw->out[0] = (uint8_t)(w->q.id >> 8);
        fw->out[1] = (uint8_t)w->q.id;
        if (len >= DNS_HEADER_LEN + w->q.qname_len) /* the name as this asker wrote it */
            memcpy(fw->out + DNS_HEADER_LEN, w->q.qname, w->q.qname_len);
        answer(fw, w->conn, (struct sockaddr *)&w->peer, &w->q, fw->out, len);
    }
    req_finish(r);
}

static void req_send(struct fwd_req *r, size_t upstream);

/* The most recent try is overdue: send another beside it (the earlier ones
 * keep listening), or give up at the deadline. */
static void req_timeout(uv_timer_t *timer)
{
    struct fwd_req *r = timer->data;
    struct forwarder *fw = r->fw;
    uint64_t now = uv_now(fw->loop);
    if (now >= r->deadline_ms) {
        fw->stats.failures++;
        req_finish(r);
        return;
    }
    if (r->n_tries) {
        struct fwd_try *last = r->tries[r->n_tries - 1];
        fw->counts[last->upstream].lost++;
        fw->counts[last->upstream].lost_in_a_row++;
        /* a stream try waits longer than its rto (FWD_TCP_TRY_MS): no back-off */
        if (!last->is_tcp)
            infra_lost(&fw->infra[last->upstream], last->rto_ms, now);
    }
    if (r->sends >= FWD_MAX_SENDS) {
        uv_timer_start(&r->timer, req_timeout, r->deadline_ms - now, 0);
        return;
    }
    fw->stats.retransmits++;
    req_send(r, next_upstream(fw, r->last_upstream));
}

/* --- TCP and TLS: queries on kept-open connections (upconn.h) ---------------- */

/* A TCP or TLS try failed: when it was the last one alive, the next goes out now. */
static void stream_try_failed(struct fwd_try *t)
{
    struct fwd_req *r = t->r;
    try_close(t);
    if (r && r->n_tries == 0 && !r->done) {
        if (r->sends >= FWD_MAX_SENDS) {
            r->fw->stats.failures++;
            req_finish(r);
        } else {
            req_send(r, next_upstream(r->fw, r->last_upstream));
        }
    }
}

/* Every waiter gets SERVFAIL now: no upstream can be used as configured. */
static void req_servfail(struct fwd_req *r)
{
    struct forwarder *fw = r->fw;
    for (struct fwd_waiter *w = r->waiters; w; w = w->next) {
        size_t n;
        if (dns_reply_error(&w->q, DNS_RCODE_SERVFAIL, -1, NULL, fw->out, sizeof fw->out, &n) == 0)
            answer(fw, w->conn, (struct sockaddr *)&w->peer, &w->q, fw->out, n);
    }
    fw->stats.failures++;
    req_finish(r);
}

static void req_servfail_cb(uv_timer_t *timer)
{
    req_servfail(timer->data);
}

static void transport_down(struct forwarder *fw, size_t u, int tr)
{
    uint32_t b = fw->backoff_ms[u][tr];
    b = b ? (b * 2 > FWD_BACKOFF_MAX_MS ? FWD_BACKOFF_MAX_MS : b * 2) : FWD_BACKOFF_MIN_MS;
    fw->backoff_ms[u][tr] = b;
    fw->down_until[u][tr] = uv_now(fw->loop) + b;
}

static struct fwd_try *try_of_query(struct upconn_query *uq)
{
    return (struct fwd_try *)((char *)uq - offsetof(struct fwd_try, uq));
}

static void up_stream_reply(struct upconn_query *uq, const uint8_t *msg, size_t len)
{
    struct fwd_try *t = try_of_query(uq);
    struct fwd_req *r = t->r;
    if (!r || r->done)
        return;
    struct forwarder *fw = r->fw;
    if (len > sizeof fw->rbuf || !reply_matches(msg, len, t->id, &r->q)) {
        fw->stats.mismatched++;
        stream_try_failed(t);
        return;
    }
    infra_update(&fw->infra[t->upstream], uv_now(fw->loop) - t->sent_ms, uv_now(fw->loop));
    fw->backoff_ms[t->upstream][t->transport] = 0;
    fw->down_until[t->upstream][t->transport] = 0;
    memcpy(fw->rbuf, msg, len);
    req_deliver(r, t, fw->rbuf, len);
}

static void up_stream_fail(struct upconn_query *uq, int err)
{
    struct fwd_try *t = try_of_query(uq);
    struct fwd_req *r = t->r;
    if (!r || r->done)
        return;
    struct forwarder *fw = r->fw;
    /* A connection reset with queries on it is asked again at once; one that
     * cannot be set up (or authenticated) is backed off. */
    if (err != UPCONN_ECLOSED && err != UPCONN_EPROTO)
        transport_down(fw, t->upstream, t->transport);
    if (err == UPCONN_EAUTH && ++r->auth_failures >= fw->n_upstreams) {
        log_debug("forwarder: no upstream authenticated: SERVFAIL");
        try_close(t);
        req_servfail(r);
        return;
    }
    stream_try_failed(t);
}

static struct upconn *upstream_conn(struct forwarder *fw, size_t u, int tr)
{
    if (!fw->conns_up[u][tr]) {
        const struct config_upstream *up = &fw->upstreams[u];
        struct upconn_params p = {
            .label = up->addr.text,
            .tls = tr == FWD_T_TLS,
            .auth_name = up->tls_auth_name,
            .pins = up->pins,
            .n_pins = up->n_pins,
            .auth_required = fw->auth_required,
            .tls_cfg = fw->tls_cfg,
            .trust = fw->have_trust ? &fw->trust : NULL,
            .idle_timeout_ms = fw->idle_timeout_ms,
            .connect_timeout_ms = fw->timeout_ms / 2 > 500 ? fw->timeout_ms / 2 : 500,
            .padding_block = fw->padding_block,
            .released = fw_upconn_released,
            .arg = fw,
        };
        char label[ADDR_ENDPOINT_MAX + 8];
        memcpy(&p.addr, &up->addr.ss, sizeof p.addr);
        if (tr == FWD_T_TLS)
            addr_set_port(&p.addr, up->tls_port ? up->tls_port : 853);
        p.label = addr_format((struct sockaddr *)&p.addr, ADDR_FORMAT_PORT, label, sizeof label);
        if (!(fw->conns_up[u][tr] = upconn_new(fw->loop, &p)))
            return NULL;
        fw->handles++;
    }
    return fw->conns_up[u][tr];
}

static void up_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void upstream_udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                              const struct sockaddr *peer, unsigned flags);

/* One more try to upstream u, under a new ID (and over UDP a new socket); the
 * timer is set for its retransmit timeout. A try that cannot even be sent
 * counts as sent and lost: the timer moves on. */
static void req_send(struct fwd_req *r, size_t u)
{
    struct forwarder *fw = r->fw;
    const struct sockaddr *sa = (const struct sockaddr *)&fw->upstreams[u].addr.ss;
    uint64_t now = uv_now(fw->loop);
    uint32_t wait;
    struct fwd_try *t;
    int down;
    int tr = pick_transport(fw, r->use_tcp, u, now, &down);
    int stream = tr != FWD_T_UDP;

    /* An upstream that failed authentication is not asked again (nor logged
     * again) while backed off: with REQUIRED it counts as failed at once. */
    if (stream && down && fw->auth_required && fw->conns_up[u][tr]) {
        struct upconn_stats st;
        upconn_get_stats(fw->conns_up[u][tr], &st);
        if (st.last_error == UPCONN_EAUTH && !st.open) {
            if (++r->auth_failures >= fw->n_upstreams) {
                /* on the next loop turn: req_send() runs inside
                 * forwarder_lookup() and handle_query(), whose callers are
                 * promised no callback from inside the call */
                uv_timer_start(&r->timer, req_servfail_cb, 0, 0);
                return;
            }
            req_send(r, next_upstream(fw, u));
            return;
        }
    }

    r->sends++;
    r->last_upstream = u;
    fw->stats.upstream++;
    if (r->n_tries == FWD_MAX_SENDS)
        try_close(r->tries[0]);
    /* The fd budget: a try beside others leaves room for the first try of
     * every request that may still come; past it the oldest try makes room. */
    size_t reserved = fw->pending < fw->max_pending ? fw->max_pending - fw->pending : 0;
    if (!stream && r->n_tries && fw->sockets + reserved >= fw->max_sockets)
        try_close(r->tries[0]);
    /* The upstream's timeout, but at most a quarter of the request's time: an
     * upstream that dropped a few queries (restarting, say) is asked again
     * before the client gives up, however far its timeout has backed off. */
    wait = stream ? (fw->infra[u].rto * 2 > FWD_TCP_TRY_MS ? fw->infra[u].rto * 2 : FWD_TCP_TRY_MS)
                  : fw->infra[u].rto;
    if (wait > fw->timeout_ms / 4 && fw->timeout_ms / 4 >= FWD_RTO_MIN)
        wait = fw->timeout_ms / 4;
    if (now + wait > r->deadline_ms)
        wait = (uint32_t)(r->deadline_ms > now ? r->deadline_ms - now : 0);
    uv_timer_start(&r->timer, req_timeout, wait, 0);

    if (!stream && fw->sockets >= fw->max_sockets) /* only a request that lost every try: lost */
        return;
    if (!(t = calloc(1, sizeof *t)))
        return;
    t->r = r;
    t->sent_ms = now;
    t->rto_ms = fw->infra[u].rto;
    t->upstream = (uint8_t)u;
    fw->counts[u].sent++;
    t->is_tcp = (uint8_t)stream;
    t->transport = (uint8_t)tr;
    r->tries[r->n_tries++] = t;
    t->u.h.data = t;

    if (stream) {
        struct upconn *c = upstream_conn(fw, u, tr);
        t->uq.on_reply = up_stream_reply;
        t->uq.on_fail = up_stream_fail;
        if (!c || upconn_send(c, &t->uq, r->query, r->qlen) < 0) {
            try_close(t); /* the timer moves on */
            return;
        }
        t->id = t->uq.id;
        return;
    }
    if (getrandom(&t->id, sizeof t->id, 0) != sizeof t->id)
        t->id = (uint16_t)random();
    r->query[0] = (uint8_t)(t->id >> 8);
    r->query[1] = (uint8_t)t->id;
    struct sockaddr_in any4 = {.sin_family = AF_INET};
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    uv_buf_t b = uv_buf_init((char *)r->query, (unsigned)r->qlen);
    uv_udp_init(fw->loop, &t->u.udp);
    t->u.h.data = t;
    fw->sockets++;
    if (uv_udp_bind(&t->u.udp,
                    sa->sa_family == AF_INET6 ? (struct sockaddr *)&any6
                                              : (struct sockaddr *)&any4,
                    0) == 0 &&
        uv_udp_recv_start(&t->u.udp, up_udp_alloc, upstream_udp_recv) == 0)
        uv_udp_try_send(&t->u.udp, &b, 1, sa);
}

static int waiter_add(struct fwd_req *r, const struct dns_query *q, struct fwd_conn *conn,
                      const struct sockaddr *peer)
{
    struct fwd_waiter *w;
    if (r->n_waiters >= FWD_MAX_WAITERS || !(w = calloc(1, sizeof *w)))
        return -1;
    w->q = *q;
    w->conn = conn;
    if (conn)
        conn->refs++;
    else
        memcpy(&w->peer, peer,
               peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in));
    w->next = r->waiters;
    r->waiters = w;
    r->n_waiters++;
    return 0;
}

/* A new request for q (msg, len: its query bytes), with no waiter yet, sent
 * upstream; NULL when the forwarder is full or out of memory. */
static struct fwd_req *req_start(struct forwarder *fw, const struct dns_query *q,
                                 const uint8_t *msg, size_t len)
{
    struct fwd_req *r;
    if (fw->pending >= fw->max_pending || !(r = calloc(1, sizeof *r)))
        return NULL;
    if (!(r->query = malloc(len))) {
        free(r);
        return NULL;
    }
    memcpy(r->query, msg, len);
    r->qlen = len;
    r->q = *q;
    r->fw = fw;
    r->bucket = req_bucket(fw, q);
    r->hnext = fw->buckets[r->bucket];
    fw->buckets[r->bucket] = r;
    r->next = fw->reqs.next;
    r->prev = &fw->reqs;
    fw->reqs.next->prev = r;
    fw->reqs.next = r;
    fw->pending++;
    r->deadline_ms = uv_now(fw->loop) + fw->timeout_ms;
    uv_timer_init(fw->loop, &r->timer);
    r->timer.data = r;
    return r;
}

/* q answered from the cache into fw->out (*n bytes): 1, else 0. */
static int cache_answer(struct forwarder *fw, const struct dns_query *q, size_t *n)
{
    struct dns_cache_key k;
    struct dns_cache_hit hit;
    dns_cache_key_of_query(q, &k);
    if (dns_cache_get(fw->cache, &k, uv_now(fw->loop), &hit) != 1 || hit.len > sizeof fw->out)
        return 0;
    *n = hit.len;
    memcpy(fw->out, hit.msg, *n);
    /* Our ID, the question's case, aged TTLs; AD from upstream is dropped:
     * getdns validates for itself. */
    if (dns_reply_patch(fw->out, n, q, DNS_INDETERMINATE, hit.age_s) < 0)
        return 0;
    fw->stats.hits++;
    return 1;
}

/* A query from getdns: from the cache, joined to the same query in flight, or
 * upstream. */
static void handle_query(struct forwarder *fw, const uint8_t *msg, size_t len,
                         struct fwd_conn *conn, const struct sockaddr *peer)
{
    struct dns_query q;
    struct fwd_req *r;
    size_t n;

    fw->stats.queries++;
    if (dns_query_parse(msg, len, &q) < 0 || fw->n_upstreams == 0)
        return;
    if (cache_answer(fw, &q, &n)) {
        answer(fw, conn, peer, &q, fw->out, n);
        return;
    }
    if ((r = req_find(fw, &q))) {
        if (waiter_add(r, &q, conn, peer) == 0)
            fw->stats.joined++;
        return;
    }
    if (!(r = req_start(fw, &q, msg, len)))
        return;
    if (waiter_add(r, &q, conn, peer) < 0) {
        req_finish(r); /* never sent */
        return;
    }
    req_send(r, first_upstream(fw, &q));
}

int forwarder_lookup(struct forwarder *fw, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                     forwarder_answer_cb cb, void *arg, struct forwarder_lookup **handle,
                     const uint8_t **msg, size_t *len)
{
    uint8_t query[DNS_HEADER_LEN + DNS_MAX_NAME + 4 + 11];
    struct dns_query q;
    struct fwd_req *r;
    struct fwd_waiter *w;
    size_t n;

    *handle = NULL;
    if (!fw || fw->closing || fw->n_upstreams == 0 || qname_len == 0 || qname_len > DNS_MAX_NAME)
        return -1;
    /* the query getdns would send: RD, CD, one question, EDNS with DO */
    memset(query, 0, sizeof query);
    query[2] = 0x01; /* RD */
    query[3] = 0x10; /* CD */
    query[5] = 1;    /* QDCOUNT */
    query[11] = 1;   /* ARCOUNT */
    n = DNS_HEADER_LEN;
    memcpy(query + n, qname, qname_len);
    n += qname_len;
    query[n++] = (uint8_t)(qtype >> 8);
    query[n++] = (uint8_t)qtype;
    query[n++] = 0;
    query[n++] = DNS_CLASS_IN;
    query[n + 2] = DNS_TYPE_OPT; /* root owner, type OPT */
    query[n + 3] = (uint8_t)(DNS_MAX_UDP_REPLY >> 8);
    query[n + 4] = (uint8_t)DNS_MAX_UDP_REPLY;
    query[n + 7] = 0x80; /* DO */
    n += 11;
    if (dns_query_parse(query, n, &q) < 0)
        return -1;
    fw->stats.queries++;
    if (cache_answer(fw, &q, len)) {
        *msg = fw->out;
        return 1;
    }
    r = req_find(fw, &q);
    if (!r && !(r = req_start(fw, &q, query, n)))
        return -1;
    if (r->n_waiters >= FWD_MAX_WAITERS || !(w = calloc(1, sizeof *w))) {
        if (!r->waiters)
            req_finish(r);
        return -1;
    }
    w->q = q;
    w->in_process = 1;
    w->cb = cb;
    w->arg = arg;
    w->next = r->waiters;
    int fresh = r->waiters == NULL;
    r->waiters = w;
    r->n_waiters++;
    if (fresh && r->sends == 0)
        req_send(r, first_upstream(fw, &q));
    else
        fw->stats.joined++;
    *handle = (struct forwarder_lookup *)w;
    return 0;
}

void forwarder_lookup_cancel(struct forwarder_lookup *handle)
{
    struct fwd_waiter *w = (struct fwd_waiter *)handle;
    if (w)
        w->cb = NULL; /* freed with its request */
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
    struct fwd_try *t = h->data;
    static uint8_t spare[512]; /* a try whose request is gone reads into this */
    if (t->r) {
        buf->base = (char *)t->r->fw->rbuf;
        buf->len = sizeof t->r->fw->rbuf;
    } else {
        buf->base = (char *)spare;
        buf->len = sizeof spare;
    }
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
    return addr_equal(a, b);
}

static void upstream_udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf,
                              const struct sockaddr *peer, unsigned flags)
{
    struct fwd_try *t = u->data;
    struct fwd_req *r = t->r;
    uint8_t *msg = (uint8_t *)buf->base;
    if (!r || n < DNS_HEADER_LEN || !peer || r->fw->closing || r->done || r->use_tcp)
        return;
    struct forwarder *fw = r->fw;
    if (!same_addr(peer, (const struct sockaddr *)&fw->upstreams[t->upstream].addr.ss) ||
        !reply_matches(msg, (size_t)n, t->id, &r->q)) {
        fw->stats.mismatched++;
        return; /* late, spoofed, or not ours: keep listening */
    }
    infra_update(&fw->infra[t->upstream], uv_now(fw->loop) - t->sent_ms, uv_now(fw->loop));
    if (msg[2] & 0x02) { /* truncated: the same upstream over TCP (or TLS), the UDP tries end */
        size_t up = t->upstream;
        r->use_tcp = 1;
        while (r->n_tries)
            try_close(r->tries[0]);
        req_send(r, up);
        return;
    }
    req_deliver(r, t, msg, (size_t)n);
}

/* --- purging after a bogus validation ---------------------------------------- */

#define PURGE_MAX_NAMES 32

struct purge_set {
    uint8_t names[PURGE_MAX_NAMES][DNS_MAX_NAME];
    size_t lens[PURGE_MAX_NAMES];
    size_t n;
};

/* name and every name above it, each once, as far as there is room. */
static void purge_add_ancestors(struct purge_set *ps, const uint8_t *name, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const uint8_t *n = name + pos;
        size_t nl = len - pos, i;
        for (i = 0; i < ps->n; i++)
            if (dns_name_equal(ps->names[i], ps->lens[i], n, nl))
                break;
        if (i == ps->n) {
            if (ps->n == PURGE_MAX_NAMES)
                return;
            memcpy(ps->names[ps->n], n, nl);
            ps->lens[ps->n++] = nl;
        }
        if (name[pos] == 0)
            break;
        pos += 1 + (size_t)name[pos];
    }
}

/* Drop (name, type) in every variant getdns may have asked (DO, CD); the
 * upstream that gave it is avoided for its next query. Returns how many. */
static unsigned purge_key(struct forwarder *fw, const uint8_t *name, size_t len, uint16_t qtype)
{
    unsigned n = 0;
    for (int v = 0; v < 4; v++) {
        struct dns_cache_key k = {.qname = name, .qname_len = len, .qtype = qtype,
                                  .qclass = DNS_CLASS_IN, .do_bit = v & 1, .cd = v >> 1};
        uint8_t origin;
        if (dns_cache_remove(fw->cache, &k, &origin) == 1) {
            n++;
            if (origin < fw->n_upstreams)
                avoid_add(fw, name, len, qtype, origin);
        }
    }
    return n;
}

void forwarder_purge(struct forwarder *fw, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                     const uint8_t *msg, size_t len)
{
    struct purge_set *ps;
    struct dns_rr_iter it;
    struct dns_rr rr;
    unsigned n = 0;

    if (!fw || !(ps = malloc(sizeof *ps)))
        return;
    ps->n = 0;
    n += purge_key(fw, qname, qname_len, qtype);
    purge_add_ancestors(ps, qname, qname_len);
    /* The zones the answer involves: its owners' and its signers' (a CNAME
     * may lead into another zone), and every zone above them. */
    if (msg && dns_rr_iter_init(&it, msg, len) == 0) {
        while (dns_rr_iter_next(&it, &rr) == 1 && rr.section != DNS_SECTION_ADDITIONAL) {
            purge_add_ancestors(ps, rr.owner, rr.owner_len);
            if (rr.type == DNS_TYPE_RRSIG && rr.rdlen > 18) {
                uint8_t signer[DNS_MAX_NAME];
                size_t signer_len, pos = rr.rdata_offset + 18;
                if (dns_name_read(msg, len, &pos, signer, &signer_len) == 0)
                    purge_add_ancestors(ps, signer, signer_len);
            }
        }
    }
    for (size_t i = 0; i < ps->n; i++) {
        n += purge_key(fw, ps->names[i], ps->lens[i], DNS_TYPE_DNSKEY);
        n += purge_key(fw, ps->names[i], ps->lens[i], DNS_TYPE_DS);
    }
    fw->stats.purged += n;
    if (log_verbosity >= 2) {
        char text[1024];
        if (dns_name_to_text(qname, qname_len, text, sizeof text) == 0)
            log_debug("forwarder: %s/%u bogus: %u cached answers dropped (%zu names)", text, qtype,
                      n, ps->n);
    }
    free(ps);
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
    const uint8_t *m;
    size_t mlen;
    while (dns_frame_next(c->rbuf + off, c->rlen - off, &m, &mlen)) {
        handle_query(c->fw, m, mlen, c, NULL);
        off += DNS_FRAME_PREFIX + mlen;
    }
    c->rlen = dns_frame_consume(c->rbuf, c->rlen, off);
}

/* Whether peer is getdns: a socket getdns opened, on the forwarder's address
 * (getdns connects from 127.0.0.1, the address it was given). Anyone else on
 * the machine can connect too, and is not served. */
static int peer_is_getdns(const struct forwarder *fw, const struct sockaddr *peer)
{
    return addr_same_ip(peer, (const struct sockaddr *)&fw->addr) && uvloop_getdns_socket_at(peer);
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

static size_t crt_count(const mbedtls_x509_crt *c)
{
    size_t n = 0;
    for (; c && c->raw.p; c = c->next)
        n++;
    return n;
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
    fw->reqs.next = fw->reqs.prev = &fw->reqs;
    memcpy(fw->upstreams, cfg->upstreams, sizeof fw->upstreams);
    fw->n_upstreams = cfg->n_upstreams;
    fw->max_sockets = cfg->max_forwarder_sockets ? cfg->max_forwarder_sockets : FWD_MAX_SOCKETS;
    fw->max_pending = fw->max_sockets * 2 / 3;
    if (fw->max_pending < 1)
        fw->max_pending = 1;
    for (size_t i = 0; i < CONFIG_MAX_ADDRS; i++)
        infra_init(&fw->infra[i], uv_now(loop));
    fw->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
    fw->idle_timeout_ms = cfg->idle_timeout_ms;
    fw->round_robin = cfg->round_robin_upstreams;
    fw->padding_block = (uint16_t)cfg->tls_query_padding_blocksize;
    mbedtls_x509_crt_init(&fw->trust);
    int tls = 0;
    for (size_t i = 0; i < cfg->n_transports && i < FWD_N_TRANSPORTS; i++) {
        int tr = (int)cfg->transports[i] - CONFIG_TRANSPORT_UDP;
        if (tr < 0 || tr >= FWD_N_TRANSPORTS)
            continue;
        fw->transports[fw->n_transports++] = tr;
        tls |= tr == FWD_T_TLS;
    }
    if (fw->n_transports == 0) {
        fw->transports[0] = FWD_T_UDP;
        fw->transports[1] = FWD_T_TCP;
        fw->n_transports = 2;
    }
    if (tls && cfg->tls_authentication_required) {
        /* never a fallback in clear from REQUIRED (RFC 8310 §5: strict) */
        fw->auth_required = 1;
        fw->transports[0] = FWD_T_TLS;
        fw->n_transports = 1;
    }
    if (tls) {
        struct tls_client_options co = {.session_cache_entries = FWD_TLS_SESSIONS};
        /* tls_ca_file and tls_ca_path both count; neither: the system's bundle */
        const char *file = cfg->tls_ca_file[0]   ? cfg->tls_ca_file
                           : cfg->tls_ca_path[0] ? NULL
                                                 : FWD_DEFAULT_CA_FILE;
        if (!(fw->tls_cfg = tls_client_config_new(&co))) {
            mbedtls_x509_crt_free(&fw->trust);
            dns_cache_free(fw->cache);
            free(fw);
            snprintf(err, errlen, "forwarder: cannot set up TLS");
            return -1;
        }
        int ret = file ? mbedtls_x509_crt_parse_file(&fw->trust, file) : 0;
        if (file && (ret < 0 || !fw->trust.raw.p))
            log_warnx("resolver: tls_ca_file %s: no certificate can be read (mbedTLS -0x%04x)",
                      file, (unsigned)(ret < 0 ? -ret : 0));
        if (cfg->tls_ca_path[0]) {
            size_t before = crt_count(&fw->trust);
            ret = mbedtls_x509_crt_parse_path(&fw->trust, cfg->tls_ca_path);
            if (ret < 0 || crt_count(&fw->trust) == before)
                log_warnx("resolver: tls_ca_path %s: no certificate can be read (mbedTLS -0x%04x)",
                          cfg->tls_ca_path, (unsigned)(ret < 0 ? -ret : 0));
        }
        fw->have_trust = fw->trust.raw.p != NULL;
        if (!fw->have_trust)
            log_warnx("resolver: no CA certificate to check DNS-over-TLS upstreams against: "
                      "tls_auth_name cannot be checked");
    }
    if (getrandom(&fw->hash_seed, sizeof fw->hash_seed, 0) != sizeof fw->hash_seed)
        fw->hash_seed = (uint64_t)random() << 32 ^ (uint64_t)random();
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
    while (fw->reqs.next != &fw->reqs)
        req_finish(fw->reqs.next);
    for (size_t u = 0; u < CONFIG_MAX_ADDRS; u++)
        for (int tr = 0; tr < FWD_N_TRANSPORTS; tr++) {
            upconn_free(fw->conns_up[u][tr]); /* fw_upconn_released() once gone */
            fw->conns_up[u][tr] = NULL;
        }
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

void forwarder_set_probe(struct forwarder *fw, const struct probe *probe)
{
    if (fw)
        fw->probe = probe;
}

/* --- the DNSSEC probe's queries (probe.h) ------------------------------------ */

struct forwarder_probe {
    struct upconn_query uq; /* first: the handle is the query */
    struct forwarder *fw;
    size_t upstream;
    int transport;
    forwarder_answer_cb cb;
    void *arg;
};

int forwarder_probe_transport(const struct forwarder *fw, size_t u)
{
    int down;
    if (!fw || u >= fw->n_upstreams)
        return -1;
    return CONFIG_TRANSPORT_UDP +
           pick_transport((struct forwarder *)fw, 0, u, uv_now(fw->loop), &down);
}

static void probe_query_reply(struct upconn_query *uq, const uint8_t *msg, size_t len)
{
    struct forwarder_probe *h = (struct forwarder_probe *)uq;
    forwarder_answer_cb cb = h->cb;
    h->cb = NULL;
    if (h->fw->closing || !cb)
        return;
    h->fw->backoff_ms[h->upstream][h->transport] = 0;
    h->fw->down_until[h->upstream][h->transport] = 0;
    cb(h->arg, msg, len);
}

static void probe_query_fail(struct upconn_query *uq, int err)
{
    struct forwarder_probe *h = (struct forwarder_probe *)uq;
    forwarder_answer_cb cb = h->cb;
    h->cb = NULL;
    if (h->fw->closing || !cb)
        return;
    /* as for a client query: a transport that cannot be set up (or
     * authenticated) is backed off, and not tried again by the next probe */
    if (err != UPCONN_ECLOSED && err != UPCONN_EPROTO)
        transport_down(h->fw, h->upstream, h->transport);
    cb(h->arg, NULL, 0);
}

int forwarder_probe_query(struct forwarder *fw, size_t u, uint8_t *msg, size_t len,
                          forwarder_answer_cb cb, void *arg, struct forwarder_probe **handle)
{
    struct forwarder_probe *h;
    struct upconn *c;
    int down, tr;

    *handle = NULL;
    if (!fw || fw->closing || u >= fw->n_upstreams)
        return -1;
    tr = pick_transport(fw, 0, u, uv_now(fw->loop), &down);
    if (tr == FWD_T_UDP || down || !(c = upstream_conn(fw, u, tr)) ||
        !(h = calloc(1, sizeof *h)))
        return -1;
    h->uq.on_reply = probe_query_reply;
    h->uq.on_fail = probe_query_fail;
    h->fw = fw;
    h->upstream = u;
    h->transport = tr;
    h->cb = cb;
    h->arg = arg;
    if (upconn_send(c, &h->uq, msg, len) < 0) {
        free(h);
        return -1;
    }
    *handle = h;
    return 0;
}

void forwarder_probe_cancel(struct forwarder_probe *h)
{
    if (!h)
        return;
    upconn_cancel(&h->uq);
    free(h);
}

void forwarder_get_stats(const struct forwarder *fw, struct forwarder_stats *st)
{
    *st = fw->stats;
}

int forwarder_upstream_info(const struct forwarder *fw, size_t i,
                            struct forwarder_upstream_info *out)
{
    if (!fw || i >= fw->n_upstreams)
        return -1;
    const struct fwd_counts *c = &fw->counts[i];
    const struct fwd_infra *inf = &fw->infra[i];
    uint64_t now = uv_now(fw->loop);
    *out = (struct forwarder_upstream_info){
        .sent = c->sent,
        .answered = c->answered,
        .lost = c->lost,
        .lost_in_a_row = c->lost_in_a_row,
        .srtt_ms = c->answered ? (uint32_t)(inf->srtt > 0 ? inf->srtt : 0) : 0,
        .rto_ms = inf->rto,
        .since_answer_ms = c->answer_ms ? now - c->answer_ms : 0,
        .measured = c->answered > 0,
    };
    for (int tr = 0; tr < FWD_N_TRANSPORTS; tr++) {
        out->down_ms[tr] = fw->down_until[i][tr] > now ? fw->down_until[i][tr] - now : 0;
        if (fw->conns_up[i][tr])
            upconn_get_stats(fw->conns_up[i][tr], &out->conn[tr]);
    }
    return 0;
}
