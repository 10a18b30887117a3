/* proxy/listener.c — the proxy's listening sockets and what happens to a
 * connection before its first request: the allow list, max_connections and
 * max_connections_per_client (making room by closing the connection that has
 * waited longest for a request head), and whether a request names daneguard
 * itself.
 */
#include "pconn.h"

#include <stdio.h>
#include <string.h>

#include "addr.h"

/* --- connections waiting for a request head ------------------------------------------ */

void listener_waiting_add(struct pconn *pc)
{
    struct proxy *px = pc->px;
    if (pc->conn.waiting)
        return;
    pc->conn.waiting = 1;
    pc->conn.wnext = NULL;
    pc->conn.wprev = px->waiting_tail;
    if (px->waiting_tail)
        px->waiting_tail->conn.wnext = pc;
    else
        px->waiting_head = pc;
    px->waiting_tail = pc;
}

void listener_waiting_del(struct pconn *pc)
{
    struct proxy *px = pc->px;
    if (!pc->conn.waiting)
        return;
    pc->conn.waiting = 0;
    if (pc->conn.wprev)
        pc->conn.wprev->conn.wnext = pc->conn.wnext;
    else
        px->waiting_head = pc->conn.wnext;
    if (pc->conn.wnext)
        pc->conn.wnext->conn.wprev = pc->conn.wprev;
    else
        px->waiting_tail = pc->conn.wprev;
    pc->conn.wnext = pc->conn.wprev = NULL;
}

/* --- daneguard itself ------------------------------------------------------------------ */

/* Whether host is an address literal of one of this machine's interfaces. */
static int is_local_literal(const char *host)
{
    uv_interface_address_t *ifs;
    int n, found = 0;
    struct sockaddr_storage ss;
    if (addr_parse(host, 0, &ss) != 0 || uv_interface_addresses(&ifs, &n) != 0)
        return 0;
    for (int i = 0; i < n && !found; i++)
        found = addr_same_ip((const struct sockaddr *)&ss, (const struct sockaddr *)&ifs[i].address);
    uv_free_interface_addresses(ifs, n);
    return found;
}

int listener_is_own_address(struct pconn *pc)
{
    struct proxy *px = pc->px;
    for (size_t i = 0; i < px->cfg.n_listen; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&px->cfg.listen[i].ss;
        char text[ADDR_TEXT_MAX];
        addr_format(sa, 0, text, sizeof text);
        if (addr_port(sa) == pc->req.port &&
            (strcmp(text, pc->req.host) == 0 || strcmp(pc->req.host, "localhost") == 0 ||
             (addr_is_unspecified(sa) && is_local_literal(pc->req.host))))
            return 1;
    }
    return 0;
}

/* --- accepting --------------------------------------------------------------------------- */

/* proxy.max_connections_per_client, for a connection just accepted from an
 * allowed client: past the limit the client's own connection that has waited
 * longest for a request head makes room (as at max_connections, so a
 * browser's idle keep-alive pool does not lock it out), else the new one is
 * closed at once. Either way other clients keep their connections. Returns 0
 * when pc was closed. */
static int per_client_limit_ok(struct pconn *pc)
{
    struct proxy *px = pc->px;
    struct pconn *old;
    int log_it;

    pc->conn.client = clients_ref(px->clients, (const struct sockaddr *)&pc->conn.peer);
    if (!pc->conn.client) {
        pc_close(pc, "out of memory for the client table");
        return 0;
    }
    if (client_refs(pc->conn.client) <= px->cfg.max_connections_per_client)
        return 1;
    for (old = px->waiting_head; old && old->conn.client != pc->conn.client; old = old->conn.wnext)
        ;
    log_it = client_log_due(pc->conn.client, uv_now(px->loop), PROXY_LOG_INTERVAL_MS);
    if (old) {
        if (log_it)
            log_info("proxy: client %s reached max_connections_per_client (%u): closing its "
                     "longest idle connections",
                     client_text(pc->conn.client), px->cfg.max_connections_per_client);
        pc_close(old, "max_connections_per_client: the client's longest idle connection made room");
        return 1;
    }
    if (log_it)
        log_info("proxy: client %s reached max_connections_per_client (%u): closing its new "
                 "connections",
                 client_text(pc->conn.client), px->cfg.max_connections_per_client);
    pc_close(pc, "max_connections_per_client: every connection of the client is busy");
    return 0;
}

/* At max_connections the connection that has waited longest for a request
 * head (never sent one, or idle between keep-alive requests) makes room: a
 * flood of silent connections then cannot lock out clients that speak. Only
 * when every slot is busy is the newcomer turned away with a 503. Returns 0
 * when pc was answered. */
static int limit_ok(struct pconn *pc)
{
    struct proxy *px = pc->px;
    struct pconn *old = px->waiting_head;
    uint64_t now = uv_now(px->loop);
    int log_it;

    if (px->stats.conns_open <= px->cfg.max_connections)
        return 1;
    log_it = now - px->limit_logged >= PROXY_LOG_INTERVAL_MS || !px->limit_logged;
    if (log_it)
        px->limit_logged = now ? now : 1;
    if (old) {
        if (log_it)
            log_info("proxy: connection limit (%u) reached: closing the longest idle ones",
                     px->cfg.max_connections);
        pc_close(old, "max_connections: the longest idle connection made room");
        return 1;
    }
    if (log_it)
        log_info("proxy: connection limit (%u) reached: answering 503", px->cfg.max_connections);
    pc_send_error(pc, 503, "daneguard has too many connections open");
    return 0;
}

static void on_accept(uv_stream_t *server, int status)
{
    struct proxy *px = server->data;
    struct pconn *pc;
    int len = sizeof pc->conn.peer;

    if (status < 0 || px->closing)
        return;
    pc = pc_new(px);
    if (!pc)
        return;
    if (uv_accept(server, (uv_stream_t *)&pc->client_tcp) < 0 ||
        uv_tcp_getpeername(&pc->client_tcp, (struct sockaddr *)&pc->conn.peer, &len) < 0) {
        pc_close(pc, "accept failed");
        return;
    }
    uv_tcp_nodelay(&pc->client_tcp, 1);
    /* Before the limit's eviction: a client outside allow must not make room
     * for itself by closing an allowed client's connection. */
    if (!addr_cidr_match(px->cfg.allow, px->cfg.n_allow, (struct sockaddr *)&pc->conn.peer)) {
        /* at most one line a second: a flood must not fill the log (such a
         * client gets no entry in the client table) */
        uint64_t now = uv_now(px->loop);
        if (!px->disallowed_logged || now - px->disallowed_logged >= PROXY_LOG_INTERVAL_MS) {
            char text[ADDR_TEXT_MAX];
            px->disallowed_logged = now ? now : 1;
            addr_format((const struct sockaddr *)&pc->conn.peer, 0, text, sizeof text);
            log_info("proxy: client %s is not in proxy.allow: answering 403", text);
        }
        if (px->stats.conns_open > px->cfg.max_connections) /* not even a 403 when full */
            pc_close(pc, "not in proxy.allow, and no room for a 403");
        else
            pc_send_error(pc, 403, "this client is not allowed to use daneguard");
        return;
    }
    if (!per_client_limit_ok(pc) || !limit_ok(pc))
        return;
    request_first(pc);
}

/* --- listening ------------------------------------------------------------------------------ */

static void listener_closed(uv_handle_t *h)
{
    struct proxy *px = h->data;
    if (--px->handles_open == 0 && px->pconns_alive == 0)
        free(px);
}

static void self_address(struct proxy *px)
{
    if (px->cfg.n_listen > 0)
        addr_format((const struct sockaddr *)&px->cfg.listen[0].ss, ADDR_FORMAT_PORT, px->self,
                    sizeof px->self);
}

int listener_open(struct proxy *px, const struct config_proxy *cfg, char *err, size_t errlen)
{
    int rc;
    self_address(px);
    for (size_t i = 0; i < cfg->n_listen; i++) {
        uv_tcp_t *l = &px->listeners[px->n_listeners++];
        const struct sockaddr *sa = (const struct sockaddr *)&cfg->listen[i].ss;
        uv_tcp_init(px->loop, l);
        l->data = px;
        px->handles_open++;
        if ((rc = uv_tcp_bind(l, sa, sa->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0)) < 0 ||
            (rc = uv_listen((uv_stream_t *)l, PROXY_LISTEN_BACKLOG, on_accept)) < 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen[i].text, uv_strerror(rc));
            return -1;
        }
        log_info("proxy: listening on %s (intercept: %s)", cfg->listen[i].text,
                 cfg->intercept == CONFIG_INTERCEPT_ALL ? "all" : "dane");
    }
    return 0;
}

void listener_close_all(struct proxy *px)
{
    for (size_t i = 0; i < px->n_listeners; i++)
        uv_close((uv_handle_t *)&px->listeners[i], listener_closed);
}
