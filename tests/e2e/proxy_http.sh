#!/usr/bin/env bash
# tests/e2e/proxy_http.sh — the proxy's plain-HTTP side and its own pages, with curl:
# absolute-URI GET (keep-alive, two URLs on one connection, a chunked response),
# POST with a Content-Length body and with a chunked body, a bogus host refused,
# the onboarding page, /ca.crt (PEM), /ca.der, /proxy.pac, /status and
# /status.json, both as origin-form requests and as absolute URIs for
# daneguard's own address; CONNECT to a port not allowed (403) and to
# daneguard's own listener (403); `allow` refusals (403) for CONNECT, plain
# HTTP and pages. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

world_start || { echo "FAIL world_start: see stderr"; exit 1; }
PH=$(world_free_port 127.0.0.80)
DG_PROXY_PORT=$(world_free_port 127.0.0.1)
export DG_PROXY_PORT
world_daneguard_config "$WORLD_DIR/dg.yml" "proxy.allowed_ports: [443, $DG_PROXY_PORT]"
world_daneguard_start "$WORLD_DIR/dg.yml" -v -v || { fail daneguard_start "see stderr"; exit 1; }
world_spawn origin_http timeout 900 python3 tests/e2e/proxy_origin.py http 127.0.0.80 "$PH"
wait_listen "$PH" || { fail origin "the HTTP origin did not listen"; exit 1; }
out=$WORLD_DIR/out
mkdir -p "$out"
O="http://www.insecure.world.test:$PH"
DG="http://127.0.0.1:$DG_PROXY_PORT"

# --- plain HTTP -------------------------------------------------------------------
body=$(pcurl "$O/a" 2>&1)
[ "$body" = "alpha from the origin" ] && pass http_get || fail http_get "$body"

pcurl -v "$O/a" "$O/b" >"$out/ka.body" 2>"$out/ka.err"
if grep -q 'alpha from the origin' "$out/ka.body" && grep -q 'bravo from the origin' "$out/ka.body" &&
    grep -qi 're-using existing connection' "$out/ka.err"; then
    pass http_keepalive_two_urls
else
    fail http_keepalive_two_urls "$(head -c 200 "$out/ka.body") $(grep -i 'connection' "$out/ka.err" | tail -3 | tr '\n' ' ')"
fi

# Two requests in one write (pipelining): both answered, in order.
pipe=$(python3 - "$DG_PROXY_PORT" "$O" <<'PY'
import socket, sys, time
port, origin = int(sys.argv[1]), sys.argv[2]
host = origin.split("//")[1]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
req = "".join("GET %s/%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (origin, p, host) for p in ("a", "b"))
s.sendall(req.encode())
data, end = b"", time.time() + 10
while b"bravo" not in data and time.time() < end:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print("ok" if data.find(b"alpha") >= 0 and data.find(b"alpha") < data.find(b"bravo") else data[:300])
PY
)
[ "$pipe" = ok ] && pass http_pipelined_two_requests || fail http_pipelined_two_requests "$pipe"

body=$(pcurl "$O/chunked" 2>&1)
[ "$(grep -c '^chunk ' <<<"$body")" = 5 ] && pass http_chunked_response || fail http_chunked_response "$body"

code=$(pcurl -o /dev/null -w '%{http_code}' "$O/nothing" 2>&1)
[ "$code" = 404 ] && pass http_origin_404_passed_on || fail http_origin_404_passed_on "code=$code"

head -c 300000 /dev/urandom >"$out/post.bin"
want="300000 $(sha256sum <"$out/post.bin" | cut -d' ' -f1)"
got=$(pcurl --data-binary @"$out/post.bin" "$O/echo" 2>&1)
[ "$got" = "$want" ] && pass http_post_body || fail http_post_body "got '$got' want '$want'"
got=$(pcurl -H 'Transfer-Encoding: chunked' --data-binary @"$out/post.bin" "$O/echo" 2>&1)
[ "$got" = "$want" ] && pass http_post_chunked_body || fail http_post_chunked_body "got '$got' want '$want'"

# POST then GET on one connection: the body must not leak into the next request.
pcurl -v --data-binary @"$out/post.bin" "$O/echo" --next -x "$DG" "$O/b" >"$out/pg.body" 2>"$out/pg.err"
if grep -qF "$want" "$out/pg.body" && grep -q 'bravo from the origin' "$out/pg.body"; then
    pass http_post_then_get_keepalive
else
    fail http_post_then_get_keepalive "$(head -c 200 "$out/pg.body")"
fi

code=$(pcurl -o "$out/bogus.body" -w '%{http_code}' "http://www.bogus.world.test:$PH/a" 2>&1)
[ "$code" = 502 ] && grep -qi bogus "$out/bogus.body" && pass http_bogus_host_refused ||
    fail http_bogus_host_refused "code=$code"

# --- daneguard's own pages -------------------------------------------------------------
check_pages() { # PREFIX CURLARGS...: PREFIX names the tests
    local p=$1
    shift
    curl -sS --max-time 10 "$@" "$DG/" >"$out/$p.onb" 2>&1
    grep -q 'ca.crt' "$out/$p.onb" && grep -q 'proxy.pac' "$out/$p.onb" && pass "${p}_onboarding" ||
        fail "${p}_onboarding" "$(head -c 200 "$out/$p.onb")"
    curl -sS --max-time 10 "$@" "$DG/ca.crt" >"$out/$p.pem" 2>&1
    if openssl x509 -in "$out/$p.pem" -noout 2>/dev/null &&
        [ "$(openssl x509 -in "$out/$p.pem" -outform DER | sha256sum)" = \
            "$(openssl x509 -in "$WORLD_DIR/ca/ca.crt" -outform DER | sha256sum)" ]; then
        pass "${p}_ca_pem"
    else
        fail "${p}_ca_pem" "not daneguard's CA in PEM: $(head -c 100 "$out/$p.pem")"
    fi
    curl -sS --max-time 10 "$@" "$DG/ca.der" >"$out/$p.der" 2>&1
    if [ "$(openssl x509 -inform DER -in "$out/$p.der" -outform DER 2>/dev/null | sha256sum)" = \
        "$(openssl x509 -in "$WORLD_DIR/ca/ca.crt" -outform DER | sha256sum)" ]; then
        pass "${p}_ca_der"
    else
        fail "${p}_ca_der" "not daneguard's CA in DER"
    fi
    curl -sS --max-time 10 "$@" -D "$out/$p.pac.h" "$DG/proxy.pac" >"$out/$p.pac" 2>&1
    grep -q FindProxyForURL "$out/$p.pac" && grep -q "PROXY 127.0.0.1:$DG_PROXY_PORT" "$out/$p.pac" &&
        grep -qi 'content-type: application/x-ns-proxy-autoconfig' "$out/$p.pac.h" &&
        pass "${p}_pac" || fail "${p}_pac" "$(head -c 200 "$out/$p.pac")"
    curl -sS --max-time 10 "$@" "$DG/status" >"$out/$p.st" 2>&1
    grep -qi 'status' "$out/$p.st" && grep -qi '<html' "$out/$p.st" && pass "${p}_status" ||
        fail "${p}_status" "$(head -c 200 "$out/$p.st")"
    curl -sS --max-time 10 "$@" "$DG/status.json" >"$out/$p.json" 2>&1
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out/$p.json" 2>/dev/null &&
        pass "${p}_status_json" || fail "${p}_status_json" "$(head -c 200 "$out/$p.json")"
}
check_pages page                 # origin-form: GET /ca.crt to daneguard itself
check_pages page_via_proxy -x "$DG" # absolute URI naming daneguard's own address

curl -sS --max-time 10 -v "$DG/proxy.pac" "$DG/ca.crt" >"$out/pka.body" 2>"$out/pka.err"
grep -q FindProxyForURL "$out/pka.body" && grep -q 'BEGIN CERTIFICATE' "$out/pka.body" &&
    grep -qi 're-using existing connection' "$out/pka.err" && pass page_keepalive_two_urls ||
    fail page_keepalive_two_urls "$(grep -i connection "$out/pka.err" | tail -3 | tr '\n' ' ')"

# --- ports ------------------------------------------------------------------------------
code=$(pcurl -o /dev/null -w '%{http_connect}' "https://www.secure.world.test:25/" 2>/dev/null)
[ "$code" = 403 ] && pass connect_port_25_forbidden || fail connect_port_25_forbidden "CONNECT answered $code"
code=$(pcurl -o /dev/null -w '%{http_connect}' "https://127.0.0.1:$DG_PROXY_PORT/" 2>/dev/null)
[ "$code" = 403 ] && pass connect_to_own_listener_forbidden ||
    fail connect_to_own_listener_forbidden "CONNECT answered $code"
dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports

# --- allow ---------------------------------------------------------------------------------
world_daneguard_config "$WORLD_DIR/dg2.yml" "proxy.allow: [10.0.0.0/8]"
world_daneguard_start "$WORLD_DIR/dg2.yml" -v -v || { fail daneguard_start_allow "see stderr"; exit 1; }
code=$(pcurl -o /dev/null -w '%{http_connect}' "https://www.secure.world.test:443/" 2>/dev/null)
[ "$code" = 403 ] && pass allow_refuses_connect || fail allow_refuses_connect "CONNECT answered $code"
code=$(pcurl -o /dev/null -w '%{http_code}' "$O/a" 2>/dev/null)
[ "$code" = 403 ] && pass allow_refuses_plain_http || fail allow_refuses_plain_http "answered $code"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$DG/ca.crt" 2>/dev/null)
[ "$code" = 403 ] && pass allow_refuses_pages || fail allow_refuses_pages "answered $code"
dg_stop_checked no_sanitizer_reports_allow
proxy_finish
