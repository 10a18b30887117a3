/* proxy/ca_file.c — the local CA's files: read whole and bounded, written
 * atomically with their mode, and the CA directory created. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "ca_private.h"

int ca_file_read_fd(int fd, unsigned char **out, size_t *out_len)
{
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap + 1), *nbuf;
    ssize_t n;

    if (!buf)
        return CA_ENOMEM;
    for (;;) {
        if (len == cap) {
            if (cap >= CA_FILE_MAX) {
                free(buf);
                return CA_EIO;
            }
            cap *= 2;
            if (!(nbuf = malloc(cap + 1))) {
                mbedtls_platform_zeroize(buf, len);
                free(buf);
                return CA_ENOMEM;
            }
            memcpy(nbuf, buf, len);
            mbedtls_platform_zeroize(buf, len);
            free(buf);
            buf = nbuf;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return CA_EIO;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0; /* mbedTLS's PEM parsers want the NUL counted */
    *out = buf;
    *out_len = len;
    return 0;
}

int ca_file_read(const char *path, unsigned char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), ret;
    if (fd < 0)
        return CA_EIO;
    ret = ca_file_read_fd(fd, out, out_len);
    close(fd);
    return ret;
}

/* dir/name gets data with mode: written to a temporary file in dir, flushed,
 * renamed over, and the directory flushed, so a crash leaves old or new. */
int ca_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                         mode_t mode, char *err, size_t errlen)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    const unsigned char *p = data;
    int fd, dfd;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name) >= sizeof tmp ||
        (size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        ca_errf(err, errlen, "%s: path too long", dir);
        return CA_EINVAL;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) { /* created 0600 */
        ca_errf(err, errlen, "%s: %s", tmp, strerror(errno));
        return CA_EIO;
    }
    if (fchmod(fd, mode) != 0)
        goto fail;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
fail:
    ca_errf(err, errlen, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return CA_EIO;
}

/* 1 when path exists (as anything: lstat), 0 when it does not (ENOENT), or
 * -1 with "PATH: cannot tell whether it exists: <strerror>" in err. */
int ca_file_present(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    ca_errf(err, errlen,
            "%s: %s (as uid %u): cannot tell whether a CA is there, so no new one is made; make "
            "the directory readable by daneguard's user",
            path, strerror(errno), (unsigned)geteuid());
    return -1;
}

/* mkdir -p with mode 0700 for every directory it creates. */
int ca_file_make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t i, n = strlen(dir);
    struct stat st;

    if (n == 0 || n >= sizeof path) {
        ca_errf(err, errlen, "CA directory name is empty or too long");
        return CA_EINVAL;
    }
    memcpy(path, dir, n + 1);
    for (i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            ca_errf(err, errlen, "%s: %s", path, strerror(errno));
            return CA_EIO;
        }
        path[i] = i < n ? '/' : '\0';
    }
    if (stat(dir, &st) != 0) {
        ca_errf(err, errlen, "%s: %s", dir, strerror(errno));
        return CA_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        ca_errf(err, errlen, "%s: not a directory", dir);
        return CA_EIO;
    }
    return 0;
}
