#!/usr/bin/env bash
# tests/e2e/install.sh — `make install` into a staging DESTDIR, and the service
# set-up it installs: file modes, the systemd unit (systemd-analyze verify and
# security), the sysusers entry, both man pages, the sample configuration, the
# PAC example, `make uninstall`; then the installed binary started the way the
# unit starts it (an unprivileged uid with only CAP_NET_BIND_SERVICE, ambient)
# binding port 53 on a loopback address, creating its CA, reloading on SIGHUP
# and stopping on SIGTERM.
#
# Nothing is installed outside the mktemp directory: every make runs with
# DESTDIR, so the target's host-only steps (systemd-sysusers, daemon-reload) do
# not run. DANEGUARD_MAKEFILE=FILE tests a candidate Makefile instead of the
# repository's (make -f FILE from the top directory).
#
# Needs: systemd (systemd-analyze, systemd-sysusers), man-db, util-linux
# (setpriv), iproute2 (ss); dig and node are used when present.
# Prints "PASS name" / "FAIL name: why" per check, "SKIP name: why" when a tool
# is missing; the daemon it starts is killed by PID on exit.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
BUILD=${BUILD:-build}
makefile=${DANEGUARD_MAKEFILE:-$root/Makefile}
sanitize=0
[ "$BUILD" = build-san ] && sanitize=1
work=$(mktemp -d /tmp/daneguard-e2e-install.XXXXXX)
chmod 0755 "$work"
daemon_pid=
tracer_pid=
cleanup() {
    local p
    for p in $daemon_pid $tracer_pid; do
        if kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null
            sleep 0.5
            kill -9 "$p" 2>/dev/null
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
check() { # name, why-if-false, command...
    local name=$1 why=$2
    shift 2
    if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

# mode_of FILE: octal permission bits, e.g. 644
mode_of() { stat -c %a "$1" 2>/dev/null; }

# make_install DESTDIR [VAR=value...]: the install target, output kept in the log
make_install() {
    local dest=$1
    shift
    make -C "$root" -f "$makefile" --no-print-directory install DESTDIR="$dest" \
        SANITIZE=$sanitize "$@" >>"$work/make.log" 2>&1
}

D=$work/destdir
PREFIX=/usr/local
SBIN=$D$PREFIX/sbin/daneguard
MAN8=$D$PREFIX/share/man/man8
MAN5=$D$PREFIX/share/man/man5
UNIT=$D/lib/systemd/system/daneguard.service
SYSUSERS=$D/usr/lib/sysusers.d/daneguard.conf
CONF=$D/etc/daneguard/daneguard.yml
DOC=$D$PREFIX/share/doc/daneguard

# ---- make install ------------------------------------------------------------

# As root the umask is often 022; install under 077 so a file that only gets
# its mode from the umask shows up.
if (umask 077 && make_install "$D"); then
    pass install_make
else
    fail install_make "make install DESTDIR=$D failed: $(tail -n 5 "$work/make.log" | tr '\n' ' ')"
fi

# file_mode NAME FILE MODE: the file exists with exactly this mode
file_mode() {
    local m
    if [ ! -f "$2" ]; then
        fail "$1" "${2#"$D"} was not installed"
    elif m=$(mode_of "$2") && [ "$m" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "${2#"$D"} has mode $m, expected $3"
    fi
}

# man_page DIR BASE: the installed page, gzip'd or not ("" when missing)
man_page() {
    if [ -f "$1/$2.gz" ]; then echo "$1/$2.gz"; elif [ -f "$1/$2" ]; then echo "$1/$2"; fi
}
page8=$(man_page "$MAN8" daneguard.8)
page5=$(man_page "$MAN5" daneguard.yml.5)

file_mode install_binary "$SBIN" 755
file_mode install_man8 "${page8:-$MAN8/daneguard.8.gz}" 644
file_mode install_man5 "${page5:-$MAN5/daneguard.yml.5.gz}" 644
file_mode install_unit "$UNIT" 644
file_mode install_sysusers "$SYSUSERS" 644
file_mode install_config "$CONF" 644

check install_binary_current "the installed binary is not $BUILD/daneguard" \
    cmp -s "$SBIN" "$root/$BUILD/daneguard"

# ---- the unit ----------------------------------------------------------------

if [ -f "$UNIT" ]; then
    # ExecStartPre, ExecStart: the installed binary under PREFIX, the /etc config.
    bad=$(grep -E '^Exec(StartPre|Start)=' "$UNIT" |
        grep -v -E "^ExecStart(Pre)?=$PREFIX/sbin/daneguard (-n )?-c /etc/daneguard/daneguard.yml\$")
    if [ -z "$bad" ] && [ "$(grep -c -E '^Exec(StartPre|Start)=' "$UNIT")" = 2 ]; then
        pass unit_exec_paths
    else
        fail unit_exec_paths "expected ExecStartPre/ExecStart=$PREFIX/sbin/daneguard [-n] -c /etc/daneguard/daneguard.yml, got: $(grep -E '^Exec' "$UNIT" | tr '\n' ' ')"
    fi

    # systemd-analyze resolves Exec paths on this host, so point them into
    # DESTDIR; the man pages of Documentation= are found through MANPATH.
    if command -v systemd-analyze >/dev/null; then
        mkdir -p "$work/unit"
        sed -E "s|^(Exec[A-Za-z]*=[-@:+!]*)$PREFIX/sbin/daneguard|\\1$SBIN|" "$UNIT" \
            >"$work/unit/daneguard.service"
        if out=$(MANPATH=$D$PREFIX/share/man systemd-analyze verify \
            "$work/unit/daneguard.service" 2>&1) && [ -z "$out" ]; then
            pass unit_verify
        else
            fail unit_verify "$(echo "$out" | tr '\n' ' ')"
        fi
        # Exposure, 0 (locked down) .. 10 (unsandboxed); 1.4 when this was written.
        out=$(systemd-analyze security --offline=yes "$work/unit/daneguard.service" 2>&1 |
            grep 'Overall exposure level')
        if systemd-analyze security --offline=yes --threshold=20 \
            "$work/unit/daneguard.service" >/dev/null 2>&1; then
            pass "unit_security (${out#*: })"
        else
            fail unit_security "exposure above 2.0: ${out:-no score}"
        fi
    else
        skip unit_verify "systemd-analyze is missing (apt-get install systemd)"
    fi
else
    fail unit_verify "no unit installed"
fi

# ---- the account -------------------------------------------------------------

if [ -f "$SYSUSERS" ] && command -v systemd-sysusers >/dev/null; then
    if systemd-sysusers --root="$D" daneguard.conf >"$work/sysusers.log" 2>&1 &&
        grep -q '^daneguard:x:[0-9]*:[0-9]*:[^:]*:/var/lib/daneguard:/usr/sbin/nologin$' \
            "$D/etc/passwd" && grep -q '^daneguard:x:' "$D/etc/group"; then
        pass sysusers_account
    else
        fail sysusers_account "systemd-sysusers --root made no daneguard user with home /var/lib/daneguard and nologin: $(cat "$work/sysusers.log" "$D/etc/passwd" 2>/dev/null | tr '\n' ' ')"
    fi
    rm -f "$D"/etc/passwd* "$D"/etc/group* "$D"/etc/shadow* "$D"/etc/gshadow* "$D"/etc/.pwd.lock
elif [ -f "$SYSUSERS" ]; then
    skip sysusers_account "systemd-sysusers is missing"
fi

# ---- man pages -----------------------------------------------------------------

for p in "$page8" "$page5"; do
    [ -n "$p" ] || continue
    name=man_renders_$(basename "${p%.gz}" | tr . _)
    if ! command -v man >/dev/null; then
        skip "$name" "man is missing (apt-get install man-db)"
        continue
    fi
    if warn=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null) && [ -z "$warn" ] &&
        [ "$(man -l "$p" 2>/dev/null | wc -l)" -gt 50 ]; then
        pass "$name"
    else
        fail "$name" "man --warnings: $(echo "$warn" | head -n 5 | tr '\n' ' ')"
    fi
done

# daneguard.yml(5) names, in bold, every key the parser accepts (the key tables
# of daemon/config.c and daemon/config_resolver.c: one K_KIND("name", ...) row per key).
if [ -n "$page5" ]; then
    keys=$(cat daemon/config.c daemon/config_resolver.c | grep -o -E 'K_[A-Z_]+\("[a-z_]+"' | sed -E 's/.*\("([a-z_]+)"/\1/' | sort -u)
    src=$(zcat -f "$page5")
    missing=
    for k in $keys; do
        # as a bold term: ".B proxy.enabled", ".BR tls_cipher_list \", \" ..."
        grep -q -E "^\.(B|BR|BI) (.*[ .\"])?$k([ \",]|\$)" <<<"$src" || missing="$missing $k"
    done
    if [ -z "$keys" ]; then
        fail man5_every_key "found no key tables in daemon/config*.c"
    elif [ -z "$missing" ]; then
        pass man5_every_key
    else
        fail man5_every_key "not in daneguard.yml(5):$missing"
    fi
fi

# daneguard(8) names every option of the daemon's and subcommands' --help.
if [ -n "$page8" ] && [ -x "$SBIN" ]; then
    src=$(zcat -f "$page8" | sed 's/\\-/-/g')
    missing=
    for sub in "" verify tlsa check; do
        for opt in $("$SBIN" $sub --help 2>&1 | grep -o -E '(^|[ [(|])--?[a-z][a-z-]*' |
            grep -o -E -- '--?[a-z][a-z-]*' | sort -u); do
            grep -q -E -- "(^|[^a-z-])$opt([^a-z-]|\$)" <<<"$src" || missing="$missing ${sub:+$sub }$opt"
        done
    done
    if [ -z "$missing" ]; then pass man8_every_option; else fail man8_every_option "not in daneguard(8):$missing"; fi
fi

# ---- the configuration ----------------------------------------------------------

if [ -f "$CONF" ] && [ -x "$SBIN" ]; then
    # -n only parses and reads /etc/resolv.conf's nameservers; nothing is queried.
    if out=$("$SBIN" -n -c "$CONF" 2>&1) && grep -q 'configuration OK' <<<"$out"; then
        pass config_check
    else
        fail config_check "daneguard -n -c ${CONF#"$D"}: $out"
    fi
    check config_same_as_sample "the installed config differs from conf/daneguard.yml" \
        cmp -s "$CONF" conf/daneguard.yml

    # A second install keeps an edited configuration.
    echo "# edited by the operator" >>"$CONF"
    if make_install "$D" && tail -n 1 "$CONF" | grep -q 'edited by the operator'; then
        pass config_kept_on_reinstall
    else
        fail config_kept_on_reinstall "make install replaced an existing /etc/daneguard/daneguard.yml"
    fi
fi

# ---- the PAC example --------------------------------------------------------------

pac=$DOC/proxy.pac
[ -f "$pac" ] || pac=conf/proxy.pac
if command -v node >/dev/null; then
    cat >"$work/pac.js" <<'EOF'
const fs = require('fs');
const src = fs.readFileSync(process.argv[2], 'utf8');
function isPlainHostName(h) { return h.indexOf('.') < 0 && h.indexOf(':') < 0; }
function dnsDomainIs(h, d) { return h.length >= d.length && h.slice(-d.length) === d; }
function shExpMatch(s, p) {
    return new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$').test(s);
}
function isInNet(h, net, mask) {
    const n = (a) => a.split('.').reduce((x, o) => (x * 256 + +o), 0);
    const m = n(mask);
    return ((n(h) & m) >>> 0) === ((n(net) & m) >>> 0);
}
function dnsResolve() { throw new Error('the PAC file resolved a name'); }
const FindProxyForURL = new Function('isPlainHostName', 'dnsDomainIs', 'shExpMatch', 'isInNet',
    'dnsResolve', 'isResolvable', src + '\nreturn FindProxyForURL;')(
    isPlainHostName, dnsDomainIs, shExpMatch, isInNet, dnsResolve, dnsResolve);
const cases = [
    ['https://www.example.com/', 'www.example.com', 'PROXY 127.0.0.1:8080'],
    ['https://8.8.8.8/', '8.8.8.8', 'PROXY 127.0.0.1:8080'],
    ['http://localhost:3000/', 'localhost', 'DIRECT'],
    ['http://127.0.0.1:8080/', '127.0.0.1', 'DIRECT'],
    ['http://router/', 'router', 'DIRECT'],
    ['http://192.168.1.20/', '192.168.1.20', 'DIRECT'],
    ['http://nas.home.arpa/', 'nas.home.arpa', 'DIRECT'],
    ['http://printer.local/', 'printer.local', 'DIRECT'],
    ['https://192.168.example.com/', '192.168.example.com', 'PROXY 127.0.0.1:8080'],
];
let bad = [];
for (const [u, h, want] of cases) {
    const got = FindProxyForURL(u, h);
    if (got !== want) bad.push(h + ' -> ' + got + ' (want ' + want + ')');
}
if (bad.length) { console.log(bad.join('; ')); process.exit(1); }
EOF
    if out=$(node "$work/pac.js" "$pac" 2>&1); then
        pass pac_example
    else
        fail pac_example "$(echo "$out" | head -n 3 | tr '\n' ' ')"
    fi
else
    skip pac_example "node is missing"
fi
[ "$pac" = conf/proxy.pac ] && fail install_pac "proxy.pac not installed in ${DOC#"$D"}"
[ -f "$DOC/proxy.pac" ] && pass install_pac

# ---- PREFIX=/usr --------------------------------------------------------------------

D2=$work/destdir-usr
if make_install "$D2" PREFIX=/usr && [ -x "$D2/usr/sbin/daneguard" ] &&
    grep -q '^ExecStart=/usr/sbin/daneguard -c /etc/daneguard/daneguard.yml$' \
        "$D2/lib/systemd/system/daneguard.service" &&
    [ -n "$(man_page "$D2/usr/share/man/man8" daneguard.8)" ]; then
    pass install_prefix_usr
else
    fail install_prefix_usr "PREFIX=/usr: expected /usr/sbin/daneguard, its ExecStart and /usr/share/man"
fi

# ---- make uninstall ------------------------------------------------------------------

if make -C "$root" -f "$makefile" -n uninstall >/dev/null 2>&1; then
    make -C "$root" -f "$makefile" --no-print-directory uninstall DESTDIR="$D2" PREFIX=/usr \
        >>"$work/make.log" 2>&1
    left=$(cd "$D2" && find . -type f ! -path ./etc/daneguard/daneguard.yml)
    if [ -z "$left" ] && [ -f "$D2/etc/daneguard/daneguard.yml" ]; then
        pass uninstall
    else
        fail uninstall "left behind: $(echo $left); config kept: $([ -f "$D2/etc/daneguard/daneguard.yml" ] && echo yes || echo no)"
    fi
else
    skip uninstall "the Makefile has no uninstall target"
fi

# ---- started as the unit starts it ------------------------------------------------------
# An unprivileged uid (no passwd entry) with CAP_NET_BIND_SERVICE as its only,
# ambient capability and no_new_privs: what User=daneguard +
# AmbientCapabilities= + CapabilityBoundingSet= give. `user:` names an account
# that does not exist here, so a daemon that tried to switch would stop.

svc_uid=64153
addr=127.0.0.153
free_port() { # a TCP port free on $addr
    python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$addr"
}
if [ "$(id -u)" != 0 ]; then
    skip service_unprivileged "not root"
elif ! command -v setpriv >/dev/null || ! command -v ss >/dev/null; then
    skip service_unprivileged "setpriv (util-linux) or ss (iproute2) is missing"
elif [ ! -x "$SBIN" ]; then
    fail service_unprivileged "no installed binary"
elif ss -H -lun "( sport = :53 )" | grep -q -E "(\\*|0\\.0\\.0\\.0|$addr|\\[::\\]):53 "; then
    skip service_unprivileged "port 53 on $addr is taken"
else
    state=$work/state
    mkdir -p "$state"
    chown "$svc_uid:$svc_uid" "$state"
    chmod 0700 "$state"
    pport=$(free_port)
    cat >"$work/service.yml" <<EOF
user: daneguard-absent-user
resolver:
  listen_addresses: [$addr@53]
  allow: [127.0.0.0/8]
  upstream_recursive_servers:
    - address_data: 127.0.0.154
      port: 9
  timeout: 1000
proxy:
  listen_addresses: [$addr@$pport]
  allow: [127.0.0.0/8]
  ca_dir: $state/ca
EOF
    chmod 0644 "$work/service.yml"
    # Under strace (when present, and not with the sanitizers, whose leak
    # checker must ptrace the process itself) to compare its system calls with
    # the unit's SystemCallFilter=.
    tracer=()
    if command -v strace >/dev/null && [ "$sanitize" = 0 ]; then
        tracer=(strace -f -qq -o "$work/trace")
    fi
    (umask 077 && exec "${tracer[@]}" setpriv --reuid=$svc_uid --regid=$svc_uid --clear-groups \
        --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
        --bounding-set=-all,+net_bind_service --no-new-privs \
        "$SBIN" -v -c "$work/service.yml") >"$work/service.log" 2>&1 &
    daemon_pid=$!
    if [ ${#tracer[@]} -gt 0 ]; then
        # $! is strace; the daemon is its child (setpriv exec'd into it).
        tracer_pid=$daemon_pid
        for _ in $(seq 50); do
            daemon_pid=$(ps -o pid= --ppid "$tracer_pid" | head -n 1 | tr -d ' ')
            [ -n "$daemon_pid" ] && grep -q daneguard "/proc/$daemon_pid/cmdline" 2>/dev/null && break
            sleep 0.1
        done
        [ -n "$daemon_pid" ] || daemon_pid=$tracer_pid
    fi
    up=0
    for _ in $(seq 50); do
        if ss -H -lun "( sport = :53 )" | grep -q "$addr:53 "; then up=1; break; fi
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$up" = 1 ] && kill -0 "$daemon_pid" 2>/dev/null; then
        pass service_binds_53_unprivileged
    else
        fail service_binds_53_unprivileged "$(tail -n 5 "$work/service.log" | tr '\n' ' ')"
    fi

    st=/proc/$daemon_pid/status
    if [ -r "$st" ] && grep -q -E "^Uid:\s+$svc_uid\s+$svc_uid\s+$svc_uid\s+$svc_uid\$" "$st" &&
        grep -q -E '^CapEff:\s+0+400$' "$st" && grep -q -E '^CapBnd:\s+0+400$' "$st" &&
        grep -q -E '^NoNewPrivs:\s+1$' "$st"; then
        pass service_credentials
    else
        fail service_credentials "$(grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' "$st" 2>/dev/null | tr '\n' ' ')"
    fi

    if [ "$(stat -c '%a %u' "$state/ca" 2>/dev/null)" = "700 $svc_uid" ] &&
        [ "$(stat -c '%a %u' "$state/ca/ca.key" 2>/dev/null)" = "600 $svc_uid" ] &&
        [ -f "$state/ca/ca.crt" ]; then
        pass service_ca_private
    else
        fail service_ca_private "$(ls -ln "$state" "$state/ca" 2>&1 | tr '\n' ' ')"
    fi

    if command -v curl >/dev/null; then
        if curl -s --max-time 5 --noproxy '*' "http://$addr:$pport/ca.crt" | cmp -s - "$state/ca/ca.crt"; then
            pass service_serves_ca
        else
            fail service_serves_ca "http://$addr:$pport/ca.crt is not the CA in ca_dir"
        fi
    fi
    if command -v dig >/dev/null; then
        # The upstream is dead: a SERVFAIL within the timeout shows the port
        # answers.
        if dig +tries=1 +time=4 @"$addr" -p 53 example.com A 2>&1 | grep -q 'status: SERVFAIL'; then
            pass service_answers_dns
        else
            fail service_answers_dns "no SERVFAIL from $addr@53 with a dead upstream"
        fi
    fi

    kill -HUP "$daemon_pid" 2>/dev/null
    for _ in $(seq 30); do grep -q 'reloaded' "$work/service.log" && break; sleep 0.1; done
    if grep -q 'reloaded' "$work/service.log" && kill -0 "$daemon_pid" 2>/dev/null; then
        pass service_reload
    else
        fail service_reload "no 'reloaded' after SIGHUP: $(tail -n 3 "$work/service.log" | tr '\n' ' ')"
    fi

    kill -TERM "$daemon_pid" 2>/dev/null
    rc=
    for _ in $(seq 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
        # strace exits with its tracee's status
        wait "${tracer_pid:-$daemon_pid}"
        rc=$?
    fi
    if [ "$rc" = 0 ]; then
        pass service_stop
        daemon_pid= tracer_pid=
    else
        fail service_stop "SIGTERM: ${rc:+exit status $rc}${rc:-still running after 5 s}"
        tail -n 20 "$work/service.log" | sed 's/^/    service.log: /'
    fi

    # Every system call the daemon made (after setpriv's execve of it) passes
    # the unit's SystemCallFilter= lines: in the allowed sets, not in the ~ ones.
    if [ ! -s "$work/trace" ]; then
        skip service_syscall_filter "${tracer[*]:-strace is missing or the build is sanitized}"
    elif [ -f "$UNIT" ] && command -v systemd-analyze >/dev/null; then
        declare -A seen=()
        expand() { # SET...: the system calls of filter sets, groups expanded
            local x
            for x in "$@"; do
                if [[ $x == @* ]]; then
                    [ -n "${seen[$x]:-}" ] && continue
                    seen[$x]=1
                    expand $(systemd-analyze syscall-filter "$x" 2>/dev/null |
                        sed -e 1d -e 's/^ *//' -e '/^#/d' -e '/^$/d')
                else
                    echo "$x"
                fi
            done
        }
        allow=$(grep -E '^SystemCallFilter=[^~]' "$UNIT" | sed 's/^[^=]*=//')
        deny=$(grep -E '^SystemCallFilter=~' "$UNIT" | sed 's/^[^=]*=~//')
        allowed=$(seen=(); expand $allow | sort -u)
        denied=$(seen=(); expand $deny | sort -u)
        calls=$(awk -v exe="execve(\"$SBIN\"" 'f { print $2 } index($0, exe) { f = 1 }' \
            "$work/trace" | sed -n 's/^\([a-z_0-9]*\)(.*/\1/p' | sort -u)
        bad=
        for c in $calls; do
            if { [ -n "$allow" ] && ! grep -qx "$c" <<<"$allowed"; } || grep -qx "$c" <<<"$denied"; then
                bad="$bad $c"
            fi
        done
        if [ -z "$calls" ]; then
            fail service_syscall_filter "no system calls traced"
        elif [ -z "$bad" ]; then
            pass "service_syscall_filter ($(wc -w <<<"$calls") calls)"
        else
            fail service_syscall_filter "outside the unit's SystemCallFilter=:$bad"
        fi
    fi
fi
exit 0
