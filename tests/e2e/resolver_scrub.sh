#!/usr/bin/env bash
# tests/e2e/resolver_scrub.sh — scrubbing (issue 9 item 1, design invariant 2):
# records outside the CNAME/DNAME chain that starts at the query name never
# reach a client, the cache or the lookup API, whatever an upstream appends.
#
# The tampering relay (tests/world/dnsrelay.py, action "append") adds validly
# signed RRsets from elsewhere in the world to real answers:
#   x.attacker.world.test. CNAME y.attacker.world.test. and y.attacker A 127.0.0.66
# (one "append" of x.attacker A brings both, RRSIGs included), or the attacker's
# TLSA RRset, to the answer, authority or additional section. daneguard and a
# validating Unbound both sit behind the same relay; every case is asked plain,
# with DO and with DO+CD, and must agree with Unbound (rcode, AD, answer; with DO
# the authority section too) and carry no attacker record at all. Then
# `daneguard check` and the proxy (curl) must use the real host's addresses and
# TLSA, never follow the injected CNAME to the attacker's TLSA or address.
# Prints "PASS name" / "FAIL name: why"; every process is stopped by PID.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
source tests/world/world.sh
# shellcheck source=tests/e2e/lib_proxy.sh
source tests/e2e/lib_proxy.sh
world_trap
BIN=${DANEGUARD_BIN:-$PWD/${BUILD:-build}/daneguard}

S=secure.world.test
PICK_ADDRS="127.0.0.80 127.0.0.66 ::1"
P=$(pick_port) || { fail scrub_ports "no free port"; exit 1; }
ports+=("$P")

# Certificates before the zones: the TLSA records carry their hashes.
WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf real "www.$S" ec && pki_leaf evil "y.attacker.world.test" ec ||
    { fail scrub_pki "$(tail -n 5 "$WORLD_DIR/pki.log" | tr '\n' ' ')"; rm -rf "$pki_dir"; exit 1; }
H_REAL=$(spki_sha256 "$PKI/real.pem" | tr a-f A-F)
H_EVIL=$(spki_sha256 "$PKI/evil.pem" | tr a-f A-F)
WORLD_DIR=

world_extra_records() {
    case $1 in
    world.test.)
        echo "x.attacker IN CNAME y.attacker.world.test."
        echo "y.attacker IN A 127.0.0.66"
        echo "_$P._tcp.y.attacker IN TLSA 3 1 1 $H_EVIL"
        echo "dn IN DNAME dtarget.world.test."
        echo "www.dtarget IN A 127.0.0.82"
        echo "*.wild IN A 127.0.0.83" ;;
    secure.world.test.)
        echo "_$P._tcp.www IN TLSA 3 1 1 $H_REAL"
        echo "www2 IN A 127.0.0.80"
        echo "_$P._tcp.www2 IN TLSA 3 1 1 $H_REAL"
        echo "www3 IN A 127.0.0.80" ;;
    esac
}

world_start || { fail scrub_world "world_start failed"; rm -rf "$pki_dir"; exit 1; }
mv "$pki_dir/pki" "$WORLD_DIR/pki" && rm -rf "$pki_dir"
PKI=$WORLD_DIR/pki
world_relay_start || { fail scrub_relay "the relay did not come up"; exit 1; }
world_unbound_start --via-relay || { fail scrub_unbound "Unbound did not come up"; exit 1; }
CFG=$WORLD_DIR/daneguard.yml
world_daneguard_config "$CFG" \
    "proxy.allowed_ports: [443, $P]" \
    "proxy.trust_store: \"$PKI/bundle.pem\"" \
    "proxy.handshake_timeout: 8000"
world_daneguard_start "$CFG" -v -v || { fail scrub_daneguard "daneguard did not come up"; exit 1; }

# Every rule appends signed data from elsewhere; the first rule matching a query wins.
TLSA_NAME="_$P._tcp.www.$S."
TLSA2_NAME="_$P._tcp.www2.$S."
world_relay_rules "$(cat <<EOF
[
 {"qname": "www.$S.", "action": "append", "from_qname": "x.attacker.world.test.", "from_qtype": "A"},
 {"qname": "alias.world.test.", "action": "append", "from_qname": "x.attacker.world.test.", "from_qtype": "A"},
 {"qname": "www.dn.world.test.", "action": "append", "from_qname": "x.attacker.world.test.", "from_qtype": "A"},
 {"qname": "foo.wild.world.test.", "action": "append", "from_qname": "x.attacker.world.test.", "from_qtype": "A"},
 {"qname": "nx.$S.", "action": "append", "from_qname": "x.attacker.world.test.", "from_qtype": "A"},
 {"qname": "www.insecure.world.test.", "action": "append", "from_qname": "x.attacker.world.test.", "from_qtype": "A"},
 {"qname": "www.world.test.", "action": "append", "from_qname": "x.attacker.world.test.", "from_qtype": "A", "section": "additional"},
 {"qname": "onlya.world.test.", "qtype": "AAAA", "action": "append", "from_qname": "x.attacker.world.test.", "from_qtype": "A", "section": "authority"},
 {"qname": "$TLSA_NAME", "action": "append", "from_qname": "_$P._tcp.y.attacker.world.test.", "from_qtype": "TLSA"},
 {"qname": "$TLSA2_NAME", "action": "append", "from_qname": "_$P._tcp.y.attacker.world.test.", "from_qtype": "TLSA", "replace": true},
 {"qname": "www3.$S.", "qtype": "A", "action": "append", "from_qname": "x.attacker.world.test.", "from_qtype": "A", "replace": true}
]
EOF
)"

# --- the relay really lies (else the rest proves nothing) --------------------------
raw=$(world_dig @"$WORLD_RELAY_ADDR" -p "$WORLD_RELAY_PORT" +dnssec +norec "www.$S" A)
if grep -q 'y\.attacker\.world\.test\..*IN[[:space:]]A[[:space:]]127\.0\.0\.66' <<<"$raw" &&
    grep -q 'x\.attacker\.world\.test\..*CNAME' <<<"$raw"; then
    pass scrub_relay_appends
else
    fail scrub_relay_appends "the relay's answer has no attacker records: $(dig_section "$raw" ANSWER | tr '\n' '|')"
fi

# --- daneguard against Unbound, both behind the relay --------------------------------

# summary OUT WITH_AUTH: what must agree with Unbound.
summary() {
    echo "rcode $(dig_rcode "$1")"
    if dig_has_flag "$1" ad; then echo "ad"; else echo "no-ad"; fi
    dig_answer "$1" | sed 's/^/answer /'
    # The authority section's RRsets (owner and type) with DO: SOA and NSEC proofs.
    # Not NS: daneguard never serves it there (Unbound's minimal-responses drops
    # it too, except from an answer it did not validate, with CD).
    [ "$2" = 1 ] && dig_section "$1" AUTHORITY | awk '$4 != "RRSIG" && $4 != "NS" { print "authority " tolower($1), $4 }' | sort -u
}

# attacker_free OUT: no section holds anything of the attacker's.
attacker_free() {
    local s
    for s in ANSWER AUTHORITY ADDITIONAL; do
        dig_section "$1" "$s" | grep -qiE 'attacker|127\.0\.0\.66' && return 1
    done
    return 0
}

# case NAME QNAME TYPE EXPECT-REGEX: compare with Unbound in three variants; the
# answer must hold a line matching EXPECT-REGEX.
scrub_case() {
    local name=$1 qname=$2 type=$3 want=$4 v u d du dd auth test
    for v in plain dnssec cd; do
        local flags=()
        auth=0
        case $v in
        dnssec) flags=(+dnssec); auth=1 ;;
        cd) flags=(+dnssec +cd); auth=1 ;;
        esac
        test="scrub_${name}_$v"
        du=$(world_dig @127.0.0.1 -p "$WORLD_UNBOUND_PORT" "${flags[@]}" "$qname" "$type")
        dd=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" "${flags[@]}" "$qname" "$type")
        u=$(summary "$du" "$auth")
        d=$(summary "$dd" "$auth")
        if ! attacker_free "$dd"; then
            fail "$test" "attacker records served: $(dig_section "$dd" ANSWER | tr -s ' \t' ' ' | tr '\n' '|') $(dig_section "$dd" AUTHORITY | tr -s ' \t' ' ' | tr '\n' '|') $(dig_section "$dd" ADDITIONAL | tr -s ' \t' ' ' | tr '\n' '|')"
        elif ! attacker_free "$du"; then
            fail "$test" "Unbound served attacker records (the comparison is void)"
        elif [ -n "$want" ] && ! dig_answer "$dd" | grep -qE -- "$want"; then
            fail "$test" "no /$want/ in the answer: $(dig_answer "$dd" | tr '\n' '|') (rcode $(dig_rcode "$dd"))"
        elif [ "$u" != "$d" ]; then
            fail "$test" "$(diff <(echo "$u") <(echo "$d") | grep '^[<>]' | sed 's/^</unbound:/; s/^>/daneguard:/' | tr '\n' ' ')"
        else
            pass "$test"
        fi
    done
}

scrub_case appended_cname_chain "www.$S" A "^www\.$S\. IN A 127\.0\.0\.80$"
scrub_case mixed_case_qname "WwW.SeCuRe.WoRlD.TeSt" A "IN A 127\.0\.0\.80$"
scrub_case after_real_cname "alias.world.test" A "^www\.world\.test\. IN A 127\.0\.0\.80$"
scrub_case dname_chain "www.dn.world.test" A "^www\.dtarget\.world\.test\. IN A 127\.0\.0\.82$"
scrub_case wildcard_answer "foo.wild.world.test" A "^foo\.wild\.world\.test\. IN A 127\.0\.0\.83$"
scrub_case nxdomain "nx.$S" A ""
scrub_case insecure_answer "www.insecure.world.test" A "^www\.insecure\.world\.test\. IN A 127\.0\.0\.80$"
scrub_case into_additional "www.world.test" A "^www\.world\.test\. IN A 127\.0\.0\.80$"
scrub_case into_authority_nodata "onlya.world.test" AAAA ""
scrub_case appended_tlsa "$TLSA_NAME" TLSA "TLSA 3 1 1 ${H_REAL:0:16}"
# The real RRset stripped, signed data from elsewhere in its place: with nothing
# left on the chain and no denial proof this is bogus, never a secure NODATA.
scrub_case replaced_tlsa "$TLSA2_NAME" TLSA ""
scrub_case replaced_address "www3.$S" A ""
for q in "$TLSA2_NAME TLSA" "www3.$S A"; do
    read -r qn qt <<<"$q"
    out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec "$qn" "$qt")
    if [ "$(dig_rcode "$out")" = SERVFAIL ]; then
        pass "scrub_unproven_denial_servfail_$qt"
    else
        fail "scrub_unproven_denial_servfail_$qt" "rcode $(dig_rcode "$out"), flags $(dig_flags "$out")"
    fi
done

# The wildcard's NSEC proof stays (it is what makes the expansion secure downstream).
out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec foo.wild.world.test A)
if [ "$(dig_count "$out" AUTHORITY NSEC)" -ge 1 ] && dig_has_flag "$out" ad; then
    pass scrub_wildcard_keeps_nsec
else
    fail scrub_wildcard_keeps_nsec "authority: $(dig_section "$out" AUTHORITY | tr -s ' \t' ' ' | tr '\n' '|')"
fi

# --- the lookup API: daneguard check ---------------------------------------------------
origin_www() { # NAME ADDR LEAF WHO: an s_server -WWW whose /who.txt says WHO
    local dir="$WORLD_DIR/www-$1" acc="$2:$P"
    [[ $2 == *:* ]] && acc="[$2]:$P"
    mkdir -p "$dir" && echo "$4" >"$dir/who.txt"
    world_spawn "origin-$1" bash -c 'cd "$1" && exec timeout 600 openssl s_server -accept "$2" -cert "$3.pem" -key "$3.key" -cert_chain "$4" -WWW -quiet' \
        origin "$dir" "$acc" "$PKI/$3" "$PKI/inter.pem"
}
origin_www real4 127.0.0.80 real real
origin_www real6 ::1 real real
origin_www evil 127.0.0.66 evil evil
wait_listen "$P" || { fail scrub_origins "nothing listens on port $P"; exit 1; }
sleep 0.3

check_out=$(timeout -k 5 90 "$BIN" check -c "$CFG" "www.$S" "$P" 2>"$WORLD_DIR/check.err")
check_rc=$?
if [ "$check_rc" = 0 ] && grep -q "^result: OK 2 addresses verified" <<<"$check_out" &&
    ! grep -qiE 'attacker|127\.0\.0\.66|^cname' <<<"$check_out"; then
    pass scrub_check_ignores_injected_cname
else
    fail scrub_check_ignores_injected_cname "exit $check_rc: $(tr '\n' '|' <<<"$check_out")"
fi

# --- the proxy: the real TLSA and the real address ------------------------------------
DGCA=$WORLD_DIR/ca/ca.crt
body=$(pcurl --cacert "$DGCA" -w ' code=%{http_code}' "https://www.$S:$P/who.txt" 2>"$WORLD_DIR/curl.err" | tr -d '\n')
if [[ $body == "real code=200" ]] && ! grep -q "using TLSA of CNAME target" "$WORLD_DIR/daneguard.log"; then
    pass scrub_proxy_real_tlsa_and_address
else
    fail scrub_proxy_real_tlsa_and_address "got '$(tr '\n' ' ' <<<"$body" | head -c 200)' $(head -c 200 "$WORLD_DIR/curl.err") log: $(grep -F "www.$S" "$WORLD_DIR/daneguard.log" | tail -n 2 | tr '\n' ' ' | head -c 400)"
fi

# A stripped TLSA answer with the attacker's signed TLSA in its place: refused
# (bogus), neither tunnelled as "no TLSA" nor checked against the attacker's record.
code=$(pcurl --cacert "$DGCA" -o "$WORLD_DIR/www2.body" -w '%{http_code}' "https://www2.$S:$P/who.txt" 2>"$WORLD_DIR/curl2.err")
if [ "$code" = 502 ] && grep -qi "bogus" "$WORLD_DIR/www2.body"; then
    pass scrub_proxy_replaced_tlsa_refused
else
    fail scrub_proxy_replaced_tlsa_refused "code=$code $(head -c 200 "$WORLD_DIR/curl2.err") $(grep -o '<p class="reason">[^<]*' "$WORLD_DIR/www2.body" 2>/dev/null | head -1)"
fi

dg_alive scrub_daneguard_survived
dg_stop_checked scrub_no_sanitizer_reports
proxy_finish
