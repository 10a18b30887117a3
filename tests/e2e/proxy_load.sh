#!/usr/bin/env bash
# tests/e2e/proxy_load.sh — the proxy under clients that misbehave and under
# load (issue 5, "Faults and load").
#
#   idle           20 connections that send nothing: closed after handshake_timeout
#   slowloris      a request head a byte a second, on a new connection and as the
#                  second request of a keep-alive connection: closed by
#                  handshake_timeout (3 s), not kept for idle_timeout (60 s)
#   limit_503      max_connections 4, four CONNECTs busy with a silent origin: a
#                  fifth connection is answered 503
#   flood          max_connections 1000, 10,000 connections at once (ulimit -n
#                  raised): daneguard never holds more than the limit (open fds,
#                  connections_open), stays under a VmRSS bound, and a normal client
#                  still gets its page through an intercepted CONNECT meanwhile
#   relay          8 parallel 32 MiB downloads and 2 PUT uploads through intercepted
#                  (DANE-EE) connections, 2 POST uploads through plain HTTP, and a
#                  plain-HTTP upload slower than handshake_timeout: SHA-256 equal on
#                  both ends
# A sanitizer report in daneguard's log (LeakSanitizer's at the TERM exit too) is
# a FAIL. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

HS_MS=3000
FLOOD=${FLOOD:-10000}
FLOOD_LIMIT=${FLOOD_LIMIT:-1000}
MIB=${RELAY_MIB:-32}
SAN=0
[[ ${DANEGUARD_BIN:-} == *san* ]] && SAN=1
# 10,000 client sockets here and as many accepted in daneguard (a child of this shell)
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((FLOOD + 1200)) ] || FLOOD=$(($(ulimit -n) - 1200))

P_GOOD=$(world_free_port 127.0.0.80)
P_SIL=$(world_free_port 127.0.0.80)
P_REL=$(world_free_port 127.0.0.80)
P_HTTP=$(world_free_port 127.0.0.80)

WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf good good.secure.world.test ec && pki_leaf rel relay.secure.world.test ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H_GOOD=$(spki_sha256 "$PKI/good.pem")
H_REL=$(spki_sha256 "$PKI/rel.pem")
H_ANY=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)
WORLD_DIR=

world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    local h
    for h in good silent relay plain; do echo "$h IN A 127.0.0.80"; done
    echo "_$P_GOOD._tcp.good IN TLSA 3 1 1 $H_GOOD"
    echo "_$P_SIL._tcp.silent IN TLSA 3 1 1 $H_ANY"
    echo "_$P_REL._tcp.relay IN TLSA 3 1 1 $H_REL"
}
world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
S=secure.world.test
out=$WORLD_DIR/out
mkdir -p "$out" "$WORLD_DIR/files"

CFG=$WORLD_DIR/dg.yml
base_cfg=("proxy.allowed_ports: [443, $P_GOOD, $P_SIL, $P_REL]"
    "proxy.trust_store: \"$PKI/bundle.pem\""
    "proxy.handshake_timeout: $HS_MS"
    "proxy.idle_timeout: 60000")
world_daneguard_config "$CFG" "${base_cfg[@]}"
world_daneguard_start "$CFG" -v -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt

O=tests/e2e/proxy_fault_origin.py
C=tests/e2e/proxy_fault_client.py
origin_sserver o_good 127.0.0.80 "$P_GOOD" good || { fail origins "s_server"; exit 1; }
world_spawn o_sil timeout 900 python3 "$O" silent 127.0.0.80 "$P_SIL"
world_spawn o_rel timeout 900 python3 "$O" relay 127.0.0.80 "$P_REL" "$PKI/rel.pem" \
    "$PKI/rel.key" "$PKI/rel.chain.pem" "$WORLD_DIR/files"
world_spawn o_http timeout 900 python3 tests/e2e/proxy_origin.py http 127.0.0.80 "$P_HTTP"
for p in "$P_SIL" "$P_REL" "$P_HTTP"; do
    wait_listen "$p" || { fail origins "nothing listens on $p"; exit 1; }
done

dg_fds() { ls "/proc/$DG_PID/fd" 2>/dev/null | wc -l; }
dg_rss() { awk '/^VmRSS/ {print $2}' "/proc/$DG_PID/status" 2>/dev/null; }
dg_stat() { # KEY: a number from the status page's proxy counters
    curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/status.json" 2>/dev/null |
        grep -o "\"$1\": *[0-9]*" | grep -o '[0-9]*$'
}
dg_open() { dg_stat connections_open; }
good_page() { # NAME: the good origin's page through an intercepted CONNECT
    local code
    code=$(pcurl --cacert "$DGCA" -o "$out/$1.body" -w '%{http_code}' "https://good.$S:$P_GOOD/" 2>"$out/$1.err")
    [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/$1.body"
}

good_page warm && pass good_origin_intercepted || fail good_origin_intercepted "$(head -c 200 "$out/warm.err")"
FD0=$(dg_fds)
RSS0=$(dg_rss)

# --- clients that send nothing, or a byte a second --------------------------------------
r=$(timeout 30 python3 "$C" idle "$DG_PROXY_PORT" 20 $((HS_MS / 1000 + 6)))
max=${r##*max=}
[[ $r == "closed 20/20 "* ]] && [ "${max%.*}" -le $((HS_MS / 1000 + 1)) ] &&
    pass idle_connections_closed_at_handshake_timeout || fail idle_connections_closed_at_handshake_timeout "$r"

r=$(timeout 30 python3 "$C" slowloris "$DG_PROXY_PORT" "good.$S:$P_GOOD" 12)
t=${r#closed after }
[[ $r == closed* ]] && [ "${t%%.*}" -le $((HS_MS / 1000 + 1)) ] &&
    pass slowloris_new_connection_closed || fail slowloris_new_connection_closed "$r"
r=$(timeout 30 python3 "$C" slowloris "$DG_PROXY_PORT" "good.$S:$P_GOOD" 12 keepalive)
t=${r#closed after }
[[ $r == closed* ]] && [ "${t%%.*}" -le $((HS_MS / 1000 + 1)) ] &&
    pass slowloris_keepalive_second_head_closed || fail slowloris_keepalive_second_head_closed "$r"

# --- every slot busy: 503 ------------------------------------------------------------------
# (the per-client limit above the global one: the global one is measured)
if reload_to limit_reload "proxy.max_connections: 4" "proxy.max_connections_per_client: 8"; then
    pids=()
    for ((i = 0; i < 4; i++)); do
        PCURL_TIME=10 pcurl --cacert "$DGCA" -o /dev/null "https://silent.$S:$P_SIL/" 2>/dev/null &
        pids+=($!)
    done
    for ((i = 0; i < 30; i++)); do # the four are past their request heads
        [ "$(grep -c "silent.$S:$P_SIL: intercept" "$WORLD_DIR/daneguard.log")" -ge 4 ] && break
        sleep 0.1
    done
    r=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DG_PROXY_PORT/status.json" 2>&1)
    [ "$r" = 503 ] && pass limit_503_when_every_slot_busy ||
        fail limit_503_when_every_slot_busy "got $r; log: $(grep -c "silent.$S" "$WORLD_DIR/daneguard.log") lines on silent"
    for p in "${pids[@]}"; do wait "$p"; done
    good_page after_limit && pass page_after_limit_frees || fail page_after_limit_frees "$(head -c 200 "$out/after_limit.err")"
fi

# --- 10,000 connections at once -------------------------------------------------------------
# A long handshake_timeout so the flood stays open while it is measured.
# one client (127.0.0.1) floods: the global limit is what is measured here
# (per-client limits: proxy_client_limits.sh)
if reload_to flood_reload "proxy.max_connections: $FLOOD_LIMIT" \
    "proxy.max_connections_per_client: $FLOOD_LIMIT" "proxy.handshake_timeout: 60000"; then
    st=$WORLD_DIR/flood.status
    sleep 0.5
    FDF=$(dg_fds) # after the reload: its resolver's sockets
    total0=$(dg_stat connections_total)
    world_spawn flood timeout 120 python3 "$C" flood "$DG_PROXY_PORT" "$FLOOD" 90 "$st"
    FLOOD_PID=$WORLD_LAST_PID
    for ((i = 0; i < 300; i++)); do [ -s "$st" ] && break; sleep 0.1; done
    # The kernel's accept queue (backlog 511) lets the rest in over a few
    # seconds (SYN-ACK retransmits): wait until daneguard has seen them all.
    for ((i = 0; i < 60; i++)); do
        total=$(dg_stat connections_total)
        [ $((${total:-0} - ${total0:-0})) -ge $((FLOOD * 99 / 100)) ] && break
        sleep 0.5
    done
    echo "flood: daneguard accepted $((${total:-0} - ${total0:-0})) connections in $((i / 2)) s"
    fd_flood=$(dg_fds)
    rss_flood=$(dg_rss)
    t0=$(date +%s%N)
    good_page during_flood && ok=1 || ok=0
    t1=$(date +%s%N)
    open_flood=$(dg_open)
    fd_after_page=$(dg_fds)
    echo "flood: $(cat "$st" 2>/dev/null) of $FLOOD; daneguard fds=$fd_flood (then $fd_after_page) connections_open=$open_flood rss=$rss_flood KiB (baseline fds=$FD0 rss=$RSS0 KiB); page in $(((t1 - t0) / 1000000)) ms"
    [ $ok = 1 ] && pass flood_other_client_gets_page ||
        fail flood_other_client_gets_page "$(head -c 200 "$out/during_flood.err")"
    # listeners, the resolver's sockets, and so on: FD0 - 1 besides the connections
    [ "$fd_flood" -le $((FDF + FLOOD_LIMIT + 8)) ] && [ "$fd_after_page" -le $((FDF + FLOOD_LIMIT + 8)) ] &&
        [ "${open_flood:-99999}" -le "$FLOOD_LIMIT" ] && pass flood_limit_holds ||
        fail flood_limit_holds "fds $fd_flood / $fd_after_page (baseline $FDF, limit $FLOOD_LIMIT), connections_open=$open_flood"
    # memory bound: the per-connection budget (100 KiB, issue 4) times
    # max_connections (measured 8-60 MiB, depending on how many accepted-then-
    # closed connections the allocator still holds on a loaded machine);
    # ASan: its shadow and quarantine, 256 MiB
    bound=$((FLOOD_LIMIT * 100))
    [ $SAN = 1 ] && bound=$((256 * 1024))
    [ $((rss_flood - RSS0)) -le $bound ] && pass flood_memory_bound ||
        fail flood_memory_bound "VmRSS $rss_flood KiB vs baseline $RSS0 KiB (bound +$bound KiB)"
    touch "$st.stop"
    for ((i = 0; i < 100; i++)); do kill -0 "$FLOOD_PID" 2>/dev/null || break; sleep 0.1; done
    r=$(grep attempted "$WORLD_DIR/flood.log")
    echo "flood client: $r"
    fd=0
    for ((i = 0; i < 50; i++)); do
        fd=$(dg_fds)
        [ "$fd" -le "$FDF" ] && break
        sleep 0.2
    done
    [ "$fd" -le "$FDF" ] && pass flood_fds_back_to_baseline ||
        fail flood_fds_back_to_baseline "fds $FDF before, $fd after 10 s: $(ls -l "/proc/$DG_PID/fd" | tail -n +2 | awk '{print $NF}' | sed 's/[0-9]*]$//' | sort | uniq -c | tr '\n' ' ') open=$(dg_open)"
    reload_to flood_unreload
fi

# --- relay integrity ----------------------------------------------------------------------------
for ((i = 0; i < 8; i++)); do
    head -c $((MIB << 20)) /dev/urandom >"$WORLD_DIR/files/d$i.bin"
done
head -c $((MIB << 20)) /dev/urandom >"$out/up.bin"
UP_SHA=$(sha256sum <"$out/up.bin" | cut -d' ' -f1)
head -c $((4 << 20)) /dev/urandom >"$out/slow.bin"
SLOW_SHA=$(sha256sum <"$out/slow.bin" | cut -d' ' -f1)
pids=()
t0=$(date +%s)
for ((i = 0; i < 8; i++)); do
    PCURL_TIME=120 pcurl --cacert "$DGCA" -o "$out/d$i.got" "https://relay.$S:$P_REL/d$i.bin" 2>"$out/d$i.err" &
    pids+=($!)
done
for ((i = 0; i < 2; i++)); do
    PCURL_TIME=120 pcurl --cacert "$DGCA" -o "$out/put$i.got" -T "$out/up.bin" "https://relay.$S:$P_REL/put$i" 2>"$out/put$i.err" &
    pids+=($!)
    PCURL_TIME=120 pcurl -o "$out/post$i.got" -H 'Expect:' --data-binary @"$out/up.bin" "http://plain.$S:$P_HTTP/echo" 2>"$out/post$i.err" &
    pids+=($!)
done
# slower than handshake_timeout: 4 MiB at 1 MiB/s through plain HTTP
PCURL_TIME=60 pcurl -o "$out/slowpost.got" -H 'Expect:' --limit-rate 1M --data-binary @"$out/slow.bin" "http://plain.$S:$P_HTTP/echo" 2>"$out/slowpost.err" &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
t1=$(date +%s)
bad=""
for ((i = 0; i < 8; i++)); do
    a=$(sha256sum <"$WORLD_DIR/files/d$i.bin" | cut -d' ' -f1)
    b=$(sha256sum <"$out/d$i.got" 2>/dev/null | cut -d' ' -f1)
    [ "$a" = "$b" ] || bad+=" d$i($(stat -c %s "$out/d$i.got" 2>/dev/null) bytes: $(head -c 100 "$out/d$i.err"))"
done
[ -z "$bad" ] && pass relay_8_parallel_downloads_sha256 || fail relay_8_parallel_downloads_sha256 "$bad"
bad=""
for ((i = 0; i < 2; i++)); do
    grep -q "^$((MIB << 20)) $UP_SHA" "$out/put$i.got" 2>/dev/null || bad+=" put$i: $(head -c 100 "$out/put$i.got" 2>/dev/null) $(head -c 100 "$out/put$i.err")"
    grep -q "^$((MIB << 20)) $UP_SHA" "$out/post$i.got" 2>/dev/null || bad+=" post$i: $(head -c 100 "$out/post$i.got" 2>/dev/null) $(head -c 100 "$out/post$i.err")"
done
[ -z "$bad" ] && pass relay_4_parallel_uploads_sha256 || fail relay_4_parallel_uploads_sha256 "$bad"
grep -q "^$((4 << 20)) $SLOW_SHA" "$out/slowpost.got" 2>/dev/null && pass plain_http_upload_longer_than_handshake_timeout ||
    fail plain_http_upload_longer_than_handshake_timeout "$(head -c 100 "$out/slowpost.got" 2>/dev/null) $(head -c 150 "$out/slowpost.err")"
echo "relay: $((10 * MIB + 2 * MIB + 4)) MiB in $((t1 - t0)) s"

# The browser asks for 1024-byte records (max_fragment_length): each 16 KiB read
# from the site becomes 16 records towards the browser at once in the relay's
# output buffer. (512 fails the handshake: daneguard's server sends a handshake
# record over 512 bytes, which openssl rejects: "data length too long".)
printf 'GET /d0.bin HTTP/1.1\r\nHost: relay.%s:%s\r\nConnection: close\r\n\r\n' "$S" "$P_REL" |
    timeout 60 openssl s_client -quiet -ign_eof -proxy "127.0.0.1:$DG_PROXY_PORT" \
        -connect "relay.$S:$P_REL" -servername "relay.$S" -CAfile "$DGCA" -verify_return_error \
        -maxfraglen "${MFL:-1024}" >"$out/mfl.raw" 2>"$out/mfl.err"
python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(d.split(b"\r\n\r\n",1)[-1])' \
    "$out/mfl.raw" "$out/mfl.got"
a=$(sha256sum <"$WORLD_DIR/files/d0.bin" | cut -d' ' -f1)
b=$(sha256sum <"$out/mfl.got" | cut -d' ' -f1)
[ "$a" = "$b" ] && pass relay_1024_byte_records_sha256 ||
    fail relay_1024_byte_records_sha256 "$(stat -c %s "$out/mfl.got") bytes; $(grep -v '^depth\|^verify' "$out/mfl.err" | head -c 200) log: $(grep -i 'relay' "$WORLD_DIR/daneguard.log" | grep -v debug | tail -1)"

dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
