#!/usr/bin/env bash
# tests/e2e/proxy_pages.sh — what a person sees: each refusal class through the
# proxy with curl (its status, words, colour class, no TLSA rows where none
# belong), the operator's command run as printed, the counts and the two event
# lists of /status.json (a burst of ordinary errors does not push a DANE
# refusal out), /status's new sections, the daneguard-dane response header
# (HTTP/1.1 from openssl s_server, HTTP/2 from nginx), and headless Chromium
# screenshots of the mismatch, no-such-name and port pages and of /status at
# 1280 and 390 pixels wide, checked for their colour, their words (OCR) and
# for nothing overflowing the window's right edge.
# Prints "PASS name" / "FAIL name: why". Screenshots stay in $PAGES_SHOTS
# (default /tmp/daneguard-pages-shots) for a person to look at.
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

chromium_bin=$(command -v chromium || command -v chromium-browser || true)
SHOTS=${PAGES_SHOTS:-/tmp/daneguard-pages-shots}
rm -rf "$SHOTS" && mkdir -p "$SHOTS"

P_EE=$(pick_port); ports+=("$P_EE")
P_MISM=$(pick_port); ports+=("$P_MISM")
P_H2=$(pick_port); ports+=("$P_H2")
P_DEAD=$(pick_port); ports+=("$P_DEAD") # nothing listens there

WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf ee ee.secure.world.test ec && pki_leaf mism mism.secure.world.test ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H_EE=$(spki_sha256 "$PKI/ee.pem")
H_MISM=$(spki_sha256 "$PKI/mism.pem")
WORLD_DIR=
world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    echo "ee IN A 127.0.0.80"
    echo "mism IN A 127.0.0.80"
    echo "_$P_EE._tcp.ee IN TLSA 3 1 1 $H_EE"
    echo "_$P_H2._tcp.ee IN TLSA 3 1 1 $H_EE"
    echo "_$P_MISM._tcp.mism IN TLSA 3 1 1 $H_EE"
}
world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
CFG=$WORLD_DIR/dg.yml
world_daneguard_config "$CFG" "proxy.allowed_ports: [443, $P_EE, $P_MISM, $P_H2, $P_DEAD]"
world_daneguard_start "$CFG" -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt
origin_sserver o_ee 127.0.0.80 "$P_EE" ee && origin_sserver o_mism 127.0.0.80 "$P_MISM" mism ||
    { fail origins "did not start"; exit 1; }
out=$WORLD_DIR/out
mkdir -p "$out"
S=secure.world.test

# page NAME URL: the response head in $out/NAME.head, body in $out/NAME.body,
# CODE the status, CCODE the CONNECT's status.
page() {
    local name=$1 url=$2 w
    w=$(pcurl --cacert "$DGCA" -D "$out/$name.head" -o "$out/$name.body" \
        -w '%{http_code} %{http_connect}' "$url" 2>"$out/$name.err")
    CODE=${w% *}
    CCODE=${w#* }
}
has() { # NAME TEXT...: every TEXT in the body
    local f=$out/$1.body t
    shift
    for t in "$@"; do grep -qF -- "$t" "$f" 2>/dev/null || { MISSING="[$t]"; return 1; }; done
}
lacks() { # NAME TEXT...: no TEXT in the body
    local f=$out/$1.body t
    shift
    for t in "$@"; do ! grep -qF -- "$t" "$f" 2>/dev/null || { MISSING="has [$t]"; return 1; }; done
}
MISSING=
why() { echo "code=$CODE connect=$CCODE $MISSING $(head -c 200 "$out/$1.err") $(grep -o '<h1>.*</h1>' "$out/$1.body" 2>/dev/null | head -1)"; }

# --- each class, through the proxy ---------------------------------------------------------
page dane_ok "https://ee.$S:$P_EE/"
[ "$CODE" = 200 ] && grep -qi "^daneguard-dane: 3 1 1 matched at depth 0" "$out/dane_ok.head" &&
    pass dane_header_http1 || fail dane_header_http1 "code=$CODE head: $(tr '\r\n' '  ' <"$out/dane_ok.head")"

page mism "https://mism.$S:$P_MISM/"
[ "$CODE" = 502 ] && has mism 'data-class="dane"' 'class="box cls-dane"' \
    "its certificate does not match the site's DANE records." "DANE mismatch" \
    "the attack DANE protects you from" "_$P_MISM._tcp.mism.$S. IN TLSA 3 1 1 $H_MISM" &&
    grep -qi '^daneguard-refusal: dane' "$out/mism.head" &&
    pass page_dane_mismatch || fail page_dane_mismatch "$(why mism)"

# The operator's command, as printed, works on this host.
cmd=$(sed -n 's/.*<pre class="cmd">\(.*\)<\/pre>.*/\1/p' "$out/mism.body" | head -1 |
    sed "s/&#39;/'/g; s/&quot;/\"/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g")
if [ -n "$cmd" ]; then
    echo "operator command: $cmd" >"$out/cmd.log"
    (eval "timeout 30 $cmd") >>"$out/cmd.log" 2>&1
    rc=$?
fi
[[ ${cmd:-} == "$PWD/build/daneguard check mism.$S $P_MISM -c $CFG" || ${cmd:-} == "${DANEGUARD_BIN:-}"* ]] &&
    [ "${rc:-x}" = 1 ] && grep -q "$H_MISM" "$out/cmd.log" && ! grep -q "cannot open" "$out/cmd.log" &&
    pass operator_command_runs_as_printed ||
    fail operator_command_runs_as_printed "rc=${rc:-none} $(head -c 400 "$out/cmd.log" | tr '\n' ' ')"

page bogus "https://www.bogus.world.test:$P_EE/"
[ "$CODE" = 502 ] && has bogus 'class="box cls-dnssec"' "its DNSSEC signatures do not validate." \
    "fetched no certificate" && lacks bogus "the attack DANE protects" &&
    pass page_dnssec_bogus || fail page_dnssec_bogus "$(why bogus)"

page nx_connect "https://nosuchhost.world.test/"
[ "$CCODE" = 502 ] && [ ! -s "$out/nx_connect.body" ] &&
    pass nxdomain_connect_plain_error || fail nxdomain_connect_plain_error "$(why nx_connect)"

page nx_http "http://typo.world.test/"
[ "$CODE" = 502 ] && has nx_http 'class="box cls-nxdomain"' "</code> does not exist." \
    "Check the spelling" && lacks nx_http "_80._tcp" "TLSA" "attack" "verified" &&
    pass page_nxdomain_http || fail page_nxdomain_http "$(why nx_http)"

page dead_http "http://www.$S:$P_DEAD/"
[ "$CODE" = 502 ] && has dead_http 'class="box cls-unreachable"' "daneguard cannot reach" &&
    lacks dead_http "TLSA" "attack" && pass page_unreachable_http ||
    fail page_unreachable_http "$(why dead_http)"

page port_http "http://www.$S:81/"
[ "$CODE" = 403 ] && has port_http 'class="box cls-port"' "Port 81 is not allowed through daneguard." \
    "<strong>80, 1024-65535</strong>" "proxy.http_ports" && lacks port_http "TLSA" &&
    pass page_port_http || fail page_port_http "$(why port_http)"

page port_connect "https://www.$S:81/"
[ "$CCODE" = 403 ] && pass port_connect_refused || fail port_connect_refused "$(why port_connect)"
# curl does not show a CONNECT's body: the raw answer names the allowed ports.
raw=$(python3 - 127.0.0.1 "$DG_PROXY_PORT" "www.$S:81" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[3], sys.argv[3])).encode())
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.decode("utf-8", "replace"))
EOF
)
[[ $raw == "HTTP/1.1 403"* && $raw == *"allowed: 443, $P_EE, $P_MISM"* ]] &&
    pass port_connect_names_allowed_ports || fail port_connect_names_allowed_ports "$(head -c 300 <<<"$raw")"

# --- HTTP/2: nginx behind a DANE record ------------------------------------------------------
if command -v nginx >/dev/null; then
    n=$WORLD_DIR/nginx
    mkdir -p "$n"
    cat "$PKI/ee.pem" "$PKI/inter.pem" >"$PKI/ee.full.pem"
    cat >"$n/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $n/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $n/body;
    proxy_temp_path $n/proxy;
    fastcgi_temp_path $n/fastcgi;
    uwsgi_temp_path $n/uwsgi;
    scgi_temp_path $n/scgi;
    server {
        listen 127.0.0.80:$P_H2 ssl http2;
        ssl_certificate $PKI/ee.full.pem;
        ssl_certificate_key $PKI/ee.key;
        default_type text/plain;
        location / { add_header x-origin nginx; return 200 "h2 origin \$server_protocol\n"; }
    }
}
EOF
    world_spawn nginx timeout 600 nginx -e "$n/error.log" -p "$n" -c "$n/nginx.conf"
    if wait_listen "$P_H2"; then
        for i in 1 2; do # two requests on one connection: both responses carry it
            echo "https://ee.$S:$P_H2/r$i"
        done >"$out/h2.urls"
        pcurl --http2 --cacert "$DGCA" -D "$out/h2.head" -o "$out/h2.body" \
            "https://ee.$S:$P_H2/r1" "https://ee.$S:$P_H2/r2" 2>"$out/h2.err"
        [ "$(grep -ci '^HTTP/2 200' "$out/h2.head")" = 2 ] &&
            [ "$(grep -ci '^daneguard-dane: 3 1 1 matched at depth 0' "$out/h2.head")" = 2 ] &&
            [ "$(grep -ci '^x-origin: nginx' "$out/h2.head")" = 2 ] &&
            grep -q "h2 origin HTTP/2.0" "$out/h2.body" &&
            pass dane_header_http2 || fail dane_header_http2 "$(tr '\r\n' '  ' <"$out/h2.head" | head -c 400) $(head -c 200 "$out/h2.err")"
    else
        fail dane_header_http2 "nginx did not listen: $(tail -2 "$n/error.log")"
    fi
else
    fail dane_header_http2 "nginx missing (nginx-light)"
fi

# --- counts and lists ---------------------------------------------------------------------
st=$(curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/status.json")
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1" <<<"$st"; }
ev=$(jq_py 'd["events"]["dane_refusals"], d["events"]["dnssec_failures"], d["events"]["ordinary_errors"]' 2>&1)
[ "$ev" = "(1, 1, 6)" ] && pass status_counts_apart || fail status_counts_apart "dane, dnssec, ordinary = $ev"
lists=$(jq_py '[e["host"] for e in d["recent_refusals"]], [e["class"] for e in d["recent_errors"]]' 2>&1)
ok=$(jq_py '[e["host"] for e in d["recent_refusals"]] == ["www.bogus.world.test", "mism.'$S'"] and "typo.world.test" in [e["host"] for e in d["recent_errors"]]' 2>&1)
[ "$ok" = True ] &&
    pass status_two_lists || fail status_two_lists "$lists"
# A burst of background noise (40 names that do not exist) keeps the DANE refusal listed.
noise=()
for i in $(seq 1 40); do
    # curl itself, not the pcurl function: a backgrounded function is a subshell
    # that would run world_trap's EXIT handler (and stop the world) when it ends
    curl -sS --max-time 20 -x "http://127.0.0.1:$DG_PROXY_PORT" -o /dev/null \
        "http://noise$i.world.test/" 2>/dev/null &
    noise+=("$!")
    if [ $((i % 8)) = 0 ]; then
        wait "${noise[@]}" # these only: a bare wait would wait for the world's servers
        noise=()
    fi
done
st=$(curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/status.json")
keep=$(jq_py '"mism.'$S'" in [e["host"] for e in d["recent_refusals"]], len(d["recent_errors"]), d["events"]["ordinary_errors"]' 2>&1)
[ "$keep" = "(True, 20, 46)" ] && pass dane_refusal_survives_noise || fail dane_refusal_survives_noise "$keep"
keys=$(jq_py 'd["proxy"]["refused"] >= 3, d["dns"]["queries"] > 0, "minted" in d["certs"], d["version"] != "", d["dns"]["bogus"] >= 1, len(d["minutes"])' 2>&1)
[ "$keys" = "(True, True, True, True, True, 60)" ] && pass status_json_keys || fail status_json_keys "$keys"

curl -sS --max-time 5 -o "$out/status.html" "http://127.0.0.1:$DG_PROXY_PORT/status"
fp=$(openssl x509 -in "$DGCA" -noout -fingerprint -sha256 | sed 's/.*=//')
up="${WORLD_NS_ADDR}:${WORLD_NS_PORT}"
shas() { grep -qF -- "$1" "$out/status.html" || { MISSING="[$1]"; return 1; }; }
MISSING=
shas "<code id=\"version\">" && shas "<code id=\"ca-fingerprint\">$fp</code>" && shas "$up" &&
    shas "udp,tcp" && shas "answering: srtt" && shas "<svg class=\"chart\"" &&
    shas "<th>DANE refusals</th><td class=\"n\">1</td>" && shas "DNSSEC bogus answers" &&
    shas "Negative trust anchors" && ! grep -q "break-all\|th{width:16rem" "$out/status.html" &&
    pass status_page_sections || fail status_page_sections "missing $MISSING"

# --- screenshots -------------------------------------------------------------------------------
if [ -z "$chromium_bin" ]; then
    fail screenshots "chromium not installed"
else
    SPKI=$(openssl x509 -in "$DGCA" -noout -pubkey | openssl pkey -pubin -outform DER |
        openssl dgst -sha256 -binary | base64)
    # shot NAME WIDTH URL [HEIGHT]: $SHOTS/NAME-WIDTH.png
    shot() {
        local name=$1 width=$2 url=$3 height=${4:-900} profile
        profile=$(mktemp -d "$WORLD_DIR/profile.XXXXXX")
        timeout -k 5 60 "$chromium_bin" --headless --no-sandbox --disable-gpu \
            --no-first-run --disable-background-networking --disable-component-update \
            --disable-sync --user-data-dir="$profile" --hide-scrollbars \
            --proxy-server="http://127.0.0.1:$DG_PROXY_PORT" \
            --ignore-certificate-errors-spki-list="$SPKI" \
            --window-size="$width,$height" --screenshot="$SHOTS/$name-$width.png" "$url" \
            >"$out/shot-$name-$width.log" 2>&1 &
        WORLD_PIDS+=("$!")
        wait $!
    }
    # check_shot NAME WIDTH COLOUR WORDS...: the class colour is there, nothing
    # but background in the 6 rightmost columns, and the words OCR reads.
    check_shot() {
        local name=$1 width=$2 colour=$3 f n e t txt
        shift 3
        f=$SHOTS/$name-$width.png
        [ -s "$f" ] || { fail "shot_${name}_$width" "no screenshot: $(tail -2 "$out/shot-$name-$width.log")"; return; }
        n=$(nice python3 tests/e2e/png_check.py "$f" count "$colour")
        e=$(nice python3 tests/e2e/png_check.py "$f" edge 6)
        txt=""
        if command -v tesseract >/dev/null; then
            tesseract "$f" "$out/ocr-$name-$width" >/dev/null 2>&1
            txt=$(tr -s ' \n' ' ' <"$out/ocr-$name-$width.txt")
        fi
        for t in "$@"; do
            grep -qiF -- "$t" <<<"$txt" || { fail "shot_${name}_$width" "OCR lacks [$t]: $(head -c 300 <<<"$txt")"; return; }
        done
        if [ "${n:-0}" -ge 100 ] && [ "${e:-1}" = 0 ]; then
            pass "shot_${name}_$width"
        else
            fail "shot_${name}_$width" "colour $colour pixels=$n, non-background pixels at the right edge=$e"
        fi
    }
    for w in 1280 390; do
        tall=2600
        [ "$w" = 390 ] && tall=6000 # the whole status page, lists included
        shot mismatch "$w" "https://mism.$S:$P_MISM/" 1800
        check_shot mismatch "$w" b3261e "daneguard refused" "DANE records." "For the operator"
        shot nxdomain "$w" "http://typo.world.test/"
        check_shot nxdomain "$w" 546e7a "does not exist"
        shot port "$w" "http://www.$S:81/"
        check_shot port "$w" 1f5fa8 "is not allowed"
        shot status "$w" "http://127.0.0.1:$DG_PROXY_PORT/status" "$tall"
        check_shot status "$w" b3261e "daneguard status" "Upstream resolvers" \
            "Recent DANE and DNSSEC refusals" "Recent ordinary errors"
    done
fi

dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
echo "screenshots: $SHOTS"
proxy_finish
