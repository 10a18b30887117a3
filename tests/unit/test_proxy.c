/* tests/unit/test_proxy.c — the proxy's connection callbacks, driven for real.
 *
 * proxy.c is included to reach its static functions. A proxy is opened on a
 * loop of the test's own, with a resolver whose upstream is a UDP socket that
 * never answers (so a plain-HTTP request stays in its lookups as long as the
 * test wants), and a client connects to it over loopback. Where an ordering
 * matters that the kernel decides (the client's bytes arriving in the same
 * poll round as the verdict), the test calls alloc_cb and read_cb itself, as
 * libuv's uv__read does: alloc_cb, read(2) into the buffer it gave, read_cb.
 */
#include "../../proxy/proxy.c"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

static char dir[64];
static char ta_path[128];
static int sink_fd = -1; /* the resolver's upstream: nobody reads it */
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
    ((struct sockaddr_in *)&w->cfg.proxy.listen[0].ss)->sin_port = 0;
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
    return pc->state == PS_LOOKUP;
}

/* One round of what libuv does when the client's socket is readable. */
static void libuv_reads(struct pconn *pc)
{
    uv_os_fd_t fd;
    uv_buf_t b;
    if (uv_fileno((uv_handle_t *)&pc->client_tcp, &fd) < 0)
        return;
    alloc_cb((uv_handle_t *)&pc->client_tcp, 65536, &b);
    if (b.len == 0) {
        read_cb((uv_stream_t *)&pc->client_tcp, UV_ENOBUFS, &b);
        return;
    }
    ssize_t n = read(fd, b.base, b.len);
    if (n > 0)
        read_cb((uv_stream_t *)&pc->client_tcp, n, &b);
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

/* Issue 8, defect 3: a plain-HTTP request refused while its body still comes.
 * The refusal must stop reading the client; and bytes that are read anyway
 * must be counted in the buffer they went to (before: alloc_cb handed out
 * down.buf, read_cb added the count to pc->in_len, and handle_request_bytes
 * moved memory past the end of pc->in). */
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
    CHECK_INT_EQ(pc->kind, KIND_HTTP);
    /* The lookups end in a refusal (as lookups_done does on POLICY_REFUSE),
     * and more of the body is on its way in the same poll round. */
    upstream_abandon(pc);
    refuse(pc, "test: the policy refuses this host");
    CHECK_INT_EQ(pc->state, PS_REFUSED);
    CHECK_INT_EQ(pc->down.reading, 0);
    CHECK_INT_EQ(send_all(w.client, body, sizeof body), 0);
    usleep(20000);
    size_t in_len = pc->in_len;
    for (int i = 0; i < 4 && pc->down.reading; i++)
        libuv_reads(pc); /* what libuv would do: only while reading */
    CHECK(pc->in_len <= pc->in_cap);
    /* Called even so (a stale event), nothing lands anywhere. */
    libuv_reads(pc);
    CHECK(pc->in_len <= pc->in_cap);
    CHECK_INT_EQ(pc->in_len, in_len);
    CHECK_INT_EQ(pc->down.reading, 0);
    /* The page is still answered, then the connection closes. */
    char resp[4096] = "";
    size_t got = 0;
    for (int i = 0; i < 200 && !strstr(resp, "daneguard"); i++) {
        uv_run(&w.loop, UV_RUN_NOWAIT);
        ssize_t n = recv(w.client, resp + got, sizeof resp - 1 - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        resp[got] = '\0';
        usleep(1000);
    }
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
    /* a tunnel's client side, as start_tunnel leaves it */
    waiting_del(pc);
    side_read(&pc->down, 0);
    pc->state = PS_TUNNEL;
    uv_buf_t b;
    alloc_cb((uv_handle_t *)&pc->client_tcp, 65536, &b);
    CHECK_INT_EQ(b.len, 1024);
    w.px->cfg.buffer_size = 4 << 20; /* what a reload does */
    alloc_cb((uv_handle_t *)&pc->client_tcp, 65536, &b);
    CHECK_INT_EQ(b.len, 1024);
    pc->state = PS_REQUEST;
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

    close(sink_fd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return UNIT_END();
}
