#!/usr/bin/env bash
# tests/e2e/resolver_reload_load.sh — SIGHUP while lookups are in flight, with an
# upstream that answers garbage (so getdns keeps closing and reopening sockets).
# Regression: getdns 1.6.0 closes some fds twice when a context with failed
# upstreams is destroyed; the second close hit the new forwarder's socket and
# libuv aborted on its epoll_ctl (about one run in three or two before the fix
# in resolver/uvloop.c; the daemon logs each dropped close with -v).
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap
world_start || exit 1
FP=$(world_free_port 127.0.0.1) || exit 1
world_spawn fault python3 tests/e2e/proxy_fault_dns.py garbage 127.0.0.1 "$FP"
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.timeout: 2000" \
    "resolver.upstream_recursive_servers: [{address_data: 127.0.0.1, port: $FP}]"
world_spawn daneguard "${DANEGUARD_BIN:-$PWD/build/daneguard}" -c "$WORLD_DIR/dg.yml"
DG_PID=$WORLD_LAST_PID
world_wait_dns 127.0.0.1 "$DG_DNS_PORT" 10 || true # SERVFAIL counts as an answer
alive=1
for round in $(seq 1 30); do
    pids=()
    for i in 1 2 3 4 5; do
        dig @127.0.0.1 -p "$DG_DNS_PORT" +tries=1 +time=2 "r$round-$i.world.test" A >/dev/null &
        pids+=($!)
        dig @127.0.0.1 -p "$DG_DNS_PORT" +tcp +tries=1 +time=2 "t$round-$i.world.test" A >/dev/null &
        pids+=($!)
    done
    sleep "0.$((RANDOM % 9 + 1))"
    kill -HUP "$DG_PID" 2>/dev/null || { alive=0; break; }
    wait "${pids[@]}" 2>/dev/null
done
sleep 1
if [ "$alive" = 1 ] && kill -0 "$DG_PID" 2>/dev/null; then
    pass reload_under_load_survives
else
    fail reload_under_load_survives "daneguard died: $(tail -3 "$WORLD_DIR/daneguard.log" | tr '\n' ' ')"
fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORLD_DIR/daneguard.log"; then
    fail reload_under_load_no_sanitizer_reports "$(grep -m3 -E 'Sanitizer|runtime error' "$WORLD_DIR/daneguard.log")"
else
    pass reload_under_load_no_sanitizer_reports
fi
[ "$WORLD_FAILED" -eq 0 ]
