#!/usr/bin/env bash
# tests/e2e/resolver_fdlimit.sh — the resolver and the open-file limit (issue 9,
# item 2). With BUILD=build-san (tests/run.sh) the daemon is the ASan/UBSan one.
#  - started with a soft limit of 1,024 under a higher hard one, it raises the
#    soft limit to the hard one (/proc/PID/limits);
#  - started with both at 1,024, a burst of 3,000 new names (each a lookup with
#    its validation queries) must not crash it (getdns 1.6.0 used to leave a
#    freed request on its pending list when a socket() failed with EMFILE and
#    the request was cancelled): it stays up, answers afterwards, logs the caps
#    it fitted to the limit, and stops cleanly with no sanitizer report.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap

bin=${DANEGUARD_BIN:-$PWD/${BUILD:-build}/daneguard}
san_clean() { ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORLD_DIR/daneguard.log"; }
stop_daemon() { # SIGTERM, bounded wait; 0 when it exited by itself
    kill -TERM "$DG_PID" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$DG_PID" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}
# A wrapper that starts daneguard under a limit ("-Sn 1024": soft only; "-n 1024": both).
limit_wrapper() {
    printf '#!/bin/sh\nulimit %s || exit 1\nexec %s "$@"\n' "$1" "$bin" >"$WORLD_DIR/dg-limited"
    chmod +x "$WORLD_DIR/dg-limited"
}
soft_limit_of() { awk '/^Max open files/ { print $4 }' "/proc/$1/limits"; }
hard_limit_of() { awk '/^Max open files/ { print $5 }' "/proc/$1/limits"; }

world_extra_records() {
    [ "$1" = secure.world.test. ] && printf '*.wild\tIN\tA\t127.0.0.90\n'
    return 0
}
world_start || exit 1
for ((i = 0; i < 3000; i++)); do echo "n$i.wild.secure.world.test A"; done >"$WORLD_DIR/names"

# --- 1. the soft limit goes up to the hard one ------------------------------------------
hard=$(ulimit -Hn)
limit_wrapper "-Sn 1024"
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.timeout: 5000"
DANEGUARD_BIN=$WORLD_DIR/dg-limited world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
soft=$(soft_limit_of "$DG_PID")
echo "hard limit $hard; daneguard's soft limit $soft"
if [ "$hard" = unlimited ] || [ "$hard" -le 1024 ]; then
    skip fdlimit_soft_raised_to_hard "hard limit $hard leaves nothing to raise"
elif [ "$soft" = "$(hard_limit_of "$DG_PID")" ] && [ "$soft" != 1024 ]; then
    pass fdlimit_soft_raised_to_hard
else
    fail fdlimit_soft_raised_to_hard "soft $soft, hard $(hard_limit_of "$DG_PID")"
fi
world_daneguard_stop

# --- 2. both at 1,024: a burst of new names ------------------------------------------------
limit_wrapper "-n 1024"
: >"$WORLD_DIR/daneguard.log"
DANEGUARD_BIN=$WORLD_DIR/dg-limited world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
echo "daneguard's limits: soft $(soft_limit_of "$DG_PID"), hard $(hard_limit_of "$DG_PID")"
out=$(python3 tests/e2e/dnsload.py 127.0.0.1 "$DG_DNS_PORT" --queries 3000 --inflight 3000 \
    --names "$WORLD_DIR/names" --timeout 8 --deadline 30)
echo "burst: $out"
if kill -0 "$DG_PID" 2>/dev/null; then
    pass fdlimit_burst_survived
else
    fail fdlimit_burst_survived "daneguard died: $(grep -m3 -E 'ERROR|SEGV|Sanitizer' "$WORLD_DIR/daneguard.log")"
fi
ok=0
for _ in $(seq 1 15); do # the burst's lookups may still be finishing
    out=$(world_dig +dnssec @127.0.0.1 -p "$DG_DNS_PORT" after.wild.secure.world.test A)
    if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad; then
        ok=1
        break
    fi
    sleep 1
done
if [ "$ok" = 1 ]; then
    pass fdlimit_answers_after_burst
else
    fail fdlimit_answers_after_burst "$(dig_rcode "$out") $(dig_flags "$out")"
fi
if grep -q 'open-file limit 1024: at most' "$WORLD_DIR/daneguard.log" &&
    grep -q 'proxy.max_connections 1024 lowered to' "$WORLD_DIR/daneguard.log"; then
    pass fdlimit_caps_fitted_and_logged
else
    fail fdlimit_caps_fitted_and_logged "no cap lines in the log"
fi
if stop_daemon && san_clean; then
    pass fdlimit_clean_exit
else
    fail fdlimit_clean_exit "$(grep -m3 -E 'Sanitizer|runtime error|SEGV' "$WORLD_DIR/daneguard.log")"
fi
_world_forget_pid "$DG_PID"
DG_PID=
[ "$WORLD_FAILED" -eq 0 ]
