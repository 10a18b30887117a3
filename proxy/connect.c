/* proxy/connect.c — happy-eyeballs connects to a host's validated addresses. */
#include "connect.h"

#include <stdlib.h>
#include <string.h>

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
    free(h);
}

void hconnect_tcp_close(uv_tcp_t *tcp)
{
    if (tcp)
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
        a->tcp = malloc(sizeof *a->tcp);
        if (!a->tcp)
            continue;
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

int hconnect_start(uv_loop_t *loop, const struct sockaddr_storage *addrs, size_t n,
                   unsigned timeout_ms, hconnect_cb cb, void *arg, struct hconnect **out)
{
    struct hconnect *hc;
    if (n == 0)
        return UV_EINVAL;
    hc = calloc(1, sizeof *hc);
    if (!hc)
        return UV_ENOMEM;
    hc->loop = loop;
    hc->n = interleave(addrs, n, hc->addrs);
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
