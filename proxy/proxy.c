/* proxy/proxy.c — the proxy as a whole: set up (the CA, the trust store, the
 * TLS configurations, the listeners), reconfigured on reload, and closed.
 * A connection's phases are in the files pconn.h lists.
 */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "pconn.h"

/* The line an operator compares with the onboarding page (fetched over plain HTTP). */
static void log_ca(const struct ca *ca)
{
    log_info("proxy: CA certificate %s: SHA-256 fingerprint %s", ca_cert_path(ca),
             ca_fingerprint_sha256(ca));
}

/* The trust store file as an mbedTLS list. 0, or -1 with why in err. */
static int trust_load(mbedtls_x509_crt *trust, const char *path, char *err, size_t errlen)
{
    int rc = mbedtls_x509_crt_parse_file(trust, path);
    if (rc < 0) {
        snprintf(err, errlen, "trust_store %s: cannot read any certificate (mbedTLS -0x%04x)", path,
                 (unsigned)-rc);
        return -1;
    }
    return 0;
}

/* The running binary and configuration as absolute paths, for the command
 * the refusal page prints: it must work as printed on this host. */
static void command_paths(struct proxy *px, const char *config_path)
{
    ssize_t n = readlink("/proc/self/exe", px->exe_path, sizeof px->exe_path - 1);
    if (n <= 0) {
        snprintf(px->exe_path, sizeof px->exe_path, "daneguard");
    } else {
        px->exe_path[n] = '\0';
        char *del = strstr(px->exe_path, " (deleted)"); /* replaced by an install */
        if (del && del[10] == '\0')
            *del = '\0';
    }
    px->config_path[0] = '\0';
    if (config_path && *config_path && !realpath(config_path, px->config_path))
        snprintf(px->config_path, sizeof px->config_path, "%s", config_path);
}

int proxy_new(uv_loop_t *loop, const struct config *cfg, struct resolver *r, struct proxy **out,
              char *err, size_t errlen)
{
    static const char *const alpn[] = {"h2", "http/1.1", NULL};
    struct proxy *px = calloc(1, sizeof *px);
    if (!px) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    px->loop = loop;
    px->cfg = cfg->proxy;
    px->resolver = resolver_ref(r);
    px->started = time(NULL);
    command_paths(px, cfg->path);
    mbedtls_x509_crt_init(&px->trust);
    px->clients = clients_new();
    px->dest = hconnect_policy_new(cfg->proxy.allow_destinations, cfg->proxy.n_allow_destinations);
    if (!px->clients || !px->dest) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    log_info("proxy: not connecting to local addresses (%zu of this machine's) but for "
             "%zu network(s) in allow_destinations",
             hconnect_policy_own_count(px->dest), cfg->proxy.n_allow_destinations);

    struct ca_config cc = {.cache_entries = cfg->proxy.cert_cache_entries};
    if (ca_open(cfg->proxy.ca_dir, &cc, time(NULL), &px->ca, err, errlen) < 0)
        goto fail;
    if (ca_created(px->ca))
        log_info("proxy: created a new local CA in %s (install %s in browsers)", cfg->proxy.ca_dir,
                 ca_cert_path(px->ca));
    log_ca(px->ca);
    if (trust_load(&px->trust, cfg->proxy.trust_store, err, errlen) < 0)
        goto fail;
    struct tls_client_options co = {.alpn = alpn, .session_cache_entries = PROXY_TLS_SESSIONS};
    struct tls_server_options so = {.session_tickets = 1,
                                    .session_cache_entries = PROXY_TLS_SESSIONS};
    px->tls_client = tls_client_config_new(&co);
    static const char *const alpn_h1[] = {"http/1.1", NULL};
    struct tls_client_options co1 = {.alpn = alpn_h1, .session_cache_entries = PROXY_TLS_SESSIONS};
    px->tls_client_h1 = tls_client_config_new(&co1);
    px->tls_server = tls_server_config_new(&so);
    if (!px->tls_client || !px->tls_client_h1 || !px->tls_server) {
        snprintf(err, errlen, "cannot set up TLS");
        goto fail;
    }
    if (listener_open(px, &cfg->proxy, err, errlen) < 0)
        goto fail;
    *out = px;
    return 0;
fail:
    proxy_close(px);
    return -1;
}

int proxy_reconfigure(struct proxy *px, const struct config *cfg, struct resolver *r, char *err,
                      size_t errlen)
{
    const struct config_proxy *n = &cfg->proxy;
    struct config_sockaddr listen[CONFIG_MAX_ADDRS];
    size_t n_listen = px->cfg.n_listen;
    mbedtls_x509_crt trust;
    struct ca *ca = NULL;
    char why[512];

    /* Everything that can fail first, so a failure changes nothing. */
    mbedtls_x509_crt_init(&trust);
    if (trust_load(&trust, n->trust_store, why, sizeof why) < 0) {
        snprintf(err, errlen, "proxy.%s", why);
        mbedtls_x509_crt_free(&trust);
        return -1;
    }
    if (strcmp(n->ca_dir, px->cfg.ca_dir) != 0) {
        struct ca_config cc = {.cache_entries = n->cert_cache_entries};
        if (ca_open(n->ca_dir, &cc, time(NULL), &ca, why, sizeof why) < 0) {
            snprintf(err, errlen, "proxy.ca_dir %s: %s", n->ca_dir, why);
            mbedtls_x509_crt_free(&trust);
            return -1;
        }
    }

    /* Commit. Connections keep the certificates they hold (reference counts). */
    uint32_t cache_entries = n->cert_cache_entries;
    mbedtls_x509_crt_free(&px->trust);
    px->trust = trust;
    if (ca) {
        log_info("proxy: reload: CA now in %s%s", n->ca_dir,
                 ca_created(ca) ? " (a new CA: install it in browsers)" : "");
        ca_close(px->ca);
        px->ca = ca;
        log_ca(ca);
    } else if (n->cert_cache_entries != px->cfg.cert_cache_entries &&
               ca_cache_resize(px->ca, n->cert_cache_entries) < 0) {
        log_warnx("proxy: reload: cert_cache_entries %u: out of memory, keeping %u",
                  n->cert_cache_entries, px->cfg.cert_cache_entries);
        cache_entries = px->cfg.cert_cache_entries;
    }
    if (n->n_listen != px->cfg.n_listen ||
        memcmp(n->listen, px->cfg.listen, n->n_listen * sizeof n->listen[0]) != 0)
        log_warnx("reload: proxy.listen_addresses changed; restart daneguard to rebind");
    memcpy(listen, px->cfg.listen, sizeof listen);
    px->cfg = *n;
    memcpy(px->cfg.listen, listen, sizeof listen); /* listeners stay as bound */
    px->cfg.n_listen = n_listen;
    px->cfg.cert_cache_entries = cache_entries;
    /* Lookups in flight keep the resolver they started on (a reference each);
     * the requests from now on use r. */
    resolver_unref(px->resolver);
    px->resolver = resolver_ref(r);
    /* allow_destinations, and this machine's addresses read again */
    struct hconnect_policy *dest =
        hconnect_policy_new(cfg->proxy.allow_destinations, cfg->proxy.n_allow_destinations);
    if (dest) {
        hconnect_policy_free(px->dest);
        px->dest = dest;
    } else {
        log_warnx("proxy: out of memory: allow_destinations and this machine's addresses "
                  "are the ones before the reload");
    }

    /* A client the new allow list leaves out keeps nothing open. */
    size_t dropped = 0;
    for (struct pconn *pc = px->conns, *next; pc; pc = next) {
        next = pc->next;
        if (!addr_cidr_match(px->cfg.allow, px->cfg.n_allow, (struct sockaddr *)&pc->conn.peer)) {
            pc_close(pc, "reload: the client is no longer in proxy.allow");
            dropped++;
        }
    }
    if (dropped)
        log_info("proxy: reload: closed %zu connection(s) from clients no longer in allow",
                 dropped);

    return 0;
}

void proxy_close(struct proxy *px)
{
    if (!px)
        return;
    px->closing = 1;
    while (px->conns)
        pc_close(px->conns, "the proxy is closing");
    ca_close(px->ca);
    px->ca = NULL;
    tls_client_config_free(px->tls_client);
    tls_client_config_free(px->tls_client_h1);
    px->tls_client_h1 = NULL;
    tls_server_config_free(px->tls_server);
    px->tls_client = NULL;
    px->tls_server = NULL;
    mbedtls_x509_crt_free(&px->trust);
    hconnect_policy_free(px->dest);
    px->dest = NULL;
    clients_free(px->clients); /* every connection let its entry go in pc_close */
    px->clients = NULL;
    resolver_unref(px->resolver);
    px->resolver = NULL;
    listener_close_all(px);
    if (px->handles_open == 0 && px->pconns_alive == 0)
        free(px);
}

void proxy_get_stats(const struct proxy *px, struct proxy_stats *st)
{
    *st = px->stats;
}
