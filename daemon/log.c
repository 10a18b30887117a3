/* daemon/log.c — logging to stderr, one line per event. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int log_verbosity;
static const char *log_progname = "daneguard";
static int log_timestamps;

void log_init(const char *progname, int verbosity)
{
    log_progname = progname;
    log_verbosity = verbosity;
}

void log_set_timestamps(int on)
{
    log_timestamps = on;
}

static void log_vprint(const char *level, const char *fmt, va_list ap, const char *suffix)
{
    char line[1024], stamp[40] = "";
    vsnprintf(line, sizeof line, fmt, ap);
    if (log_timestamps) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(stamp + n, sizeof stamp - n, ".%03ld", ts.tv_nsec / 1000000);
        strftime(stamp + n, sizeof stamp - n, "%z ", &tm);
    }
    if (suffix)
        fprintf(stderr, "%s%s: %s%s: %s\n", stamp, log_progname, level, line, suffix);
    else
        fprintf(stderr, "%s%s: %s%s\n", stamp, log_progname, level, line);
}

void log_warn(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    log_vprint("", fmt, ap, strerror(saved));
    va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vprint("", fmt, ap, NULL);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vprint("", fmt, ap, NULL);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    if (log_verbosity < 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vprint("debug: ", fmt, ap, NULL);
    va_end(ap);
}

void log_trace(const char *fmt, ...)
{
    if (log_verbosity < 2)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vprint("trace: ", fmt, ap, NULL);
    va_end(ap);
}
