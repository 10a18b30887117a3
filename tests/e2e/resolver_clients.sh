#!/usr/bin/env bash
# tests/e2e/resolver_clients.sh — client bounds (issue 9, item 6):
#  - 1,100 slowloris TCP clients (a byte every 2 s, never a whole query, and a
#    new connection for each one the server closes) must not keep a normal TCP
#    query from being answered, within a few seconds;
#  - a UDP flood of new names from one address must not starve a second client
#    asking for new names too (per-client cap on waiting queries);
#  - the caching forwarder's TCP listener (getdns's upstream, on 127.0.0.1)
#    serves getdns's own connections only: another local client is closed
#    unanswered, while getdns's TCP fallback (a truncated answer) still works.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null # the slow clients need fds

world_extra_records() {
    [ "$1" = secure.world.test. ] && printf '*.wild\tIN\tA\t127.0.0.90\n'
    return 0
}
world_start || exit 1
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.max_waiting_per_client: 32" "proxy.enabled: false"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1

# --- 1. slowloris over TCP ------------------------------------------------------------
python3 tests/e2e/dnsabuse.py slowloris 127.0.0.1 "$DG_DNS_PORT" --conns 1100 --seconds 16 \
    --interval 2 --reconnect >"$WORLD_DIR/slow.out" 2>&1 &
slow_pid=$!
sleep 4
why=
for i in 1 2 3; do # three in a row: one lucky slot is not enough
    t0=$(date +%s%N)
    out=$(dig +tcp +time=8 +tries=1 @127.0.0.1 -p "$DG_DNS_PORT" "www.secure.world.test" A 2>&1)
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "TCP query $i among slow clients: $(dig_rcode "$out") in $ms ms"
    if [ "$(dig_rcode "$out")" != NOERROR ] || [ "$ms" -ge 6000 ]; then
        why="query $i: rcode '$(dig_rcode "$out")' after $ms ms: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
        break
    fi
    sleep 1
done
if [ -z "$why" ]; then
    pass clients_tcp_answered_among_1100_slow_clients
else
    fail clients_tcp_answered_among_1100_slow_clients "$why"
fi
wait "$slow_pid"
slow=$(cat "$WORLD_DIR/slow.out")
echo "slow clients: $slow"
closed=$(sed -n 's/.*closed_by_server=\([0-9]*\).*/\1/p' <<<"$slow")
if [ "${closed:-0}" -ge 1100 ]; then
    pass clients_slow_tcp_clients_cut_off
else
    fail clients_slow_tcp_clients_cut_off "$slow"
fi
out=$(world_dig +tcp @127.0.0.1 -p "$DG_DNS_PORT" www.world.test A)
check clients_tcp_serving_after_slow_clients test "$(dig_rcode "$out")" = NOERROR

# --- 2. a UDP flood from one address, a second client beside it -------------------------
python3 tests/e2e/dnsabuse.py flood 127.0.0.1 "$DG_DNS_PORT" --source 127.0.0.2 --rate 1000 \
    --seconds 12 --prefix f --zone wild.secure.world.test >"$WORLD_DIR/flood.out" 2>&1 &
flood_pid=$!
sleep 2
probe=$(python3 tests/e2e/dnsabuse.py probe 127.0.0.1 "$DG_DNS_PORT" --source 127.0.0.3 \
    --count 20 --timeout 2.5 --prefix p --zone wild.secure.world.test)
wait "$flood_pid"
echo "flood: $(cat "$WORLD_DIR/flood.out"); second client: $probe"
noerror=$(sed -n 's/.*noerror=\([0-9]*\).*/\1/p' <<<"$probe")
if [ "${noerror:-0}" -ge 18 ]; then
    pass clients_udp_flood_does_not_starve_another_client
else
    fail clients_udp_flood_does_not_starve_another_client "$probe"
fi

# --- 3. the forwarder's TCP listener ---------------------------------------------------------
fwd_port=$(ss -Hltnp 2>/dev/null | awk -v pid="pid=$DG_PID," -v dns=":$DG_DNS_PORT" \
    'index($0, pid) && $4 ~ /^127\.0\.0\.1:/ && $4 !~ dns"$" { sub(/.*:/, "", $4); print $4; exit }')
if [ -z "$fwd_port" ]; then
    fail clients_forwarder_refuses_other_local_clients "cannot find the forwarder's port (ss)"
else
    got=$(python3 - "$fwd_port" <<'PY'
import socket, struct, sys, time
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x03www\x05world\x04test\x00" + struct.pack(">HH", 1, 1)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(struct.pack(">H", len(q)) + q)
try:
    data = s.recv(4096)
    print("closed" if data == b"" else "answered")
except socket.timeout:
    print("timeout")
except OSError:
    print("closed")
PY
)
    if [ "$got" = closed ]; then
        pass clients_forwarder_refuses_other_local_clients
    else
        fail clients_forwarder_refuses_other_local_clients "a foreign TCP client of the forwarder got: $got"
    fi
fi
out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +bufsize=4096 big.world.test TXT)
if [ "$(dig_rcode "$out")" = NOERROR ] && [ "$(dig_count "$out" ANSWER TXT)" -ge 20 ]; then
    pass clients_getdns_tcp_to_forwarder_still_works
else
    fail clients_getdns_tcp_to_forwarder_still_works "$(dig_rcode "$out"), $(dig_count "$out" ANSWER TXT) TXT"
fi

if kill -0 "$DG_PID" 2>/dev/null && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORLD_DIR/daneguard.log"; then
    pass clients_daemon_alive_and_clean
else
    fail clients_daemon_alive_and_clean "$(grep -m3 -E 'Sanitizer|runtime error' "$WORLD_DIR/daneguard.log")"
fi
[ "$WORLD_FAILED" -eq 0 ]
