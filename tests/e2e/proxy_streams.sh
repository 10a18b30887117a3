#!/usr/bin/env bash
# tests/e2e/proxy_streams.sh — what flows through an intercepted (DANE-EE)
# connection: HTTP/2 end to end (nginx with http2; curl --http2 sees HTTP/2 and
# ALPN h2, nginx logs HTTP/2.0) and HTTP/1.1 when the client asks for it, several
# h2 streams at once, clients offering only http/1.1 or no ALPN (daneguard
# reconnects to the site offering http/1.1), a slow chunked stream that keeps flowing for 5 s, an
# Upgrade: websocket exchange (101, then lines echoed a second apart), and a
# 256 MiB download whose SHA-256 matches the origin's file.
# Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

BIG_MIB=${BIG_MIB:-256}
P_H2=$(world_free_port 127.0.0.80)
P_ST=$(world_free_port 127.0.0.80)
[ "$P_H2" != "$P_ST" ] || P_ST=$(world_free_port 127.0.0.80)

WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf h2 h2.secure.world.test ec && pki_leaf st stream.secure.world.test rsa ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H_H2=$(spki_sha256 "$PKI/h2.pem")
H_ST=$(spki_sha256 "$PKI/st.pem")
WORLD_DIR=

world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    echo "h2 IN A 127.0.0.80"
    echo "stream IN A 127.0.0.80"
    echo "_$P_H2._tcp.h2 IN TLSA 3 1 1 $H_H2"
    echo "_$P_ST._tcp.stream IN TLSA 3 1 1 $H_ST"
}
world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki

world_daneguard_config "$WORLD_DIR/dg.yml" "proxy.allowed_ports: [443, $P_H2, $P_ST]"
world_daneguard_start "$WORLD_DIR/dg.yml" -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt
out=$WORLD_DIR/out
mkdir -p "$out" "$WORLD_DIR/www" "$WORLD_DIR/nginx"

# --- the origins -------------------------------------------------------------------
echo "hello from nginx" >"$WORLD_DIR/www/index.html"
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom >"$WORLD_DIR/www/big.bin"
BIG_SHA=$(sha256sum <"$WORLD_DIR/www/big.bin" | cut -d' ' -f1)
cat "$PKI/h2.pem" "$PKI/inter.pem" >"$PKI/h2.full.pem"
n=$WORLD_DIR/nginx
cat >"$n/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 256; }
http {
    default_type application/octet-stream;
    access_log $n/access.log;
    log_format proto '\$request \$server_protocol \$ssl_protocol \$status \$body_bytes_sent';
    client_body_temp_path $n/body;
    proxy_temp_path $n/proxy;
    fastcgi_temp_path $n/fastcgi;
    uwsgi_temp_path $n/uwsgi;
    scgi_temp_path $n/scgi;
    server {
        listen 127.0.0.80:$P_H2 ssl http2;
        server_name h2.secure.world.test;
        ssl_certificate $PKI/h2.full.pem;
        ssl_certificate_key $PKI/h2.key;
        access_log $n/proto.log proto;
        root $WORLD_DIR/www;
    }
}
EOF
world_spawn nginx timeout 900 nginx -e "$n/error.log" -p "$n" -c "$n/nginx.conf"
wait_listen "$P_H2" || { fail nginx "did not listen: $(tail -3 "$n/error.log" "$WORLD_DIR/nginx.log")"; exit 1; }
world_spawn origin_stream timeout 900 python3 tests/e2e/proxy_origin.py tls 127.0.0.80 "$P_ST" \
    "$PKI/st.pem" "$PKI/st.key" "$PKI/inter.pem"
wait_listen "$P_ST" || { fail origin_stream "did not listen"; exit 1; }

H2URL="https://h2.secure.world.test:$P_H2"
STURL="https://stream.secure.world.test:$P_ST"

# --- HTTP/2 ----------------------------------------------------------------------------
ver=$(pcurl --http2 --cacert "$DGCA" -v -o "$out/h2.body" -w '%{http_version}' "$H2URL/" 2>"$out/h2.err")
if [ "$ver" = 2 ] && grep -q 'hello from nginx' "$out/h2.body" &&
    grep -qE 'ALPN.*(accepted|server accepted).*h2' "$out/h2.err" &&
    tail -n 1 "$n/proto.log" | grep -q 'HTTP/2.0'; then
    pass http2_end_to_end
else
    fail http2_end_to_end "curl http_version=$ver, $(grep ALPN "$out/h2.err" | tr '\n' ' ') nginx: $(tail -n 1 "$n/proto.log" 2>/dev/null)"
fi
ver=$(pcurl --http1.1 --cacert "$DGCA" -o "$out/h1.body" -w '%{http_version}' "$H2URL/" 2>"$out/h1.err")
if [ "$ver" = 1.1 ] && grep -q 'hello from nginx' "$out/h1.body" &&
    tail -n 1 "$n/proto.log" | grep -q 'HTTP/1.1'; then
    pass http1_alpn_end_to_end
else
    fail http1_alpn_end_to_end "curl http_version=$ver nginx: $(tail -n 1 "$n/proto.log" 2>/dev/null)"
fi
ver=$(pcurl --no-alpn --cacert "$DGCA" -o "$out/na.body" -w '%{http_version}' "$H2URL/" 2>"$out/na.err")
if [ "$ver" = 1.1 ] && grep -q 'hello from nginx' "$out/na.body" &&
    tail -n 1 "$n/proto.log" | grep -q 'HTTP/1.1'; then
    pass no_alpn_client_gets_http1_upstream
else
    fail no_alpn_client_gets_http1_upstream "curl http_version=$ver nginx: $(tail -n 1 "$n/proto.log" 2>/dev/null)"
fi
# Four streams multiplexed on one h2 connection.
pcurl --http2 --cacert "$DGCA" -Z --parallel-max 4 -o "$out/m1" "$H2URL/" -o "$out/m2" "$H2URL/" \
    -o "$out/m3" "$H2URL/index.html" -o "$out/m4" "$H2URL/index.html" 2>"$out/m.err"
if [ "$(cat "$out"/m[1-4] 2>/dev/null | grep -c 'hello from nginx')" = 4 ]; then
    pass http2_parallel_streams
else
    fail http2_parallel_streams "$(head -c 200 "$out/m.err")"
fi

# --- a slow stream -------------------------------------------------------------------
t=$(pcurl --cacert "$DGCA" -o "$out/slow.body" -w '%{time_starttransfer} %{time_total}' "$STURL/slow" 2>"$out/slow.err")
first=${t% *}
total=${t#* }
if [ "$(grep -c '^tick ' "$out/slow.body")" = 10 ] &&
    awk -v f="$first" -v t="$total" 'BEGIN { exit !(f < 2.5 && t >= 4.5) }'; then
    pass slow_chunked_stream_flows
else
    fail slow_chunked_stream_flows "ticks=$(grep -c '^tick ' "$out/slow.body") first=$first total=$total $(head -c 200 "$out/slow.err")"
fi

# --- Upgrade: websocket, a long-lived two-way exchange --------------------------------
r=$(timeout 40 python3 tests/e2e/proxy_origin.py upgrade-client "$DG_PROXY_PORT" \
    stream.secure.world.test "$P_ST" "$DGCA" 2>&1)
[[ $r == OK* ]] && pass websocket_upgrade_echo_5s || fail websocket_upgrade_echo_5s "$r"

# --- 256 MiB ----------------------------------------------------------------------------
t0=$(date +%s.%N)
sum=$(PCURL_TIME=180 pcurl --cacert "$DGCA" "$H2URL/big.bin" 2>"$out/big.err" | sha256sum | cut -d' ' -f1)
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
if [ "$sum" = "$BIG_SHA" ]; then
    pass "download_${BIG_MIB}MiB_sha256_matches"
    echo "info: $BIG_MIB MiB through interception in $secs s ($(awk -v m="$BIG_MIB" -v s="$secs" 'BEGIN { printf "%.0f", m / s }') MiB/s)"
else
    fail "download_${BIG_MIB}MiB_sha256_matches" "after $secs s: $(head -c 200 "$out/big.err")"
fi
rm -f "$WORLD_DIR/www/big.bin"

dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
