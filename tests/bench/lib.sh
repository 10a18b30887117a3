# shellcheck shell=bash
# tests/bench/lib.sh — helpers shared by the benchmarks (source after world.sh).
#
#   bench_cpu_ticks PID      utime+stime of PID (all its threads), in clock ticks
#   bench_rss_kib PID        VmRSS of PID in KiB (0 when it is gone)
#   bench_pin CPU PID        pin every thread of PID to CPU (taskset -a)
#   bench_ratio A B [DIGITS] A/B, or "n/a" when either is missing or B is 0
#   bench_note TEXT...       progress on stderr
#   bench_unbound_start DIR SERVER-EXTRA FORWARD-LINES   a validating Unbound (see below)
#
# CPUs: servers run on BENCH_SERVER_CPU, load generators (and NSD, the relay
# and the origin) on BENCH_CLIENT_CPU. With one CPU both are 0.

BENCH_QUICK=${BENCH_QUICK:-0}
BENCH_CLK_TCK=$(getconf CLK_TCK)
if [ "$(nproc)" -ge 2 ]; then
    BENCH_SERVER_CPU=${BENCH_SERVER_CPU:-1}
    BENCH_CLIENT_CPU=${BENCH_CLIENT_CPU:-0}
else
    BENCH_SERVER_CPU=0
    BENCH_CLIENT_CPU=0
fi

bench_note() { echo "bench: $*" >&2; }

bench_cpu_ticks() {
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    rest=${stat##*) }
    # fields after "comm)": state is field 3, utime 14, stime 15
    awk '{ print $12 + $13 }' <<<"$rest"
}

bench_rss_kib() {
    awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}

bench_pin() {
    taskset -a -p -c "$1" "$2" >/dev/null 2>&1 || bench_note "could not pin pid $2 to cpu $1"
}

bench_ratio() {
    local a=${1:-} b=${2:-} d=${3:-2}
    if [[ $a =~ ^[0-9.]+$ && $b =~ ^[0-9.]+$ ]] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
        awk -v a="$a" -v b="$b" -v d="$d" 'BEGIN { printf "%.*f", d, a / b }'
    else
        echo "n/a"
    fi
}

# bench_ticks_to_s TICKS
bench_ticks_to_s() { awk -v t="$1" -v h="$BENCH_CLK_TCK" 'BEGIN { printf "%.2f", t / h }'; }

# bench_unbound_start DIR SERVER-EXTRA FORWARD-LINES: a validating Unbound on
# 127.0.0.1#SRV_PORT (picked here) with the world's trust anchor, one thread,
# its config and log in DIR; SERVER-EXTRA goes into its server: clause,
# FORWARD-LINES into its forward-zone for "."; sets SRV_PORT and SRV_PID.
bench_unbound_start() {
    local dir=$1
    SRV_PORT=$(world_free_port 127.0.0.1) || return 1
    cat >"$dir/unbound.conf" <<CONF
server:
	interface: 127.0.0.1
	port: $SRV_PORT
	do-ip6: no
	username: ""
	chroot: ""
	directory: "$dir"
	pidfile: ""
	use-syslog: no
	logfile: "$dir/unbound.log"
	verbosity: 0
	do-not-query-localhost: no
	trust-anchor-file: "$WORLD_TA_FILE"
	access-control: 127.0.0.0/8 allow
	local-zone: "test." nodefault
	module-config: "validator iterator"
	qname-minimisation: no
	num-threads: 1
$2
remote-control:
	control-enable: no
forward-zone:
	name: "."
$3
CONF
    unbound-checkconf "$dir/unbound.conf" >/dev/null || return 1
    world_spawn unbound unbound -d -c "$dir/unbound.conf"
    SRV_PID=$WORLD_LAST_PID
}
