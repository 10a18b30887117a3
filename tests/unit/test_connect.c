/* tests/unit/test_connect.c — proxy/connect.c's destination policy (issue 8,
 * design invariant 3): what the proxy may connect to. */
#include "connect.h"

#include <stdio.h>
#include <string.h>
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

int main(void)
{
    UNIT_RUN(test_default_refuses_local);
    UNIT_RUN(test_allow_list);
    UNIT_RUN(test_own_addresses);
    UNIT_RUN(test_filter_and_start);
    return UNIT_END();
}
