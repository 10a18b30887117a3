#!/usr/bin/env bash
# tests/e2e/resolver_keycache.sh — new names validated with kept DNSKEY sets
# (issue 12, "New names as fast as Unbound"; resolver/keycache.c).
#
# Once a zone's DNSKEY RRset has been proven by a full getdns lookup, a new
# name in that zone is validated by getdns_validate_dnssec2() with that set.
# A lying upstream (tests/world/dnsrelay.py, its "resign" action makes real
# ECDSA signatures with the world's keys) must not get anything through that
# path: a signer that is not an ancestor of the name, a signature by another
# zone's key, a parent's signature over a name below a known delegation, an
# expired signature, a signature over another type, a wildcard expansion
# without its proof. Each is checked at the daemon's answer (no AD) and in its
# log (the key cache did not vouch for it, -vvv trace lines).
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap; KEEP_WORLD=${KEEP_WORLD:-0}

WORLD_EXTRA_CHILDREN="sec2:secure"
world_extra_records() {
    case $1 in
    secure.world.test.)
        for i in $(seq 1 20); do echo "n$i IN A 127.0.1.$i"; echo "l$i IN A 127.0.4.$i"; done
        echo "n1 IN AAAA ::1"
        echo "*.w IN A 127.0.2.1" ;;
    sec2.world.test.)
        for i in $(seq 1 20); do echo "n$i IN A 127.0.3.$i"; echo "l$i IN A 127.0.5.$i"; done ;;
    esac
}
world_start || exit 1
world_relay_start || exit 1
world_daneguard_config "$WORLD_DIR/dg.yml" 'proxy.enabled: false' "resolver.bogus_ttl: 1" \
    "resolver.timeout: 4000" || exit 1
world_daneguard_start "$WORLD_DIR/dg.yml" -vvv || exit 1
LOG=$WORLD_DIR/daneguard.log

q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=6 +dnssec "$@"; }
brief() { echo "$(dig_rcode "$1") flags: $(dig_flags "$1")"; }
secure_ok() { [ "$(dig_rcode "$1")" = NOERROR ] && dig_has_flag "$1" ad && [ -n "$(dig_answer "$1")" ]; }
# by_keycache NAME TYPE: the key cache vouched for NAME/TYPE (TYPE as a number)
by_keycache() { grep -q "upstream: $1/$2: secure by the key cache" "$LOG"; }
key_of() { ls "$WORLD_DIR"/keys/K"${1%.}".+013+*.key | head -n 1 | sed 's/\.key$//'; }
SECURE_KEY=$(key_of secure.world.test.)
SEC2_KEY=$(key_of sec2.world.test.)
ANCHOR_KEY=$(key_of world.test.)
[ -n "$SECURE_KEY" ] && [ -n "$SEC2_KEY" ] && [ -n "$ANCHOR_KEY" ] ||
    { fail keys "the world's keys not found in $WORLD_DIR/keys"; exit 1; }
rules() { world_relay_rules "$1"; }

# Learn the DNSKEY sets of secure.world.test and sec2.world.test.
q www.secure.world.test A >/dev/null
q www.sec2.world.test A >/dev/null

# The short path works at all (else every check below proves nothing).
out=$(q n1.secure.world.test A)
out2=$(q n1.secure.world.test AAAA)
if secure_ok "$out" && secure_ok "$out2" && by_keycache n1.secure.world.test. 1 &&
    by_keycache n1.secure.world.test. 28 &&
    grep -q "key cache: the signer's DNSKEY set is kept, anchored by the local key" "$LOG"; then
    pass new_name_secure_by_key_cache
else
    fail new_name_secure_by_key_cache "A: $(brief "$out"), AAAA: $(brief "$out2"); log: $(grep -c 'secure by the key cache' "$LOG") key cache answers"
fi

# learn: new names in secure.world.test and sec2.world.test, so that both
# zones' sets are kept (a bogus answer drops the sets of the zones it names).
L=0
learn() {
    L=$((L + 1))
    rules '[]'
    q "l$L.secure.world.test" A >/dev/null
    q "l$L.sec2.world.test" A >/dev/null
}
# attack TEST NAME TYPE TYPENUM REASON RULE: with both sets kept, the relay
# applies RULE to NAME/TYPE: no AD, the key cache did not vouch, and it
# declined for REASON (its log text: the check that must have caught it).
attack() {
    local test=$1 name=$2 type=$3 num=$4 reason=$5 rule=$6 out
    learn
    rules "[$rule]"
    out=$(q "$name" "$type")
    if ! dig_has_flag "$out" ad && ! by_keycache "$name." "$num" &&
        grep -q "upstream: $name./$num: key cache: $reason" "$LOG"; then
        pass "$test"
    else
        fail "$test" "$(brief "$out"); key cache vouched: $(by_keycache "$name." "$num" && echo yes || echo no); declined: $(grep -o "upstream: $name./$num: key cache: [^,]*" "$LOG" | head -n 1)"
    fi
    rules '[]'
}

attack signer_not_ancestor n2.secure.world.test A 1 "signer not the name or an ancestor" \
    "{\"qname\":\"n2.secure.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$SEC2_KEY\"}"
attack key_of_another_zone n3.secure.world.test A 1 "getdns did not find it secure" \
    "{\"qname\":\"n3.secure.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$SEC2_KEY\",\"signer\":\"secure.world.test.\"}"
attack expired_signature_replayed n4.secure.world.test A 1 "getdns did not find it secure" \
    "{\"qname\":\"n4.secure.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$SECURE_KEY\",\"inception\":1577836800,\"expiration\":1580515200}"
attack not_yet_valid_signature n5.secure.world.test A 1 "getdns did not find it secure" \
    "{\"qname\":\"n5.secure.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$SECURE_KEY\",\"inception\":$(($(date +%s) + 86400)),\"expiration\":$(($(date +%s) + 172800))}"
attack rrsig_covers_another_type n6.secure.world.test A 1 "answer records other than the RRset asked for" \
    "{\"qname\":\"n6.secure.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$SECURE_KEY\",\"covered\":\"AAAA\"}"
attack claimed_wildcard_expansion n7.secure.world.test A 1 "a wildcard expansion" \
    "{\"qname\":\"n7.secure.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$SECURE_KEY\",\"labels\":3}"
attack wildcard_without_proof x.w.secure.world.test A 1 "authority or additional records" \
    '{"qname":"x.w.secure.world.test.","qtype":"A","action":"strip","type":"NSEC"}'
attack unsigned_answer n8.secure.world.test A 1 "no RRSIG over the RRset" \
    '{"qname":"n8.secure.world.test.","qtype":"A","action":"strip","type":"RRSIG"}'
attack corrupted_signature n15.secure.world.test A 1 "getdns did not find it secure" \
    '{"qname":"n15.secure.world.test.","qtype":"A","action":"corrupt_rrsig"}'

# A validly signed RRset of another zone appended: the key cache does not
# vouch (records other than the RRset asked for); the full lookup's answer is
# served scrubbed, without it.
learn
rules '[{"qname":"n9.secure.world.test.","qtype":"A","action":"append","from_qname":"www.sec2.world.test.","from_qtype":"A"}]'
out=$(q n9.secure.world.test A)
if ! by_keycache n9.secure.world.test. 1 && ! grep -q 'www.sec2' <<<"$(dig_answer "$out")" &&
    grep -q "n9.secure.world.test./1: key cache: answer records other than" "$LOG"; then
    pass appended_foreign_rrset
else
    fail appended_foreign_rrset "$(brief "$out"): $(dig_answer "$out" | tr '\n' ';')"
fi

# A signature by the parent (the anchor's key) over a name below the
# delegation to sec2, whose own DNSKEY set is kept: the key cache must not
# vouch (the parent's authority ends at the cut). What getdns's full lookup
# then says is getdns's own rule (it follows the signer name). The attacks
# above dropped the kept sets of the zones they named (bogus answers purge):
# new names learn the anchor's and sec2's again first.
learn
q onlya.world.test A >/dev/null
rules "[{\"qname\":\"n1.sec2.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$ANCHOR_KEY\",\"signer\":\"world.test.\"}]"
out=$(q n1.sec2.world.test A)
if ! by_keycache n1.sec2.world.test. 1 &&
    grep -q "n1.sec2.world.test./1: key cache: a validated zone lies between" "$LOG"; then
    pass parent_signature_below_known_cut
else
    fail parent_signature_below_known_cut "$(brief "$out"); the key cache vouched or did not see the cut"
fi
echo "parent-signed n1.sec2.world.test A after the full lookup: $(brief "$out")"
rules '[]'

# A legitimate wildcard answer (its NSEC proof in the authority section)
# takes the full lookup and is secure; the full lookup finds the answer the
# key cache was handed in the forwarder: one upstream query, not two.
out=$(q y.w.secure.world.test A)
n=$(world_relay_count '^[a-z]+ y\.w\.secure\.world\.test\. A ')
if secure_ok "$out" && ! by_keycache y.w.secure.world.test. 1 && [ "$n" -eq 1 ]; then
    pass wildcard_answer_full_lookup
else
    fail wildcard_answer_full_lookup "$(brief "$out"); $n upstream queries"
fi

# One corrupted answer: the key cache does not vouch, the full lookup calls
# it bogus, drops the forwarder's copies and the kept sets above it, and asks
# again: secure (and the set is learnt again from that lookup).
learn
rules '[{"qname":"n10.secure.world.test.","qtype":"A","action":"corrupt_rrsig","times":1}]'
out=$(q n10.secure.world.test A)
rules '[]'
out2=$(q n12.secure.world.test A)
if secure_ok "$out" && secure_ok "$out2" && ! by_keycache n10.secure.world.test. 1 &&
    grep -q "n10.secure.world.test./1: key cache: [0-9]* DNSKEY sets dropped" "$LOG" &&
    by_keycache n12.secure.world.test. 1; then
    pass bogus_purges_kept_keys
else
    fail bogus_purges_kept_keys "n10: $(brief "$out"), n12: $(brief "$out2"); key cache n12: $(by_keycache n12.secure.world.test. 1 && echo yes || echo no); $(grep -c 'DNSKEY sets dropped' "$LOG") purges logged"
fi

# The zone re-signed with a new key (the anchor's kept): the kept set no
# longer validates new names; they fall back, validate, and the new set is
# learnt.
WORLD_KEEP_ANCHOR_KEY=1
world_rebuild || { fail rebuild "world_rebuild failed"; exit 1; }
out=$(q n13.secure.world.test A)
out2=$(q n14.secure.world.test A)
if secure_ok "$out" && secure_ok "$out2" && by_keycache n14.secure.world.test. 1; then
    pass new_names_after_rekey
else
    fail new_names_after_rekey "n13: $(brief "$out"), n14: $(brief "$out2"); key cache n14: $(by_keycache n14.secure.world.test. 1 && echo yes || echo no)"
fi

if kill -0 "$DG_PID" 2>/dev/null; then pass daemon_alive; else fail daemon_alive "daneguard exited"; fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"; then
    fail no_sanitizer_reports "$(grep -m3 -E 'Sanitizer|runtime error' "$LOG")"
else
    pass no_sanitizer_reports
fi

# A negative trust anchor (domain_insecure) has its own context (as forward
# zones do): its names never take the key cache's path, even with the
# parent's set kept (a "secure" there would undo the operator's choice).
world_daneguard_stop
world_daneguard_config "$WORLD_DIR/dg2.yml" 'proxy.enabled: false' \
    'resolver.domain_insecure: [sec2.world.test]' || exit 1
world_daneguard_start "$WORLD_DIR/dg2.yml" -vvv || exit 1
LOG=$WORLD_DIR/daneguard.log
q l15.secure.world.test A >/dev/null # the anchor's and secure.world.test's sets
q l16.secure.world.test A >/dev/null
out=$(q l17.sec2.world.test A)
out2=$(q n16.secure.world.test A)
if ! dig_has_flag "$out" ad && [ "$(dig_rcode "$out")" = NOERROR ] && secure_ok "$out2" &&
    by_keycache n16.secure.world.test. 1 && ! grep -q "l17.sec2.world.test./1: .*key cache" "$LOG"; then
    pass negative_trust_anchor_not_by_key_cache
else
    fail negative_trust_anchor_not_by_key_cache "sec2 (domain_insecure): $(brief "$out"); n16.secure: $(brief "$out2")"
fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"; then
    fail no_sanitizer_reports "$(grep -m3 -E 'Sanitizer|runtime error' "$LOG")"
else
    pass no_sanitizer_reports
fi
[ "$WORLD_FAILED" -eq 0 ]
