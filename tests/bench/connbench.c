/* tests/bench/connbench.c — a load client for HTTPS forward proxies.
 *
 * Each connection: TCP to the proxy, "CONNECT target", wait for 200, TLS
 * handshake through the tunnel (OpenSSL, no certificate check: a benchmark),
 * "GET path" (HTTP/1.1, keep-alive), read the response (Content-Length).
 *
 *   connbench rate PROXY_ADDR PROXY_PORT TARGET SNI CONC SECONDS RESUME PATH
 *       CONC threads, each opening, using and closing connections one after
 *       another for SECONDS; RESUME=1 offers the previous connection's session
 *       (ticket or id) on the next. Prints one line:
 *       "connections=N errors=E seconds=S rate=R resumed=K"
 *   connbench hold PROXY_ADDR PROXY_PORT TARGET SNI N PATH SECONDS
 *       opens N connections (50 at a time) and keeps them open and idle after
 *       the first response; prints "ready established=N errors=E" once all
 *       are up, then holds them until SECONDS pass (or SIGTERM).
 *
 * Every socket operation times out after 10 s. Loopback use only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *proxy_addr, *target, *sni, *path;
static int proxy_port, resume, deadline_s;
static SSL_CTX *ctx;
static atomic_long n_ok, n_err, n_resumed;
static struct timespec t_start;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t_start.tv_sec) + (t.tv_nsec - t_start.tv_nsec) / 1e9;
}

static atomic_int reported;
static void first_error(const char *what)
{
    if (!reported++) {
        fprintf(stderr, "connbench: first error: %s (errno %d)\n", what, errno);
        ERR_print_errors_fp(stderr);
    }
}

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)proxy_port)};
    if (inet_pton(AF_INET, proxy_addr, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* CONNECT and read the proxy's response head (up to the blank line, byte by
 * byte so that nothing of the TLS stream is consumed). */
static int do_connect(int fd)
{
    char req[512], head[2048];
    int n = snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
    if (write(fd, req, (size_t)n) != n)
        return -1;
    size_t len = 0;
    while (len < sizeof head - 1) {
        ssize_t r = read(fd, head + len, 1);
        if (r <= 0)
            return -1;
        len++;
        if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[len] = 0;
    return strncmp(head, "HTTP/1.1 200", 12) == 0 || strncmp(head, "HTTP/1.0 200", 12) == 0 ? 0 : -1;
}

/* GET path; read the head and Content-Length bytes of body. */
static int do_get(SSL *ssl)
{
    char req[512], buf[16384];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: connbench\r\n\r\n",
                     path, target); /* host:port, as browsers send for a port other than 443 */
    if (SSL_write(ssl, req, n) != n)
        return -1;
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len >= sizeof buf - 1)
            return -1;
        int r = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len));
        if (r <= 0)
            return -1;
        len += (size_t)r;
        buf[len] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0 && strncmp(buf, "HTTP/1.0 200", 12) != 0) {
        char line[120];
        snprintf(line, sizeof line, "GET answered: %.*s", (int)strcspn(buf, "\r\n"), buf);
        first_error(line);
        return -1;
    }
    long want = 0;
    for (char *p = buf; p < end; p++) {
        if (strncasecmp(p, "\ncontent-length:", 16) == 0) {
            want = strtol(p + 16, NULL, 10);
            break;
        }
    }
    long have = (long)(len - (size_t)(end + 4 - buf));
    while (have < want) {
        int r = SSL_read(ssl, buf, (int)sizeof buf);
        if (r <= 0)
            return -1;
        have += r;
    }
    return 0;
}

/* One connection up to the first response; returns the SSL (fd inside) or NULL. */
static SSL *open_one(SSL_SESSION *sess, int *resumed)
{
    int fd = tcp_connect();
    if (fd < 0)
        return NULL;
    if (do_connect(fd) < 0) {
        first_error("CONNECT refused or failed");
        close(fd);
        return NULL;
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    struct in_addr ip4;
    if (inet_pton(AF_INET, sni, &ip4) != 1) /* no SNI for an address, as curl does */
        SSL_set_tlsext_host_name(ssl, sni);
    if (sess)
        SSL_set_session(ssl, sess);
    if (SSL_connect(ssl) != 1) {
        first_error("TLS handshake failed");
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    if (do_get(ssl) < 0) {
        first_error("GET failed");
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    if (resumed)
        *resumed = SSL_session_reused(ssl);
    return ssl;
}

static void close_one(SSL *ssl)
{
    int fd = SSL_get_fd(ssl);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}

static void *rate_thread(void *arg)
{
    (void)arg;
    SSL_SESSION *sess = NULL;
    while (now_s() < deadline_s) {
        int resumed = 0;
        SSL *ssl = open_one(resume ? sess : NULL, &resumed);
        if (!ssl) {
            n_err++;
            if (sess) {
                SSL_SESSION_free(sess);
                sess = NULL;
            }
            usleep(10000);
            continue;
        }
        n_ok++;
        if (resumed)
            n_resumed++;
        if (resume) {
            SSL_SESSION *s = SSL_get1_session(ssl);
            if (s) {
                if (sess)
                    SSL_SESSION_free(sess);
                sess = s;
            }
        }
        close_one(ssl);
    }
    if (sess)
        SSL_SESSION_free(sess);
    return NULL;
}

static SSL **held;
static atomic_int next_slot;
static int hold_n;

static void *hold_thread(void *arg)
{
    (void)arg;
    for (;;) {
        int i = next_slot++;
        if (i >= hold_n || now_s() > deadline_s)
            return NULL;
        held[i] = open_one(NULL, NULL);
        if (held[i])
            n_ok++;
        else
            n_err++;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: connbench rate PROXY_ADDR PROXY_PORT TARGET SNI CONC SECONDS RESUME PATH\n"
                    "       connbench hold PROXY_ADDR PROXY_PORT TARGET SNI N PATH SECONDS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc != 10 && argc != 9)
        usage();
    int hold = strcmp(argv[1], "hold") == 0;
    if ((hold && argc != 9) || (!hold && (argc != 10 || strcmp(argv[1], "rate") != 0)))
        usage();
    proxy_addr = argv[2];
    proxy_port = atoi(argv[3]);
    target = argv[4];
    sni = argv[5];
    int count = atoi(argv[6]);
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);

    if (!hold) {
        deadline_s = atoi(argv[7]);
        resume = atoi(argv[8]);
        path = argv[9];
        pthread_t *t = calloc((size_t)count, sizeof *t);
        for (int i = 0; i < count; i++)
            pthread_create(&t[i], NULL, rate_thread, NULL);
        for (int i = 0; i < count; i++)
            pthread_join(t[i], NULL);
        double secs = now_s();
        printf("connections=%ld errors=%ld seconds=%.2f rate=%.1f resumed=%ld\n", (long)n_ok, (long)n_err,
               secs, n_ok / secs, (long)n_resumed);
        return n_ok > 0 ? 0 : 1;
    }

    path = argv[7];
    int hold_s = atoi(argv[8]);
    deadline_s = 120; /* for establishing them all */
    hold_n = count;
    held = calloc((size_t)count, sizeof *held);
    enum { WORKERS = 50 };
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, hold_thread, NULL);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    printf("ready established=%ld errors=%ld seconds=%.2f\n", (long)n_ok, (long)n_err, now_s());
    fflush(stdout);
    double until = now_s() + hold_s;
    while (now_s() < until)
        usleep(200000);
    for (int i = 0; i < count; i++)
        if (held[i])
            close_one(held[i]);
    return 0;
}
