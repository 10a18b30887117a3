#!/usr/bin/env bash
# tests/e2e/resolver_clock.sh — a box that boots with the wrong clock (issue 11).
# The sync state comes from a test file (DANEGUARD_CLOCK_SYNC_FILE: the clock
# counts as synchronized iff it exists). The world's expired.world.test zone
# is signed with signatures that ended in 2020, which is what every signature
# looks like to a clock on the wrong side of its validity.
#   always       → SERVFAIL for the expired zone, however the clock is
#   after_sync, unsynchronized → answered (AD), said in the log once and on
#                the status page; the proxy refuses a DANE host with the
#                clock page (fail closed)
#   the file appears (clock synchronized) → normal validation within a bounded
#                time, no restart; the warning leaves the status page
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap
world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    echo "_443._tcp.www IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
}
world_start || exit 1
SYNC=$WORLD_DIR/clock-synchronized
export DANEGUARD_CLOCK_SYNC_FILE=$SYNC
rm -f "$SYNC"

q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=4 +tries=1 +dnssec "$@"; }
brief() { echo "$(dig_rcode "$1") flags: $(dig_flags "$1") ede: $(dig_ede "$1")"; }
# the status page's resolver warnings, one a line
status_notes() {
    curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/status.json" |
        python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin).get("resolver_notes", [])))'
}
dane_page() {
    curl -sS --max-time 15 -x "http://127.0.0.1:$DG_PROXY_PORT" --cacert "$WORLD_DIR/ca/ca.crt" \
        "https://www.secure.world.test/" 2>&1
}

# --- always: signature times checked whatever the clock says -------------------
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.dnssec_time_check: always"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
out=$(q www.expired.world.test A)
if [ "$(dig_rcode "$out")" = SERVFAIL ]; then
    pass always_expired_servfail
else
    fail always_expired_servfail "$(brief "$out")"
fi
page=$(dane_page)
if ! grep -q "clock is not synchronized" <<<"$page"; then
    pass always_no_clock_page
else
    fail always_no_clock_page "the clock page with dnssec_time_check: always"
fi
world_daneguard_stop

# --- after_sync, unsynchronized ------------------------------------------------
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.dnssec_time_check: after_sync"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
out=$(q www.expired.world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad &&
    grep -q 127.0.0.80 <<<"$(dig_answer "$out")"; then
    pass unsynced_answers_without_time_checks
else
    fail unsynced_answers_without_time_checks "$(brief "$out")"
fi
out=$(q www.secure.world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad; then
    pass unsynced_secure_still_validated
else
    fail unsynced_secure_still_validated "$(brief "$out")"
fi
out=$(q www.bogus.world.test A)
if [ "$(dig_rcode "$out")" = SERVFAIL ]; then
    pass unsynced_bad_signature_still_bogus
else
    fail unsynced_bad_signature_still_bogus "$(brief "$out")"
fi
n=$(grep -c "clock is not synchronized" "$WORLD_DIR/daneguard.log")
if [ "$n" -eq 1 ]; then
    pass unsynced_logged_once
else
    fail unsynced_logged_once "$n log lines"
fi
if status_notes | grep -q "clock is not synchronized"; then
    pass unsynced_on_status_page
else
    fail unsynced_on_status_page "$(status_notes | head -c 300)"
fi
page=$(dane_page)
if grep -q "clock is not synchronized" <<<"$page"; then
    pass unsynced_proxy_refuses_dane_host
else
    fail unsynced_proxy_refuses_dane_host "$(head -c 300 <<<"$page")"
fi

# --- the clock synchronizes: normal validation within bounded time -----------------
touch "$SYNC"
ok=0
for ((i = 0; i < 20; i++)); do
    sleep 0.5
    out=$(q www.expired.world.test A)
    if [ "$(dig_rcode "$out")" = SERVFAIL ]; then
        ok=1
        break
    fi
done
if [ "$ok" = 1 ]; then
    pass synced_normal_validation_resumes
else
    fail synced_normal_validation_resumes "after 10 s: $(brief "$out")"
fi
if grep -q "clock is synchronized" "$WORLD_DIR/daneguard.log"; then
    pass synced_logged
else
    fail synced_logged "no log line"
fi
if ! status_notes | grep -q "clock is not synchronized"; then
    pass synced_status_page_clear
else
    fail synced_status_page_clear "the warning is still shown"
fi
page=$(dane_page)
if ! grep -q "clock is not synchronized" <<<"$page"; then
    pass synced_no_clock_page
else
    fail synced_no_clock_page "the clock page after the sync"
fi
out=$(q www.secure.world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad; then
    pass synced_secure_validated
else
    fail synced_secure_validated "$(brief "$out")"
fi

# --- a clock in the past (faketime): every signature "not yet valid" ----------------
# The box booted a year in the past: with always, SERVFAIL with EDE 8 and a
# log line that says what to do; with after_sync (not synchronized), answers;
# synchronized, SERVFAIL again. libfaketime cannot preload into an ASan build.
REAL_BIN=${DANEGUARD_BIN:-$PWD/build/daneguard}
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
if [ -z "$FAKETIME_LIB" ]; then
    skip past_clock "faketime is not installed (Debian package faketime)"
elif ldd "$REAL_BIN" 2>/dev/null | grep -q libasan; then
    skip past_clock "faketime cannot preload into a sanitizer build"
else
    world_daneguard_stop
    # libfaketime preloaded into daneguard itself (the faketime program forks:
    # stopping it would leave daneguard running)
    printf '#!/bin/sh\nLD_PRELOAD=%s FAKETIME=-365d FAKETIME_DONT_FAKE_MONOTONIC=1 exec "%s" "$@"\n' \
        "$FAKETIME_LIB" "$REAL_BIN" >"$WORLD_DIR/dg-past"
    chmod +x "$WORLD_DIR/dg-past"
    saved_bin=${DANEGUARD_BIN:-}
    export DANEGUARD_BIN=$WORLD_DIR/dg-past
    # a CA of its own: the real one is not valid a year ago
    mkdir -p "$WORLD_DIR/ca-past"
    past_ca="proxy.ca_dir: \"$WORLD_DIR/ca-past\""
    world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.dnssec_time_check: always" "$past_ca"
    rm -f "$SYNC"
    world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
    out=$(q www.secure.world.test A)
    if [ "$(dig_rcode "$out")" = SERVFAIL ] && [ "$(dig_ede "$out")" = 8 ]; then
        pass past_always_servfail_not_yet_valid
    else
        fail past_always_servfail_not_yet_valid "$(brief "$out")"
    fi
    if grep -q "is the clock in the past.*after_sync" "$WORLD_DIR/daneguard.log"; then
        pass past_always_hint_logged
    else
        fail past_always_hint_logged "no hint in the log"
    fi
    world_daneguard_stop
    world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.dnssec_time_check: after_sync" "$past_ca"
    world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
    out=$(q www.secure.world.test A)
    if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad; then
        pass past_after_sync_answers
    else
        fail past_after_sync_answers "$(brief "$out")"
    fi
    touch "$SYNC"
    ok=0
    for ((i = 0; i < 20; i++)); do
        sleep 0.5
        out=$(q www.secure.world.test A)
        if [ "$(dig_rcode "$out")" = SERVFAIL ] && [ "$(dig_ede "$out")" = 8 ]; then
            ok=1
            break
        fi
    done
    [ "$ok" = 1 ] && pass past_synced_checks_times_again ||
        fail past_synced_checks_times_again "after 10 s: $(brief "$out")"
    if [ -n "$saved_bin" ]; then export DANEGUARD_BIN=$saved_bin; else unset DANEGUARD_BIN; fi
fi

# every run of daneguard appended to its log: no sanitizer report in any
world_daneguard_stop
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORLD_DIR/daneguard.log"; then
    fail no_sanitizer_report "$(grep -m1 -A4 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORLD_DIR/daneguard.log" | tr '\n' ' ' | head -c 600)"
else
    pass no_sanitizer_report
fi
[ "$WORLD_FAILED" -eq 0 ]
