/* proxy/intercept.c — a CONNECT that daneguard terminates: our TLS client
 * handshake with the site, dane.c's verdict on its chain (or the PKIX rules
 * for intercept: all), a peek at the browser's ClientHello when the site chose
 * h2, the browser's handshake with a certificate minted for the host (ca.c),
 * and the refusal: TLS with the browser, its first request answered 502 with
 * the page saying why (pages.c). Once both handshakes are done, relay.c moves
 * the bytes.
 */
#include "pconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pages.h"

static void up_tls_step(struct pconn *pc);
static void up_tls_failed(struct pconn *pc, int status);
static void down_tls_step(struct pconn *pc);
static void refused_step(struct pconn *pc);

/* Our handshake with the site; a timeout or a failed connection refuses. */
static const struct pc_phase up_tls_phase = {
    .name = "site TLS handshake",
    .step = up_tls_step,
    .site_failed = up_tls_failed,
    .site_wait = "in the TLS handshake with the site",
};

/* "200" sent: waiting for the browser's ClientHello, to see its ALPN. */
static const struct pc_phase peek_phase = {.name = "ClientHello peek"};

/* The browser's handshake with us. */
static const struct pc_phase down_tls_phase = {
    .name = "browser TLS handshake",
    .step = down_tls_step,
};

/* Refused: TLS with the browser, its first request answered with the page. */
static const struct pc_phase refused_phase = {
    .name = "refused",
    .step = refused_step,
};

/* --- the site ------------------------------------------------------------------------- */

void intercept_start(struct pconn *pc)
{
    struct proxy *px = pc->px;
    pc->up.tls = tls_conn_new_client(pc->icpt.h1_only ? px->tls_client_h1 : px->tls_client,
                                     pc->req.host, pc->req.port);
    if (!pc->up.tls) {
        pc_close(pc, "out of memory for a TLS session with the site");
        return;
    }
    pc_enter(pc, &up_tls_phase);
    side_set_reader(&pc->up, &side_tls_reader);
    pc_advance(pc);
}

/* The site's connection failed (reset, ...) during our TLS handshake with it:
 * the browser gets the refusal page saying so, not a dropped CONNECT. */
static void up_tls_failed(struct pconn *pc, int status)
{
    char reason[200];
    snprintf(reason, sizeof reason, "the site's connection failed during the TLS handshake: %s",
             uv_strerror(status));
    intercept_refuse(pc, PAGES_CLASS_UNREACHABLE, reason);
}

/* intercept: all, a host without usable TLSA: the DANE engine's PKIX rules
 * (the path, the name by RFC 6125, serverAuth), not mbedTLS's own name check. */
static int pkix_check(struct pconn *pc, const mbedtls_x509_crt *chain)
{
    struct dane_verdict v;
    dane_pkix_verify(chain, pc->req.host, &pc->px->trust, time(NULL), &v);
    if (v.result == DANE_RESULT_MATCH)
        return 0;
    snprintf(pc->verdict.reason, sizeof pc->verdict.reason, "PKIX validation failed: %s", v.reason);
    return -1;
}

static void peek_hello(struct pconn *pc);
static void down_tls_begin(struct pconn *pc, const char *alpn, const struct pc_phase *phase);

static void hello_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
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
    peek_hello(pc);
}

static const struct side_reader hello_reader = {pc_in_alloc, hello_read};

static void upstream_verified(struct pconn *pc)
{
    const mbedtls_x509_crt *chain = tls_conn_peer_chain(pc->up.tls);
    struct dane_verdict v;

    if (!chain) {
        intercept_refuse(pc, PAGES_CLASS_DANE, "the site presented no certificate");
        return;
    }
    if (dane_cert_spki_sha256(chain, pc->verdict.spki) == 0)
        pc->verdict.have_spki = 1;
    if (pc->verdict.decision.action == POLICY_INTERCEPT_DANE) {
        const struct tlsa_set *set = request_tlsa(pc);
        dane_verify(set->rec, set->n, chain, pc->req.host, &pc->px->trust, time(NULL), &v);
        if (v.result != DANE_RESULT_MATCH) {
            char reason[sizeof pc->verdict.reason];
            snprintf(reason, sizeof reason, "DANE mismatch: %s", v.reason);
            intercept_refuse(pc, PAGES_CLASS_DANE, reason);
            return;
        }
        snprintf(pc->verdict.reason, sizeof pc->verdict.reason, "DANE ok: %s", v.reason);
        if (v.record >= 0 && (size_t)v.record < set->n)
            snprintf(pc->icpt.dane_header, sizeof pc->icpt.dane_header,
                     "%u %u %u matched at depth %d", set->rec[v.record].usage,
                     set->rec[v.record].selector, set->rec[v.record].mtype, v.depth);
        else
            snprintf(pc->icpt.dane_header, sizeof pc->icpt.dane_header, "matched");
    } else {
        if (pkix_check(pc, chain) < 0) {
            char reason[sizeof pc->verdict.reason];
            snprintf(reason, sizeof reason, "%s", pc->verdict.reason);
            intercept_refuse(pc, PAGES_CLASS_DANE, reason);
            return;
        }
        snprintf(pc->verdict.reason, sizeof pc->verdict.reason, "PKIX ok (no usable TLSA)");
        snprintf(pc->icpt.dane_header, sizeof pc->icpt.dane_header, "none");
    }
    tls_conn_save_session(pc->up.tls);
    tls_conn_release_peer_chain(pc->up.tls);
    pc->px->stats.intercepted++;
    log_debug("proxy: %s:%u: intercepted: %s; upstream %s %s alpn=%s%s", pc->req.host, pc->req.port,
              pc->verdict.reason, tls_conn_version(pc->up.tls), tls_conn_ciphersuite(pc->up.tls),
              tls_conn_alpn(pc->up.tls) ? tls_conn_alpn(pc->up.tls) : "-",
              tls_conn_resumed(pc->up.tls) ? " (resumed)" : "");
    const char *alpn = tls_conn_alpn(pc->up.tls);
    if (!pc->icpt.sent_200 && alpn && strcmp(alpn, "http/1.1") != 0) {
        /* The site chose h2: make sure the browser offers it before we do. */
        pc_timer_set(pc, pc->px->cfg.handshake_timeout_ms);
        pc_enter(pc, &peek_phase);
        pc->icpt.sent_200 = 1;
        side_set_reader(&pc->down, &hello_reader);
        side_read(&pc->down, 0);
        pc_write(pc, HTTP_CONNECT_ESTABLISHED, strlen(HTTP_CONNECT_ESTABLISHED), peek_hello);
        return;
    }
    down_tls_begin(pc, alpn, &down_tls_phase);
}

static void up_tls_step(struct pconn *pc)
{
    int rc = tls_conn_handshake(pc->up.tls);
    side_flush(&pc->up);
    if (pc->closing)
        return;
    if (rc == TLS_WANT_IO) {
        side_read(&pc->up, 1);
        return;
    }
    if (rc < 0) {
        char reason[512];
        /* tls.c ends its text with mbedTLS's code, "(-0x23e0; ...)" */
        const char *code = strstr(tls_conn_error(pc->up.tls), "(-0x");
        unsigned mbed = 0;
        enum pages_class cls = PAGES_CLASS_UNREACHABLE;
        if (rc == TLS_EPEER_REQUIRES_TLS13) {
            snprintf(reason, sizeof reason, "upstream requires TLS 1.3");
        } else if (code && sscanf(code, "(-0x%x", &mbed) == 1 && mbed <= 0xFFFF &&
                   dane_cert_parse_error(-(int)mbed)) {
            dane_cert_unparsable_reason(reason, sizeof reason, -(int)mbed);
            cls = PAGES_CLASS_DANE; /* a certificate that cannot be checked */
        } else {
            snprintf(reason, sizeof reason, "TLS handshake with the site failed: %s",
                     tls_conn_error(pc->up.tls));
        }
        intercept_refuse(pc, cls, reason);
        return;
    }
    side_read(&pc->up, 0);
    upstream_verified(pc);
}

/* --- the browser's ClientHello ------------------------------------------------------------ */

/* The browser's ClientHello (in pc->req.in): h2 offered → go on with the
 * site's h2 session; otherwise reconnect to the site offering http/1.1 only,
 * so both legs speak the same protocol (a client without h2 would otherwise
 * fail ALPN, or speak HTTP/1.1 into an h2 session). */
static void peek_hello(struct pconn *pc)
{
    int offers = tls_hello_offers_alpn(pc->req.in, pc->req.in_len, "h2");
    if (offers < 0 && pc->req.in_len < pc->req.in_cap && pc->req.in_len < TLS_HELLO_RECORD_MAX) {
        side_read(&pc->down, 1);
        return;
    }
    side_read(&pc->down, 0);
    if (offers != 0 || pc->up.write_busy) {
        down_tls_begin(pc, tls_conn_alpn(pc->up.tls), &down_tls_phase);
        return;
    }
    log_debug("proxy: %s:%u: the browser does not offer h2: reconnecting with http/1.1",
              pc->req.host, pc->req.port);
    pc->icpt.h1_only = 1;
    side_release(&pc->up);
    pc->verdict.have_spki = 0;
    pc->px->stats.intercepted--; /* counted again when verified again */
    request_connect(pc);
}

/* --- the browser's handshake ------------------------------------------------------------ */

static void down_tls_after_200(struct pconn *pc)
{
    if (pc->req.in_len) { /* a ClientHello sent right behind the CONNECT */
        tls_conn_feed(pc->down.tls, pc->req.in, pc->req.in_len);
        pc->req.in_len = 0;
    }
    pc_advance(pc);
}

/* A TLS server for the browser with a certificate minted for the host,
 * accepting alpn, then phase (down_tls_phase or refused_phase). */
static void down_tls_begin(struct pconn *pc, const char *alpn, const struct pc_phase *phase)
{
    struct proxy *px = pc->px;
    pc_timer_set(pc, px->cfg.handshake_timeout_ms); /* the browser's handshake: a fresh one */
    int rc = ca_mint(px->ca, pc->req.host, time(NULL), &pc->icpt.cert);
    if (rc < 0) {
        log_warnx("proxy: %s: cannot mint a certificate: %s (client %s)", pc->req.host,
                  ca_strerror(rc), pc_client_text(pc));
        pc_send_error(pc, 502, "daneguard could not mint a certificate for this host");
        return;
    }
    pc->down.tls = tls_conn_new_server(px->tls_server, ca_cert_chain(pc->icpt.cert),
                                       ca_cert_key(pc->icpt.cert), alpn);
    if (!pc->down.tls) {
        pc_close(pc, "out of memory for a TLS session with the client");
        return;
    }
    pc_enter(pc, phase);
    side_set_reader(&pc->down, &side_tls_reader);
    side_read(&pc->down, 0);
    if (pc->icpt.sent_200) { /* after a peek at the ClientHello */
        down_tls_after_200(pc);
        return;
    }
    pc->icpt.sent_200 = 1;
    pc_write(pc, HTTP_CONNECT_ESTABLISHED, strlen(HTTP_CONNECT_ESTABLISHED), down_tls_after_200);
}

/* The browser's handshake, as far as it goes. 1 when it is done. */
static int down_handshake(struct pconn *pc)
{
    if (!pc->down.tls)
        return 0;
    if (tls_conn_handshake_done(pc->down.tls))
        return 1;
    int rc = tls_conn_handshake(pc->down.tls);
    side_flush(&pc->down);
    if (pc->closing)
        return 0;
    if (rc == TLS_WANT_IO) {
        side_read(&pc->down, 1);
        return 0;
    }
    if (rc < 0) {
        char reason[300];
        snprintf(reason, sizeof reason, "the browser's TLS handshake failed: %s",
                 tls_conn_error(pc->down.tls));
        pc_close(pc, reason);
        return 0;
    }
    return 1;
}

static void down_tls_step(struct pconn *pc)
{
    if (down_handshake(pc))
        relay_tls_start(pc);
}

/* --- refusal -------------------------------------------------------------------------- */

void intercept_refuse(struct pconn *pc, enum pages_class cls, const char *reason)
{
    struct proxy *px = pc->px;
    if (pc->closing)
        return;
    snprintf(pc->verdict.reason, sizeof pc->verdict.reason, "%s", reason);
    pc->verdict.cls = cls;
    px->stats.refused++;
    status_event_add(px, cls, pc->req.host, pc->req.port, pc->verdict.reason);
    pc_log_verdict(pc, "refused");
    side_release(&pc->up); /* the site is no longer needed */
    if (pc->req.kind == PC_KIND_HTTP) {
        struct http_buf b = {0};
        pc_respond_last(pc); /* the rest of the request has nowhere to go */
        struct pages_refusal r;
        status_refusal_init(pc, &r, cls, pc->verdict.reason);
        if (pages_refusal_response(&b, &r, 0) == 0)
            pc_write(pc, b.data, b.len, pc_close_after_write);
        else
            pc_close(pc, "out of memory for the refusal page");
        http_buf_free(&b);
        return;
    }
    /* A fresh reader for the one request answered inside TLS. */
    http_reader_free(pc->req.reader);
    pc->req.reader = http_reader_new(HTTP_READER_REQUEST, NULL);
    if (!pc->req.reader) {
        pc_close(pc, "out of memory for a request reader");
        return;
    }
    down_tls_begin(pc, "http/1.1", &refused_phase);
}

/* Write the rest of the refusal page into the refused TLS session, a record at
 * a time as the browser takes it (each write's completion comes back here
 * through refused_step), then close_notify, and close once it has all left. */
static void refused_write(struct pconn *pc)
{
    struct http_buf *page = &pc->icpt.page;
    while (pc->icpt.page_off < page->len) {
        int w = tls_conn_write(pc->down.tls, page->data + pc->icpt.page_off,
                               page->len - pc->icpt.page_off);
        if (w == TLS_WANT_IO) {
            side_flush(&pc->down);
            if (pc->down.write_busy || pc->closing)
                return;
            w = tls_conn_write(pc->down.tls, page->data + pc->icpt.page_off,
                               page->len - pc->icpt.page_off);
        }
        if (w < 0) { /* TLS_WANT_IO again: output that cannot leave */
            pc_close(pc, "the refusal page cannot be written");
            return;
        }
        pc->icpt.page_off += (size_t)w;
        side_flush(&pc->down);
        if (pc->closing)
            return;
    }
    if (!pc->icpt.page_notified) {
        if (tls_conn_close_notify(pc->down.tls) == TLS_WANT_IO) {
            side_flush(&pc->down);
            if (pc->down.write_busy || pc->closing)
                return;
            tls_conn_close_notify(pc->down.tls);
        }
        pc->icpt.page_notified = 1;
    }
    side_flush(&pc->down);
    if (!pc->closing && !pc->down.write_busy && !side_output_pending(&pc->down))
        pc_close(pc, "refused: the page was sent");
}

/* The refusal page for pc, with the TLSA records and the key it was about. */
static int refused_page(struct pconn *pc)
{
    const struct tlsa_set *set = request_tlsa(pc);
    char **texts = calloc(set->n ? set->n : 1, sizeof *texts);
    size_t nt = 0;
    for (size_t i = 0; texts && i < set->n; i++)
        if ((texts[nt] = dane_tlsa_to_text(&set->rec[i])) != NULL)
            nt++;
    struct pages_refusal r;
    status_refusal_init(pc, &r, pc->verdict.cls, pc->verdict.reason);
    r.tlsa = (const char *const *)texts;
    r.n_tlsa = nt;
    r.spki_sha256 = pc->verdict.have_spki ? pc->verdict.spki : NULL;
    http_buf_reset(&pc->icpt.page);
    int rc = pages_refusal_response(&pc->icpt.page, &r, 0);
    for (size_t i = 0; i < nt; i++)
        free(texts[i]);
    free(texts);
    return rc;
}

/* Answer the first request inside the refused TLS session with the page. */
static void refused_serve(struct pconn *pc)
{
    uint8_t *scratch = pc->px->scratch;
    for (;;) {
        int n = tls_conn_read(pc->down.tls, scratch, sizeof pc->px->scratch);
        if (n == TLS_WANT_IO) {
            side_read(&pc->down, 1);
            return;
        }
        if (n < 0) {
            pc_close(pc, n == TLS_EOF ? "refused: the browser closed without a request"
                                      : "refused: the browser's TLS session ended");
            return;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used = 0;
            enum http_event ev;
            if (http_reader_feed(pc->req.reader, (char *)scratch + off, (size_t)n - off, &used,
                                 &ev) < 0) {
                pc_close(pc, "refused: not an HTTP request inside TLS");
                return;
            }
            off += used;
            if (ev == HTTP_EV_HEAD) {
                int rc = refused_page(pc);
                side_read(&pc->down, 0);
                pc->down.read_eof = 1; /* one request, one page, then close */
                if (rc < 0) {
                    pc_close(pc, "out of memory for the refusal page");
                    return;
                }
                pc->icpt.page_off = 0;
                refused_write(pc);
                return;
            }
            if (used == 0)
                break;
        }
    }
}

static void refused_step(struct pconn *pc)
{
    if (!down_handshake(pc))
        return;
    if (pc->icpt.page.len)
        refused_write(pc);
    else if (pc->down.read_eof && !side_output_pending(&pc->down))
        pc_close(pc, "refused: the browser closed before a request");
    else if (!pc->down.read_eof)
        refused_serve(pc);
}
