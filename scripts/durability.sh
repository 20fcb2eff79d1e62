#!/usr/bin/env bash
# Durability: SIGKILL of iscsi-targetd during a write stream with IOMode=wt loses no acknowledged
# write. Client: scripts/iscsi_client.py (raw iSCSI, Python standard library).
#
# Per round: start the daemon on a fresh LUN file (IOMode=wt), start `dur-write` (queue depth 8,
# 4-32 KiB writes of unique patterns to never-reused LBAs, each logged only after GOOD status), wait
# until DUR_MIN_ACKED writes are acknowledged plus a random 0-1 s, SIGKILL the daemon, restart it on
# the same file, and `dur-verify` reads every logged write back. A round where the stream ended for
# any reason other than the lost connection fails (the kill was not mid-stream).
# Prints PASS/FAIL per round and "N passed, N failed" over all verified writes (a round that fails
# without a lost write, e.g. the kill came after the stream ended, counts as one more failure).
#
# Environment: DUR_ROUNDS [3]  DUR_MIN_ACKED [300]  DUR_DIR [/var/tmp] (a disk, not tmpfs)
#   DUR_LUN_TYPE [fileio] (blockio: O_DIRECT)  DUR_LUN_MIB [256]  PORT [3362]
#   ISCSI_TARGETD [release, else debug build]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DUR_ROUNDS=${DUR_ROUNDS:-3}
DUR_MIN_ACKED=${DUR_MIN_ACKED:-300}
DUR_DIR=${DUR_DIR:-/var/tmp}
DUR_LUN_TYPE=${DUR_LUN_TYPE:-fileio}
DUR_LUN_MIB=${DUR_LUN_MIB:-256}
PORT=${PORT:-3362}
require_ours_binary durability
CLIENT=(python3 "$ROOT/scripts/iscsi_client.py")
TARGET=iqn.2026-11.org.example:durability

WORK=$(mktemp -d "$DUR_DIR/iscsi-durability.XXXXXX")
trap 'cleanup_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# start_daemon: ietd.conf with IOMode=wt (written here: lib.sh's start_ours has no IOMode).
start_daemon() {
    printf 'Target %s\n\tLun 0 Path=%s,Type=%s,IOMode=wt\n' "$TARGET" "$WORK/lun.img" "$DUR_LUN_TYPE" >"$WORK/ietd.conf"
    rm -f "$WORK/iscsi-targetd.sock"
    "$ISCSI_TARGETD" --config "$WORK/ietd.conf" --portal "127.0.0.1:$PORT" --foreground --log-level warning \
        --control-socket "$WORK/iscsi-targetd.sock" >>"$WORK/target.log" 2>&1 &
    DAEMON=$!
    STARTED_PIDS+=("$DAEMON")
    wait_port "$PORT" 30 || { tail -n 20 "$WORK/target.log"; die "iscsi-targetd did not listen on 127.0.0.1:$PORT"; }
}

count_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

TOTAL_PASSED=0 TOTAL_FAILED=0 ROUNDS_FAILED=0
for ((round = 1; round <= DUR_ROUNDS; round++)); do
    rm -f "$WORK/lun.img" "$WORK/acked.log"
    truncate -s "${DUR_LUN_MIB}M" "$WORK/lun.img"
    start_daemon
    timeout -k 5 120 "${CLIENT[@]}" dur-write --port "$PORT" --target "$TARGET" --qd 8 --seconds 60 \
        --seed "$round" --log "$WORK/acked.log" >"$WORK/write.out" 2>&1 &
    WRITER=$!
    for ((i = 0; i < 300; i++)); do   # up to 30 s for DUR_MIN_ACKED acknowledged writes
        [ "$(count_lines "$WORK/acked.log")" -ge "$DUR_MIN_ACKED" ] && break
        kill -0 "$WRITER" 2>/dev/null || break
        sleep 0.1
    done
    sleep "0.$((RANDOM % 10))"
    before=$(count_lines "$WORK/acked.log")
    kill -KILL "$DAEMON"
    wait "$DAEMON" 2>/dev/null || true
    keep=(); for pid in "${STARTED_PIDS[@]}"; do [ "$pid" = "$DAEMON" ] || keep+=("$pid"); done
    STARTED_PIDS=("${keep[@]}")
    wait "$WRITER" || true
    cat "$WORK/write.out"
    acked=$(count_lines "$WORK/acked.log")
    log "round $round: SIGKILL with $before writes acknowledged ($acked logged in all)"
    start_daemon
    timeout -k 5 300 "${CLIENT[@]}" dur-verify --port "$PORT" --target "$TARGET" --log "$WORK/acked.log" \
        >"$WORK/verify.out" 2>&1 || true
    cat "$WORK/verify.out"
    stop_pid "$DAEMON"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$WORK/verify.out" | tail -n 1 || true)
    p=$(awk '{ print $1 }' <<<"${line:-0 passed, 1 failed}"); f=$(awk '{ print $3 }' <<<"${line:-0 passed, 1 failed}")
    TOTAL_PASSED=$((TOTAL_PASSED + p)); TOTAL_FAILED=$((TOTAL_FAILED + f))
    if [ "$f" -eq 0 ] && [ "$p" -gt 0 ] && grep -q 'stream ended: connection lost' "$WORK/write.out"; then
        echo "PASS durability-sigkill-round-$round ($p acknowledged writes intact)"
    else
        echo "FAIL durability-sigkill-round-$round ($p intact, $f lost or corrupt)"
        ROUNDS_FAILED=$((ROUNDS_FAILED + 1))
        [ "$f" -eq 0 ] && TOTAL_FAILED=$((TOTAL_FAILED + 1))   # the round itself failed
    fi
done
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ] && [ "$ROUNDS_FAILED" -eq 0 ]
