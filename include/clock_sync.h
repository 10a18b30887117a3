/* include/clock_sync.h — whether the system clock can be trusted for DNSSEC
 * signature times, and the process-wide state the resolver and the proxy share.
 *
 * A box without a real-time clock (a Raspberry Pi) boots in the past: every
 * signature is "not yet valid", every answer SERVFAILs, and NTP cannot resolve
 * its servers to fix the clock. With `dnssec_time_check: after_sync` the
 * resolver validates without signature time checks while the clock is not
 * synchronized (dnsmasq's --dnssec-timestamp, Unbound's val-override-date),
 * and the proxy refuses hosts with DANE records meanwhile (fail closed).
 *
 * Synchronized means: systemd-timesyncd's flag file exists
 * (/run/systemd/timesync/synchronized), or adjtimex(2) reports the kernel
 * clock synchronized (no STA_UNSYNC, not TIME_ERROR: chrony and ntpd set it).
 * For tests, the environment variable DANEGUARD_CLOCK_SYNC_FILE names a file
 * whose existence alone decides.
 */
#ifndef DANEGUARD_CLOCK_SYNC_H
#define DANEGUARD_CLOCK_SYNC_H

#define CLOCK_SYNC_FILE "/run/systemd/timesync/synchronized"
#define CLOCK_SYNC_TEST_ENV "DANEGUARD_CLOCK_SYNC_FILE"
#define CLOCK_SYNC_POLL_MS 2000 /* how often after_sync looks again */

/* 1 when the system clock is synchronized, 0 when not (see above). */
int clock_sync_is_synchronized(void);

/* Whether DNSSEC is being validated without signature time checks now
 * (some resolver of this process runs with after_sync on an unsynchronized
 * clock). The proxy refuses DANE hosts while it is 1. */
int clock_sync_relaxed(void);

/* Record the resolver's state (relaxed 1 or 0); logs the change once per
 * process (a reload's new resolver repeats nothing). Returns 1 when the state
 * changed. */
int clock_sync_set_relaxed(int relaxed);

/* The clock is unsynchronized, dnssec_time_check is `always`, and an answer
 * failed with signatures not yet valid: say once what to do. */
void clock_sync_hint_always(void);

#endif
