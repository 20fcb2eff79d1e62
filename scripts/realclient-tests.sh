#!/usr/bin/env bash
# Real-initiator tests: start the target under test on 127.0.0.1:<free port> and drive it with
# public clients (libiscsi's iscsi-ls / iscsi-inq / iscsi-readcapacity16 / iscsi-test-cu and
# QEMU's iSCSI block driver through qemu-img).
#
#   TARGET=ours|tgtd  target under test (default ours: .build/release/iscsi-targetd, or $ISCSI_TARGETD)
#   CU_FULL=1         also run the whole iscsi-test-cu ALL family (informational: prints
#                     "cu-full: tests= clean_pass= skipped= failed=", never fails the run)
#   RESULTS_DIR=DIR   where logs go (default .build/results/realclient-$TARGET)
#   KEEP_WORKDIR=1    keep the temp dir with the LUN files
#
# Prints "PASS name" / "FAIL name" per check and ends with "N passed, N failed[, N skipped]".
# Exit status: 0 when nothing failed, 1 when a check failed, 2 on a harness error.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=${TARGET:-ours}
CU_FULL=${CU_FULL:-0}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/.build/results/realclient-$TARGET}
LUN_SIZE=$((256 * 1024 * 1024))
DATA_MIB=64
STEP_TIMEOUT=${STEP_TIMEOUT:-120}   # seconds per client command
CU_SUITES=(ALL.Inquiry ALL.ReadCapacity10 ALL.ReadCapacity16 ALL.Read6 ALL.Read10 ALL.Read12 ALL.Read16
    ALL.Write10 ALL.Write12 ALL.Write16 ALL.TestUnitReady ALL.ModeSense6 ALL.Mandatory ALL.iSCSIcmdsn
    ALL.iSCSIResiduals)
INITIATOR=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test
INITIATOR2=iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2

for tool in iscsi-ls iscsi-inq iscsi-readcapacity16 iscsi-test-cu qemu-img python3 cmp; do
    command -v "$tool" >/dev/null || die "$tool missing (install: ${PACKAGES[*]})"
done

WORK=$(mktemp -d /tmp/iscsi-realclient.XXXXXX)
trap 'cleanup_all; [ "${KEEP_WORKDIR:-0}" = 1 ] || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
rm -rf "$RESULTS_DIR"; mkdir -p "$RESULTS_DIR"

PASSED=0 FAILED=0 SKIPPED=0
FAILED_LOGS=()
pass() { echo "PASS $1${2:+ ($2)}"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1${2:+ ($2)}"; FAILED=$((FAILED + 1)); [ -n "${3:-}" ] && FAILED_LOGS+=("$3"); return 0; }
skip() { echo "SKIP $1${2:+ ($2)}"; SKIPPED=$((SKIPPED + 1)); }
# safe: file-name-safe form of a check name
safe() { tr -c 'A-Za-z0-9._-' '_' <<<"$1" | sed 's/_$//'; }

# --- target set-up ---------------------------------------------------------------------------
PORT=$(free_port)
truncate -s "$LUN_SIZE" "$WORK/fileio.img"
truncate -s "$LUN_SIZE" "$WORK/blockio.img"
T_FILE=iqn.2026-11.org.example:test
T_BLOCK=iqn.2026-11.org.example:test-blockio
log "starting $TARGET on 127.0.0.1:$PORT (work dir $WORK, logs $RESULTS_DIR)"
start_target "$TARGET" "$PORT" "$WORK" "$T_FILE|fileio|$WORK/fileio.img" "$T_BLOCK|blockio|$WORK/blockio.img"
LUN=$TARGET_LUN
PORTAL="127.0.0.1:$PORT"
declare -A URL=([fileio]="iscsi://$PORTAL/$T_FILE/$LUN" [blockio]="iscsi://$PORTAL/$T_BLOCK/$LUN")

# run_logged NAME CMD...: run with a timeout, output to $RESULTS_DIR/NAME.log; returns the status.
run_logged() {
    local name=$1; shift
    local logf; logf="$RESULTS_DIR/$(safe "$name").log"
    { echo "\$ $*"; timeout -k 5 "$STEP_TIMEOUT" "$@"; } >"$logf" 2>&1
}
logof() { echo "$RESULTS_DIR/$(safe "$1").log"; }

# --- checks -----------------------------------------------------------------------------------
check_discovery() {
    local n=discovery logf; logf=$(logof $n)
    if ! run_logged $n iscsi-ls -s "iscsi://$PORTAL"; then fail $n "iscsi-ls exited non-zero" "$logf"; return; fi
    local t
    for t in "$T_FILE" "$T_BLOCK"; do
        grep -q "Target:$t Portal:127.0.0.1:$PORT" "$logf" || { fail $n "target $t not listed" "$logf"; return; }
    done
    pass $n "2 targets listed"
}

check_inquiry() {
    local kind=$1 n="inquiry:$1" logf; logf=$(logof "$n")
    if ! run_logged "$n" iscsi-inq "${URL[$kind]}"; then fail "$n" "iscsi-inq exited non-zero" "$logf"; return; fi
    grep -q '^Peripheral Device Type:DIRECT_ACCESS' "$logf" || { fail "$n" "not DIRECT_ACCESS" "$logf"; return; }
    if [ "$TARGET" = ours ]; then
        grep -Eq '^Vendor:IET *$' "$logf" || { fail "$n" "vendor is not IET" "$logf"; return; }
        grep -Eq '^Product:VIRTUAL-DISK *$' "$logf" || { fail "$n" "product is not VIRTUAL-DISK" "$logf"; return; }
    fi
    pass "$n" "$(grep -E '^(Vendor|Product):' "$logf" | tr -s ' ' | paste -sd' ')"
}

check_readcap() {
    local kind=$1 n="readcapacity16:$1" logf; logf=$(logof "$n")
    if ! run_logged "$n" iscsi-readcapacity16 "${URL[$kind]}"; then fail "$n" "exited non-zero" "$logf"; return; fi
    local total; total=$(awk -F: '/^Total size:/ { print $2 }' "$logf")
    [ "$total" = "$LUN_SIZE" ] || { fail "$n" "size ${total:-?} != $LUN_SIZE" "$logf"; return; }
    pass "$n" "$total bytes"
}

check_qemu_roundtrip() {
    local kind=$1 n="qemu-img-roundtrip:$1" logf; logf=$(logof "$n")
    local src="$WORK/src.raw" back="$WORK/back-$kind.raw"
    [ -f "$src" ] || head -c $((DATA_MIB * 1024 * 1024)) /dev/urandom >"$src"
    rm -f "$back"
    if ! run_logged "$n" qemu-img convert -n -f raw -O raw "$src" "${URL[$kind]}"; then
        fail "$n" "write through QEMU iSCSI driver failed" "$logf"; return
    fi
    if ! { timeout -k 5 "$STEP_TIMEOUT" qemu-img convert -f raw -O raw "${URL[$kind]}" "$back" >>"$logf" 2>&1; }; then
        fail "$n" "read back through QEMU iSCSI driver failed" "$logf"; return
    fi
    local size; size=$(stat -c %s "$back")
    [ "$size" = "$LUN_SIZE" ] || { fail "$n" "read back $size bytes, want $LUN_SIZE" "$logf"; return; }
    if ! cmp -n $((DATA_MIB * 1024 * 1024)) "$src" "$back" >>"$logf" 2>&1; then
        fail "$n" "data differs" "$logf"; return
    fi
    rm -f "$back"
    pass "$n" "${DATA_MIB} MiB written and read back"
}

check_cu_suite() {
    local kind=$1 suite=$2 n="cu:$2:$1" logf; logf=$(logof "$n")
    run_logged "$n" iscsi-test-cu -i "$INITIATOR" -I "$INITIATOR2" --dataloss -V -t "$suite" "${URL[$kind]}" || true
    local summary; summary=$(python3 "$ROOT/scripts/cu-score.py" "$logf" -v) || true
    echo "$summary" >"$logf.score"
    local line; line=$(tail -n 1 <<<"$summary")
    local tests failed
    tests=$(sed -n 's/.*tests=\([0-9]*\).*/\1/p' <<<"$line")
    failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
    if [ "${tests:-0}" -gt 0 ] && [ "${failed:-1}" -eq 0 ]; then
        pass "$n" "$line"
    else
        fail "$n" "$line; $(grep '^FAIL' <<<"$summary" | head -n 5 | paste -sd' ')" "$logf"
    fi
}

check_cu_full() {
    local kind=$1 n="cu-full:$1" logf; logf=$(logof "$n")
    local old=$STEP_TIMEOUT; STEP_TIMEOUT=${CU_FULL_TIMEOUT:-1200}
    run_logged "$n" iscsi-test-cu -i "$INITIATOR" -I "$INITIATOR2" --dataloss -V -t ALL "${URL[$kind]}" || true
    STEP_TIMEOUT=$old
    python3 "$ROOT/scripts/cu-score.py" "$logf" -v >"$logf.score" || true
    echo "cu-full:$kind: $(tail -n 1 "$logf.score")   (per-test list: $logf.score)"
}

check_alive() {
    if kill -0 "$TARGET_PID" 2>/dev/null && wait_port "$PORT" 5; then
        pass "target-alive" "$TARGET still serving after all checks"
    else
        fail "target-alive" "$TARGET died or stopped listening" "$WORK/target.log"
    fi
}

check_discovery
for kind in fileio blockio; do
    check_inquiry $kind
    check_readcap $kind
    check_qemu_roundtrip $kind
    for s in "${CU_SUITES[@]}"; do check_cu_suite $kind "$s"; done
done
if [ "$CU_FULL" = 1 ]; then
    check_cu_full fileio
fi
check_alive

cp "$WORK/target.log" "$RESULTS_DIR/target.log" 2>/dev/null || true
if [ ${#FAILED_LOGS[@]} -gt 0 ]; then
    for f in "${FAILED_LOGS[@]:0:3}"; do
        echo "----- tail of $f -----"
        tail -n 25 "$f" || true
    done
    echo "----- tail of target log ($RESULTS_DIR/target.log) -----"
    tail -n 25 "$RESULTS_DIR/target.log" || true
fi
echo "logs: $RESULTS_DIR"
if [ $SKIPPED -gt 0 ]; then
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
else
    echo "$PASSED passed, $FAILED failed"
fi
[ $FAILED -eq 0 ]
