#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and ThreadSanitizer (docs/hardening.md).
#
#   scripts/sanitizers.sh                 both, every test
#   scripts/sanitizers.sh address         one sanitizer
#   SAN_FILTER=HostileTests scripts/sanitizers.sh thread    only matching tests
#
# Each sanitizer builds in its own scratch path (.build-asan, .build-tsan; override with SAN_SCRATCH_PREFIX),
# so it never fights the normal debug build. Output: $SAN_SCRATCH_PREFIX-<name>/sanitizer.log; a summary line per
# sanitizer (PASS/FAIL) and the sanitizer reports found in the log. Exit status: non-zero when a run fails
# or a sanitizer reported anything.
set -uo pipefail
cd "$(dirname "$0")/.."
PREFIX=${SAN_SCRATCH_PREFIX:-$PWD/.build}
FILTER=${SAN_FILTER:-}
TIMEOUT=${SAN_TIMEOUT:-3000}
export SWIFT_BACKTRACE=enable=no
# halt_on_error=0 keeps going after the first report so one run lists them all (ASan needs the
# -fsanitize-recover build for that; for Swift it reports and aborts, which is fine).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:detect_stack_use_after_return=0}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:report_signal_unsafe=0:suppressions=$PWD/scripts/tsan-suppressions.txt}

run() {
    local name=$1 short=$2
    local scratch=$PREFIX-$short log=$PREFIX-$short/sanitizer.log
    mkdir -p "$scratch"
    local args=(test --sanitize="$name" --scratch-path "$scratch")
    [[ -n $FILTER ]] && args+=(--filter "$FILTER")
    echo "sanitizers: swift ${args[*]} (log: $log)"
    local rc=0
    timeout -k 10 "$TIMEOUT" swift "${args[@]}" > "$log" 2>&1 || rc=$?
    local reports
    reports=$(grep -cE '^(==[0-9]+==ERROR: AddressSanitizer|WARNING: ThreadSanitizer|SUMMARY: (Address|Thread)Sanitizer)' "$log" || true)
    if (( rc == 0 && reports == 0 )); then
        echo "PASS sanitize-$name ($(grep -E 'Test run with .* passed|Executed .* tests' "$log" | tail -2 | tr '\n' ' '))"
        return 0
    fi
    echo "FAIL sanitize-$name (exit $rc, $reports sanitizer report lines)"
    grep -E '^(SUMMARY: |WARNING: ThreadSanitizer|==[0-9]+==ERROR)|error:|✘ Test .* failed' "$log" | sort | uniq -c | sort -rn | head -40
    return 1
}

which=${1:-both}
status=0
case $which in
    address) run address asan || status=1 ;;
    thread) run thread tsan || status=1 ;;
    both) run address asan || status=1; run thread tsan || status=1 ;;
    *) echo "usage: $0 [address|thread|both]" >&2; exit 2 ;;
esac
exit $status
