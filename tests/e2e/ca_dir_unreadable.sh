#!/usr/bin/env bash
# tests/e2e/ca_dir_unreadable.sh — a CA directory daneguard cannot read is an
# error naming the path and the system's reason, never taken for "no CA yet"
# followed by making a new one (issue 13, proxy/ca.c).
#
# As root: a ca_dir holding ca.key and ca.crt, mode 0700, owned by root; then
# daneguard runs as nobody (setpriv) with that ca_dir. It must exit with
# "<ca_dir>/ca.key: Permission denied" and say no new CA is made, and the
# directory must hold exactly what it held. Also a ca_dir below a directory
# nobody may search. Prints "PASS name" / "FAIL name: why".
set -u
cd "$(dirname "$0")/../.."
. tests/world/world.sh
world_trap

if [ "$(id -u)" != 0 ]; then
    fail ca_dir_unreadable_needs_root "this test must run as root (make check runs as root)"
    exit 1
fi
command -v setpriv >/dev/null || { fail ca_dir_unreadable_setpriv "no setpriv (util-linux)"; exit 1; }
world_start || exit 1
chmod 755 "$WORLD_DIR"
chmod -R a+rX "$WORLD_DIR"
bin=${DANEGUARD_BIN:-$PWD/build/daneguard}

# start_as_nobody NAME CA_DIR: daneguard as nobody; sets rc (124: still running after 20 s).
start_as_nobody() {
    local name=$1 dir=$2
    world_daneguard_config "$WORLD_DIR/$name.yml" "proxy.ca_dir: \"$dir\""
    chmod 644 "$WORLD_DIR/$name.yml"
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
        timeout 20 "$bin" -c "$WORLD_DIR/$name.yml" >"$WORLD_DIR/$name.log" 2>&1
    rc=$?
}

# --- the CA directory itself cannot be searched -------------------------------------------
ca=$WORLD_DIR/ca-locked
mkdir -p "$ca"
echo "the CA key browsers trust" >"$ca/ca.key"
echo "the CA certificate browsers trust" >"$ca/ca.crt"
chmod 600 "$ca/ca.key"
chmod 644 "$ca/ca.crt"
chmod 700 "$ca"
before=$(cd "$ca" && find . -printf "%p %m %s %T@\n" | sort | sha256sum; sha256sum ca.key ca.crt)
start_as_nobody locked "$ca"
log=$(cat "$WORLD_DIR/locked.log")
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [[ $log == *"$ca/ca.key: Permission denied"* ]] &&
    [[ $log == *"no new one is made"* ]]; then
    pass unreadable_ca_dir_error_names_path_and_errno
else
    fail unreadable_ca_dir_error_names_path_and_errno "exit $rc: $(tail -n 3 <<<"$log" | tr '\n' ' ')"
fi
[[ $log != *"created a new"* ]] && pass unreadable_ca_dir_no_new_ca ||
    fail unreadable_ca_dir_no_new_ca "$(grep -m1 'created a new' <<<"$log")"
after=$(cd "$ca" && find . -printf "%p %m %s %T@\n" | sort | sha256sum; sha256sum ca.key ca.crt)
[ "$before" = "$after" ] && pass unreadable_ca_dir_untouched ||
    fail unreadable_ca_dir_untouched "$(ls -la "$ca")"

# --- a parent directory cannot be searched ------------------------------------------------
parent=$WORLD_DIR/locked-parent
mkdir -p "$parent/ca"
chmod 700 "$parent"
start_as_nobody parent "$parent/ca"
log=$(cat "$WORLD_DIR/parent.log")
if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [[ $log == *"$parent/ca"*"Permission denied"* ]]; then
    pass unsearchable_parent_error_names_path
else
    fail unsearchable_parent_error_names_path "exit $rc: $(tail -n 3 <<<"$log" | tr '\n' ' ')"
fi
[ -z "$(ls -A "$parent/ca")" ] && pass unsearchable_parent_nothing_written ||
    fail unsearchable_parent_nothing_written "$(ls -la "$parent/ca")"

# --- and a ca_dir it may use still works as nobody ----------------------------------------
ok=$WORLD_DIR/ca-nobody
mkdir -p "$ok"
chown 65534:65534 "$ok"
chmod 700 "$ok"
world_daneguard_config "$WORLD_DIR/ok.yml" "proxy.ca_dir: \"$ok\""
chmod 644 "$WORLD_DIR/ok.yml"
world_spawn dg_nobody setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    timeout 60 "$bin" -c "$WORLD_DIR/ok.yml"
for ((i = 0; i < 50; i++)); do
    [ -s "$ok/ca.crt" ] && break
    sleep 0.2
done
[ -s "$ok/ca.crt" ] && pass usable_ca_dir_as_nobody || fail usable_ca_dir_as_nobody "$(tail -n 3 "$WORLD_DIR/daneguard.log" 2>/dev/null)"
world_kill "$WORLD_LAST_PID"

[ "$WORLD_FAILED" -eq 0 ]
