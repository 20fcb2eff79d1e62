#!/usr/bin/env bash
# The project's test command (README, .ci/run):
#   1. installs missing Debian packages when run as root (scripts/lib.sh PACKAGES),
#   2. swift build -c release (the daemon the real initiators talk to),
#   3. swift test (unit + integration tests; Swift Testing / XCTest summary printed),
#   4. scripts/realclient-tests.sh against our daemon (libiscsi tools, iscsi-test-cu, QEMU), then
#      scripts/conformance.sh (the whole iscsi-test-cu ALL family) and the other real-client suites.
# Each step is bounded by a timeout; the first failing step is named and the script exits non-zero.
#   SKIP_SWIFT_TEST=1   skip step 3      SKIP_REALCLIENT=1  skip step 4 (and 5-7)
#   SKIP_GUEST=1        skip the QEMU guest (open-iscsi) scenarios
#   TARGET=tgtd         run step 4 against Debian's tgtd instead (harness check; skips 2-3)
#   BENCH_SMOKE=1       afterwards run a short benchmark smoke (scripts/bench.sh SMOKE=1)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

TARGET=${TARGET:-ours}
STEP=""
step() { STEP=$1; echo; echo "==== $STEP ===="; }
trap 'rc=$?; if [ $rc -ne 0 ]; then echo; echo "==== FAILED step: ${STEP:-setup} (exit $rc) ===="; fi' EXIT

step "packages"
if [ "$(id -u)" -eq 0 ]; then ensure_packages; else log "not root: not installing packages"; fi
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:/opt/swift/bin:$PATH"
command -v swift >/dev/null || die "swift not found (expected on PATH or under /opt/swift)"

if [ "$TARGET" = ours ]; then
    step "swift build -c release"
    timeout 2400 swift build -c release 2>&1 | tail -n 30
    [ -x .build/release/iscsi-targetd ] || die ".build/release/iscsi-targetd missing after build"

    if [ "${SKIP_SWIFT_TEST:-0}" != 1 ]; then
        step "swift test"
        set +e
        timeout 2400 swift test >.build/swift-test.log 2>&1
        rc=$?
        set -e
        # Failures first (Swift Testing marks them with ✘, XCTest with "error:"), then the
        # runner's own closing lines.
        grep -E '✘|error:|fatal|Fatal' .build/swift-test.log | head -n 60 || true
        tail -n 15 .build/swift-test.log
        [ "$rc" -eq 0 ] || { echo "swift test exited $rc (full log: .build/swift-test.log)"; exit "$rc"; }
    fi
fi

if [ "${SKIP_REALCLIENT:-0}" != 1 ]; then
    step "real-initiator tests (TARGET=$TARGET)"
    TARGET=$TARGET timeout 1800 "$ROOT/scripts/realclient-tests.sh"
    if [ "$TARGET" = ours ]; then
        step "conformance: iscsi-test-cu --dataloss -v -t ALL URL URL (fileio LUN, counts printed)"
        timeout 1800 "$ROOT/scripts/conformance.sh"
        step "conformance again on a blockio LUN with 4 KiB sectors (libaio path, loop device)"
        LUN_KIND=blockio-4k timeout 1800 "$ROOT/scripts/conformance.sh"
        step "conformance again with BlockSize=512 on that 4 KiB-sector device (partial device blocks)"
        LUN_KIND=blockio-4k-512 timeout 1800 "$ROOT/scripts/conformance.sh"
        step "CHAP and digest tests (libiscsi)"
        timeout 900 "$ROOT/scripts/auth-digest-tests.sh" "$(ours_binary)"
        step "IET drop-in tests (ietd.conf, loop device, ACLs, admin tool, reload under load)"
        timeout 900 "$ROOT/scripts/iet-compat-tests.sh" "$(ours_binary)"
        step "fuzzing: PDU, login, CDB and ietd.conf targets (FUZZ_SECONDS=${FUZZ_SECONDS:-20} each)"
        FUZZ_SECONDS="${FUZZ_SECONDS:-20}" timeout 1200 "$ROOT/scripts/fuzz.sh"
        step "durability: SIGKILL during a write stream (IOMode=wt and blockio)"
        ISCSI_TARGETD="$(ours_binary)" timeout 600 "$ROOT/scripts/durability.sh"
        step "soak: 64 sessions x QD8 verified I/O (SOAK_SECONDS=${SOAK_SECONDS:-60}) + 1000 idle sessions"
        ISCSI_TARGETD="$(ours_binary)" SOAK_SECONDS="${SOAK_SECONDS:-60}" timeout 900 "$ROOT/scripts/soak.sh"
        if [ "${SKIP_GUEST:-0}" != 1 ]; then
            step "open-iscsi in a QEMU guest (kernel initiator)"
            timeout 900 "$ROOT/scripts/guest/run.sh" "$(ours_binary)"
        fi
    fi
fi

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
    step "benchmark smoke"
    SMOKE=1 BENCH_RESULTS="$ROOT/.build/results/bench-smoke.md" timeout 600 "$ROOT/scripts/bench.sh"
fi
STEP=""
echo
echo "==== all steps passed ===="
