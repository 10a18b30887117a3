#!/usr/bin/env bash
# shellcheck disable=SC2119 # world_start [--rrl]: called without arguments
# tests/e2e/resolver.sh — daneguard's DNS resolver end to end: real dig/kdig and
# raw sockets against `daneguard -c FILE` in front of the hermetic test world
# (tests/world/world.sh). One PASS/FAIL line per behaviour.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
source tests/world/world.sh

BIN=${DANEGUARD_BIN:-$PWD/build/daneguard}
world_trap
world_start || { fail world_start "the test world did not come up"; exit 1; }

CFG=$WORLD_DIR/daneguard.yml
world_daneguard_config "$CFG"
if ! world_daneguard_start "$CFG"; then
    fail daneguard_start "daneguard ($BIN) did not answer on 127.0.0.1#$DG_DNS_PORT: $(tail -n 3 "$WORLD_DIR/daneguard.log" 2>/dev/null | tr '\n' ' ')"
    exit 1
fi
pass daneguard_start

# dq DIG-ARGS...: a query to daneguard (DQ_SERVER, default 127.0.0.1).
dq() { world_dig @"${DQ_SERVER:-127.0.0.1}" -p "$DG_DNS_PORT" "$@"; }

# expect NAME RCODE ad|noad|any EDE|- DIG-ARGS...: one query, one verdict; the
# output stays in LAST for follow-up checks.
expect() {
    local name=$1 rcode=$2 ad=$3 ede=$4 why=""
    shift 4
    LAST=$(dq "$@")
    [ "$(dig_rcode "$LAST")" = "$rcode" ] || why+="rcode '$(dig_rcode "$LAST")' not $rcode; "
    case $ad in
    ad) dig_has_flag "$LAST" ad || why+="no AD; " ;;
    noad) dig_has_flag "$LAST" ad && why+="AD set; " ;;
    esac
    if [ "$ede" != - ] && [ "$(dig_ede "$LAST")" != "$ede" ]; then
        why+="EDE '$(dig_ede "$LAST")' not $ede; "
    fi
    if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
}

# verdict NAME WHY: PASS when WHY is empty.
verdict() { if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi; }

alive() { kill -0 "$DG_PID" 2>/dev/null; }

# --- DNSSEC status and the AD bit ------------------------------------------------
expect secure_ad_with_do NOERROR ad - +dnssec www.secure.world.test. A
expect secure_ad_with_adflag NOERROR ad - +nodnssec +adflag www.secure.world.test. A
expect secure_no_ad_without_do_or_ad NOERROR noad - +nodnssec +noadflag www.secure.world.test. A
verdict secure_no_ad_still_has_data "$([ "$(dig_count "$LAST" ANSWER A)" = 1 ] || echo "no A record")"
expect trust_anchor_zone_ad NOERROR ad - +dnssec www.world.test. AAAA
expect insecure_no_ad NOERROR noad - +dnssec www.insecure.world.test. A
verdict insecure_has_data "$([ "$(dig_count "$LAST" ANSWER A)" = 1 ] || echo "no A record")"
expect insecure_no_ad_with_adflag NOERROR noad - +adflag www.insecure.world.test. A
# The DS denial of an insecure delegation: NODATA from the signed parent (without
# AD: a getdns 1.6.0 limit, see README), never SERVFAIL.
expect insecure_delegation_ds_nodata NOERROR noad - +dnssec insecure.world.test. DS
verdict insecure_delegation_ds_nsec "$(dig_section "$LAST" AUTHORITY | grep -q NSEC || echo "no NSEC proof")"
# The trust anchor's own DS sits in the unsigned parent, outside the island of
# security: insecure data, as Unbound answers it.
expect anchor_ds_insecure NOERROR noad - +dnssec world.test. DS

# --- bogus and expired: SERVFAIL with an RFC 8914 EDE, data only with CD ---------
expect bogus_servfail_ede6 SERVFAIL noad 6 +dnssec www.bogus.world.test. A
verdict bogus_no_data "$([ "$(dig_count "$LAST" ANSWER A)" = 0 ] || echo "bogus A returned")"
expect expired_servfail_ede7 SERVFAIL noad 7 +dnssec www.expired.world.test. A
if grep -q 'EDE: 7 (Signature Expired)' <<<"$LAST"; then pass expired_ede7_text; else fail expired_ede7_text "$(grep EDE <<<"$LAST")"; fi
expect bogus_servfail_without_do SERVFAIL noad - +nodnssec www.bogus.world.test. A
expect bogus_cd_passthrough NOERROR noad - +dnssec +cd www.bogus.world.test. A
verdict bogus_cd_returns_altered_data "$(dig_answer "$LAST" | grep -q '127.0.0.66' || echo "no 127.0.0.66 in answer")"
expect bogus_cd_not_leaked_into_validated SERVFAIL noad 6 +dnssec www.bogus.world.test. A
expect expired_cd_passthrough NOERROR noad - +dnssec +cd www.expired.world.test. A

# --- RRSIGs follow DO ---------------------------------------------------------------
# Without DO first, so a cached DO=0 answer must not be served to DO=1.
LAST=$(dq +nodnssec www.world.test. A)
verdict rrsig_absent_without_do "$([ "$(dig_count "$LAST" ANSWER RRSIG)" = 0 ] || echo "RRSIG in a DO=0 answer")"
LAST=$(dq +dnssec www.world.test. A)
verdict rrsig_present_with_do "$([ "$(dig_count "$LAST" ANSWER RRSIG)" -ge 1 ] || echo "no RRSIG with DO")"

# --- negative answers -----------------------------------------------------------
expect nxdomain_secure_ad NXDOMAIN ad - +dnssec nx.world.test. A
why=""
[ "$(dig_count "$LAST" AUTHORITY NSEC)" -ge 1 ] || why+="no NSEC in authority; "
[ "$(dig_count "$LAST" AUTHORITY RRSIG)" -ge 1 ] || why+="no RRSIG in authority; "
[ "$(dig_count "$LAST" AUTHORITY SOA)" = 1 ] || why+="no SOA in authority; "
verdict nxdomain_nsec_proof_with_do "$why"
expect nxdomain_without_do NXDOMAIN any - +nodnssec nx2.world.test. A
verdict nxdomain_no_nsec_without_do "$([ "$(dig_count "$LAST" AUTHORITY NSEC)" = 0 ] || echo "NSEC without DO")"
expect nodata_secure_ad NOERROR ad - +dnssec onlya.world.test. AAAA
why=""
[ "$(dig_count "$LAST" ANSWER AAAA)" = 0 ] || why+="AAAA present; "
[ "$(dig_count "$LAST" AUTHORITY SOA)" = 1 ] || why+="no SOA in authority; "
verdict nodata_empty_answer_with_soa "$why"

# --- CNAME chain -----------------------------------------------------------------
expect cname_chain_ad NOERROR ad - +dnssec alias.world.test. A
why=""
dig_answer "$LAST" | grep -q 'alias.world.test. IN CNAME www.world.test.' || why+="no CNAME; "
dig_answer "$LAST" | grep -q 'www.world.test. IN A 127.0.0.80' || why+="no A at the target; "
verdict cname_chain_records "$why"

# --- size: TC over UDP, the whole answer over TCP, EDNS payload honoured ------------
LAST=$(dq +ignore +notcp +bufsize=1232 big.world.test. TXT)
verdict tc_over_udp_edns1232 "$(dig_has_flag "$LAST" tc || echo "no TC: $(dig_flags "$LAST")")"
LAST=$(dq +ignore +notcp +noedns big.world.test. TXT)
verdict tc_over_udp_no_edns "$(dig_has_flag "$LAST" tc || echo "no TC: $(dig_flags "$LAST")")"
LAST=$(dq +tcp big.world.test. TXT)
n=$(dig_count "$LAST" ANSWER TXT)
verdict big_txt_full_over_tcp "$([ "$n" = "$WORLD_BIG_COUNT" ] || echo "$n of $WORLD_BIG_COUNT TXT")"
# A client's EDNS size counts up to the 1232 we advertise, no further (DNS flag
# day 2020; resolver_protocol.sh has the rest).
LAST=$(dq +ignore +notcp +bufsize=4096 big.world.test. TXT)
verdict edns_payload_capped_at_advertised "$(dig_has_flag "$LAST" tc || echo "no TC: $(dig_flags "$LAST")")"
LAST=$(dq big.world.test. TXT) # dig's own retry over TCP
n=$(dig_count "$LAST" ANSWER TXT)
verdict tc_then_client_retries_tcp "$([ "$n" = "$WORLD_BIG_COUNT" ] || echo "$n of $WORLD_BIG_COUNT TXT")"
# Name compression: 24 TXT answers repeat the owner name; uncompressed it would
# cost 17 bytes each instead of 2.
size=$(world_dns_send tcp 127.0.0.1 "$DG_DNS_PORT" "$(world_dns_query_hex big.world.test TXT 77)" | sed -n 's/.*size=\([0-9]*\).*/\1/p')
ns_size=$(world_dns_send tcp "$WORLD_NS_ADDR" "$WORLD_NS_PORT" "$(world_dns_query_hex big.world.test TXT 77 0 1 0)" | sed -n 's/.*size=\([0-9]*\).*/\1/p')
verdict name_compression "$([ -n "$size" ] && [ -n "$ns_size" ] && [ "$size" -le $((ns_size + 64)) ] || echo "answer $size bytes, NSD's $ns_size")"

# --- TCP pipelining, IPv6 ------------------------------------------------------------
out=$(world_dns_send tcp 127.0.0.1 "$DG_DNS_PORT" \
    "$(world_dns_query_hex www.world.test A 101)" \
    "$(world_dns_query_hex onlya.world.test A 102)" \
    "$(world_dns_query_hex www.secure.world.test AAAA 103)" \
    "$(world_dns_query_hex big.world.test TXT 104)")
why=""
for id in 101 102 103 104; do
    grep -q "^id=$id rcode=0 " <<<"$out" || why+="no NOERROR answer for id $id; "
done
verdict tcp_pipelined_four_queries "$why"
if command -v kdig >/dev/null; then
    out=$(timeout 10 kdig @127.0.0.1 -p "$DG_DNS_PORT" +tcp +keepopen +time=2 +retry=0 \
        www.world.test A www.secure.world.test A onlya.world.test A 2>&1)
    n=$(grep -c 'status: NOERROR' <<<"$out")
    verdict tcp_keepopen_kdig_three_queries "$([ "$n" = 3 ] || echo "$n of 3 NOERROR")"
fi
DQ_SERVER=::1 expect ipv6_listener_udp NOERROR ad - +dnssec www.secure.world.test. A
DQ_SERVER=::1 expect ipv6_listener_tcp NOERROR ad - +tcp +dnssec www.secure.world.test. AAAA

# --- cache: TTLs counted down ----------------------------------------------------------
ttl_of() { dig_section "$1" ANSWER | awk '$4 == "A" { print $2; exit }'; }
LAST=$(dq www.secure.world.test. A)
t1=$(ttl_of "$LAST")
sleep 2.2
LAST=$(dq www.secure.world.test. A)
t2=$(ttl_of "$LAST")
verdict cache_ttl_decreases "$([ -n "$t1" ] && [ -n "$t2" ] && [ "$t2" -lt "$t1" ] && [ "$t2" -ge $((t1 - 4)) ] || echo "TTL $t1 then $t2")"

# --- malformed and unsupported queries ---------------------------------------------------
out=$(world_dns_send udp 127.0.0.1 "$DG_DNS_PORT" "$(world_dns_query_hex www.world.test A 201 0 2)")
verdict formerr_qdcount_2 "$(grep -q '^id=201 rcode=1 ' <<<"$out" || echo "got: $out")"
q=$(world_dns_query_hex www.world.test A 202)
out=$(world_dns_send udp 127.0.0.1 "$DG_DNS_PORT" "${q:0:${#q}-6}")
verdict formerr_truncated_question "$(grep -q '^id=202 rcode=1 ' <<<"$out" || echo "got: $out")"
out=$(world_dns_send udp 127.0.0.1 "$DG_DNS_PORT" "$(world_dns_query_hex www.world.test A 203 2)")
verdict notimp_opcode_status "$(grep -q '^id=203 rcode=4 opcode=2 ' <<<"$out" || echo "got: $out")"
out=$(world_dns_send tcp 127.0.0.1 "$DG_DNS_PORT" "$(world_dns_query_hex www.world.test A 204 2)")
verdict notimp_opcode_status_tcp "$(grep -q '^id=204 rcode=4 ' <<<"$out" || echo "got: $out")"
out=$(world_dns_send udp 127.0.0.1 "$DG_DNS_PORT" "00ff")
expect still_answers_after_garbage NOERROR any - www.world.test. A
verdict alive_after_malformed "$(alive || echo "daneguard died")"

# --- configuration: -n, errors with file and line, SIGHUP -------------------------------
out=$("$BIN" -n -c "$CFG" 2>&1)
rc=$?
verdict check_good_config_exits_0 "$([ "$rc" = 0 ] || echo "exit $rc: $out")"
BAD=$WORLD_DIR/bad.yml
printf 'resolver:\n  listen_addresses:\n    - "127.0.0.1@%s"\n  timeout: not-a-number\n' "$DG_DNS_PORT" >"$BAD"
out=$("$BIN" -n -c "$BAD" 2>&1)
rc=$?
verdict config_error_exits_nonzero "$([ "$rc" != 0 ] || echo "exit 0 on a bad file")"
verdict config_error_names_file_and_line "$(grep -q 'bad.yml:4:' <<<"$out" || echo "stderr: $out")"
printf 'resolver:\n  listen_addresses:\n    - "not-an-address@x"\n' >"$BAD"
out=$("$BIN" -n -c "$BAD" 2>&1)
rc=$?
verdict config_bad_address_names_line "$([ "$rc" != 0 ] && grep -q 'bad.yml:3:' <<<"$out" || echo "exit $rc, stderr: $out")"

cp "$CFG" "$WORLD_DIR/good.yml"
printf 'resolver: [this is\n  not: valid\n' >"$CFG"
kill -HUP "$DG_PID"
sleep 1
verdict sighup_bad_config_keeps_running "$(alive || echo "daneguard died on SIGHUP")"
expect sighup_bad_config_keeps_serving NOERROR ad - +dnssec www.secure.world.test. A
cp "$WORLD_DIR/good.yml" "$CFG"
world_daneguard_config "$CFG" 'resolver.allow: [10.0.0.0/8]'
kill -HUP "$DG_PID"
sleep 1
expect sighup_reload_applies_allow REFUSED any - www.world.test. A
cp "$WORLD_DIR/good.yml" "$CFG"
kill -HUP "$DG_PID"
sleep 1
expect sighup_reload_back NOERROR any - www.world.test. A

# --- allow: a client outside it is refused ------------------------------------------------
world_daneguard_stop
world_daneguard_config "$WORLD_DIR/refuse.yml" 'resolver.allow: [10.0.0.0/8]'
if world_daneguard_start "$WORLD_DIR/refuse.yml"; then
    expect refused_outside_allow_udp REFUSED any - www.world.test. A
    expect refused_outside_allow_tcp REFUSED any - +tcp www.world.test. A
    DQ_SERVER=::1 expect refused_outside_allow_ipv6 REFUSED any - www.world.test. A
else
    fail refused_outside_allow_udp "daneguard did not start with allow: [10.0.0.0/8]"
fi
world_daneguard_stop
world_daneguard_start "$CFG" || { fail daneguard_restart "did not start again"; exit 1; }

# --- the upstream going away and coming back ---------------------------------------------
dq +dnssec www.secure.world.test. A >/dev/null # in the cache before NSD goes
world_nsd_stop
start=$(date +%s%N)
LAST=$(dq +time=6 +dnssec www.insecure.world.test. TXT)
ms=$((($(date +%s%N) - start) / 1000000))
why=""
[ "$(dig_rcode "$LAST")" = SERVFAIL ] || why+="rcode '$(dig_rcode "$LAST")'; "
[ "$ms" -le 3000 ] || why+="took $ms ms (timeout 2000 + 1000); "
verdict upstream_gone_servfail_within_timeout "$why"
verdict upstream_gone_daemon_alive "$(alive || echo "daneguard died")"
expect upstream_gone_cached_answer_still_served NOERROR ad - +dnssec www.secure.world.test. A
world_nsd_start || fail upstream_back "NSD did not restart"
ok=""
for ((i = 0; i < 20; i++)); do
    LAST=$(dq +dnssec "back$i.world.test." A)
    if [ "$(dig_rcode "$LAST")" = NXDOMAIN ] && dig_has_flag "$LAST" ad; then
        ok=$i
        break
    fi
    sleep 0.5
done
verdict upstream_back_answers_again "$([ -n "$ok" ] || echo "no validated answer within 10 s: $(dig_rcode "$LAST")")"
expect upstream_back_uncached_lookup NOERROR noad - +dnssec www.insecure.world.test. AAAA

# --- clean stop ---------------------------------------------------------------------------
kill -TERM "$DG_PID"
rc=timeout
for ((i = 0; i < 50; i++)); do
    if ! alive; then
        wait "$DG_PID"
        rc=$?
        break
    fi
    sleep 0.1
done
verdict sigterm_clean_exit "$([ "$rc" = 0 ] || echo "exit status $rc")"
_world_forget_pid "$DG_PID"
DG_PID=

[ "$WORLD_FAILED" -eq 0 ]
