/* include/log.h — logging to stderr, one line per event (journald picks it up).
 *
 * log_warn() appends strerror(errno); log_warnx() does not. log_debug() prints
 * only at verbosity >= 1 (-v), log_trace() at >= 2 (-vv).
 */
#ifndef DANEGUARD_LOG_H
#define DANEGUARD_LOG_H

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

extern int log_verbosity;

void log_init(const char *progname, int verbosity);
/* Prefix each line with the local time (RFC 3339, milliseconds): the daemon
 * turns this on when stderr is not journald's (no JOURNAL_STREAM), which adds
 * its own. */
void log_set_timestamps(int on);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_trace(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
