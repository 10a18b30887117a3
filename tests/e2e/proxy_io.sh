#!/usr/bin/env bash
# tests/e2e/proxy_io.sh — the proxy's buffers, plain-HTTP framing and reload, from
# issue 8: a tunnel opened with buffer_size 1k carries 2 MiB intact after a reload
# to 4m (a heap overflow before: run it with BUILD=build-san too); a refused
# plain-HTTP request whose body keeps coming (bytes were counted into the wrong
# buffer); HEAD answered with Content-Length (no body: curl --head returns at
# once, and bytes an origin appends never reach the client as its next
# response), 204, 1xx and a head split over two writes; a refusal page larger
# than a TLS record arrives whole; reload re-reads trust_store, opens a new
# ca_dir, resizes the certificate cache, refuses a ca_dir it cannot open
# (naming the key) and closes connections `allow` no longer admits;
# `intercept: all` refuses a leaf without serverAuth; the onboarding page and
# the log show the CA's SHA-256 fingerprint as openssl prints it.
# Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap
HELPER=tests/e2e/proxy_io_helper.py

P_ECHO=$(pick_port); ports+=("$P_ECHO")
P_RAW=$(pick_port); ports+=("$P_RAW")
P_BIG=$(pick_port); ports+=("$P_BIG")
P_INS=$(pick_port); ports+=("$P_INS")
P_EKU=$(pick_port); ports+=("$P_EKU")

WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf ins www.insecure.world.test ec && pki_leaf big bigtlsa.secure.world.test ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
# a leaf for clients only (extendedKeyUsage clientAuth): no TLS server may use it
(
    cd "$PKI" &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj "/CN=eku.insecure.world.test" -keyout eku.key -out eku.csr &&
        printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:eku.insecure.world.test\n' >eku.ext &&
        openssl x509 -req -in eku.csr -CA inter.pem -CAkey inter.key -CAcreateserial -days 30 \
            -extfile eku.ext -out eku.pem && cp inter.pem eku.chain.pem
) >>"$WORLD_DIR/pki.log" 2>&1 || { echo "FAIL pki_eku: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
# 24 records of 400 bytes each: the refusal page lists them all, well over 16 KiB
big_tlsa=()
for ((i = 0; i < 24; i++)); do
    big_tlsa+=("$(head -c 400 /dev/urandom | od -An -v -tx1 | tr -d ' \n')")
done
WORLD_DIR=

world_extra_records() {
    case $1 in
    secure.world.test.)
        echo "bigtlsa IN A 127.0.0.80"
        for h in "${big_tlsa[@]}"; do echo "_$P_BIG._tcp.bigtlsa IN TLSA 3 0 0 $h"; done
        ;;
    insecure.world.test.)
        echo "eku IN A 127.0.0.80"
        ;;
    esac
}
world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
out=$WORLD_DIR/out
mkdir -p "$out"

CFG=$WORLD_DIR/dg.yml
base_cfg=("proxy.allowed_ports: [443, $(IFS=,; echo "${ports[*]}")]" "proxy.idle_timeout: 60000")
world_daneguard_config "$CFG" "${base_cfg[@]}" "proxy.buffer_size: 1k"
world_daneguard_start "$CFG" -v -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt
DG="http://127.0.0.1:$DG_PROXY_PORT"
world_spawn echo timeout 900 python3 "$HELPER" echo 127.0.0.80 "$P_ECHO"
world_spawn raw_origin timeout 900 python3 "$HELPER" raw-origin 127.0.0.80 "$P_RAW"
wait_listen "$P_ECHO" && wait_listen "$P_RAW" || { fail origins "a helper did not listen"; exit 1; }
origin_sserver o_big 127.0.0.80 "$P_BIG" big && origin_sserver o_ins 127.0.0.80 "$P_INS" ins &&
    origin_sserver o_eku 127.0.0.80 "$P_EKU" eku || { fail origins "an origin did not start"; exit 1; }

# dg_ensure LINES...: daneguard again (base_cfg + LINES) when the section before
# killed it, so each section is judged on its own (the old log is kept aside).
dg_ensure() {
    kill -0 "$DG_PID" 2>/dev/null && return 0
    world_log "daneguard died: starting it again for the next tests"
    _world_forget_pid "$DG_PID"
    mv "$WORLD_DIR/daneguard.log" "$WORLD_DIR/daneguard.log.$(date +%s%N)"
    world_daneguard_config "$CFG" "${base_cfg[@]}" "$@"
    world_daneguard_start "$CFG" -v -v || { fail daneguard_restart "see stderr"; exit 1; }
}

# tunnel_client NAME MODE RELOAD-LINES...: a tunnel to the echo origin opened before
# a reload to base_cfg + RELOAD-LINES, used after it; sets $tunnel_result.
tunnel_client() {
    local name=$1 mode=$2 sync="$out/sync.$1" i pid
    shift 2
    mkdir -p "$sync"
    python3 "$HELPER" tunnel "$DG_PROXY_PORT" www.insecure.world.test "$P_ECHO" "$sync" "$mode" \
        >"$out/$name.result" 2>"$out/$name.err" &
    pid=$!
    for ((i = 0; i < 100; i++)); do
        [ -e "$sync/ready" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -e "$sync/ready" ] && reload_to "$name" "$@"
    touch "$sync/go"
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    tunnel_result=$(head -c 300 "$out/$name.result")
}

# --- defect 2: buffers keep the size they were allocated with -----------------------------
tunnel_client buffer_reload data "proxy.buffer_size: 4m"
case $tunnel_result in
OK*) pass tunnel_intact_after_buffer_size_reload ;;
*) fail tunnel_intact_after_buffer_size_reload "$tunnel_result $(head -c 200 "$out/buffer_reload.err")" ;;
esac
dg_alive alive_after_buffer_size_reload
dg_log_clean no_sanitizer_report_after_buffer_size_reload
# and the other way round: opened at 4m, carried at 1k
dg_ensure "proxy.buffer_size: 4m"
tunnel_client buffer_shrink data "proxy.buffer_size: 1k"
case $tunnel_result in
OK*) pass tunnel_intact_after_buffer_size_shrink ;;
*) fail tunnel_intact_after_buffer_size_shrink "$tunnel_result" ;;
esac

# --- defect 3: a refused plain-HTTP request whose body keeps coming -----------------------
dg_ensure
reload_to refused_body_reload "proxy.buffer_size: 256k"
codes=$(timeout 120 python3 "$HELPER" refused-body "$DG_PROXY_PORT" "r$$-{}.insecure.world.test" 80 20 2>&1)
bad=$(tr ' ' '\n' <<<"$codes" | grep -cvE '^(502|503|504|403)$')
[ -n "$codes" ] && [ "$bad" = 0 ] && pass http_refused_while_body_streams ||
    fail http_refused_while_body_streams "status codes: $codes"
dg_alive alive_after_refused_bodies
dg_log_clean no_sanitizer_report_after_refused_bodies

# --- defect 6: HEAD and other bodiless responses on the plain-HTTP path -------------------
dg_ensure
O="http://www.insecure.world.test:$P_RAW"
# Two requests on one connection: the second is only answered once the proxy has
# seen the first response end (a HEAD response read as having a body never does).
t0=$(date +%s%N)
pcurl --max-time 6 --head "$O/head-only" "$O/head-only" >"$out/head.h" 2>"$out/head.err"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(grep -c '^HTTP/1.1 200' "$out/head.h")" = 2 ] && [ "$ms" -lt 5000 ] &&
    grep -qi '^content-length: 100' "$out/head.h" && pass http_head_returns_promptly ||
    fail http_head_returns_promptly "$(grep -c '^HTTP/1.1 200' "$out/head.h") answers after ${ms} ms $(head -c 200 "$out/head.err")"
got=$(timeout 20 python3 "$HELPER" pipeline-head "$DG_PROXY_PORT" "$O" 2>&1)
[ "$got" = "200 200 bravo from the origin" ] && pass http_head_appended_bytes_not_a_response ||
    fail http_head_appended_bytes_not_a_response "$got"
codes=$(pcurl --max-time 6 -o /dev/null -o /dev/null -w '%{http_code} ' "$O/204" "$O/b" 2>&1)
[ "$codes" = "204 200 " ] && pass http_204_returns_promptly || fail http_204_returns_promptly "codes: $codes"
body=$(pcurl --max-time 5 "$O/interim" 2>&1)
[ "$body" = final ] && pass http_interim_then_final || fail http_interim_then_final "$body"
pcurl --max-time 5 -D "$out/split.h" "$O/split" >"$out/split.body" 2>&1
[ "$(cat "$out/split.body")" = split ] && grep -qi '^content-type: text/plain' "$out/split.h" &&
    [ "$(grep -ci '^HTTP/1' "$out/split.h")" = 1 ] && pass http_head_in_two_writes ||
    fail http_head_in_two_writes "$(head -c 200 "$out/split.h" "$out/split.body" | tr '\r\n' '  ')"

# --- the refusal page, larger than a TLS record, arrives whole ----------------------------
dg_ensure
code=$(pcurl --cacert "$DGCA" -o "$out/big.body" -w '%{http_code}' \
    "https://bigtlsa.secure.world.test:$P_BIG/" 2>"$out/big.err")
rc=$?
size=$(stat -c %s "$out/big.body" 2>/dev/null || echo 0)
if [ "$rc" = 0 ] && [ "$code" = 502 ] && [ "$size" -gt 16384 ] && grep -q '</html>' "$out/big.body" &&
    grep -q "${big_tlsa[23]:0:64}" "$out/big.body"; then
    pass refusal_page_written_whole
else
    fail refusal_page_written_whole "curl rc=$rc code=$code size=$size $(head -c 200 "$out/big.err")"
fi

# --- the CA's fingerprint: onboarding page and log ----------------------------------------
fpr=$(openssl x509 -noout -fingerprint -sha256 -in "$DGCA" | sed 's/.*=//')
curl -sS --max-time 10 "$DG/" >"$out/onb.html" 2>&1
grep -qF "$fpr" "$out/onb.html" && grep -q 'openssl x509 -noout -fingerprint -sha256' "$out/onb.html" &&
    pass onboarding_shows_ca_fingerprint || fail onboarding_shows_ca_fingerprint "want $fpr"
grep -qF "SHA-256 fingerprint $fpr" "$WORLD_DIR/daneguard.log" && pass log_shows_ca_fingerprint ||
    fail log_shows_ca_fingerprint "no 'SHA-256 fingerprint $fpr' line"

# --- intercept: all uses the DANE engine's PKIX rules; trust_store reloads ---------------
# (a daneguard started with intercept: all and the test root, so that the check
# of the leaf does not depend on a reload)
world_daneguard_stop
mv "$WORLD_DIR/daneguard.log" "$WORLD_DIR/daneguard.log.dane"
all_cfg=("proxy.intercept: all" "proxy.trust_store: \"$PKI/bundle.pem\"")
world_daneguard_config "$CFG" "${base_cfg[@]}" "${all_cfg[@]}"
world_daneguard_start "$CFG" -v -v || { fail daneguard_start_all "see stderr"; exit 1; }
code=$(pcurl --cacert "$DGCA" -o "$out/ins0.body" -w '%{http_code}' "https://www.insecure.world.test:$P_INS/" 2>/dev/null)
[ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/ins0.body" && pass all_pkix_intercepted ||
    fail all_pkix_intercepted "code=$code"
code=$(pcurl --cacert "$DGCA" -o "$out/eku.body" -w '%{http_code}' "https://eku.insecure.world.test:$P_EKU/" 2>/dev/null)
[ "$code" = 502 ] && grep -qi 'key usage' "$out/eku.body" && pass all_leaf_without_server_auth_refused ||
    fail all_leaf_without_server_auth_refused "code=$code $(grep -o 'PKIX[^<]*' "$out/eku.body" | head -1)"
reload_to reload_all_wrong_trust "proxy.intercept: all" "proxy.trust_store: \"$DGCA\""
code=$(pcurl --cacert "$DGCA" -o "$out/ins1.body" -w '%{http_code}' "https://www.insecure.world.test:$P_INS/" 2>/dev/null)
[ "$code" = 502 ] && pass reload_rereads_trust_store ||
    fail reload_rereads_trust_store "code=$code after a reload to a trust store without the test root"
reload_to reload_all_trust "${all_cfg[@]}"
code=$(pcurl --cacert "$DGCA" -o "$out/ins2.body" -w '%{http_code}' "https://www.insecure.world.test:$P_INS/" 2>/dev/null)
[ "$code" = 200 ] && pass reload_rereads_trust_store_back ||
    fail reload_rereads_trust_store_back "code=$code after the reload back to the test root"

# --- cert_cache_entries reloads --------------------------------------------------------------
minted() { curl -sS --max-time 10 "$DG/status.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["certs"]["minted"])'; }
reload_to reload_cache "${all_cfg[@]}" "proxy.cert_cache_entries: 1"
m0=$(minted)
for h in www eku www eku; do
    p=$P_INS
    [ $h = eku ] && p=$P_EKU
    pcurl --cacert "$DGCA" -o /dev/null "https://$h.insecure.world.test:$p/" 2>/dev/null
done
m1=$(minted)
[ -n "$m0" ] && [ -n "$m1" ] && [ $((m1 - m0)) -ge 3 ] && pass reload_resizes_cert_cache ||
    fail reload_resizes_cert_cache "minted $m0 -> $m1 for 4 alternating hosts with cert_cache_entries 1"

# --- ca_dir reloads; one it cannot open is refused with the key named --------------------------
reload_to reload_ca_dir "proxy.ca_dir: \"$WORLD_DIR/ca2\""
curl -sS --max-time 10 "$DG/ca.crt" >"$out/ca2.pem" 2>&1
if [ -s "$WORLD_DIR/ca2/ca.crt" ] && cmp -s "$out/ca2.pem" "$WORLD_DIR/ca2/ca.crt" && ! cmp -s "$out/ca2.pem" "$DGCA"; then
    pass reload_opens_new_ca_dir
else
    fail reload_opens_new_ca_dir "/ca.crt is not $WORLD_DIR/ca2/ca.crt"
fi
code=$(pcurl --cacert "$WORLD_DIR/ca2/ca.crt" -o /dev/null -w '%{http_code}' "https://bigtlsa.secure.world.test:$P_BIG/" 2>/dev/null)
[ "$code" = 502 ] && pass new_ca_signs_after_reload || fail new_ca_signs_after_reload "code=$code"
: >"$WORLD_DIR/not-a-dir"
n=$(grep -c 'reload failed' "$WORLD_DIR/daneguard.log")
world_daneguard_config "$CFG" "${base_cfg[@]}" "proxy.ca_dir: \"$WORLD_DIR/not-a-dir\"" "proxy.buffer_size: 2k"
kill -HUP "$DG_PID"
for ((i = 0; i < 50; i++)); do
    [ "$(grep -c 'reload failed' "$WORLD_DIR/daneguard.log")" -gt "$n" ] && break
    sleep 0.1
done
line=$(grep 'reload failed' "$WORLD_DIR/daneguard.log" | tail -1)
curl -sS --max-time 10 "$DG/ca.crt" >"$out/ca3.pem" 2>&1
[[ $line == *proxy.ca_dir* ]] && cmp -s "$out/ca3.pem" "$WORLD_DIR/ca2/ca.crt" &&
    pass reload_bad_ca_dir_refused_naming_it || fail reload_bad_ca_dir_refused_naming_it "log: $line"

# --- allow applies to open connections on reload ----------------------------------------------
reload_to reload_back
tunnel_client allow_reload closed "proxy.allow: [10.0.0.0/8]"
[ "$tunnel_result" = CLOSED ] && pass reload_closes_connections_outside_allow ||
    fail reload_closes_connections_outside_allow "$tunnel_result"
grep -q 'no longer in allow' "$WORLD_DIR/daneguard.log" && pass reload_logs_closed_connections ||
    fail reload_logs_closed_connections "no log line"

dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
