/* proxy/pconn.c — a proxy connection's life: created on accept, one timer,
 * reading and writing its two sides, our own responses, and one way out,
 * pc_close(pc, reason). What each phase does is in its own file (pconn.h).
 */
#include "pconn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

/* Before the first request phase: the listener's checks. */
static const struct pc_phase pc_phase_accept = {.name = "accept"};

/* Our own response (a page, an error) is on its way; a timeout closes. */
const struct pc_phase pc_phase_respond = {.name = "response"};

void tlsa_set_clear(struct tlsa_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        dane_tlsa_clear(&set->rec[i]);
    free(set->rec);
    memset(set, 0, sizeof *set);
}

/* --- life ----------------------------------------------------------------------- */

static void pc_timer_cb(uv_timer_t *t);

struct pconn *pc_new(struct proxy *px)
{
    struct pconn *pc = calloc(1, sizeof *pc);
    if (!pc)
        return NULL;
    pc->px = px;
    pc->phase = &pc_phase_accept;
    px->pconns_alive++;
    pc->down.pc = pc->up.pc = pc;
    pc->down.tcp = &pc->client_tcp;
    uv_tcp_init(px->loop, &pc->client_tcp);
    uv_timer_init(px->loop, &pc->timer);
    pc->client_tcp.data = pc->timer.data = pc;
    pc->handles = 2;
    pc->next = px->conns;
    if (px->conns)
        px->conns->prev = pc;
    px->conns = pc;
    px->stats.conns_open++;
    px->stats.conns_total++;
    return pc;
}

/* The close callback of every handle a connection owns: the struct goes with
 * the last of them. */
static void pc_handle_closed(uv_handle_t *h)
{
    struct pconn *pc = h->data;
    if (--pc->handles > 0)
        return;
    struct proxy *px = pc->px;
    tlsa_set_clear(&pc->lookup.tlsa_set);
    tlsa_set_clear(&pc->lookup.target_tlsa_set);
    resolver_unref(pc->lookup.resolver);
    tls_conn_free(pc->down.tls);
    tls_conn_free(pc->up.tls);
    http_reader_free(pc->req.reader);
    http_reader_free(pc->fwd.resp);
    http_buf_free(&pc->fwd.head);
    http_buf_free(&pc->icpt.page);
    inject_free(&pc->icpt.inject);
    http_buf_free(&pc->icpt.inject_out);
    ca_cert_release(pc->icpt.cert);
    free(pc->down.buf);
    free(pc->up.buf);
    free(pc->req.in);
    free(pc);
    /* px goes with the last of its listeners and connections, whichever
     * libuv releases last (px->conns empties before the handles close) */
    if (--px->pconns_alive == 0 && px->closing && px->handles_open == 0)
        free(px);
}

void side_release(struct side *s)
{
    struct pconn *pc = s->pc;
    if (s->tcp) {
        side_read(s, 0);
        if (s->tcp == &pc->client_tcp)
            uv_close((uv_handle_t *)s->tcp, pc_handle_closed);
        else
            hconnect_tcp_close(s->tcp, pc_handle_closed); /* the site's: hconnect's memory */
        s->tcp = NULL;
    }
    s->read_eof = s->reading = s->shut = 0;
    tls_conn_free(s->tls);
    s->tls = NULL;
}

void pc_close(struct pconn *pc, const char *reason)
{
    struct proxy *px = pc->px;
    if (pc->closing)
        return;
    pc->closing = 1;
    if (log_verbosity >= 1) {
        char peer[ADDR_TEXT_MAX];
        log_debug("proxy: %s:%u: client %s: closed in %s: %s", pc->req.host[0] ? pc->req.host : "-",
                  pc->req.port,
                  pc->conn.client
                      ? client_text(pc->conn.client)
                      : addr_format((const struct sockaddr *)&pc->conn.peer, 0, peer, sizeof peer),
                  pc->phase->name, reason);
    }
    listener_waiting_del(pc);
    request_abandon(pc);
    if (pc->next)
        pc->next->prev = pc->prev;
    if (pc->prev)
        pc->prev->next = pc->next;
    else
        px->conns = pc->next;
    px->stats.conns_open--;
    clients_unref(px->clients, pc->conn.client);
    pc->conn.client = NULL;
    uv_close((uv_handle_t *)&pc->timer, pc_handle_closed);
    side_release(&pc->down);
    side_release(&pc->up);
}

void pc_enter(struct pconn *pc, const struct pc_phase *phase)
{
    pc->phase = phase;
}

void pc_advance(struct pconn *pc)
{
    if (!pc->closing && pc->phase->step)
        pc->phase->step(pc);
}

/* --- the timer -------------------------------------------------------------------- */

void pc_timer_set(struct pconn *pc, uint32_t ms)
{
    pc->timer_ms = ms;
    uv_timer_start(&pc->timer, pc_timer_cb, ms, ms);
}

/* A connection's one timer: handshake_timeout while a request head arrives and
 * while the site is looked up, connected to and TLS-handshaken with (then the
 * browser's handshake with us gets a fresh handshake_timeout); idle_timeout
 * between keep-alive requests and while bytes flow. A site that does not get
 * through in time is a refusal with the page (fail closed, but say so), not a
 * dropped connection the browser would retry or report as a proxy failure. */
static void pc_timer_cb(uv_timer_t *t)
{
    struct pconn *pc = t->data;
    const char *wait = pc->phase->site_wait;
    char reason[160];

    log_debug("proxy: %s:%u: timed out in %s", pc->req.host[0] ? pc->req.host : "-", pc->req.port,
              pc->phase->name);
    if (!wait) {
        snprintf(reason, sizeof reason, "timed out (%u ms)", pc->timer_ms);
        pc_close(pc, reason);
        return;
    }
    snprintf(reason, sizeof reason, "timed out %s (handshake_timeout %u ms)", wait,
             pc->px->cfg.handshake_timeout_ms);
    request_abandon(pc);
    if (pc->req.kind == PC_KIND_CONNECT) {
        pc_timer_set(pc, pc->px->cfg.handshake_timeout_ms);
        intercept_refuse(pc, PAGES_CLASS_UNREACHABLE, reason);
    } else {
        log_info("proxy: %s:%u: %s (client %s)", pc->req.host, pc->req.port, reason,
                 pc_client_text(pc));
        status_event_add(pc->px, PAGES_CLASS_UNREACHABLE, pc->req.host, pc->req.port, reason);
        pc_send_error(pc, 504, reason); /* the next tick closes */
    }
}

/* --- our own responses -------------------------------------------------------------- */

static void pc_write_done(uv_write_t *req, int status)
{
    struct pc_write_req *w = (struct pc_write_req *)req;
    struct pconn *pc = w->pc;
    void (*then)(struct pconn *) = w->then;
    free(w);
    if (status < 0) {
        side_failed(&pc->down, status);
        return;
    }
    if (then && !pc->closing)
        then(pc);
}

int pc_write_copy(struct pconn *pc, struct side *s, const void *data, size_t len, uv_write_cb done,
                  void (*then)(struct pconn *pc))
{
    struct pc_write_req *w = malloc(sizeof *w + len);
    if (!w)
        return -1;
    w->pc = pc;
    w->then = then;
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)s->tcp, &buf, 1, done) < 0) {
        free(w);
        return -1;
    }
    return 0;
}

void pc_write(struct pconn *pc, const void *data, size_t len, void (*then)(struct pconn *pc))
{
    if (pc_write_copy(pc, &pc->down, data, len, pc_write_done, then) < 0)
        pc_close(pc, "cannot write to the client");
}

void pc_close_after_write(struct pconn *pc)
{
    pc_close(pc, "the last response was sent");
}

void pc_respond_last(struct pconn *pc)
{
    pc_enter(pc, &pc_phase_respond);
    side_set_reader(&pc->down, NULL);
}

void pc_send_error(struct pconn *pc, int status, const char *detail)
{
    struct http_buf b = {0};
    pc_respond_last(pc);
    if (status == 403)
        pc->px->stats.forbidden++;
    if (http_write_error(&b, status, detail, 0) == 0)
        pc_write(pc, b.data, b.len, pc_close_after_write);
    else
        pc_close(pc, "out of memory for an error response");
    http_buf_free(&b);
}

void pc_send_line(struct pconn *pc, int status, const char *fmt, ...)
{
    struct http_buf b = {0};
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    for (int i = 0; i < n; i++) /* one line, whatever a host name held */
        if ((unsigned char)line[i] < 0x20)
            line[i] = ' ';
    line[n++] = '\n';
    pc_respond_last(pc);
    if (status == 403)
        pc->px->stats.forbidden++;
    if (http_write_response(&b, status, "text/plain; charset=utf-8", (size_t)n, NULL, 0) == 0 &&
        http_buf_append(&b, line, (size_t)n) == 0)
        pc_write(pc, b.data, b.len, pc_close_after_write);
    else
        pc_close(pc, "out of memory for an error response");
    http_buf_free(&b);
}

void pc_log_verdict(struct pconn *pc, const char *what)
{
    log_info("proxy: %s:%u: %s: %s (client %s)", pc->req.host, pc->req.port, what,
             pc->verdict.reason, pc_client_text(pc));
}

/* --- reading a side --------------------------------------------------------------------- */

void side_read(struct side *s, int on)
{
    if (!s->tcp || s->read_eof || s->reading == on || s->pc->closing)
        return;
    if (on) {
        if (s->reader &&
            uv_read_start((uv_stream_t *)s->tcp, s->reader->alloc, s->reader->read) == 0)
            s->reading = 1;
    } else {
        uv_read_stop((uv_stream_t *)s->tcp);
        s->reading = 0;
    }
}

void side_set_reader(struct side *s, const struct side_reader *reader)
{
    int was = s->reading;
    if (s->reader == reader)
        return;
    side_read(s, 0);
    s->reader = reader;
    if (was)
        side_read(s, 1);
}

int side_read_begin(struct side *s, ssize_t nread)
{
    struct pconn *pc = s->pc;
    if (pc->closing || nread == 0)
        return 0;
    if (nread == UV_ENOBUFS) {
        side_read(s, 0); /* input full: stop until wanted */
        return 0;
    }
    if (pc->phase->idle)
        uv_timer_again(&pc->timer);
    if (nread < 0) {
        s->read_eof = 1;
        s->reading = 0;
    }
    return 1;
}

void side_failed(struct side *s, int status)
{
    struct pconn *pc = s->pc;
    char reason[160];
    if (s == &pc->up && pc->phase->site_failed) {
        pc->phase->site_failed(pc, status);
        return;
    }
    snprintf(reason, sizeof reason, "the %s's connection failed: %s",
             s == &pc->down ? "client" : "site", uv_strerror(status));
    pc_close(pc, reason);
}

void side_ended(struct side *s, ssize_t nread)
{
    if (nread != UV_EOF) {
        side_failed(s, (int)nread);
        return;
    }
    pc_close(s->pc, s == &s->pc->down ? "the client closed its connection"
                                      : "the site closed its connection");
}

int side_buf_alloc(struct side *s, size_t size)
{
    if (s->buf)
        return 0;
    s->buf = malloc(size);
    s->cap = s->buf ? size : 0;
    s->len = 0;
    return s->buf ? 0 : -1;
}

void pc_in_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pconn *pc = h->data;
    (void)suggested;
    if (pc->req.in_cap - pc->req.in_len < PROXY_IN_MIN_ROOM && pc->req.in_cap < PROXY_IN_MAX) {
        size_t ncap = pc->req.in_cap ? pc->req.in_cap * 2 : pc->px->cfg.buffer_size;
        uint8_t *n = realloc(pc->req.in, ncap);
        if (n) {
            pc->req.in = n;
            pc->req.in_cap = ncap;
        }
    }
    buf->base = pc->req.in ? (char *)pc->req.in + pc->req.in_len : NULL;
    buf->len = pc->req.in_cap - pc->req.in_len; /* 0: libuv reports UV_ENOBUFS */
}

/* --- TLS sides ------------------------------------------------------------------------ */

static void side_tls_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct side *s = pc_side_of(h->data, h);
    uint8_t *p = NULL;
    size_t cap = 0;
    (void)suggested;
    if (!s->tls || tls_conn_input_buffer(s->tls, &p, &cap) < 0) {
        p = NULL;
        cap = 0;
    }
    buf->base = (char *)p;
    buf->len = cap;
}

static void side_tls_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct pconn *pc = stream->data;
    struct side *s = pc_side_of(pc, (uv_handle_t *)stream);
    (void)buf;
    if (!side_read_begin(s, nread))
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            side_failed(s, (int)nread);
            return;
        }
        tls_conn_feed(s->tls, NULL, 0); /* reads now end in TLS_EOF or TLS_ETRUNCATED */
    } else {
        tls_conn_input_commit(s->tls, (size_t)nread);
    }
    pc_advance(pc);
}

const struct side_reader side_tls_reader = {side_tls_alloc, side_tls_read};

static void side_tls_written(uv_write_t *req, int status)
{
    struct side *s = req->data;
    struct pconn *pc = s->pc;
    s->write_busy = 0;
    /* !s->tcp: the side was let go (refused) and this write was cancelled */
    if (pc->closing || !s->tcp)
        return;
    if (status < 0) {
        side_failed(s, status);
        return;
    }
    tls_conn_output_done(s->tls, s->write_len);
    s->write_len = 0;
    pc_advance(pc);
}

void side_flush(struct side *s)
{
    const uint8_t *p;
    size_t len;
    if (s->write_busy || !s->tls || !s->tcp)
        return;
    if (tls_conn_output(s->tls, &p, &len) <= 0 || len == 0)
        return;
    uv_buf_t buf = uv_buf_init((char *)p, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)s->tcp, &buf, 1);
    if (n > 0) {
        tls_conn_output_done(s->tls, (size_t)n);
        if ((size_t)n == len)
            return;
        p += n;
        len -= (size_t)n;
        buf = uv_buf_init((char *)p, (unsigned)len);
    }
    s->wreq.data = s;
    if (uv_write(&s->wreq, (uv_stream_t *)s->tcp, &buf, 1, side_tls_written) < 0) {
        pc_close(s->pc, "cannot write TLS output");
        return;
    }
    s->write_busy = 1;
    s->write_len = len;
}

int side_output_pending(struct side *s)
{
    const uint8_t *p;
    size_t len = 0;
    return s->write_busy || (tls_conn_output(s->tls, &p, &len) > 0 && len > 0);
}
