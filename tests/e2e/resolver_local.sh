#!/usr/bin/env bash
# tests/e2e/resolver_local.sh — the resolver on a home network (issue 11):
# the router's own names, locally served zones, static names, negative trust
# anchors and DNS rebinding protection.
#
# The world: NSD serves the signed world.test., which proves that
# home.world.test. does not exist. A "router" (dnsmasq on another 127.x
# address) answers router.home.world.test. A 192.168.1.1 and its PTR itself
# and forwards everything else to NSD, as a home router does. daneguard's
# upstream is a counting relay (tests/world/dnsrelay.py) in front of the
# router, so the relay's log shows every query daneguard sent upstream.
#
# Three configurations, one daneguard each:
#   A. none of the new keys: the router's name is bogus (SERVFAIL), localhost.,
#      invalid., home.arpa. and RFC 6303 reverse names are answered here and
#      never reach the relay, a bogus zone is refused by the proxy;
#   B. forward_zones for home.world.test. and 1.168.192.in-addr.arpa. (to the
#      router, unvalidated), local_data, hosts_file, rebind_protection: true;
#   C. domain_insecure: bogus.world.test.: answered without AD, listed on the
#      status page, and the proxy tunnels it (intercept: dane).
# Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
source tests/world/world.sh
source tests/e2e/lib_proxy.sh
world_trap

command -v dnsmasq >/dev/null || { echo "FAIL dnsmasq: not installed (dnsmasq-base)"; exit 1; }

# --- the world ---------------------------------------------------------------------
PICK_ADDRS=127.0.0.66
P_NTA=$(pick_port); ports+=("$P_NTA")
WORLD_DIR=$(mktemp -d /tmp/daneguard-pki.XXXXXX)
pki_dir=$WORLD_DIR
pki_init && pki_leaf nta www.bogus.world.test ec ||
    { echo "FAIL pki: $(tail -5 "$WORLD_DIR/pki.log")"; exit 1; }
PKI_SAVED=$PKI
WORLD_DIR=
# a TLSA that matches nothing: the proxy would refuse the host if it believed it
H_OTHER=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)

world_extra_records() {
    case $1 in
    bogus.world.test.)
        echo "_$P_NTA._tcp.www IN TLSA 3 1 1 $H_OTHER" ;;
    world.test.)
        echo "private IN A 192.168.7.7"
        echo "private6 IN AAAA fd00::7"
        echo "mixed IN A 93.184.216.34"
        echo "mixed IN A 10.0.0.1"
        echo "global IN A 93.184.216.34"
        # rebinding in other spellings (tests/e2e: the red team's list)
        echo "mapped IN AAAA ::ffff:127.0.0.1"
        echo "nat64 IN AAAA 64:ff9b::7f00:1"
        echo "sixtofour IN AAAA 2002:7f00:1::1"
        echo "v4compat IN AAAA ::7f00:1"
        echo "zero IN A 0.0.0.0"
        echo "cgnat IN A 100.64.1.1"
        echo "linklocal6 IN AAAA fe80::1"
        echo "chain IN CNAME private"
        echo "anyname IN A 10.1.2.3"
        echo "svc IN HTTPS 1 . alpn=h2 ipv4hint=127.0.0.1"
        echo "svc6 IN HTTPS 1 . ipv6hint=fd00::1"
        echo "svcok IN HTTPS 1 . alpn=h2 ipv4hint=93.184.216.34" ;;
    esac
}
world_start || exit 1
mv "$pki_dir/pki" "$WORLD_DIR/pki" && PKI="$WORLD_DIR/pki" && rm -rf "$pki_dir"

ROUTER_ADDR=$(_world_pick_addr)
ROUTER_PORT=$(world_free_port "$ROUTER_ADDR") || exit 1
world_spawn router dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
    --listen-address="$ROUTER_ADDR" --port="$ROUTER_PORT" --user=root \
    --pid-file="$WORLD_DIR/dnsmasq.pid" --cache-size=0 --local-ttl=60 \
    --server="$WORLD_NS_ADDR#$WORLD_NS_PORT" \
    --local=/home.world.test/ --local=/1.168.192.in-addr.arpa/ \
    --host-record=router.home.world.test,192.168.1.1 \
    --host-record=cam.lab.home.world.test,192.168.1.70
world_wait_dns "$ROUTER_ADDR" "$ROUTER_PORT" 10 || { fail router_up "dnsmasq does not answer"; exit 1; }

RELAY_ADDR=$(_world_pick_addr)
RELAY_PORT=$(world_free_port "$RELAY_ADDR") || exit 1
RELAY_LOG=$WORLD_DIR/relay-queries.log
echo '[]' >"$WORLD_DIR/relay-rules.json"
: >"$RELAY_LOG"
world_spawn relay /usr/bin/python3 tests/world/dnsrelay.py "$RELAY_ADDR" "$RELAY_PORT" \
    "$ROUTER_ADDR" "$ROUTER_PORT" "$WORLD_DIR/relay-rules.json" "$RELAY_LOG"
world_wait_dns "$RELAY_ADDR" "$RELAY_PORT" 10 || {
    fail relay_up "the relay does not answer: $(tail -n 5 "$WORLD_DIR/relay.log" "$WORLD_DIR/router.log" | tr "\n" " ") $(dig +tcp @"$ROUTER_ADDR" -p "$ROUTER_PORT" world.test SOA | grep status)"
    exit 1
}

CFG=$WORLD_DIR/dg.yml
UPSTREAM="resolver.upstream_recursive_servers: [{address_data: $RELAY_ADDR, port: $RELAY_PORT}]"
PORTS="proxy.allowed_ports: [443, $P_NTA]"
q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +dnssec "$@"; }
relay_count() { grep -Eic "$1" "$RELAY_LOG"; }
expect() { # NAME RCODE [FLAG-THAT-MUST-BE-ABSENT] -- dig output in $out
    local name=$1 rcode=$2
    if [ "$(dig_rcode "$out")" != "$rcode" ]; then
        fail "$name" "rcode $(dig_rcode "$out"), expected $rcode"
        return 1
    fi
    if [ -n "${3:-}" ] && dig_has_flag "$out" "$3"; then
        fail "$name" "flag $3 set"
        return 1
    fi
    return 0
}
has() { grep -Eq "$1" <<<"$(dig_section "$out" ANSWER)"; }
# answer_has NAME RCODE NOFLAG REGEX / answer_lacks ...: the rcode, the flag
# NOFLAG ('' for none) absent, and an answer record matching (not matching) REGEX
answer_has() {
    expect "$1" "$2" "$3" || return 0
    has "$4" && pass "$1" || fail "$1" "answer: $(dig_answer "$out" | tr '\n' ' ')"
}
answer_lacks() {
    expect "$1" "$2" "$3" || return 0
    ! has "$4" && pass "$1" || fail "$1" "answer: $(dig_answer "$out" | tr '\n' ' ')"
}

# --- A. no configuration -----------------------------------------------------------
world_daneguard_config "$CFG" "$UPSTREAM" "$PORTS"
world_daneguard_start "$CFG" || { fail start_plain "daneguard did not start"; exit 1; }
: >"$RELAY_LOG"

out=$(q www.secure.world.test A)
expect through_router_validates NOERROR && { dig_has_flag "$out" ad && pass through_router_validates ||
    fail through_router_validates "no AD through the router"; }

out=$(q router.home.world.test A)
expect unconfigured_router_name_servfail SERVFAIL && pass unconfigured_router_name_servfail

out=$(q 1.1.168.192.in-addr.arpa PTR)
expect unconfigured_rfc6303_reverse_nxdomain NXDOMAIN ad &&
    pass unconfigured_rfc6303_reverse_nxdomain

out=$(q localhost A)
answer_has localhost_a NOERROR 'ad' 'localhost\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.0\.1'
out=$(q www.localhost AAAA)
answer_has localhost_below_aaaa NOERROR 'ad' 'IN[[:space:]]+AAAA[[:space:]]+::1'
out=$(q x.invalid A)
expect invalid_nxdomain NXDOMAIN ad && pass invalid_nxdomain
out=$(q printer.home.arpa A)
expect home_arpa_nxdomain NXDOMAIN ad && pass home_arpa_nxdomain
out=$(q 4.3.2.10.in-addr.arpa PTR)
expect rfc6303_10_nxdomain NXDOMAIN && pass rfc6303_10_nxdomain
out=$(q 1.0.0.127.in-addr.arpa PTR)
answer_has rfc6303_loopback_ptr NOERROR '' 'PTR[[:space:]]+localhost\.'
out=$(q 1.0.254.169.in-addr.arpa PTR)
expect rfc6303_link_local_nxdomain NXDOMAIN && pass rfc6303_link_local_nxdomain
out=$(q 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa PTR)
expect rfc6303_ula_nxdomain NXDOMAIN && pass rfc6303_ula_nxdomain
sleep 0.3
n=$(relay_count 'localhost|invalid|home\.arpa|in-addr\.arpa|ip6\.arpa')
[ "$n" -eq 0 ] && pass local_names_never_reach_upstream ||
    fail local_names_never_reach_upstream "$n queries reached the relay: $(grep -Ei 'localhost|invalid|arpa' "$RELAY_LOG" | head -3 | tr '\n' ' ')"

out=$(q www.bogus.world.test A)
expect unconfigured_bogus_servfail SERVFAIL && pass unconfigured_bogus_servfail

# the proxy refuses the bogus host (its origin runs from here on)
origin_sserver nta 127.0.0.66 "$P_NTA" nta || fail origin_nta "no origin"
code=$(pcurl --cacert "$PKI/root.pem" -o "$WORLD_DIR/a.body" -w '%{http_code}' \
    "https://www.bogus.world.test:$P_NTA/" 2>"$WORLD_DIR/a.err")
if [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$WORLD_DIR/a.body"; then
    fail unconfigured_bogus_proxy_refused "tunnelled"
elif grep -q "www.bogus.world.test:$P_NTA: refused" "$WORLD_DIR/daneguard.log"; then
    pass unconfigured_bogus_proxy_refused
else
    fail unconfigured_bogus_proxy_refused "code=$code, no refusal in the log: $(head -c 200 "$WORLD_DIR/a.err")"
fi
world_daneguard_stop

# --- B. forward zones, local data, hosts file, rebinding ---------------------------
printf '# a gateway names its LAN\n192.168.1.60 tv.lan tv\nfd00::60 tv.lan\n' >"$WORLD_DIR/hosts"
world_daneguard_config "$CFG" "$UPSTREAM" "$PORTS" \
    "resolver.forward_zones: [{name: home.world.test, upstreams: [\"$ROUTER_ADDR@$ROUTER_PORT\"]}, {name: 1.168.192.in-addr.arpa., upstreams: [\"$ROUTER_ADDR@$ROUTER_PORT\"]}]" \
    "resolver.local_data: [\"printer.lan. 600 IN A 192.168.1.50\", \"printer.lan. TXT \\\"ink low\\\"\"]" \
    "resolver.hosts_file: $WORLD_DIR/hosts" \
    "resolver.rebind_protection: true" \
    "resolver.domain_insecure: [lab.home.world.test]"
world_daneguard_start "$CFG" || { fail start_local_names "daneguard did not start"; exit 1; }
: >"$RELAY_LOG"

out=$(q router.home.world.test A)
answer_has forward_zone_router_name NOERROR 'ad' 'IN[[:space:]]+A[[:space:]]+192\.168\.1\.1'
out=$(world_dig @127.0.0.1 -p "$DG_DNS_PORT" +adflag router.home.world.test A)
expect forward_zone_no_ad_asked NOERROR ad && pass forward_zone_no_ad_asked
out=$(q nothing.home.world.test A)
expect forward_zone_nxdomain_not_bogus NXDOMAIN ad && pass forward_zone_nxdomain_not_bogus
out=$(q 1.1.168.192.in-addr.arpa PTR)
answer_has forward_reverse_zone NOERROR 'ad' 'PTR[[:space:]]+router\.home\.world\.test\.'
out=$(q 9.9.168.192.in-addr.arpa PTR)
expect reverse_outside_forward_zone_local NXDOMAIN && pass reverse_outside_forward_zone_local
out=$(q secure.world.test SOA)
dig_has_flag "$out" ad && pass other_names_still_validated || fail other_names_still_validated "no AD"

out=$(q printer.lan A)
answer_has local_data_a NOERROR 'ad' 'printer\.lan\.[[:space:]]+600[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.168\.1\.50'
out=$(q printer.lan TXT)
has '"ink low"' && pass local_data_txt || fail local_data_txt "$(dig_answer "$out")"
out=$(q printer.lan AAAA)
answer_lacks local_data_nodata NOERROR '' 'IN[[:space:]]+AAAA'
out=$(q 50.1.168.192.in-addr.arpa PTR)
has 'PTR[[:space:]]+printer\.lan\.' && pass local_data_ptr || fail local_data_ptr "$(dig_answer "$out")"
out=$(q tv.lan A)
has 'IN[[:space:]]+A[[:space:]]+192\.168\.1\.60' && pass hosts_file_a || fail hosts_file_a "$(dig_answer "$out")"
out=$(q tv.lan AAAA)
has 'IN[[:space:]]+AAAA[[:space:]]+fd00::60' && pass hosts_file_aaaa || fail hosts_file_aaaa "$(dig_answer "$out")"
out=$(q tv A)
has 'IN[[:space:]]+A[[:space:]]+192\.168\.1\.60' && pass hosts_file_alias || fail hosts_file_alias "$(dig_answer "$out")"
out=$(q 60.1.168.192.in-addr.arpa PTR)
has 'PTR[[:space:]]+tv\.lan\.' && pass hosts_file_ptr || fail hosts_file_ptr "$(dig_answer "$out")"
# a domain_insecure name inside a forward zone: still the router's, not the
# main upstream's (which would leak the LAN's names and prove them absent)
out=$(q cam.lab.home.world.test A)
answer_has nta_inside_forward_zone_asks_the_zone NOERROR 'ad' 'IN[[:space:]]+A[[:space:]]+192\.168\.1\.70'
sleep 0.3
n=$(relay_count 'lan\.|home\.world\.test|in-addr\.arpa')
[ "$n" -eq 0 ] && pass forward_and_local_never_via_main_upstream ||
    fail forward_and_local_never_via_main_upstream "$n queries reached the relay"

# rebinding: private and loopback addresses of public names go
out=$(q private.world.test A)
answer_lacks rebind_private_removed NOERROR '' 'IN[[:space:]]+A[[:space:]]+192\.168'
out=$(q private6.world.test AAAA)
answer_lacks rebind_ula_removed_no_ad NOERROR 'ad' 'IN[[:space:]]+AAAA'
out=$(q www.world.test A)
! has 'IN[[:space:]]+A[[:space:]]+127\.' && pass rebind_loopback_removed ||
    fail rebind_loopback_removed "$(dig_answer "$out")"
out=$(q mixed.world.test A)
! has 'IN[[:space:]]+A[[:space:]]' && pass rebind_rrset_with_one_private_removed ||
    fail rebind_rrset_with_one_private_removed "$(dig_answer "$out")"
out=$(q global.world.test A)
has 'IN[[:space:]]+A[[:space:]]+93\.184\.216\.34' && dig_has_flag "$out" ad &&
    pass rebind_global_kept_secure || fail rebind_global_kept_secure "$(dig_answer "$out")"
# the same addresses in other spellings, at the end of a CNAME, in upper
# case, and for ANY
for n in mapped/AAAA nat64/AAAA sixtofour/AAAA v4compat/AAAA zero/A cgnat/A linklocal6/AAAA \
    chain/A PRIVATE.World.Test/A anyname/ANY; do
    name=${n%/*}
    [[ $name == *.* ]] || name=$name.world.test
    out=$(q "$name" "${n#*/}")
    if [ "$(dig_rcode "$out")" = NOERROR ] && ! has 'IN[[:space:]]+(A|AAAA)[[:space:]]'; then
        pass "rebind_removed_${n%/*}_${n#*/}"
    else
        fail "rebind_removed_${n%/*}_${n#*/}" "$(dig_rcode "$out"): $(dig_answer "$out" | tr '\n' ' ')"
    fi
done
# the address hints of HTTPS records (RFC 9460): a client may connect to them
for n in svc svc6; do
    out=$(q $n.world.test HTTPS)
    if [ "$(dig_rcode "$out")" = NOERROR ] && ! has 'IN[[:space:]]+HTTPS[[:space:]]'; then
        pass "rebind_removed_https_hint_$n"
    else
        fail "rebind_removed_https_hint_$n" "$(dig_rcode "$out"): $(dig_answer "$out" | tr '\n' ' ')"
    fi
done
out=$(q svcok.world.test HTTPS)
has 'IN[[:space:]]+HTTPS[[:space:]]+1 \. alpn="?h2"? ipv4hint=93\.184\.216\.34' && dig_has_flag "$out" ad &&
    pass rebind_https_global_hint_kept || fail rebind_https_global_hint_kept "$(dig_answer "$out" | tr '\n' ' ')"
grep -q 'private.world.test./1: removed 2 record(s) with a local address (192.168.7.7' \
    "$WORLD_DIR/daneguard.log" && pass rebind_log_line ||
    fail rebind_log_line "no log line: $(grep -m2 removed "$WORLD_DIR/daneguard.log")"
world_daneguard_stop

# --- C. a negative trust anchor -----------------------------------------------------
world_daneguard_config "$CFG" "$UPSTREAM" "$PORTS" "resolver.domain_insecure: [bogus.world.test]"
world_daneguard_start "$CFG" || { fail start_domain_insecure "daneguard did not start"; exit 1; }
out=$(q www.bogus.world.test A)
answer_has nta_answers_without_ad NOERROR 'ad' 'IN[[:space:]]+A[[:space:]]+127\.0\.0\.66'
out=$(q "_$P_NTA._tcp.www.bogus.world.test" TLSA)
expect nta_tlsa_insecure NOERROR ad && pass nta_tlsa_insecure
out=$(q www.secure.world.test A)
dig_has_flag "$out" ad && pass nta_leaves_others_validated || fail nta_leaves_others_validated "no AD"
out=$(q www.expired.world.test A)
expect nta_other_bogus_still_servfail SERVFAIL && pass nta_other_bogus_still_servfail
code=$(pcurl --cacert "$PKI/root.pem" -o "$WORLD_DIR/c.body" -w '%{http_code}' \
    "https://www.bogus.world.test:$P_NTA/" 2>"$WORLD_DIR/c.err")
if [ "$code" = 200 ] && grep -q "$S_SERVER_PAGE" "$WORLD_DIR/c.body"; then
    pass nta_proxy_tunnels
else
    fail nta_proxy_tunnels "code=$code $(head -c 300 "$WORLD_DIR/c.err")"
fi
page=$(curl -sS --max-time 10 "http://127.0.0.1:$DG_PROXY_PORT/status" 2>&1)
grep -q 'domain_insecure.*bogus\.world\.test\.' <<<"$page" && pass nta_on_status_page ||
    fail nta_on_status_page "$(head -c 200 <<<"$page")"
grep -q 'domain_insecure (negative trust anchors, not validated): bogus.world.test.' \
    "$WORLD_DIR/daneguard.log" && pass nta_log_line || fail nta_log_line "no log line"
dg_log_clean no_sanitizer_reports
world_daneguard_stop

[ "$WORLD_FAILED" -eq 0 ]
