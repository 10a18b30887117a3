#!/usr/bin/env bash
# tests/e2e/proxy_exceptions.sh — proxy.exceptions (issue 13): hosts tunnelled
# untouched without DANE, with curl through daneguard.
#
# Hosts in secure.world.test whose TLSA records do not match their origins'
# certificates: mism (exact entry), a.exc and b.c.exc (below "*.exc"), exc
# itself (the bare suffix: not covered by "*.exc"), sib (a sibling: never
# listed). Cases: every one refused before; with the exceptions (SIGHUP) the
# listed ones tunnel and curl sees the origin's own certificate (trusting only
# the test root, not daneguard's CA), the others are still refused; an
# excepted host with bogus addresses is still refused; an excepted host whose
# address is not in allow_destinations gets 403; a port not in allowed_ports
# gets 403; each use is logged with host and client and listed in
# status.json and /status; removing the entries refuses again.
# Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

P_M=$(pick_port); ports+=("$P_M")
P_A=$(pick_port); ports+=("$P_A")
P_B=$(pick_port); ports+=("$P_B")
P_X=$(pick_port); ports+=("$P_X")
P_S=$(pick_port); ports+=("$P_S")
P_OFF=$(pick_port); ports+=("$P_OFF")

WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init || { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
S=secure.world.test
pki_leaf mism "mism.$S" ec && pki_leaf a "a.exc.$S" ec && pki_leaf b "b.c.exc.$S" ec &&
    pki_leaf x "exc.$S" ec && pki_leaf sib "sib.$S" ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H_WRONG=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)
WORLD_DIR=

world_extra_records() {
    case $1 in
    secure.world.test.)
        for h in mism a.exc b.c.exc exc sib; do echo "$h IN A 127.0.0.80"; done
        echo "far.exc IN A 127.0.0.99" # not in allow_destinations below
        echo "_$P_M._tcp.mism IN TLSA 3 1 1 $H_WRONG"
        echo "_$P_A._tcp.a.exc IN TLSA 3 1 1 $H_WRONG"
        echo "_$P_B._tcp.b.c.exc IN TLSA 3 1 1 $H_WRONG"
        echo "_$P_X._tcp.exc IN TLSA 3 1 1 $H_WRONG"
        echo "_$P_S._tcp.sib IN TLSA 3 1 1 $H_WRONG"
        echo "_$P_M._tcp.far.exc IN TLSA 3 1 1 $H_WRONG"
        ;;
    bogus.world.test.)
        echo "_$P_M._tcp.www IN TLSA 3 1 1 $H_WRONG"
        ;;
    esac
}

world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki

CFG=$WORLD_DIR/dg.yml
base_cfg=("proxy.allowed_ports: [443, $P_M, $P_A, $P_B, $P_X, $P_S]"
    "proxy.trust_store: \"$PKI/bundle.pem\""
    "proxy.allow_destinations: [127.0.0.80/32]")
EXC="proxy.exceptions: [mism.$S, \"*.exc.$S\", www.bogus.world.test]"
world_daneguard_config "$CFG" "${base_cfg[@]}"
world_daneguard_start "$CFG" -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt
LOG=$WORLD_DIR/daneguard.log

origin_sserver o_m 127.0.0.80 "$P_M" mism && origin_sserver o_a 127.0.0.80 "$P_A" a &&
    origin_sserver o_b 127.0.0.80 "$P_B" b && origin_sserver o_x 127.0.0.80 "$P_X" x &&
    origin_sserver o_s 127.0.0.80 "$P_S" sib ||
    { fail origins "an origin did not start"; exit 1; }

out=$WORLD_DIR/out
mkdir -p "$out"

# refused NAME URL: daneguard's 502 page inside its own TLS.
refused() {
    local name=$1 url=$2 code
    code=$(pcurl --cacert "$DGCA" -o "$out/$name.body" -w '%{http_code}' "$url" 2>"$out/$name.err")
    local hp=${url#https://}
    if [ "$code" = 502 ] && grep -qiF "${hp%/}" "$out/$name.body"; then pass "$name"; else
        fail "$name" "code=$code $(head -c 200 "$out/$name.err")"
    fi
}

# tunnelled NAME URL: curl trusting only the test root verifies the origin's
# own certificate (daneguard's CA would not), and gets the origin's page.
tunnelled() {
    local name=$1 url=$2 code
    code=$(pcurl --cacert "$PKI/root.pem" -o "$out/$name.body" -w '%{http_code}' "$url" 2>"$out/$name.err")
    if [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/$name.body"; then pass "$name"; else
        fail "$name" "code=$code $(head -c 300 "$out/$name.err") log: $(tail -n 3 "$LOG" | tr '\n' ' ' | head -c 400)"
    fi
}

# status403 NAME HOST:PORT WORDS: the CONNECT answered 403 with WORDS in its body.
status403() {
    local name=$1 target=$2 words=$3 resp
    resp=$(timeout 15 python3 - "$DG_PROXY_PORT" "$target" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[2].encode(), sys.argv[2].encode()))
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
print(data.decode(errors="replace"))
EOF
)
    if [[ $resp == "HTTP/1.1 403"* && $resp == *"$words"* ]]; then pass "$name"; else
        fail "$name" "response: $(head -c 300 <<<"$resp")"
    fi
}

# --- before: every mismatch refused ---------------------------------------------------
refused before_exact_refused "https://mism.$S:$P_M/"
refused before_wildcard_child_refused "https://a.exc.$S:$P_A/"

# --- with the exceptions (a reload) ----------------------------------------------------
reload_to reload_add "$EXC" || exit 1
tunnelled exact_entry_tunnelled "https://mism.$S:$P_M/"
tunnelled exact_entry_case_and_dot_tunnelled "https://MISM.$S.:$P_M/"
tunnelled wildcard_child_tunnelled "https://a.exc.$S:$P_A/"
tunnelled wildcard_grandchild_tunnelled "https://b.c.exc.$S:$P_B/"
refused wildcard_bare_suffix_refused "https://exc.$S:$P_X/"
refused sibling_refused "https://sib.$S:$P_S/"
# The origin's own certificate reaches curl: its issuer is the test
# intermediate, not daneguard's CA.
issuer=$(timeout 10 openssl s_client -proxy "127.0.0.1:$DG_PROXY_PORT" -connect "mism.$S:$P_M" \
    -servername "mism.$S" </dev/null 2>/dev/null | openssl x509 -noout -issuer 2>/dev/null)
[[ $issuer == *"test intermediate"* ]] && pass origin_certificate_untouched ||
    fail origin_certificate_untouched "issuer: $issuer"
# An exception does not excuse a DNSSEC failure of the addresses.
refused bogus_address_still_refused "https://www.bogus.world.test:$P_M/"
grep -q "www.bogus.world.test:$P_M: refused.*DNSSEC bogus" "$LOG" &&
    pass bogus_address_reason || fail bogus_address_reason "$(grep -F www.bogus "$LOG" | tail -1)"
# Nor an address outside allow_destinations (SSRF), nor a port.
status403 excepted_destination_checked "far.exc.$S:$P_M" "proxy.allow_destinations"
status403 excepted_port_checked "a.exc.$S:$P_OFF" "proxy.allowed_ports"
grep -q "far.exc.$S:$P_M: refused: 127.0.0.99 is a loopback address (not in proxy.allow_destinations) (client 127.0.0.1)" "$LOG" &&
    pass destination_log_names_client || fail destination_log_names_client "$(grep -F far.exc "$LOG" | tail -1)"
# Each use logged with the host and the client.
grep -q "mism.$S:$P_M: client 127.0.0.1: tunnelled without DANE (proxy.exceptions: mism.$S)" "$LOG" &&
    pass use_logged_exact || fail use_logged_exact "$(grep -F 'without DANE' "$LOG" | head -2)"
grep -q "b.c.exc.$S:$P_B: client 127.0.0.1: tunnelled without DANE (proxy.exceptions: \*.exc.$S)" "$LOG" &&
    pass use_logged_wildcard || fail use_logged_wildcard "$(grep -F 'without DANE' "$LOG" | tail -2)"
n_logged=$(grep -c 'tunnelled without DANE' "$LOG")
[ "$n_logged" = 5 ] && pass use_logged_each_time || fail use_logged_each_time "$n_logged lines, 5 uses"
# Listed on the status page and in status.json.
json=$(curl -sS --max-time 10 "http://127.0.0.1:$DG_PROXY_PORT/status.json")
if python3 - "$json" "$S" <<'EOF'; then pass status_json_lists; else fail status_json_lists "$json"; fi
import json, sys
j = json.loads(sys.argv[1]); s = sys.argv[2]
e = j["exceptions"]
assert e["hosts"] == ["mism." + s, "*.exc." + s, "www.bogus.world.test"], e["hosts"]
assert e["uses"] == 5, e["uses"]
assert {"host": "b.c.exc." + s, "client": "127.0.0.1", "exception": "*.exc." + s} in [
    {k: u[k] for k in ("host", "client", "exception")} for u in e["recent_uses"]], e
assert len(e["recent_uses"]) == 5
EOF
html=$(curl -sS --max-time 10 "http://127.0.0.1:$DG_PROXY_PORT/status")
[[ $html == *"*.exc.$S"* && $html == *"b.c.exc.$S"* && $html == *"Exceptions"* ]] &&
    pass status_page_lists || fail status_page_lists "no exceptions section"
# No "continue anyway": the refusal page offers no way around the refusal.
if grep -qiE '<form|<button|<input|continue anyway|proceed anyway' "$out/sibling_refused.body"; then
    fail no_continue_button "$(grep -oiE '.{0,40}(<form|<button|<input|anyway).{0,40}' "$out/sibling_refused.body" | head -2)"
else
    pass no_continue_button
fi

# --- removed again (a reload) -----------------------------------------------------------
reload_to reload_remove || exit 1
refused after_removal_refused "https://mism.$S:$P_M/"
refused after_removal_wildcard_refused "https://a.exc.$S:$P_A/"

dg_stop_checked sanitizer_clean
proxy_finish
