#!/usr/bin/env bash
# tests/e2e/proxy_failclosed.sh — "prove it fails closed" (issue 8): a lying DNS
# path between daneguard and NSD, one chosen query at a time, and curl through
# the proxy, in both intercept modes.
#
# The tampering relay (tests/world/dnsrelay.py) answers the chosen query with
# each of: NOERROR-secure (pass), NOERROR-insecure (the host is in
# insecure.world.test), bogus (every RRSIG corrupted, denials too), SERVFAIL,
# REFUSED, FORMERR, SERVFAIL with the records kept, a truncated packet,
# garbage, and no answer (timeout). The chosen query is, in turn, each lookup
# that can change the decision:
#   A       hK A                   (hK: A 127.0.0.80, _P._tcp.hK TLSA 3 1 1)
#   AAAA    hK AAAA                (NODATA: the A record is enough)
#   TLSA    _P._tcp.hK TLSA
#   CNAME   every query at cK      (cK CNAME tK; tK like hK; no TLSA at cK)
#   TARGET  _P._tcp.tK TLSA        (RFC 7671 §7: the TLSA at the CNAME target)
# Every row has host names of its own (K), so nothing comes from a cache.
# Then, in order: "a lookup cannot start" through a CNAME target too long for
# a TLSA name; intercept: dane's contract on the local CA (a nonexistent name,
# or one without address, gets a plain CONNECT 502 with a one-line body, no
# TLS, nothing minted); a TLSA RRset of 41 records whose only usable one comes
# last (no fixed cap on the records kept); and "a lookup cannot start" through
# the resolver's lookups-in-flight cap (UPSTREAM_MAX_IN_FLIGHT, no config key),
# filled by a flood of queries the relay drops, for the TLSA at the CNAME
# target and for the host's own lookups.
#
# The outcome of a CONNECT, seen by curl -k -v:
#   dane    through daneguard's CA, the origin's page, and a "DANE ok" verdict
#   pkix    through daneguard's CA, the origin's page, a "PKIX ok" verdict
#   tunnel  the origin's own certificate (issuer: the test intermediate)
#   page    daneguard's refusal page (502 inside daneguard's TLS)
#   e502/e504  a plain CONNECT error status, no TLS
# A host whose TLSA is secure (every row but "insecure") must never be tunnel
# or pkix. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

RES_TIMEOUT=1500 # ms: the "drop" rows wait this long
FLOOD_TIMEOUT=20000 # ms: the flood stays in flight this long
ROWS=106 # host names made per kind: one per row, 2 x 50 rows and 4 for the cap
S=secure.world.test
I=insecure.world.test

P=$(pick_port); ports+=("$P")
WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init || { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
# One origin for every name: a leaf valid (PKIX) for *.secure, *.insecure and
# *.world.test, so that a wrong tunnel or PKIX interception would succeed and
# show, not fail on a name mismatch.
(
    cd "$PKI" || exit 1
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=failclosed" \
        -keyout o.key -out o.csr &&
        printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:*.%s,DNS:*.%s,DNS:*.world.test\n' \
            "$S" "$I" >o.ext &&
        openssl x509 -req -in o.csr -CA inter.pem -CAkey inter.key -CAcreateserial -days 30 \
            -extfile o.ext -out o.pem && cp inter.pem o.chain.pem
) >>"$WORLD_DIR/pki.log" 2>&1 || { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
H=$(spki_sha256 "$PKI/o.pem")
WORLD_DIR=

# A CNAME target whose TLSA name (_P._tcp.target) is longer than 255 octets.
L63=$(printf 'a%.0s' {1..63})
LONG="$L63.$L63.$L63.$(printf 'b%.0s' {1..40}).$S."

world_extra_records() {
    local k
    case $1 in
    "$S.")
        for ((k = 1; k <= ROWS; k++)); do
            echo "h$k IN A 127.0.0.80"
            echo "_$P._tcp.h$k IN TLSA 3 1 1 $H"
            echo "c$k IN CNAME t$k"
            echo "t$k IN A 127.0.0.80"
            echo "_$P._tcp.t$k IN TLSA 3 1 1 $H"
            echo "ct$k IN CNAME ti$k.$I." # secure CNAME, insecure target
        done
        echo "noaddr IN TXT \"no address here\""
        # 40 unusable records (selector 7) sort before the one usable record:
        # a fixed cap of 32 kept only unusable ones (and tunnelled)
        echo "many IN A 127.0.0.80"
        for ((k = 1; k <= 40; k++)); do
            echo "_$P._tcp.many IN TLSA 2 7 1 $(printf '%064x' "$k")"
        done
        echo "_$P._tcp.many IN TLSA 3 1 1 $H"
        echo "lc IN CNAME $LONG"
        echo "$LONG IN A 127.0.0.80"
        ;;
    "$I.")
        for ((k = 1; k <= ROWS; k++)); do
            echo "i$k IN A 127.0.0.80"
            echo "_$P._tcp.i$k IN TLSA 3 1 1 $H" # unsigned: ignored
            echo "ci$k IN CNAME t$k.$S."          # insecure CNAME, secure target
            echo "ti$k IN A 127.0.0.80"
            echo "_$P._tcp.ti$k IN TLSA 3 1 1 $H"
        done
        ;;
    esac
}

world_start || { echo "FAIL world_start: see stderr"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
world_relay_start || { fail relay_start "the relay did not start"; exit 1; }

CFG=$WORLD_DIR/dg.yml
base_cfg=(
    "proxy.allowed_ports: [$P]"
    "proxy.trust_store: \"$PKI/bundle.pem\""
    "resolver.bogus_ttl: 0"
)
# Origins live on 127.0.0.80: name the range where the proxy knows the key
# that opts into private destinations (issue 8, SSRF).
world_daneguard_config "$WORLD_DIR/probe.yml" 'proxy.allow_destinations: [127.0.0.0/8]'
"${DANEGUARD_BIN:-$PWD/build/daneguard}" -n -c "$WORLD_DIR/probe.yml" >/dev/null 2>&1 &&
    base_cfg+=('proxy.allow_destinations: [127.0.0.0/8]')
world_daneguard_config "$CFG" "${base_cfg[@]}" "resolver.timeout: $RES_TIMEOUT"
world_daneguard_start "$CFG" -v -v || { fail daneguard_start "see stderr"; exit 1; }
origin_sserver o 127.0.0.80 "$P" o || { fail origin "did not start"; exit 1; }
out=$WORLD_DIR/out
mkdir -p "$out"

# outcome HOST: one word, as in the head comment (or "other:..." with details).
outcome() {
    local host=$1 v codes connect http issuer f=$out/$1
    v=$(pcurl -k -v -o "$f.body" -w 'CODES %{http_connect} %{http_code}\n' "https://$host:$P/" 2>&1)
    codes=$(grep '^CODES ' <<<"$v" | tail -1)
    connect=$(awk '{print $2}' <<<"$codes")
    http=$(awk '{print $3}' <<<"$codes")
    issuer=$(grep -m1 'issuer:' <<<"$v")
    if [ "$connect" != 200 ] && [ -z "$issuer" ] && [[ $connect =~ ^[0-9]{3}$ ]]; then
        echo "e$connect"
    elif [[ $issuer == *"test intermediate"* ]]; then
        echo tunnel
    elif [[ $issuer == *"daneguard local CA"* ]] && [ "$http" = 200 ] &&
        grep -q "$S_SERVER_PAGE" "$f.body"; then
        if grep -qF "$host:$P: intercepted: DANE ok" "$WORLD_DIR/daneguard.log"; then
            echo dane
        elif grep -qF "$host:$P: intercepted: PKIX ok" "$WORLD_DIR/daneguard.log"; then
            echo pkix
        else
            echo "other:intercepted-without-verdict"
        fi
    elif [[ $issuer == *"daneguard local CA"* ]] && [ "$http" = 502 ] &&
        grep -q 'class="reason"' "$f.body"; then
        echo page
    else
        echo "other:connect=$connect,http=$http,$(grep -m1 -E '^curl:|issuer' <<<"$v" | tr -d '\n' | head -c 120)"
    fi
}

# why HOST: daneguard's verdict line for the host, for FAIL messages.
why() {
    grep -F "$1:$P:" "$WORLD_DIR/daneguard.log" | grep -E 'refused|failed|intercepted|tunnel' |
        tail -1 | sed 's/^daneguard: //' | head -c 200
}

k=0
# row MODE LOOKUP ACTION EXPECT: EXPECT is a regex over outcome words.
row() {
    local mode=$1 lookup=$2 action=$3 expect=$4 host qname qtype rule got name
    k=$((k + 1))
    name="failclosed_${mode}_${lookup}_${action}"
    case $lookup in
    A | AAAA | TLSA) host=h$k.$S ;;
    CNAME | TARGET) host=c$k.$S ;;
    esac
    case $lookup in
    A) qname=h$k.$S. qtype=A ;;
    AAAA) qname=h$k.$S. qtype=AAAA ;;
    TLSA) qname=_$P._tcp.h$k.$S. qtype=TLSA ;;
    CNAME) qname=c$k.$S. qtype='*' ;;
    TARGET) qname=_$P._tcp.t$k.$S. qtype=TLSA ;;
    esac
    case $action in
    insecure) # the chosen lookup answers NOERROR, insecure
        case $lookup in
        A | AAAA | TLSA) host=i$k.$I ;;
        CNAME) host=ci$k.$I ;;  # the CNAME itself is unsigned
        TARGET) host=ct$k.$S ;; # the target's zone is unsigned
        esac
        rule='{"action":"pass"}' ;;
    bogus) rule='{"action":"corrupt_rrsig","section":"all"}' ;;
    servfail_records) rule='{"action":"set_rcode","rcode":"servfail"}' ;;
    *) rule="{\"action\":\"$action\"}" ;;
    esac
    rule="{\"qname\":\"$qname\",\"qtype\":\"$qtype\",${rule#\{}"
    world_relay_rules "[$rule]"
    got=$(outcome "$host")
    if [ "$action" != insecure ] && [[ $got == tunnel || $got == pkix ]]; then
        fail "$name" "FAIL-OPEN: $host (secure TLSA) got $got; relay: $rule; $(why "$host")"
    elif [[ $got =~ ^($expect)$ ]]; then
        pass "$name"
    else
        fail "$name" "$host: expected $expect, got $got; relay: $rule; $(why "$host")"
    fi
}

# table MODE: every lookup × every lie. In `all` mode what is tunnelled in
# `dane` mode gets a PKIX check instead.
table() {
    local mode=$1 nd=tunnel
    [ "$mode" = all ] && nd=pkix
    # lookup  pass insecure bogus servfail refused formerr servfail_records short garbage drop
    # (a short or garbage answer is ignored by the forwarder, which waits for a
    # valid one: the address lookup may end as a timeout, 504)
    local -A want=(
        [A]="dane $nd page e502 e502 e502 e502 page|e502|e504 page|e502|e504 e504"
        [AAAA]="dane $nd page dane dane dane dane dane|page dane|page dane"
        [TLSA]="dane $nd page page page page page page page page"
        [CNAME]="dane $nd page e502 e502 e502 e502 page|e502|e504 page|e502|e504 e504"
        [TARGET]="dane $nd page page page page page page page page"
    )
    local actions=(pass insecure bogus servfail refused formerr servfail_records short garbage drop)
    local lookup i exp
    for lookup in A AAAA TLSA CNAME TARGET; do
        read -ra exp <<<"${want[$lookup]}"
        for ((i = 0; i < ${#actions[@]}; i++)); do
            row "$mode" "$lookup" "${actions[$i]}" "${exp[$i]}"
        done
    done
}

# --- intercept: dane, then intercept: all (a reload: a fresh resolver) -----------------
table dane
reload_to reload_all "${base_cfg[@]}" "resolver.timeout: $RES_TIMEOUT" "proxy.intercept: all" &&
    table all

# --- a lookup that cannot start: a CNAME target too long for a TLSA name ---------------
too_long() { # MODE
    local got
    world_relay_rules '[]'
    got=$(outcome lc.$S)
    [ "$got" = page ] && pass "failclosed_$1_target_name_too_long" ||
        fail "failclosed_$1_target_name_too_long" "lc.$S: expected page, got $got; $(why "lc.$S")"
}
too_long all
reload_to reload_dane "${base_cfg[@]}" "resolver.timeout: $RES_TIMEOUT" && too_long dane

# --- intercept: dane: the CA signs only for secure usable TLSA or a DNSSEC failure ------
minted() {
    curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/status.json" |
        grep -o '"minted": *[0-9]*' | grep -o '[0-9]*$'
}
# connect_raw HOST: the whole answer to a bare CONNECT (daneguard closes after it).
connect_raw() {
    /usr/bin/python3 - 127.0.0.1 "$DG_PROXY_PORT" "$1:$P" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[3], sys.argv[3])).encode())
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    pass
sys.stdout.write(data.decode("latin-1"))
EOF
}
# plain_error NAME HOST STATUS TEXT: a plain CONNECT error with a one-line body
# holding TEXT, no TLS (curl sees no certificate), and nothing minted.
plain_error() {
    local name=$1 host=$2 status=$3 text=$4 m0 m1 resp body got
    world_relay_rules '[]'
    m0=$(minted)
    resp=$(connect_raw "$host" | tr -d '\r')
    body=$(sed '1,/^$/d' <<<"$resp")
    got=$(outcome "$host")
    m1=$(minted)
    if [[ $resp == "HTTP/1.1 $status "* ]] && [ "$(wc -l <<<"$body")" = 1 ] &&
        [[ $body == *"$text"* ]] && [ "$got" = "e$status" ] && [ -n "$m0" ] && [ "$m0" = "$m1" ]; then
        pass "$name"
    else
        fail "$name" "$host: status line [$(head -1 <<<"$resp")] body [$body] curl: $got, minted $m0 -> $m1"
    fi
}
plain_error dane_ca_no_mint_nxdomain "accounts.nonexistent.$S" 502 "no such host"
plain_error dane_ca_no_mint_nxdomain_parent "www.nonexistent.world.test" 502 "no such host"
plain_error dane_ca_no_mint_no_address "noaddr.$S" 502 "no address"

# --- every TLSA record is kept ------------------------------------------------------------
world_relay_rules '[]'
got=$(outcome "many.$S")
[ "$got" = dane ] && pass dane_tlsa_record_41_of_41_used ||
    fail dane_tlsa_record_41_of_41_used "many.$S: expected dane, got $got; $(why "many.$S")"

# --- a lookup that cannot start: the lookups-in-flight cap -------------------------------
# flood: distinct names the relay drops, sent to daneguard's DNS port until a
# new name is answered at once with "too many lookups in flight" (the cap,
# UPSTREAM_MAX_IN_FLIGHT, is reached); they stay in flight FLOOD_TIMEOUT ms.
FLOOD_N=0
flood() {
    local i n
    world_relay_rules '[{"qname":"*.flood.world.test.","action":"drop"}]'
    # Rounds of 600, paced so that daneguard's UDP socket buffer does not
    # overflow, until a probe says the cap is reached; earlier rounds are
    # still in flight (FLOOD_TIMEOUT) while later ones arrive.
    for ((i = 0; i < 12; i++)); do
        /usr/bin/python3 - 127.0.0.1 "$DG_DNS_PORT" "$FLOOD_N" <<'EOF'
import socket, sys, time
import dns.message
addr, port, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(base, base + 600):
    s.sendto(dns.message.make_query("f%d.flood.world.test." % i, "A").to_wire(), (addr, port))
    if i % 25 == 24:
        time.sleep(0.02)
EOF
        FLOOD_N=$((FLOOD_N + 600))
        sleep 0.2
        dig @127.0.0.1 -p "$DG_DNS_PORT" +time=1 +tries=1 "probe$FLOOD_N.flood.world.test" A 2>&1 |
            grep -q 'too many lookups in flight' && return 0
    done
    return 1
}

cap_rows() { # MODE C H: a fresh resolver (reload) with a long timeout, primed, flooded
    local mode=$1 c=$2 h=$3 got
    : >"$WORLD_RELAY_LOG"
    FLOOD_N=0
    # prime c$c: its own lookups cached, the TLSA at its target not (SERVFAIL is not cached)
    world_relay_rules "[{\"qname\":\"_$P._tcp.t$c.$S.\",\"qtype\":\"TLSA\",\"action\":\"servfail\"}]"
    got=$(outcome "c$c.$S")
    [ "$got" = page ] || fail "failclosed_${mode}_cap_prime" "c$c.$S: expected page, got $got"
    if ! flood; then
        fail "failclosed_${mode}_cap_flood" "could not fill the lookups-in-flight cap"
        return
    fi
    got=$(outcome "c$c.$S")
    if [ "$got" = page ] && grep -qF "c$c.$S:$P: refused: the TLSA lookup at the CNAME target could not start" \
        "$WORLD_DIR/daneguard.log"; then
        pass "failclosed_${mode}_cap_target_tlsa_not_started"
    else
        fail "failclosed_${mode}_cap_target_tlsa_not_started" "c$c.$S: expected page (not started), got $got; $(why "c$c.$S")"
    fi
    got=$(outcome "h$h.$S")
    [ "$got" = e502 ] && pass "failclosed_${mode}_cap_host_lookups_not_started" ||
        fail "failclosed_${mode}_cap_host_lookups_not_started" "h$h.$S: expected e502, got $got; $(why "h$h.$S")"
}
# the last 4 names are kept out of the tables for these
[ "$k" -le $((ROWS - 4)) ] || fail failclosed_rows "the tables used $k names of $ROWS"
# One client may not hold more than max_waiting_per_client queries (the
# resolver drops its oldest and cancels their lookups): the flood stands for
# many clients, so it gets room to fill the lookups-in-flight cap.
flood_cfg=("resolver.timeout: $FLOOD_TIMEOUT" "resolver.max_waiting_per_client: 100000"
    "resolver.max_waiting_queries: 100000")
reload_to reload_flood_dane "${base_cfg[@]}" "${flood_cfg[@]}" &&
    cap_rows dane "$ROWS" $((ROWS - 1))
reload_to reload_flood_all "${base_cfg[@]}" "${flood_cfg[@]}" "proxy.intercept: all" &&
    cap_rows all $((ROWS - 2)) $((ROWS - 3))
dg_alive daneguard_survived
dg_stop_checked no_sanitizer_reports
proxy_finish
