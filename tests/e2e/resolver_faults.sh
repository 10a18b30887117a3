#!/usr/bin/env bash
# tests/e2e/resolver_faults.sh — the resolver's upstream misbehaving: answering
# garbage, answering slowly, answering too slowly. daneguard answers SERVFAIL
# within its timeout, never hangs or crashes, and recovers when pointed back at
# a sane upstream with SIGHUP. (Stopping and restarting the upstream is in
# resolver.sh; the proxy's side of the same faults is in proxy_faults.sh.)
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap
world_start || exit 1

FAULT_ADDR=127.0.0.1
FAULT_PORT=$(world_free_port "$FAULT_ADDR") || exit 1
TIMEOUT_MS=2000

# config_for UPSTREAM_ADDR UPSTREAM_PORT: (re)write the daemon's config file.
config_for() {
    world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.timeout: $TIMEOUT_MS" \
        "resolver.upstream_recursive_servers: [{address_data: $1, port: $2}]"
}

# timed CMD...: run CMD; its output in $OUT, how long it took in $ms (ms).
timed() {
    local t0=$EPOCHREALTIME
    OUT=$("$@" 2>&1)
    ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
}

alive() { kill -0 "$DG_PID" 2>/dev/null; }

# --- garbage ----------------------------------------------------------------------
world_spawn fault python3 tests/e2e/proxy_fault_dns.py garbage "$FAULT_ADDR" "$FAULT_PORT"
FAULT_PID=$WORLD_LAST_PID
config_for "$FAULT_ADDR" "$FAULT_PORT"
world_spawn daneguard "${DANEGUARD_BIN:-$PWD/build/daneguard}" -c "$WORLD_DIR/dg.yml"
DG_PID=$WORLD_LAST_PID
sleep 1
timed dig @127.0.0.1 -p "$DG_DNS_PORT" +tries=1 +time=6 +dnssec www.secure.world.test A
if alive && [ "$(dig_rcode "$OUT")" = SERVFAIL ] && [ "$ms" -le $((TIMEOUT_MS + 1000)) ]; then
    pass garbage_upstream_servfail_in_time
else
    fail garbage_upstream_servfail_in_time "$(dig_rcode "$OUT") after $ms ms, alive: $(alive && echo yes || echo no)"
fi
out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=5 +tcp www.world.test A)
if alive && [ "$(dig_rcode "$out")" = SERVFAIL ]; then
    pass garbage_upstream_tcp_client_servfail
else
    fail garbage_upstream_tcp_client_servfail "$(dig_rcode "$out")"
fi
world_kill "$FAULT_PID"

# --- slow, within the timeout: answers, validated -------------------------------------
world_spawn fault python3 tests/e2e/proxy_fault_dns.py slow "$FAULT_ADDR" "$FAULT_PORT" 150 \
    "$WORLD_NS_ADDR" "$WORLD_NS_PORT"
FAULT_PID=$WORLD_LAST_PID
config_for "$FAULT_ADDR" "$FAULT_PORT"
kill -HUP "$DG_PID"
sleep 1
timed dig @127.0.0.1 -p "$DG_DNS_PORT" +tries=1 +time=6 +dnssec www.secure.world.test A
if dig_has_flag "$OUT" ad && [ "$(dig_rcode "$OUT")" = NOERROR ]; then
    pass slow_upstream_still_validates
else
    fail slow_upstream_still_validates "$(dig_rcode "$OUT") $(dig_flags "$OUT") after $ms ms"
fi
world_kill "$FAULT_PID"

# --- slower than the timeout: SERVFAIL in time, not a hang ------------------------
world_spawn fault python3 tests/e2e/proxy_fault_dns.py slow "$FAULT_ADDR" "$FAULT_PORT" 4000 \
    "$WORLD_NS_ADDR" "$WORLD_NS_PORT"
FAULT_PID=$WORLD_LAST_PID
sleep 0.5
timed dig @127.0.0.1 -p "$DG_DNS_PORT" +tries=1 +time=8 +dnssec www.insecure.world.test AAAA
if alive && [ "$(dig_rcode "$OUT")" = SERVFAIL ] && [ "$ms" -le $((TIMEOUT_MS + 1000)) ]; then
    pass too_slow_upstream_servfail_in_time
else
    fail too_slow_upstream_servfail_in_time "$(dig_rcode "$OUT") after $ms ms"
fi
if grep -q "EDE: 22" <<<"$OUT"; then
    pass too_slow_upstream_ede22
else
    fail too_slow_upstream_ede22 "no EDE 22 (No Reachable Authority) in the answer"
fi
world_kill "$FAULT_PID"

# --- recovery: back to NSD with SIGHUP ---------------------------------------------
config_for "$WORLD_NS_ADDR" "$WORLD_NS_PORT"
kill -HUP "$DG_PID"
sleep 1
out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec www.secure.world.test AAAA)
if alive && dig_has_flag "$out" ad; then
    pass recovers_after_reload
else
    fail recovers_after_reload "$(dig_rcode "$out") $(dig_flags "$out")"
fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORLD_DIR/daneguard.log"; then
    fail no_sanitizer_reports "$(grep -m3 -E 'Sanitizer|runtime error' "$WORLD_DIR/daneguard.log")"
else
    pass no_sanitizer_reports
fi
[ "$WORLD_FAILED" -eq 0 ]
