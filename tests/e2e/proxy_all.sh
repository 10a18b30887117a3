#!/usr/bin/env bash
# tests/e2e/proxy_all.sh — intercept: all, with proxy.trust_store holding a test
# root: an insecure zone with TLSA is terminated with a PKIX check (curl sees our
# CA's certificate), a secure zone without TLSA and one with only unusable
# records too; a chain from an unknown root and a leaf for another name are
# refused (502 PKIX); DANE still wins where usable TLSA exist (match loads,
# mismatch refused even though PKIX would pass); bogus is refused.
# Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

P_INS=$(pick_port); ports+=("$P_INS")
P_NOT=$(pick_port); ports+=("$P_NOT")
P_UNUS=$(pick_port); ports+=("$P_UNUS")
P_SELF=$(pick_port); ports+=("$P_SELF")
P_NAME=$(pick_port); ports+=("$P_NAME")
P_EE=$(pick_port); ports+=("$P_EE")
P_MISM=$(pick_port); ports+=("$P_MISM")

WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf ins www.insecure.world.test ec && pki_leaf not notlsa.secure.world.test rsa &&
    pki_leaf unus unus.secure.world.test ec && pki_selfsigned self self.insecure.world.test &&
    pki_leaf name other.insecure.world.test ec && pki_leaf ee ee.secure.world.test ec &&
    pki_leaf mism mism.secure.world.test ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H_INS=$(spki_sha256 "$PKI/ins.pem")
H_UNUS=$(spki_sha256 "$PKI/unus.pem")
H_EE=$(spki_sha256 "$PKI/ee.pem")
WORLD_DIR=

world_extra_records() {
    case $1 in
    secure.world.test.)
        for h in notlsa unus ee mism; do echo "$h IN A 127.0.0.80"; done
        echo "_$P_UNUS._tcp.unus IN TLSA 5 1 1 $H_UNUS"
        echo "_$P_EE._tcp.ee IN TLSA 3 1 1 $H_EE"
        echo "_$P_MISM._tcp.mism IN TLSA 3 1 1 $H_EE"
        ;;
    insecure.world.test.)
        echo "_$P_INS._tcp.www IN TLSA 3 1 1 $H_INS"
        echo "self IN A 127.0.0.80"
        echo "name IN A 127.0.0.80"
        ;;
    bogus.world.test.)
        echo "_$P_EE._tcp.www IN TLSA 3 1 1 $H_EE"
        ;;
    esac
}
world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki

world_daneguard_config "$WORLD_DIR/dg.yml" \
    "proxy.allowed_ports: [443, $(IFS=,; echo "${ports[*]}")]" \
    "proxy.trust_store: \"$PKI/bundle.pem\"" "proxy.intercept: all"
world_daneguard_start "$WORLD_DIR/dg.yml" -v -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt
origin_sserver o_ins 127.0.0.80 "$P_INS" ins &&
    origin_sserver o_not 127.0.0.80 "$P_NOT" not &&
    origin_sserver o_unus 127.0.0.80 "$P_UNUS" unus &&
    origin_sserver o_self 127.0.0.80 "$P_SELF" self &&
    origin_sserver o_name 127.0.0.80 "$P_NAME" name &&
    origin_sserver o_ee 127.0.0.80 "$P_EE" ee &&
    origin_sserver o_mism 127.0.0.80 "$P_MISM" mism ||
    { fail origins "an origin did not start"; exit 1; }
out=$WORLD_DIR/out
mkdir -p "$out"

# expect_pkix NAME URL: loads through daneguard's TLS (only its CA trusted), and
# the presented certificate is issued by daneguard's CA.
expect_pkix() {
    local name=$1 url=$2 code hp issuer
    code=$(pcurl --cacert "$DGCA" -o "$out/$name.body" -w '%{http_code}' "$url" 2>"$out/$name.err")
    hp=${url#https://}
    hp=${hp%/}
    issuer=$(timeout 10 openssl s_client -proxy "127.0.0.1:$DG_PROXY_PORT" -connect "$hp" \
        -servername "${hp%:*}" </dev/null 2>/dev/null | openssl x509 -noout -issuer 2>/dev/null)
    if [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$out/$name.body" &&
        [ "$issuer" = "$(openssl x509 -in "$DGCA" -noout -subject | sed 's/^subject/issuer/')" ]; then
        pass "$name"
    else
        fail "$name" "code=$code issuer='$issuer' $(head -c 200 "$out/$name.err")"
    fi
}
expect_refused() {
    local name=$1 url=$2 code t missing=""
    shift 2
    code=$(pcurl --cacert "$DGCA" -o "$out/$name.body" -w '%{http_code}' "$url" 2>"$out/$name.err")
    for t in "$@"; do
        grep -qiF -- "$t" "$out/$name.body" 2>/dev/null || missing+=" [$t]"
    done
    [ "$code" = 502 ] && [ -z "$missing" ] && pass "$name" ||
        fail "$name" "code=$code missing:$missing $(head -c 200 "$out/$name.err")"
}

expect_pkix all_insecure_tlsa_ignored_pkix "https://www.insecure.world.test:$P_INS/"
expect_pkix all_secure_no_tlsa_pkix "https://notlsa.secure.world.test:$P_NOT/"
expect_pkix all_unusable_only_pkix "https://unus.secure.world.test:$P_UNUS/"
expect_refused all_pkix_unknown_root_refused "https://self.insecure.world.test:$P_SELF/" "PKIX" "self.insecure.world.test:$P_SELF"
expect_refused all_pkix_wrong_name_refused "https://name.insecure.world.test:$P_NAME/" "PKIX" "name.insecure.world.test:$P_NAME"
expect_pkix all_dane_match_loads "https://ee.secure.world.test:$P_EE/"
expect_refused all_dane_mismatch_refused_despite_pkix "https://mism.secure.world.test:$P_MISM/" "mismatch"
expect_refused all_bogus_refused "https://www.bogus.world.test:$P_EE/"
dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
