/* proxy/relay.c — moving a connection's bytes once it is set up: the TLS
 * relay (plaintext from one TLS session into the other, for an intercepted
 * CONNECT) and the tunnel (bytes both ways untouched). One write in flight per
 * direction: a side is read only while the other has taken what came before.
 */
#include "pconn.h"

#include <stdlib.h>
#include <string.h>

static void relay_step(struct pconn *pc);

/* Intercepted: plaintext both ways. */
static const struct pc_phase relay_phase = {
    .name = "relay",
    .step = relay_step,
    .idle = 1,
};

/* Not intercepted: bytes both ways untouched. */
static const struct pc_phase tunnel_phase = {
    .name = "tunnel",
    .idle = 1,
};

/* --- the TLS relay ------------------------------------------------------------------- */

/* The daneguard-dane filter's output (site to browser) into dst's TLS
 * session, as much as it takes. 1 when all of it went, 0 when dst is busy
 * (src waits), -1 when the connection was closed. */
static int inject_drain(struct pconn *pc, struct side *src, struct side *dst)
{
    struct http_buf *b = &pc->icpt.inject_out;
    int stuck = 0;
    while (pc->icpt.inject_off < b->len) {
        int w = tls_conn_write(dst->tls, b->data + pc->icpt.inject_off, b->len - pc->icpt.inject_off);
        if (w == TLS_WANT_IO) {
            side_flush(dst);
            if (pc->closing)
                return -1;
            if (dst->write_busy) {
                side_read(src, 0); /* the rest goes once dst has taken the last write */
                return 0;
            }
            if (stuck++) { /* output that cannot leave */
                pc_close(pc, "relay output full");
                return -1;
            }
            continue;
        }
        stuck = 0;
        if (w < 0) {
            pc_close(pc, "TLS write failed");
            return -1;
        }
        pc->icpt.inject_off += (size_t)w;
    }
    http_buf_reset(b);
    pc->icpt.inject_off = 0;
    return 1;
}

/* Whether the site's plaintext goes through the filter: while it may still
 * change something, or holds output. */
static int inject_active(const struct pconn *pc, const struct side *src)
{
    return src == &pc->up &&
           (pc->icpt.inject.mode != INJECT_OFF || pc->icpt.inject_out.len > 0);
}

/* Move plaintext from src to dst while dst can take it. Returns -1 when the
 * connection was closed. */
static int relay_direction(struct pconn *pc, struct side *src, struct side *dst)
{
    uint8_t *scratch = pc->px->scratch;
    for (;;) {
        if (inject_active(pc, src) && pc->icpt.inject_out.len > 0) {
            int d = inject_drain(pc, src, dst);
            if (d <= 0)
                return d;
        }
        if (side_output_pending(dst)) {
            side_flush(dst);
            if (pc->closing)
                return -1;
            if (dst->write_busy) {
                side_read(src, 0); /* dst is slow: src waits */
                return 0;
            }
        }
        int n = tls_conn_read(src->tls, scratch, sizeof pc->px->scratch);
        if (n == TLS_WANT_IO) {
            side_read(src, 1);
            return 0;
        }
        if (n == TLS_EOF || n == TLS_ETRUNCATED || n < 0) {
            /* One side is done: tell the other, flush, and close. */
            tls_conn_close_notify(dst->tls);
            side_flush(dst);
            src->read_eof = 1;
            if (pc->closing)
                return -1;
            if (!dst->write_busy) {
                pc_close(pc, src == &pc->down ? "the client ended its TLS session"
                                              : "the site ended its TLS session");
                return -1;
            }
            return 0;
        }
        if (inject_active(pc, src)) {
            if (inject_feed(&pc->icpt.inject, scratch, (size_t)n, &pc->icpt.inject_out) < 0) {
                pc_close(pc, "out of memory for the daneguard-dane header");
                return -1;
            }
            int d = inject_drain(pc, src, dst);
            if (d <= 0)
                return d;
            side_flush(dst);
            if (pc->closing)
                return -1;
            continue;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            int w = tls_conn_write(dst->tls, scratch + off, (size_t)n - off);
            if (w == TLS_WANT_IO) {
                /* Not reached in practice: dst's output is empty when this loop
                 * starts (flushed above, or we returned), and one read of at most
                 * TLS_RECORD_MAX bytes fits TLS_OUTPUT_CAP as long as dst's
                 * records carry >= ~470 bytes each (32 records of 512 with
                 * AES-GCM's 29 bytes of expansion: 17312 <= 17408); tested with
                 * 1024-byte records (max_fragment_length) in proxy_load.sh. The
                 * remainder cannot wait in scratch (shared by all connections),
                 * so a second miss closes rather than buffer without bound. */
                side_flush(dst);
                if (pc->closing)
                    return -1;
                w = tls_conn_write(dst->tls, scratch + off, (size_t)n - off);
                if (w == TLS_WANT_IO) {
                    log_warnx("proxy: %s: relay output full", pc->req.host);
                    pc_close(pc, "relay output full");
                    return -1;
                }
            }
            if (w < 0) {
                pc_close(pc, "TLS write failed");
                return -1;
            }
            off += (size_t)w;
        }
        side_flush(dst);
        if (pc->closing)
            return -1;
    }
}

static void relay_step(struct pconn *pc)
{
    if (relay_direction(pc, &pc->down, &pc->up) < 0)
        return;
    if (relay_direction(pc, &pc->up, &pc->down) < 0)
        return;
    if ((pc->down.read_eof || pc->up.read_eof) && !side_output_pending(&pc->down) &&
        !side_output_pending(&pc->up))
        pc_close(pc, "both TLS sessions are done");
}

void relay_tls_start(struct pconn *pc)
{
    inject_init(&pc->icpt.inject, tls_conn_alpn(pc->up.tls), pc->icpt.dane_header);
    pc_enter(pc, &relay_phase);
    pc_timer_set(pc, pc->px->cfg.idle_timeout_ms);
    relay_step(pc);
}

/* --- the tunnel ------------------------------------------------------------------------ */

static void tunnel_written(uv_write_t *req, int status)
{
    struct side *dst = req->data;
    struct pconn *pc = dst->pc;
    struct side *src = dst == &pc->up ? &pc->down : &pc->up;
    dst->write_busy = 0;
    if (pc->closing)
        return;
    if (status < 0) {
        side_failed(dst, status);
        return;
    }
    src->len = 0;
    side_read(src, 1);
}

static void tunnel_forward(struct side *src, struct side *dst)
{
    side_read(src, 0); /* until dst has taken these bytes */
    uv_buf_t buf = uv_buf_init((char *)src->buf, (unsigned)src->len);
    dst->wreq.data = dst;
    if (uv_write(&dst->wreq, (uv_stream_t *)dst->tcp, &buf, 1, tunnel_written) < 0) {
        pc_close(src->pc, "cannot write to the other side of the tunnel");
        return;
    }
    dst->write_busy = 1;
}

/* A raw buffer for the side, allocated once at the buffer_size of that moment. */
static void tunnel_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pconn *pc = h->data;
    struct side *s = pc_side_of(pc, h);
    (void)suggested;
    buf->base = NULL;
    buf->len = 0; /* libuv reports UV_ENOBUFS */
    if (side_buf_alloc(s, pc->px->cfg.buffer_size) == 0) {
        buf->base = (char *)s->buf + s->len;
        buf->len = s->cap - s->len;
    }
}

static void tunnel_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct pconn *pc = stream->data;
    struct side *s = pc_side_of(pc, (uv_handle_t *)stream);
    struct side *other = s == &pc->down ? &pc->up : &pc->down;
    (void)buf;
    if (!side_read_begin(s, nread))
        return;
    if (nread > 0) {
        s->len += (size_t)nread;
        tunnel_forward(s, other);
        return;
    }
    if (nread != UV_EOF) {
        side_failed(s, (int)nread);
        return;
    }
    /* EOF: pass the half-close on; both ways closed ends the tunnel. */
    if (other->read_eof) {
        pc_close(pc, "both sides of the tunnel closed");
    } else if (!other->shut && other->tcp) {
        other->shut = 1;
        if (uv_shutdown(&other->sreq, (uv_stream_t *)other->tcp, NULL) < 0)
            pc_close(pc, "cannot pass a half-close on");
    }
}

static const struct side_reader tunnel_reader = {tunnel_alloc, tunnel_read};

void relay_tunnel_start(struct pconn *pc)
{
    pc_enter(pc, &tunnel_phase);
    pc_timer_set(pc, pc->px->cfg.idle_timeout_ms);
    side_set_reader(&pc->down, &tunnel_reader);
    side_set_reader(&pc->up, &tunnel_reader);
    /* Bytes the client sent after its CONNECT head go first. */
    if (pc->req.in_len) {
        size_t size =
            pc->px->cfg.buffer_size > pc->req.in_len ? pc->px->cfg.buffer_size : pc->req.in_len;
        free(pc->down.buf);
        pc->down.buf = NULL;
        if (side_buf_alloc(&pc->down, size) < 0) {
            pc_close(pc, "out of memory for a tunnel buffer");
            return;
        }
        memcpy(pc->down.buf, pc->req.in, pc->req.in_len);
        pc->down.len = pc->req.in_len;
        pc->req.in_len = 0;
        tunnel_forward(&pc->down, &pc->up);
    } else {
        side_read(&pc->down, 1);
    }
    side_read(&pc->up, 1);
}
