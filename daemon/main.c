/* daemon/main.c — the daneguard binary: the daemon and its subcommands.
 *
 *   daneguard [-c FILE] [-n] [-v...]     run the daemon (or, with -n, check FILE)
 *   daneguard verify|tlsa|check ...      the operator's tools (cli_*.c)
 *
 * The daemon is one libuv loop: the DNS server and resolver, and the proxy.
 * SIGHUP re-reads the configuration whole; a file that does not parse, or an
 * upstream set-up that fails, leaves the running configuration in place.
 *
 * At start the soft open-file limit is raised to the hard one, and every bound
 * on something that holds an fd (DNS TCP clients, proxy connections, lookups
 * and getdns's sockets, the forwarder's upstream queries) is fitted to it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "proxy.h"
#include "resolver.h"
#include "server.h"
#include "upstream.h"

#define DEFAULT_CONFIG "/etc/daneguard/daneguard.yml"

struct daemon {
    uv_loop_t *loop;
    const char *config_path;
    struct config cfg;
    struct resolver *resolver;
    struct dns_server *dns;
    struct proxy *proxy;
    uv_signal_t sig_hup, sig_term, sig_int;
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: daneguard [-c FILE] [-n] [-v]...\n"
                "       daneguard verify --help | tlsa --help | check --help\n"
                "\n"
                "  -c FILE   configuration (default " DEFAULT_CONFIG ")\n"
                "  -n        check the configuration and exit\n"
                "  -v        more logging; repeat for more\n");
}

/* Load and check a whole configuration, upstreams resolved. 0 or -1 (logged). */
static int load_config(const char *path, struct config *cfg)
{
    char err[CONFIG_ERR_LEN];
    if (config_load(path, cfg, err) < 0) {
        log_warnx("%s", err);
        return -1;
    }
    if (cfg->resolver.n_upstreams == 0 &&
        upstream_from_resolv_conf(&cfg->resolver, err, sizeof err) < 0) {
        log_warnx("%s: resolver: %s", path, err);
        return -1;
    }
    return 0;
}

/* --- the open-file limit ---------------------------------------------------- */

#define FD_RESERVE 64 /* listeners, the loop's own fds, logs, the CA, getdns's files */
static rlim_t fd_limit = 1024;

/* Raise the soft RLIMIT_NOFILE to the hard one (a daemon that holds a socket
 * per client has no use for the 1,024 a login shell gives it). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warn("getrlimit(RLIMIT_NOFILE)");
        return;
    }
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (want.rlim_cur == RLIM_INFINITY || setrlimit(RLIMIT_NOFILE, &want) < 0) {
            /* An unlimited hard limit cannot be the soft one on Linux (nr_open
             * bounds it): try a large finite value. */
            want.rlim_cur = 1048576;
            if (setrlimit(RLIMIT_NOFILE, &want) < 0)
                log_warn("cannot raise the open-file limit above %llu", (unsigned long long)was);
        }
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    fd_limit = rl.rlim_cur;
    if (fd_limit != was)
        log_info("open-file limit raised from %llu to %llu", (unsigned long long)was,
                 (unsigned long long)fd_limit);
}

static uint32_t fd_share(uint64_t usable, unsigned percent, uint32_t cap)
{
    uint64_t n = usable * percent / 100;
    if (n < 1)
        n = 1;
    return n < cap ? (uint32_t)n : cap;
}

/* Fit every fd-holding bound of cfg to fd_limit, with FD_RESERVE kept back:
 * DNS TCP clients 15% of the rest, proxy connections 25% (two fds each),
 * getdns's sockets 25% (a lookup holds about two: its query and a validation
 * query), the forwarder's upstream queries 25%; the last 10% is slack. A
 * configured value above its share is lowered, and that is logged. */
static void fit_to_fd_limit(struct config *cfg, int quiet)
{
    uint64_t usable = fd_limit > 2 * FD_RESERVE ? fd_limit - FD_RESERVE : fd_limit / 2;
    struct config_resolver *r = &cfg->resolver;
    uint32_t tcp = fd_share(usable, 15, UINT32_MAX);
    uint32_t proxy = fd_share(usable, 25, UINT32_MAX) / 2;

    r->max_getdns_sockets = fd_share(usable, 25, UINT32_MAX);
    r->max_lookups = fd_share(usable, 25, UINT32_MAX) / 2;
    if (r->max_lookups < 1)
        r->max_lookups = 1;
    if (r->max_lookups > UPSTREAM_MAX_IN_FLIGHT)
        r->max_lookups = UPSTREAM_MAX_IN_FLIGHT;
    r->max_forwarder_sockets = fd_share(usable, 25, 2048);
    if (r->max_tcp_clients > tcp) {
        log_warnx("resolver.max_tcp_clients %u lowered to %u to fit the open-file limit of %llu "
                  "(raise the hard limit, e.g. LimitNOFILE=)",
                  r->max_tcp_clients, tcp, (unsigned long long)fd_limit);
        r->max_tcp_clients = tcp;
    }
    if (cfg->proxy.enabled && cfg->proxy.max_connections > proxy) {
        log_warnx("proxy.max_connections %u lowered to %u to fit the open-file limit of %llu "
                  "(raise the hard limit, e.g. LimitNOFILE=)",
                  cfg->proxy.max_connections, proxy < 1 ? 1 : proxy,
                  (unsigned long long)fd_limit);
        cfg->proxy.max_connections = proxy < 1 ? 1 : proxy;
    }
    if (!quiet)
        log_info("open-file limit %llu: at most %u DNS TCP clients, %u lookups in flight "
                 "(%u getdns sockets), %u forwarder queries upstream, %u proxy connections",
                 (unsigned long long)fd_limit, r->max_tcp_clients, r->max_lookups,
                 r->max_getdns_sockets, r->max_forwarder_sockets,
                 cfg->proxy.enabled ? cfg->proxy.max_connections : 0);
}

static void reload(struct daemon *d)
{
    struct config *cfg = malloc(sizeof *cfg);
    struct resolver *r = NULL;
    char err[512];

    log_info("reloading %s", d->config_path);
    if (!cfg || load_config(d->config_path, cfg) < 0) {
        log_warnx("reload failed: keeping the running configuration");
        free(cfg);
        return;
    }
    fit_to_fd_limit(cfg, 1);
    if (resolver_new(d->loop, &cfg->resolver, &r, err, sizeof err) < 0) {
        log_warnx("reload failed: resolver: %s: keeping the running configuration", err);
        free(cfg);
        return;
    }
    if (cfg->resolver.n_listen != d->cfg.resolver.n_listen ||
        memcmp(cfg->resolver.listen, d->cfg.resolver.listen, sizeof cfg->resolver.listen) != 0)
        log_warnx("reload: listen_addresses changed; restart daneguard to rebind");
    dns_server_reconfigure(d->dns, &cfg->resolver, r);
    if (d->proxy)
        proxy_reconfigure(d->proxy, cfg, r);
    resolver_free(d->resolver);
    d->resolver = r;
    d->cfg = *cfg;
    free(cfg);
    log_info("reloaded %s", d->config_path);
}

static void stop(struct daemon *d)
{
    uv_signal_stop(&d->sig_hup);
    uv_signal_stop(&d->sig_term);
    uv_signal_stop(&d->sig_int);
    dns_server_close(d->dns);
    d->dns = NULL;
    proxy_close(d->proxy);
    d->proxy = NULL;
    uv_stop(d->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    if (signum == SIGHUP) {
        reload(d);
        return;
    }
    log_info("signal %d: stopping", signum);
    stop(d);
}

/* Hand the CA directory and its files to uid/gid, so that only the account the
 * daemon runs as can read the CA key. */
static int chown_ca_dir(const char *dir, uid_t uid, gid_t gid)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;
    if (!d)
        return errno == ENOENT ? 0 : -1;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (fchownat(dirfd(d), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            rc = -1;
    }
    closedir(d);
    if (chown(dir, uid, gid) < 0 || chmod(dir, 0700) < 0)
        rc = -1;
    return rc;
}

/* Started as root (to bind port 53): become cfg->user and keep nothing
 * privileged. Returns 0 or -1 (logged). */
static int drop_privileges(const struct config *cfg)
{
    struct passwd *pw;
    if (geteuid() != 0) {
        if (cfg->user[0])
            log_debug("not started as root: user: %s not needed", cfg->user);
        return 0;
    }
    if (!cfg->user[0]) {
        log_warnx("running as root: set user: in the configuration to drop privileges");
        return 0;
    }
    pw = getpwnam(cfg->user);
    if (!pw) {
        log_warnx("user %s does not exist (create it: useradd --system %s; or set user: \"\")",
                  cfg->user, cfg->user);
        return -1;
    }
    if (cfg->proxy.enabled && chown_ca_dir(cfg->proxy.ca_dir, pw->pw_uid, pw->pw_gid) < 0) {
        log_warn("cannot hand %s to %s", cfg->proxy.ca_dir, cfg->user);
        return -1;
    }
    if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        log_warn("cannot drop privileges to %s", cfg->user);
        return -1;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        log_warnx("root privileges could be regained after dropping them: stopping");
        return -1;
    }
    log_info("running as %s (uid %u)", cfg->user, (unsigned)pw->pw_uid);
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int run_daemon(const char *path, int check_only)
{
    static struct daemon d; /* large; one per process */
    char err[512];
    int rc = 1;

    d.config_path = path;
    if (load_config(path, &d.cfg) < 0)
        return 1;
    if (check_only) {
        printf("%s: configuration OK\n", path);
        return 0;
    }
    if (geteuid() == 0 && d.cfg.user[0] && !getpwnam(d.cfg.user)) {
        log_warnx("user %s does not exist (create it: useradd --system %s; or set user: \"\")",
                  d.cfg.user, d.cfg.user);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    fit_to_fd_limit(&d.cfg, 0);
    d.loop = uv_default_loop();
    if (resolver_new(d.loop, &d.cfg.resolver, &d.resolver, err, sizeof err) < 0) {
        log_warnx("resolver: %s", err);
        goto out;
    }
    if (dns_server_new(d.loop, &d.cfg.resolver, d.resolver, &d.dns, err, sizeof err) < 0) {
        log_warnx("dns: %s", err);
        goto out;
    }
    if (d.cfg.proxy.enabled &&
        proxy_new(d.loop, &d.cfg, d.resolver, &d.proxy, err, sizeof err) < 0) {
        log_warnx("proxy: %s", err);
        goto out;
    }
    if (drop_privileges(&d.cfg) < 0)
        goto out;
    uv_signal_init(d.loop, &d.sig_hup);
    uv_signal_init(d.loop, &d.sig_term);
    uv_signal_init(d.loop, &d.sig_int);
    d.sig_hup.data = d.sig_term.data = d.sig_int.data = &d;
    uv_signal_start(&d.sig_hup, on_signal, SIGHUP);
    uv_signal_start(&d.sig_term, on_signal, SIGTERM);
    uv_signal_start(&d.sig_int, on_signal, SIGINT);
    log_info("daneguard started (%zu upstream%s)", d.cfg.resolver.n_upstreams,
             d.cfg.resolver.n_upstreams == 1 ? "" : "s");
    uv_run(d.loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    /* Let closing handles finish, then release getdns and the rest. */
    dns_server_close(d.dns);
    proxy_close(d.proxy);
    uv_run(d.loop, UV_RUN_NOWAIT);
    resolver_free(d.resolver);
    uv_walk(d.loop, close_walk, NULL);
    uv_run(d.loop, UV_RUN_DEFAULT);
    uv_loop_close(d.loop);
    if (rc == 0)
        log_info("stopped");
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG;
    int check_only = 0, verbosity = 0, ch;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };

    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return cli_verify_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "tlsa") == 0)
        return cli_tlsa_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return cli_check_main(argc - 1, argv + 1);

    while ((ch = getopt_long(argc, argv, "c:nvh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'n':
            check_only = 1;
            break;
        case 'v':
            verbosity++;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    log_init("daneguard", verbosity);
    return run_daemon(path, check_only);
}
