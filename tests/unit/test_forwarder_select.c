/* tests/unit/test_forwarder_select.c — which upstream the forwarder asks first
 * (first_upstream()) and after (next_upstream()) when the DNSSEC-stripping
 * probe's verdicts, transports backed off, round_robin_upstreams and the
 * upstream avoided after a purged answer all count at once. forwarder.c and
 * probe.c are included to reach their static functions and fields.
 */
#include "../../resolver/forwarder.c"
#define udp_alloc probe_udp_alloc /* both files have one */
#include "../../resolver/probe.c"
#undef udp_alloc

#include "unit.h"

#define N_UP 3

/* A forwarder with N_UP upstreams on [TCP] (nothing is sent: only the
 * choice is looked at), a probe of its own that the test sets verdicts in. */
static struct forwarder *fw_open(uv_loop_t *loop, int round_robin, struct probe *probe)
{
    struct config cfg;
    struct forwarder *fw = NULL;
    struct sockaddr_storage at;
    char err[256], text[32];

    config_defaults(&cfg);
    for (int i = 0; i < N_UP; i++) {
        snprintf(text, sizeof text, "127.0.0.1@%d", 5301 + i);
        if (config_sockaddr_parse(text, 53, &cfg.resolver.upstreams[i].addr) < 0)
            return NULL;
    }
    cfg.resolver.n_upstreams = N_UP;
    cfg.resolver.transports[0] = CONFIG_TRANSPORT_TCP;
    cfg.resolver.n_transports = 1;
    cfg.resolver.round_robin_upstreams = round_robin;
    if (forwarder_new(loop, &cfg.resolver, &fw, &at, err, sizeof err) < 0)
        return NULL;
    probe->n = N_UP;
    forwarder_set_probe(fw, probe);
    return fw;
}

static void q_init(struct dns_query *q)
{
    static const uint8_t name[] = {3, 'w', 'w', 'w', 4, 'u', 'n', 'i', 't', 0};
    memset(q, 0, sizeof *q);
    memcpy(q->qname, name, sizeof name);
    q->qname_len = sizeof name;
    q->qtype = DNS_TYPE_A;
    q->qclass = DNS_CLASS_IN;
}

/* How often each upstream comes first in 60 picks. */
static void picks(struct forwarder *fw, const struct dns_query *q, unsigned count[N_UP])
{
    memset(count, 0, N_UP * sizeof count[0]);
    for (int k = 0; k < 60; k++)
        count[first_upstream(fw, q)]++;
}

static void down(struct forwarder *fw, size_t u)
{
    fw->down_until[u][FWD_T_TCP] = uv_now(fw->loop) + 60000;
}

static void test_probe_and_backoff(void)
{
    uv_loop_t loop;
    struct probe *probe = calloc(1, sizeof *probe);
    struct forwarder *fw;
    struct dns_query q;
    unsigned n[N_UP];

    uv_loop_init(&loop);
    CHECK((fw = fw_open(&loop, 0, probe)) != NULL);
    q_init(&q);
    /* upstream 0 strips DNSSEC, 1 and 2 pass it through: 0 is never first */
    probe->t[0].state = PROBE_STRIPS;
    probe->t[1].state = probe->t[2].state = PROBE_CAPABLE;
    picks(fw, &q, n);
    CHECK_INT_EQ(n[0], 0);
    CHECK(n[1] > 0 && n[2] > 0);
    /* and 1 is backed off too: 2 alone */
    down(fw, 1);
    picks(fw, &q, n);
    CHECK_INT_EQ(n[2], 60);
    /* 2 gave this name a bogus answer (avoided), 1 is down, 0 strips: 2 still,
     * never the stripper nor the one backed off while another is usable */
    avoid_add(fw, q.qname, q.qname_len, q.qtype, 2);
    picks(fw, &q, n);
    CHECK_INT_EQ(n[2], 60);
    /* every usable one backed off: the usable ones, still not the stripper */
    down(fw, 2);
    picks(fw, &q, n);
    CHECK_INT_EQ(n[0], 0);
    /* a retransmit goes past the stripper */
    CHECK_INT_EQ(next_upstream(fw, 2), 1);
    CHECK_INT_EQ(next_upstream(fw, 1), 2);

    forwarder_free(fw);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    free(probe);
}

static void test_round_robin_skips(void)
{
    uv_loop_t loop;
    struct probe *probe = calloc(1, sizeof *probe);
    struct forwarder *fw;
    struct dns_query q;
    size_t seq[6];

    uv_loop_init(&loop);
    CHECK((fw = fw_open(&loop, 1, probe)) != NULL);
    q_init(&q);
    /* in turn over all three */
    for (int k = 0; k < 6; k++)
        seq[k] = first_upstream(fw, &q);
    CHECK(seq[0] != seq[1] && seq[1] != seq[2] && seq[0] != seq[2]);
    CHECK_INT_EQ(seq[3], seq[0]);
    /* in turn over those neither backed off nor stripping: 1 and 2, alternately */
    down(fw, 0);
    probe->t[0].state = probe->t[1].state = PROBE_CAPABLE;
    probe->t[2].state = PROBE_CAPABLE;
    for (int k = 0; k < 6; k++)
        seq[k] = first_upstream(fw, &q);
    for (int k = 0; k < 6; k++)
        CHECK(seq[k] == 1 || seq[k] == 2);
    CHECK(seq[0] != seq[1] && seq[2] != seq[3]);
    probe->t[1].state = PROBE_STRIPS;
    for (int k = 0; k < 4; k++)
        CHECK_INT_EQ(first_upstream(fw, &q), 2);

    forwarder_free(fw);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    free(probe);
}

int main(void)
{
    UNIT_RUN(test_probe_and_backoff);
    UNIT_RUN(test_round_robin_skips);
    return UNIT_END();
}
