#!/usr/bin/env bash
# tests/e2e/resolver_stale.sh — serve stale when the upstream is briefly gone
# (RFC 8767, issue 11). Records with a 3 s TTL are cached, expire, then NSD is
# stopped: with serve_expired the expired answers come back with TTL 30 and
# EDE 3 (Stale Answer), AD only for the secure one, never a bogus one; past
# serve_expired_ttl they are SERVFAIL; NSD back → a fresh answer replaces them.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap
STALE_BOUND=10
world_extra_records() {
    case $1 in
    secure.world.test. | insecure.world.test.) echo "st 3 IN A 127.0.0.77" ;;
    esac
}
world_start || exit 1
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.timeout: 1500" "resolver.bogus_ttl: 2" \
    "resolver.serve_expired: true" "resolver.serve_expired_ttl: $STALE_BOUND"
world_daneguard_start "$WORLD_DIR/dg.yml" -v || exit 1

q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=5 +tries=1 +dnssec "$@"; }
brief() { echo "$(dig_rcode "$1") flags: $(dig_flags "$1") ede: $(dig_ede "$1") ttl: $(ttl_of "$1")"; }
ttl_of() { dig_section "$1" ANSWER | awk '$4 == "A" { print $2; exit }'; }

s1=$(q st.secure.world.test A)
i1=$(q st.insecure.world.test A)
b1=$(q www.bogus.world.test A)
q +nodnssec +noedns st.secure.world.test A >/dev/null # its own cache entry (DO clear)
filled=$(date +%s)
if dig_has_flag "$s1" ad && [ "$(dig_rcode "$i1")" = NOERROR ] && [ "$(dig_rcode "$b1")" = SERVFAIL ]; then
    pass cache_filled
else
    fail cache_filled "secure: $(brief "$s1"); insecure: $(brief "$i1"); bogus: $(brief "$b1")"
fi
sleep 4 # every one has expired
world_nsd_stop

out=$(q st.secure.world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad && [ "$(dig_ede "$out")" = 3 ] &&
    [ "$(ttl_of "$out")" = 30 ] && grep -q 127.0.0.77 <<<"$(dig_answer "$out")"; then
    pass stale_secure_with_ad_ede3_ttl30
else
    fail stale_secure_with_ad_ede3_ttl30 "$(brief "$out")"
fi
out=$(q st.insecure.world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && ! dig_has_flag "$out" ad && [ "$(dig_ede "$out")" = 3 ] &&
    [ "$(ttl_of "$out")" = 30 ]; then
    pass stale_insecure_without_ad
else
    fail stale_insecure_without_ad "$(brief "$out")"
fi
out=$(q www.bogus.world.test A)
if [ "$(dig_rcode "$out")" = SERVFAIL ] && [ "$(dig_ede "$out")" != 3 ]; then
    pass stale_never_bogus
else
    fail stale_never_bogus "$(brief "$out")"
fi
out=$(q +nodnssec +noedns st.secure.world.test A)
if [ "$(dig_rcode "$out")" = NOERROR ] && [ "$(ttl_of "$out")" = 30 ]; then
    pass stale_without_edns
else
    fail stale_without_edns "$(brief "$out")"
fi

n=$(curl -sS --max-time 5 "http://127.0.0.1:$DG_PROXY_PORT/metrics" |
    awk '$1 == "daneguard_dns_stale_answers_total" { print $2 }')
if [ "${n:-0}" -ge 3 ]; then
    pass stale_answers_counted_in_metrics
else
    fail stale_answers_counted_in_metrics "daneguard_dns_stale_answers_total ${n:-missing}"
fi

# Past the bound (3 s TTL + STALE_BOUND s): SERVFAIL.
left=$((filled + 3 + STALE_BOUND + 1 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
out=$(q st.secure.world.test A)
if [ "$(dig_rcode "$out")" = SERVFAIL ] && [ "$(dig_ede "$out")" != 3 ]; then
    pass beyond_bound_servfail
else
    fail beyond_bound_servfail "$(brief "$out")"
fi

# The upstream comes back: fresh answers, no EDE, their own TTL.
world_nsd_start || { fail nsd_back "NSD did not come back"; exit 1; }
out=$(q st.secure.world.test A)
t=$(ttl_of "$out")
if [ "$(dig_rcode "$out")" = NOERROR ] && dig_has_flag "$out" ad && [ -z "$(dig_ede "$out")" ] &&
    [ -n "$t" ] && [ "$t" -le 3 ]; then
    pass upstream_back_fresh_answer
else
    fail upstream_back_fresh_answer "$(brief "$out")"
fi
# every run of daneguard appended to its log: no sanitizer report in any
world_daneguard_stop
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORLD_DIR/daneguard.log"; then
    fail no_sanitizer_report "$(grep -m1 -A4 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORLD_DIR/daneguard.log" | tr '\n' ' ' | head -c 600)"
else
    pass no_sanitizer_report
fi
[ "$WORLD_FAILED" -eq 0 ]
