#!/usr/bin/env bash
# tests/e2e/resolver_poison.sh — one bad upstream answer must not stick
# (issue 9, item 3). A tampering relay (tests/world/dnsrelay.py) corrupts
# chosen answers a set number of times; daneguard must drop what its caching
# forwarder kept for a bogus lookup, ask again, serve the bogus SERVFAIL for no
# longer than bogus_ttl, never serve a cached answer past its signatures'
# expiration (RFC 4035 §5.3.3), and validate new names after the zones are
# re-signed with new keys.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap

BOGUS_TTL=2
WORLD_EXTRA_CHILDREN="sec2:secure soon:shortlived"
WORLD_SHORTLIVED_SECS=${WORLD_SHORTLIVED_SECS:-40}
WORLD_KEEP_ANCHOR_KEY=1
world_extra_records() {
    [ "$1" = secure.world.test. ] || return 0
    for i in 1 2 3 4 5 6 7 8 9; do echo "p$i IN A 127.0.0.9$i"; done
}
world_start || exit 1
world_relay_start || exit 1
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.bogus_ttl: $BOGUS_TTL" \
    "resolver.timeout: 4000"
world_daneguard_start "$WORLD_DIR/dg.yml" || exit 1

q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=6 +dnssec "$@"; }
# relay_n NAME TYPE: how many queries for NAME/TYPE reached the relay
relay_n() { world_relay_count "^[a-z]+ $1 $2 "; }
# secure_ok OUT: NOERROR with AD and an answer
secure_ok() {
    [ "$(dig_rcode "$1")" = NOERROR ] && dig_has_flag "$1" ad && [ -n "$(dig_answer "$1")" ]
}
brief() { echo "$(dig_rcode "$1") flags: $(dig_flags "$1") ede: $(dig_ede "$1")"; }

# (c), first half: cache an answer from the zone whose signatures expire soon.
soon_expires=$(cat "$WORLD_DIR/zones/soon.world.test..expires")
out=$(q www.soon.world.test A)
ttl=$(dig_section "$out" ANSWER | awk '$4 == "A" { print $2; exit }')
left=$((soon_expires - $(date +%s)))
if secure_ok "$out" && [ -n "$ttl" ] && [ "$ttl" -le $((left + 1)) ]; then
    pass ttl_capped_at_signature_expiration
else
    fail ttl_capped_at_signature_expiration "$(brief "$out"), TTL ${ttl:-none} with the signatures expiring in $left s"
fi

# TTLs raised by the upstream (the relay's set_ttl) stay within the RRSIG's
# Original TTL (3600 in the zone).
world_relay_rules '[{"qname":"p9.secure.world.test.","qtype":"A","action":"set_ttl","ttl":1000000}]'
out=$(q p9.secure.world.test A)
ttl=$(dig_section "$out" ANSWER | awk '$4 == "A" { print $2; exit }')
if secure_ok "$out" && [ -n "$ttl" ] && [ "$ttl" -le 3600 ]; then
    pass ttl_capped_at_original_ttl
else
    fail ttl_capped_at_original_ttl "$(brief "$out"), TTL ${ttl:-none} (the RRSIG's Original TTL is 3600)"
fi

# A reply to another question under the right ID is not an answer: dropped,
# and the query's retransmit gets the real one.
world_relay_rules '[{"qname":"www.insecure.world.test.","qtype":"A","action":"question","from_qname":"onlya.world.test.","times":1}]'
out=$(q www.insecure.world.test A)
ans=$(dig_answer "$out")
if [ "$(dig_rcode "$out")" = NOERROR ] && [ "$ans" = "www.insecure.world.test. IN A 127.0.0.80" ]; then
    pass reply_to_other_question_dropped
else
    fail reply_to_other_question_dropped "$(brief "$out"): ${ans:-no answer}"
fi

# (a) the answer corrupted once: the bogus lookup drops the forwarder's copy
# and asks again at once, so even the first client gets the real answer.
world_relay_rules '[{"qname":"www.secure.world.test.","qtype":"A","action":"corrupt_rrsig","times":1}]'
out=$(q www.secure.world.test A)
n=$(relay_n www.secure.world.test. A)
if secure_ok "$out" && [ "$n" -ge 2 ]; then
    pass corrupted_once_answer_requeried
else
    fail corrupted_once_answer_requeried "$(brief "$out"); $n upstream queries for www.secure.world.test A"
fi

# (a) corrupted twice (the lookup and its re-query): SERVFAIL, then after
# bogus_ttl the real answer, from a new upstream query.
world_relay_rules '[{"qname":"p1.secure.world.test.","qtype":"A","action":"corrupt_rrsig","times":2}]'
out=$(q p1.secure.world.test A)
first=$(dig_rcode "$out")
sleep $((BOGUS_TTL + 1))
out=$(q p1.secure.world.test A)
n=$(relay_n p1.secure.world.test. A)
if [ "$first" = SERVFAIL ] && secure_ok "$out" && [ "$n" -ge 3 ]; then
    pass corrupted_answer_recovers_after_bogus_ttl
else
    fail corrupted_answer_recovers_after_bogus_ttl "first $first, after ${BOGUS_TTL}s+1s: $(brief "$out"); $n upstream queries"
fi

# (b) the zone's DNSKEY answer corrupted twice: every name in the zone is bogus
# until the key set is fetched again.
world_relay_rules '[{"qname":"sec2.world.test.","qtype":"DNSKEY","action":"corrupt_rrsig","times":2}]'
out=$(q www.sec2.world.test A)
first=$(dig_rcode "$out")
sleep $((BOGUS_TTL + 1))
out=$(q www.sec2.world.test A)
out2=$(q www.sec2.world.test AAAA)
n=$(relay_n sec2.world.test. DNSKEY)
if [ "$first" = SERVFAIL ] && secure_ok "$out" && secure_ok "$out2" && [ "$n" -ge 3 ]; then
    pass corrupted_dnskey_recovers_after_bogus_ttl
else
    fail corrupted_dnskey_recovers_after_bogus_ttl "first $first, then A: $(brief "$out"), AAAA: $(brief "$out2"); $n DNSKEY queries"
fi
world_relay_rules '[]'

# (c), second half: once the signatures have expired, the cached AD answer is
# gone (the upstream still serves the expired signatures: SERVFAIL, EDE 7).
now=$(date +%s)
[ "$now" -le "$soon_expires" ] && sleep $((soon_expires - now + 1))
out=$(q www.soon.world.test A)
if ! dig_has_flag "$out" ad && [ "$(dig_rcode "$out")" = SERVFAIL ]; then
    pass no_ad_from_cache_past_signature_expiration
else
    fail no_ad_from_cache_past_signature_expiration "$(brief "$out") $(date +%s) s, expired at $soon_expires"
fi

# (d) every zone but the anchor re-signed with new keys: names not asked for
# before validate against the new keys, not the forwarder's old ones.
world_rebuild || { fail rebuild "world_rebuild failed"; exit 1; }
out=$(q p2.secure.world.test A)
out2=$(q www.sec2.world.test TXT)
out3=$(q www.soon.world.test AAAA)
if secure_ok "$out" && [ "$(dig_rcode "$out2")" = NOERROR ] && dig_has_flag "$out2" ad &&
    secure_ok "$out3"; then
    pass new_names_validate_after_rekey
else
    fail new_names_validate_after_rekey "p2.secure A: $(brief "$out"); www.sec2 TXT: $(brief "$out2"); www.soon AAAA: $(brief "$out3")"
fi

# Two upstreams, one of them always corrupting: the re-query after a bogus
# answer goes to the other one, so every name validates at the first try.
world_relay_rules '[{"qname":"*.secure.world.test.","qtype":"A","action":"corrupt_rrsig"}]'
world_daneguard_config "$WORLD_DIR/dg.yml" "resolver.bogus_ttl: $BOGUS_TTL" \
    "resolver.timeout: 4000" \
    "resolver.upstream_recursive_servers: [{address_data: $WORLD_RELAY_ADDR, port: $WORLD_RELAY_PORT}, {address_data: $WORLD_NS_ADDR, port: $WORLD_NS_PORT}]"
kill -HUP "$DG_PID"
sleep 1
ok=0
bad=""
for i in 3 4 5 6 7 8; do
    out=$(q "p$i.secure.world.test" A)
    if secure_ok "$out"; then ok=$((ok + 1)); else bad+=" p$i: $(brief "$out");"; fi
done
n=$(world_relay_count '^[a-z]+ p[3-8]\.secure\.world\.test\. A ')
echo "two upstreams, one corrupting: $ok of 6 names validated, $n of their queries went to the corrupting one"
if [ "$ok" -eq 6 ] && [ "$n" -le 6 ]; then
    pass bogus_requeried_at_other_upstream
else
    fail bogus_requeried_at_other_upstream "$ok of 6 with AD;$bad $n queries to the corrupting relay"
fi

if kill -0 "$DG_PID" 2>/dev/null; then pass daemon_alive; else fail daemon_alive "daneguard exited"; fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORLD_DIR/daneguard.log"; then
    fail no_sanitizer_reports "$(grep -m3 -E 'Sanitizer|runtime error' "$WORLD_DIR/daneguard.log")"
else
    pass no_sanitizer_reports
fi
[ "$WORLD_FAILED" -eq 0 ]
