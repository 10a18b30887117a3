#!/usr/bin/env bash
# tests/e2e/proxy_faults.sh — the proxy facing origins and a DNS upstream that
# misbehave (issue 5, "Faults and load").
#
# One world, one daneguard (handshake_timeout 3000 ms), origins on 127.0.0.80,
# each behind a secure name with a matching TLSA record so that the CONNECT is
# intercepted:
#   rh      resets the TCP connection after reading the ClientHello
#   silent  accepts and never answers
#   rt      TLS, sends 256 KiB of an announced 8 MiB body, then resets
#   trunc   DANE-TA 2 1 1 of the intermediate, but the server omits it
#   tls13   openssl s_server -tls1_3
#   good    a normal s_server (warms the caches; the baseline)
# Each: curl gets the 502 page (or, mid-transfer, an error) promptly, never a
# hang. Then a batch of 40 such failures in parallel, and daneguard's open fd
# count must come back to its baseline, its VmRSS within a tolerance.
# Then the resolver's upstream is a python "DNS server" answering garbage, then
# one answering 2.5 s late (SIGHUP after rewriting the config): CONNECTs are
# refused with the page within the timeout; back on NSD (SIGHUP) pages load again.
# A sanitizer report in daneguard's log, including LeakSanitizer's at the TERM
# exit, is a FAIL. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

HS_MS=3000
SAN=0
if [[ ${DANEGUARD_BIN:-} == *san* ]]; then
    # ASan keeps freed memory in a 256 MiB quarantine: RSS would grow with any
    # traffic. A small one still catches use-after-free on these short paths.
    SAN=1
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8
fi
P_GOOD=$(pick_port); ports+=("$P_GOOD")
P_RH=$(pick_port); ports+=("$P_RH")
P_SIL=$(pick_port); ports+=("$P_SIL")
P_RT=$(pick_port); ports+=("$P_RT")
P_TR=$(pick_port); ports+=("$P_TR")
P_T13=$(pick_port); ports+=("$P_T13")
P_CLOSED=$(pick_port); ports+=("$P_CLOSED") # nothing listens there

WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf good good.secure.world.test ec && pki_leaf rt rt.secure.world.test ec &&
    pki_leaf trunc trunc.secure.world.test ec && pki_leaf t13 tls13.secure.world.test ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
: >"$PKI/trunc.chain.pem" # the server omits the intermediate
H_GOOD=$(spki_sha256 "$PKI/good.pem")
H_RT=$(spki_sha256 "$PKI/rt.pem")
H_T13=$(spki_sha256 "$PKI/t13.pem")
H_INTER=$(spki_sha256 "$PKI/inter.pem")
H_ANY=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)
WORLD_DIR=

world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    local h
    for h in good rh silent rt trunc tls13 good2 good3 good4; do echo "$h IN A 127.0.0.80"; done
    echo "_$P_GOOD._tcp.good IN TLSA 3 1 1 $H_GOOD"
    echo "_$P_GOOD._tcp.good2 IN TLSA 3 1 1 $H_GOOD"
    echo "_$P_GOOD._tcp.good3 IN TLSA 3 1 1 $H_GOOD"
    echo "_$P_GOOD._tcp.good4 IN TLSA 3 1 1 $H_GOOD"
    echo "_$P_RH._tcp.rh IN TLSA 3 1 1 $H_ANY"
    echo "_$P_SIL._tcp.silent IN TLSA 3 1 1 $H_ANY"
    echo "_$P_RT._tcp.rt IN TLSA 3 1 1 $H_RT"
    echo "_$P_TR._tcp.trunc IN TLSA 2 1 1 $H_INTER"
    echo "_$P_T13._tcp.tls13 IN TLSA 3 1 1 $H_T13"
    # refused at once, and an address connect() rejects at once (ENETUNREACH,
    # nothing is sent): whichever comes last, the CONNECT fails without a wait
    echo "unreach IN A 127.0.0.80"
    echo "unreach IN A 255.255.255.255"
    echo "_$P_CLOSED._tcp.unreach IN TLSA 3 1 1 $H_ANY"
}
world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
S=secure.world.test
out=$WORLD_DIR/out
mkdir -p "$out"

CFG=$WORLD_DIR/dg.yml
base_cfg=("proxy.allowed_ports: [443, $(IFS=,; echo "${ports[*]}")]"
    "proxy.trust_store: \"$PKI/bundle.pem\""
    "proxy.handshake_timeout: $HS_MS"
    "proxy.idle_timeout: 20000")
world_daneguard_config "$CFG" "${base_cfg[@]}"
world_daneguard_start "$CFG" -v -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt

O=tests/e2e/proxy_fault_origin.py
origin_sserver o_good 127.0.0.80 "$P_GOOD" good &&
    origin_sserver o_trunc 127.0.0.80 "$P_TR" trunc || { fail origins "s_server"; exit 1; }
world_spawn o_t13 timeout 900 openssl s_server -accept "127.0.0.80:$P_T13" -cert "$PKI/t13.pem" \
    -key "$PKI/t13.key" -cert_chain "$PKI/t13.chain.pem" -tls1_3 -www -quiet
world_spawn o_rh timeout 900 python3 "$O" reset-handshake 127.0.0.80 "$P_RH"
world_spawn o_sil timeout 900 python3 "$O" silent 127.0.0.80 "$P_SIL"
world_spawn o_rt timeout 900 python3 "$O" reset-transfer 127.0.0.80 "$P_RT" "$PKI/rt.pem" \
    "$PKI/rt.key" "$PKI/rt.chain.pem"
for p in "$P_T13" "$P_RH" "$P_SIL" "$P_RT"; do
    wait_listen "$p" || { fail origins "nothing listens on $p"; exit 1; }
done

dg_fds() { ls "/proc/$DG_PID/fd" 2>/dev/null | wc -l; }
dg_rss() { awk '/^VmRSS/ {print $2}' "/proc/$DG_PID/status" 2>/dev/null; }

# fetch NAME URL: curl through daneguard trusting its CA; sets CODE and SECS.
fetch() {
    local name=$1 url=$2 t0 t1
    t0=$(date +%s%N)
    CODE=$(PCURL_TIME=${PCURL_TIME:-15} pcurl --cacert "$DGCA" -o "$out/$name.body" \
        -w '%{http_code}' "$url" 2>"$out/$name.err")
    CURL_RC=$?
    t1=$(date +%s%N)
    SECS=$(((t1 - t0) / 1000000000))
}

# expect_page NAME URL MAX_S TEXT...: the 502 page with each TEXT within MAX_S seconds.
expect_page() {
    local name=$1 url=$2 max=$3 t missing=""
    shift 3
    fetch "$name" "$url"
    for t in "$@"; do
        grep -qiF -- "$t" "$out/$name.body" 2>/dev/null || missing+=" [$t]"
    done
    if [ "$CODE" = 502 ] && [ -z "$missing" ] && [ "$SECS" -le "$max" ]; then
        pass "$name"
    else
        fail "$name" "code=$CODE after ${SECS}s (max $max) missing:$missing $(head -c 200 "$out/$name.err") $(grep -o '<p class="reason">[^<]*' "$out/$name.body" 2>/dev/null | head -1)"
    fi
}

# --- warm-up: one good page, then the baseline -------------------------------------------
fetch warm "https://good.$S:$P_GOOD/"
[ "$CODE" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/warm.body" && pass good_origin_intercepted ||
    fail good_origin_intercepted "code=$CODE $(head -c 200 "$out/warm.err")"
for h in rh silent rt trunc tls13; do # resolver and CA caches warm for these names too
    world_dig @127.0.0.1 -p "$DG_DNS_PORT" "$h.$S" A >/dev/null
done
sleep 0.5
FD0=$(dg_fds)
RSS0=$(dg_rss)

# --- each misbehaving origin, once --------------------------------------------------------
expect_page origin_reset_mid_handshake "https://rh.$S:$P_RH/" 5 "rh.$S:$P_RH" "reset"
expect_page origin_silent_refused_at_timeout "https://silent.$S:$P_SIL/" $((HS_MS / 1000 + 2)) \
    "silent.$S:$P_SIL" "timed out"
expect_page origin_truncated_chain_refused "https://trunc.$S:$P_TR/" 5 "trunc.$S:$P_TR" "DANE"
expect_page origin_tls13_only_refused "https://tls13.$S:$P_T13/" 5 "upstream requires TLS 1.3"
for ((k = 0; k < 3; k++)); do # NSD may rotate the two addresses
    expect_page "origin_unreachable_refused_at_once_$k" "https://unreach.$S:$P_CLOSED/" 1 \
        "unreach.$S:$P_CLOSED" "cannot connect"
done

fetch rt "https://rt.$S:$P_RT/big"
got=$(stat -c %s "$out/rt.body" 2>/dev/null || echo 0)
if [ "$CURL_RC" -ne 0 ] && [ "$SECS" -le 5 ] && [ "$got" -lt $((8 << 20)) ]; then
    pass origin_reset_mid_transfer_client_error
else
    fail origin_reset_mid_transfer_client_error "curl rc=$CURL_RC code=$CODE after ${SECS}s, $got bytes"
fi

# --- a batch of failures in parallel; nothing leaks ----------------------------------------
pids=()
for ((i = 0; i < 8; i++)); do
    for u in "rh.$S:$P_RH" "silent.$S:$P_SIL" "rt.$S:$P_RT/big" "trunc.$S:$P_TR" "tls13.$S:$P_T13"; do
        PCURL_TIME=15 pcurl --cacert "$DGCA" -o /dev/null "https://$u" 2>/dev/null &
        pids+=($!)
    done
done
t0=$(date +%s)
for p in "${pids[@]}"; do wait "$p"; done
t1=$(date +%s)
[ $((t1 - t0)) -le $((HS_MS / 1000 + 5)) ] && pass batch_of_40_failures_no_hang ||
    fail batch_of_40_failures_no_hang "took $((t1 - t0)) s"
RSS_PEAK=$(dg_rss)
fd=0
for ((i = 0; i < 50; i++)); do
    fd=$(dg_fds)
    [ "$fd" -le "$FD0" ] && break
    sleep 0.2
done
[ "$fd" -le "$FD0" ] && pass batch_fds_back_to_baseline ||
    fail batch_fds_back_to_baseline "fds $FD0 before, $fd after 10 s: $(ls -l "/proc/$DG_PID/fd" | tail -n +2 | awk '{print $NF}' | sort | uniq -c | sort -rn | head -5 | tr '\n' ' ')"
# A second batch must not grow RSS further (a leak per connection would).
for ((k = 0; k < 2; k++)); do
    pids=()
    for ((i = 0; i < 8; i++)); do
        for u in "rh.$S:$P_RH" "rt.$S:$P_RT/big" "trunc.$S:$P_TR" "tls13.$S:$P_T13"; do
            PCURL_TIME=15 pcurl --cacert "$DGCA" -o /dev/null "https://$u" 2>/dev/null &
            pids+=($!)
        done
    done
    for p in "${pids[@]}"; do wait "$p"; done
done
sleep 0.5
RSS1=$(dg_rss)
FD1=$(dg_fds)
echo "fd/RSS: baseline fds=$FD0 rss=${RSS0} KiB; after batch peak rss=${RSS_PEAK} KiB; after 64 more fds=$FD1 rss=${RSS1} KiB"
# ASan's allocator caches and quarantine (8 MiB, above): a looser bound there.
tol=4096
[ $SAN = 1 ] && tol=16384
if [ $((RSS1 - RSS_PEAK)) -le "$tol" ] && [ $((RSS1 - RSS0)) -le $((tol * 4)) ]; then
    pass batch_rss_bounded
else
    fail batch_rss_bounded "VmRSS ${RSS0} KiB baseline, ${RSS_PEAK} after 40 failures, ${RSS1} after 64 more (tolerance $tol KiB)"
fi
st=$(curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/status.json" 2>&1)
open=$(grep -o '"connections_open": *[0-9]*' <<<"$st" | grep -o '[0-9]*$')
[ "${open:-x}" = 1 ] && pass batch_no_connection_left_open ||
    fail batch_no_connection_left_open "conns_open=${open:-?} $(head -c 200 <<<"$st")"

fetch after_batch "https://good.$S:$P_GOOD/"
[ "$CODE" = 200 ] && pass good_origin_after_failures || fail good_origin_after_failures "code=$CODE"

# --- the resolver's upstream misbehaves -----------------------------------------------------
D=tests/e2e/proxy_fault_dns.py
BAD_ADDR=127.0.0.$((RANDOM % 50 + 150))
BAD_PORT=$(world_free_port "$BAD_ADDR")
SLOW_PORT=$(world_free_port "$BAD_ADDR")
[ "$SLOW_PORT" != "$BAD_PORT" ] || SLOW_PORT=$(world_free_port "$BAD_ADDR")
world_spawn dns_garbage timeout 900 python3 "$D" garbage "$BAD_ADDR" "$BAD_PORT"
world_spawn dns_slow timeout 900 python3 "$D" slow "$BAD_ADDR" "$SLOW_PORT" 2500 \
    "$WORLD_NS_ADDR" "$WORLD_NS_PORT"
wait_listen "$BAD_PORT" && wait_listen "$SLOW_PORT" || { fail dns_servers "did not listen"; }

upstream_line() {
    printf 'resolver.upstream_recursive_servers: [{address_data: %s, port: %s}]' "$1" "$2"
}

if reload_to reload_garbage_upstream "$(upstream_line "$BAD_ADDR" "$BAD_PORT")"; then
    expect_page dns_garbage_refused_in_time "https://good2.$S:$P_GOOD/" $((HS_MS / 1000 + 2)) "good2.$S:$P_GOOD"
    dg_alive dns_garbage_daemon_alive
fi
if reload_to reload_slow_upstream "$(upstream_line "$BAD_ADDR" "$SLOW_PORT")"; then
    expect_page dns_slow_refused_in_time "https://good3.$S:$P_GOOD/" $((HS_MS / 1000 + 2)) "good3.$S:$P_GOOD"
    dg_alive dns_slow_daemon_alive
fi
if reload_to reload_back_to_nsd; then
    ok=0
    for ((i = 0; i < 10; i++)); do
        fetch back "https://good4.$S:$P_GOOD/"
        [ "$CODE" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/back.body" && { ok=1; break; }
        sleep 1
    done
    [ $ok = 1 ] && pass dns_back_on_nsd_pages_load || fail dns_back_on_nsd_pages_load "last code=$CODE"
fi

dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
