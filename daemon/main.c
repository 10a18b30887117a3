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
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <mbedtls/x509_crt.h>

#include "addr.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "proxy.h"
#include "resolver.h"
#include "server.h"
#include "upstream.h"
#include "version.h"

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
                "       daneguard --version\n"
                "\n"
                "  -c FILE   configuration (default " DEFAULT_CONFIG ")\n"
                "  -n        check the configuration and exit\n"
                "  -v        more logging; repeat for more\n");
}

/* Levenshtein distance of two short words, capped at 9. */
static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned row[16];
    if (la > 15 || lb > 15)
        return 9;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb] > 9 ? 9 : row[lb];
}

/* The subcommand a typo most likely meant, or NULL when none is close. */
static const char *nearest_subcommand(const char *word)
{
    static const char *const names[] = {"verify", "tlsa", "check"};
    const char *best = NULL;
    unsigned best_d = 3; /* at most two edits away */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        unsigned d = edit_distance(word, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
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
    r->max_forwarder_sockets = fd_share(usable, 25, 3072); /* 2048 requests, their retransmits */
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
                 "(%u getdns sockets), %u forwarder sockets upstream, %u proxy connections",
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
    /* The proxy first: its part can fail (trust store, CA), the rest cannot. */
    if (d->proxy && proxy_reconfigure(d->proxy, cfg, r, err, sizeof err) < 0) {
        log_warnx("reload failed: %s: keeping the running configuration", err);
        resolver_unref(r);
        free(cfg);
        return;
    }
    if (cfg->resolver.n_listen != d->cfg.resolver.n_listen ||
        memcmp(cfg->resolver.listen, d->cfg.resolver.listen, sizeof cfg->resolver.listen) != 0)
        log_warnx("reload: listen_addresses changed; restart daneguard to rebind");
    if (cfg->proxy.enabled != d->cfg.proxy.enabled)
        log_warnx("reload: proxy.enabled changed; restart daneguard to %s the proxy",
                  cfg->proxy.enabled ? "start" : "stop");
    if (strcmp(cfg->user, d->cfg.user) != 0)
        log_warnx("reload: user changed; restart daneguard to run as another user");
    dns_server_reconfigure(d->dns, &cfg->resolver, r);
    /* The daemon's reference: the proxy's lookups in flight hold theirs, and
     * finish on the old resolver, which goes with the last of them. */
    resolver_unref(d->resolver);
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

/* Open dir (relative to the working directory unless absolute) one component
 * at a time, following no symbolic link, with every directory on the way owned
 * by root (or uid) and not writable by anyone else unless sticky: nobody but
 * root or the daemon's user can then swap what the path names. Returns a
 * descriptor, or -1 with why in err and errno ENOENT when a component is
 * missing (to be created), EPERM for an owner or mode, ELOOP or ENOTDIR for a
 * link. */
static int open_dir_strict(const char *dir, uid_t uid, char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    struct stat st;
    int fd;

    path[0] = '\0';
    if (dir[0] != '/' && (!getcwd(path, sizeof path) || strlen(path) + 1 + n >= sizeof path)) {
        snprintf(err, errlen, "%s: cannot make it an absolute path", dir);
        return -1;
    }
    if (n >= sizeof path - strlen(path) - 1) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    if (path[0])
        strcat(path, "/");
    strcat(path, dir);
    if ((fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "/: %s", strerror(errno));
        return -1;
    }
    for (char *name = path + 1, *end; *name; name = end) {
        end = strchr(name, '/');
        if (end)
            *end++ = '\0';
        else
            end = name + strlen(name);
        if (!*name || strcmp(name, ".") == 0)
            continue;
        if (fstat(fd, &st) < 0 || (st.st_uid != 0 && st.st_uid != uid) ||
            ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
            snprintf(err, errlen,
                     "a directory above %s is owned by another user or writable by others: "
                     "refusing to hand the CA directory over",
                     dir);
            close(fd);
            errno = EPERM;
            return -1;
        }
        int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(fd);
        if (next < 0) {
            if (e == ELOOP || e == ENOTDIR)
                snprintf(err, errlen,
                         "%s: %s is a symbolic link or not a directory: refusing to follow it "
                         "(set proxy.ca_dir to the real directory)",
                         dir, name);
            else
                snprintf(err, errlen, "%s: %s: %s", dir, name, strerror(e));
            errno = e;
            return -1;
        }
        fd = next;
    }
    return fd;
}

/* Hand the CA directory and its files to uid/gid, so that only the account the
 * daemon runs as can read the CA key. This runs as root, so it follows nothing:
 * the directory is reached by open_dir_strict(), and only it and the regular,
 * singly linked files in it that root or uid own already are handed over; a
 * symbolic link, a hard link, a device or another user's file is refused.
 * Returns 0, or -1 with why in err. */
static int chown_ca_dir(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    struct dirent *de;
    struct stat st;
    DIR *d = NULL;
    int dfd, rc = -1;

    if ((dfd = open_dir_strict(dir, uid, err, errlen)) < 0)
        return -1;
    if (fstat(dfd, &st) < 0 || (st.st_uid != 0 && st.st_uid != uid)) {
        snprintf(err, errlen, "%s is owned by uid %u, neither root nor the daemon's user", dir,
                 (unsigned)st.st_uid);
        goto out;
    }
    int lfd = dup(dfd);
    if (lfd < 0 || !(d = fdopendir(lfd))) {
        if (lfd >= 0)
            close(lfd);
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        goto out;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "%s/%s: %s", dir, de->d_name,
                     errno == ELOOP ? "a symbolic link: refusing to follow it" : strerror(errno));
            goto out;
        }
        const char *bad = fstat(fd, &st) < 0                   ? strerror(errno)
                          : !S_ISREG(st.st_mode)               ? "not a regular file"
                          : st.st_nlink != 1                   ? "has other hard links"
                          : st.st_uid != 0 && st.st_uid != uid ? "owned by another user"
                                                               : NULL;
        if (!bad && fchown(fd, uid, gid) < 0)
            bad = strerror(errno);
        close(fd);
        if (bad) {
            snprintf(err, errlen, "%s/%s: %s: refusing to hand it over", dir, de->d_name, bad);
            goto out;
        }
    }
    if (fchown(dfd, uid, gid) < 0 || fchmod(dfd, 0700) < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (d)
        closedir(d);
    close(dfd);
    return rc;
}

/* Started as root (to bind port 53): become cfg->user and keep nothing
 * privileged. Returns 0 or -1 (logged). */
static int drop_privileges(const struct config *cfg)
{
    struct passwd *pw;
    char err[PATH_MAX + 256];
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
    if (cfg->proxy.enabled &&
        chown_ca_dir(cfg->proxy.ca_dir, pw->pw_uid, pw->pw_gid, err, sizeof err) < 0) {
        log_warnx("proxy.ca_dir: cannot hand %s to %s: %s", cfg->proxy.ca_dir, cfg->user, err);
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

/* -n goes as far as start-up would without binding anything: every file the
 * configuration names is opened and parsed (trust anchors by building a
 * resolver on a private loop, the proxy's trust store) and the user looked
 * up, so that a unit gated on -n does not start a daemon that then refuses.
 * 0, or -1 with each problem logged. */
static int check_named_files(const char *path, const struct config *cfg)
{
    int rc = 0;
    char err[512];
    uv_loop_t loop;
    if (uv_loop_init(&loop) == 0) {
        struct resolver *r = NULL;
        if (resolver_new(&loop, &cfg->resolver, &r, err, sizeof err) < 0) {
            log_warnx("%s: resolver: %s", path, err);
            rc = -1;
        }
        resolver_unref(r);
        uv_walk(&loop, close_walk, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&loop);
    }
    if (cfg->proxy.enabled && cfg->proxy.trust_store[0]) {
        mbedtls_x509_crt trust;
        mbedtls_x509_crt_init(&trust);
        int ret = mbedtls_x509_crt_parse_file(&trust, cfg->proxy.trust_store);
        if (ret < 0 || trust.raw.p == NULL) {
            log_warnx("%s: proxy: trust_store %s: %s", path, cfg->proxy.trust_store,
                      access(cfg->proxy.trust_store, R_OK) != 0 ? strerror(errno)
                                                                : "no certificate can be read");
            rc = -1;
        }
        mbedtls_x509_crt_free(&trust);
    }
    if (cfg->user[0] && !getpwnam(cfg->user)) {
        log_warnx("%s: user %s does not exist (create it: useradd --system %s; or set user: \"\")",
                  path, cfg->user, cfg->user);
        rc = -1;
    }
    return rc;
}

/* Once, at start: what a person needs to use what just started. */
static void log_start_summary(const struct config *cfg)
{
    static const char *const transport_name[] = {"UDP", "TCP", "TLS"};
    char line[768], a[ADDR_TEXT_MAX + 16], dns[ADDR_TEXT_MAX];
    size_t n = 0;

    line[0] = '\0';
    for (size_t i = 0; i < cfg->resolver.n_transports; i++) {
        unsigned t = (unsigned)cfg->resolver.transports[i] - CONFIG_TRANSPORT_UDP;
        n += (size_t)snprintf(line + n, n < sizeof line ? sizeof line - n : 0, "%s%s",
                              i ? "/" : "", t < 3 ? transport_name[t] : "?");
    }
    for (size_t i = 0; i < cfg->resolver.n_upstreams && n < sizeof line; i++) {
        const struct config_upstream *u = &cfg->resolver.upstreams[i];
        const struct sockaddr *sa = (const struct sockaddr *)&u->addr.ss;
        addr_format(sa, 0, a, sizeof a);
        n += (size_t)snprintf(line + n, sizeof line - n, "%s %s", i ? "," : " to", a);
        if (addr_port(sa) != 53 && n < sizeof line)
            n += (size_t)snprintf(line + n, sizeof line - n, " port %u", addr_port(sa));
    }
    log_info("daneguard " DANEGUARD_VERSION " started: DNS upstreams over %s", line);
    if (!cfg->proxy.enabled || cfg->proxy.n_listen == 0)
        return;
    const struct sockaddr *p = (const struct sockaddr *)&cfg->proxy.listen[0].ss;
    addr_format(p, ADDR_FORMAT_PORT, a, sizeof a);
    log_info("proxy: set-up page http://%s/", a);
    snprintf(dns, sizeof dns, "127.0.0.1");
    if (cfg->resolver.n_listen)
        addr_format((const struct sockaddr *)&cfg->resolver.listen[0].ss, 0, dns, sizeof dns);
    log_info("next: 1. \"nameserver %s\" in /etc/resolv.conf; 2. the browser's proxy set to "
             "http://%s/proxy.pac (automatic configuration); 3. http://%s/ opened in that "
             "browser, the fingerprint compared with the one above, and daneguard's CA trusted",
             dns, a, a);
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
        if (check_named_files(path, &d.cfg) < 0)
            return 1;
        printf("%s: configuration OK\n", path);
        return 0;
    }
    log_set_timestamps(getenv("JOURNAL_STREAM") == NULL);
    if (geteuid() == 0 && d.cfg.user[0] && !getpwnam(d.cfg.user)) {
        log_warnx("user %s does not exist (create it: useradd --system %s; or set user: \"\")",
                  d.cfg.user, d.cfg.user);
        return 1;
    }
    /* As root, before the CA is opened (and maybe created) there: a ca_dir
     * that chown_ca_dir() would refuse is refused now, with nothing written
     * through a link. It may not exist yet. */
    if (geteuid() == 0 && d.cfg.user[0] && d.cfg.proxy.enabled) {
        int fd = open_dir_strict(d.cfg.proxy.ca_dir, getpwnam(d.cfg.user)->pw_uid, err, sizeof err);
        if (fd >= 0) {
            close(fd);
        } else if (errno != ENOENT) {
            log_warnx("proxy.ca_dir: %s", err);
            return 1;
        }
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
    log_start_summary(&d.cfg);
    uv_run(d.loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    /* Let closing handles finish (the lookups proxy_close cancelled drop their
     * references to the resolvers in that round), then release getdns and the
     * rest. */
    dns_server_close(d.dns);
    proxy_close(d.proxy);
    uv_run(d.loop, UV_RUN_NOWAIT);
    resolver_unref(d.resolver);
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
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("daneguard " DANEGUARD_VERSION "\n");
        return 0;
    }
    if (argc > 1 && argv[1][0] != '-') {
        const char *near = nearest_subcommand(argv[1]);
        fprintf(stderr, "daneguard: '%s' is not a subcommand", argv[1]);
        if (near != NULL)
            fprintf(stderr, "; did you mean '%s'?", near);
        fprintf(stderr, " (see --help)\n");
        return 2;
    }

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
