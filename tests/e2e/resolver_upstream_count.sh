#!/usr/bin/env bash
# tests/e2e/resolver_upstream_count.sh — validated DNSKEY and DS sets are kept:
# once the chain to a zone is known, a new name in it costs about one upstream
# query (getdns alone asks the whole chain again for every name). A counting
# relay (tests/bench/relay.py) sits between daneguard and NSD.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap
N=60
world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    for ((i = 1; i <= N; i++)); do echo "c$i IN A 127.0.0.1"; done
}
world_start || exit 1
RELAY_PORT=$(world_free_port 127.0.0.1) || exit 1
world_spawn relay python3 tests/bench/relay.py 127.0.0.1 "$RELAY_PORT" "$WORLD_NS_ADDR" \
    "$WORLD_NS_PORT" "$WORLD_DIR/count"
world_wait_dns 127.0.0.1 "$RELAY_PORT" 10 || { fail relay_up "the relay does not answer"; exit 1; }
world_daneguard_config "$WORLD_DIR/dg.yml" \
    "resolver.upstream_recursive_servers: [{address_data: 127.0.0.1, port: $RELAY_PORT}]"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1

count() { sleep 0.6; read -r udp tcp <"$WORLD_DIR/count"; echo $((udp + tcp)); }

# Warm the chain: the first name pays for the DNSKEY and DS sets on the way.
world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec www.secure.world.test A >/dev/null
before=$(count)
ok=0
for ((i = 1; i <= N; i++)); do
    out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec "c$i.secure.world.test" A)
    dig_has_flag "$out" ad && ok=$((ok + 1))
done
after=$(count)
per=$(awk -v a="$after" -v b="$before" -v n="$N" 'BEGIN { printf "%.2f", (a - b) / n }')
echo "upstream queries for $N new validated names: $((after - before)) ($per per name)"
if [ "$ok" -eq "$N" ]; then
    pass new_names_all_validated
else
    fail new_names_all_validated "$ok of $N answers had AD"
fi
if [ $((after - before)) -le $((N + N / 5)) ]; then
    pass about_one_upstream_query_per_new_name
else
    fail about_one_upstream_query_per_new_name "$((after - before)) upstream queries for $N names ($per each)"
fi
[ "$WORLD_FAILED" -eq 0 ]
