#!/usr/bin/env bash
# tests/e2e/proxy_chromium.sh — headless Chromium through daneguard
# (--proxy-server): a DANE-EE match renders the origin's page and a mismatch
# renders the refusal page (its reason, host:port and key hash in the DOM).
# daneguard's CA is trusted two ways: an NSS db in $HOME/.pki/nssdb (Chromium's
# full verifier runs on our minted leaves) and --ignore-certificate-errors-spki-list
# with the CA's SPKI pin. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

chromium_bin=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium_bin" ] || { echo "FAIL chromium: not installed (apt-get install chromium)"; exit 1; }
command -v certutil >/dev/null || { echo "FAIL chromium: certutil missing (libnss3-tools)"; exit 1; }

P_EE=$(world_free_port 127.0.0.80)
P_MISM=$(world_free_port 127.0.0.80)
[ "$P_EE" != "$P_MISM" ] || P_MISM=$(world_free_port 127.0.0.80)
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
    echo "_$P_MISM._tcp.mism IN TLSA 3 1 1 $H_EE"
}
world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
world_daneguard_config "$WORLD_DIR/dg.yml" "proxy.allowed_ports: [443, $P_EE, $P_MISM]"
world_daneguard_start "$WORLD_DIR/dg.yml" -v || { fail daneguard_start "see stderr"; exit 1; }
DGCA=$WORLD_DIR/ca/ca.crt
origin_sserver o_ee 127.0.0.80 "$P_EE" ee && origin_sserver o_mism 127.0.0.80 "$P_MISM" mism ||
    { fail origins "did not start"; exit 1; }
out=$WORLD_DIR/out
mkdir -p "$out" "$WORLD_DIR/home-nss/.pki/nssdb" "$WORLD_DIR/home-empty"
certutil -N --empty-password -d "sql:$WORLD_DIR/home-nss/.pki/nssdb" >"$out/certutil.log" 2>&1 &&
    certutil -A -d "sql:$WORLD_DIR/home-nss/.pki/nssdb" -t "C,," -n "daneguard CA" -i "$DGCA" \
        >>"$out/certutil.log" 2>&1 || fail chromium_nss_db "$(tail -3 "$out/certutil.log")"
SPKI=$(openssl x509 -in "$DGCA" -noout -pubkey | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -binary | base64)

# chromium_dom NAME HOME URL [FLAGS...]: the dumped DOM in $out/NAME.dom
chromium_dom() {
    local name=$1 home=$2 url=$3 profile
    shift 3
    profile=$(mktemp -d "$WORLD_DIR/profile.XXXXXX")
    HOME=$home timeout -k 5 60 "$chromium_bin" --headless --no-sandbox --disable-gpu \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$profile" \
        --proxy-server="http://127.0.0.1:$DG_PROXY_PORT" "$@" --dump-dom "$url" \
        >"$out/$name.dom" 2>"$out/$name.err" &
    WORLD_PIDS+=("$!")
    wait $!
}
dom_has() { # NAME TEXT...
    local f=$out/$1.dom t
    shift
    for t in "$@"; do grep -qF -- "$t" "$f" || return 1; done
}
why() { echo "DOM: $(head -c 200 "$out/$1.dom" | tr '\n' ' ') ERR: $(grep -m2 -E 'ERR_|net::' "$out/$1.err" | tr '\n' ' ' | head -c 300)"; }

chromium_dom nss_match "$WORLD_DIR/home-nss" "https://ee.secure.world.test:$P_EE/"
dom_has nss_match "$S_SERVER_PAGE" && pass chromium_nss_dane_match || fail chromium_nss_dane_match "$(why nss_match)"
chromium_dom nss_mism "$WORLD_DIR/home-nss" "https://mism.secure.world.test:$P_MISM/"
dom_has nss_mism "mism.secure.world.test:$P_MISM" "mismatch" "$H_MISM" && ! dom_has nss_mism "$S_SERVER_PAGE" &&
    pass chromium_nss_dane_mismatch_page || fail chromium_nss_dane_mismatch_page "$(why nss_mism)"
chromium_dom spki_match "$WORLD_DIR/home-empty" "https://ee.secure.world.test:$P_EE/" \
    --ignore-certificate-errors-spki-list="$SPKI"
dom_has spki_match "$S_SERVER_PAGE" && pass chromium_spki_dane_match || fail chromium_spki_dane_match "$(why spki_match)"
chromium_dom spki_mism "$WORLD_DIR/home-empty" "https://mism.secure.world.test:$P_MISM/" \
    --ignore-certificate-errors-spki-list="$SPKI"
dom_has spki_mism "mism.secure.world.test:$P_MISM" "mismatch" && pass chromium_spki_dane_mismatch_page ||
    fail chromium_spki_dane_mismatch_page "$(why spki_mism)"
# Without any trust in our CA, Chromium must not render the page.
chromium_dom untrusted "$WORLD_DIR/home-empty" "https://ee.secure.world.test:$P_EE/"
! dom_has untrusted "$S_SERVER_PAGE" && pass chromium_untrusted_ca_not_rendered ||
    fail chromium_untrusted_ca_not_rendered "the page rendered without trusting daneguard's CA"

dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
