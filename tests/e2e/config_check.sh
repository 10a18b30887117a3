#!/usr/bin/env bash
# tests/e2e/config_check.sh — `daneguard -n` says "configuration OK" only for a
# configuration the daemon would start with: every file it names is opened and
# parsed, the user looked up; a directory given as -c is named as such.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/world/world.sh
source tests/world/world.sh
BIN=${DANEGUARD_BIN:-$PWD/build/daneguard}
work=$(mktemp -d /tmp/daneguard-ncheck.XXXXXX)
trap 'rm -rf "$work"' EXIT

# a DS anchor in the form dns-root-data ships
echo '. 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D' >"$work/anchor"
echo 'this is not a zone file {' >"$work/garbage"
conf() { # FILE, extra top-level/proxy lines
    local f=$1
    shift
    cat >"$f" <<YML
resolver:
  listen_addresses: ["127.0.0.1@53535"]
  upstream_recursive_servers:
    - address_data: 127.0.0.9
  dnssec_trust_anchors: ["${ANCHOR:-$work/anchor}"]
proxy:
  listen_addresses: ["127.0.0.1@18080"]
  ca_dir: "$work/ca"
  trust_store: "${TRUST:-/etc/ssl/certs/ca-certificates.crt}"
user: "${DGUSER:-}"
YML
}
n_check() { # NAME, expect (ok|fail), pattern in output
    local name=$1 want=$2 pat=$3 out rc
    out=$("$BIN" -n -c "$work/$name.yml" 2>&1)
    rc=$?
    if [ "$want" = ok ] && [ "$rc" = 0 ] && [[ $out == *"configuration OK"* ]]; then
        pass "n_$name"
    elif [ "$want" = fail ] && [ "$rc" != 0 ] && [[ $out != *"configuration OK"* ]] && [[ $out == *"$pat"* ]]; then
        pass "n_$name"
    else
        fail "n_$name" "rc=$rc: $out"
    fi
}

conf "$work/good.yml"
n_check good ok ""
ANCHOR=$work/nonexistent conf "$work/missing_anchor.yml"
n_check missing_anchor fail "$work/nonexistent"
ANCHOR=$work/garbage conf "$work/garbage_anchor.yml"
n_check garbage_anchor fail "$work/garbage"
TRUST=$work/nonexistent.crt conf "$work/missing_trust.yml"
n_check missing_trust fail "trust_store $work/nonexistent.crt"
DGUSER=nosuchuser conf "$work/nouser.yml"
n_check nouser fail "user nosuchuser does not exist"

out=$("$BIN" -n -c "$work" 2>&1); rc=$?
if [ "$rc" != 0 ] && [[ $out == *"$work: not a configuration file but a directory"* ]]; then pass n_directory
else fail n_directory "rc=$rc: $out"; fi

# resolv.conf pointing at daneguard itself: the error says which key to set.
echo 'nameserver 127.0.0.1' >"$work/resolv.conf"
printf 'resolver:\n  resolv_conf: %s\n  listen_addresses: ["127.0.0.1@53"]\n' "$work/resolv.conf" >"$work/self.yml"
out=$("$BIN" -n -c "$work/self.yml" 2>&1); rc=$?
if [ "$rc" != 0 ] && [[ $out == *"does not forward to itself"* ]] && [[ $out == *"upstream_recursive_servers:"* ]]; then
    pass resolv_conf_self_says_which_key
else fail resolv_conf_self_says_which_key "rc=$rc: $out"; fi

# Port 53 without root: the error says what to do.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    printf 'resolver:\n  listen_addresses: ["127.0.0.1@53"]\n  upstream_recursive_servers:\n    - address_data: 127.0.0.9\nproxy:\n  enabled: false\n' >"$work/p53.yml"
    chmod 0755 "$work"
    chmod 0644 "$work/p53.yml"
    out=$(timeout 10 setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN" -c "$work/p53.yml" 2>&1); rc=$?
    if [ "$rc" != 0 ] && [[ $out == *"permission denied (port 53 needs root"* ]]; then pass port53_hint
    else fail port53_hint "rc=$rc: $out"; fi
else
    skip port53_hint "needs root to run a command as nobody"
fi

# Log lines carry a timestamp unless stderr is journald's (JOURNAL_STREAM set).
port=$(world_free_port 127.0.0.1) || exit 1
printf 'resolver:\n  listen_addresses: ["127.0.0.1@%s"]\n  upstream_recursive_servers:\n    - address_data: 127.0.0.9\nproxy:\n  enabled: false\n' "$port" >"$work/ts.yml"
plain=$(env -u JOURNAL_STREAM timeout 2 "$BIN" -c "$work/ts.yml" 2>&1 | head -n 1)
journal=$(JOURNAL_STREAM=8:123 timeout 2 "$BIN" -c "$work/ts.yml" 2>&1 | head -n 1)
if [[ $plain =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9]{4}\ daneguard:\  ]] &&
    [[ $journal == "daneguard: "* ]]; then
    pass log_timestamps_unless_journald
else fail log_timestamps_unless_journald "plain='$plain' journal='$journal'"; fi

# First start: once, the upstreams by address, the set-up page, the CA's
# fingerprint and the next steps; the CA's creation logged once.
dport=$(world_free_port 127.0.0.1) || exit 1
pport=$(world_free_port 127.0.0.1) || exit 1
printf 'resolver:\n  listen_addresses: ["127.0.0.1@%s"]\n  upstream_recursive_servers:\n    - address_data: 127.0.0.9\n    - address_data: ::1\n      port: 5353\nproxy:\n  listen_addresses: ["127.0.0.1@%s"]\n  ca_dir: "%s/firstca"\n' \
    "$dport" "$pport" "$work" >"$work/first.yml"
first=$(timeout 3 "$BIN" -c "$work/first.yml" 2>&1)
fp=$(openssl x509 -in "$work/firstca/ca.crt" -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//')
if [[ $first == *"started: DNS upstreams over UDP/TCP to 127.0.0.9, ::1 port 5353"* ]] &&
    [[ $first == *"set-up page http://127.0.0.1:$pport/"* ]] && [ -n "$fp" ] &&
    [[ $first == *"SHA-256 fingerprint $fp"* ]] &&
    [[ $first == *"next: 1. \"nameserver 127.0.0.1\" in /etc/resolv.conf"* ]] &&
    [ "$(grep -c 'created a new' <<<"$first")" = 1 ]; then
    pass first_start_summary
else fail first_start_summary "$first"; fi
