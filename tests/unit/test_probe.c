/* tests/unit/test_probe.c — the DNSSEC-stripping probe's pure parts: the
 * queries it sends, how an answer is judged, what a round's results make of
 * an upstream, and which upstreams the forwarder may use; and a probe over the
 * forwarder's own TCP connection (dnspeer.h plays the upstream). The .c is
 * included to reach its static functions.
 */
#include "../../resolver/probe.c"

#include "config.h"
#include "dnspeer.h"
#include "unit.h"

static const uint8_t ANCHOR[] = {5, 'w', 'o', 'r', 'l', 'd', 4, 't', 'e', 's', 't', 0};

/* A reply to q (its ID and question) with rcode and flags2 (the second flags
 * byte), holding an answer record of type rtype at the question's name when
 * rtype is not 0, and an RRSIG when with_sig. */
static size_t reply(const uint8_t *q, size_t qlen, int rcode, uint8_t tc, uint16_t rtype,
                    int with_sig, uint8_t *out)
{
    size_t n = DNS_HEADER_LEN, qname_end = DNS_HEADER_LEN;
    while (q[qname_end])
        qname_end += 1 + q[qname_end];
    qname_end++;
    memcpy(out, q, qname_end + 4); /* header and question */
    (void)qlen;
    out[2] = (uint8_t)(0x81 | (tc ? 0x02 : 0)); /* QR RD (TC) */
    out[3] = (uint8_t)(0x80 | rcode);           /* RA */
    out[6] = out[7] = out[8] = out[9] = out[10] = out[11] = 0;
    n = qname_end + 4;
    unsigned an = 0;
    if (rtype) {
        out[n++] = 0xc0, out[n++] = DNS_HEADER_LEN; /* the question's name */
        put16(out + n, rtype), put16(out + n + 2, 1);
        memset(out + n + 4, 0, 4), out[n + 7] = 60;
        put16(out + n + 8, 4), memset(out + n + 10, 1, 4);
        n += 14;
        an++;
    }
    if (with_sig) {
        out[n++] = 0xc0, out[n++] = DNS_HEADER_LEN;
        put16(out + n, DNS_TYPE_RRSIG), put16(out + n + 2, 1);
        memset(out + n + 4, 0, 4), out[n + 7] = 60;
        put16(out + n + 8, 19); /* covered type .. key tag, and the root as signer */
        memset(out + n + 10, 0, 19);
        put16(out + n + 10, rtype ? rtype : DNS_TYPE_SOA);
        n += 29;
        an++;
    }
    put16(out + 6, (uint16_t)an);
    return n;
}

static void test_queries(void)
{
    struct probe *p = calloc(1, sizeof *p);
    struct dns_query q;
    p->qtype[0] = DNS_TYPE_DNSKEY;
    size_t len = build_query(p->query[0], ANCHOR, sizeof ANCHOR, DNS_TYPE_DNSKEY);
    CHECK_INT_EQ(dns_query_parse(p->query[0], len, &q), 0);
    CHECK_INT_EQ(q.qtype, DNS_TYPE_DNSKEY);
    CHECK_INT_EQ(q.do_bit, 1); /* DO set: signatures asked for */
    CHECK_INT_EQ(q.rd, 1);
    CHECK_INT_EQ(q.has_edns, 1);
    CHECK_INT_EQ(q.udp_size, DNS_MAX_UDP_REPLY);
    CHECK(dns_name_equal(q.qname, q.qname_len, ANCHOR, sizeof ANCHOR));
    free(p);
}

static void test_judge(void)
{
    uint8_t q[600], r[700];
    size_t qlen = build_query(q, ANCHOR, sizeof ANCHOR, DNS_TYPE_DNSKEY), n;

    n = reply(q, qlen, DNS_RCODE_NOERROR, 0, DNS_TYPE_DNSKEY, 1, r);
    CHECK_INT_EQ(judge(r, n), 1); /* signed */
    n = reply(q, qlen, DNS_RCODE_NOERROR, 0, DNS_TYPE_DNSKEY, 0, r);
    CHECK_INT_EQ(judge(r, n), -1); /* the signature removed */
    n = reply(q, qlen, DNS_RCODE_NXDOMAIN, 0, 0, 0, r);
    CHECK_INT_EQ(judge(r, n), -1); /* a denial without signatures */
    n = reply(q, qlen, DNS_RCODE_NXDOMAIN, 0, 0, 1, r);
    CHECK_INT_EQ(judge(r, n), 1);
    n = reply(q, qlen, DNS_RCODE_SERVFAIL, 0, 0, 0, r);
    CHECK_INT_EQ(judge(r, n), 0); /* says nothing */
    n = reply(q, qlen, DNS_RCODE_REFUSED, 0, 0, 0, r);
    CHECK_INT_EQ(judge(r, n), 0);
    n = reply(q, qlen, DNS_RCODE_FORMERR, 0, 0, 0, r);
    CHECK_INT_EQ(judge(r, n), -1); /* no EDNS: signatures never come */
    n = reply(q, qlen, DNS_RCODE_NOERROR, 1, 0, 0, r);
    CHECK_INT_EQ(judge(r, n), 1); /* truncated: no evidence */
}

static void test_answers_match(void)
{
    struct probe *p = calloc(1, sizeof *p);
    struct probe_target *t = &p->t[0];
    uint8_t r[700];
    t->p = p;
    memcpy(p->qname[0], ANCHOR, sizeof ANCHOR);
    p->qname_len[0] = sizeof ANCHOR;
    p->qtype[0] = DNS_TYPE_DNSKEY;
    p->qlen[0] = build_query(p->query[0], ANCHOR, sizeof ANCHOR, DNS_TYPE_DNSKEY);
    t->id[0] = 0x1234;
    put16(p->query[0], 0x1234);
    size_t n = reply(p->query[0], p->qlen[0], 0, 0, DNS_TYPE_DNSKEY, 1, r);
    CHECK_INT_EQ(answers(t, 0, r, n), 1);
    put16(r, 0x1235);
    CHECK_INT_EQ(answers(t, 0, r, n), 0); /* another ID */
    put16(r, 0x1234);
    r[2] &= 0x7f;
    CHECK_INT_EQ(answers(t, 0, r, n), 0); /* not a response */
    r[2] |= 0x80;
    put16(r + DNS_HEADER_LEN + sizeof ANCHOR, DNS_TYPE_DS);
    CHECK_INT_EQ(answers(t, 0, r, n), 0); /* another question */
    CHECK_INT_EQ(answers(t, 0, r, 5), 0); /* short */
    free(p);
}

/* round_end(): the two results make the state. */
static enum probe_state verdict(int dnskey, int ds)
{
    static struct probe p;
    struct probe_target *t = &p.t[0];
    memset(&p, 0, sizeof p);
    p.n = 1;
    t->p = &p;
    t->state = t->logged = PROBE_UNKNOWN;
    t->result[0] = dnskey;
    t->result[1] = ds;
    t->running = 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &t->timer);
    snprintf(t->text, sizeof t->text, "192.0.2.1");
    round_end(t);
    uv_close((uv_handle_t *)&t->timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return t->state;
}

static void test_verdicts(void)
{
    CHECK_INT_EQ(verdict(1, 1), PROBE_CAPABLE);
    CHECK_INT_EQ(verdict(-1, 1), PROBE_STRIPS);
    CHECK_INT_EQ(verdict(1, -1), PROBE_STRIPS);
    CHECK_INT_EQ(verdict(1, 0), PROBE_DROPS_DS);
    CHECK_INT_EQ(verdict(0, 0), PROBE_UNREACHABLE);
    CHECK_INT_EQ(verdict(0, 1), PROBE_UNREACHABLE);
    CHECK_INT_EQ(verdict(0, -1), PROBE_STRIPS);
}

static void test_usable_and_blocked(void)
{
    struct probe *p = calloc(1, sizeof *p);
    const char *why = NULL;
    p->n = 2;
    snprintf(p->why, sizeof p->why, "why");
    CHECK_INT_EQ(probe_usable(NULL, 0), 1);
    CHECK_INT_EQ(probe_blocked(NULL, &why), 0);
    /* nothing known yet: everyone is used */
    CHECK_INT_EQ(probe_usable(p, 0), 1);
    CHECK_INT_EQ(probe_blocked(p, &why), 0);
    /* one strips, the other passes DNSSEC: the stripper is not used */
    p->t[0].state = PROBE_STRIPS;
    p->t[1].state = PROBE_CAPABLE;
    CHECK_INT_EQ(probe_usable(p, 0), 0);
    CHECK_INT_EQ(probe_usable(p, 1), 1);
    CHECK_INT_EQ(probe_blocked(p, &why), 0);
    /* the other not probed yet: both used, not blocked */
    p->t[1].state = PROBE_UNKNOWN;
    CHECK_INT_EQ(probe_usable(p, 0), 1);
    CHECK_INT_EQ(probe_blocked(p, &why), 0);
    /* the other unreachable: blocked, the stripper still "usable" (nothing better) */
    p->t[1].state = PROBE_UNREACHABLE;
    CHECK_INT_EQ(probe_usable(p, 0), 1);
    CHECK_INT_EQ(probe_blocked(p, &why), 1);
    CHECK_STR_EQ(why, "why");
    /* both strip, one way or the other */
    p->t[1].state = PROBE_DROPS_DS;
    CHECK_INT_EQ(probe_blocked(p, &why), 1);
    /* none strips, none answers: not blocked (that is a timeout, not DNSSEC) */
    p->t[0].state = p->t[1].state = PROBE_UNREACHABLE;
    CHECK_INT_EQ(probe_blocked(p, &why), 0);
    /* the notes name only the strippers */
    char notes[512];
    p->t[0].state = PROBE_STRIPS;
    p->t[1].state = PROBE_CAPABLE;
    snprintf(p->t[0].text, sizeof p->t[0].text, "192.168.1.1");
    snprintf(p->t[1].text, sizeof p->t[1].text, "9.9.9.9");
    probe_notes(p, notes, sizeof notes);
    CHECK_STR_EQ(notes, "Upstream 192.168.1.1 removes DNSSEC signatures; daneguard cannot "
                        "validate through it (not used).\n");
    probe_notes(NULL, notes, sizeof notes);
    CHECK_STR_EQ(notes, "");
    free(p);
}

/* --- over the forwarder's TCP connection ------------------------------------ */

static int peer_signs; /* the peer's answers carry RRSIGs */

static size_t tcp_peer_answer(struct peer *p, const uint8_t *q, size_t qlen, int over_tcp,
                              uint8_t *out, size_t cap)
{
    (void)p, (void)over_tcp, (void)cap;
    return reply(q, qlen, DNS_RCODE_NOERROR, 0, question_type(q, qlen), peer_signs, out);
}

static int probed(void *arg)
{
    return probe_get_state(arg, 0) != PROBE_UNKNOWN;
}

/* dns_transport_list [TCP]: the probe asks on the forwarder's connection,
 * never over UDP; an answer slower than a try (PROBE_TRY_MS) still counts,
 * without the query being sent again. */
static enum probe_state probe_over_tcp(int signs, unsigned *tcp, unsigned *udp)
{
    uv_loop_t loop;
    struct peer peer;
    struct config cfg;
    struct forwarder *fw = NULL;
    struct probe *p = NULL;
    struct sockaddr_storage at;
    char err[256];
    enum probe_state st = PROBE_UNKNOWN;

    peer_signs = signs;
    uv_loop_init(&loop);
    if (peer_open(&peer, tcp_peer_answer) < 0) {
        CHECK(!"peer_open");
        return st;
    }
    config_defaults(&cfg);
    peer_as_upstream(&cfg.resolver, peer.port);
    cfg.resolver.transports[0] = CONFIG_TRANSPORT_TCP;
    cfg.resolver.n_transports = 1;
    cfg.resolver.timeout_ms = 4000;
    if (forwarder_new(&loop, &cfg.resolver, &fw, &at, err, sizeof err) == 0 &&
        probe_new(&loop, fw, cfg.resolver.upstreams, 1, ANCHOR, sizeof ANCHOR, &p) == 0) {
        pump(&loop, NULL, NULL, NULL, PROBE_TRY_MS + 300); /* the peer silent past a try */
        CHECK(pump(&loop, &peer, probed, p, 3000));
        st = probe_get_state(p, 0);
    } else {
        CHECK(!"forwarder_new/probe_new");
    }
    *tcp = peer.tcp_queries;
    *udp = peer.udp_queries;
    probe_free(p);
    forwarder_free(fw);
    peer_close(&peer);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    return st;
}

static void test_probe_over_tcp(void)
{
    unsigned tcp, udp;
    CHECK_INT_EQ(probe_over_tcp(1, &tcp, &udp), PROBE_CAPABLE);
    CHECK_INT_EQ(tcp, 2); /* DNSKEY and DS, once each */
    CHECK_INT_EQ(udp, 0);
    CHECK_INT_EQ(probe_over_tcp(0, &tcp, &udp), PROBE_STRIPS);
    CHECK_INT_EQ(tcp, 2);
    CHECK_INT_EQ(udp, 0);
}

int main(void)
{
    UNIT_RUN(test_queries);
    UNIT_RUN(test_judge);
    UNIT_RUN(test_answers_match);
    UNIT_RUN(test_verdicts);
    UNIT_RUN(test_usable_and_blocked);
    UNIT_RUN(test_probe_over_tcp);
    return UNIT_END();
}
