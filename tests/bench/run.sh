#!/usr/bin/env bash
# tests/bench/run.sh — `make bench`: the resolver benchmarks (dns.sh, and
# dns_tls.sh for a DNS-over-TLS upstream) and the
# proxy benchmark (proxy.sh), one after the other in the same run. Writes the
# combined markdown to stdout and to build/bench-results.md, headed by the
# exact command line. Progress goes to stderr.
#
#   BENCH_QUICK=1 tests/bench/run.sh     about 2 minutes instead of about 10
#   BENCH_ONLY=dns|proxy                 one of the two
set -u
cd "$(dirname "$0")/../.." || exit 1
mkdir -p build
out=build/bench-results.md
cmd="BENCH_QUICK=${BENCH_QUICK:-0} tests/bench/run.sh"
[ -n "${BENCH_ONLY:-}" ] && cmd="BENCH_ONLY=$BENCH_ONLY $cmd"
rev=$(git rev-parse --short HEAD 2>/dev/null)
git diff --quiet HEAD -- resolver proxy daemon include 2>/dev/null || rev="$rev + uncommitted changes"
rc=0
{
    echo "## Benchmarks"
    echo
    echo "Made by \`$cmd\` (\`make bench\`) on $(date -u +%Y-%m-%d), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), load average before the run $(cut -d' ' -f1-3 /proc/loadavg); daneguard $rev."
    echo
    if [ "${BENCH_ONLY:-dns}" = dns ]; then
        timeout -k 10 600 tests/bench/dns.sh || { rc=1; echo "(dns.sh failed, status $?)"; }
        echo
        timeout -k 10 900 tests/bench/dns_tls.sh || { rc=1; echo "(dns_tls.sh failed, status $?)"; }
        echo
    fi
    if [ "${BENCH_ONLY:-proxy}" = proxy ]; then
        timeout -k 10 900 tests/bench/proxy.sh || { rc=1; echo "(proxy.sh failed, status $?)"; }
    fi
} | tee "$out"
echo "bench: written to $out" >&2
exit $rc
