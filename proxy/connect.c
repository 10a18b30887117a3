/* proxy/connect.c — happy-eyeballs connects to a host's validated addresses. */
#include "connect.h"

#include <stdlib.h>
#include <string.h>

/* A handle hconnect allocates: the caller gets &tcp, and closes it with
 * hconnect_tcp_close(), which runs the caller's close callback first. */
struct hc_tcp {
    uv_tcp_t tcp; /* first */
    uv_close_cb closed;
};

struct attempt {
    uv_tcp_t *tcp;
    uv_connect_t req;
    struct hconnect *hc;
    int done;
};

struct hconnect {
    uv_loop_t *loop;
    struct sockaddr_storage addrs[HCONNECT_MAX_ADDRS];
    size_t n, next;
    struct attempt attempts[HCONNECT_MAX_ADDRS];
    unsigned running; /* attempts whose connect callback has not run */
    uv_timer_t stagger, deadline;
    unsigned timers_open;
    hconnect_cb cb;
    void *arg;
    int finished; /* cb ran or was cancelled */
    int last_error;
};

static void tcp_freed(uv_handle_t *h)
{
    struct hc_tcp *t = (struct hc_tcp *)h;
    if (t->closed)
        t->closed(h);
    free(t);
}

void hconnect_tcp_close(uv_tcp_t *tcp, uv_close_cb closed)
{
    if (!tcp)
        return;
    ((struct hc_tcp *)tcp)->closed = closed;
    uv_close((uv_handle_t *)tcp, tcp_freed);
}

static void hc_timer_closed(uv_handle_t *h)
{
    struct hconnect *hc = h->data;
    if (--hc->timers_open == 0 && hc->running == 0 && hc->finished)
        free(hc);
}

static void hc_maybe_free(struct hconnect *hc)
{
    if (hc->finished && hc->running == 0 && hc->timers_open == 0)
        free(hc);
}

/* Stop everything; the struct is freed when the last callback has run. */
static void hc_finish(struct hconnect *hc)
{
    hc->finished = 1;
    for (size_t i = 0; i < hc->next; i++) {
        struct attempt *a = &hc->attempts[i];
        if (!a->done && a->tcp) {
            uv_close((uv_handle_t *)a->tcp, tcp_freed); /* its connect cb gets ECANCELED */
            a->tcp = NULL;
        }
    }
    uv_close((uv_handle_t *)&hc->stagger, hc_timer_closed);
    uv_close((uv_handle_t *)&hc->deadline, hc_timer_closed);
}

static void start_next(struct hconnect *hc);

/* After start_next(): when nothing is running and nothing is left (the rest
 * failed at once, e.g. ENETUNREACH), report the failure now rather than at the
 * deadline. Returns 1 when it did (hc may be freed by then). */
static int fail_if_exhausted(struct hconnect *hc)
{
    if (hc->finished || hc->running > 0 || hc->next < hc->n)
        return 0;
    hc_finish(hc);
    hc->cb(hc->arg, hc->last_error, NULL, NULL);
    return 1;
}

static void connected(uv_connect_t *req, int status)
{
    struct attempt *a = req->data;
    struct hconnect *hc = a->hc;
    a->done = 1;
    hc->running--;
    if (hc->finished) {
        if (status == 0 && a->tcp)
            uv_close((uv_handle_t *)a->tcp, tcp_freed);
        hc_maybe_free(hc);
        return;
    }
    if (status == 0) {
        uv_tcp_t *tcp = a->tcp;
        a->tcp = NULL;
        hc_finish(hc);
        hc->cb(hc->arg, 0, tcp, (struct sockaddr *)&hc->addrs[a - hc->attempts]);
        return;
    }
    hc->last_error = status;
    uv_close((uv_handle_t *)a->tcp, tcp_freed);
    a->tcp = NULL;
    if (hc->next < hc->n)
        start_next(hc); /* a failure starts the next one at once */
    fail_if_exhausted(hc);
}

static void start_next(struct hconnect *hc)
{
    while (hc->next < hc->n) {
        struct attempt *a = &hc->attempts[hc->next];
        const struct sockaddr *sa = (const struct sockaddr *)&hc->addrs[hc->next];
        hc->next++;
        a->hc = hc;
        a->req.data = a;
        struct hc_tcp *t = calloc(1, sizeof *t);
        if (!t)
            continue;
        a->tcp = &t->tcp;
        uv_tcp_init(hc->loop, a->tcp);
        int rc = uv_tcp_connect(&a->req, a->tcp, sa, connected);
        if (rc == 0) {
            hc->running++;
            uv_timer_again(&hc->stagger); /* the next one a full stagger from now */
            return;
        }
        hc->last_error = rc;
        a->done = 1;
        uv_close((uv_handle_t *)a->tcp, tcp_freed);
        a->tcp = NULL;
    }
}

static void stagger_cb(uv_timer_t *t)
{
    struct hconnect *hc = t->data;
    start_next(hc);
    fail_if_exhausted(hc);
}

static void deadline_cb(uv_timer_t *t)
{
    struct hconnect *hc = t->data;
    hc_finish(hc);
    hc->cb(hc->arg, UV_ETIMEDOUT, NULL, NULL);
}

/* Order: IPv6 first, then alternate families (RFC 8305 §4). */
static size_t interleave(const struct sockaddr_storage *in, size_t n, struct sockaddr_storage *out)
{
    size_t i6 = 0, i4 = 0, k = 0;
    int want6 = 1;
    while (k < n && k < HCONNECT_MAX_ADDRS) {
        int fam = want6 ? AF_INET6 : AF_INET;
        size_t *ip = want6 ? &i6 : &i4;
        while (*ip < n && in[*ip].ss_family != fam)
            (*ip)++;
        if (*ip < n) {
            out[k++] = in[(*ip)++];
        } else {
            size_t *other = want6 ? &i4 : &i6;
            int ofam = want6 ? AF_INET : AF_INET6;
            while (*other < n && in[*other].ss_family != ofam)
                (*other)++;
            if (*other >= n)
                break;
            out[k++] = in[(*other)++];
        }
        want6 = !want6;
    }
    return k;
}

/* ---- the destination policy ------------------------------------------------- */

struct hconnect_policy {
    struct addr_cidr *allow; /* proxy.allow_destinations */
    size_t n_allow;
    struct addr_cidr *own; /* this machine's addresses, /32 and /128 */
    size_t n_own;
};

struct hconnect_policy *hconnect_policy_new(const struct addr_cidr *allow, size_t n_allow)
{
    uv_interface_address_t *ifs = NULL;
    int n_ifs = 0;
    struct hconnect_policy *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    if (n_allow) {
        p->allow = malloc(n_allow * sizeof *allow);
        if (!p->allow) {
            free(p);
            return NULL;
        }
        memcpy(p->allow, allow, n_allow * sizeof *allow);
        p->n_allow = n_allow;
    }
    /* Should the list fail, own public addresses go unrecognised (the count
     * in the log says 0) while the kinds (loopback, private, ...) still hold. */
    if (uv_interface_addresses(&ifs, &n_ifs) != 0)
        return p;
    p->own = calloc((size_t)n_ifs + 1, sizeof *p->own);
    if (!p->own) {
        uv_free_interface_addresses(ifs, n_ifs);
        hconnect_policy_free(p);
        return NULL;
    }
    for (int i = 0; i < n_ifs; i++) {
        struct sockaddr_storage ss;
        size_t len;
        const uint8_t *b;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, &ifs[i].address, sizeof ifs[i].address);
        b = addr_bytes((const struct sockaddr *)&ss, &len);
        if (!b)
            continue;
        struct addr_cidr *c = &p->own[p->n_own++];
        c->family = len == 4 ? AF_INET : AF_INET6;
        memcpy(c->addr, b, len);
        c->prefix = (int)len * 8;
    }
    uv_free_interface_addresses(ifs, n_ifs);
    return p;
}

void hconnect_policy_free(struct hconnect_policy *p)
{
    if (!p)
        return;
    free(p->allow);
    free(p->own);
    free(p);
}

size_t hconnect_policy_own_count(const struct hconnect_policy *p)
{
    return p ? p->n_own : 0;
}

int hconnect_policy_allows(const struct hconnect_policy *p, const struct sockaddr *sa,
                           struct hconnect_refusal *why)
{
    enum addr_kind kind = addr_kind_of(sa);
    int own = 0;

    if (p && kind != ADDR_NOT_IP) {
        if (addr_cidr_match(p->allow, p->n_allow, sa))
            return 1;
        own = addr_cidr_match(p->own, p->n_own, sa);
        if (kind == ADDR_GLOBAL && !own)
            return 1;
    }
    if (why) {
        memset(why, 0, sizeof *why);
        if (sa && kind != ADDR_NOT_IP)
            memcpy(&why->addr, sa,
                   sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                            : sizeof(struct sockaddr_in6));
        why->kind = kind;
        why->own = own;
    }
    return 0;
}

size_t hconnect_policy_filter(const struct hconnect_policy *p, struct sockaddr_storage *addrs,
                              size_t n, struct hconnect_refusal *first)
{
    size_t kept = 0;
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        struct hconnect_refusal why;
        if (hconnect_policy_allows(p, (const struct sockaddr *)&addrs[i], &why)) {
            if (kept != i)
                addrs[kept] = addrs[i];
            kept++;
        } else if (!refused++ && first) {
            *first = why;
        }
    }
    return kept;
}

/* ---- connecting ---------------------------------------------------------------- */

int hconnect_start(uv_loop_t *loop, const struct hconnect_policy *policy,
                   const struct sockaddr_storage *addrs, size_t n, unsigned timeout_ms,
                   hconnect_cb cb, void *arg, struct hconnect **out)
{
    struct sockaddr_storage allowed[HCONNECT_MAX_ADDRS];
    struct hconnect *hc;
    if (n == 0)
        return UV_EINVAL;
    if (n > HCONNECT_MAX_ADDRS)
        n = HCONNECT_MAX_ADDRS;
    memcpy(allowed, addrs, n * sizeof *addrs);
    n = hconnect_policy_filter(policy, allowed, n, NULL);
    if (n == 0)
        return UV_EACCES;
    hc = calloc(1, sizeof *hc);
    if (!hc)
        return UV_ENOMEM;
    hc->loop = loop;
    hc->n = interleave(allowed, n, hc->addrs);
    hc->cb = cb;
    hc->arg = arg;
    hc->last_error = UV_ECONNREFUSED;
    uv_timer_init(loop, &hc->stagger);
    uv_timer_init(loop, &hc->deadline);
    hc->stagger.data = hc->deadline.data = hc;
    hc->timers_open = 2;
    uv_timer_start(&hc->deadline, deadline_cb, timeout_ms, 0);
    uv_timer_start(&hc->stagger, stagger_cb, HCONNECT_STAGGER_MS, HCONNECT_STAGGER_MS);
    start_next(hc);
    if (hc->running == 0) {
        int rc = hc->last_error;
        hc_finish(hc);
        return rc;
    }
    if (out)
        *out = hc;
    return 0;
}

void hconnect_cancel(struct hconnect *hc)
{
    if (hc && !hc->finished)
        hc_finish(hc);
}
