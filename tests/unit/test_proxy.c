/* tests/unit/test_proxy.c — the proxy's phases, driven for real with the test
 * as the client side.
 *
 * A proxy is opened on a loop of the test's own, with a resolver whose
 * upstream is a UDP socket the test holds (nothing answers unless the test
 * does, so a request stays in its lookups as long as the test wants), and the
 * test connects to it over loopback: its end of that connection is the fake
 * browser side. request.c and forward.c are included to reach their phases
 * and readers; the rest comes from libdaneguard.a. Where an ordering matters
 * that the kernel decides, the test calls the reader libuv holds itself, as
 * libuv's uv__read does: alloc_cb, read(2) into the buffer it gave, read_cb.
 */
#include "../../proxy/forward.c"
#include "../../proxy/request.c"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

static char dir[64];
static char ta_path[128];
static int sink_fd = -1; /* the resolvers' upstream: the test answers it, or nobody does */
static uint16_t sink_port;

static int udp_sink(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    sink_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sink_fd < 0 || bind(sink_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(sink_fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    sink_port = ntohs(a.sin_port);
    return 0;
}

/* Forget whatever queries wait at the sink (from an earlier test). */
static void sink_drain(void)
{
    uint8_t q[4096];
    while (recv(sink_fd, q, sizeof q, MSG_DONTWAIT) > 0)
        ;
}

/* Answer every query waiting at the sink with SERVFAIL (the query itself, QR
 * and RA set, rcode 2). Returns how many. */
static int sink_servfail_all(void)
{
    uint8_t q[4096];
    struct sockaddr_storage from;
    int n = 0;
    for (;;) {
        socklen_t flen = sizeof from;
        ssize_t k = recvfrom(sink_fd, q, sizeof q, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
        if (k < 12)
            return n;
        q[2] |= 0x80;
        q[3] = (uint8_t)((q[3] & 0x70) | 0x80 | 2);
        if (sendto(sink_fd, q, (size_t)k, 0, (struct sockaddr *)&from, flen) == k)
            n++;
    }
}

struct world {
    uv_loop_t loop;
    struct config cfg;
    struct resolver *r;
    struct proxy *px;
    int client; /* the test's end of the connection */
};

static int world_open(struct world *w, uint32_t buffer_size)
{
    char yaml[1024], err[CONFIG_ERR_LEN];
    memset(w, 0, sizeof *w);
    w->client = -1;
    sink_drain();
    snprintf(yaml, sizeof yaml,
             "resolver:\n"
             "  listen_addresses: [\"127.0.0.1@5353\"]\n"
             "  upstream_recursive_servers:\n"
             "    - address_data: 127.0.0.1\n"
             "      port: %u\n"
             "  dnssec_trust_anchors: [\"%s\"]\n"
             "  timeout: 60000\n"
             "proxy:\n"
             "  listen_addresses: [\"127.0.0.1@1\"]\n"
             "  ca_dir: \"%s/ca\"\n"
             "  trust_store: \"%s/ca/ca.crt\"\n"
             "  buffer_size: %u\n",
             sink_port, ta_path, dir, dir, buffer_size);
    if (config_load_string("test_proxy", yaml, &w->cfg, err) < 0) {
        fprintf(stderr, "  config: %s\n", err);
        return -1;
    }
    /* port 0: whatever is free */
    addr_set_port(&w->cfg.proxy.listen[0].ss, 0);
    if (uv_loop_init(&w->loop) < 0)
        return -1;
    if (resolver_new(&w->loop, &w->cfg.resolver, &w->r, err, sizeof err) < 0) {
        fprintf(stderr, "  resolver: %s\n", err);
        return -1;
    }
    /* the trust store is the CA's own certificate: ca_open creates it first */
    struct ca *ca = NULL;
    char cadir[128];
    snprintf(cadir, sizeof cadir, "%s/ca", dir);
    if (ca_open(cadir, NULL, time(NULL), &ca, err, sizeof err) < 0) {
        fprintf(stderr, "  ca: %s\n", err);
        return -1;
    }
    ca_close(ca);
    if (proxy_new(&w->loop, &w->cfg, w->r, &w->px, err, sizeof err) < 0) {
        fprintf(stderr, "  proxy: %s\n", err);
        return -1;
    }
    return 0;
}

/* Connect a client and run the loop until the proxy has accepted it. */
static struct pconn *world_connect(struct world *w)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&w->px->listeners[0], (struct sockaddr *)&ss, &len) < 0)
        return NULL;
    w->client = socket(AF_INET, SOCK_STREAM, 0);
    if (w->client < 0 || connect(w->client, (struct sockaddr *)&ss, (socklen_t)len) < 0)
        return NULL;
    for (int i = 0; i < 100 && !w->px->conns; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
    return w->px->conns;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Run the loop until pred(pc) or 200 rounds. */
static int run_until(struct world *w, struct pconn *pc, int (*pred)(struct pconn *))
{
    for (int i = 0; i < 200; i++) {
        if (pred(pc))
            return 1;
        uv_run(&w->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return pred(pc);
}

static int in_lookup(struct pconn *pc)
{
    return pc->phase == &lookup_phase;
}

/* Run the loop, reading what the proxy sends, until needle arrives, the
 * connection ends, or 2 s pass. Returns the bytes read into buf (NUL-ended). */
static size_t recv_until(struct world *w, char *buf, size_t cap, const char *needle)
{
    size_t got = 0;
    buf[0] = '\0';
    for (int i = 0; i < 2000 && !strstr(buf, needle); i++) {
        uv_run(&w->loop, UV_RUN_NOWAIT);
        ssize_t n = recv(w->client, buf + got, cap - 1 - got, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n > 0)
            got += (size_t)n;
        buf[got] = '\0';
        if (n < 0)
            usleep(1000);
    }
    return got;
}

/* One round of what libuv does when a socket is readable, with the pair the
 * connection's phase gave uv_read_start (none: not reading). */
static void libuv_reads_of(uv_stream_t *s)
{
    uv_os_fd_t fd;
    uv_buf_t b;
    if (!s || uv_fileno((uv_handle_t *)s, &fd) < 0 || !s->alloc_cb || !s->read_cb)
        return;
    s->alloc_cb((uv_handle_t *)s, 65536, &b);
    if (b.len == 0) {
        s->read_cb(s, UV_ENOBUFS, &b);
        return;
    }
    ssize_t n = read(fd, b.base, b.len);
    if (n > 0)
        s->read_cb(s, n, &b);
}

/* The same for the client's side. */
static void libuv_reads(struct pconn *pc)
{
    libuv_reads_of((uv_stream_t *)&pc->client_tcp);
}

static void world_close(struct world *w)
{
    if (w->client >= 0)
        close(w->client);
    proxy_close(w->px);
    for (int i = 0; i < 50; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
    resolver_unref(w->r);
    for (int i = 0; i < 50; i++)
        uv_run(&w->loop, UV_RUN_NOWAIT);
    uv_loop_close(&w->loop);
}

/* Log lines of a stretch of the test: stderr goes to a file meanwhile. */
static int saved_stderr = -1;
static char log_path[160];

static void log_capture_start(void)
{
    snprintf(log_path, sizeof log_path, "%s/log.txt", dir);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fflush(stderr);
    saved_stderr = dup(2);
    if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
    }
    log_verbosity = 1;
}

/* Stop capturing; the captured text in buf. */
static void log_capture_end(char *buf, size_t cap)
{
    fflush(stderr);
    log_verbosity = 0;
    if (saved_stderr >= 0) {
        dup2(saved_stderr, 2);
        close(saved_stderr);
        saved_stderr = -1;
    }
    buf[0] = '\0';
    FILE *f = fopen(log_path, "r");
    if (f) {
        size_t n = fread(buf, 1, cap - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
}

/* Issue 8, defect 3: a plain-HTTP request refused while its body still comes.
 * The refusal must stop reading the client, and nothing more lands anywhere
 * (before: alloc_cb handed out down.buf, read_cb added the count to
 * pc->in_len, and handle_request_bytes moved memory past the end of pc->in;
 * now each phase's reader is one alloc/read pair, and a refusal has none). */
static void test_refused_http_body_not_read(void)
{
    static const char head[] = "POST http://nowhere.test/upload HTTP/1.1\r\n"
                               "Host: nowhere.test\r\n"
                               "Content-Length: 100000000\r\n\r\n";
    static char body[64 * 1024];
    struct world w;
    memset(body, 'b', sizeof body);
    if (world_open(&w, 16384) < 0) {
        CHECK(!"the proxy opens");
        return;
    }
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc)
        goto out;
    CHECK_INT_EQ(send_all(w.client, head, sizeof head - 1), 0);
    CHECK_INT_EQ(send_all(w.client, body, 1000), 0);
    CHECK(run_until(&w, pc, in_lookup));
    CHECK_INT_EQ(pc->req.kind, PC_KIND_HTTP);
    CHECK(pc->down.reader == &body_reader); /* the body waits while the site is looked up */
    /* The lookups end in a refusal (as lookups_done does on POLICY_REFUSE),
     * and more of the body is on its way in the same poll round. */
    request_abandon(pc);
    intercept_refuse(pc, PAGES_CLASS_DNSSEC, "test: the policy refuses this host");
    CHECK(pc->phase == &pc_phase_respond);
    CHECK_INT_EQ(pc->down.reading, 0);
    CHECK(pc->down.reader == NULL);
    CHECK(pc->client_tcp.read_cb == NULL); /* libuv holds no reader either */
    CHECK_INT_EQ(send_all(w.client, body, sizeof body), 0);
    usleep(20000);
    size_t in_len = pc->req.in_len;
    for (int i = 0; i < 4; i++)
        libuv_reads(pc); /* what libuv would do: nothing, as nothing is read */
    CHECK(pc->req.in_len <= pc->req.in_cap);
    CHECK_INT_EQ(pc->req.in_len, in_len);
    CHECK_INT_EQ(pc->down.reading, 0);
    /* The page is still answered, then the connection closes. */
    char resp[4096];
    recv_until(&w, resp, sizeof resp, "daneguard");
    CHECK(strncmp(resp, "HTTP/1.1 502", 12) == 0);
out:
    world_close(&w);
}

/* Issue 8, defect 2 at the unit level: a buffer keeps the capacity it was
 * allocated with when buffer_size changes under it. */
static void test_buffer_keeps_its_capacity(void)
{
    struct world w;
    if (world_open(&w, 1024) < 0) {
        CHECK(!"the proxy opens");
        return;
    }
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc)
        goto out;
    /* a tunnel's client side, as a CONNECT's "200" leaves it (no site here) */
    listener_waiting_del(pc);
    side_read(&pc->down, 0);
    relay_tunnel_start(pc);
    CHECK_STR_EQ(pc->phase->name, "tunnel");
    CHECK(pc->client_tcp.alloc_cb != NULL);
    uv_buf_t b;
    pc->client_tcp.alloc_cb((uv_handle_t *)&pc->client_tcp, 65536, &b);
    CHECK_INT_EQ(b.len, 1024);
    w.px->cfg.buffer_size = 4 << 20; /* what a reload does */
    pc->client_tcp.alloc_cb((uv_handle_t *)&pc->client_tcp, 65536, &b);
    CHECK_INT_EQ(b.len, 1024);
out:
    world_close(&w);
}

/* request.c: a CONNECT head → its lookups, the policy's input, and the
 * client's side left unread (its next bytes belong to the tunnel or TLS). */
static void test_connect_head_to_policy_input(void)
{
    static const char head[] = "CONNECT Www.Example.Test:443 HTTP/1.1\r\n"
                               "Host: www.example.test:443\r\n\r\n";
    struct world w;
    struct policy_input in;
    if (world_open(&w, 16384) < 0) {
        CHECK(!"the proxy opens");
        return;
    }
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc)
        goto out;
    CHECK(pc->phase == &request_phase);
    CHECK(pc->down.reader == &request_reader);
    CHECK_INT_EQ(pc->conn.waiting, 1);
    CHECK_INT_EQ(send_all(w.client, head, sizeof head - 1), 0);
    CHECK(run_until(&w, pc, in_lookup));
    CHECK_INT_EQ(pc->req.kind, PC_KIND_CONNECT);
    CHECK_STR_EQ(pc->req.host, "www.example.test");
    CHECK_INT_EQ(pc->req.port, 443);
    CHECK_INT_EQ(pc->conn.waiting, 0);
    CHECK_INT_EQ(pc->down.reading, 0);
    CHECK_INT_EQ(pc->lookup.pending, REQUEST_LOOKUPS_CONNECT);
    CHECK(pc->lookup.a && pc->lookup.aaaa && pc->lookup.tlsa && !pc->lookup.target_tlsa);
    CHECK(pc->lookup.resolver == w.r);
    request_policy_input(pc, &in);
    CHECK_INT_EQ(in.mode, w.cfg.proxy.intercept);
    CHECK_INT_EQ(in.ip_literal, 0);
    CHECK_INT_EQ(in.no_tlsa, 0);
    CHECK_INT_EQ(in.tlsa_usable, 0);
out:
    world_close(&w);
}

/* request.c: an absolute URI → plain HTTP: two lookups, no TLSA, the head for
 * the origin written, and the body held for forward.c. */
static void test_http_head_to_policy_input(void)
{
    static const char req[] = "POST http://www.example.test:8080/p?q=1 HTTP/1.1\r\n"
                              "Host: www.example.test:8080\r\n"
                              "Proxy-Connection: keep-alive\r\n"
                              "Content-Length: 5\r\n\r\nhello";
    struct world w;
    struct policy_input in;
    if (world_open(&w, 16384) < 0) {
        CHECK(!"the proxy opens");
        return;
    }
    w.px->cfg.n_http_ports = 1;
    w.px->cfg.http_ports[0].lo = w.px->cfg.http_ports[0].hi = 8080;
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc)
        goto out;
    CHECK_INT_EQ(send_all(w.client, req, sizeof req - 1), 0);
    CHECK(run_until(&w, pc, in_lookup));
    for (int i = 0; i < 20; i++)
        uv_run(&w.loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(pc->req.kind, PC_KIND_HTTP);
    CHECK_INT_EQ(pc->req.port, 8080);
    CHECK_INT_EQ(pc->lookup.pending, REQUEST_LOOKUPS_HTTP);
    CHECK(pc->lookup.tlsa == NULL);
    CHECK(pc->down.reader == &body_reader);
    CHECK_INT_EQ(pc->fwd.request_done, 0);
    CHECK(pc->fwd.head.len > 0 && strncmp(pc->fwd.head.data, "POST /p?q=1 HTTP/1.1\r\n", 22) == 0);
    CHECK(pc->fwd.head.len > 0 && strstr(pc->fwd.head.data, "Proxy-Connection") == NULL);
    /* the body is not sent before the site is connected: it waits */
    CHECK_INT_EQ(pc->req.in_len, 5);
    CHECK(pc->req.in_len == 5 && memcmp(pc->req.in, "hello", 5) == 0);
    request_policy_input(pc, &in);
    CHECK_INT_EQ(in.no_tlsa, 1);
    CHECK_INT_EQ(in.ip_literal, 0);
out:
    world_close(&w);
}

/* An address literal: no lookup; the destination policy refuses loopback with
 * a one-line 403 naming the key; the refusal is kept for the status page;
 * and the connection's close says why, at debug level, with the client. */
static void test_literal_refused_and_close_reason(void)
{
    static const char head[] = "CONNECT 127.0.0.9:443 HTTP/1.1\r\nHost: 127.0.0.9:443\r\n\r\n";
    struct world w;
    char resp[2048], log[8192];
    if (world_open(&w, 16384) < 0) {
        CHECK(!"the proxy opens");
        return;
    }
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc)
        goto out;
    log_capture_start();
    CHECK_INT_EQ(send_all(w.client, head, sizeof head - 1), 0);
    recv_until(&w, resp, sizeof resp, "allow_destinations\n");
    for (int i = 0; i < 50 && w.px->conns; i++)
        uv_run(&w.loop, UV_RUN_NOWAIT);
    log_capture_end(log, sizeof log);
    CHECK(strncmp(resp, "HTTP/1.1 403", 12) == 0);
    CHECK(strstr(resp, "daneguard: 127.0.0.9 is ") != NULL);
    CHECK(strstr(resp, "add it to proxy.allow_destinations to allow it\n") != NULL);
    CHECK_INT_EQ(w.px->events.errors.n, 1);
    CHECK_STR_EQ(w.px->events.errors_store[0].host, "127.0.0.9");
    CHECK(w.px->conns == NULL); /* closed once the 403 left */
    CHECK(strstr(log, "proxy: 127.0.0.9:443: client 127.0.0.1: closed in response: "
                      "the last response was sent") != NULL);
    if (!strstr(log, "closed in response"))
        fprintf(stderr, "  log: %s\n", log);
out:
    world_close(&w);
}

/* Close reasons of the request phase: a client that closes, one that says
 * nothing until the head's timer runs out. */
static void test_close_reasons(void)
{
    struct world w;
    char log[8192];
    if (world_open(&w, 16384) < 0) {
        CHECK(!"the proxy opens");
        return;
    }
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc)
        goto out;
    log_capture_start();
    close(w.client);
    w.client = -1;
    for (int i = 0; i < 200 && w.px->conns; i++) {
        uv_run(&w.loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    CHECK(w.px->conns == NULL);
    pc = world_connect(&w);
    CHECK(pc != NULL);
    if (pc) {
        pc_timer_set(pc, 5);
        for (int i = 0; i < 200 && w.px->conns; i++) {
            uv_run(&w.loop, UV_RUN_NOWAIT);
            usleep(1000);
        }
        CHECK(w.px->conns == NULL);
    }
    log_capture_end(log, sizeof log);
    CHECK(strstr(log, "-:0: client 127.0.0.1: closed in request: the client closed its "
                      "connection") != NULL);
    CHECK(strstr(log, "-:0: client 127.0.0.1: closed in request: timed out (5 ms)") != NULL);
    if (!strstr(log, "timed out (5 ms)"))
        fprintf(stderr, "  log: %s\n", log);
out:
    world_close(&w);
}

/* A site that is not looked up in time: handshake_timeout in the lookup phase
 * refuses (fail closed, with the page), and the lookups are gone. */
static void test_lookup_timeout_refuses(void)
{
    static const char head[] = "CONNECT slow.test:443 HTTP/1.1\r\nHost: slow.test:443\r\n\r\n";
    struct world w;
    char resp[1024];
    if (world_open(&w, 16384) < 0) {
        CHECK(!"the proxy opens");
        return;
    }
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc)
        goto out;
    CHECK_INT_EQ(send_all(w.client, head, sizeof head - 1), 0);
    CHECK(run_until(&w, pc, in_lookup));
    pc_timer_set(pc, 5);
    recv_until(&w, resp, sizeof resp, "\r\n\r\n");
    CHECK(strncmp(resp, HTTP_CONNECT_ESTABLISHED, strlen(HTTP_CONNECT_ESTABLISHED)) == 0);
    CHECK(w.px->conns == pc);
    if (w.px->conns == pc) {
        CHECK_STR_EQ(pc->phase->name, "refused");
        CHECK(strncmp(pc->verdict.reason, "timed out looking up the site in DNS", 36) == 0);
        CHECK(!pc->lookup.a && !pc->lookup.aaaa && !pc->lookup.tlsa);
        CHECK_INT_EQ(pc->lookup.pending, 0);
        CHECK(pc->down.tls != NULL);
    }
    CHECK_INT_EQ(w.px->stats.refused, 1);
out:
    world_close(&w);
}

/* Drive a TLS client session over the test's socket: send its output, run the
 * proxy's loop, feed what came back. Returns -1 once the peer has closed. */
static int tls_pump(struct world *w, struct tls_conn *t)
{
    const uint8_t *p;
    size_t len = 0;
    uint8_t buf[8192];
    if (tls_conn_output(t, &p, &len) > 0 && len > 0) {
        ssize_t k = send(w->client, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0)
            tls_conn_output_done(t, (size_t)k);
    }
    uv_run(&w->loop, UV_RUN_NOWAIT);
    ssize_t n = recv(w->client, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) {
        tls_conn_feed(t, NULL, 0);
        return -1;
    }
    if (n > 0 && tls_conn_feed(t, buf, (size_t)n) < 0)
        return -1;
    if (n < 0)
        usleep(500);
    return 0;
}

/* intercept.c: a refused CONNECT is answered inside TLS, its first request
 * with a 502 page that names the reason and every TLSA record (here so many
 * that the page is written a record at a time as the client takes it), then
 * close_notify, and the connection closes. */
static void test_refusal_page_in_tls(void)
{
    static const char head[] =
        "CONNECT refused.test:443 HTTP/1.1\r\nHost: refused.test:443\r\n\r\n";
    static const char get[] = "GET / HTTP/1.1\r\nHost: refused.test\r\n\r\n";
    static const char *const alpn[] = {"http/1.1", NULL};
    struct tls_client_options co = {.alpn = alpn};
    struct tls_client_config *tc = tls_client_config_new(&co);
    struct tls_conn *t = NULL;
    struct world w;
    char resp[1024];
    static char page[256 * 1024];
    size_t page_len = 0;
    int rc = TLS_WANT_IO;

    CHECK(tc != NULL);
    if (!tc || world_open(&w, 16384) < 0) {
        CHECK(!"the proxy opens");
        tls_client_config_free(tc);
        return;
    }
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc)
        goto out;
    CHECK_INT_EQ(send_all(w.client, head, sizeof head - 1), 0);
    CHECK(run_until(&w, pc, in_lookup));
    /* 300 TLSA records, the last with a digest the page must show */
    for (int i = 0; i < 300; i++) {
        uint8_t rdata[35] = {3, 1, 1};
        memset(rdata + 3, i == 299 ? 0xab : i, 32);
        tlsa_set_add(&pc->lookup.tlsa_set, rdata, sizeof rdata);
    }
    CHECK_INT_EQ(pc->lookup.tlsa_set.n, 300);
    request_abandon(pc);
    intercept_refuse(pc, PAGES_CLASS_DANE, "DANE mismatch: test: no TLSA record matches");
    recv_until(&w, resp, sizeof resp, "\r\n\r\n");
    CHECK_STR_EQ(resp, HTTP_CONNECT_ESTABLISHED);
    t = tls_conn_new_client(tc, "refused.test", 443);
    CHECK(t != NULL);
    for (int i = 0; t && i < 4000 && rc == TLS_WANT_IO; i++) {
        rc = tls_conn_handshake(t);
        if (rc == TLS_WANT_IO && tls_pump(&w, t) < 0)
            break;
    }
    CHECK_INT_EQ(rc, 0);
    if (rc != 0)
        goto out;
    CHECK_INT_EQ(tls_conn_write(t, get, sizeof get - 1), (int)(sizeof get - 1));
    for (int i = 0; i < 8000; i++) {
        int n = tls_conn_read(t, page + page_len, sizeof page - 1 - page_len);
        if (n > 0) {
            page_len += (size_t)n;
            continue;
        }
        if (n != TLS_WANT_IO) {
            CHECK_INT_EQ(n, TLS_EOF); /* close_notify after the page */
            break;
        }
        if (tls_pump(&w, t) < 0 && tls_conn_read(t, page + page_len, 1) == TLS_WANT_IO)
            break;
    }
    page[page_len] = '\0';
    CHECK(strncmp(page, "HTTP/1.1 502", 12) == 0);
    CHECK(page_len > TLS_OUTPUT_CAP); /* more than one flight of records */
    CHECK(strstr(page, "DANE mismatch: test: no TLSA record matches") != NULL);
    CHECK(strstr(page, "3 1 1 abababababababababababababababababababababababababababababababab") !=
          NULL);
    for (int i = 0; i < 100 && w.px->conns; i++)
        uv_run(&w.loop, UV_RUN_NOWAIT);
    CHECK(w.px->conns == NULL);
    CHECK_INT_EQ(w.px->stats.refused, 1);
out:
    tls_conn_free(t);
    world_close(&w);
    tls_client_config_free(tc);
}

static int in_http_body(struct pconn *pc)
{
    return pc->up.tcp && pc->phase == &http_phase && !pc->up.write_busy && pc->req.in_len == 0;
}

/* forward.c: the site answers a plain-HTTP request before its body is all
 * sent, and more of the body arrives in the same poll round as the end of
 * the response (the site's handle let go, our answer to the client on its
 * way). The body waits; nothing is written to the site's released handle
 * (before: uv_write on a NULL stream, and daneguard died). */
static void test_body_after_response_end(void)
{
    struct world w;
    char head[256], resp[1024];
    static char body[4096];
    uint16_t oport;
    int origin = -1, oc = -1;
    struct addr_cidr lo;
    memset(body, 'b', sizeof body);
    if (world_open(&w, 16384) < 0) {
        CHECK(!"the proxy opens");
        return;
    }
    /* the test's origin on 127.0.0.1, which the proxy may reach here */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    origin = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(origin >= 0 && bind(origin, (struct sockaddr *)&a, sizeof a) == 0 &&
          getsockname(origin, (struct sockaddr *)&a, &alen) == 0 && listen(origin, 4) == 0);
    oport = ntohs(a.sin_port);
    CHECK_INT_EQ(addr_cidr_parse("127.0.0.0/8", &lo), 0);
    hconnect_policy_free(w.px->dest);
    w.px->dest = hconnect_policy_new(&lo, 1);
    w.px->cfg.n_http_ports = 1;
    w.px->cfg.http_ports[0].lo = w.px->cfg.http_ports[0].hi = oport;
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc || origin < 0)
        goto out;
    snprintf(head, sizeof head,
             "POST http://127.0.0.1:%u/up HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
             "Content-Length: 100000\r\n\r\n",
             oport, oport);
    CHECK_INT_EQ(send_all(w.client, head, strlen(head)), 0);
    CHECK_INT_EQ(send_all(w.client, body, 1000), 0);
    /* connected, the head and the body so far sent */
    for (int i = 0; i < 2000 && oc < 0; i++) {
        uv_run(&w.loop, UV_RUN_NOWAIT);
        oc = accept4(origin, NULL, NULL, SOCK_NONBLOCK);
        if (oc < 0)
            usleep(500);
    }
    CHECK(oc >= 0);
    CHECK(run_until(&w, pc, in_http_body));
    if (!in_http_body(pc))
        goto out;
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    CHECK_INT_EQ(send_all(oc, answer, sizeof answer - 1), 0);
    usleep(20000);
    /* one poll round: the site's response, then the client's next bytes */
    libuv_reads_of((uv_stream_t *)pc->up.tcp);
    CHECK(pc->up.tcp == NULL); /* the response ended: the site let go */
    CHECK(pc->fwd.resp == NULL);
    CHECK_INT_EQ(send_all(w.client, body, 1000), 0);
    usleep(20000);
    libuv_reads(pc);
    CHECK_INT_EQ(pc->req.in_len, 1000); /* kept: there is no site to send it to */
    recv_until(&w, resp, sizeof resp, "\r\n\r\nok");
    CHECK(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(resp, "\r\n\r\nok") != NULL);
out:
    if (oc >= 0)
        close(oc);
    if (origin >= 0)
        close(origin);
    world_close(&w);
}

static int lookups_over(struct pconn *pc)
{
    return pc->lookup.pending == 0 && !pc->lookup.target_tlsa;
}

/* Reload without tearing down lookups (issue 10): a CONNECT's lookups in
 * flight when the resolver is replaced stay what they were, on the resolver
 * they started on (which outlives the daemon's reference to it), and they
 * finish there; the next request uses the new one. */
static void test_reload_keeps_lookups(void)
{
    static const char head[] = "CONNECT kept.test:443 HTTP/1.1\r\nHost: kept.test:443\r\n\r\n";
    struct world w;
    struct resolver *r2 = NULL;
    char err[CONFIG_ERR_LEN];
    if (world_open(&w, 16384) < 0) {
        CHECK(!"the proxy opens");
        return;
    }
    struct pconn *pc = world_connect(&w);
    CHECK(pc != NULL);
    if (!pc)
        goto out;
    CHECK_INT_EQ(send_all(w.client, head, sizeof head - 1), 0);
    CHECK(run_until(&w, pc, in_lookup));
    struct lookup *a = pc->lookup.a, *aaaa = pc->lookup.aaaa, *tlsa = pc->lookup.tlsa;
    struct resolver *r1 = w.r;
    /* what daemon/main.c's reload does */
    CHECK_INT_EQ(resolver_new(&w.loop, &w.cfg.resolver, &r2, err, sizeof err), 0);
    if (!r2)
        goto out;
    CHECK_INT_EQ(proxy_reconfigure(w.px, &w.cfg, r2, err, sizeof err), 0);
    resolver_unref(r1);
    w.r = r2;
    for (int i = 0; i < 20; i++)
        uv_run(&w.loop, UV_RUN_NOWAIT);
    CHECK(w.px->resolver == r2);
    CHECK(pc->phase == &lookup_phase);
    CHECK(pc->lookup.a == a && pc->lookup.aaaa == aaaa && pc->lookup.tlsa == tlsa);
    CHECK(pc->lookup.resolver == r1);
    /* the old resolver's upstream answers now: every lookup ends, on r1 */
    for (int i = 0; i < 3000 && !lookups_over(pc); i++) {
        sink_servfail_all();
        uv_run(&w.loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    CHECK(lookups_over(pc));
    CHECK(pc->phase != &lookup_phase);
    CHECK(pc->lookup.r_a.rcode == DNS_RCODE_SERVFAIL || pc->lookup.r_a.timed_out);
    CHECK(pc->lookup.resolver == r1);
out:
    world_close(&w);
}

int main(void)
{
    char cmd[256];
    snprintf(dir, sizeof dir, "/tmp/test_proxy.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(ta_path, sizeof ta_path, "%s/ta.ds", dir);
    FILE *f = fopen(ta_path, "w");
    if (!f || udp_sink() < 0) {
        printf("FAIL setup: %s\n", strerror(errno));
        return 1;
    }
    fprintf(f, "test. 3600 IN DS 1 13 2 "
               "0000000000000000000000000000000000000000000000000000000000000000\n");
    fclose(f);
    signal(SIGPIPE, SIG_IGN);

    UNIT_RUN(test_refused_http_body_not_read);
    UNIT_RUN(test_buffer_keeps_its_capacity);
    UNIT_RUN(test_connect_head_to_policy_input);
    UNIT_RUN(test_http_head_to_policy_input);
    UNIT_RUN(test_literal_refused_and_close_reason);
    UNIT_RUN(test_close_reasons);
    UNIT_RUN(test_lookup_timeout_refuses);
    UNIT_RUN(test_refusal_page_in_tls);
    UNIT_RUN(test_reload_keeps_lookups);
    UNIT_RUN(test_body_after_response_end);

    close(sink_fd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return UNIT_END();
}
