#!/usr/bin/env bash
# tests/e2e/proxy_dane.sh — the proxy's DANE decisions with curl, intercept: dane.
#
# One world, one daneguard, one openssl s_server per case on 127.0.0.80 (or ::1)
# with certificates made here. Cases: DANE-EE match and mismatch (the 502 page's
# contents), DANE-TA 2 1 1 and 2 0 1 of the intermediate, DANE-TA with a leaf for
# another name, a key rollover (stale + matching record), bogus TLSA, bogus
# addresses, expired signatures, an insecure zone with TLSA (tunnelled), no TLSA
# (tunnelled), unusable records only (tunnelled), CNAME'd hosts (RFC 7671 §7, in
# the zone and across zones), an IPv6-only origin, and the resolver dying and
# coming back. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

PICK_ADDRS="127.0.0.80 ::1"
P_EE=$(pick_port); ports+=("$P_EE")
P_MISM=$(pick_port); ports+=("$P_MISM")
P_TA=$(pick_port); ports+=("$P_TA")
P_TA0=$(pick_port); ports+=("$P_TA0")
P_TAW=$(pick_port); ports+=("$P_TAW")
P_ROLL=$(pick_port); ports+=("$P_ROLL")
P_NOTLSA=$(pick_port); ports+=("$P_NOTLSA")
P_UNUS=$(pick_port); ports+=("$P_UNUS")
P_V6=$(pick_port); ports+=("$P_V6")
P_INS=$(pick_port); ports+=("$P_INS")

# Certificates before the zones: the TLSA records carry their hashes.
WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init || { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
pki_leaf ee ee.secure.world.test ec &&
    pki_leaf mism mism.secure.world.test ec &&
    pki_leaf ta ta.secure.world.test rsa &&
    pki_leaf ta0 ta0.secure.world.test ec &&
    pki_leaf taw other.secure.world.test ec &&
    pki_leaf roll roll.secure.world.test rsa &&
    pki_leaf notlsa notlsa.secure.world.test ec &&
    pki_leaf unus unus.secure.world.test ec &&
    pki_leaf v6 v6only.secure.world.test ec &&
    pki_leaf ins www.insecure.world.test ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H_EE=$(spki_sha256 "$PKI/ee.pem")
H_MISM=$(spki_sha256 "$PKI/mism.pem")
H_INTER=$(spki_sha256 "$PKI/inter.pem")
C_INTER=$(cert_sha256 "$PKI/inter.pem")
H_ROLL=$(spki_sha256 "$PKI/roll.pem")
H_UNUS=$(spki_sha256 "$PKI/unus.pem")
H_V6=$(spki_sha256 "$PKI/v6.pem")
H_INS=$(spki_sha256 "$PKI/ins.pem")
H_STALE=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)
PKI_SAVED=$PKI
WORLD_DIR=

world_extra_records() {
    case $1 in
    secure.world.test.)
        for h in ee mism ta ta0 taw roll notlsa unus fresh; do
            echo "$h IN A 127.0.0.80"
        done
        echo "v6only IN AAAA ::1"
        echo "_$P_EE._tcp.ee IN TLSA 3 1 1 $H_EE"
        echo "_$P_EE._tcp.fresh IN TLSA 3 1 1 $H_EE"
        echo "_$P_MISM._tcp.mism IN TLSA 3 1 1 $H_EE"
        echo "_$P_TA._tcp.ta IN TLSA 2 1 1 $H_INTER"
        echo "_$P_TA0._tcp.ta0 IN TLSA 2 0 1 $C_INTER"
        echo "_$P_TAW._tcp.taw IN TLSA 2 1 1 $H_INTER"
        echo "_$P_ROLL._tcp.roll IN TLSA 3 1 1 $H_STALE"
        echo "_$P_ROLL._tcp.roll IN TLSA 3 1 1 $H_ROLL"
        echo "_$P_UNUS._tcp.unus IN TLSA 4 1 1 $H_UNUS"
        echo "_$P_UNUS._tcp.unus IN TLSA 3 7 1 $H_UNUS"
        echo "_$P_V6._tcp.v6only IN TLSA 3 1 1 $H_V6"
        echo "cn IN CNAME ee"
        echo "cnbad IN CNAME mism"
        ;;
    world.test.)
        echo "xalias IN CNAME ee.secure.world.test."
        ;;
    insecure.world.test.)
        echo "_$P_INS._tcp.www IN TLSA 3 1 1 $H_INS"
        ;;
    bogus.world.test.)
        echo "_$P_EE._tcp.www IN TLSA 3 1 1 $H_EE"
        echo "tb IN A 127.0.0.80"
        echo "_$P_EE._tcp.tb IN TLSA 3 1 1 $H_EE"
        ;;
    expired.world.test.)
        echo "_$P_EE._tcp.www IN TLSA 3 1 1 $H_EE"
        ;;
    esac
}

world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
[ "$PKI_SAVED" != "$PKI" ] || true

# Bogus TLSA with valid addresses: change tb's TLSA data in the signed zone
# (its RRSIG no longer verifies) and reload NSD.
zf="$WORLD_DIR/zones/bogus.world.test..zone"
sed -i -E "s/(_$P_EE\._tcp\.tb\.bogus\.world\.test\.[[:space:]].*TLSA[[:space:]]+3 1 1 )[0-9a-fA-F]{8}/\\100000000/" "$zf"
grep -q "_$P_EE._tcp.tb.bogus.world.test.*TLSA.*3 1 1 00000000" "$zf" ||
    fail bogus_tlsa_setup "could not alter tb's TLSA in $zf"
world_nsd_stop && world_nsd_start || { fail nsd_restart "NSD did not come back"; exit 1; }

world_daneguard_config "$WORLD_DIR/dg.yml" \
    "proxy.allowed_ports: [443, $(IFS=,; echo "${ports[*]}")]" \
    "proxy.trust_store: \"$PKI/bundle.pem\"" \
    "proxy.handshake_timeout: 8000"
world_daneguard_start "$WORLD_DIR/dg.yml" -v -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt

origin_sserver o_ee 127.0.0.80 "$P_EE" ee &&
    origin_sserver o_mism 127.0.0.80 "$P_MISM" mism &&
    origin_sserver o_ta 127.0.0.80 "$P_TA" ta &&
    origin_sserver o_ta0 127.0.0.80 "$P_TA0" ta0 &&
    origin_sserver o_taw 127.0.0.80 "$P_TAW" taw &&
    origin_sserver o_roll 127.0.0.80 "$P_ROLL" roll &&
    origin_sserver o_notlsa 127.0.0.80 "$P_NOTLSA" notlsa &&
    origin_sserver o_unus 127.0.0.80 "$P_UNUS" unus &&
    origin_sserver o_v6 ::1 "$P_V6" v6 &&
    origin_sserver o_ins 127.0.0.80 "$P_INS" ins ||
    { fail origins "an origin did not start"; exit 1; }

out=$WORLD_DIR/out
mkdir -p "$out"

# expect_intercept NAME URL: 200 through daneguard's TLS (trusting only its CA)
# with the origin's page.
expect_intercept() {
    local name=$1 url=$2 code
    code=$(pcurl --cacert "$DGCA" -o "$out/$name.body" -w '%{http_code}' "$url" 2>"$out/$name.err")
    if [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/$name.body"; then
        pass "$name"
    else
        fail "$name" "code=$code $(head -c 300 "$out/$name.err") $(grep -o '<p class="reason">[^<]*' "$out/$name.body" 2>/dev/null | head -1) log: $(grep -F "${url#https://}" "$WORLD_DIR/daneguard.log" | tail -1 | head -c 300)"
    fi
}

# expect_refused NAME URL [TEXT...]: the 502 page inside daneguard's TLS, with each TEXT.
expect_refused() {
    local name=$1 url=$2 code t missing=""
    shift 2
    code=$(pcurl --cacert "$DGCA" -o "$out/$name.body" -w '%{http_code}' "$url" 2>"$out/$name.err")
    for t in "$@"; do
        grep -qiF -- "$t" "$out/$name.body" 2>/dev/null || missing+=" [$t]"
    done
    if [ "$code" = 502 ] && [ -z "$missing" ]; then
        pass "$name"
    else
        fail "$name" "code=$code missing:$missing $(head -c 200 "$out/$name.err")"
    fi
}

# expect_tunnel NAME URL: curl trusting only the test root sees the origin's own
# certificate (daneguard's CA would not verify), and the origin's page.
expect_tunnel() {
    local name=$1 url=$2 code issuer
    code=$(pcurl --cacert "$PKI/root.pem" -o "$out/$name.body" -w '%{http_code}' "$url" 2>"$out/$name.err")
    if [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/$name.body"; then
        pass "$name"
    else
        fail "$name" "code=$code $(head -c 300 "$out/$name.err")"
    fi
}

S=secure.world.test

# --- DANE-EE ---------------------------------------------------------------------
expect_intercept dane_ee_match_nonstandard_port "https://ee.$S:$P_EE/"
# The minted leaf: our CA's, for the host.
subj=$(timeout 10 openssl s_client -proxy "127.0.0.1:$DG_PROXY_PORT" -connect "ee.$S:$P_EE" \
    -servername "ee.$S" </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName 2>/dev/null)
[[ $subj == *"DNS:ee.$S"* ]] && pass dane_ee_minted_san || fail dane_ee_minted_san "SAN: $subj"

expect_refused dane_ee_mismatch "https://mism.$S:$P_MISM/" \
    "mism.$S:$P_MISM" "mismatch" "3 1 1 $H_EE" "$H_MISM"
grep -q "mism.$S:$P_MISM: refused" "$WORLD_DIR/daneguard.log" &&
    pass dane_mismatch_log_line || fail dane_mismatch_log_line "no refusal line in the log"

# --- DANE-TA ---------------------------------------------------------------------
expect_intercept dane_ta_211_intermediate "https://ta.$S:$P_TA/"
expect_intercept dane_ta_201_intermediate "https://ta0.$S:$P_TA0/"
expect_refused dane_ta_wrong_name_leaf "https://taw.$S:$P_TAW/" "taw.$S:$P_TAW"

# --- rollover, unusable, none ------------------------------------------------------
expect_intercept dane_rollover_stale_and_new "https://roll.$S:$P_ROLL/"
expect_tunnel unusable_records_only_tunnelled "https://unus.$S:$P_UNUS/"
expect_tunnel secure_no_tlsa_tunnelled "https://notlsa.$S:$P_NOTLSA/"

# --- DNSSEC failures --------------------------------------------------------------
expect_refused bogus_tlsa_refused "https://tb.bogus.world.test:$P_EE/" "tb.bogus.world.test:$P_EE" "bogus"
expect_refused bogus_address_refused "https://www.bogus.world.test:$P_EE/" "www.bogus.world.test:$P_EE"
expect_refused expired_signatures_refused "https://www.expired.world.test:$P_EE/" "www.expired.world.test:$P_EE"

# --- insecure zone with TLSA: ignored ----------------------------------------------
expect_tunnel insecure_tlsa_ignored_tunnelled "https://www.insecure.world.test:$P_INS/"

# --- CNAMEs (RFC 7671 §7: TLSA at the target) --------------------------------------
expect_intercept cname_tlsa_at_target "https://cn.$S:$P_EE/"
expect_intercept cname_across_zones "https://xalias.world.test:$P_EE/"
expect_refused cname_target_mismatch_refused "https://cnbad.$S:$P_MISM/" "cnbad.$S:$P_MISM"

# --- IPv6-only origin --------------------------------------------------------------
expect_intercept ipv6_only_origin "https://v6only.$S:$P_V6/"

# --- plain TLS client without SNI trouble: an IP literal is never DANE ----------
code=$(pcurl --cacert "$PKI/root.pem" -k -o /dev/null -w '%{http_code}' "https://127.0.0.80:$P_NOTLSA/" 2>/dev/null)
[ "$code" = 200 ] && pass ip_literal_tunnelled || fail ip_literal_tunnelled "code=$code"

# --- the resolver dies --------------------------------------------------------------
world_nsd_stop
t0=$(date +%s)
code=$(PCURL_TIME=30 pcurl --cacert "$DGCA" -o "$out/dead.body" -w '%{http_code}' "https://fresh.$S:$P_EE/" 2>"$out/dead.err")
t1=$(date +%s)
if [ "$code" = 502 ] && [ $((t1 - t0)) -le 15 ]; then
    pass resolver_down_refused_no_hang
else
    fail resolver_down_refused_no_hang "code=$code after $((t1 - t0)) s: $(head -c 200 "$out/dead.err")"
fi
world_nsd_start || fail nsd_restart "NSD did not come back"
ok=0
for ((i = 0; i < 10; i++)); do
    code=$(pcurl --cacert "$DGCA" -o "$out/back.body" -w '%{http_code}' "https://fresh.$S:$P_EE/" 2>/dev/null)
    [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/back.body" && { ok=1; break; }
    sleep 1
done
[ $ok = 1 ] && pass resolver_back_works_again || fail resolver_back_works_again "last code=$code after $i tries"

# --- status counts refusals ----------------------------------------------------------
st=$(curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/status.json" 2>&1)
grep -q "mism.$S" <<<"$st" && pass status_lists_recent_refusal ||
    fail status_lists_recent_refusal "$(head -c 300 <<<"$st")"

dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
