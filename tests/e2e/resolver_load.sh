#!/usr/bin/env bash
# tests/e2e/resolver_load.sh — the resolver under load, against real NSD:
#  - an upstream that drops answers (NSD's default response-rate limiting): the
#    trap where Debian's getdns 1.6.0 double-frees when its own timeout fires
#    during a validation-chain query. daneguard must answer every query
#    (SERVFAIL at worst) and stay up;
#  - hundreds of concurrent TCP clients with TCP to the upstream;
#  - then a clean stop: with SANITIZE=1 builds, any ASan/UBSan/LeakSan report
#    in the daemon's log fails the test.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap

san_clean() { # the daemon's log has no sanitizer report
    ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORLD_DIR/daneguard.log"
}

stop_daemon() { # SIGTERM, bounded wait; 0 when it exited by itself
    kill -TERM "$DG_PID" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$DG_PID" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

names_file() { # N: unique names (each needs validation) plus repeated ones
    local n=$1 i
    for ((i = 0; i < n; i++)); do
        case $((i % 4)) in
        0) echo "h$i.secure.world.test A" ;;
        1) echo "www.secure.world.test AAAA" ;;
        2) echo "h$i.world.test TXT" ;;
        3) echo "www.world.test A" ;;
        esac
    done
}

# --- 1. NSD rate limiting drops answers ---------------------------------------
world_start --rrl || exit 1
names_file 3000 >"$WORLD_DIR/names"
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.timeout: 3000"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
out=$(python3 tests/e2e/dnsload.py 127.0.0.1 "$DG_DNS_PORT" --queries 3000 --inflight 20 \
    --names "$WORLD_DIR/names" --timeout 6 --deadline 240)
echo "rrl load: $out"
answered=$(sed -n 's/.*answered=\([0-9]*\).*/\1/p' <<<"$out")
if kill -0 "$DG_PID" 2>/dev/null && [ "${answered:-0}" -eq 3000 ]; then
    pass load_rrl_every_query_answered
else
    fail load_rrl_every_query_answered "$out; alive: $(kill -0 "$DG_PID" 2>/dev/null && echo yes || echo no)"
fi
servfail=$(sed -n 's/.*servfail=\([0-9]*\).*/\1/p' <<<"$out")
noerror=$(sed -n 's/.*noerror=\([0-9]*\).*/\1/p' <<<"$out")
nx=$(sed -n 's/.*nxdomain=\([0-9]*\).*/\1/p' <<<"$out")
# Drops cost retries, not answers: at least 90% still get their real answer
# (half the names exist, half do not).
if [ $((${noerror:-0} + ${nx:-0})) -ge 2700 ]; then
    pass load_rrl_mostly_answered_noerror
else
    fail load_rrl_mostly_answered_noerror "$out"
fi
echo "servfail under rate limiting: ${servfail:-?}"
if world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec www.secure.world.test A | grep -q 'status: NOERROR'; then
    pass load_rrl_still_serving_after
else
    fail load_rrl_still_serving_after "no NOERROR answer after the load"
fi
if stop_daemon && san_clean; then
    pass load_rrl_clean_exit
else
    fail load_rrl_clean_exit "$(grep -m3 -E 'Sanitizer|runtime error' "$WORLD_DIR/daneguard.log")"
fi
DG_PID=
world_stop

# --- 2. hundreds of TCP clients, TCP to the upstream ---------------------------------
world_start || exit 1
names_file 2000 >"$WORLD_DIR/names"
# 1,500 distinct names arrive at once: give the burst time to validate, also
# under the sanitizers (this checks concurrency and stability, not speed).
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.dns_transport_list: [TCP]" "resolver.timeout: 10000"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
out=$(python3 tests/e2e/dnsload.py 127.0.0.1 "$DG_DNS_PORT" --queries 3000 --tcp-clients 300 \
    --names "$WORLD_DIR/names" --timeout 20 --deadline 240)
echo "tcp load: $out"
answered=$(sed -n 's/.*answered=\([0-9]*\).*/\1/p' <<<"$out")
noerror=$(sed -n 's/.*noerror=\([0-9]*\).*/\1/p' <<<"$out")
nx=$(sed -n 's/.*nxdomain=\([0-9]*\).*/\1/p' <<<"$out")
if kill -0 "$DG_PID" 2>/dev/null && [ "${answered:-0}" -eq 3000 ] &&
    [ $((${noerror:-0} + ${nx:-0})) -eq 3000 ]; then
    pass load_tcp_300_clients_tcp_upstream
else
    fail load_tcp_300_clients_tcp_upstream "$out"
fi
if stop_daemon && san_clean; then
    pass load_tcp_clean_exit
else
    fail load_tcp_clean_exit "$(grep -m3 -E 'Sanitizer|runtime error' "$WORLD_DIR/daneguard.log")"
fi
DG_PID=
[ "$WORLD_FAILED" -eq 0 ]
