#!/usr/bin/env bash
# tests/e2e/resolver_keycache_insecure.sh — the key cache and an insecure
# delegation (insecure.world.test: NS in world.test, no DS, the NSEC proves it).
# A lying upstream (tests/world/dnsrelay.py "resign") makes the unsigned zone
# look signed: a DNSKEY RRset self-signed by a key of its own and answers
# signed by it. That set must never be kept, and no name there may get AD.
# Then a signature by the parent (world.test, whose set is kept) over a name
# below that cut (a record the parent signed before it delegated the name,
# replayed): the key cache must say no more than getdns's full lookup.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap

world_extra_records() {
    case $1 in
    insecure.world.test.)
        for i in $(seq 1 6); do echo "n$i IN A 127.0.7.$i"; done
        # the attacker's key, published in the unsigned zone (an unsigned
        # zone may hold a DNSKEY RRset: nothing above vouches for it)
        mkdir -p "$WORLD_DIR/evil" &&
            base=$(cd "$WORLD_DIR/evil" && ldns-keygen -a ECDSAP256SHA256 -k insecure.world.test.) &&
            echo "$WORLD_DIR/evil/$base" >"$WORLD_DIR/evil/base" &&
            awk '/DNSKEY/ { sub(/;.*/, ""); print }' "$WORLD_DIR/evil/$base.key" ;;
    world.test.)
        for i in $(seq 1 6); do echo "w$i IN A 127.0.8.$i"; done ;;
    esac
}
world_start || exit 1
world_relay_start || exit 1
world_daneguard_config "$WORLD_DIR/dg.yml" 'proxy.enabled: false' "resolver.bogus_ttl: 1" \
    "resolver.timeout: 4000" || exit 1
world_daneguard_start "$WORLD_DIR/dg.yml" -vvv || exit 1
LOG=$WORLD_DIR/daneguard.log
EVIL_KEY=$(cat "$WORLD_DIR/evil/base")
ANCHOR_KEY=$(ls "$WORLD_DIR"/keys/Kworld.test.+013+*.key | head -n 1 | sed 's/\.key$//')

q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=6 +tries=1 +dnssec "$@"; }
brief() { echo "$(dig_rcode "$1") flags: $(dig_flags "$1")"; }
by_keycache() { grep -q "upstream: $1/$2: secure by the key cache" "$LOG"; }

# the anchor's set kept; the short path works there
q w1.world.test A >/dev/null
out=$(q w2.world.test A)
if dig_has_flag "$out" ad && by_keycache w2.world.test. 1; then
    pass keycache_used_in_anchor_zone
else
    fail keycache_used_in_anchor_zone "$(brief "$out"); the checks below prove nothing"
fi

# the unsigned zone made to look signed by its own key
world_relay_rules "[{\"qname\":\"insecure.world.test.\",\"qtype\":\"DNSKEY\",\"action\":\"resign\",\"key\":\"$EVIL_KEY\"},
{\"qname\":\"*.insecure.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$EVIL_KEY\"}]"
out=$(q n1.insecure.world.test A)
out2=$(q n2.insecure.world.test A)
out3=$(q n3.insecure.world.test A)
if ! dig_has_flag "$out" ad && ! dig_has_flag "$out2" ad && ! dig_has_flag "$out3" ad &&
    ! by_keycache n2.insecure.world.test. 1 && ! by_keycache n3.insecure.world.test. 1 &&
    ! grep -q "insecure.world.test./1: key cache: the signer's DNSKEY set is kept" "$LOG"; then
    pass self_signed_insecure_zone_never_kept
else
    fail self_signed_insecure_zone_never_kept "n1: $(brief "$out"), n2: $(brief "$out2"), n3: $(brief "$out3"); $(grep -c 'insecure.world.test./1: key cache: the signer' "$LOG") sets kept"
fi

# the parent's signature below the insecure cut, with the parent's set kept
q w3.world.test A >/dev/null
world_relay_rules "[{\"qname\":\"n4.insecure.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$ANCHOR_KEY\",\"signer\":\"world.test.\"}]"
out=$(q n4.insecure.world.test A)
kc="$(brief "$out"), key cache vouched: $(by_keycache n4.insecure.world.test. 1 && echo yes || echo no)"
# what getdns's full lookup says of it (a daemon with nothing kept): the key
# cache must be no more permissive than that. (getdns 1.6.0 follows the
# signer name and calls it secure too: a parent's replayed pre-delegation
# record gets AD either way; see the report of redteam2.)
world_daneguard_stop
world_daneguard_start "$WORLD_DIR/dg.yml" -vvv || exit 1
world_relay_rules "[{\"qname\":\"n5.insecure.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$ANCHOR_KEY\",\"signer\":\"world.test.\"}]"
out2=$(q n5.insecure.world.test A)
echo "parent-signed below the insecure cut: key cache: $kc; full lookup only: $(brief "$out2")"
if ! dig_has_flag "$out" ad || dig_has_flag "$out2" ad; then
    pass parent_signature_below_insecure_cut_as_full_lookup
else
    fail parent_signature_below_insecure_cut_as_full_lookup "key cache: $kc; full lookup: $(brief "$out2")"
fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"; then
    fail no_sanitizer_reports "$(grep -m3 -E 'Sanitizer|runtime error' "$LOG")"
else
    pass no_sanitizer_reports
fi
[ "$WORLD_FAILED" -eq 0 ]
