# shellcheck shell=bash
# tests/bench/lib.sh — helpers shared by the benchmarks (source after world.sh).
#
#   bench_cpu_ticks PID      utime+stime of PID (all its threads), in clock ticks
#   bench_rss_kib PID        VmRSS of PID in KiB (0 when it is gone)
#   bench_pin CPU PID        pin every thread of PID to CPU (taskset -a)
#   bench_ratio A B [DIGITS] A/B, or "n/a" when either is missing or B is 0
#   bench_note TEXT...       progress on stderr
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
