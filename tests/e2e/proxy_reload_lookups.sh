#!/usr/bin/env bash
# tests/e2e/proxy_reload_lookups.sh — reload without tearing down lookups
# (issue 10): a CONNECT whose lookups are in flight when daneguard reloads
# finishes on the resolver it started on.
#
# The tampering relay drops every query for slow.secure.world.test (A, AAAA
# and the TLSA at _P._tcp.slow), so its lookups stay in flight (the resolver
# retries). Meanwhile the configuration is reloaded with an upstream that
# never answers (a UDP port with nothing behind it); only then does the relay
# let the queries through. Lookups cancelled and started again on the new
# resolver (as before) would fail there, and the CONNECT would be refused;
# lookups that finish where they started get their answers at the resolver's
# next retry, and the CONNECT is intercepted with "DANE ok" after the reload. A request
# made after the reload uses the new resolver (and fails closed), and a
# reload back to the relay works again. Run it with BUILD=build-san too: the
# old resolver must live exactly as long as its last lookup.
# Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

P=$(pick_port); ports+=("$P")

WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf slow slow.secure.world.test ec && pki_leaf after after.secure.world.test ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H_SLOW=$(spki_sha256 "$PKI/slow.pem")
WORLD_DIR=

world_extra_records() {
    case $1 in
    secure.world.test.)
        echo "slow IN A 127.0.0.80"
        echo "_$P._tcp.slow IN TLSA 3 1 1 $H_SLOW"
        echo "after IN A 127.0.0.80"
        echo "_$P._tcp.after IN TLSA 3 1 1 $H_SLOW"
        ;;
    esac
}

world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
world_relay_start || { fail relay_start "the relay did not start"; exit 1; }
out=$WORLD_DIR/out
mkdir -p "$out"

# An upstream that never answers: a UDP socket nobody reads, held open here.
DEAD_ADDR=127.0.0.1
DEAD_PORT=$(world_free_port "$DEAD_ADDR") || { fail dead_port "no free port"; exit 1; }
world_spawn dead timeout 900 /usr/bin/python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$DEAD_ADDR', $DEAD_PORT))
time.sleep(900)"

CFG=$WORLD_DIR/dg.yml
base_cfg=(
    "proxy.allowed_ports: [$P]"
    "proxy.trust_store: \"$PKI/bundle.pem\""
    "proxy.handshake_timeout: 15000"
    "resolver.timeout: 12000"
)
world_daneguard_config "$CFG" "${base_cfg[@]}"
world_daneguard_start "$CFG" -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt
origin_sserver o_slow 127.0.0.80 "$P" slow || { fail origin "the origin did not start"; exit 1; }
LOG=$WORLD_DIR/daneguard.log

# The secure zone's keys in the cache, so that only slow's own lookups wait.
world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec www.secure.world.test A >/dev/null

# (the name and everything below it: its A, AAAA and _P._tcp TLSA)
world_relay_rules '[{"qname":"*.slow.secure.world.test.","action":"drop"}]'
: >"$WORLD_RELAY_LOG"
PCURL_TIME=40 pcurl --cacert "$DGCA" -o "$out/slow.body" -w '%{http_code}' \
    "https://slow.secure.world.test:$P/" >"$out/slow.code" 2>"$out/slow.err" &
CURL_PID=$!

# Once the relay has seen the TLSA question, the lookups are in flight.
for ((i = 0; i < 100; i++)); do
    [ "$(world_relay_count "_$P._tcp.slow.secure.world.test.* TLSA")" -gt 0 ] && break
    sleep 0.05
done
[ "$(world_relay_count "_$P._tcp.slow.secure.world.test.* TLSA")" -gt 0 ] ||
    fail lookups_in_flight "the relay saw no TLSA query for slow"
reload_to reload_dead_upstream "resolver.timeout: 3000" \
    "resolver.upstream_recursive_servers: [{address_data: $DEAD_ADDR, port: $DEAD_PORT}]"
reloaded_at=$(grep -n 'reloaded ' "$LOG" | tail -1 | cut -d: -f1)
world_relay_rules '[]' # the old resolver's next attempt gets through

wait "$CURL_PID"
code=$(cat "$out/slow.code")
if [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/slow.body"; then
    pass lookup_in_flight_completes_across_reload
else
    fail lookup_in_flight_completes_across_reload \
        "code=$code $(head -c 300 "$out/slow.err") $(grep "slow.secure.world.test:$P" "$LOG" | tail -2 | tr '\n' ' ')"
fi
verdict_at=$(grep -n "slow.secure.world.test:$P: intercepted: DANE ok" "$LOG" | head -1 | cut -d: -f1)
if [ -n "$verdict_at" ] && [ -n "$reloaded_at" ] && [ "$verdict_at" -gt "$reloaded_at" ]; then
    pass verdict_after_reload_on_old_resolver
else
    fail verdict_after_reload_on_old_resolver "reloaded at line ${reloaded_at:-?}, DANE ok at line ${verdict_at:-none}"
fi

# A request after the reload asks the new resolver, whose upstream is dead:
# refused (fail closed), never the origin.
code=$(PCURL_TIME=30 pcurl --cacert "$DGCA" -o "$out/after.body" -w '%{http_code}' \
    "https://after.secure.world.test:$P/" 2>"$out/after.err")
if grep -q "$S_SERVER_PAGE" "$out/after.body" 2>/dev/null; then
    fail new_request_uses_new_resolver "after the reload, after.secure.world.test reached the origin"
elif grep -q "after.secure.world.test:$P: \(refused\|failed\)" "$LOG"; then
    pass new_request_uses_new_resolver
else
    fail new_request_uses_new_resolver "code=$code, no refusal logged"
fi

if reload_to reload_back_to_relay; then
    code=$(pcurl --cacert "$DGCA" -o "$out/back.body" -w '%{http_code}' \
        "https://slow.secure.world.test:$P/" 2>"$out/back.err")
    [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/back.body" && pass works_after_reload_back ||
        fail works_after_reload_back "code=$code $(head -c 200 "$out/back.err")"
fi
dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
