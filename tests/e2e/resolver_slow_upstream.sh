#!/usr/bin/env bash
# tests/e2e/resolver_slow_upstream.sh — a slow upstream is slow, not dead
# (issue 9, item 4). The tampering relay (tests/world/dnsrelay.py) delays every
# answer: over UDP 800 ms, over TCP (both through the caching forwarder, TCP on
# its kept-open connection) 1,200 ms. daneguard must answer within its timeout,
# keep earlier attempts listening instead of cancelling them, and send one
# upstream query for a burst of identical new queries.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap

TIMEOUT_MS=5000     # over TCP
UDP_TIMEOUT_MS=8000 # over UDP: the forwarder retransmits after at most a quarter of it
UDP_WITHIN_MS=4000  # what "well within the timeout" means here
world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    for i in $(seq 1 30); do echo "n$i IN A 127.0.1.$i"; done
}
WORLD_EXTRA_CHILDREN="burst:secure"
world_start || exit 1
world_relay_start || exit 1

# timed CMD...: run CMD; its output in $OUT, how long it took in $ms (ms).
timed() {
    local t0=$EPOCHREALTIME
    OUT=$("$@" 2>&1)
    ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
}
q() { dig @127.0.0.1 -p "$DG_DNS_PORT" +tries=1 +time=8 +dnssec "$@"; }
secure_ok() {
    [ "$(dig_rcode "$1")" = NOERROR ] && dig_has_flag "$1" ad && [ -n "$(dig_answer "$1")" ]
}
brief() { echo "$(dig_rcode "$1") flags: $(dig_flags "$1") ede: $(dig_ede "$1")"; }
relay_lines() { wc -l <"$WORLD_RELAY_LOG"; }

# --- UDP through the forwarder, 800 ms per upstream answer ---------------------
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.timeout: $UDP_TIMEOUT_MS"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1
world_relay_rules '[{"qname":"*","action":"delay","ms":800}]'
timed q www.secure.world.test A
if secure_ok "$OUT" && [ "$ms" -le "$UDP_WITHIN_MS" ]; then
    pass udp_800ms_upstream_answers
else
    fail udp_800ms_upstream_answers "$(brief "$OUT") after $ms ms (timeout $UDP_TIMEOUT_MS)"
fi
echo "udp, 800 ms delay: www.secure.world.test A answered in $ms ms"
ok=0
for i in 1 2 3; do
    timed q "n$i.secure.world.test" A
    secure_ok "$OUT" && [ "$ms" -le "$UDP_WITHIN_MS" ] && ok=$((ok + 1))
done
if [ "$ok" -eq 3 ]; then
    pass udp_800ms_new_names_answer
else
    fail udp_800ms_new_names_answer "$ok of 3 new names answered with AD in time"
fi

# A burst of 20 identical new queries, several clients at once: one upstream
# query for the name, however long the upstream takes.
pids=()
for i in $(seq 1 20); do
    q n20.secure.world.test A >"$WORLD_DIR/burst.$i" &
    pids+=($!)
done
wait "${pids[@]}"
ok=0
for i in $(seq 1 20); do
    secure_ok "$(cat "$WORLD_DIR/burst.$i")" && ok=$((ok + 1))
done
n=$(world_relay_count '^udp n20\.secure\.world\.test\. A ')
echo "burst of 20 identical queries: $n upstream queries, $ok answered with AD"
if [ "$ok" -eq 20 ] && [ "$n" -eq 1 ]; then
    pass burst_of_identical_queries_one_upstream_query
else
    fail burst_of_identical_queries_one_upstream_query "$n upstream queries, $ok of 20 with AD"
fi
# 20 different new names of a zone whose keys are not cached yet, at once:
# every validation needs the zone's DNSKEY set; it is asked for once (twice
# when the answer came later than the retransmit timeout, as it may on a
# loaded machine; without the sharing it is asked for about 20 times).
pids=()
for i in $(seq 1 20); do
    if ((i % 2)); then t=A; else t=AAAA; fi
    q "www.burst.world.test" $t >/dev/null &
    pids+=($!)
    q "x$i.burst.world.test" A >/dev/null &
    pids+=($!)
done
wait "${pids[@]}"
n=$(world_relay_count '^udp burst\.world\.test\. DNSKEY ')
echo "40 concurrent lookups in a new zone: $n upstream DNSKEY queries"
if [ "$n" -ge 1 ] && [ "$n" -le 2 ]; then
    pass concurrent_lookups_share_one_dnskey_query
else
    fail concurrent_lookups_share_one_dnskey_query "$n DNSKEY queries for burst.world.test"
fi
world_daneguard_stop

# --- TCP (the forwarder's kept-open connection), 1,200 ms per answer -------------
world_relay_rules '[{"qname":"*","action":"delay","ms":1200}]'
DG_DNS_PORT=
world_daneguard_config "$WORLD_DIR/dg-tcp.yml" "resolver.timeout: $TIMEOUT_MS" \
    "resolver.dns_transport_list: [TCP]"
world_daneguard_start "$WORLD_DIR/dg-tcp.yml" || exit 1
sleep 3 # whatever the start-up probe left running
before=$(relay_lines)
timed q n25.secure.world.test A
after=$(relay_lines)
echo "tcp, 1200 ms delay: n25.secure.world.test A: $(brief "$OUT") in $ms ms, $((after - before)) upstream queries"
if secure_ok "$OUT" && [ "$ms" -lt "$TIMEOUT_MS" ]; then
    pass tcp_1200ms_upstream_answers
else
    fail tcp_1200ms_upstream_answers "$(brief "$OUT") after $ms ms"
fi
if [ $((after - before)) -le 40 ]; then
    pass tcp_1200ms_few_upstream_queries
else
    fail tcp_1200ms_few_upstream_queries "$((after - before)) upstream queries for one name"
fi

if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORLD_DIR/daneguard.log"; then
    fail no_sanitizer_reports "$(grep -m3 -E 'Sanitizer|runtime error' "$WORLD_DIR/daneguard.log")"
else
    pass no_sanitizer_reports
fi
[ "$WORLD_FAILED" -eq 0 ]
