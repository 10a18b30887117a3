/* proxy/forward.c — plain HTTP: one request (an absolute URI) sent to the
 * site with its head rewritten for an origin (http.c), its body passed on as
 * it comes, and the response passed back with its head rewritten for the
 * client; then back to request.c for the next request, or close.
 */
#include "pconn.h"

#include <stdlib.h>
#include <string.h>

/* Connected: the request goes up, the response comes back. */
static const struct pc_phase http_phase = {
    .name = "http",
    .idle = 1,
};

static void forward_body(struct pconn *pc);

/* --- the request body --------------------------------------------------------------- */

static void body_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct pconn *pc = stream->data;
    (void)buf;
    if (!side_read_begin(&pc->down, nread))
        return;
    if (nread < 0) {
        side_ended(&pc->down, nread);
        return;
    }
    pc->req.in_len += (size_t)nread;
    forward_body(pc);
}

static const struct side_reader body_reader = {pc_in_alloc, body_read};

void forward_hold_body(struct pconn *pc)
{
    side_set_reader(&pc->down, &body_reader);
}

static void forward_up_written(uv_write_t *req, int status)
{
    struct pc_write_req *w = (struct pc_write_req *)req;
    struct pconn *pc = w->pc;
    free(w);
    pc->up.write_busy = 0;
    /* !pc->up.tcp: the response ended before the request body was all sent */
    if (pc->closing || !pc->up.tcp)
        return;
    if (status < 0) {
        side_failed(&pc->up, status);
        return;
    }
    forward_body(pc); /* more of the request body, if any */
}

static void send_up(struct pconn *pc, const void *data, size_t len)
{
    if (pc_write_copy(pc, &pc->up, data, len, forward_up_written, NULL) < 0) {
        pc_close(pc, "cannot write to the site");
        return;
    }
    pc->up.write_busy = 1;
}

/* Send what has come of the request body, one write in flight; only while the
 * site is connected (before, the bytes wait in pc->req.in; after the response
 * has ended, there is no one to send them to). */
static void forward_body(struct pconn *pc)
{
    size_t used = 0;
    enum http_event ev;

    if (!pc->up.tcp || pc->fwd.request_done)
        return;
    if (!pc->up.write_busy && pc->req.in_len > 0) {
        int rc = http_reader_feed(pc->req.reader, (char *)pc->req.in, pc->req.in_len, &used, &ev);
        if (rc < 0) {
            pc_send_error(pc, http_error_status(rc), http_strerror(rc));
            return;
        }
        if (used)
            send_up(pc, pc->req.in, used);
        if (ev == HTTP_EV_END)
            pc->fwd.request_done = 1;
        if (pc->closing)
            return;
        memmove(pc->req.in, pc->req.in + used, pc->req.in_len - used);
        pc->req.in_len -= used;
    }
    if (!pc->fwd.request_done)
        side_read(&pc->down, 1);
}

/* --- the response ----------------------------------------------------------------------- */

static void response_bytes(struct pconn *pc);

static void response_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pconn *pc = h->data;
    (void)suggested;
    buf->base = NULL;
    buf->len = 0; /* libuv reports UV_ENOBUFS */
    if (side_buf_alloc(&pc->up, pc->px->cfg.buffer_size) == 0) {
        buf->base = (char *)pc->up.buf + pc->up.len;
        buf->len = pc->up.cap - pc->up.len;
    }
}

static void response_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct pconn *pc = stream->data;
    (void)buf;
    if (!side_read_begin(&pc->up, nread))
        return;
    if (nread < 0 && nread != UV_EOF) {
        side_failed(&pc->up, (int)nread);
        return;
    }
    if (nread > 0)
        pc->up.len += (size_t)nread;
    response_bytes(pc); /* at EOF: a close-delimited response ends here */
}

static const struct side_reader response_reader = {response_alloc, response_read};

void forward_start(struct pconn *pc)
{
    pc_enter(pc, &http_phase);
    /* the site is reached: from here on an idle limit, not the handshake's */
    pc_timer_set(pc, pc->px->cfg.idle_timeout_ms);
    pc->fwd.resp = http_reader_new(HTTP_READER_RESPONSE, NULL);
    if (!pc->fwd.resp) {
        pc_close(pc, "out of memory for a response reader");
        return;
    }
    /* A response to HEAD has no body whatever its Content-Length says: read as
     * one, an origin's next bytes would reach the client as its next response. */
    http_reader_set_request_method(pc->fwd.resp, pc->req.method);
    pc->px->stats.http_requests++;
    side_set_reader(&pc->up, &response_reader);
    send_up(pc, pc->fwd.head.data, pc->fwd.head.len);
    side_read(&pc->up, 1);
}

static void response_written(struct pconn *pc)
{
    pc->down.write_busy = 0;
    side_read(&pc->up, 1);
}

/* The response from the site: rewrite its head, pass its body, and when it
 * ends go back to reading the client's next request (or close). */
static void response_bytes(struct pconn *pc)
{
    struct http_buf out = {0};
    size_t off = 0;
    int ended = 0;
    enum http_event ev = HTTP_EV_NEED_MORE;

    if (pc->up.len == 0 && pc->up.read_eof) {
        if (http_reader_finish(pc->fwd.resp, &ev) < 0 || ev != HTTP_EV_END) {
            pc_close(pc, "the site closed before its response ended");
            return;
        }
        ended = 1;
    }
    /* Until the final response ends, or the bytes run out. A message without
     * a body (HEAD, 1xx, 204, 304) ends with its head: its END comes from one
     * more feed, with nothing left to consume. */
    while (!ended) {
        size_t used = 0;
        if (http_reader_feed(pc->fwd.resp, (char *)pc->up.buf + off, pc->up.len - off, &used, &ev) <
            0) {
            log_debug("proxy: %s: bad response from the site", pc->req.host);
            pc_close(pc, "bad response from the site");
            http_buf_free(&out);
            return;
        }
        const struct http_head *h = http_reader_head(pc->fwd.resp);
        int interim = h && h->status >= 100 && h->status < 200 && h->status != 101;
        if (ev == HTTP_EV_HEAD) {
            if (interim) {
                /* pass it on as is; HTTP/1.0 clients do not get 1xx (RFC 9110 §15.2) */
                if (pc->req.client_minor >= 1)
                    http_buf_append(&out, pc->up.buf + off, used);
            } else {
                int ka = pc->req.keep_alive && h->keep_alive;
                pc->req.keep_alive = ka;
                http_response_write_downstream(h, pc->req.client_minor, ka, &out);
            }
        } else if (ev == HTTP_EV_BODY || ev == HTTP_EV_END) {
            /* (NEED_MORE's bytes are part of a head the reader keeps) */
            http_buf_append(&out, pc->up.buf + off, used);
            if (ev == HTTP_EV_END && !interim)
                ended = 1; /* what follows from the site is dropped with it */
        }
        off += used;
        if (used == 0 && ev == HTTP_EV_NEED_MORE)
            break;
    }
    pc->up.len = 0;
    side_read(&pc->up, 0);
    if (ended) {
        /* The response is complete: drop the site, go on with the client. */
        side_release(&pc->up);
        http_reader_free(pc->fwd.resp);
        pc->fwd.resp = NULL;
        if (out.len)
            pc_write(pc, out.data, out.len,
                     pc->req.keep_alive ? request_next : pc_close_after_write);
        else if (pc->req.keep_alive)
            request_next(pc);
        else
            pc_close(pc, "the response ended, no keep-alive");
    } else if (out.len) {
        pc->down.write_busy = 1;
        pc_write(pc, out.data, out.len, response_written);
    } else {
        side_read(&pc->up, 1);
    }
    http_buf_free(&out);
}
