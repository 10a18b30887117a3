#!/usr/bin/env bash
# tests/e2e/ca_dir_safety.sh — started as root with `user:`, daneguard hands
# proxy.ca_dir to that user, and nothing else: a ca_dir that is a symbolic link,
# or that holds a hard link to a file elsewhere, a symbolic link or another
# user's file, is refused with a clear error naming proxy.ca_dir, and the file
# or directory behind it keeps its owner (issue 8). An ordinary ca_dir is still
# handed over. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap

if [ "$(id -u)" != 0 ]; then
    fail ca_dir_safety_needs_root "this test must run as root (make check runs as root)"
    exit 1
fi
user=dgca$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$user" || exit 1
other=dgcx$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$other" || { userdel "$user"; exit 1; }
trap 'userdel "$user" 2>/dev/null; userdel "$other" 2>/dev/null; world_stop' EXIT

world_start || exit 1
chmod 755 "$WORLD_DIR"
bin=${DANEGUARD_BIN:-$PWD/build/daneguard}

# start_refused NAME CA_DIR WHAT...: daneguard must exit with an error naming
# proxy.ca_dir and WHAT (a grep -E pattern).
start_refused() {
    local name=$1 dir=$2 what=$3 i
    world_daneguard_config "$WORLD_DIR/$name.yml" "user: $user" "proxy.ca_dir: \"$dir\""
    : >"$WORLD_DIR/$name.log"
    timeout 20 "$bin" -c "$WORLD_DIR/$name.yml" >"$WORLD_DIR/$name.log" 2>&1 &
    local pid=$!
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        wait "$pid" 2>/dev/null
        fail "$name" "daneguard kept running: $(tail -n 3 "$WORLD_DIR/$name.log" | tr '\n' ' ')"
        return 1
    fi
    wait "$pid"
    local rc=$?
    if [ "$rc" != 0 ] && grep -q 'proxy.ca_dir' "$WORLD_DIR/$name.log" &&
        grep -qE "$what" "$WORLD_DIR/$name.log"; then
        pass "$name"
    else
        fail "$name" "exit $rc: $(tail -n 3 "$WORLD_DIR/$name.log" | tr '\n' ' ')"
    fi
}

# A symbolic link as ca_dir: nothing is written behind it, nothing handed over.
mkdir -m 700 "$WORLD_DIR/cadata"
ln -s "$WORLD_DIR/cadata" "$WORLD_DIR/calink"
start_refused ca_dir_symlink_refused "$WORLD_DIR/calink" 'symbolic link'
[ "$(stat -c %U "$WORLD_DIR/cadata")" = root ] && [ -z "$(ls -A "$WORLD_DIR/cadata")" ] &&
    pass ca_dir_symlink_target_untouched ||
    fail ca_dir_symlink_target_untouched "$(ls -la "$WORLD_DIR/cadata" | tr '\n' ' ')"

# A hard link in ca_dir to a file elsewhere: that file stays root's.
mkdir -m 700 "$WORLD_DIR/ca_hl"
echo secret >"$WORLD_DIR/secret"
chmod 600 "$WORLD_DIR/secret"
ln "$WORLD_DIR/secret" "$WORLD_DIR/ca_hl/notes"
start_refused ca_dir_hard_link_refused "$WORLD_DIR/ca_hl" 'hard link'
[ "$(stat -c %U "$WORLD_DIR/secret")" = root ] && pass ca_dir_hard_link_target_keeps_owner ||
    fail ca_dir_hard_link_target_keeps_owner "$(stat -c '%n %U' "$WORLD_DIR/secret")"

# A symbolic link inside ca_dir, and another user's file.
mkdir -m 700 "$WORLD_DIR/ca_sl"
ln -s /etc/hostname "$WORLD_DIR/ca_sl/extra"
start_refused ca_dir_inner_symlink_refused "$WORLD_DIR/ca_sl" 'symbolic link'
mkdir -m 700 "$WORLD_DIR/ca_ot"
: >"$WORLD_DIR/ca_ot/theirs"
chown "$other" "$WORLD_DIR/ca_ot/theirs"
start_refused ca_dir_other_users_file_refused "$WORLD_DIR/ca_ot" 'another user'
[ "$(stat -c %U "$WORLD_DIR/ca_ot/theirs")" = "$other" ] && pass ca_dir_other_users_file_keeps_owner ||
    fail ca_dir_other_users_file_keeps_owner "$(stat -c '%n %U' "$WORLD_DIR/ca_ot/theirs")"

# A directory on the way that others may write to.
mkdir -m 777 "$WORLD_DIR/open"
start_refused ca_dir_under_writable_dir_refused "$WORLD_DIR/open/ca" 'writable by others'

# An ordinary ca_dir is handed over, and daneguard runs.
world_daneguard_config "$WORLD_DIR/ok.yml" "user: $user" "proxy.ca_dir: \"$WORLD_DIR/ca_ok\""
world_daneguard_start "$WORLD_DIR/ok.yml" && [ "$(stat -c '%U %a' "$WORLD_DIR/ca_ok")" = "$user 700" ] &&
    [ "$(stat -c '%U %a' "$WORLD_DIR/ca_ok/ca.key")" = "$user 600" ] && pass ca_dir_ordinary_handed_over ||
    fail ca_dir_ordinary_handed_over "$(stat -c '%n %U %a' "$WORLD_DIR/ca_ok" "$WORLD_DIR/ca_ok/ca.key" 2>&1 | tr '\n' ' ')"
world_daneguard_stop
[ "${WORLD_FAILED:-0}" -eq 0 ]
