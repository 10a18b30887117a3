/* tests/unit/test_connect.c — proxy/connect.c: the destination policy (issue
 * 8, design invariant 3: what the proxy may connect to), and connecting:
 * happy eyeballs' order, falling through refused addresses, the deadline,
 * cancelling, and who closes the handle handed out. connect.c is included to
 * reach its static functions; connections go to listeners the test opens on
 * 127.0.0.1. */
#include "../../proxy/connect.c"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "addr.h"
#include "unit.h"

static struct sockaddr_storage at(const char *text)
{
    struct sockaddr_storage ss;
    if (addr_parse(text, 443, &ss) != 0)
        fprintf(stderr, "  bad test address %s\n", text);
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void test_default_refuses_local(void)
{
    struct hconnect_policy *p = hconnect_policy_new(NULL, 0);
    static const char *const refused[] = {"127.0.0.1",
                                          "127.9.9.9",
                                          "::1",
                                          "0.0.0.0",
                                          "::",
                                          "10.0.0.1",
                                          "172.20.1.1",
                                          "192.168.1.1",
                                          "100.64.1.1",
                                          "169.254.169.254",
                                          "fe80::1",
                                          "fd00::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.0.0.1",
                                          "::127.0.0.1",
                                          "64:ff9b::7f00:1",
                                          "2002:c0a8:101::1",
                                          "224.0.0.1",
                                          "255.255.255.255",
                                          "ff02::1"};
    static const char *const allowed[] = {"8.8.8.8", "2001:db8::1", "::ffff:8.8.8.8",
                                          "64:ff9b::808:808", "192.0.2.1"};
    CHECK(p != NULL);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        struct sockaddr_storage ss = at(refused[i]);
        struct hconnect_refusal why;
        int got = hconnect_policy_allows(p, SA(ss), &why);
        if (got)
            fprintf(stderr, "  allowed: %s\n", refused[i]);
        CHECK_INT_EQ(got, 0);
        CHECK(why.kind != ADDR_GLOBAL || why.own);
        CHECK_MEM_EQ(&why.addr, &ss, sizeof(struct sockaddr_in)); /* the address as given */
    }
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        struct sockaddr_storage ss = at(allowed[i]);
        int got = hconnect_policy_allows(p, SA(ss), NULL);
        if (!got)
            fprintf(stderr, "  refused: %s\n", allowed[i]);
        CHECK_INT_EQ(got, 1);
    }
    struct sockaddr_storage ss = at("127.0.0.1");
    struct hconnect_refusal why;
    CHECK_INT_EQ(hconnect_policy_allows(p, SA(ss), &why), 0);
    CHECK_INT_EQ(why.kind, ADDR_LOOPBACK);
    CHECK_INT_EQ(hconnect_policy_allows(NULL, SA(ss), NULL), 0); /* no policy: nothing */
    ss = at("8.8.8.8");
    CHECK_INT_EQ(hconnect_policy_allows(NULL, SA(ss), NULL), 0);
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    CHECK_INT_EQ(hconnect_policy_allows(p, SA(ss), &why), 0);
    CHECK_INT_EQ(why.kind, ADDR_NOT_IP);
    hconnect_policy_free(p);
    hconnect_policy_free(NULL);
}

static void test_allow_list(void)
{
    struct addr_cidr allow[3];
    CHECK_INT_EQ(addr_cidr_parse("127.0.0.0/8", &allow[0]), 0);
    CHECK_INT_EQ(addr_cidr_parse("192.168.1.10", &allow[1]), 0);
    CHECK_INT_EQ(addr_cidr_parse("fd00::/16", &allow[2]), 0);
    struct hconnect_policy *p = hconnect_policy_new(allow, 3);
    static const struct {
        const char *addr;
        int ok;
    } cases[] = {
        {"127.0.0.1", 1},    {"127.0.0.80", 1},   {"::ffff:127.0.0.1", 1}, {"::1", 0},
        {"192.168.1.10", 1}, {"192.168.1.11", 0}, {"fd00::5", 1},          {"fd01::5", 0},
        {"10.0.0.1", 0},     {"8.8.8.8", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_storage ss = at(cases[i].addr);
        int got = hconnect_policy_allows(p, SA(ss), NULL);
        if (got != cases[i].ok)
            fprintf(stderr, "  %s: %d, expected %d\n", cases[i].addr, got, cases[i].ok);
        CHECK_INT_EQ(got, cases[i].ok);
    }
    hconnect_policy_free(p);
}

/* This machine's addresses are refused even when global, unless allowed. */
static void test_own_addresses(void)
{
    uv_interface_address_t *ifs;
    int n;
    struct hconnect_policy *p = hconnect_policy_new(NULL, 0);
    CHECK(p != NULL);
    CHECK_INT_EQ(uv_interface_addresses(&ifs, &n), 0);
    CHECK_INT_EQ(hconnect_policy_own_count(p), n);
    CHECK(n >= 1); /* lo, at least */
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        struct hconnect_refusal why;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, &ifs[i].address, sizeof ifs[i].address);
        CHECK_INT_EQ(hconnect_policy_allows(p, SA(ss), &why), 0);
        CHECK_INT_EQ(why.own, 1);
        /* allowed by name: a /32 or /128 of it */
        struct addr_cidr one;
        char text[ADDR_TEXT_MAX];
        CHECK_INT_EQ(addr_cidr_parse(addr_format(SA(ss), 0, text, sizeof text), &one), 0);
        struct hconnect_policy *q = hconnect_policy_new(&one, 1);
        CHECK_INT_EQ(hconnect_policy_allows(q, SA(ss), NULL), 1);
        hconnect_policy_free(q);
    }
    uv_free_interface_addresses(ifs, n);
    hconnect_policy_free(p);
}

static void never_called(void *arg, int status, uv_tcp_t *tcp, const struct sockaddr *addr)
{
    (void)status, (void)tcp, (void)addr;
    (*(int *)arg)++;
}

static void test_filter_and_start(void)
{
    struct hconnect_policy *p = hconnect_policy_new(NULL, 0);
    struct sockaddr_storage addrs[4] = {at("::1"), at("8.8.8.8"), at("127.0.0.80"),
                                        at("2001:db8::1")};
    struct hconnect_refusal first;
    size_t n = hconnect_policy_filter(p, addrs, 4, &first);
    char text[ADDR_TEXT_MAX];
    CHECK_INT_EQ(n, 2);
    CHECK_STR_EQ(addr_format(SA(addrs[0]), 0, text, sizeof text), "8.8.8.8");
    CHECK_STR_EQ(addr_format(SA(addrs[1]), 0, text, sizeof text), "2001:db8::1");
    CHECK_STR_EQ(addr_format(SA(first.addr), 0, text, sizeof text), "::1");
    CHECK_INT_EQ(first.kind, ADDR_LOOPBACK);
    CHECK_INT_EQ(addr_port(SA(addrs[0])), 443);

    /* hconnect_start itself refuses: nothing is connected, cb never runs */
    uv_loop_t loop;
    int calls = 0;
    struct hconnect *hc = NULL;
    struct sockaddr_storage local[2] = {at("127.0.0.1"), at("::ffff:127.0.0.1")};
    CHECK_INT_EQ(uv_loop_init(&loop), 0);
    CHECK_INT_EQ(hconnect_start(&loop, p, local, 2, 1000, never_called, &calls, &hc), UV_EACCES);
    CHECK_INT_EQ(hconnect_start(&loop, NULL, local, 2, 1000, never_called, &calls, &hc), UV_EACCES);
    CHECK(hc == NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(calls, 0);
    CHECK_INT_EQ(uv_loop_close(&loop), 0); /* no handle was left open */
    hconnect_policy_free(p);
}

/* IPv6 first, then the families alternate; what is left of one family
 * follows in order (RFC 8305 §4). */
static void test_interleave(void)
{
    struct sockaddr_storage in[5] = {at("192.0.2.1"), at("192.0.2.2"), at("2001:db8::1"),
                                     at("2001:db8::2"), at("192.0.2.3")};
    static const char *const want[] = {"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2",
                                       "192.0.2.3"};
    struct sockaddr_storage out[HCONNECT_MAX_ADDRS];
    char text[ADDR_TEXT_MAX];
    CHECK_INT_EQ(interleave(in, 5, out), 5);
    for (size_t i = 0; i < 5; i++)
        CHECK_STR_EQ(addr_format(SA(out[i]), 0, text, sizeof text), want[i]);
    CHECK_INT_EQ(interleave(in, 2, out), 2); /* one family only: as given */
    CHECK_STR_EQ(addr_format(SA(out[1]), 0, text, sizeof text), "192.0.2.2");
}

/* A TCP socket on 127.0.0.1: listening (backlog), or only bound (a connect
 * to it is refused). *port is its port. */
static int local_socket(int listening, int backlog, uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
        (listening && listen(fd, backlog) < 0)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static struct sockaddr_storage local_at(uint16_t port)
{
    struct sockaddr_storage ss;
    addr_parse("127.0.0.1", port, &ss);
    return ss;
}

struct outcome {
    int calls, status;
    uv_tcp_t *tcp;
    struct sockaddr_storage addr;
    int closed; /* the close callback given to hconnect_tcp_close ran */
};

static void record(void *arg, int status, uv_tcp_t *tcp, const struct sockaddr *addr)
{
    struct outcome *o = arg;
    o->calls++;
    o->status = status;
    o->tcp = tcp;
    if (addr)
        memcpy(&o->addr, addr, sizeof(struct sockaddr_in));
}

static void on_closed(uv_handle_t *h)
{
    struct outcome *o = h->data; /* the caller's data, still there */
    o->closed++;
}

static void run_for(uv_loop_t *loop, struct outcome *o, int ms)
{
    for (int i = 0; i < ms && o->calls == 0; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

/* A refused address, then a listening one: the first failure starts the next
 * attempt at once, the second wins; its handle is the caller's, and
 * hconnect_tcp_close() runs the caller's close callback, then frees it. */
static void test_connect_falls_through(void)
{
    struct addr_cidr lo;
    uint16_t p_refused, p_open;
    int fd_refused = local_socket(0, 0, &p_refused), fd_open = local_socket(1, 8, &p_open);
    struct outcome o = {0};
    uv_loop_t loop;
    struct hconnect *hc = NULL;
    char text[ADDR_TEXT_MAX];

    CHECK(fd_refused >= 0 && fd_open >= 0);
    CHECK_INT_EQ(addr_cidr_parse("127.0.0.0/8", &lo), 0);
    struct hconnect_policy *p = hconnect_policy_new(&lo, 1);
    struct sockaddr_storage addrs[2] = {local_at(p_refused), local_at(p_open)};
    CHECK_INT_EQ(uv_loop_init(&loop), 0);
    CHECK_INT_EQ(hconnect_start(&loop, p, addrs, 2, 5000, record, &o, &hc), 0);
    run_for(&loop, &o, 3000); /* well under the 250 ms stagger times the deadline */
    CHECK_INT_EQ(o.calls, 1);
    CHECK_INT_EQ(o.status, 0);
    CHECK(o.tcp != NULL);
    CHECK_INT_EQ(addr_port(SA(o.addr)), p_open);
    CHECK_STR_EQ(addr_format(SA(o.addr), 0, text, sizeof text), "127.0.0.1");
    if (o.tcp) {
        o.tcp->data = &o;
        hconnect_tcp_close(o.tcp, on_closed);
    }
    hconnect_tcp_close(NULL, on_closed); /* a no-op */
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(o.closed, 1);
    CHECK_INT_EQ(uv_loop_close(&loop), 0); /* nothing left open */
    hconnect_policy_free(p);
    close(fd_refused);
    close(fd_open);
}

/* Every address refused: the callback runs once, with the error, no handle. */
static void test_connect_all_refused(void)
{
    struct addr_cidr lo;
    uint16_t p1, p2;
    int fd1 = local_socket(0, 0, &p1), fd2 = local_socket(0, 0, &p2);
    struct outcome o = {0};
    uv_loop_t loop;
    struct hconnect *hc = NULL;

    CHECK(fd1 >= 0 && fd2 >= 0);
    CHECK_INT_EQ(addr_cidr_parse("127.0.0.0/8", &lo), 0);
    struct hconnect_policy *p = hconnect_policy_new(&lo, 1);
    struct sockaddr_storage addrs[2] = {local_at(p1), local_at(p2)};
    CHECK_INT_EQ(uv_loop_init(&loop), 0);
    CHECK_INT_EQ(hconnect_start(&loop, p, addrs, 2, 5000, record, &o, &hc), 0);
    run_for(&loop, &o, 3000);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_INT_EQ(o.calls, 1);
    CHECK_INT_EQ(o.status, UV_ECONNREFUSED);
    CHECK(o.tcp == NULL);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    hconnect_policy_free(p);
    close(fd1);
    close(fd2);
}

/* A listener whose accept queue is full drops new SYNs: a connect to it
 * neither succeeds nor fails until the deadline; or until cancelled, when
 * the callback never runs. */
static void test_connect_deadline_and_cancel(void)
{
    struct addr_cidr lo;
    uint16_t port;
    int fd = local_socket(1, 0, &port), filler = socket(AF_INET, SOCK_STREAM, 0);
    struct outcome o = {0}, c = {0};
    uv_loop_t loop;
    struct hconnect *hc = NULL;

    CHECK(fd >= 0 && filler >= 0);
    struct sockaddr_storage addr = local_at(port);
    CHECK_INT_EQ(connect(filler, SA(addr), sizeof(struct sockaddr_in)), 0); /* the queue is full */
    CHECK_INT_EQ(addr_cidr_parse("127.0.0.0/8", &lo), 0);
    struct hconnect_policy *p = hconnect_policy_new(&lo, 1);
    CHECK_INT_EQ(uv_loop_init(&loop), 0);
    CHECK_INT_EQ(hconnect_start(&loop, p, &addr, 1, 100, record, &o, &hc), 0);
    run_for(&loop, &o, 3000);
    CHECK_INT_EQ(o.calls, 1);
    CHECK_INT_EQ(o.status, UV_ETIMEDOUT);
    CHECK(o.tcp == NULL);
    CHECK_INT_EQ(hconnect_start(&loop, p, &addr, 1, 100, record, &c, &hc), 0);
    hconnect_cancel(hc);
    hconnect_cancel(NULL); /* a no-op */
    for (int i = 0; i < 300; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    CHECK_INT_EQ(c.calls, 0);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    hconnect_policy_free(p);
    close(filler);
    close(fd);
}

int main(void)
{
    UNIT_RUN(test_default_refuses_local);
    UNIT_RUN(test_allow_list);
    UNIT_RUN(test_own_addresses);
    UNIT_RUN(test_filter_and_start);
    UNIT_RUN(test_interleave);
    UNIT_RUN(test_connect_falls_through);
    UNIT_RUN(test_connect_all_refused);
    UNIT_RUN(test_connect_deadline_and_cancel);
    return UNIT_END();
}
