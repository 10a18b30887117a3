#!/usr/bin/env bash
# tests/e2e/resolver_keycache_expiry.sh — a kept DNSKEY set must not outlive
# the signatures that proved it (RFC 4035 §5.3.3: nothing validated is kept
# past its RRSIGs' expiration). A zone whose every signature expires soon
# (shortlived): once the signature over its DNSKEY RRset has expired, an
# answer signed by the zone's key (a replay of old keys, or an operator who
# stopped re-signing: the relay's "resign" action makes the signature) must
# not be called secure by the key cache; a full lookup calls it bogus.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap

WORLD_EXTRA_CHILDREN="short:shortlived"
WORLD_SHORTLIVED_SECS=${WORLD_SHORTLIVED_SECS:-40}
world_extra_records() {
    case $1 in
    short.world.test.) for i in $(seq 1 6); do echo "n$i IN A 127.0.6.$i"; done ;;
    esac
}
world_start || exit 1
world_relay_start || exit 1
world_daneguard_config "$WORLD_DIR/dg.yml" 'proxy.enabled: false' "resolver.bogus_ttl: 1" \
    "resolver.timeout: 4000" || exit 1
world_daneguard_start "$WORLD_DIR/dg.yml" -vvv || exit 1
LOG=$WORLD_DIR/daneguard.log
EXPIRES=$(cat "$WORLD_DIR/zones/short.world.test..expires")
SHORT_KEY=$(ls "$WORLD_DIR"/keys/Kshort.world.test.+013+*.key | head -n 1 | sed 's/\.key$//')

q() { world_dig @127.0.0.1 -p "$DG_DNS_PORT" +time=6 +tries=1 +dnssec "$@"; }
brief() { echo "$(dig_rcode "$1") flags: $(dig_flags "$1")"; }
by_keycache() { grep -q "upstream: $1/$2: secure by the key cache" "$LOG"; }

# learn the zone's set; the short path works before the expiry
q www.short.world.test A >/dev/null
out=$(q n1.short.world.test A)
if dig_has_flag "$out" ad && by_keycache n1.short.world.test. 1; then
    pass keycache_used_before_expiry
else
    fail keycache_used_before_expiry "$(brief "$out"); the key cache did not vouch (the check below proves nothing)"
fi

# past the expiry of every signature of the zone (the DNSKEY RRset's included)
now=$(date +%s)
[ "$now" -lt $((EXPIRES + 2)) ] && sleep $((EXPIRES + 2 - now))
world_relay_rules "[{\"qname\":\"*.short.world.test.\",\"qtype\":\"A\",\"action\":\"resign\",\"key\":\"$SHORT_KEY\"}]"
out=$(q n2.short.world.test A)
if ! dig_has_flag "$out" ad && ! by_keycache n2.short.world.test. 1; then
    pass keycache_set_not_kept_past_its_rrsig
else
    fail keycache_set_not_kept_past_its_rrsig "$(brief "$out"); key cache vouched: $(by_keycache n2.short.world.test. 1 && echo yes || echo no) ($(($(date +%s) - EXPIRES)) s after the DNSKEY RRset's signature expired)"
fi

# what a full lookup says (a daemon with nothing kept): the chain has expired
world_daneguard_stop
world_daneguard_start "$WORLD_DIR/dg.yml" -vvv || exit 1
out=$(q n3.short.world.test A)
if ! dig_has_flag "$out" ad; then
    pass full_lookup_not_secure_past_rrsig
else
    fail full_lookup_not_secure_past_rrsig "$(brief "$out")"
fi
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"; then
    fail no_sanitizer_reports "$(grep -m3 -E 'Sanitizer|runtime error' "$LOG")"
else
    pass no_sanitizer_reports
fi
[ "$WORLD_FAILED" -eq 0 ]
