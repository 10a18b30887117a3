/* tests/unit/test_clients.c — proxy/clients.c: connection counts per client address. */
#include "clients.h"

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "unit.h"

static struct sockaddr_storage at(const char *text, uint16_t port)
{
    struct sockaddr_storage ss;
    if (addr_parse(text, port, &ss) != 0)
        fprintf(stderr, "  bad test address %s\n", text);
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void test_refs(void)
{
    struct clients *cs = clients_new();
    struct sockaddr_storage a = at("127.0.0.2", 1000), a2 = at("127.0.0.2", 2000),
                            a6 = at("::ffff:127.0.0.2", 3000), b = at("127.0.0.3", 1000),
                            c = at("2001:db8::1", 1);
    CHECK(cs != NULL);
    if (!cs)
        return;
    struct client *ca = clients_ref(cs, SA(a));
    CHECK(ca != NULL);
    CHECK_INT_EQ(client_refs(ca), 1);
    CHECK_STR_EQ(client_text(ca), "127.0.0.2");
    /* another port, and the v4-mapped form, are the same client */
    CHECK(clients_ref(cs, SA(a2)) == ca);
    CHECK(clients_ref(cs, SA(a6)) == ca);
    CHECK_INT_EQ(client_refs(ca), 3);
    struct client *cb = clients_ref(cs, SA(b));
    struct client *cc = clients_ref(cs, SA(c));
    CHECK(cb != NULL && cb != ca);
    CHECK(cc != NULL && cc != ca && cc != cb);
    CHECK_STR_EQ(client_text(cc), "2001:db8::1");
    CHECK_INT_EQ(clients_count(cs), 3);
    clients_unref(cs, ca);
    clients_unref(cs, ca);
    CHECK_INT_EQ(client_refs(ca), 1);
    CHECK_INT_EQ(clients_count(cs), 3);
    clients_unref(cs, ca); /* freed */
    CHECK_INT_EQ(clients_count(cs), 2);
    ca = clients_ref(cs, SA(a)); /* a fresh entry */
    CHECK_INT_EQ(client_refs(ca), 1);
    clients_unref(cs, NULL);
    struct sockaddr_storage unix_ss;
    memset(&unix_ss, 0, sizeof unix_ss);
    unix_ss.ss_family = AF_UNIX;
    CHECK(clients_ref(cs, SA(unix_ss)) == NULL);
    CHECK(clients_ref(cs, NULL) == NULL);
    clients_free(cs); /* with entries left */
    clients_free(NULL);
}

/* Many clients: the table grows and every count stays its own. */
static void test_many(void)
{
    enum { N = 5000 };
    static struct client *got[N];
    struct clients *cs = clients_new();
    char text[64];
    CHECK(cs != NULL);
    if (!cs)
        return;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            snprintf(text, sizeof text, "2001:db8::%x:%x", i >> 8, i & 0xff);
            struct sockaddr_storage ss = at(text, 443);
            struct client *c = clients_ref(cs, SA(ss));
            if (round == 0)
                got[i] = c;
            else if (c != got[i])
                CHECK(c == got[i]);
        }
    CHECK_INT_EQ(clients_count(cs), N);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += client_refs(got[i]) != 2;
    CHECK_INT_EQ(bad, 0);
    for (int i = 0; i < N; i++) {
        clients_unref(cs, got[i]);
        clients_unref(cs, got[i]);
    }
    CHECK_INT_EQ(clients_count(cs), 0);
    clients_free(cs);
}

static void test_log_due(void)
{
    struct clients *cs = clients_new();
    struct sockaddr_storage a = at("10.0.0.1", 1);
    struct client *c = clients_ref(cs, SA(a));
    CHECK_INT_EQ(client_log_due(c, 0, 1000), 1); /* uv_now() may be 0 at start */
    CHECK_INT_EQ(client_log_due(c, 500, 1000), 0);
    CHECK_INT_EQ(client_log_due(c, 1001, 1000), 1);
    CHECK_INT_EQ(client_log_due(c, 1500, 1000), 0);
    CHECK_INT_EQ(client_log_due(c, 2001, 1000), 1);
    CHECK_INT_EQ(client_log_due(NULL, 5000, 1000), 0);
    clients_unref(cs, c);
    clients_free(cs);
}

int main(void)
{
    UNIT_RUN(test_refs);
    UNIT_RUN(test_many);
    UNIT_RUN(test_log_due);
    return UNIT_END();
}
