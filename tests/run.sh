#!/usr/bin/env bash
# tests/run.sh — run every unit test program and every end-to-end test script,
# count their PASS/FAIL lines, and close with "N passed, N failed".
#
# Each program or script prints one "PASS name" or "FAIL name" line per test; a
# program that crashes or exits non-zero without a FAIL line counts as a failure.
# TESTS="unit e2e" limits the kinds; ONLY=regex limits by file name.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export DANEGUARD_BIN=${DANEGUARD_BIN:-$PWD/$BUILD/daneguard}
kinds=${TESTS:-unit e2e}
only=${ONLY:-.}
log_dir=$(mktemp -d /tmp/daneguard-tests.XXXXXX)
passed=0
failed=0

run_one() { # name, command...
    local name=$1; shift
    local out="$log_dir/$(basename "$name").out" rc
    echo "== $name"
    timeout -k 10 900 "$@" >"$out" 2>&1
    rc=$?
    grep -E '^(PASS|FAIL) ' "$out" | sed 's/^/   /'
    local p f
    p=$(grep -c '^PASS ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "   FAIL $name exited with status $rc"
        f=$((f + 1))
    fi
    if [ "$f" -ne 0 ]; then
        echo "   --- output of $name (last 60 lines):"
        tail -n 60 "$out" | sed 's/^/   | /'
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

for kind in $kinds; do
    case $kind in
    unit)
        for t in "$BUILD"/tests/test_*; do
            [ -x "$t" ] || continue
            [[ $t =~ $only ]] || continue
            run_one "$t" "$t"
        done ;;
    e2e)
        for t in tests/e2e/*.sh; do
            [ -f "$t" ] || continue
            case $t in */lib_*.sh) continue ;; esac # sourced helpers, not tests
            [[ $t =~ $only ]] || continue
            run_one "$t" bash "$t"
        done ;;
    esac
done

echo "logs: $log_dir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
