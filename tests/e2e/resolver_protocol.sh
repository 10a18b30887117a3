#!/usr/bin/env bash
# shellcheck disable=SC2119 # world_start [--rrl]: called without arguments
# tests/e2e/resolver_protocol.sh — protocol details of issue 9 item 7, with dig
# and kdig, compared with a validating Unbound in front of the same NSD where
# both should agree:
#   ANY in a signed zone (RFC 8482), the UDP size cap (1232, DNS flag day 2020),
#   DNS cookies (RFC 7873, RFC 9018; Unbound 1.17 has none, so not compared),
#   TTL caps (cache_max_ttl, cache_max_negative_ttl, RFC 2181 §8), names inside
#   the obsolete RFC 1035 mail types, and an upstream's extended rcode.
# One PASS/FAIL per behaviour.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
source tests/world/world.sh

world_extra_records() {
    [ "$1" = world.test. ] || return 0
    # a CNAME to MB records whose names the upstream compresses into each other
    printf 'mbalias\tIN\tCNAME\tmbox\n'
    printf 'mbox\tIN\tMB\ta.mail.world.test.\n'
    printf 'mbox\tIN\tMB\tb.mail.world.test.\n'
    printf 'mgalias\tIN\tCNAME\tmbox\n'
    printf 'mbox\tIN\tMG\tc.mail.world.test.\n'
    printf 'mbox\tIN\tMR\td.mail.world.test.\n'
    printf 'mbox\tIN\tMINFO\tr.mail.world.test. e.mail.world.test.\n'
    printf 'longttl\t172800\tIN\tA\t127.0.0.91\n'
    printf 'hugettl\tIN\tA\t127.0.0.92\n'
    printf 'extrcode\tIN\tA\t127.0.0.93\n'
    printf 'extrcode2\tIN\tA\t127.0.0.94\n'
}

world_trap
world_start || { fail world_start "the test world did not come up"; exit 1; }
world_unbound_start || { fail unbound_start "Unbound did not come up"; exit 1; }
world_relay_start || { fail relay_start "the relay did not come up"; exit 1; }
CFG=$WORLD_DIR/daneguard.yml
world_daneguard_config "$CFG"
world_daneguard_start "$CFG" || { fail daneguard_start "daneguard did not come up"; exit 1; }

dq() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" "$@"; }
uq() { world_dig @127.0.0.1 -p "$WORLD_UNBOUND_PORT" "$@"; }
verdict() { if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi; }

# summary OUT: rcode, AD and the answer RRsets (TTLs dropped, sorted).
summary() {
    echo "rcode $(dig_rcode "$1")"
    if dig_has_flag "$1" ad; then echo "ad"; else echo "no-ad"; fi
    dig_answer "$1"
}

# compare TEST DIG-ARGS...: daneguard and Unbound agree on summary().
compare() {
    local test=$1 u d
    shift
    u=$(summary "$(uq "$@")")
    d=$(summary "$(dq "$@")")
    if [ "$u" = "$d" ]; then
        pass "$test"
    else
        fail "$test" "$(diff <(echo "$u") <(echo "$d") | grep '^[<>]' | sed 's/^</unbound:/; s/^>/daneguard:/' | tr '\n' ' ')"
    fi
}

# --- ANY (RFC 8482): one validated RRset, as Unbound answers behind NSD -------------
# getdns 1.6.0 called every positive answer to ANY bogus: SERVFAIL, EDE 6.
out=$(dq +dnssec www.world.test. ANY)
why=""
[ "$(dig_rcode "$out")" = NOERROR ] || why+="rcode $(dig_rcode "$out"); "
dig_has_flag "$out" ad || why+="no AD; "
[ "$(dig_count "$out" ANSWER A)" = 1 ] || why+="$(dig_count "$out" ANSWER A) A records; "
verdict any_signed_zone_one_rrset "$why"
for q in "www.world.test." "world.test." "alias.world.test." "nx.world.test." "www.secure.world.test." "www.insecure.world.test."; do
    for flags in "" "+dnssec" "+dnssec +cd"; do
        # shellcheck disable=SC2086 # flags are words
        compare "any_vs_unbound_${q%.}$(printf '_%s' $flags | tr -d +)" $flags "$q" ANY
    done
done
out=$(dq +tcp www.bogus.world.test. ANY)
verdict any_bogus_still_servfail "$([ "$(dig_rcode "$out")" = SERVFAIL ] || echo "rcode $(dig_rcode "$out")")"

# --- UDP: nothing above the 1232 bytes we advertise -----------------------------------
# (Unbound 1.17's max-udp-size is 4096, so it answers this one whole: not compared.)
out=$(dq +notcp +ignore +bufsize=4096 big.world.test. TXT)
size=$(sed -n 's/^;; MSG SIZE  rcvd: \([0-9]*\).*/\1/p' <<<"$out")
why=""
dig_has_flag "$out" tc || why+="no TC; "
[ -n "$size" ] && [ "$size" -le 1232 ] || why+="$size bytes; "
verdict udp_capped_at_1232_despite_4096 "$why"
out=$(timeout 10 kdig @127.0.0.1 -p "$DG_DNS_PORT" +notcp +ignore +bufsize=4096 +time=2 +retry=0 big.world.test. TXT 2>&1)
verdict udp_capped_kdig "$(grep -qiE '^;; flags: .*\<tc\>' <<<"$out" || echo "no TC from kdig: $(grep -i '^;; flags' <<<"$out")")"
out=$(dq +notcp +ignore +bufsize=4096 www.world.test. A)
verdict udp_small_answer_whole "$({ ! dig_has_flag "$out" tc && [ "$(dig_count "$out" ANSWER A)" = 1 ]; } || echo "tc or no A")"
out=$(dq +notcp +ignore +bufsize=1000 big.world.test. TXT)
size=$(sed -n 's/^;; MSG SIZE  rcvd: \([0-9]*\).*/\1/p' <<<"$out")
verdict udp_client_size_below_ours_honoured "$({ dig_has_flag "$out" tc && [ "$size" -le 1000 ]; } || echo "tc? $(dig_flags "$out"), $size bytes")"

# --- DNS cookies (RFC 7873, RFC 9018) -------------------------------------------------------
cookie_of() { sed -n 's/^;* *COOKIE: \([0-9a-fA-F]*\).*/\1/p' <<<"$1" | head -n 1 | tr 'A-F' 'a-f'; }
out=$(dq +cookie=0102030405060708 www.world.test. A)
c=$(cookie_of "$out")
why=""
[ "${#c}" = 48 ] || why+="cookie '$c' is not a client and a 16-byte server cookie; "
[ "${c:0:16}" = 0102030405060708 ] || why+="client cookie not echoed; "
[ "${c:16:8}" = 01000000 ] || why+="server cookie not version 1; "
grep -q 'COOKIE: .*(good)' <<<"$out" || why+="dig does not call it good; "
verdict cookie_server_cookie_returned "$why"
out=$(dq +cookie="$c" www.world.test. A)
verdict cookie_fresh_server_cookie_kept "$([ "${#c}" = 48 ] && [ "$(cookie_of "$out")" = "$c" ] || echo "sent '$c', got '$(cookie_of "$out")'")"
out=$(dq +cookie=0102030405060708aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa www.world.test. A)
c2=$(cookie_of "$out")
why=""
[ "$(dig_rcode "$out")" = NOERROR ] || why+="rcode $(dig_rcode "$out"); "
[ "${#c2}" = 48 ] && [ "${c2:16}" != aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ] || why+="cookie $c2; "
verdict cookie_invalid_server_cookie_answered_and_renewed "$why"
# RFC 7873 §5.4: no question, a cookie: NOERROR with the cookies (was FORMERR without OPT)
out=$(dq +header-only +cookie=1112131415161718)
why=""
[ "$(dig_rcode "$out")" = NOERROR ] || why+="rcode $(dig_rcode "$out"); "
c=$(cookie_of "$out")
[ "${#c}" = 48 ] && [ "${c:0:16}" = 1112131415161718 ] || why+="cookie '$c'; "
verdict cookie_qdcount0_query "$why"
out=$(world_dns_send udp 127.0.0.1 "$DG_DNS_PORT" "$(world_dns_query_hex www.world.test A 301 0 0)")
verdict qdcount0_without_cookie_still_formerr "$(grep -q '^id=301 rcode=1 ' <<<"$out" || echo "got: $out")"
out=$(dq +tcp +cookie=0102030405060708 www.world.test. A)
verdict cookie_over_tcp "$([ "${#out}" -gt 0 ] && [ "$(cookie_of "$out" | wc -c)" = 49 ] || echo "no cookie over TCP")"
out=$(dq +notcp +ignore +cookie=0102030405060708 big.world.test. TXT)
verdict cookie_kept_on_truncated_reply "$({ dig_has_flag "$out" tc && [ "$(cookie_of "$out" | wc -c)" = 49 ]; } || echo "tc? $(dig_flags "$out"), cookie $(cookie_of "$out")")"
out=$(timeout 10 kdig @127.0.0.1 -p "$DG_DNS_PORT" +cookie +time=2 +retry=0 www.world.test. A 2>&1)
verdict cookie_kdig "$([ "$(cookie_of "$out" | wc -c)" = 49 ] || echo "kdig saw no server cookie: $(grep -i cookie <<<"$out")")"
# RFC 7873 §5.2.2: a COOKIE option of 9 bytes is FORMERR, with an OPT
out=$(/usr/bin/python3 - "$DG_DNS_PORT" <<'PY'
import socket, sys
import dns.edns, dns.message, dns.rcode
q = dns.message.make_query("www.world.test.", "A", use_edns=0,
                           options=[dns.edns.GenericOption(10, bytes(range(9)))])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q.to_wire(), ("127.0.0.1", int(sys.argv[1])))
r = dns.message.from_wire(s.recv(4096))
print(dns.rcode.to_text(r.rcode()), "edns" if r.edns >= 0 else "no-edns")
PY
)
verdict cookie_malformed_formerr "$([ "$out" = "FORMERR edns" ] || echo "got: $out")"

# --- TTLs: capped at cache_max_ttl (86400), top bit set means 0 -------------------------------
ttl_of() { dig_section "$1" ANSWER | awk -v t="$2" '$4 == t { print $2; exit }'; }
d=$(ttl_of "$(dq longttl.world.test. A)" A)
u=$(ttl_of "$(uq longttl.world.test. A)" A)
verdict ttl_capped_at_86400 "$([ -n "$d" ] && [ "$d" -le 86400 ] && [ "$d" -ge 86390 ] || echo "TTL $d (Unbound: $u)")"
verdict ttl_cap_as_unbound "$([ -n "$u" ] && [ -n "$d" ] && [ $((u - d)) -le 5 ] && [ $((d - u)) -le 5 ] || echo "daneguard $d, Unbound $u")"
world_relay_rules '[{"qname":"hugettl.world.test.","action":"set_ttl","ttl":2147483648}]'
out=$(dq +dnssec hugettl.world.test. A)
verdict ttl_2_31_served_as_0 "$([ "$(ttl_of "$out" A)" = 0 ] && [ "$(ttl_of "$out" RRSIG)" = 0 ] || echo "TTLs $(ttl_of "$out" A) and $(ttl_of "$out" RRSIG)")"
# The world's SOA has MINIMUM 300, below the default negative cap of 3600: both
# serve at most that (Unbound may count down from an earlier NSEC it cached).
d=$(dig_section "$(dq nx5.world.test. A)" AUTHORITY | awk '$4 == "SOA" { print $2; exit }')
u=$(dig_section "$(uq nx5.world.test. A)" AUTHORITY | awk '$4 == "SOA" { print $2; exit }')
verdict ttl_negative_soa_as_unbound "$([ -n "$u" ] && [ -n "$d" ] && [ "$d" -le 300 ] && [ "$u" -le 300 ] || echo "daneguard $d, Unbound $u")"

# --- names inside MB, MG, MR, MINFO: decompressed, compared with Unbound -------------------
for t in MB MG MR MINFO; do
    compare "obsolete_${t}_vs_unbound" mbox.world.test. "$t"
    compare "obsolete_${t}_behind_cname_vs_unbound" +nodnssec mbalias.world.test. "$t"
done
compare obsolete_MB_behind_cname_dnssec_vs_unbound +dnssec mgalias.world.test. MB
# kdig prints MB as TYPE7 with its rdata in hex, decompressed (libknot knows
# the obsolete types are compressible): a.mail.world.test. and b.mail...
out=$(timeout 10 kdig @127.0.0.1 -p "$DG_DNS_PORT" +time=2 +retry=0 +nodnssec mbalias.world.test. TYPE7 2>&1)
why=""
grep -q 'status: NOERROR' <<<"$out" || why+="not NOERROR; "
grep -q 'TYPE7.*0161046D61696C05776F726C64047465737400' <<<"$out" || why+="no MB a.mail.world.test.; "
grep -q 'TYPE7.*0162046D61696C05776F726C64047465737400' <<<"$out" || why+="no MB b.mail.world.test.; "
verdict obsolete_MB_kdig_parses "$why$(grep -m1 'malformed\|;; ERROR' <<<"$out")"

# --- an upstream's extended rcode: about its own exchange, never passed on -----------------
world_relay_rules '[{"qname":"extrcode.world.test.","action":"rcode","rcode":23},{"qname":"extrcode2.world.test.","action":"rcode","rcode":16}]'
out=$(dq extrcode.world.test. A)
verdict ext_rcode_badcookie_upstream_servfail "$([ "$(dig_rcode "$out")" = SERVFAIL ] || echo "rcode $(dig_rcode "$out")")"
out=$(dq +noedns extrcode.world.test. A)
verdict ext_rcode_no_edns_client_servfail "$([ "$(dig_rcode "$out")" = SERVFAIL ] || echo "rcode $(dig_rcode "$out") (the low bits of 23 read YXDOMAIN)")"
out=$(dq +noedns extrcode2.world.test. A)
verdict ext_rcode_badvers_upstream_servfail "$([ "$(dig_rcode "$out")" = SERVFAIL ] || echo "rcode $(dig_rcode "$out")")"
world_relay_rules '[]'

# --- configured caps: cache_max_ttl, cache_max_negative_ttl ---------------------------------
world_daneguard_stop
world_daneguard_config "$CFG" 'resolver.cache_max_ttl: 100' 'resolver.cache_max_negative_ttl: 30'
if world_daneguard_start "$CFG"; then
    t=$(ttl_of "$(dq www.world.test. A)" A)
    verdict ttl_cache_max_ttl_config "$([ -n "$t" ] && [ "$t" -le 100 ] || echo "TTL $t")"
    t=$(dig_section "$(dq +dnssec nx3.world.test. A)" AUTHORITY | awk '{ print $2 }' | sort -n | tail -n 1)
    verdict ttl_cache_max_negative_ttl_config "$([ -n "$t" ] && [ "$t" -le 30 ] || echo "largest authority TTL $t")"
else
    fail ttl_cache_max_ttl_config "daneguard did not start with cache_max_ttl: $(tail -n 2 "$WORLD_DIR/daneguard.log" | tr '\n' ' ')"
fi
BIN=${DANEGUARD_BIN:-$PWD/build/daneguard}
printf 'resolver:\n  cache_max_ttl: 2147483647\n  cache_max_negative_ttl: 0\n' >"$WORLD_DIR/ttl-ok.yml"
printf 'resolver:\n  cache_max_ttl: 2147483648\n' >"$WORLD_DIR/ttl-bad.yml"
out=$("$BIN" -n -c "$WORLD_DIR/ttl-ok.yml" 2>&1)
verdict ttl_config_range_accepted "$([ $? = 0 ] || echo "rejected: $out")"
out=$("$BIN" -n -c "$WORLD_DIR/ttl-bad.yml" 2>&1)
rc=$?
verdict ttl_config_above_2_31_rejected "$([ "$rc" != 0 ] && grep -q 'ttl-bad.yml:2: resolver.cache_max_ttl' <<<"$out" || echo "exit $rc: $out")"
verdict daemon_alive "$(kill -0 "$DG_PID" 2>/dev/null || echo "daneguard died")"

[ "$WORLD_FAILED" -eq 0 ]
