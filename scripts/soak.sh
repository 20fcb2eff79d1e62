#!/usr/bin/env bash
# Soak and memory test of iscsi-targetd on loopback, with the raw-iSCSI Python client
# scripts/iscsi_client.py (standard library only; libiscsi's tools cannot verify data per LBA).
#
#   1. RSS idle (no session), then with 64 idle sessions.
#   2. 64 sessions x queue depth 8 of verified mixed reads and writes (4-32 KiB, 50/50) for
#      SOAK_SECONDS: every block carries a pattern keyed by (LBA, generation, session); each session
#      owns a disjoint LBA range, in-flight ranges never overlap, and every read is compared with the
#      last acknowledged generation. Zero errors and zero mismatches required. RSS sampled every 10 s:
#      stable = the last sample is at most 10 % + 4 MiB above the first sample after a 20 s warm-up
#      (the least-squares slope is printed too).
#   3. IDLE_SESSIONS (1,000) sessions logged in and held; all must stay up, and a fresh client must
#      still log in and read. RSS with them is reported.
# Prints PASS/FAIL lines and "N passed, N failed".
#
# Environment: SOAK_SECONDS [600]  SOAK_SESSIONS [64]  SOAK_QD [8]  IDLE_SESSIONS [1000]
#   IDLE_HOLD [20] s  SOAK_DIR [/dev/shm]  SOAK_LUN_TYPE [fileio] (blockio: O_DIRECT)
#   SOAK_LUN_MIB [1024] (sparse, zero-filled)  PORT [3360]  ISCSI_TARGETD [release, else debug build]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_SESSIONS=${SOAK_SESSIONS:-64}
SOAK_QD=${SOAK_QD:-8}
IDLE_SESSIONS=${IDLE_SESSIONS:-1000}
IDLE_HOLD=${IDLE_HOLD:-20}
SOAK_DIR=${SOAK_DIR:-/dev/shm}
SOAK_LUN_TYPE=${SOAK_LUN_TYPE:-fileio}
SOAK_LUN_MIB=${SOAK_LUN_MIB:-1024}
PORT=${PORT:-3360}
require_ours_binary soak
CLIENT=(python3 "$ROOT/scripts/iscsi_client.py")
TARGET=iqn.2026-11.org.example:soak

# 1,000 sessions need 1,000+ descriptors on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d "$SOAK_DIR/iscsi-soak.XXXXXX")
trap 'cleanup_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
truncate -s "${SOAK_LUN_MIB}M" "$WORK/lun.img"
log "target $ISCSI_TARGETD, LUN ${SOAK_LUN_MIB} MiB $SOAK_LUN_TYPE on $SOAK_DIR, port $PORT"
OURS_LOG_LEVEL=${OURS_LOG_LEVEL:-warning} start_target ours "$PORT" "$WORK" "$TARGET|$SOAK_LUN_TYPE|$WORK/lun.img"
PID=$TARGET_PID

PASSED=0 FAILED=0
tally() {   # count PASS/FAIL lines of a client run's output file
    local f=$1
    PASSED=$((PASSED + $(grep -c '^PASS ' "$f" || true)))
    FAILED=$((FAILED + $(grep -c '^FAIL ' "$f" || true)))
}
run_client() {   # run_client NAME TIMEOUT ARGS...: output to $WORK/NAME.out and stdout
    local name=$1 secs=$2; shift 2
    if ! timeout -k 10 "$secs" "${CLIENT[@]}" "$@" --port "$PORT" --target "$TARGET" >"$WORK/$name.out" 2>&1; then
        grep -q '^FAIL ' "$WORK/$name.out" || echo "FAIL $name (client exited abnormally)" >>"$WORK/$name.out"
    fi
    cat "$WORK/$name.out"
    tally "$WORK/$name.out"
}

sleep 1
RSS_IDLE=$(rss_kib "$PID" VmRSS)
log "RSS idle: $RSS_IDLE KiB"
run_client idle-64 300 idle --sessions 64 --hold 5 --pid "$PID"

run_client soak $((SOAK_SECONDS + 300)) soak --sessions "$SOAK_SESSIONS" --qd "$SOAK_QD" --seconds "$SOAK_SECONDS" \
    --pid "$PID" --rss-interval 10 --warmup 20
CPU_S=$(awk -v t="$(cpu_ticks "$PID")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }')
log "target CPU so far: ${CPU_S}s; RSS after soak $(rss_kib "$PID" VmRSS) KiB, peak $(rss_kib "$PID" VmHWM) KiB"

run_client "idle-$IDLE_SESSIONS" $((IDLE_SESSIONS / 2 + IDLE_HOLD + 300)) idle --sessions "$IDLE_SESSIONS" --hold "$IDLE_HOLD" --pid "$PID"
if kill -0 "$PID" 2>/dev/null; then echo "PASS target-alive"; PASSED=$((PASSED + 1))
else echo "FAIL target-alive (iscsi-targetd exited)"; FAILED=$((FAILED + 1)); tail -n 20 "$WORK/target.log"; fi
log "RSS at end: $(rss_kib "$PID" VmRSS) KiB, peak $(rss_kib "$PID" VmHWM) KiB"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
