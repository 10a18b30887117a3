# shellcheck shell=bash
# tests/e2e/lib_proxy.sh — shared helpers for the proxy's end-to-end tests
# (tests/e2e/proxy_*.sh). Source it after tests/world/world.sh.
#
#   pki_init                      a test root CA and an intermediate in $PKI
#                                 ($PKI/root.pem, $PKI/inter.pem, $PKI/bundle.pem)
#   pki_leaf NAME SAN [rsa|ec]    a leaf signed by the intermediate:
#                                 $PKI/NAME.pem (leaf), $PKI/NAME.key, $PKI/NAME.chain.pem
#   pki_selfsigned NAME SAN       a self-signed leaf, $PKI/NAME.pem and .key
#   spki_sha256 PEM / cert_sha256 PEM   hex digests for TLSA 1 1 and 0 1
#   origin_sserver NAME ADDR PORT LEAFNAME   openssl s_server -www with the leaf
#                                 and its chain (bounded lifetime)
#   pick_port                     a free port on every address of $PICK_ADDRS
#                                 (default 127.0.0.80) not yet in the array ports
#   reload_to NAME LINE...        rewrite $CFG from ${base_cfg[@]} plus LINEs, SIGHUP
#                                 daneguard ($DG_PID), wait for its "reloaded" line
#   wait_listen PORT [ADDR]       up to 10 s for a TCP listener
#   pcurl ARGS...                 curl through daneguard with a bounded time
#   dg_log_clean NAME             FAIL NAME when daneguard's log has a sanitizer
#                                 report, else PASS
#   proxy_finish                  the last line: the script's exit status
# Loopback only; every process goes through world_spawn (killed by world_trap).

PKI=${PKI:-}
ports=()

pick_port() {
    local p i
    for ((i = 0; i < 20; i++)); do
        # shellcheck disable=SC2086 # one argument per address
        p=$(world_free_port ${PICK_ADDRS:-127.0.0.80}) || return 1
        [[ " ${ports[*]} " == *" $p "* ]] || { echo "$p"; return 0; }
    done
    return 1
}
S_SERVER_PAGE="Ciphers supported in s_server"

pki_init() {
    PKI="$WORLD_DIR/pki"
    mkdir -p "$PKI"
    (
        cd "$PKI" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
            -subj "/O=daneguard tests/CN=test root" -keyout root.key -out root.pem \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" &&
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -subj "/O=daneguard tests/CN=test intermediate" -keyout inter.key -out inter.csr &&
            printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >inter.ext &&
            openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial \
                -days 30 -extfile inter.ext -out inter.pem &&
            cp root.pem bundle.pem
    ) >"$WORLD_DIR/pki.log" 2>&1
}

# pki_leaf NAME SAN [rsa|ec]: SAN is a DNS name.
pki_leaf() {
    local name=$1 san=$2 kind=${3:-ec} keyopt
    if [ "$kind" = rsa ]; then
        keyopt=(-newkey rsa:2048)
    else
        keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    fi
    (
        cd "$PKI" || exit 1
        openssl req -new "${keyopt[@]}" -nodes -subj "/CN=$san" -keyout "$name.key" \
            -out "$name.csr" &&
            printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' "$san" >"$name.ext" &&
            openssl x509 -req -in "$name.csr" -CA inter.pem -CAkey inter.key -CAcreateserial \
                -days 30 -extfile "$name.ext" -out "$name.pem" &&
            cp inter.pem "$name.chain.pem"
    ) >>"$WORLD_DIR/pki.log" 2>&1
}

pki_selfsigned() {
    local name=$1 san=$2
    (
        cd "$PKI" || exit 1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
            -subj "/CN=$san" -addext "subjectAltName=DNS:$san" -keyout "$name.key" \
            -out "$name.pem" && : >"$name.chain.pem"
    ) >>"$WORLD_DIR/pki.log" 2>&1
}

spki_sha256() {
    openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}

cert_sha256() {
    openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1
}

reload_to() {
    local name=$1 n i
    shift
    n=$(grep -c 'reloaded ' "$WORLD_DIR/daneguard.log")
    world_daneguard_config "$CFG" "${base_cfg[@]}" "$@"
    kill -HUP "$DG_PID"
    for ((i = 0; i < 50; i++)); do
        [ "$(grep -c 'reloaded ' "$WORLD_DIR/daneguard.log")" -gt "$n" ] && return 0
        sleep 0.1
    done
    fail "$name" "no reload: $(tail -n 2 "$WORLD_DIR/daneguard.log" | tr '\n' ' ')"
    return 1
}

wait_listen() {
    local port=$1 i
    for ((i = 0; i < 100; i++)); do
        ss -ltnH "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

# origin_sserver NAME ADDR PORT LEAFNAME: ADDR without brackets.
origin_sserver() {
    local name=$1 addr=$2 port=$3 leaf=$4 acc chain=()
    if [[ $addr == *:* ]]; then acc="[$addr]:$port"; else acc="$addr:$port"; fi
    [ -s "$PKI/$leaf.chain.pem" ] && chain=(-cert_chain "$PKI/$leaf.chain.pem")
    world_spawn "$name" timeout 900 openssl s_server -accept "$acc" -cert "$PKI/$leaf.pem" \
        -key "$PKI/$leaf.key" "${chain[@]}" -www -quiet
    wait_listen "$port" || { world_log "origin $name did not listen on $acc"; return 1; }
}

# pcurl ARGS...: curl through the proxy, at most PCURL_TIME (20) seconds.
pcurl() {
    curl -sS --max-time "${PCURL_TIME:-20}" -x "http://127.0.0.1:$DG_PROXY_PORT" "$@"
}

# dg_log_clean NAME: no AddressSanitizer / UBSan / LeakSanitizer report in the log.
dg_log_clean() {
    local log="$WORLD_DIR/daneguard.log"
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" 2>/dev/null; then
        fail "$1" "sanitizer report: $(grep -m1 -E -A4 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" | tr '\n' ' ' | head -c 600)"
        cp "$log" "/tmp/daneguard-san-$(date +%s).log" 2>/dev/null
    else
        pass "$1"
    fi
}

# dg_alive NAME: daneguard still runs.
dg_alive() {
    if kill -0 "$DG_PID" 2>/dev/null; then pass "$1"; else
        fail "$1" "daneguard died: $(tail -n 5 "$WORLD_DIR/daneguard.log" | tr '\n' ' ')"
    fi
}

# dg_stop_checked NAME: stop daneguard (TERM) and check its log for sanitizer reports,
# including what LeakSanitizer prints at exit.
dg_stop_checked() {
    world_daneguard_stop
    dg_log_clean "$1"
}

proxy_finish() {
    [ "${WORLD_FAILED:-0}" -eq 0 ]
}
