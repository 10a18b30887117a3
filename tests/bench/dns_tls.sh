#!/usr/bin/env bash
# tests/bench/dns_tls.sh — DNS-over-TLS upstream: daneguard against Unbound
# (forward-tls-upstream: yes) and Stubby, all validating, all in front of the
# same DoT server: a non-validating Unbound with a certificate from a test PKI
# (tls-service-key/pem), forwarding to the world's NSD, restarted (cold) for
# each resolver. Between each resolver and the DoT server sits
# tests/e2e/tlsrelay.py, adding BENCH_TLS_DELAY_MS each way (default 10: a
# 20 ms round trip) and counting TLS connections; the DoT server logs every
# query it gets (log-queries), which counts upstream queries.
#
# For each resolver: NAMES new names (uN.secure.world.test A, one zone below
# the trust anchor), dnsperf -n 1 -c 1 -q 10; mean latency, upstream queries
# per name, TLS connections opened per 1,000 names.
# Prints a markdown table and the ratios on stdout; progress on stderr.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
. tests/world/world.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
# shellcheck source=tests/e2e/lib_proxy.sh
. tests/e2e/lib_proxy.sh

if [ "$BENCH_QUICK" = 1 ]; then NAMES=200; else NAMES=1000; fi
DELAY_MS=${BENCH_TLS_DELAY_MS:-10}
RESOLVERS=${BENCH_RESOLVERS:-"daneguard unbound stubby"}

for t in dnsperf unbound taskset python3 openssl; do
    command -v "$t" >/dev/null || { bench_note "missing tool: $t (make deps DEPS_FOR=bench)"; exit 1; }
done

world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    for ((i = 1; i <= NAMES; i++)); do
        printf 'u%d\tIN\tA\t127.1.%d.%d\n' "$i" $((i / 250 + 1)) $((i % 250 + 1))
    done
}
world_trap
world_start || exit 1
taskset -a -p -c "$BENCH_CLIENT_CPU" "$WORLD_NSD_PID" >/dev/null 2>&1
pki_init && pki_leaf dot dot.world.test || { bench_note "cannot make the test PKI"; exit 1; }
cat "$PKI/dot.pem" "$PKI/inter.pem" >"$PKI/dot.full.pem"
B=$WORLD_DIR/bench-tls
mkdir -p "$B"
for ((i = 1; i <= NAMES; i++)); do echo "u$i.secure.world.test A"; done >"$B/names.txt"

# dot_start NAME: a cold DoT server and a delaying relay in front of it; sets
# RELAY_PORT, DOT_PID, RELAY_PID; queries are logged to $B/dot-NAME.log.
dot_start() {
    local tls plain
    tls=$(world_free_port 127.0.0.1) && plain=$(world_free_port 127.0.0.1) &&
        RELAY_PORT=$(world_free_port 127.0.0.1) || return 1
    cat >"$B/dot-$1.conf" <<CONF
server:
	interface: 127.0.0.1@$plain
	interface: 127.0.0.1@$tls
	tls-port: $tls
	tls-service-key: "$PKI/dot.key"
	tls-service-pem: "$PKI/dot.full.pem"
	do-ip6: no
	username: ""
	chroot: ""
	directory: "$B"
	pidfile: ""
	use-syslog: no
	logfile: "$B/dot-$1.log"
	log-queries: yes
	verbosity: 0
	do-not-query-localhost: no
	access-control: 127.0.0.0/8 allow
	local-zone: "test." nodefault
	module-config: "iterator"
	qname-minimisation: no
	num-threads: 1
	edns-tcp-keepalive: yes
	tcp-idle-timeout: 30000
	incoming-num-tcp: 100
remote-control:
	control-enable: no
forward-zone:
	name: "."
	forward-addr: $WORLD_NS_ADDR@$WORLD_NS_PORT
CONF
    world_spawn "dot-$1" taskset -c "$BENCH_CLIENT_CPU" unbound -d -c "$B/dot-$1.conf"
    DOT_PID=$WORLD_LAST_PID
    world_wait_dns 127.0.0.1 "$plain" 10 || return 1
    : >"$B/relay-$1.log"
    world_spawn "tlsrelay-$1" taskset -c "$BENCH_CLIENT_CPU" python3 tests/e2e/tlsrelay.py \
        127.0.0.1 "$RELAY_PORT" 127.0.0.1 "$tls" "$B/relay-$1.log" "$B/never" tls "$DELAY_MS"
    RELAY_PID=$WORLD_LAST_PID
    wait_listen "$RELAY_PORT" 127.0.0.1
}
dot_queries() { grep -c ' info: 127\.0\.0\.1 ' "$B/dot-$1.log" 2>/dev/null || echo 0; }
tls_conns() { grep -c '^conn ' "$B/relay-$1.log" 2>/dev/null || echo 0; }

start_daneguard() {
    world_daneguard_config "$B/daneguard.yml" \
        "resolver.upstream_recursive_servers: [{address_data: 127.0.0.1, tls_port: $RELAY_PORT, tls_auth_name: dot.world.test}]" \
        "resolver.dns_transport_list: [TLS]" "resolver.tls_authentication: GETDNS_AUTHENTICATION_REQUIRED" \
        "resolver.tls_ca_file: \"$PKI/root.pem\"" "resolver.timeout: 5000" 'proxy.enabled: false' || return 1
    world_daneguard_start "$B/daneguard.yml" || return 1
    SRV_PID=$DG_PID SRV_PORT=$DG_DNS_PORT
}

start_unbound() {
    bench_unbound_start "$B" "	tls-cert-bundle: \"$PKI/root.pem\"" \
        "	forward-tls-upstream: yes
	forward-addr: 127.0.0.1@$RELAY_PORT#dot.world.test"
}

start_stubby() {
    command -v stubby >/dev/null || return 1
    SRV_PORT=$(world_free_port 127.0.0.1) || return 1
    cat >"$B/stubby.yml" <<CONF
resolution_type: GETDNS_RESOLUTION_STUB
dnssec: GETDNS_EXTENSION_TRUE
dns_transport_list:
  - GETDNS_TRANSPORT_TLS
tls_authentication: GETDNS_AUTHENTICATION_REQUIRED
tls_ca_file: "$PKI/root.pem"
dnssec_return_status: GETDNS_EXTENSION_TRUE
dnssec_trust_anchors:
  - "$WORLD_TA_FILE"
appdata_dir: "$B/stubby-appdata"
idle_timeout: 10000
timeout: 5000
listen_addresses:
  - 127.0.0.1@$SRV_PORT
upstream_recursive_servers:
  - address_data: 127.0.0.1
    tls_port: $RELAY_PORT
    tls_auth_name: "dot.world.test"
CONF
    mkdir -p "$B/stubby-appdata"
    world_spawn stubby stubby -C "$B/stubby.yml"
    SRV_PID=$WORLD_LAST_PID
}

declare -A R
bench_one() {
    local name=$1 out q0 q1 k0 k1 i ok=0
    bench_note "dns over TLS: $name"
    dot_start "$name" || { R[$name.status]="DoT server failed"; return; }
    if ! "start_$name"; then
        R[$name.status]="did not start"
        world_kill "$RELAY_PID"; world_kill "$DOT_PID"
        return
    fi
    for ((i = 0; i < 50; i++)); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        if dig @127.0.0.1 -p "$SRV_PORT" +time=2 +tries=1 world.test. SOA 2>/dev/null |
            grep -q 'status: '; then ok=1; break; fi
        sleep 0.1
    done
    if [ $ok = 0 ]; then
        R[$name.status]="does not answer"
        world_kill "$SRV_PID"; world_kill "$RELAY_PID"; world_kill "$DOT_PID"
        return
    fi
    bench_pin "$BENCH_SERVER_CPU" "$SRV_PID"
    R[$name.status]=ok
    out=$(world_dig @127.0.0.1 -p "$SRV_PORT" +adflag s1.secure.world.test A)
    if dig_has_flag "$out" ad; then R[$name.ad]=yes; else R[$name.ad]="no ($(dig_rcode "$out"))"; fi
    sleep 0.3
    q0=$(dot_queries "$name") k0=$(tls_conns "$name")
    timeout -k 5 600 taskset -c "$BENCH_CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$SRV_PORT" -t 5 \
        -d "$B/names.txt" -n 1 -c 1 -q 10 >"$B/$name.perf" 2>&1
    sleep 1
    q1=$(dot_queries "$name") k1=$(tls_conns "$name")
    R[$name.done]=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' "$B/$name.perf" | head -n 1)
    R[$name.lat]=$(awk -v l="$(sed -n 's/^ *Average Latency (s): *\([0-9.]*\).*/\1/p' "$B/$name.perf" | head -n 1)" \
        'BEGIN { if (l != "") printf "%.2f", l * 1000 }')
    R[$name.rcodes]=$(sed -n 's/^ *Response codes: *//p' "$B/$name.perf" | head -n 1)
    R[$name.up]=$(bench_ratio $((q1 - q0)) "${R[$name.done]:-0}" 2)
    R[$name.conns]=$(awk -v k=$((k1 - k0)) -v n="${R[$name.done]:-0}" 'BEGIN { if (n > 0) printf "%.1f", k * 1000 / n }')
    R[$name.conns_all]=$k1
    world_kill "$SRV_PID"; world_kill "$RELAY_PID"; world_kill "$DOT_PID"
}

for r in $RESOLVERS; do
    bench_one "$r"
done

v() { local x=${R[$1]:-}; echo "${x:--}"; }
echo "### Resolver over DNS-over-TLS (each resolver pinned to CPU $BENCH_SERVER_CPU, the rest to CPU $BENCH_CLIENT_CPU)"
echo
echo "$NAMES new names in secure.world.test (one zone below the trust anchor), dnsperf -n 1 -c 1 -q 10," \
    "each resolver in front of the same cold DoT server (Unbound, tls-service-pem from a test PKI," \
    "forwarding to NSD) through a relay adding ${DELAY_MS} ms each way (a $((2 * DELAY_MS)) ms round trip)."
echo
echo "| resolver | status | AD | new-name mean ms | upstream q per name | TLS connections per 1,000 names (all, warm-up included) |"
echo "|---|---|---|---:|---:|---:|"
for r in $RESOLVERS; do
    echo "| $r | $(v "$r.status") | $(v "$r.ad") | $(v "$r.lat") | $(v "$r.up") | $(v "$r.conns") ($(v "$r.conns_all")) |"
done
echo
for r in $RESOLVERS; do echo "- $r: rcodes $(v "$r.rcodes") ($(v "$r.done") completed)"; done
echo
echo "| ratio | new-name mean latency | upstream q per name |"
echo "|---|---:|---:|"
for p in unbound stubby; do
    [[ " $RESOLVERS " == *" $p "* && " $RESOLVERS " == *" daneguard "* ]] || continue
    echo "| daneguard / $p | $(bench_ratio "${R[daneguard.lat]:-}" "${R[$p.lat]:-}") | $(bench_ratio "${R[daneguard.up]:-}" "${R[$p.up]:-}") |"
done
echo
echo "(Goals, issue 12: upstream queries per new name ≈ 1.0; new-name latency ≤ 1.1× Unbound's; one TLS connection per upstream while idle timeouts allow.)"
