/* resolver/clock_sync.c — is the system clock synchronized (clock_sync.h)? */
#include "clock_sync.h"

#include <stdlib.h>
#include <sys/timex.h>
#include <unistd.h>

#include "log.h"

static int relaxed_now; /* validation without time checks, process-wide */
static int logged_state = -1;
static int hinted;

int clock_sync_is_synchronized(void)
{
    const char *test = getenv(CLOCK_SYNC_TEST_ENV);
    struct timex tx = {0};
    int rc;

    if (test && *test)
        return access(test, F_OK) == 0;
    if (access(CLOCK_SYNC_FILE, F_OK) == 0)
        return 1;
    rc = adjtimex(&tx);
    return rc >= 0 && rc != TIME_ERROR && !(tx.status & STA_UNSYNC);
}

int clock_sync_relaxed(void)
{
    return relaxed_now;
}

int clock_sync_set_relaxed(int relaxed)
{
    int changed = relaxed_now != relaxed;
    relaxed_now = relaxed;
    if (logged_state != relaxed) {
        if (relaxed)
            log_warnx("clock: the system clock is not synchronized: validating DNSSEC without "
                      "signature time checks (dnssec_time_check: after_sync); the proxy refuses "
                      "hosts with DANE records until the clock is synchronized");
        else if (logged_state == 1)
            log_warnx("clock: the system clock is synchronized: DNSSEC signature times are "
                      "checked again; answers validated without them were dropped from the cache");
        logged_state = relaxed;
    }
    return changed;
}

void clock_sync_hint_always(void)
{
    if (hinted)
        return;
    hinted = 1;
    log_warnx("clock: signatures look not yet valid and the system clock is not reported "
              "synchronized: is the clock in the past? DNSSEC signature times are checked "
              "against it (dnssec_time_check: always); on a box without a real-time clock, set "
              "resolver.dnssec_time_check: after_sync");
}
