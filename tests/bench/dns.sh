#!/usr/bin/env bash
# tests/bench/dns.sh — the resolver benchmark: daneguard against Unbound,
# dnsmasq and Stubby, all validating, all in front of the same NSD and signed
# zones (tests/world), one after another in the same run.
#
# Each resolver forwards to its own counting relay (relay.py) in front of NSD,
# so the upstream queries each one sends are counted. Resolvers are pinned to
# BENCH_SERVER_CPU, dnsperf (and NSD, the relays) to BENCH_CLIENT_CPU.
#
#   (a) cached: a file of CACHED_NAMES names that exist (c*.world.test,
#       s*.secure.world.test, A), asked twice to warm the cache, then
#       dnsperf -l DUR -c 20 -q 200. Queries/s, mean latency, and the CPU
#       seconds the resolver used during the run (utime+stime from /proc),
#       hence queries per CPU-second.
#   (b) uncached: ROUNDS rounds of UNCACHED_NAMES names never asked before
#       (u<round>x<N>.secure.world.test A), dnsperf -n 1 -c 1 -q 10, the
#       resolvers taking turns within each round (all of them are started
#       first and stay up, idle between their turns), so that a noisy moment
#       on this shared machine falls on one round, not on one resolver: the
#       median of the rounds' mean latencies, the spread, and upstream
#       queries per client query (from the relay's count).
#   (c) VmRSS of each resolver after both.
#
# Prints a markdown table and the ratios on stdout; progress on stderr.
# BENCH_QUICK=1: shorter runs, fewer names.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
. tests/world/world.sh
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

if [ "$BENCH_QUICK" = 1 ]; then
    DUR=5 CACHED_NAMES=200 UNCACHED_NAMES=300 ROUNDS=3
else
    DUR=20 CACHED_NAMES=400 UNCACHED_NAMES=1500 ROUNDS=5
fi
DNSPERF_CLIENTS=20 DNSPERF_OUTSTANDING=200
RESOLVERS=${BENCH_RESOLVERS:-"daneguard unbound dnsmasq stubby"}

for t in dnsperf unbound dnsmasq taskset python3; do
    command -v "$t" >/dev/null || { bench_note "missing tool: $t (make deps DEPS_FOR=bench)"; exit 1; }
done

world_extra_records() {
    local i half=$((CACHED_NAMES / 2))
    case $1 in
    world.test.)
        for ((i = 1; i <= half; i++)); do
            printf 'c%d\tIN\tA\t127.0.%d.%d\n' "$i" $((i / 250 + 1)) $((i % 250 + 1))
        done ;;
    secure.world.test.)
        for ((i = 1; i <= half; i++)); do
            printf 's%d\tIN\tA\t127.0.%d.%d\n' "$i" $((i / 250 + 1)) $((i % 250 + 1))
        done
        for ((r = 1; r <= ROUNDS; r++)); do
            for ((i = 1; i <= UNCACHED_NAMES; i++)); do
                printf 'u%dx%d\tIN\tA\t127.%d.%d.%d\n' "$r" "$i" $((r + 1)) $((i / 250 + 1)) $((i % 250 + 1))
            done
        done ;;
    esac
}

world_trap
world_start || exit 1
taskset -a -p -c "$BENCH_CLIENT_CPU" "$WORLD_NSD_PID" >/dev/null 2>&1

B=$WORLD_DIR/bench
mkdir -p "$B"
{
    for ((i = 1; i <= CACHED_NAMES / 2; i++)); do
        echo "c$i.world.test A"
        echo "s$i.secure.world.test A"
    done
} >"$B/cached.txt"
for ((r = 1; r <= ROUNDS; r++)); do
    for ((i = 1; i <= UNCACHED_NAMES; i++)); do echo "u${r}x$i.secure.world.test A"; done >"$B/uncached.$r.txt"
done

# --- per resolver ------------------------------------------------------------

# relay_start NAME: a counting relay for NAME; sets RELAY_PORT
relay_start() {
    RELAY_PORT=$(world_free_port 127.0.0.1) || return 1
    world_spawn "relay-$1" taskset -c "$BENCH_CLIENT_CPU" python3 tests/bench/relay.py \
        127.0.0.1 "$RELAY_PORT" "$WORLD_NS_ADDR" "$WORLD_NS_PORT" "$B/relay-$1.count"
    RELAY_PID=$WORLD_LAST_PID
    local i
    for ((i = 0; i < 50; i++)); do
        [ -s "$B/relay-$1.count" ] && return 0
        sleep 0.1
    done
    bench_note "relay for $1 did not start"
    return 1
}
relay_count() { awk '{ print $1 + $2 }' "$B/relay-$1.count" 2>/dev/null || echo 0; }

# start_NAME: start the resolver on 127.0.0.1#SRV_PORT in front of RELAY_PORT; sets SRV_PID
start_daneguard() {
    world_daneguard_config "$B/daneguard.yml" \
        "resolver.upstream_recursive_servers: [{address_data: 127.0.0.1, port: $RELAY_PORT}]" \
        'proxy.enabled: false' || return 1
    world_daneguard_start "$B/daneguard.yml" || return 1
    SRV_PID=$DG_PID SRV_PORT=$DG_DNS_PORT
}

start_unbound() {
    bench_unbound_start "$B" "" "	forward-addr: 127.0.0.1@$RELAY_PORT"
}

start_dnsmasq() {
    SRV_PORT=$(world_free_port 127.0.0.1) || return 1
    local ta
    ta=$(awk '$4 == "DS" { sub(/\.$/, "", $1); print $1 "," $5 "," $6 "," $7 "," $8 }' "$WORLD_TA_FILE")
    # dnsmasq 2.90 refuses to start without a root trust anchor; the root's
    # real one is harmless here (names under world.test stop at its own anchor).
    world_spawn dnsmasq dnsmasq -k --conf-file=/usr/share/dnsmasq-base/trust-anchors.conf --no-resolv --no-hosts --no-poll \
        --listen-address=127.0.0.1 --bind-interfaces --port="$SRV_PORT" --user=root \
        --pid-file= --cache-size=10000 --dnssec --trust-anchor="$ta" \
        --server="127.0.0.1#$RELAY_PORT" --log-facility="$B/dnsmasq.log"
    SRV_PID=$WORLD_LAST_PID
}

start_stubby() {
    command -v stubby >/dev/null || return 1
    SRV_PORT=$(world_free_port 127.0.0.1) || return 1
    cat >"$B/stubby.yml" <<EOF
resolution_type: GETDNS_RESOLUTION_STUB
dnssec: GETDNS_EXTENSION_TRUE
dns_transport_list:
  - GETDNS_TRANSPORT_UDP
  - GETDNS_TRANSPORT_TCP
dnssec_return_status: GETDNS_EXTENSION_TRUE
dnssec_trust_anchors:
  - "$WORLD_TA_FILE"
appdata_dir: "$B/stubby-appdata"
idle_timeout: 10000
timeout: 2000
listen_addresses:
  - 127.0.0.1@$SRV_PORT
upstream_recursive_servers:
  - address_data: 127.0.0.1
    port: $RELAY_PORT
EOF
    mkdir -p "$B/stubby-appdata"
    world_spawn stubby stubby -C "$B/stubby.yml"
    SRV_PID=$WORLD_LAST_PID
}

# dnsperf_run OUTFILE ARGS...: dnsperf on the client CPU against SRV_PORT, bounded.
dnsperf_run() {
    local out=$1
    shift
    timeout -k 5 $((DUR + 60)) taskset -c "$BENCH_CLIENT_CPU" \
        dnsperf -s 127.0.0.1 -p "$SRV_PORT" -t 2 "$@" >"$out" 2>&1
}
perf_field() { # FILE LABEL → first number after LABEL
    sed -n "s/^ *$2: *\([0-9.]*\).*/\1/p" "$1" | head -n 1
}
perf_rcodes() { sed -n 's/^ *Response codes: *//p' "$1" | head -n 1; }

declare -A R
# bench_start NAME: its relay and the resolver, up and checked; R[NAME.pid],
# R[NAME.port], R[NAME.relay] (R[NAME.status] says why when not ok)
bench_start() {
    local name=$1 out i ok=0
    bench_note "dns: starting $name"
    relay_start "$name" || { R[$name.status]="relay failed"; return; }
    if ! "start_$name"; then
        R[$name.status]="did not start"
        world_kill "$RELAY_PID"
        return
    fi
    for ((i = 0; i < 50; i++)); do
        if ! kill -0 "$SRV_PID" 2>/dev/null; then break; fi
        # up means any answer (a resolver that cannot validate answers SERVFAIL)
        if dig @127.0.0.1 -p "$SRV_PORT" +time=1 +tries=1 world.test. SOA 2>/dev/null |
            grep -q 'status: '; then ok=1; break; fi
        sleep 0.1
    done
    if [ $ok = 0 ]; then
        R[$name.status]="does not answer"
        tail -n 5 "$WORLD_DIR/$name.log" >&2 2>/dev/null
        world_kill "$SRV_PID"; world_kill "$RELAY_PID"
        return
    fi
    bench_pin "$BENCH_SERVER_CPU" "$SRV_PID"
    R[$name.status]=ok R[$name.pid]=$SRV_PID R[$name.port]=$SRV_PORT R[$name.relay]=$RELAY_PID
    # validation on? (AD on a name in the signed child)
    out=$(world_dig @127.0.0.1 -p "$SRV_PORT" +adflag s1.secure.world.test A)
    if dig_has_flag "$out" ad; then R[$name.ad]=yes; else R[$name.ad]="no ($(dig_rcode "$out"))"; fi
    out=$(world_dig @127.0.0.1 -p "$SRV_PORT" +adflag www.bogus.world.test A)
    R[$name.bogus]=$(dig_rcode "$out")
}

running() { [ "${R[$1.status]:-}" = ok ] && kill -0 "${R[$1.pid]}" 2>/dev/null; }

# bench_uncached NAME ROUND: ROUND's new names; the round's mean latency is
# added to R[NAME.u_lats], completions and upstream queries to the totals
bench_uncached() {
    local name=$1 r=$2 c0 c1 lat
    running "$name" || return
    SRV_PORT=${R[$name.port]}
    c0=$(relay_count "$name")
    dnsperf_run "$B/$name.uncached.$r" -d "$B/uncached.$r.txt" -n 1 -c 1 -q 10
    sleep 0.7 # the relay writes its count twice a second
    c1=$(relay_count "$name")
    lat=$(awk -v l="$(perf_field "$B/$name.uncached.$r" "Average Latency (s)")" \
        'BEGIN { if (l != "") printf "%.2f", l * 1000 }')
    [ -n "$lat" ] && R[$name.u_lats]="${R[$name.u_lats]:-} $lat"
    R[$name.u_done]=$((${R[$name.u_done]:-0} + $(perf_field "$B/$name.uncached.$r" "Queries completed" | cut -d. -f1)))
    R[$name.u_upq]=$((${R[$name.u_upq]:-0} + c1 - c0))
    R[$name.u_rcodes]=$(perf_rcodes "$B/$name.uncached.$r")
}

# median and spread of a list of numbers: "MEDIAN MIN MAX"
stats3() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END {
    if (NR) printf "%.2f %.2f %.2f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'; }

# bench_cached NAME: warm twice, the timed run, then VmRSS; the resolver and
# its relay are stopped after
bench_cached() {
    local name=$1 t0 t1 c0 c1 m
    if running "$name"; then
        SRV_PORT=${R[$name.port]} SRV_PID=${R[$name.pid]}
        dnsperf_run "$B/$name.warm" -d "$B/cached.txt" -n 2 -c 1 -q 10
        R[$name.w_rcodes]=$(perf_rcodes "$B/$name.warm")
        sleep 0.7
        t0=$(bench_cpu_ticks "$SRV_PID")
        c0=$(relay_count "$name")
        dnsperf_run "$B/$name.cached" -d "$B/cached.txt" -l "$DUR" \
            -c "$DNSPERF_CLIENTS" -q "$DNSPERF_OUTSTANDING"
        t1=$(bench_cpu_ticks "$SRV_PID")
        kill -0 "$SRV_PID" 2>/dev/null || t1= # gone: its CPU time is lost with it
        sleep 0.7
        c1=$(relay_count "$name")
        R[$name.c_qps]=$(perf_field "$B/$name.cached" "Queries per second" | awk '{ printf "%.0f", $1 }')
        R[$name.c_done]=$(perf_field "$B/$name.cached" "Queries completed")
        R[$name.c_lost]=$(perf_field "$B/$name.cached" "Queries lost")
        R[$name.c_lat]=$(awk -v l="$(perf_field "$B/$name.cached" "Average Latency (s)")" \
            'BEGIN { if (l != "") printf "%.3f", l * 1000 }')
        R[$name.c_rcodes]=$(perf_rcodes "$B/$name.cached")
        [ -n "$t1" ] && R[$name.c_cpu]=$(bench_ticks_to_s $((t1 - t0)))
        R[$name.c_qpcpu]=$(awk -v n="${R[$name.c_done]:-0}" -v c="${R[$name.c_cpu]:-0}" \
            'BEGIN { if (c > 0) printf "%.0f", n / c }')
        R[$name.c_up]=$((c1 - c0))
    fi
    [ "${R[$name.status]:-}" = ok ] || return
    if kill -0 "${R[$name.pid]}" 2>/dev/null; then
        R[$name.rss]=$(bench_rss_kib "${R[$name.pid]}")
    else
        wait "${R[$name.pid]}" 2>/dev/null
        R[$name.status]="exited during the run (status $?)"
        R[$name.rss]=
        tail -n 5 "$WORLD_DIR/$name.log" | sed 's/^/  | /' >&2
    fi
    world_kill "${R[$name.pid]}"
    world_kill "${R[$name.relay]}"
    m=$(stats3 "${R[$name.u_lats]:-}")
    R[$name.u_lat]=${m%% *}
    R[$name.u_spread]=$(awk '{ if (NF == 3) printf "%s–%s", $2, $3 }' <<<"$m")
    R[$name.u_up]=$(bench_ratio "${R[$name.u_upq]:-}" "${R[$name.u_done]:-}" 2)
}

for r in $RESOLVERS; do
    bench_start "$r"
done
# (b) uncached first, while the caches hold only the two names above; the
# order of the resolvers turns by one each round
set -- $RESOLVERS
for ((round = 1; round <= ROUNDS; round++)); do
    bench_note "dns: uncached round $round of $ROUNDS"
    for r in "$@"; do bench_uncached "$r" "$round"; done
    set -- "${@:2}" "$1"
done
# (a) cached, one resolver after another
for r in $RESOLVERS; do
    bench_note "dns: cached $r"
    bench_cached "$r"
done

# --- report -------------------------------------------------------------------

v() { local x=${R[$1]:-}; echo "${x:--}"; }
echo "### Resolver (dnsperf, loopback, each resolver pinned to CPU $BENCH_SERVER_CPU, dnsperf to CPU $BENCH_CLIENT_CPU)"
echo
echo "Cached: $CACHED_NAMES names, warmed, dnsperf -l $DUR -c $DNSPERF_CLIENTS -q $DNSPERF_OUTSTANDING." \
    "Uncached: $ROUNDS rounds of $UNCACHED_NAMES new names in secure.world.test (one zone below the trust anchor), dnsperf -n 1 -c 1 -q 10, the resolvers taking turns in each round; the median of the rounds' mean latencies, and their range," \
    "through a counting relay (adds the same ~0.1 ms to every resolver's upstream round trip)."
echo
echo "| resolver | status | AD / bogus | cached q/s | cached mean ms | CPU s | q per CPU-s | uncached mean ms (median) | rounds' range | upstream q per query | VmRSS MiB |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in $RESOLVERS; do
    rss=${R[$r.rss]:-}
    [ -n "$rss" ] && rss=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
    echo "| $r | $(v "$r.status") | $(v "$r.ad") / $(v "$r.bogus") | $(v "$r.c_qps") | $(v "$r.c_lat") | $(v "$r.c_cpu") | $(v "$r.c_qpcpu") | $(v "$r.u_lat") | $(v "$r.u_spread") | $(v "$r.u_up") | ${rss:--} |"
done
echo
for r in $RESOLVERS; do
    echo "- $r: uncached round means (ms):$(v "$r.u_lats"); last round's rcodes: $(v "$r.u_rcodes") ($(v "$r.u_done") completed in all); cached rcodes: $(v "$r.c_rcodes"), lost $(v "$r.c_lost"), upstream queries during the cached run: $(v "$r.c_up")"
done
echo
echo "| ratio | cached q/s | q per CPU-s | cached mean latency | uncached mean latency | upstream q per query | VmRSS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for p in unbound dnsmasq stubby; do
    [[ " $RESOLVERS " == *" $p "* && " $RESOLVERS " == *" daneguard "* ]] || continue
    echo "| daneguard / $p | $(bench_ratio "${R[daneguard.c_qps]:-}" "${R[$p.c_qps]:-}") | $(bench_ratio "${R[daneguard.c_qpcpu]:-}" "${R[$p.c_qpcpu]:-}") | $(bench_ratio "${R[daneguard.c_lat]:-}" "${R[$p.c_lat]:-}") | $(bench_ratio "${R[daneguard.u_lat]:-}" "${R[$p.u_lat]:-}") | $(bench_ratio "${R[daneguard.u_up]:-}" "${R[$p.u_up]:-}") | $(bench_ratio "${R[daneguard.rss]:-}" "${R[$p.rss]:-}") |"
done
for p in unbound dnsmasq stubby; do
    [[ " $RESOLVERS " == *" $p "* && " $RESOLVERS " == *" daneguard "* ]] || continue
    echo
    echo "daneguard / $p, uncached mean latency round by round: $(paste -d' ' <(tr ' ' '\n' <<<"${R[daneguard.u_lats]:-}" | grep .) <(tr ' ' '\n' <<<"${R[$p.u_lats]:-}" | grep .) |
        awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 / $2 }')"
done
echo
echo "(Goals, issue 2: q per CPU-s ≥ 1.0× Unbound's; cached and uncached latency no worse than Unbound's, i.e. latency ratios ≤ 1.)"
