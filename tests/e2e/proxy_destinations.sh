#!/usr/bin/env bash
# tests/e2e/proxy_destinations.sh — issue 8, defect 4 (SSRF, DNS rebinding): the
# proxy decides on the address it would connect to, not the name.
#
# A "loopback-only" service (tests/e2e/proxy_local.py server) listens on
# 127.0.0.1, 127.0.0.80 and ::1 at one port and logs every connection it gets.
# With proxy.allow_destinations empty, each of these is answered 403 with a
# one-line text/plain body naming the address and the key, and the service sees
# no connection at all:
#   GET http://127.0.0.1:P/, http://[::ffff:127.0.0.1]:P/, http://[::1]:P/,
#   http://0.0.0.0:P/, http://[::]:P/, http://0x7f000001:P/ (inet_aton spelling)
#   CONNECT 127.0.0.1:443, CONNECT 127.0.0.1:P, CONNECT [::ffff:127.0.0.1]:P
#   www.world.test (A 127.0.0.80, AAAA ::1: a public name rebound to this
#   machine), by CONNECT and by plain HTTP
# and http://2130706433:P/, http://127.1:P/ are refused (400 or 403) too.
# Plain HTTP to a port outside proxy.http_ports is 403 naming that key. Then,
# after a reload with allow_destinations [127.0.0.0/8, ::1/128], the same
# requests reach the service; with [127.0.0.80/32] only, www.world.test is
# reached on 127.0.0.80 and ::1 is never tried. Finally the PAC files (the one
# daneguard serves and conf/proxy.pac) send private ranges and plain names
# DIRECT (node evaluates them; skipped without node).
# Prints "PASS name" / "FAIL name: why". Loopback only: every address the test
# asks for is a loopback or unspecified one, so even a proxy that does not
# refuse them connects nowhere else.
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

world_start || { echo "FAIL world_start: see stderr"; exit 1; }
P=$(world_free_port 127.0.0.1 127.0.0.80 ::1) || { echo "FAIL port: none free"; exit 1; }
P_OFF=$(world_free_port 127.0.0.1) # a port outside http_ports
SLOG=$WORLD_DIR/local-service.log
: >"$SLOG"
world_spawn local_service timeout 900 python3 tests/e2e/proxy_local.py server \
    127.0.0.1,127.0.0.80,::1 "$P" "$SLOG"
wait_listen "$P" || { fail local_service "did not listen on $P"; exit 1; }

CFG=$WORLD_DIR/dg.yml
base_cfg=("proxy.allowed_ports: [443, $P]" "proxy.http_ports: [80, $P]")
world_daneguard_config "$CFG" "${base_cfg[@]}" "proxy.allow_destinations: []"
world_daneguard_start "$CFG" -v || { fail daneguard_start "see stderr"; exit 1; }

req() { timeout 20 python3 tests/e2e/proxy_local.py request "$DG_PROXY_PORT" 127.0.0.1 "$1"; }
accepts() { grep -c '^accept' "$SLOG"; }

# expect_403 NAME TARGET ADDR_RE: 403, one line naming the address and the key
expect_403() {
    local name=$1 target=$2 addr=$3 r re
    re="^403 daneguard: ($addr) is (a|an) [a-zA-Z0-9 ()./-]+; add it to proxy\\.allow_destinations to allow it\\\\n\$"
    r=$(req "$target")
    if [[ $r =~ $re ]]; then
        pass "$name"
    else
        fail "$name" "got: $r"
    fi
}

# --- allow_destinations empty: nothing local is reached -----------------------------
n0=$(accepts)
expect_403 http_loopback_literal_403 "http://127.0.0.1:$P/" '127\.0\.0\.1'
expect_403 http_v4mapped_literal_403 "http://[::ffff:127.0.0.1]:$P/" '::ffff:127\.0\.0\.1'
expect_403 http_v6_loopback_literal_403 "http://[::1]:$P/" '::1'
expect_403 http_unspecified_v4_403 "http://0.0.0.0:$P/" '0\.0\.0\.0'
expect_403 http_unspecified_v6_403 "http://[::]:$P/" '::'
expect_403 http_hex_ipv4_spelling_403 "http://0x7f000001:$P/" '127\.0\.0\.1'
expect_403 connect_loopback_443_403 "127.0.0.1:443" '127\.0\.0\.1'
expect_403 connect_loopback_literal_403 "127.0.0.1:$P" '127\.0\.0\.1'
expect_403 connect_v4mapped_literal_403 "[::ffff:127.0.0.1]:$P" '::ffff:127\.0\.0\.1'
expect_403 connect_rebound_name_403 "www.world.test:$P" '127\.0\.0\.80|::1'
expect_403 http_rebound_name_403 "http://www.world.test:$P/" '127\.0\.0\.80|::1'
for t in "http://2130706433:$P/" "http://127.1:$P/" "http://0177.0.0.1:$P/"; do
    r=$(req "$t")
    [[ $r == 400\ * || $r == 403\ * ]] && pass "other_ipv4_spelling_refused ${t%%:$P/}" ||
        fail "other_ipv4_spelling_refused ${t%%:$P/}" "got: $r"
done
grep -q 'refused: 127.0.0.1 is a loopback address (not in proxy.allow_destinations)' \
    "$WORLD_DIR/daneguard.log" && pass refusal_logged ||
    fail refusal_logged "no log line: $(grep -m3 "allow_destinations" "$WORLD_DIR/daneguard.log" | tr "\n" " ")"
sleep 0.5
n1=$(accepts)
[ "$n1" = "$n0" ] && pass local_service_never_reached ||
    fail local_service_never_reached "$((n1 - n0)) connection(s): $(tail -n 3 "$SLOG" | tr '\n' ' ')"

r=$(req "http://127.0.0.1:$P_OFF/")
# a browser shows this one: the port page, naming the key and the ports allowed
[[ $r == "403 <!DOCTYPE html>"* && $r == *'class="box cls-port"'* &&
    $r == *"Port $P_OFF is not allowed through daneguard."* && $r == *"proxy.http_ports"* ]] &&
    pass http_port_not_in_http_ports_403 || fail http_port_not_in_http_ports_403 "got: $r"
r=$(req "127.0.0.1:25")
[[ $r =~ ^"403 daneguard: CONNECT to port 25 is not allowed (allowed: 443"[0-9,\ ]*"); add it to proxy.allowed_ports to allow it\n"$ ]] &&
    pass connect_port_403_names_key || fail connect_port_403_names_key "got: $r"
# curl sees the status too (and the one-line text/plain body)
code=$(pcurl -o "$WORLD_DIR/curl.body" -D "$WORLD_DIR/curl.head" -w '%{http_code}' "http://127.0.0.1:$P/" 2>&1)
[ "$code" = 403 ] && grep -qi '^content-type: text/plain' "$WORLD_DIR/curl.head" &&
    [ "$(wc -l <"$WORLD_DIR/curl.body")" = 1 ] && pass curl_403_text_plain_one_line ||
    fail curl_403_text_plain_one_line "code $code, $(head -c 200 "$WORLD_DIR/curl.body")"

# --- allow_destinations names loopback: they work ------------------------------------------
if reload_to reload_allow "proxy.allow_destinations: [127.0.0.0/8, \"::1/128\"]"; then
    ok='^200 local secret\\n$'
    for t in "http://127.0.0.1:$P/" "http://[::ffff:127.0.0.1]:$P/" "http://[::1]:$P/" \
        "http://www.world.test:$P/" "127.0.0.1:$P" "www.world.test:$P"; do
        r=$(req "$t")
        [[ $r =~ $ok ]] && pass "allowed_reaches ${t}" || fail "allowed_reaches ${t}" "got: $r"
    done
    r=$(req "127.0.0.1:443") # nothing listens on 443: not a 403 any more
    [[ $r != 403* ]] && pass allowed_connect_443_not_forbidden || fail allowed_connect_443_not_forbidden "got: $r"
fi

# --- only 127.0.0.80 allowed: www.world.test goes there, never to ::1 -------------------------
if reload_to reload_partial "proxy.allow_destinations: [127.0.0.80/32]"; then
    : >"$SLOG"
    for t in "http://www.world.test:$P/" "www.world.test:$P"; do
        r=$(req "$t")
        [[ $r =~ ^200\ local\ secret ]] && pass "partial_allowed_reaches ${t}" ||
            fail "partial_allowed_reaches ${t}" "got: $r"
    done
    sleep 0.3
    [ "$(grep -c '^accept 127.0.0.80 ' "$SLOG")" -ge 2 ] && ! grep -q '^accept ::1 ' "$SLOG" &&
        pass partial_only_allowed_address_tried || fail partial_only_allowed_address_tried "$(tr '\n' ' ' <"$SLOG")"
    expect_403 partial_other_loopback_403 "http://127.0.0.1:$P/" '127\.0\.0\.1'
fi

# --- the PAC files send private ranges and plain names DIRECT --------------------------------
curl -sS --max-time 10 "http://127.0.0.1:$DG_PROXY_PORT/proxy.pac" >"$WORLD_DIR/served.pac" 2>&1
if command -v node >/dev/null; then
    cat >"$WORLD_DIR/pac.js" <<'EOF'
const fs = require('fs');
const src = fs.readFileSync(process.argv[2], 'utf8');
function isPlainHostName(h) { return h.indexOf('.') < 0 && h.indexOf(':') < 0; }
function dnsDomainIs(h, d) { return h.length >= d.length && h.slice(-d.length) === d; }
function shExpMatch(s, p) {
    return new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$').test(s);
}
function isInNet(h, net, mask) {
    const n = (a) => a.split('.').reduce((x, o) => (x * 256 + +o), 0);
    return ((n(h) & n(mask)) >>> 0) === ((n(net) & n(mask)) >>> 0);
}
function dnsResolve() { throw new Error('the PAC file resolved a name'); }
const FindProxyForURL = new Function('isPlainHostName', 'dnsDomainIs', 'shExpMatch', 'isInNet',
    'dnsResolve', 'isResolvable', src + '\nreturn FindProxyForURL;')(
    isPlainHostName, dnsDomainIs, shExpMatch, isInNet, dnsResolve, dnsResolve);
const P = 'PROXY';
const cases = [
    ['www.example.com', P], ['8.8.8.8', P], ['2001:db8::1', P], ['192.168.example.com', P],
    ['10.example.com', P], ['fd.example.com', P], ['100.63.0.1', P], ['172.32.0.1', P],
    ['router', 'DIRECT'], ['localhost', 'DIRECT'], ['127.0.0.1', 'DIRECT'], ['::1', 'DIRECT'],
    ['[::1]', 'DIRECT'], ['10.1.2.3', 'DIRECT'], ['172.16.0.1', 'DIRECT'], ['172.31.9.9', 'DIRECT'],
    ['192.168.1.20', 'DIRECT'], ['169.254.169.254', 'DIRECT'], ['100.64.0.1', 'DIRECT'],
    ['fd12:3456::1', 'DIRECT'], ['[fc00::1]', 'DIRECT'], ['fe80::1', 'DIRECT'], ['FE80::1', 'DIRECT'],
    ['[::ffff:192.168.1.1]', 'DIRECT'], ['nas.home.arpa', 'DIRECT'], ['printer.local', 'DIRECT'],
];
let bad = [];
for (const [h, want] of cases) {
    const got = FindProxyForURL('http://' + h + '/', h);
    if (!(want === 'DIRECT' ? got === 'DIRECT' : got.startsWith('PROXY ')))
        bad.push(h + ' -> ' + got + ' (want ' + want + ')');
}
if (bad.length) { console.log(bad.join('; ')); process.exit(1); }
EOF
    for pac in "$WORLD_DIR/served.pac" conf/proxy.pac; do
        name=pac_private_direct_$(basename "$pac" .pac)
        if out=$(node "$WORLD_DIR/pac.js" "$pac" 2>&1); then pass "$name"; else
            fail "$name" "$(echo "$out" | head -n 3 | tr '\n' ' ')"
        fi
    done
else
    skip pac_private_direct "node is missing"
fi

dg_stop_checked no_sanitizer_reports
proxy_finish
