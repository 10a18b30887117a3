#!/usr/bin/env bash
# tests/e2e/fuzz_smoke.sh — build the libFuzzer harnesses (tests/fuzz/) and give
# each a short run: once over its seed corpus, once over its regression inputs
# (tests/fuzz/regressions/<harness>/, when there are any), then FUZZ_SMOKE_SECONDS
# (default 10) of fuzzing on a scratch copy of the seeds.
# Prints "PASS fuzz_<name>" or "FAIL fuzz_<name>: why" per harness.
# Without clang or libFuzzer every harness FAILs: the toolchain is required.
set -u
cd "$(dirname "$0")/../.."

harnesses=(wire http dane config scrub)
seconds=${FUZZ_SMOKE_SECONDS:-10}
fuzz_dir=${FUZZ_DIR:-build-fuzz}
work=$(mktemp -d /tmp/daneguard-fuzz-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail_all() {
    for h in "${harnesses[@]}"; do echo "FAIL fuzz_$h: $1"; done
    exit 1
}

# the toolchain: clang and its libFuzzer runtime
cc=$(command -v clang-14 || command -v clang || true)
[ -n "$cc" ] || fail_all "clang not found (install clang-14 libclang-rt-14-dev libfuzzer-14-dev)"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' \
    >"$work/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$work/probe" "$work/probe.c" >"$work/probe.log" 2>&1; then
    sed 's/^/   | /' "$work/probe.log" | tail -n 5
    fail_all "$cc cannot link -fsanitize=fuzzer (install libclang-rt-14-dev libfuzzer-14-dev)"
fi

if ! make --no-print-directory fuzz-build FUZZ_DIR="$fuzz_dir" >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log"
    fail_all "make fuzz-build failed"
fi

# run one harness over a list of input files; prints why on failure
run_inputs() { # harness, dir
    local h=$1 dir=$2 files
    [ -d "$dir" ] || return 0
    files=$(find "$dir" -maxdepth 1 -type f | sort)
    [ -n "$files" ] || return 0
    # shellcheck disable=SC2086 # one argument per file
    if ! timeout -k 5 120 "$fuzz_dir/fuzz_$h" -timeout=10 -rss_limit_mb=2048 $files \
        >"$work/$h.inputs.log" 2>&1; then
        tail -n 40 "$work/$h.inputs.log"
        return 1
    fi
}

for h in "${harnesses[@]}"; do
    bin="$fuzz_dir/fuzz_$h"
    seeds="tests/fuzz/corpus/$h"
    if [ ! -x "$bin" ]; then
        echo "FAIL fuzz_$h: $bin was not built"
        continue
    fi
    if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
        echo "FAIL fuzz_$h: no seed corpus in $seeds"
        continue
    fi
    if ! run_inputs "$h" "$seeds"; then
        echo "FAIL fuzz_$h: crashes on its seed corpus ($seeds)"
        continue
    fi
    if ! run_inputs "$h" "tests/fuzz/regressions/$h"; then
        echo "FAIL fuzz_$h: crashes on a regression input (tests/fuzz/regressions/$h)"
        continue
    fi
    mkdir -p "$work/corpus/$h" "$work/art/$h"
    cp "$seeds"/* "$work/corpus/$h/"
    timeout -k 5 $((seconds + 60)) "$bin" -timeout=10 -rss_limit_mb=2048 -max_total_time="$seconds" \
        -print_final_stats=1 -artifact_prefix="$work/art/$h/" "$work/corpus/$h" >"$work/$h.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$h.log" | tail -n 1)
    if [ "$rc" -ne 0 ]; then
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z]+:)|runtime error|#[0-9]+ 0x.* in ' "$work/$h.log" |
            head -n 20
        crash=$(ls "$work/art/$h" 2>/dev/null | head -n 1)
        if [ -n "$crash" ]; then
            mkdir -p "$fuzz_dir/findings/$h"
            cp "$work/art/$h/$crash" "$fuzz_dir/findings/$h/"
            echo "FAIL fuzz_$h: finding after ${execs:-?} executions, input kept in $fuzz_dir/findings/$h/$crash"
        else
            echo "FAIL fuzz_$h: the fuzzer exited with status $rc"
        fi
        continue
    fi
    if [ -z "$execs" ] || [ "$execs" -eq 0 ]; then
        echo "FAIL fuzz_$h: no executions"
        continue
    fi
    echo "PASS fuzz_$h ($execs executions in ${seconds}s)"
done
