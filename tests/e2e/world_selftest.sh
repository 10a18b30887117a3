#!/usr/bin/env bash
# shellcheck disable=SC2119 # world_start [--rrl]: called without arguments
# tests/e2e/world_selftest.sh — proves the hermetic test world itself: NSD serves
# what tests/world/world.sh says, and a validating Unbound in front of it sees
# secure, insecure, bogus and expired exactly where they are meant to be.
# Needs no daneguard; every other end-to-end test builds on this world.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
source tests/world/world.sh

# The hook later engineers use to add records (TLSA, origins): prove it works.
world_extra_records() {
    case $1 in
    world.test.) printf 'hooked\tIN\tTXT\t"added by world_extra_records"\n' ;;
    secure.world.test.) printf '_443._tcp.www\tIN\tTLSA\t3 1 1 %s\n' "$(printf '%064d' 0)" ;;
    esac
}

world_trap
world_start || { fail world_start "NSD did not come up"; exit 1; }
pass world_start

ns() { world_dig @"$WORLD_NS_ADDR" -p "$WORLD_NS_PORT" +norec "$@"; }

# --- NSD directly -----------------------------------------------------------
out=$(ns +dnssec world.test. SOA)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" aa &&
    [ "$(dig_count "$out" ANSWER RRSIG)" -ge 1 ]; then
    pass nsd_world_test_signed
else
    fail nsd_world_test_signed "no authoritative signed SOA: $(dig_flags "$out")"
fi

out=$(ns +dnssec world.test. DS)
if [ "$(dig_count "$out" ANSWER DS)" = 1 ] && [ "$(dig_count "$out" ANSWER RRSIG)" = 0 ]; then
    pass nsd_parent_holds_unsigned_ds
else
    fail nsd_parent_holds_unsigned_ds "world.test. DS not answered from test.: $(dig_answer "$out")"
fi

for c in secure bogus expired; do
    out=$(ns "$c.world.test." DS)
    if [ "$(dig_count "$out" ANSWER DS)" = 1 ]; then pass "nsd_ds_$c"; else fail "nsd_ds_$c" "no DS for $c"; fi
done
out=$(ns +dnssec insecure.world.test. DS)
if [ "$(dig_count "$out" ANSWER DS)" = 0 ] && [ "$(dig_count "$out" AUTHORITY NSEC)" -ge 1 ]; then
    pass nsd_insecure_no_ds_nsec_proof
else
    fail nsd_insecure_no_ds_nsec_proof "$(dig_section "$out" AUTHORITY | head -n 3)"
fi

out=$(ns +dnssec expired.world.test. SOA)
if dig_section "$out" ANSWER | grep -q 'RRSIG.*20200201000000 20200101000000'; then
    pass nsd_expired_signature_dates
else
    fail nsd_expired_signature_dates "expired.world.test. RRSIG not from 2020"
fi

out=$(ns big.world.test. TXT +ignore +notcp +bufsize=1232)
if dig_has_flag "$out" tc; then pass nsd_big_txt_truncates_udp; else fail nsd_big_txt_truncates_udp "no TC: $(dig_flags "$out")"; fi
out=$(ns +tcp big.world.test. TXT)
n=$(dig_count "$out" ANSWER TXT)
if [ "$n" = "$WORLD_BIG_COUNT" ]; then pass nsd_big_txt_over_tcp; else fail nsd_big_txt_over_tcp "$n of $WORLD_BIG_COUNT TXT"; fi

out=$(ns +dnssec hooked.world.test. TXT)
if [ "$(dig_count "$out" ANSWER TXT)" = 1 ] && [ "$(dig_count "$out" ANSWER RRSIG)" = 1 ]; then
    pass world_extra_records_hook_signed
else
    fail world_extra_records_hook_signed "hooked.world.test. TXT missing or unsigned"
fi

# --- a validating Unbound in front of the world ---------------------------------
world_unbound_start || { fail unbound_start "Unbound did not come up"; exit 1; }
pass unbound_start

ub() { world_dig @127.0.0.1 -p "$WORLD_UNBOUND_PORT" "$@"; }

# expect NAME RCODE AD(ad|noad) [EDE|-] DIG-ARGS...
expect() {
    local name=$1 rcode=$2 ad=$3 ede=$4 out why=""
    shift 4
    out=$(ub "$@")
    [ "$(dig_rcode "$out")" = "$rcode" ] || why+="rcode $(dig_rcode "$out") not $rcode; "
    if [ "$ad" = ad ]; then
        dig_has_flag "$out" ad || why+="no AD; "
    else
        dig_has_flag "$out" ad && why+="AD set; "
    fi
    if [ "$ede" != - ] && [ "$(dig_ede "$out")" != "$ede" ]; then
        why+="EDE '$(dig_ede "$out")' not $ede; "
    fi
    if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
    LAST_OUT=$out
}

expect unbound_secure_world_soa NOERROR ad - +dnssec world.test. SOA
expect unbound_secure_www NOERROR ad - +dnssec www.world.test. A
expect unbound_secure_child NOERROR ad - +dnssec www.secure.world.test. A
expect unbound_secure_child_tlsa_hook NOERROR ad - +dnssec _443._tcp.www.secure.world.test. TLSA
expect unbound_insecure_child NOERROR noad - +dnssec www.insecure.world.test. A
if [ "$(dig_count "$LAST_OUT" ANSWER A)" = 1 ]; then pass unbound_insecure_has_data; else fail unbound_insecure_has_data "no A"; fi
expect unbound_bogus_servfail_ede6 SERVFAIL noad 6 +dnssec www.bogus.world.test. A
expect unbound_expired_servfail_ede7 SERVFAIL noad 7 +dnssec www.expired.world.test. A
expect unbound_bogus_cd_gives_data NOERROR noad - +dnssec +cd www.bogus.world.test. A
if dig_answer "$LAST_OUT" | grep -q '127.0.0.66'; then pass unbound_bogus_cd_altered_record; else fail unbound_bogus_cd_altered_record "no 127.0.0.66"; fi
expect unbound_nxdomain_secure NXDOMAIN ad - +dnssec nx.world.test. A
expect unbound_nodata_secure NOERROR ad - +dnssec onlya.world.test. AAAA
if [ "$(dig_count "$LAST_OUT" ANSWER AAAA)" = 0 ]; then pass unbound_nodata_empty; else fail unbound_nodata_empty "AAAA present"; fi
expect unbound_cname_chain NOERROR ad - +dnssec alias.world.test. A
if [ "$(dig_count "$LAST_OUT" ANSWER CNAME)" = 1 ] && [ "$(dig_count "$LAST_OUT" ANSWER A)" = 1 ]; then
    pass unbound_cname_chain_records
else
    fail unbound_cname_chain_records "$(dig_answer "$LAST_OUT" | tr '\n' '|')"
fi

# --- NSD going away and coming back on the same address ------------------------
addr=$WORLD_NS_ADDR port=$WORLD_NS_PORT
world_nsd_stop
if ! world_wait_dns "$addr" "$port" 1; then pass nsd_stopped; else fail nsd_stopped "still answers"; fi
if world_nsd_start && [ "$WORLD_NS_ADDR#$WORLD_NS_PORT" = "$addr#$port" ]; then
    pass nsd_restarted_same_address
else
    fail nsd_restarted_same_address "NSD did not come back on $addr#$port"
fi

# --- the daneguard config writer -------------------------------------------------
cfg=$WORLD_DIR/dg.yml
world_daneguard_config "$cfg" 'resolver.allow: [10.0.0.0/8]' 'resolver.cache_size: 1m' 'proxy.intercept: all'
why=""
grep -q "^  allow: \[10.0.0.0/8\]$" "$cfg" || why+="allow not replaced; "
[ "$(grep -c '^  allow:' "$cfg")" = 1 ] || why+="allow twice; "
grep -q '^  cache_size: 1m$' "$cfg" || why+="cache_size not added; "
grep -q '^  intercept: all$' "$cfg" || why+="proxy key not added; "
grep -q "address_data: $WORLD_NS_ADDR" "$cfg" || why+="no upstream; "
grep -q "\"127.0.0.1@$DG_DNS_PORT\"" "$cfg" || why+="no listener; "
grep -q "\"::1@$DG_DNS_PORT\"" "$cfg" || why+="no v6 listener; "
if [ -z "$why" ]; then pass world_daneguard_config; else fail world_daneguard_config "$why"; fi
if python3 -c 'import yaml' 2>/dev/null; then
    if python3 -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1])); assert c["resolver"]["allow"] == ["10.0.0.0/8"]; assert c["resolver"]["upstream_recursive_servers"][0]["port"] > 0' "$cfg"; then
        pass world_daneguard_config_is_yaml
    else
        fail world_daneguard_config_is_yaml "$(cat "$cfg")"
    fi
fi

# --- world_stop ------------------------------------------------------------------
dir=$WORLD_DIR pids=("${WORLD_PIDS[@]}")
world_stop
why=""
[ -d "$dir" ] && why+="$dir left; "
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && why+="pid $p alive; "; done
world_stop # twice is fine
if [ -z "$why" ]; then pass world_stop_cleans_up; else fail world_stop_cleans_up "$why"; fi

[ "$WORLD_FAILED" -eq 0 ]
