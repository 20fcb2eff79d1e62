#!/usr/bin/env bash
# User-space instructions per SCSI command of iscsi-targetd, counted by callgrind (repeatable on a busy
# machine, unlike time): one event loop, a Type=blockio LUN on a `losetup --direct-io=on` loop device over a
# tmpfs file, COUNT 4K requests at QD32 from `qemu-img bench` (writes by default, WL=read for reads).
#
#   sudo scripts/callgrind-per-command.sh [BINARY] [COUNT]      (default: .build/release/iscsi-targetd, 30000)
#   WL=read ...                                                   4K reads instead of writes
#   EXTRA="--poll-usec 0"                                         daemon options (default: --poll-usec 0, so
#                                                                 polling spins do not count as command work)
#
# Prints "N instructions for COUNT commands, M per command (fixed start-up + login cost of a 1-command run
# subtracted)" and leaves the callgrind profile in $OUT (default /tmp/iscsi-callgrind.out) for
# `callgrind_annotate $OUT | swift demangle --simplified`. valgrind cannot read Swift 6.3's DWARF, so the
# binary is profiled from a copy with its symbol table only (objcopy --strip-debug).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN=${1:-$(ours_binary)}
COUNT=${2:-30000}
WL=${WL:-write}
EXTRA=${EXTRA---poll-usec 0}
OUT=${OUT:-/tmp/iscsi-callgrind.out}
for tool in valgrind objcopy qemu-img losetup; do command -v "$tool" >/dev/null || die "$tool missing"; done
[ -x "$BIN" ] || die "no binary at $BIN (swift build -c release)"
[ "$(id -u)" -eq 0 ] || die "run as root (loop device)"

WORK=$(mktemp -d /dev/shm/iscsi-cg.XXXXXX)
trap 'cleanup_all; rm -rf "$WORK"' EXIT
truncate -s 256M "$WORK/lun.img"
LOOP=$(losetup --direct-io=on -f --show "$WORK/lun.img")
on_cleanup "losetup -d $LOOP"
objcopy --strip-debug "$BIN" "$WORK/iscsi-targetd-nodebug"

# run_count N: callgrind the daemon while qemu-img bench sends N requests; prints the instruction total.
run_count() {
    local n=$1 port; port=$(free_port)
    printf 'Target iqn.2026-11.org.example:cg\n\tLun 0 Path=%s,Type=blockio\n' "$LOOP" >"$WORK/ietd.conf"
    # shellcheck disable=SC2086  # EXTRA is a word list
    valgrind --tool=callgrind --callgrind-out-file="$OUT" "$WORK/iscsi-targetd-nodebug" --config "$WORK/ietd.conf" \
        --portal "127.0.0.1:$port" --foreground --log-level warning --control-socket "$WORK/ctl.sock" \
        --threads 1 $EXTRA >"$WORK/valgrind.log" 2>&1 &
    local pid=$!
    STARTED_PIDS+=("$pid")
    wait_port "$port" 60 || die "daemon under valgrind did not listen (log: $WORK/valgrind.log)"
    local rw=(); [ "$WL" = write ] && rw=(-w)
    timeout 600 qemu-img bench -f raw -t none "${rw[@]}" -d 32 -s 4096 -S 32436224 -c "$n" \
        "iscsi://127.0.0.1:$port/iqn.2026-11.org.example:cg/0" >/dev/null 2>&1 || die "qemu-img bench failed"
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
    grep -o 'I *refs: *[0-9,]*' "$WORK/valgrind.log" | tr -dc '0-9'
}

fixed=$(run_count 1)
cp "$OUT" "$OUT.fixed"
total=$(run_count "$COUNT")
echo "$total instructions for $COUNT 4K ${WL}s at QD32, $(( (total - fixed) / (COUNT - 1) )) per command" \
     "(start-up + login + 1 command: $fixed subtracted); profile: $OUT"
