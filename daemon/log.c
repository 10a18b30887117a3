/* daemon/log.c — logging to stderr, one line per event. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int log_verbosity;
static const char *log_progname = "daneguard";

void log_init(const char *progname, int verbosity)
{
    log_progname = progname;
    log_verbosity = verbosity;
}

static void log_vprint(const char *level, const char *fmt, va_list ap, const char *suffix)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    if (suffix)
        fprintf(stderr, "%s: %s%s: %s\n", log_progname, level, line, suffix);
    else
        fprintf(stderr, "%s: %s%s\n", log_progname, level, line);
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
