#!/usr/bin/env bash
# tests/e2e/privdrop.sh — started as root to bind port 53, daneguard drops to
# `user:` and keeps nothing privileged; the CA key is then readable only by that
# user; DNS and a reload still work afterwards.
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap

if [ "$(id -u)" != 0 ]; then
    fail privdrop_needs_root "this test must run as root (make check runs as root)"
    exit 1
fi
user=dgtest$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$user" || exit 1
cleanup_user() { userdel "$user" 2>/dev/null; }
trap 'cleanup_user; world_stop' EXIT

world_start || exit 1
# Port 53 on an address of our own in 127/8: needs root to bind.
addr=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).53
DG_DNS_PORT=53
world_daneguard_config "$WORLD_DIR/dg.yml" "user: $user" \
    "resolver.listen_addresses: [\"$addr@53\"]"
chmod 755 "$WORLD_DIR"
world_spawn daneguard "${DANEGUARD_BIN:-$PWD/build/daneguard}" -c "$WORLD_DIR/dg.yml"
DG_PID=$WORLD_LAST_PID
if world_wait_dns "$addr" 53 10; then
    pass privdrop_serves_port_53
else
    fail privdrop_serves_port_53 "no answer on $addr#53: $(tail -3 "$WORLD_DIR/daneguard.log")"
fi
uid=$(id -u "$user")
status_uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$DG_PID/status" 2>/dev/null)
if [ "$status_uids" = "$uid $uid $uid $uid" ]; then
    pass privdrop_all_uids_dropped
else
    fail privdrop_all_uids_dropped "Uid line: $status_uids, want $uid x4"
fi
groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$DG_PID/status" | tr -d ' ')
gid=$(id -g "$user")
if [ -z "$groups" ] || [ "$groups" = "$gid" ]; then
    pass privdrop_no_supplementary_groups
else
    fail privdrop_no_supplementary_groups "Groups: $groups"
fi
capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$DG_PID/status")
if [ "$capeff" = 0000000000000000 ]; then
    pass privdrop_no_capabilities
else
    fail privdrop_no_capabilities "CapEff $capeff"
fi
key="$WORLD_DIR/ca/ca.key"
if [ "$(stat -c '%U %a' "$key" 2>/dev/null)" = "$user 600" ] &&
    [ "$(stat -c '%U %a' "$WORLD_DIR/ca")" = "$user 700" ]; then
    pass privdrop_ca_key_owned_by_user
else
    fail privdrop_ca_key_owned_by_user "$(stat -c '%n %U %a' "$key" "$WORLD_DIR/ca" 2>&1 | tr '\n' ' ')"
fi
out=$(world_dig @"$addr" -p 53 +dnssec www.secure.world.test A)
if dig_has_flag "$out" ad; then
    pass privdrop_validates_after_drop
else
    fail privdrop_validates_after_drop "$(dig_rcode "$out") $(dig_flags "$out")"
fi
kill -HUP "$DG_PID"
sleep 1
out=$(world_dig @"$addr" -p 53 +dnssec www.world.test A)
if kill -0 "$DG_PID" 2>/dev/null && dig_has_flag "$out" ad; then
    pass privdrop_reload_unprivileged
else
    fail privdrop_reload_unprivileged "$(tail -3 "$WORLD_DIR/daneguard.log")"
fi
# A missing user is a clear start-up error, not a daemon running as root.
world_daneguard_config "$WORLD_DIR/bad.yml" "user: no-such-user-$$"
if ! timeout 10 "${DANEGUARD_BIN:-$PWD/build/daneguard}" -c "$WORLD_DIR/bad.yml" 2>"$WORLD_DIR/bad.err" &&
    grep -q "does not exist" "$WORLD_DIR/bad.err"; then
    pass privdrop_missing_user_refused
else
    fail privdrop_missing_user_refused "$(cat "$WORLD_DIR/bad.err")"
fi
[ "$WORLD_FAILED" -eq 0 ]
