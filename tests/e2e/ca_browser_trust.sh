#!/usr/bin/env bash
# tests/e2e/ca_browser_trust.sh — do real clients accept the certificates that
# proxy/ca.c (with ca_signer.c) mints? Two CAs (A, B) mint leaves with tests/unit/test_ca.c's
# --mint mode; openssl s_server serves them on loopback; curl and headless
# Chromium must load the page when they trust A and refuse it when the leaf
# comes from B or names another host.
#
# Chromium is tested two ways:
#   --ignore-certificate-errors-spki-list=<A's SPKI>: works for a CA-level pin
#     when the server sends the CA in its chain, but it ignores *every* error
#     once a pinned key is in the chain, so it proves nothing about the leaf;
#   an NSS db in $HOME/.pki/nssdb trusting A ("C,,"): Chromium then runs its
#     full verifier (signature algorithm, keyUsage, EKU, SAN, validity) — the
#     test that tells us browsers take our certificates.
# Prints "PASS name" / "FAIL name: why". Loopback only; everything it starts is
# killed by PID on exit; every wait is bounded.
set -u
cd "$(dirname "$0")/../.."

work=$(mktemp -d /tmp/daneguard-ca-e2e.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }

host=site.daneguard.test

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

have_v6() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null
}

# wait_listen ADDR PORT: up to 10 s for a listener (ss from iproute2).
wait_listen() {
    local i
    for i in $(seq 1 100); do
        ss -ltnH "sport = :$2" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

# serve NAME ADDR PORT DIR CA_CRT: s_server with DIR/leaf.pem + DIR/key.pem, sending the CA too.
serve() {
    timeout 600 openssl s_server -accept "$2:$3" -cert "$4/leaf.pem" -key "$4/key.pem" \
        -cert_chain "$5" -www -quiet </dev/null >"$work/$1.log" 2>&1 &
    pids+=($!)
    wait_listen "$2" "$3" || { fail "serve_$1" "s_server did not listen on $2:$3"; return 1; }
}

# mint CADIR HOST OUTDIR: prints the CA's SPKI pin
mint() {
    mkdir -p "$3" && "$work/test_ca" --mint "$1" "$2" "$3" 2>>"$work/mint.log"
}

# --- build the minting tool and mint -------------------------------------------
if ! gcc -std=c11 -Wall -Wextra -D_GNU_SOURCE -Iinclude -Itests/unit -O2 -o "$work/test_ca" \
    tests/unit/test_ca.c proxy/ca.c proxy/ca_signer.c proxy/ca_file.c daemon/addr.c daemon/log.c -lmbedtls -lmbedx509 -lmbedcrypto \
    >"$work/build.log" 2>&1; then
    fail build_mint_tool "$(head -5 "$work/build.log")"
    exit 1
fi
spki_a=$(mint "$work/caA" "$host" "$work/a") || { fail mint "$(cat "$work/mint.log")"; exit 1; }
spki_b=$(mint "$work/caB" "$host" "$work/b") || { fail mint "$(cat "$work/mint.log")"; exit 1; }
mint "$work/caA" 127.0.0.1 "$work/ip4" >/dev/null || { fail mint "$(cat "$work/mint.log")"; exit 1; }
mint "$work/caA" ::1 "$work/ip6" >/dev/null || { fail mint "$(cat "$work/mint.log")"; exit 1; }
[ "$spki_a" != "$spki_b" ] && pass mint_two_cas || fail mint_two_cas "same SPKI twice"

port_a=$(free_port)
port_b=$(free_port)
port_4=$(free_port)
serve a 127.0.0.1 "$port_a" "$work/a" "$work/caA/ca.crt" || exit 1
serve b 127.0.0.1 "$port_b" "$work/b" "$work/caB/ca.crt" || exit 1
serve ip4 127.0.0.1 "$port_4" "$work/ip4" "$work/caA/ca.crt" || exit 1
v6=0
if have_v6; then
    port_6=$(free_port)
    serve ip6 "[::1]" "$port_6" "$work/ip6" "$work/caA/ca.crt" && v6=1
fi

page_ok() { grep -q "Ciphers supported in s_server" "$1"; }

# --- curl ------------------------------------------------------------------------
# curl_get NAME EXPECT(ok|fail) URL CA [extra args]
curl_get() {
    local name=$1 expect=$2 url=$3 ca=$4 rc
    shift 4
    curl -sS --max-time 10 --cacert "$ca" "$@" "$url" >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    if [ "$expect" = ok ]; then
        if [ $rc -eq 0 ] && page_ok "$work/$name.out"; then pass "$name"
        else fail "$name" "curl exit $rc: $(head -c 300 "$work/$name.err")"; fi
    else
        if [ $rc -ne 0 ]; then pass "$name"
        else fail "$name" "curl accepted a certificate it should refuse"; fi
    fi
}

curl_get curl_accepts_minted ok "https://$host:$port_a/" "$work/caA/ca.crt" \
    --resolve "$host:$port_a:127.0.0.1"
curl_get curl_refuses_other_ca fail "https://$host:$port_b/" "$work/caA/ca.crt" \
    --resolve "$host:$port_b:127.0.0.1"
curl_get curl_refuses_other_name fail "https://other.daneguard.test:$port_a/" \
    "$work/caA/ca.crt" --resolve "other.daneguard.test:$port_a:127.0.0.1"
curl_get curl_accepts_ipv4_literal ok "https://127.0.0.1:$port_4/" "$work/caA/ca.crt"
if [ $v6 = 1 ]; then
    curl_get curl_accepts_ipv6_literal ok "https://[::1]:$port_6/" "$work/caA/ca.crt"
fi

# --- Chromium --------------------------------------------------------------------
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium_bin" ]; then
    fail chromium "chromium is not installed (apt-get install chromium)"
    exit 1
fi
if ! command -v certutil >/dev/null; then
    fail chromium_nss "certutil is not installed (apt-get install libnss3-tools)"
    exit 1
fi

# An empty home (no NSS db: nothing but the SPKI flag can make A trusted) and
# one whose NSS db trusts CA A for TLS servers.
mkdir -p "$work/home-empty" "$work/home-nss/.pki/nssdb"
certutil -N --empty-password -d "sql:$work/home-nss/.pki/nssdb" >"$work/certutil.log" 2>&1 &&
    certutil -A -d "sql:$work/home-nss/.pki/nssdb" -t "C,," -n "daneguard test CA A" \
        -i "$work/caA/ca.crt" >>"$work/certutil.log" 2>&1 ||
    fail chromium_nss_db "certutil: $(tail -3 "$work/certutil.log")"

# chromium_load NAME EXPECT(ok|fail) HOME URL [extra flags]
chromium_load() {
    local name=$1 expect=$2 home=$3 url=$4 profile rc
    shift 4
    profile=$(mktemp -d "$work/profile.XXXXXX")
    HOME=$home timeout -k 5 60 "$chromium_bin" --headless --no-sandbox --disable-gpu \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$profile" \
        --host-resolver-rules="MAP $host 127.0.0.1, MAP other.daneguard.test 127.0.0.1" \
        --enable-logging=stderr --vmodule=cert_verify_proc_builtin=1 \
        "$@" --dump-dom "$url" >"$work/$name.dom" 2>"$work/$name.err"
    rc=$?
    if [ "$expect" = ok ]; then
        if page_ok "$work/$name.dom"; then pass "$name"
        else
            fail "$name" "page did not load (exit $rc): $(grep -A2 -h \
                'CertVerifyProcBuiltin\|Page load failed' "$work/$name.err" | tr '\n' ' ' | head -c 400)"
        fi
    else
        if ! page_ok "$work/$name.dom" && grep -q 'ERR_CERT' "$work/$name.err"; then pass "$name"
        elif page_ok "$work/$name.dom"; then fail "$name" "Chromium loaded a page it should refuse"
        else fail "$name" "no certificate error reported (exit $rc)"; fi
    fi
}

chromium_load chromium_spki_flag_accepts ok "$work/home-empty" "https://$host:$port_a/" \
    --ignore-certificate-errors-spki-list="$spki_a"
chromium_load chromium_spki_flag_refuses_other_ca fail "$work/home-empty" \
    "https://$host:$port_b/" --ignore-certificate-errors-spki-list="$spki_a"
chromium_load chromium_untrusted_refuses fail "$work/home-empty" "https://$host:$port_a/"
chromium_load chromium_nss_accepts ok "$work/home-nss" "https://$host:$port_a/"
chromium_load chromium_nss_refuses_other_ca fail "$work/home-nss" "https://$host:$port_b/"
chromium_load chromium_nss_refuses_other_name fail "$work/home-nss" \
    "https://other.daneguard.test:$port_a/"
chromium_load chromium_nss_accepts_ipv4_literal ok "$work/home-nss" "https://127.0.0.1:$port_4/"
if [ $v6 = 1 ]; then
    chromium_load chromium_nss_accepts_ipv6_literal ok "$work/home-nss" "https://[::1]:$port_6/"
fi

[ $failures -eq 0 ]
