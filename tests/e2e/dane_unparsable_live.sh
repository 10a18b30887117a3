#!/usr/bin/env bash
# tests/e2e/dane_unparsable_live.sh — a live server whose certificate mbedTLS
# 2.28 cannot parse (issue 14): `daneguard check` and the proxy must say so in
# words, and `daneguard verify` must still match its DANE-EE record offline.
#
# The certificate is made here with the openssl CLI: empty subject and issuer
# names and notAfter (2020) before notBefore (2030), an EC P-256 key, the
# "anonymous, never valid" leaf of DANE conformance vectors. OpenSSL serves it
# (openssl s_server on 127.0.0.80); the world publishes "3 1 1" of its key at
# _PORT._tcp.anon.secure.world.test. mbedTLS parses the peer's certificate
# inside the handshake and aborts it, so the site cannot be reached: the
# refusal reason and check's FAIL line must name that cause, not a generic
# handshake failure. A control host with an ordinary certificate on the same
# world must still work. Prints "PASS name" / "FAIL name: why"; every process
# is stopped by PID (world_trap).
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap
BIN=${DANEGUARD_BIN:-$PWD/${BUILD:-build}/daneguard}

if [ ! -x "$BIN" ]; then
    fail unparsable_binary "no daneguard binary at $BIN"
    exit 1
fi

P_ANON=$(pick_port); ports+=("$P_ANON")
P_OK=$(pick_port); ports+=("$P_OK")

# Certificates before the zones: the TLSA records carry their hashes.
WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf ok ok.secure.world.test ec ||
    { echo "FAIL unparsable_pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
(
    cd "$PKI" || exit 1
    mkdir -p anondb && : >anondb/index.txt
    printf '%s\n' '[ca]' 'default_ca = a' '[a]' 'dir = .' 'database = ./anondb/index.txt' \
        'new_certs_dir = ./anondb' 'rand_serial = yes' 'default_md = sha256' 'policy = any' \
        'unique_subject = no' '[any]' 'commonName = optional' '[req]' \
        'distinguished_name = dn' 'prompt = no' '[dn]' 'CN = unused' >anon.cnf
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out anon.key &&
        openssl req -new -config anon.cnf -key anon.key -subj / -out anon.csr &&
        openssl ca -batch -config anon.cnf -notext -selfsign -keyfile anon.key -in anon.csr \
            -out anon.pem -subj / -startdate 20300101000000Z -enddate 20200101000000Z
) >>"$WORLD_DIR/pki.log" 2>&1 || { echo "FAIL unparsable_pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H_ANON=$(spki_sha256 "$PKI/anon.pem")
H_OK=$(spki_sha256 "$PKI/ok.pem")
WORLD_DIR=

world_extra_records() {
    case $1 in
    secure.world.test.)
        echo "anon IN A 127.0.0.80"
        echo "ok IN A 127.0.0.80"
        echo "_$P_ANON._tcp.anon IN TLSA 3 1 1 $H_ANON"
        echo "_$P_OK._tcp.ok IN TLSA 3 1 1 $H_OK"
        ;;
    esac
}

world_start || { echo "FAIL unparsable_world: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
S=secure.world.test

world_daneguard_config "$WORLD_DIR/dg.yml" \
    "proxy.allowed_ports: [443, $P_ANON, $P_OK]" \
    "proxy.handshake_timeout: 8000"
world_daneguard_start "$WORLD_DIR/dg.yml" -v || { fail unparsable_daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt

origin_sserver o_anon 127.0.0.80 "$P_ANON" anon && origin_sserver o_ok 127.0.0.80 "$P_OK" ok ||
    { fail unparsable_origins "an origin did not start"; exit 1; }
out=$WORLD_DIR/out
mkdir -p "$out"

# The premise: OpenSSL serves the certificate, and matches the record itself.
got=$(timeout 10 openssl s_client -connect "127.0.0.80:$P_ANON" -servername "anon.$S" \
    -dane_tlsa_domain "anon.$S" -dane_tlsa_rrdata "3 1 1 $H_ANON" -dane_ee_no_namechecks \
    -verify_return_error </dev/null 2>&1)
if grep -q 'Verify return code: 0 (ok)' <<<"$got" && grep -q 'subject=$' <<<"$got"; then
    pass unparsable_premise_openssl_matches
else fail unparsable_premise_openssl_matches "$(grep -E 'subject|Verify|error' <<<"$got" | head -3 | tr '\n' ' ')"; fi

# verify, offline: the record matches the certificate it serves.
got=$("$BIN" verify --host "anon.$S" --tlsa "3 1 1 $H_ANON" --chain "$PKI/anon.pem" 2>&1)
rc=$?
if [ "$rc" = 0 ] && [ "$got" = "OK usage=3 selector=1 mtype=1 depth=0" ]; then
    pass unparsable_verify_offline_ok
else fail unparsable_verify_offline_ok "rc $rc: $got"; fi

# check, live: FAIL with the cause in words, exit 1; the control host is OK.
got=$(timeout -k 5 90 "$BIN" check -c "$WORLD_DIR/dg.yml" "anon.$S" "$P_ANON" 2>"$out/check.err")
rc=$?
want="address 127.0.0.80 port $P_ANON: FAIL the server's certificate cannot be parsed by mbedTLS (X509 - The name tag or value is invalid"
if [ "$rc" = 1 ] && grep -qF -- "$want" <<<"$got" && ! grep -q "TLS handshake failed" <<<"$got"; then
    pass unparsable_check_says_why
else fail unparsable_check_says_why "rc $rc: $(tr '\n' '|' <<<"$got") $(tail -n 2 "$out/check.err")"; fi
got=$(timeout -k 5 90 "$BIN" check -c "$WORLD_DIR/dg.yml" "ok.$S" "$P_OK" 2>/dev/null)
rc=$?
if [ "$rc" = 0 ] && grep -q "port $P_OK: OK 3 1 1 depth 0" <<<"$got"; then
    pass unparsable_check_control_ok
else fail unparsable_check_control_ok "rc $rc: $(tr '\n' '|' <<<"$got")"; fi

# the proxy, live: refused (502 page inside daneguard's TLS) with the cause,
# and the same words in its log line.
code=$(pcurl --cacert "$DGCA" -o "$out/anon.body" -w '%{http_code}' "https://anon.$S:$P_ANON/" \
    2>"$out/anon.err")
if [ "$code" = 502 ] && grep -qF "the server&#39;s certificate cannot be parsed by mbedTLS" "$out/anon.body" ||
    { [ "$code" = 502 ] && grep -qF "the server's certificate cannot be parsed by mbedTLS" "$out/anon.body"; }; then
    pass unparsable_proxy_page_says_why
else
    fail unparsable_proxy_page_says_why "code=$code $(grep -o '<p class="reason">[^<]*' "$out/anon.body" 2>/dev/null | head -1) $(head -c 200 "$out/anon.err")"
fi
if grep -qE "anon\.$S:$P_ANON: refused: the server's certificate cannot be parsed by mbedTLS \(X509 - " \
    "$WORLD_DIR/daneguard.log"; then
    pass unparsable_proxy_log_says_why
else
    fail unparsable_proxy_log_says_why "$(grep -F "anon.$S:$P_ANON" "$WORLD_DIR/daneguard.log" | tail -2 | tr '\n' ' ' | head -c 400)"
fi
code=$(pcurl --cacert "$DGCA" -o "$out/ok.body" -w '%{http_code}' "https://ok.$S:$P_OK/" 2>"$out/ok.err")
if [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/ok.body"; then pass unparsable_proxy_control_ok
else fail unparsable_proxy_control_ok "code=$code $(head -c 200 "$out/ok.err")"; fi

dg_alive unparsable_daneguard_alive
dg_stop_checked unparsable_log_clean
proxy_finish
